/* plot.c: renders the validation-accuracy chart of plot.h with cairo, its text and PNG file
 * through src/draw: accuracy on a zoomed left axis, training loss on a right axis, the final
 * and best accuracy called out, and a legend placed wherever the curves leave room. */
#include "plot.h"

#include "mytorch/io.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define PLOT_PI 3.14159265358979323846
#define PLOT_MAX_MARKED 60   /* beyond this many points, markers would merge into a smear */
#define PLOT_MAX_LOSS 1e12   /* a diverged run's loss: treated as unknown rather than plotted */

/* Palette: a blue and an orange that stay distinct for the common colour-vision deficiencies. */
typedef struct rgb { double r, g, b; } rgb;
static const rgb C_TEXT  = { 0.13, 0.13, 0.15 };
static const rgb C_MUTED = { 0.38, 0.38, 0.42 };
static const rgb C_GRID  = { 0.89, 0.90, 0.92 };
static const rgb C_FRAME = { 0.55, 0.56, 0.60 };
static const rgb C_ACC   = { 0.12, 0.40, 0.75 };
static const rgb C_LOSS  = { 0.90, 0.45, 0.05 };


static void set_rgb(cairo_t *cr, rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

/* A loss worth plotting: NaN, infinities and absurd values (a diverged run) are left out. */
static int loss_known(double l) { return isfinite(l) && fabs(l) <= PLOT_MAX_LOSS; }

/* ---- scales ------------------------------------------------------------------------------ */

/* The nice step (m * 10^k, m from steps[]) closest in ratio to raw. */
static double nice_closest(double raw, const double *steps, int nsteps)
{
    double mag = pow(10.0, floor(log10(raw))), best = mag, best_r = INFINITY;
    for (int i = 0; i < nsteps; i++) {
        for (int k = 0; k < 2; k++) {   /* also try the next decade up */
            double s = steps[i] * mag * (k ? 10.0 : 1.0);
            double r = fabs(log(s / raw));
            if (r < best_r) {
                best_r = r;
                best = s;
            }
        }
    }
    return best;
}

/* The smallest nice step (1, 2, 2.5, 5 x 10^k) that is >= raw. */
static double nice_ceil(double raw)
{
    static const double m[] = { 1.0, 2.0, 2.5, 5.0, 10.0 };
    double mag = pow(10.0, floor(log10(raw)));
    for (int i = 0; i < 5; i++)
        if (m[i] * mag >= raw * (1.0 - 1e-9))
            return m[i] * mag;
    return 10.0 * mag;
}

/* Decimals needed to print multiples of step exactly (0.25 -> 2, 5 -> 0). */
static int step_decimals(double step)
{
    for (int d = 0; d < 6; d++) {
        double v = step * pow(10.0, d);
        if (fabs(v - round(v)) < 1e-6 * v)
            return d;
    }
    return 6;
}

/* Sample counts the way people say them: 0, 500, 20k, 120k, 1.5M. */
static void fmt_samples(char *buf, size_t n, double v)
{
    const char *unit = "";
    double s = v;
    if (fabs(v) >= 1e6) {
        s = v / 1e6;
        unit = "M";
    } else if (fabs(v) >= 1e3) {
        s = v / 1e3;
        unit = "k";
    }
    snprintf(buf, n, "%.3f", s);
    char *dot = strchr(buf, '.');
    if (dot) {   /* trim trailing zeros: "120.000" -> "120", "1.500" -> "1.5" */
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
    strncat(buf, unit, n - strlen(buf) - 1);
}

/* Pixel geometry and data ranges of one chart. */
typedef struct frame {
    double x0, y0, x1, y1;      /* plot area: left, top, right, bottom (pixels) */
    double xmax, xstep;         /* samples axis runs from 0 to xmax */
    double alo, ahi, astep;     /* accuracy axis, in percent */
    double llo, lhi, lstep;     /* loss axis */
    int ndiv;                   /* divisions of both y axes: the loss ticks sit on the grid */
    int has_loss;
} frame;

static double fx(const frame *f, double samples)
{
    return f->x0 + (f->x1 - f->x0) * samples / f->xmax;
}

static double fy_acc(const frame *f, double pct)
{
    return f->y1 - (f->y1 - f->y0) * (pct - f->alo) / (f->ahi - f->alo);
}

static double fy_loss(const frame *f, double l)
{
    return f->y1 - (f->y1 - f->y0) * (l - f->llo) / (f->lhi - f->llo);
}

static void compute_frame(frame *f, const mt_plot_point *pts, int n)
{
    static const double x_steps[] = { 1.0, 2.0, 5.0 };
    static const double y_steps[] = { 1.0, 2.0, 2.5, 5.0 };

    f->x0 = 84;
    f->x1 = MT_PLOT_WIDTH - 84;
    f->y0 = 70;
    f->y1 = MT_PLOT_HEIGHT - 70;

    double xmax = 0, amin = 100, lmin = INFINITY, lmax = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (pts[i].samples > xmax)
            xmax = pts[i].samples;
        if (pts[i].accuracy * 100 < amin)
            amin = pts[i].accuracy * 100;
        if (loss_known(pts[i].loss)) {
            lmin = fmin(lmin, pts[i].loss);
            lmax = fmax(lmax, pts[i].loss);
        }
    }

    /* x: from 0 to the last sample count rounded up to a tick; about 8 divisions. */
    if (xmax <= 0)
        xmax = 1;
    f->xstep = nice_closest(xmax / 8, x_steps, 3);
    f->xmax = ceil(xmax / f->xstep - 1e-9) * f->xstep;

    /* Accuracy: always up to 100%, down to a little below the worst value, but never zoomed
     * in tighter than a 5-point window, so flat or single-point data still reads sensibly. */
    double lo = fmin(amin - 0.1 * (100 - amin), 95.0);
    if (lo < 0)
        lo = 0;
    f->astep = nice_closest((100 - lo) / 8, y_steps, 4);
    f->alo = floor(lo / f->astep + 1e-9) * f->astep;
    f->ahi = 100;
    f->ndiv = (int)lround((f->ahi - f->alo) / f->astep);
    if (f->ndiv < 1)
        f->ndiv = 1;

    /* Loss: from 0 (or the minimum, if negative), with the same number of divisions as the
     * accuracy axis so both sets of ticks sit on one grid. */
    f->has_loss = isfinite(lmax);
    if (f->has_loss) {
        double base = lmin < 0 ? lmin : 0;
        double top = lmax > base ? lmax : base + 1;
        double s = nice_ceil((top - base) * 1.02 / f->ndiv);
        for (int tries = 0; tries < 8; tries++) {
            f->llo = floor(base / s + 1e-9) * s;
            if (f->llo + f->ndiv * s >= top)
                break;
            s = nice_ceil(s * 1.01);
        }
        f->lstep = s;
        f->lhi = f->llo + f->ndiv * s;
    }
}

/* ---- text --------------------------------------------------------------------------------- */

/* The chart's text styles: face and size in pixels. */
typedef struct tstyle { mt_draw_font font; double size; } tstyle;
static const tstyle T_TICK    = { MT_DRAW_SANS, 12.5 };
static const tstyle T_AXIS    = { MT_DRAW_SANS, 14 };
static const tstyle T_CALLOUT = { MT_DRAW_BOLD, 14 };
static const tstyle T_LEGEND  = { MT_DRAW_SANS, 13 };
static const tstyle T_TITLE   = { MT_DRAW_BOLD, 20 };

static double text_width(tstyle t, const char *s)
{
    return mt_draw_text_measure(t.font, t.size, s).width;
}

/* Draws s aligned horizontally by ha at x, with its vertical centre (the middle of the font's
 * line, not of this string's ink, so labels in a row line up) at y. */
static void text_at(cairo_t *cr, tstyle t, double x, double y, mt_draw_halign ha, const char *s)
{
    mt_draw_text(cr, t.font, t.size, x, y, ha, MT_DRAW_MIDDLE, s);
}

static void text_rotated(cairo_t *cr, tstyle t, double x, double y, double angle, const char *s)
{
    mt_draw_text_rotated(cr, t.font, t.size, x, y, angle, MT_DRAW_CENTER, MT_DRAW_MIDDLE, s);
}

/* ---- layout: keep labels off the curves -------------------------------------------------- */

typedef struct box { double x, y, w, h; } box;

/* How much of the drawn data a box would hide: curve samples every ~3 pixels inside it. */
static int box_cost(const frame *f, const mt_plot_point *pts, int n, box b)
{
    const double pad = 5;
    int cost = 0;
    for (int curve = 0; curve < 2; curve++) {
        if (curve == 1 && !f->has_loss)
            break;
        for (int i = 0; i < n; i++) {
            double v0 = curve ? pts[i].loss : pts[i].accuracy * 100;
            double v1 = i + 1 < n ? (curve ? pts[i + 1].loss : pts[i + 1].accuracy * 100) : v0;
            if (curve ? !loss_known(v0) : !isfinite(v0))
                continue;
            if (curve ? !loss_known(v1) : !isfinite(v1))
                v1 = v0;
            double ax = fx(f, pts[i].samples), bx = i + 1 < n ? fx(f, pts[i + 1].samples) : ax;
            double ay = curve ? fy_loss(f, v0) : fy_acc(f, v0);
            double by = curve ? fy_loss(f, v1) : fy_acc(f, v1);
            int k = (int)(hypot(bx - ax, by - ay) / 3) + 1;
            if (k > 400)
                k = 400;
            for (int j = 0; j <= k; j++) {
                double x = ax + (bx - ax) * j / k, y = ay + (by - ay) * j / k;
                if (x >= b.x - pad && x <= b.x + b.w + pad && y >= b.y - pad
                    && y <= b.y + b.h + pad)
                    cost++;
            }
        }
    }
    return cost;
}

static int boxes_overlap(box a, box b)
{
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static int box_inside(const frame *f, box b)
{
    return b.x >= f->x0 + 4 && b.y >= f->y0 + 4 && b.x + b.w <= f->x1 - 4 && b.y + b.h <= f->y1 - 4;
}

/* ---- drawing ------------------------------------------------------------------------------ */

static void draw_grid_and_axes(cairo_t *cr, const frame *f)
{
    char buf[48];

    /* Grid: one line per tick, drawn on pixel centres so 1-pixel lines stay crisp. */
    cairo_set_line_width(cr, 1);
    set_rgb(cr, C_GRID);
    for (int i = 0; i <= f->ndiv; i++) {
        double y = floor(fy_acc(f, f->alo + i * f->astep)) + 0.5;
        cairo_move_to(cr, f->x0, y);
        cairo_line_to(cr, f->x1, y);
    }
    int nx = (int)lround(f->xmax / f->xstep);
    for (int i = 0; i <= nx; i++) {
        double x = floor(fx(f, i * f->xstep)) + 0.5;
        cairo_move_to(cr, x, f->y0);
        cairo_line_to(cr, x, f->y1);
    }
    cairo_stroke(cr);

    /* Frame. */
    set_rgb(cr, C_FRAME);
    cairo_rectangle(cr, floor(f->x0) + 0.5, floor(f->y0) + 0.5, floor(f->x1) - floor(f->x0),
                    floor(f->y1) - floor(f->y0));
    cairo_stroke(cr);

    /* x ticks and labels. */
    for (int i = 0; i <= nx; i++) {
        double x = floor(fx(f, i * f->xstep)) + 0.5;
        set_rgb(cr, C_FRAME);
        cairo_move_to(cr, x, f->y1);
        cairo_line_to(cr, x, f->y1 + 5);
        cairo_stroke(cr);
        fmt_samples(buf, sizeof buf, i * f->xstep);
        set_rgb(cr, C_TEXT);
        text_at(cr, T_TICK, x, f->y1 + 17, MT_DRAW_CENTER, buf);
    }

    /* Left (accuracy) ticks and labels. */
    int ad = step_decimals(f->astep);
    for (int i = 0; i <= f->ndiv; i++) {
        double y = floor(fy_acc(f, f->alo + i * f->astep)) + 0.5;
        set_rgb(cr, C_FRAME);
        cairo_move_to(cr, f->x0 - 5, y);
        cairo_line_to(cr, f->x0, y);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%.*f%%", ad, f->alo + i * f->astep);
        set_rgb(cr, C_TEXT);
        text_at(cr, T_TICK, f->x0 - 9, y, MT_DRAW_RIGHT, buf);
    }

    /* Right (loss) ticks and labels, in the loss colour so it is clear which curve they read. */
    if (f->has_loss) {
        int ld = step_decimals(f->lstep);
        for (int i = 0; i <= f->ndiv; i++) {
            double y = floor(fy_loss(f, f->llo + i * f->lstep)) + 0.5;
            set_rgb(cr, C_LOSS);
            cairo_move_to(cr, f->x1, y);
            cairo_line_to(cr, f->x1 + 5, y);
            cairo_stroke(cr);
            snprintf(buf, sizeof buf, "%.*f", ld, f->llo + i * f->lstep);
            text_at(cr, T_TICK, f->x1 + 9, y, MT_DRAW_LEFT, buf);
        }
    }

    /* Axis labels. */
    set_rgb(cr, C_TEXT);
    text_at(cr, T_AXIS, (f->x0 + f->x1) / 2, f->y1 + 44, MT_DRAW_CENTER, "training samples seen");
    set_rgb(cr, C_ACC);
    text_rotated(cr, T_AXIS, 24, (f->y0 + f->y1) / 2, -PLOT_PI / 2, "validation accuracy (%)");
    if (f->has_loss) {
        set_rgb(cr, C_LOSS);
        text_rotated(cr, T_AXIS, MT_PLOT_WIDTH - 22, (f->y0 + f->y1) / 2, PLOT_PI / 2,
                     "training loss");
    }
}

static void marker(cairo_t *cr, double x, double y, double r, rgb c)
{
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, r, 0, 2 * PLOT_PI);
    set_rgb(cr, c);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, 1.2);
    cairo_stroke(cr);
}

