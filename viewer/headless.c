/* headless.c: the viewer without a window or a display. The same vw_render draws on an image
 * surface (PNG, one per step for --frames), a PDF surface (a page per step: a handout to print)
 * or an SVG surface; --bench times the layout and every frame. Every file is written whole or
 * not at all: PNGs through mt_draw_png_write, PDF and SVG through a temporary name and a rename. */
#include "viewer.h"

#include "../src/draw/draw.h"

#include <mytorch/io.h>

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* the state a still image shows at `step`: the gradient halfway along its edge */
static void show_step(vw_app *app, int step, int w, int h)
{
    vw_state_goto(&app->state, &app->model, step);
    app->state.anim = 0.5;
    vw_app_update(app, w, h);
}

cairo_surface_t *vw_render_image(vw_app *app, int w, int h)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) return s;
    cairo_t *cr = cairo_create(s);
    vw_render(cr, w, h, app);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    return s;
}

void vw_screenshot_name(const vw_app *app, char *buf, size_t n)
{
    char name[64];
    snprintf(name, sizeof name, "%s", app->model.name);
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            *p = '-';
    snprintf(buf, n, "%s-step-%03d.png", name, app->state.step + 1);
}

int vw_write_png(vw_app *app, const char *path, int step, int w, int h, char *err, size_t errlen)
{
    show_step(app, step, w, h);
    cairo_surface_t *s = vw_render_image(app, w, h);
    int rc = mt_draw_png_write(path, s, err, errlen);
    cairo_surface_destroy(s);
    return rc;
}

int vw_write_frames(vw_app *app, const char *dir, int w, int h, char *err, size_t errlen)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        mt_errbuf_set(err, errlen, "directory %s: cannot create it: %s", dir, strerror(errno));
        return -1;
    }
    int n = vw_step_count(&app->model, app->state.walk);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    cairo_t *cr = cairo_create(s);
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/step-%04d.png", dir, k + 1);
        show_step(app, k, w, h);
        vw_render(cr, w, h, app);
        cairo_surface_flush(s);
        rc = mt_draw_png_write(path, s, err, errlen);
    }
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    return rc;
}

/* renders every step (pdf) or one (svg) onto a vector surface made for tmp, then renames */
static int write_vector(vw_app *app, const char *path, bool pdf, int step, int w, int h, char *err,
                        size_t errlen)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        mt_errbuf_set(err, errlen, "file %s: the name is too long", path);
        return -1;
    }
    FILE *probe = fopen(tmp, "wb");              /* cairo reports only "write error" */
    if (!probe) {
        mt_errbuf_set(err, errlen, "file %s: cannot create %s: %s", path, tmp, strerror(errno));
        return -1;
    }
    fclose(probe);
    cairo_surface_t *s = pdf ? cairo_pdf_surface_create(tmp, w, h)
                             : cairo_svg_surface_create(tmp, w, h);
    cairo_t *cr = cairo_create(s);
    if (pdf) {
        cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, app->model.name);
        cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "mytorch-viewer");
        int n = vw_step_count(&app->model, app->state.walk);
        for (int k = 0; k < n && cairo_status(cr) == CAIRO_STATUS_SUCCESS; k++) {
            show_step(app, k, w, h);
            vw_render(cr, w, h, app);
            cairo_show_page(cr);
        }
    } else {
        show_step(app, step, w, h);
        vw_render(cr, w, h, app);
    }
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS) {
        remove(tmp);
        mt_errbuf_set(err, errlen, "file %s: cannot write it: %s", path,
                      cairo_status_to_string(st));
        return -1;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        mt_errbuf_set(err, errlen, "file %s: cannot rename %s to it: %s", path, tmp, strerror(e));
        return -1;
    }
    return 0;
}

int vw_write_pdf(vw_app *app, const char *path, int w, int h, char *err, size_t errlen)
{
    return write_vector(app, path, true, 0, w, h, err, errlen);
}

int vw_write_svg(vw_app *app, const char *path, int step, int w, int h, char *err, size_t errlen)
{
    return write_vector(app, path, false, step, w, h, err, errlen);
}

/* ---- the benchmark --------------------------------------------------------------------------- */

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double resident_mb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
    return rss * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int vw_bench(vw_app *app, int w, int h, int passes, FILE *out)
{
    int n = vw_step_count(&app->model, app->state.walk);
    double *ms = malloc((size_t)n * sizeof *ms), *cpu = malloc((size_t)n * sizeof *cpu);
    if (!ms || !cpu) { free(ms); free(cpu); return -1; }
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    cairo_t *cr = cairo_create(s);
    double rss_first = 0;
    for (int pass = 0; pass < (passes > 0 ? passes : 1); pass++) {
        for (int k = 0; k < n; k++) {
            double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
            vw_state_goto(&app->state, &app->model, k);
            app->state.anim = 0.5;
            vw_app_update(app, w, h);
            vw_render(cr, w, h, app);
            cairo_surface_flush(s);
            if (pass == 0) {
                ms[k] = now_ms(CLOCK_MONOTONIC) - t0;
                cpu[k] = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
            }
        }
        if (pass == 0) rss_first = resident_mb();
    }
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    qsort(ms, (size_t)n, sizeof *ms, by_value);
    qsort(cpu, (size_t)n, sizeof *cpu, by_value);
    fprintf(out, "%s: %d nodes, %d edges, %d steps at %dx%d\n", app->model.name,
            app->model.trace->nnodes, app->model.trace->nedges, n, w, h);
    /* wall clock, as the viewer sees it; CPU time, which a busy machine does not inflate */
    fprintf(out, "layout: %.1f ms (CPU %.1f ms)\n", app->layout.ms, app->layout.cpu_ms);
    fprintf(out, "frame: median %.2f ms, worst %.2f ms\n", ms[n / 2], ms[n - 1]);
    fprintf(out, "frame CPU time: median %.2f ms, worst %.2f ms\n", cpu[n / 2], cpu[n - 1]);
    if (passes > 1)
        fprintf(out, "memory: resident %.1f MB after 1 pass, %.1f MB after %d passes\n", rss_first,
                resident_mb(), passes);
    else fprintf(out, "memory: resident %.1f MB\n", rss_first);
    free(ms);
    free(cpu);
    return 0;
}
