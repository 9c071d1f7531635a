/* heatmap.c: a PNG per checked function (--heatmap DIR): the numerical Jacobian, the analytical
 * one and their difference as heatmaps side by side, drawn with cairo and src/draw (its text,
 * its diverging colour map, its PNG writer). Rows are output elements, columns the inputs'
 * elements (input after input, separated by a line). Red is positive, blue negative, white
 * zero, grey NaN; the first two panels share one scale so equal Jacobians look equal, the
 * difference has its own, and failing entries are outlined. */
#include "heatmap.h"
#include "../src/draw/draw.h"

#include "mytorch/io.h"

#include <cairo.h>
#include <math.h>
#include <string.h>

#define MARGIN   24.0
#define GAP      40.0
#define TITLE_H  72.0     /* title, shapes, diagnosis */
#define HEAD_H   48.0     /* panel title + two rows of input names */
#define LABEL_W  64.0     /* row labels of the first panel */
#define BAR_H    12.0
#define FOOT_H   68.0     /* colour bar, its labels and a note */
#define PANEL_MIN_W 250.0

/* s with its baseline at y, aligned at x by ha; bold or not, in DejaVu Sans. */
static void text(cairo_t *cr, double x, double y, double size, bool bold, mt_draw_halign ha,
                 const char *s)
{
    mt_draw_text(cr, bold ? MT_DRAW_BOLD : MT_DRAW_SANS, size, x, y, ha, MT_DRAW_BASELINE, s);
}

typedef struct panel {
    const char   *title;
    const double *a, *b;      /* the value is a - b (b NULL: a) */
    double        scale;
    bool          outline_bad;
    const char   *note;       /* under the colour bar */
} panel;

static double value(const panel *p, size_t e) { return p->b ? p->a[e] - p->b[e] : p->a[e]; }

static void draw_panel(cairo_t *cr, const panel *p, const mt_gc_func *f, const mt_gc_jacobian *J,
                       double x0, double y0, double cell, double width, bool row_labels)
{
    double gw = cell * (double)J->ncols, gh = cell * (double)J->nout;
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text(cr, x0, y0 + 14, 13, true, MT_DRAW_LEFT, p->title);
    double gy = y0 + HEAD_H;

    /* input names over their column groups, on two staggered rows when they are narrow */
    double row_end[2] = { -1e9, -1e9 };
    for (int i = 0; i < f->nin; i++) {
        if (J->col0[i] < 0) continue;
        double n = (double)mt_shape_numel(f->shape[i]);
        double cx = x0 + cell * ((double)J->col0[i] + n / 2);
        double w = mt_draw_text_measure(MT_DRAW_SANS, 10, f->in_name[i]).width;
        double start = cx - w / 2, end = cx + w / 2;
        for (int row = 0; row < 2; row++) {
            if (start < row_end[row] + 4) continue;
            text(cr, cx, gy - 5 - 12 * row, 10, false, MT_DRAW_CENTER, f->in_name[i]);
            row_end[row] = end;
            break;
        }
    }
    for (size_t k = 0; k < J->nout; k++)
        for (size_t c = 0; c < J->ncols; c++) {
            mt_draw_set_source(cr, mt_draw_cmap_diverging(value(p, k * J->ncols + c), p->scale));
            cairo_rectangle(cr, x0 + cell * (double)c, gy + cell * (double)k, cell, cell);
            cairo_fill(cr);
        }
    if (p->outline_bad && cell >= 4) {
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_line_width(cr, cell >= 10 ? 2 : 1);
        for (size_t e = 0; e < J->nout * J->ncols; e++)
            if (J->bad[e]) {
                double cx = x0 + cell * (double)(e % J->ncols),
                       cy = gy + cell * (double)(e / J->ncols);
                cairo_rectangle(cr, cx + 1, cy + 1, cell - 2, cell - 2);
                cairo_stroke(cr);
            }
    }
    /* frame and separators between inputs */
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0 - 0.5, gy - 0.5, gw + 1, gh + 1);
    cairo_stroke(cr);
    for (int i = 1; i < f->nin; i++) {
        if (J->col0[i] <= 0) continue;
        double sx = x0 + cell * (double)J->col0[i];
        cairo_move_to(cr, sx, gy - 3);
        cairo_line_to(cr, sx, gy + gh + 3);
        cairo_stroke(cr);
    }
    if (row_labels) {
        char w[64];
        size_t step = cell >= 12 ? 1 : (size_t)ceil(12.0 / cell);
        cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
        for (size_t k = 0; k < J->nout; k += step) {
            size_t flat = k;
            mt_shape s = J->out_shape;
            int idx[MT_MAX_DIMS];
            for (int d = s.ndim - 1; d >= 0; d--) {
                idx[d] = (int)(flat % (size_t)s.dim[d]);
                flat /= (size_t)s.dim[d];
            }
            size_t len = (size_t)snprintf(w, sizeof w, "out[");
            for (int d = 0; d < s.ndim && len < sizeof w; d++)
                len += (size_t)snprintf(w + len, sizeof w - len, d ? ",%d" : "%d", idx[d]);
            if (len < sizeof w) snprintf(w + len, sizeof w - len, "]");
            text(cr, x0 - 6, gy + cell * (double)k + cell / 2 + 4, 9, false, MT_DRAW_RIGHT, w);
        }
    }

    /* the colour scale */
    double by = gy + gh + 18, bw = width < 160 ? width : 160;
    for (int s = 0; s < 100; s++) {
        mt_draw_set_source(cr, mt_draw_cmap_diverging((s + 0.5) / 100 * 2 - 1, 1));
        cairo_rectangle(cr, x0 + bw * s / 100.0, by, bw / 100.0 + 0.5, BAR_H);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
    cairo_rectangle(cr, x0 - 0.5, by - 0.5, bw + 1, BAR_H + 1);
    cairo_stroke(cr);
    char lo[32], hi[32];
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    if (p->scale > 0) {
        snprintf(lo, sizeof lo, "%.3g", -p->scale);
        snprintf(hi, sizeof hi, "%.3g", p->scale);
        text(cr, x0, by + BAR_H + 14, 10, false, MT_DRAW_LEFT, lo);
        text(cr, x0 + bw / 2, by + BAR_H + 14, 10, false, MT_DRAW_CENTER, "0");
        text(cr, x0 + bw, by + BAR_H + 14, 10, false, MT_DRAW_RIGHT, hi);
    } else {
        text(cr, x0 + bw / 2, by + BAR_H + 14, 10, false, MT_DRAW_CENTER, "every entry is 0");
    }
    cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
    text(cr, x0, by + BAR_H + 29, 9.5, false, MT_DRAW_LEFT, p->note);
}