static void draw_curves(cairo_t *cr, const frame *f, const mt_plot_point *pts, int n)
{
    int marked = n <= PLOT_MAX_MARKED;
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);

    /* Loss first, dashed, so the accuracy curve (the point of the chart) is drawn on top.
     * Unknown losses (NaN, or too large to plot) break the line instead of being invented. */
    if (f->has_loss) {
        static const double dash[] = { 7, 4 };
        cairo_set_dash(cr, dash, 2, 0);
        cairo_set_line_width(cr, 2);
        set_rgb(cr, C_LOSS);
        int pen = 0;
        for (int i = 0; i < n; i++) {
            if (!loss_known(pts[i].loss)) {
                pen = 0;
                continue;
            }
            double x = fx(f, pts[i].samples), y = fy_loss(f, pts[i].loss);
            if (pen)
                cairo_line_to(cr, x, y);
            else
                cairo_move_to(cr, x, y);
            pen = 1;
        }
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        if (marked)
            for (int i = 0; i < n; i++)
                if (loss_known(pts[i].loss))
                    marker(cr, fx(f, pts[i].samples), fy_loss(f, pts[i].loss), 2.8, C_LOSS);
    }

    cairo_set_line_width(cr, 2.6);
    set_rgb(cr, C_ACC);
    for (int i = 0; i < n; i++) {
        double x = fx(f, pts[i].samples), y = fy_acc(f, pts[i].accuracy * 100);
        if (i)
            cairo_line_to(cr, x, y);
        else
            cairo_move_to(cr, x, y);
    }
    cairo_stroke(cr);
    if (marked)
        for (int i = 0; i < n; i++)
            marker(cr, fx(f, pts[i].samples), fy_acc(f, pts[i].accuracy * 100), 4, C_ACC);
}

