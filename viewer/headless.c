/* headless.c: the viewer without a window or a display. The same vw_render draws on an image
 * surface (PNG, one per step for --frames), a PDF surface (a page per step: a handout to print)
 * or an SVG surface; --bench times the layout and every frame. Every file is written whole or
 * not at all, through the atomic writers of mytorch/io.h: a PNG, PDF or SVG through
 * mt_write_file_atomic, and --frames as one set through mt_write_dir_atomic, so a directory of
 * frames is all of one run's or left as it was. */
#include "viewer.h"

#include "../src/draw/draw.h"

#include <mytorch/io.h>

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <dirent.h>
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

/* ---- frames: a directory of PNGs, written as one set ----------------------------------------- */

typedef struct frame_job {
    vw_app *app;
    cairo_surface_t *s;
    cairo_t *cr;
    int w, h;
} frame_job;

typedef struct frame { frame_job *job; int step; } frame;

static int write_frame(FILE *f, void *user)
{
    const frame *fr = user;
    frame_job *j = fr->job;
    show_step(j->app, fr->step, j->w, j->h);
    vw_render(j->cr, j->w, j->h, j->app);
    cairo_surface_flush(j->s);
    return mt_draw_png_to(f, j->s);
}

/* "step-0042.png" for a step past `steps`: a frame of an earlier, longer run, exactly as
 * vw_frame_names spells it (a user's "step-00042.png" is not one) */
static bool old_frame(const char *name, int steps)
{
    if (strncmp(name, "step-", 5) != 0 || strspn(name + 5, "0123456789") > 9) return false;
    long k = atol(name + 5);
    char spelled[VW_FRAME_NAME];
    snprintf(spelled, sizeof spelled, "step-%04ld.png", k);
    return k > steps && strcmp(name, spelled) == 0;
}

const char **vw_frame_names(const vw_app *app, const char *dir, int *steps, int *n)
{
    *steps = vw_step_count(&app->model, app->state.walk);
    int old = 0;
    DIR *d = opendir(dir);                       /* not there, or not a directory: no old frames */
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) old += old_frame(e->d_name, *steps);
    size_t most = (size_t)*steps + (size_t)old;
    const char **list = malloc(most * (sizeof *list + VW_FRAME_NAME));  /* pointers, then names */
    char *names = list ? (char *)(list + most) : NULL;
    *n = 0;
    for (int k = 0; list && k < *steps; k++, (*n)++)
        snprintf(names + (size_t)*n * VW_FRAME_NAME, VW_FRAME_NAME, "step-%04d.png", k + 1);
    if (d) rewinddir(d);
    for (struct dirent *e; list && d && (size_t)*n < most && (e = readdir(d)) != NULL;)
        if (old_frame(e->d_name, *steps))
            snprintf(names + (size_t)(*n)++ * VW_FRAME_NAME, VW_FRAME_NAME, "%.*s",
                     VW_FRAME_NAME - 1, e->d_name);          /* old_frame: it fits */
    if (d) closedir(d);
    for (int k = 0; list && k < *n; k++) list[k] = names + (size_t)k * VW_FRAME_NAME;
    return list;
}

int vw_write_frames(vw_app *app, const char *dir, const char *const *names, int n, int w, int h,
                    char *err, size_t errlen)
{
    int steps = vw_step_count(&app->model, app->state.walk);
    frame_job job = { .app = app, .w = w, .h = h };
    frame *frames = malloc((size_t)n * sizeof *frames);
    mt_dir_file *files = malloc((size_t)n * sizeof *files);
    job.s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    job.cr = cairo_create(job.s);
    int rc = -1;
    if (!frames || !files || cairo_status(job.cr) != CAIRO_STATUS_SUCCESS) {
        mt_errbuf_set(err, errlen, "directory %s: out of memory for %d frames of %dx%d", dir, n,
                      w, h);
    } else {
        for (int k = 0; k < n; k++) {          /* the steps, then old frames to drop */
            frames[k] = (frame){ .job = &job, .step = k };
            files[k] = (mt_dir_file){ .name = names[k], .write = k < steps ? write_frame : NULL,
                                      .user = &frames[k] };
        }
        rc = mt_write_dir_atomic(dir, files, n, err, errlen);
    }
    cairo_destroy(job.cr);
    cairo_surface_destroy(job.s);
    free(frames);
    free(files);
    return rc;
}

/* ---- PDF and SVG --------------------------------------------------------------------------- */

typedef struct vector_job {
    vw_app *app;
    bool pdf;
    int step, w, h;
} vector_job;

/* The mt_write_file_atomic callback: every step (pdf) or one (svg) drawn onto a vector surface
 * that streams into f. */
static int write_vector(FILE *f, void *user)
{
    const vector_job *j = user;
    mt_draw_sink sink = { .f = f };
    cairo_surface_t *s =
        j->pdf ? cairo_pdf_surface_create_for_stream(mt_draw_sink_write, &sink, j->w, j->h)
               : cairo_svg_surface_create_for_stream(mt_draw_sink_write, &sink, j->w, j->h);
    cairo_t *cr = cairo_create(s);
    if (j->pdf) {
        cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, j->app->model.name);
        cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "mytorch-viewer");
        int n = vw_step_count(&j->app->model, j->app->state.walk);
        for (int k = 0; k < n && cairo_status(cr) == CAIRO_STATUS_SUCCESS; k++) {
            show_step(j->app, k, j->w, j->h);
            vw_render(cr, j->w, j->h, j->app);
            cairo_show_page(cr);
        }
    } else {
        show_step(j->app, j->step, j->w, j->h);
        vw_render(cr, j->w, j->h, j->app);
    }
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);                      /* the last bytes reach f here */
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    return st == CAIRO_STATUS_SUCCESS ? 0 : mt_draw_sink_fail(&sink, st);
}

int vw_write_pdf(vw_app *app, const char *path, int w, int h, char *err, size_t errlen)
{
    vector_job j = { .app = app, .pdf = true, .w = w, .h = h };
    return mt_write_file_atomic(path, write_vector, &j, err, errlen);
}

int vw_write_svg(vw_app *app, const char *path, int step, int w, int h, char *err, size_t errlen)
{
    vector_job j = { .app = app, .step = step, .w = w, .h = h };
    return mt_write_file_atomic(path, write_vector, &j, err, errlen);
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