int mt_gc_heatmap_write(const char *path, const mt_gc_func *f, const mt_gc_result *r, char *err,
                     size_t errlen)
{
    const mt_gc_jacobian *J = &r->jac;
    if (!J->numerical || !J->analytical || J->nout == 0 || J->ncols == 0) {
        mt_errbuf_set(err, errlen, "file %s: no Jacobian to draw", path);
        return -1;
    }
    double cell = floor(fmin(420.0 / (double)J->ncols, 300.0 / (double)J->nout));
    if (cell > 28) cell = 28;
    if (cell < 2) cell = 2;
    double gw = cell * (double)J->ncols, gh = cell * (double)J->nout;
    double pw = gw > PANEL_MIN_W ? gw : PANEL_MIN_W;
    double width = MARGIN * 2 + LABEL_W + 3 * pw + 2 * GAP;
    double height = MARGIN + TITLE_H + HEAD_H + gh + FOOT_H + MARGIN;
    if (width > 30000 || height > 30000) {
        mt_errbuf_set(err, errlen, "file %s: the Jacobian (%zu x %zu) is too large to draw", path,
                      J->nout, J->ncols);
        return -1;
    }

    double scale = 0, dscale = 0;
    for (size_t e = 0; e < J->nout * J->ncols; e++) {
        if (isfinite(J->numerical[e])) scale = fmax(scale, fabs(J->numerical[e]));
        if (isfinite(J->analytical[e])) scale = fmax(scale, fabs(J->analytical[e]));
        double d = J->analytical[e] - J->numerical[e];
        if (isfinite(d)) dscale = fmax(dscale, fabs(d));
    }
    dscale = fmax(dscale, J->atol);   /* noise below atol stays pale, not full red */

    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)ceil(width),
                                                       (int)ceil(height));
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);

    /* room for every input's name and shape: 8 x (63 + " (labels) " + a 4-d shape) */
    char title[512], sub[1536], shapes[1280] = "";
    size_t len = 0;
    for (int i = 0; i < f->nin && len < sizeof shapes; i++) {
        char s[64];
        len += (size_t)snprintf(shapes + len, sizeof shapes - len, "%s%s%s %s", i ? ", " : "",
                                f->in_name[i], f->domain[i].labels ? " (labels)" : "",
                                mt_shape_str(f->shape[i], s, sizeof s));
    }
    snprintf(title, sizeof title, "%s   %s   %s", f->name, f->case_name,
             mt_gc_status_name(r->status));
    char os[64];
    snprintf(sub, sizeof sub, "d out / d inputs: out %s; %s.   max |analytical - numerical| = %.3g",
             mt_shape_str(J->out_shape, os, sizeof os), shapes, r->jac_max_abs_err);
    if (r->status == MT_GC_FAIL) cairo_set_source_rgb(cr, 0.70, 0.09, 0.17);
    else cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text(cr, MARGIN, MARGIN + 16, 18, true, MT_DRAW_LEFT, title);
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    text(cr, MARGIN, MARGIN + 38, 11, false, MT_DRAW_LEFT, sub);
    const char *diag = strstr(r->text, "diagnosis: ");       /* the first diagnosis, one line */
    if (diag) {
        char line[400];
        size_t n = strcspn(diag, "\n");
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line - 1 ? n : sizeof line - 1), diag);
        cairo_set_source_rgb(cr, 0.70, 0.09, 0.17);
        text(cr, MARGIN, MARGIN + 56, 11, false, MT_DRAW_LEFT, line);
    }

    char dnote[96];
    snprintf(dnote, sizeof dnote, "own scale, at least atol = %.3g; failing entries outlined",
             J->atol);
    panel panels[3] = {
        { "numerical (central differences)", J->numerical, NULL, scale, false,
          "one scale for both Jacobians" },
        { "analytical (backward)", J->analytical, NULL, scale, false,
          "one scale for both Jacobians" },
        { "analytical - numerical", J->analytical, J->numerical, dscale, true, dnote },
    };
    double y0 = MARGIN + TITLE_H;
    for (int k = 0; k < 3; k++) {
        double x0 = MARGIN + LABEL_W + (double)k * (pw + GAP);
        draw_panel(cr, &panels[k], f, J, x0, y0, cell, pw, k == 0);
    }

    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st != CAIRO_STATUS_SUCCESS) {
        mt_errbuf_set(err, errlen, "file %s: drawing failed: %s", path, cairo_status_to_string(st));
        cairo_surface_destroy(surf);
        return -1;
    }
    /* Through PATH.tmp and a rename, so a failed write never leaves a half-written PNG. */
    int rc = mt_draw_png_write(path, surf, err, errlen);
    cairo_surface_destroy(surf);
    return rc;
}

void mt_gc_heatmap_shutdown(void)
{
    mt_draw_shutdown();
}