/* Places a callout box of size (w, h) next to the point (px, py): tries the eight directions
 * around it and keeps the one that hides the least data and avoids `avoid` (if given). */
static box place_near(const frame *f, const mt_plot_point *pts, int n, double px, double py,
                      double w, double h, const box *avoid)
{
    static const double dirs[8][2] = { { -1, 1 }, { -1, -1 }, { 1, 1 }, { 1, -1 },
                                       { 0, 1 }, { 0, -1 }, { -1, 0 }, { 1, 0 } };
    const double gap = 14;
    box best = { px - w - gap, py + gap, w, h };
    long best_cost = -1;
    for (int d = 0; d < 8; d++) {
        box b = { px + (dirs[d][0] < 0 ? -w - gap : dirs[d][0] > 0 ? gap : -w / 2),
                  py + (dirs[d][1] < 0 ? -h - gap : dirs[d][1] > 0 ? gap : -h / 2), w, h };
        long cost = box_cost(f, pts, n, b) + d; /* + d: prefer the earlier directions on ties */
        if (!box_inside(f, b))
            cost += 100000;
        if (avoid && boxes_overlap(b, *avoid))
            cost += 50000;
        if (best_cost < 0 || cost < best_cost) {
            best_cost = cost;
            best = b;
        }
    }
    return best;
}

