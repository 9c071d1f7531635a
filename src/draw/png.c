/* png.c: mt_draw_png_write (draw.h), the one place a cairo surface becomes a PNG file: the
 * bytes go through mt_write_file_atomic (src/io/file.c), so a reader never sees a half-written
 * image and every failure is reported as the other writers report theirs. */
#include "draw.h"

#include "mytorch/io.h"

#include <errno.h>
#include <stdio.h>

cairo_status_t mt_draw_sink_write(void *closure, const unsigned char *data, unsigned int len)
{
    mt_draw_sink *s = closure;
    errno = 0;
    if (fwrite(data, 1, len, s->f) == len)
        return CAIRO_STATUS_SUCCESS;
    if (!s->err)
        s->err = errno ? errno : EIO;
    return CAIRO_STATUS_WRITE_ERROR;
}

int mt_draw_sink_fail(const mt_draw_sink *s, cairo_status_t st)
{
    errno = s->err ? s->err : st == CAIRO_STATUS_NO_MEMORY ? ENOMEM : EIO;
    return -1;
}

int mt_draw_png_to(FILE *f, cairo_surface_t *surface)
{
    mt_draw_sink s = { .f = f };
    cairo_status_t st = cairo_surface_write_to_png_stream(surface, mt_draw_sink_write, &s);
    return st == CAIRO_STATUS_SUCCESS ? 0 : mt_draw_sink_fail(&s, st);
}

/* The mt_write_file_atomic callback: the surface (user) as a PNG into f. */
static int write_png(FILE *f, void *user)
{
    return mt_draw_png_to(f, user);
}

int mt_draw_png_write(const char *path, cairo_surface_t *surface, char *err, size_t errlen)
{
    /* Refused before any temporary is created: a missing or broken surface is the caller's
     * error, not the file's, and cairo would only report it as a write error. */
    if (path && !surface) {
        mt_errbuf_set(err, errlen, "file %s: no surface to write (surface is NULL)", path);
        errno = EINVAL;
        return -1;
    }
    if (path && cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
        mt_errbuf_set(err, errlen, "file %s: the surface to write is in error: %s", path,
                      cairo_status_to_string(cairo_surface_status(surface)));
        errno = EINVAL;
        return -1;
    }
    return mt_write_file_atomic(path, write_png, surface, err, errlen);
}