static void callout(cairo_t *cr, box b, double px, double py, const char *s, rgb c)
{
    /* Leader from the point to the nearest edge of the box. */
    double cx = fmin(fmax(px, b.x), b.x + b.w), cy = fmin(fmax(py, b.y), b.y + b.h);
    set_rgb(cr, c);
    cairo_set_line_width(cr, 1.2);
    cairo_move_to(cr, px, py);
    cairo_line_to(cr, cx, cy);
    cairo_stroke(cr);

    mt_draw_rounded_rect(cr, b.x, b.y, b.w, b.h, 4);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.94);
    cairo_fill_preserve(cr);
    set_rgb(cr, c);
    cairo_stroke(cr);
    text_at(cr, T_CALLOUT, b.x + b.w / 2, b.y + b.h / 2, MT_DRAW_CENTER, s);
}

static void draw_annotations(cairo_t *cr, const frame *f, const mt_plot_point *pts, int n,
                             const char *title)
{
    char fin[64], buf[160], when[32];
    int last = n - 1, best = 0;
    for (int i = 1; i < n; i++)
        if (pts[i].accuracy > pts[best].accuracy)
            best = i;
    double best_pct = pts[best].accuracy * 100, fin_pct = pts[last].accuracy * 100;

    /* Final value: the number the reader came for, in a callout next to the last point. */
    snprintf(fin, sizeof fin, "final %.1f%%", fin_pct);
    double fpx = fx(f, pts[last].samples), fpy = fy_acc(f, fin_pct);
    box fb = place_near(f, pts, n, fpx, fpy, text_width(T_CALLOUT, fin) + 18, 26, NULL);
    callout(cr, fb, fpx, fpy, fin, C_ACC);

    /* Best value: noted in the legend; when it is not the final point, its point is ringed
     * (the ring doubles as the legend's symbol for it). */
    fmt_samples(when, sizeof when, pts[best].samples);
    int ring = best != last && best_pct - fin_pct >= 0.05;
    if (ring) {
        set_rgb(cr, C_ACC);
        cairo_set_line_width(cr, 1.6);
        cairo_new_sub_path(cr);
        cairo_arc(cr, fx(f, pts[best].samples), fy_acc(f, best_pct), 8, 0, 2 * PLOT_PI);
        cairo_stroke(cr);
    }

    /* Legend: one row per curve plus a summary row, placed where it hides the least. */
    const char *acc_label = "validation accuracy (left axis)";
    const char *loss_label = "training loss (right axis)";
    if (ring)
        snprintf(buf, sizeof buf, "best %.1f%% after %s samples", best_pct, when);
    else
        snprintf(buf, sizeof buf, "best %.1f%% (the final value)", best_pct);
    double tw = fmax(text_width(T_LEGEND, acc_label), text_width(T_LEGEND, buf));
    if (f->has_loss)
        tw = fmax(tw, text_width(T_LEGEND, loss_label));
    int rows = f->has_loss ? 3 : 2;
    const double row_h = 22, swatch = 30;
    box lb = { 0, 0, 14 + swatch + 10 + tw + 14, 10 + rows * row_h + 6 };
    long best_cost = -1;
    box best_box = { f->x1 - lb.w - 12, f->y0 + 12, lb.w, lb.h };
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) {
            box b = lb;
            b.x = c == 0 ? f->x0 + 12 : c == 1 ? (f->x0 + f->x1 - lb.w) / 2 : f->x1 - lb.w - 12;
            b.y = r == 0 ? f->y0 + 12 : r == 1 ? (f->y0 + f->y1 - lb.h) / 2 : f->y1 - lb.h - 12;
            long cost = box_cost(f, pts, n, b);
            if (boxes_overlap(b, fb))
                cost += 50000;
            if (best_cost < 0 || cost < best_cost) {
                best_cost = cost;
                best_box = b;
            }
        }
    }
    lb = best_box;
    mt_draw_rounded_rect(cr, lb.x, lb.y, lb.w, lb.h, 5);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.94);
    cairo_fill_preserve(cr);
    set_rgb(cr, C_FRAME);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);

    double sx = lb.x + 14, tx = sx + swatch + 10, y = lb.y + 10 + row_h / 2;
    set_rgb(cr, C_ACC);
    cairo_set_line_width(cr, 2.6);
    cairo_move_to(cr, sx, y);
    cairo_line_to(cr, sx + swatch, y);
    cairo_stroke(cr);
    marker(cr, sx + swatch / 2, y, 4, C_ACC);
    set_rgb(cr, C_TEXT);
    text_at(cr, T_LEGEND, tx, y, MT_DRAW_LEFT, acc_label);
    y += row_h;
    if (f->has_loss) {
        static const double dash[] = { 7, 4 };
        set_rgb(cr, C_LOSS);
        cairo_set_line_width(cr, 2);
        cairo_set_dash(cr, dash, 2, 0);
        cairo_move_to(cr, sx, y);
        cairo_line_to(cr, sx + swatch, y);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        marker(cr, sx + swatch / 2, y, 2.8, C_LOSS);
        set_rgb(cr, C_TEXT);
        text_at(cr, T_LEGEND, tx, y, MT_DRAW_LEFT, loss_label);
        y += row_h;
    }
    if (ring) {
        set_rgb(cr, C_ACC);
        cairo_set_line_width(cr, 1.6);
        cairo_new_sub_path(cr);
        cairo_arc(cr, sx + swatch / 2, y, 8, 0, 2 * PLOT_PI);
        cairo_stroke(cr);
    }
    set_rgb(cr, C_MUTED);
    text_at(cr, T_LEGEND, tx, y, MT_DRAW_LEFT, buf);

    /* Title, centred over the plot area. */
    set_rgb(cr, C_TEXT);
    text_at(cr, T_TITLE, (f->x0 + f->x1) / 2, 34, MT_DRAW_CENTER, title);
}

/* ---- output ------------------------------------------------------------------------------ */

int mt_plot_accuracy(const char *path, const char *title, const mt_plot_point *pts, int n,
                     char *err, size_t errlen)
{
    if (!path) {
        mt_errbuf_set(err, errlen, "mt_plot_accuracy: path is NULL");
        return -1;
    }
    if (n < 1 || !pts) {
        mt_errbuf_set(err, errlen, "mt_plot_accuracy: file %s: no points to plot (n = %d%s)",
                      path, n, pts ? "" : ", pts is NULL");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!isfinite(pts[i].samples) || pts[i].samples < 0) {
            mt_errbuf_set(err, errlen, "mt_plot_accuracy: file %s: point %d: samples seen is %g, "
                    "expected a finite number >= 0", path, i, pts[i].samples);
            return -1;
        }
        if (!(pts[i].accuracy >= 0 && pts[i].accuracy <= 1)) {
            mt_errbuf_set(err, errlen, "mt_plot_accuracy: file %s: point %d: accuracy is %g, "
                    "expected a value in [0, 1]", path, i, pts[i].accuracy);
            return -1;
        }
    }
    if (!title)
        title = "Validation accuracy";

    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, MT_PLOT_WIDTH,
                                                       MT_PLOT_HEIGHT);
    cairo_t *cr = cairo_create(surf);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        mt_errbuf_set(err, errlen, "mt_plot_accuracy: file %s: cannot create a cairo surface: %s",
                path, cairo_status_to_string(cairo_status(cr)));
        cairo_destroy(cr);
        cairo_surface_destroy(surf);
        return -1;
    }

    frame f;
    compute_frame(&f, pts, n);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    draw_grid_and_axes(cr, &f);
    draw_curves(cr, &f, pts, n);
    draw_annotations(cr, &f, pts, n, title);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st != CAIRO_STATUS_SUCCESS) {
        mt_errbuf_set(err, errlen, "mt_plot_accuracy: file %s: drawing failed: %s", path,
                cairo_status_to_string(st));
        cairo_surface_destroy(surf);
        return -1;
    }

    /* Through a temporary file and a rename, so a reader never sees a half-written PNG. */
    int rc = mt_draw_png_write(path, surf, err, errlen);
    cairo_surface_destroy(surf);
    return rc;
}
