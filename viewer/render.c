/* render.c: one frame is a function of the trace, the state, the layout and the frame's size,
 * drawn with cairo alone (and src/draw for text and colours), so the same code makes a window
 * frame, a PNG, an SVG and a PDF page. This file sizes the nodes, draws the graph (nodes, edges,
 * the travelling gradient, the accumulation callout) and ties a frame together; panel.c draws
 * the bars, the side panel and the inspector. */
#include "viewer.h"

#include "../src/draw/draw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a node's inside, in graph units */
#define PAD_X   10.0
#define PAD_Y   8.0
#define ROW_GAP 3.0
#define F_SYM   16.0     /* the op's symbol */
#define F_SMALL 10.5     /* its backward name, tags */
#define F_NAME  14.0     /* the tensor's name */
#define F_VAL   13.5     /* values and gradients */
#define HM_W    70.0     /* a value's small heatmap */
#define HM_H    30.0
#define HM_GAP  10.0
#define HM_IMAGE_MAX 160 /* a heatmap image's largest side, in pixels */

static const mt_draw_rgb C_TEXT = { 0.13, 0.13, 0.16 }, C_MUTED = { 0.42, 0.42, 0.46 },
    C_OP_FILL = { 1, 1, 1 }, C_OP_LINE = { 0.25, 0.25, 0.30 },
    C_LEAF_FILL = { 0.89, 0.94, 1.0 }, C_LEAF_LINE = { 0.16, 0.42, 0.73 },
    C_CONST_FILL = { 0.93, 0.93, 0.93 }, C_CONST_LINE = { 0.58, 0.58, 0.58 },
    C_CONST_TEXT = { 0.48, 0.48, 0.48 },
    C_HIGHLIGHT = { VW_HIGHLIGHT_R, VW_HIGHLIGHT_G, VW_HIGHLIGHT_B },
    C_STACK = { 0.90, 0.62, 0.25 }, C_STACK_FILL = { 1.0, 0.95, 0.87 },
    C_READY = { 0.56, 0.27, 0.68 }, C_FINAL = { 0.10, 0.52, 0.28 },
    C_GRAD = { 0.80, 0.10, 0.15 }, C_GRAD_EDGE = { 0.88, 0.47, 0.49 },
    C_EDGE = { 0.60, 0.60, 0.64 }, C_SELECT = { 0.13, 0.40, 0.85 },
    C_CALLOUT = { 1.0, 0.95, 0.72 }, C_BADGE = { 0.20, 0.22, 0.30 };

/* ---- helpers panel.c shares ------------------------------------------------------------------ */

void vw_fill_rect(cairo_t *cr, vw_rect r, double red, double green, double blue)
{
    cairo_set_source_rgb(cr, red, green, blue);
    cairo_rectangle(cr, r.x, r.y, r.w, r.h);
    cairo_fill(cr);
}

void vw_rounded(cairo_t *cr, vw_rect r, double radius)
{
    mt_draw_rounded_rect(cr, r.x, r.y, r.w, r.h, radius);
}

/* The width of one word, remembered: a caption's words recur from step to step ("gradient",
 * the nodes' names), and laying each out again is most of what wrapping costs. A fixed table,
 * overwritten on collision; drawing is single-threaded (draw.h). */
#define WORD_CACHE 1024
typedef struct word_width {
    char   word[40];
    int    font;
    double size, width;
} word_width;

static double word_measure(int font, double size, const char *w, size_t len)
{
    static word_width cache[WORD_CACHE];
    char word[VW_TEXT_MAX];
    snprintf(word, sizeof word, "%.*s", (int)len, w);
    if (len >= sizeof cache[0].word)
        return mt_draw_text_measure((mt_draw_font)font, size, word).width;
    uint32_t h = 2166136261u ^ (uint32_t)font;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)w[i]) * 16777619u;
    word_width *c = &cache[h % WORD_CACHE];
    if (c->size != size || c->font != font || strcmp(c->word, word) != 0) {
        memcpy(c->word, word, len + 1);              /* len < sizeof c->word */
        c->font = font;
        c->size = size;
        c->width = mt_draw_text_measure((mt_draw_font)font, size, word).width;
    }
    return c->width;
}

int vw_wrap(const char *text, int font, double size, double width, char out[][VW_TEXT_MAX], int max)
{
    int n = 0;
    char line[VW_TEXT_MAX] = "";
    double used = 0, space = word_measure(font, size, " ", 1);
    const char *p = text;
    while (*p && n < max) {
        while (*p == ' ') p++;
        const char *q = p;
        while (*q && *q != ' ') q++;
        if (q == p) break;
        double w = word_measure(font, size, p, (size_t)(q - p));
        if (line[0] && used + space + w > width) {      /* the word starts the next line */
            snprintf(out[n++], VW_TEXT_MAX, "%s", line);
            snprintf(line, sizeof line, "%.*s", (int)(q - p), p);
            used = w;
        } else {
            size_t len = strlen(line);
            snprintf(line + len, sizeof line - len, "%s%.*s", len ? " " : "", (int)(q - p), p);
            used += (len ? space : 0) + w;
        }
        p = q;
    }
    if (line[0] && n < max) snprintf(out[n++], VW_TEXT_MAX, "%s", line);
    return n;
}

/* ---- what a node says ------------------------------------------------------------------------ */

typedef struct node_text {
    char head[64], sub[64];      /* "×" and "MulBackward0"; "leaf" and "AccumulateGrad" */
    char name[VW_NAME_MAX];
    char value[96];              /* " = 3" or "  (4, 784)" */
    bool small;                  /* numbers, not heatmaps */
} node_text;

static void describe(const vw_model *m, int i, node_text *nt)
{
    const mt_trace_node *nd = &m->trace->nodes[i];
    char v[96];
    memset(nt, 0, sizeof *nt);
    vw_node_name(m, i, nt->name, sizeof nt->name);
    vw_format_value(&nd->value, v, sizeof v);
    nt->small = vw_value_small(&nd->value);
    snprintf(nt->value, sizeof nt->value, nt->small ? " = %s" : "  %s", v);
    if (nd->kind == MT_TRACE_CONSTANT && strcmp(nt->name, v) == 0) nt->value[0] = 0;   /* "3" */
    if (nd->kind == MT_TRACE_BACKWARD_FUNCTION) {
        snprintf(nt->head, sizeof nt->head, "%s", nd->symbol[0] ? nd->symbol : nd->op_name);
        snprintf(nt->sub, sizeof nt->sub, "%s", nd->backward_name);
    } else if (nd->kind == MT_TRACE_ACCUMULATE_GRAD) {
        snprintf(nt->head, sizeof nt->head, "%s", nd->is_parameter ? "parameter" : "leaf");
        snprintf(nt->sub, sizeof nt->sub, "AccumulateGrad");
    } else {
        snprintf(nt->head, sizeof nt->head, "constant");
    }
}

static double row_h(double size) { return mt_draw_text_measure(MT_DRAW_SANS, size, "Ag").height; }

static void grad_text(char *buf, size_t n, bool leaf, const char *v)
{
    snprintf(buf, n, "%s: %s", leaf ? ".grad" : "grad", v);
}

/* the widest gradient row node i will ever show, over every walk */
static double widest_grad(const vw_model *m, int i, bool leaf)
{
    char v[96], line[128];
    grad_text(line, sizeof line, leaf, "—");
    double w = mt_draw_text_measure(MT_DRAW_MONO, F_VAL, line).width;
    const mt_trace *t = m->trace;
    for (int k = 0; k < t->nwalks; k++) {
        bool accumulated = false;
        for (size_t j = 0; j < t->walks[k].nevents; j++) {
            const mt_trace_event *e = &t->walks[k].events[j];
            if (e->node != i) continue;
            const mt_trace_value *vals[3] = { &e->grad, &e->after, &e->before };
            int nv = e->kind == MT_EV_ACCUMULATE ? 3 : 1;
            if (e->kind == MT_EV_NODE_GRADS || e->kind == MT_EV_RETURN) continue;
            for (int q = 0; q < nv; q++) {
                if (!vals[q]->present) continue;
                vw_format_value(vals[q], v, sizeof v);
                if (q == 2 && accumulated) continue;          /* shown only before the first */
                if (q == 2) strncat(v, " (zeroed)", sizeof v - strlen(v) - 1);
                grad_text(line, sizeof line, leaf, v);
                w = fmax(w, mt_draw_text_measure(MT_DRAW_MONO, F_VAL, line).width);
            }
            if (e->kind == MT_EV_ACCUMULATE) accumulated = true;
        }
    }
    return w + mt_draw_text_measure(MT_DRAW_BOLD, F_VAL, "  ✓").width;
}

void vw_measure_nodes(vw_model *m)
{
    const mt_trace *t = m->trace;
    double sym_h = row_h(F_SYM), name_h = row_h(F_NAME), val_h = row_h(F_VAL),
           small_h = row_h(F_SMALL);
    for (int i = 0; i < t->nnodes; i++) {
        node_text nt;
        describe(m, i, &nt);
        const mt_trace_node *nd = &t->nodes[i];
        bool op = nd->kind == MT_TRACE_BACKWARD_FUNCTION;
        double head = mt_draw_text_measure(MT_DRAW_BOLD, op ? F_SYM : F_SMALL, nt.head).width
                    + 8 + mt_draw_text_measure(MT_DRAW_SANS, F_SMALL, nt.sub).width;
        double row2 = mt_draw_text_measure(MT_DRAW_BOLD, F_NAME, nt.name).width
                    + mt_draw_text_measure(MT_DRAW_MONO, F_VAL, nt.value).width;
        double row3, h3;
        if (nd->kind == MT_TRACE_CONSTANT) {
            row3 = mt_draw_text_measure(MT_DRAW_SANS, F_SMALL, "no gradient flows here").width;
            h3 = small_h;
        } else if (nt.small) {
            row3 = widest_grad(m, i, nd->kind == MT_TRACE_ACCUMULATE_GRAD);
            h3 = val_h;
        } else {
            row3 = 2 * HM_W + HM_GAP;
            h3 = HM_H + small_h;
        }
        if (!nt.small && nd->kind == MT_TRACE_CONSTANT) { row3 = fmax(row3, HM_W); h3 += HM_H; }
        m->node_w[i] = ceil(2 * PAD_X + fmax(head, fmax(row2, row3)));
        m->node_h[i] = ceil(2 * PAD_Y + (op ? sym_h : small_h) + ROW_GAP + name_h + ROW_GAP + h3);
    }
}

/* ---- heatmaps -------------------------------------------------------------------------------- */

void vw_render_cache_free(vw_render_cache *c)
{
    for (int i = 0; i < c->n; i++) cairo_surface_destroy(c->surface[i]);
    free(c->key);
    free(c->surface);
    free(c->vmax);
    memset(c, 0, sizeof *c);
}

static void grid_of(const mt_trace_value *v, int *rows, int *cols)
{
    int nd = v->shape.ndim;
    *cols = nd == 0 ? 1 : v->shape.dim[nd - 1];
    if (*cols < 1) *cols = 1;
    *rows = (int)(v->numel / (size_t)*cols);
    if (*rows < 1) *rows = 1;
}

cairo_surface_t *vw_heatmap_image(vw_render_cache *c, const mt_trace_value *v, double vmax)
{
    if (!v || !v->present || v->numel == 0) return NULL;
    for (int i = 0; i < c->n; i++)
        if (c->key[i] == v && c->vmax[i] == vmax) return c->surface[i];
    int rows, cols;
    grid_of(v, &rows, &cols);
    if ((size_t)rows * (size_t)cols > 4u << 20) return NULL;      /* not an image any more */
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        const mt_trace_value **k = realloc(c->key, (size_t)cap * sizeof *k);
        if (k) c->key = k;
        cairo_surface_t **s = realloc(c->surface, (size_t)cap * sizeof *s);
        if (s) c->surface = s;
        double *vm = realloc(c->vmax, (size_t)cap * sizeof *vm);
        if (vm) c->vmax = vm;
        if (!k || !s || !vm) return NULL;
        c->cap = cap;
    }
    /* one pixel per cell up to HM_IMAGE_MAX a side; beyond, each pixel is the mean colour of its
     * block of cells, so that drawing it small each frame costs little */
    int iw = cols < HM_IMAGE_MAX ? cols : HM_IMAGE_MAX,
        ih = rows < HM_IMAGE_MAX ? rows : HM_IMAGE_MAX;
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, iw, ih);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return NULL;
    }
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    for (int y = 0; y < ih; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * (size_t)stride);
        int r0 = (int)((long)y * rows / ih), r1 = (int)((long)(y + 1) * rows / ih);
        for (int x = 0; x < iw; x++) {
            int q0 = (int)((long)x * cols / iw), q1 = (int)((long)(x + 1) * cols / iw);
            double sr = 0, sg = 0, sb = 0;
            int n = 0;
            for (int r = r0; r < r1; r++)
                for (int q = q0; q < q1; q++, n++) {
                    size_t k = (size_t)r * (size_t)cols + (size_t)q;
                    mt_draw_rgb c = k < v->ndata ? mt_draw_cmap_diverging(v->data[k], vmax)
                                                 : MT_DRAW_NAN_RGB;
                    sr += c.r, sg += c.g, sb += c.b;
                }
            if (n < 1) n = 1;
            row[x] = (uint32_t)(sr / n * 255 + 0.5) << 16 | (uint32_t)(sg / n * 255 + 0.5) << 8 |
                     (uint32_t)(sb / n * 255 + 0.5);
        }
    }
    cairo_surface_mark_dirty(img);
    c->key[c->n] = v;
    c->vmax[c->n] = vmax;
    c->surface[c->n++] = img;
    return img;
}

/* v's heatmap stretched over r (user units), with a thin frame */
static void draw_heatmap(cairo_t *cr, vw_render_cache *c, const mt_trace_value *v, double vmax,
                         vw_rect r)
{
    cairo_surface_t *img = vw_heatmap_image(c, v, vmax);
    if (img) {
        int iw = cairo_image_surface_get_width(img), ih = cairo_image_surface_get_height(img);
        cairo_save(cr);
        cairo_rectangle(cr, r.x, r.y, r.w, r.h);
        cairo_clip(cr);
        cairo_translate(cr, r.x, r.y);
        cairo_scale(cr, r.w / iw, r.h / ih);
        cairo_set_source_surface(cr, img, 0, 0);
        double dx = 1, dy = 1;                  /* one cell, in device pixels */
        cairo_user_to_device_distance(cr, &dx, &dy);
        /* crisp cells when magnified; averaged when many cells share a pixel */
        cairo_pattern_set_filter(cairo_get_source(cr), fabs(dx) >= 1 && fabs(dy) >= 1
                                 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_BILINEAR);
        cairo_paint(cr);
        cairo_restore(cr);
    }
    cairo_set_source_rgb(cr, 0.55, 0.55, 0.58);
    cairo_set_line_width(cr, 0.8);
    cairo_rectangle(cr, r.x, r.y, r.w, r.h);
    cairo_stroke(cr);
}

static double abs_max(const mt_trace_value *v)
{
    if (!v || !v->present) return 0;
    return fmax(fabs(v->min), fabs(v->max));
}

/* ---- the graph ------------------------------------------------------------------------------- */

static void set(cairo_t *cr, mt_draw_rgb c) { mt_draw_set_source(cr, c); }

/* point at parameter u in [0, 1] along a curve of 1 + 3k control points */
static vw_point curve_at(const vw_curve *c, double u)
{
    if (c->npts < 4) return c->npts ? c->pts[0] : (vw_point){ 0, 0 };
    int segs = (c->npts - 1) / 3;
    double s = fmin(fmax(u, 0), 1) * segs;
    int k = (int)s;
    if (k >= segs) k = segs - 1;
    double t = s - k, a = (1 - t) * (1 - t) * (1 - t), b = 3 * t * (1 - t) * (1 - t),
           cc = 3 * t * t * (1 - t), d = t * t * t;
    const vw_point *p = &c->pts[3 * k];
    return (vw_point){ a * p[0].x + b * p[1].x + cc * p[2].x + d * p[3].x,
                       a * p[0].y + b * p[1].y + cc * p[2].y + d * p[3].y };
}

static void draw_edge(cairo_t *cr, const vw_curve *c, mt_draw_rgb col, double width, double alpha)
{
    if (c->npts < 1) return;
    cairo_set_source_rgba(cr, col.r, col.g, col.b, alpha);
    cairo_set_line_width(cr, width);
    cairo_move_to(cr, c->pts[0].x, c->pts[0].y);
    for (int k = 1; k + 2 < c->npts; k += 3)
        cairo_curve_to(cr, c->pts[k].x, c->pts[k].y, c->pts[k + 1].x, c->pts[k + 1].y,
                       c->pts[k + 2].x, c->pts[k + 2].y);
    cairo_stroke(cr);
    if (!c->arrow) return;
    vw_point a = c->pts[c->npts - 1], b = c->tip;
    double dx = b.x - a.x, dy = b.y - a.y, len = hypot(dx, dy);
    if (len < 1e-6) return;
    double ux = dx / len, uy = dy / len, s = 3.5 + width;
    cairo_move_to(cr, b.x, b.y);
    cairo_line_to(cr, b.x - ux * len - uy * s, b.y - uy * len + ux * s);
    cairo_line_to(cr, b.x - ux * len + uy * s, b.y - uy * len - ux * s);
    cairo_close_path(cr);
    cairo_fill(cr);
}

/* a rounded label box centred at (x, y) on `fill`, text in `ink`; returns its rectangle */
static vw_rect bubble(cairo_t *cr, double x, double y, mt_draw_font font, double size,
                      const char *text, mt_draw_rgb fill, mt_draw_rgb ink, mt_draw_rgb line)
{
    mt_draw_text_extents e = mt_draw_text_measure(font, size, text);
    vw_rect r = { x - e.width / 2 - 6, y - e.height / 2 - 3, e.width + 12, e.height + 6 };
    vw_rounded(cr, r, 5);
    set(cr, fill);
    cairo_fill_preserve(cr);
    set(cr, line);
    cairo_set_line_width(cr, 1.2);
    cairo_stroke(cr);
    set(cr, ink);
    mt_draw_text(cr, font, size, x, y, MT_DRAW_CENTER, MT_DRAW_MIDDLE, text);
    return r;
}

static void draw_node(cairo_t *cr, vw_app *app, int i)
{
    const vw_model *m = &app->model;
    const mt_trace_node *nd = &m->trace->nodes[i];
    const vw_derived *d = &app->derived;
    const vw_node_state *ns = &d->nodes[i];
    vw_rect b = app->layout.box[i];
    bool op = nd->kind == MT_TRACE_BACKWARD_FUNCTION, cst = nd->kind == MT_TRACE_CONSTANT;
    bool current = i == d->current, backward = d->phase != VW_FORWARD;

    if (current) {                                      /* a glow around the current node */
        vw_rounded(cr, (vw_rect){ b.x - 6, b.y - 6, b.w + 12, b.h + 12 }, 12);
        cairo_set_source_rgba(cr, C_HIGHLIGHT.r, C_HIGHLIGHT.g, C_HIGHLIGHT.b, 0.22);
        cairo_fill(cr);
    }
    vw_rounded(cr, b, 7);
    bool framed = backward && ns->stack_pos > 0 && !current;   /* a frame on the call stack */
    set(cr, framed && op ? C_STACK_FILL : op ? C_OP_FILL : cst ? C_CONST_FILL : C_LEAF_FILL);
    cairo_fill_preserve(cr);
    double lw = 1.4;
    mt_draw_rgb line = op ? C_OP_LINE : cst ? C_CONST_LINE : C_LEAF_LINE;
    if (cst) cairo_set_dash(cr, (double[]){ 5, 3 }, 2, 0);
    if (current) {
        line = C_HIGHLIGHT;
        lw = 4.5;
        cairo_set_dash(cr, NULL, 0, 0);
    } else if (framed) {
        line = C_STACK;
        lw = 2.2;
        cairo_set_dash(cr, (double[]){ 7, 3 }, 2, 0);
    } else if (backward && ns->ready) {
        line = C_READY;
        lw = 2.6;
        cairo_set_dash(cr, (double[]){ 6, 3 }, 2, 0);
    }
    set(cr, line);
    cairo_set_line_width(cr, lw);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    if (i == app->state.selected) {
        vw_rounded(cr, (vw_rect){ b.x - 4, b.y - 4, b.w + 8, b.h + 8 }, 10);
        set(cr, C_SELECT);
        cairo_set_line_width(cr, 1.6);
        cairo_set_dash(cr, (double[]){ 4, 3 }, 2, 0);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    }
    if (!app->lod_text) return;

    node_text nt;
    describe(m, i, &nt);
    double x = b.x + PAD_X, y = b.y + PAD_Y;
    mt_draw_rgb ink = cst ? C_CONST_TEXT : C_TEXT;
    /* row 1: symbol and backward name, or the leaf's tags */
    double hs = op ? F_SYM : F_SMALL, hh = row_h(hs);
    set(cr, op ? ink : cst ? C_CONST_TEXT : C_LEAF_LINE);
    mt_draw_text(cr, MT_DRAW_BOLD, hs, x, y, MT_DRAW_LEFT, MT_DRAW_TOP, nt.head);
    double hw = mt_draw_text_measure(MT_DRAW_BOLD, hs, nt.head).width;
    set(cr, C_MUTED);
    mt_draw_text(cr, MT_DRAW_SANS, F_SMALL, x + hw + 8, y + hh / 2, MT_DRAW_LEFT, MT_DRAW_MIDDLE,
                 nt.sub);
    y += hh + ROW_GAP;
    /* row 2: name and value (or shape) */
    set(cr, ink);
    mt_draw_text(cr, MT_DRAW_BOLD, F_NAME, x, y, MT_DRAW_LEFT, MT_DRAW_TOP, nt.name);
    double nw = mt_draw_text_measure(MT_DRAW_BOLD, F_NAME, nt.name).width;
    double nh = row_h(F_NAME);
    mt_draw_text(cr, MT_DRAW_MONO, F_VAL, x + nw, y + nh / 2, MT_DRAW_LEFT, MT_DRAW_MIDDLE,
                 nt.value);
    y += nh + ROW_GAP;
    /* row 3: the gradient, or why there is none */
    bool leaf = nd->kind == MT_TRACE_ACCUMULATE_GRAD;
    const mt_trace_value *g = leaf ? ns->leaf_grad : ns->grad;
    if (!backward) g = NULL;
    bool final = backward && ns->final && g;
    bool stale = leaf && g && ns->accumulated == 0;    /* what zero_grad left before this walk */
    if (cst) {
        set(cr, C_CONST_TEXT);
        if (!nt.small) {
            draw_heatmap(cr, &app->cache, &nd->value, abs_max(&nd->value),
                         (vw_rect){ x, y, HM_W, HM_H });
            y += HM_H + 2;
            set(cr, C_CONST_TEXT);
        }
        mt_draw_text(cr, MT_DRAW_SANS, F_SMALL, x, y, MT_DRAW_LEFT, MT_DRAW_TOP,
                     "no gradient flows here");
        return;
    }
    if (nt.small) {
        char v[96], line2[128];
        if (g) vw_format_value(g, v, sizeof v);
        else snprintf(v, sizeof v, "—");
        if (stale) strncat(v, " (zeroed)", sizeof v - strlen(v) - 1);
        grad_text(line2, sizeof line2, leaf, v);
        set(cr, final ? C_FINAL : g && !stale ? C_GRAD : C_MUTED);
        mt_draw_text(cr, g && !stale ? MT_DRAW_MONO_BOLD : MT_DRAW_MONO, F_VAL, x, y, MT_DRAW_LEFT,
                     MT_DRAW_TOP, line2);
        if (final) {
            double w = mt_draw_text_measure(MT_DRAW_MONO_BOLD, F_VAL, line2).width;
            mt_draw_text(cr, MT_DRAW_BOLD, F_VAL, x + w + 6, y, MT_DRAW_LEFT, MT_DRAW_TOP, "✓");
        }
    } else {
        vw_rect rv = { x, y, HM_W, HM_H }, rg = { x + HM_W + HM_GAP, y, HM_W, HM_H };
        draw_heatmap(cr, &app->cache, &nd->value, abs_max(&nd->value), rv);
        if (g) draw_heatmap(cr, &app->cache, g, abs_max(g), rg);
        else {
            set(cr, (mt_draw_rgb){ 0.95, 0.95, 0.95 });
            cairo_rectangle(cr, rg.x, rg.y, rg.w, rg.h);
            cairo_fill_preserve(cr);
            set(cr, C_CONST_LINE);
            cairo_set_line_width(cr, 0.8);
            cairo_stroke(cr);
            set(cr, C_MUTED);
            mt_draw_text(cr, MT_DRAW_MONO, F_VAL, rg.x + rg.w / 2, rg.y + rg.h / 2, MT_DRAW_CENTER,
                         MT_DRAW_MIDDLE, "—");
        }
        set(cr, C_MUTED);
        mt_draw_text(cr, MT_DRAW_SANS, F_SMALL, rv.x, y + HM_H + 1, MT_DRAW_LEFT, MT_DRAW_TOP,
                     "value");
        set(cr, final ? C_FINAL : g ? C_GRAD : C_MUTED);
        mt_draw_text(cr, g ? MT_DRAW_BOLD : MT_DRAW_SANS, F_SMALL, rg.x, y + HM_H + 1, MT_DRAW_LEFT,
                     MT_DRAW_TOP, final ? "grad ✓" : "grad");
    }
    if (backward && !g && ns->arrived > 0 && ns->pending > 0) {   /* topological: waiting */
        char wait[48];
        snprintf(wait, sizeof wait, "%d of %d arrived", ns->arrived, ns->arrived + ns->pending);
        mt_draw_text_extents e = mt_draw_text_measure(MT_DRAW_BOLD, F_SMALL - 1, wait);
        vw_rect r = { b.x + 8, b.y - e.height / 2 - 1, e.width + 10, e.height + 2 };
        vw_rounded(cr, r, r.h / 2);
        set(cr, C_READY);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        mt_draw_text(cr, MT_DRAW_BOLD, F_SMALL - 1, r.x + r.w / 2, r.y + r.h / 2, MT_DRAW_CENTER,
                     MT_DRAW_MIDDLE, wait);
    }
    if (backward && ns->visits > 0) {                   /* how often backward ran it */
        char calls[32];
        snprintf(calls, sizeof calls, ns->visits == 1 ? "1 call" : "%d calls", ns->visits);
        mt_draw_text_extents e = mt_draw_text_measure(MT_DRAW_BOLD, F_SMALL - 1, calls);
        vw_rect r = { b.x + b.w - e.width - 14, b.y - e.height / 2 - 1, e.width + 10,
                      e.height + 2 };
        vw_rounded(cr, r, r.h / 2);
        set(cr, ns->visits > 1 ? C_GRAD : C_BADGE);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        mt_draw_text(cr, MT_DRAW_BOLD, F_SMALL - 1, r.x + r.w / 2, r.y + r.h / 2, MT_DRAW_CENTER,
                     MT_DRAW_MIDDLE, calls);
    }
}

/* the gradient on its way from the op back to its input, and the accumulation into a leaf */
static void draw_motion(cairo_t *cr, vw_app *app)
{
    const vw_derived *d = &app->derived;
    const vw_model *m = &app->model;
    app->scene.dot_drawn = false;
    app->scene.accumulate[0] = 0;
    if (d->edge >= 0 && d->edge < app->layout.nedges) {
        const vw_curve *c = &app->layout.edge[d->edge];
        draw_edge(cr, c, C_HIGHLIGHT, 4.0, 0.95);
        double u = 1 - fmin(fmax(app->state.anim, 0), 1);   /* head (the op) to tail (its input) */
        vw_point p = curve_at(c, u);
        char v[96];
        vw_format_value(d->travelling, v, sizeof v);
        cairo_arc(cr, p.x, p.y, 6.5, 0, 2 * VW_PI);
        set(cr, C_GRAD);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 1.8);
        cairo_stroke(cr);
        vw_rect tag = { p.x, p.y, 0, 0 };
        if (app->lod_text)
            tag = bubble(cr, p.x, p.y - 22, MT_DRAW_MONO_BOLD, 15, v, C_GRAD,
                         (mt_draw_rgb){ 1, 1, 1 }, C_GRAD);
        if (app->lod_text && d->travelling && !vw_value_small(d->travelling)) {   /* its values */
            double hw = HM_W * 0.7, hh = HM_H * 0.7;
            vw_rect hr = { tag.x - hw - 4, tag.y + tag.h / 2 - hh / 2, hw, hh };
            set(cr, (mt_draw_rgb){ 1, 1, 1 });
            cairo_rectangle(cr, hr.x - 2, hr.y - 2, hr.w + 4, hr.h + 4);
            cairo_fill(cr);
            draw_heatmap(cr, &app->cache, d->travelling, abs_max(d->travelling), hr);
        }
        app->scene.dot_drawn = true;
        app->scene.dot = vw_to_screen(&app->state, app->scene.geom, p.x, p.y);
    }
    const mt_trace_event *e = d->event;
    if (!e || e->node < 0 || e->node >= app->layout.nnodes) return;
    vw_rect b = app->layout.box[e->node];
    char text[256] = "";
    if (e->kind == MT_EV_ACCUMULATE) vw_accumulate_text(m, e, text, sizeof text);
    else if (e->kind == MT_EV_BACKWARD_BEGIN) {
        char nm[VW_NAME_MAX], g[96];
        vw_node_name(m, e->node, nm, sizeof nm);
        vw_format_value(&e->grad, g, sizeof g);
        snprintf(text, sizeof text, "seed: ∂%s/∂%s = %s", nm, nm, g);
    }
    if (!text[0]) return;
    snprintf(app->scene.accumulate, sizeof app->scene.accumulate, "%s", text);
    if (e->kind == MT_EV_ACCUMULATE &&
        mt_draw_text_measure(MT_DRAW_BOLD, 16, text).width > fmax(1.3 * b.w, 220)) {
        char nm[VW_NAME_MAX], shape[64];              /* a tensor's numbers: in the panel only */
        vw_node_name(m, e->node, nm, sizeof nm);
        mt_trace_value only_shape = e->grad;
        only_shape.summarised = true;
        vw_format_value(&only_shape, shape, sizeof shape);
        snprintf(text, sizeof text, "%s.grad += %s", nm, shape);
    }
    if (!app->lod_text) return;
    /* above the node, or below it when that covers less of the other nodes */
    mt_draw_text_extents te = mt_draw_text_measure(MT_DRAW_BOLD, 16, text);
    double cover[2] = { 0, 0 }, cy[2] = { b.y - 24, b.y + b.h + 24 };
    for (int k = 0; k < 2; k++) {
        vw_rect r = { b.x + b.w / 2 - te.width / 2 - 6, cy[k] - te.height / 2 - 3, te.width + 12,
                      te.height + 6 };
        for (int i = 0; i < app->layout.nnodes; i++) {
            vw_rect o = app->layout.box[i];
            if (i == e->node || !d->nodes[i].visible || !vw_rects_overlap(r, o)) continue;
            cover[k] += (fmin(r.x + r.w, o.x + o.w) - fmax(r.x, o.x)) *
                        (fmin(r.y + r.h, o.y + o.h) - fmax(r.y, o.y));
        }
    }
    bubble(cr, b.x + b.w / 2, cover[1] < cover[0] ? cy[1] : cy[0], MT_DRAW_BOLD, 16, text,
           C_CALLOUT, C_TEXT, C_HIGHLIGHT);
}

static void draw_graph(cairo_t *cr, vw_app *app)
{
    vw_frame_geom g = app->scene.geom;
    vw_state *s = &app->state;
    const vw_derived *d = &app->derived;
    const vw_layout *l = &app->layout;
    cairo_save(cr);
    cairo_rectangle(cr, g.graph.x, g.graph.y, g.graph.w, g.graph.h);
    cairo_clip(cr);
    vw_fill_rect(cr, g.graph, 0.965, 0.965, 0.955);
    /* graph units from here on */
    vw_point o = vw_to_screen(s, g, 0, 0);
    cairo_translate(cr, o.x, o.y);
    cairo_scale(cr, s->zoom, s->zoom);
    app->lod_text = F_VAL * s->zoom >= 4.5;            /* below that, text is only noise */
    vw_point lo = vw_to_graph(s, g, g.graph.x, g.graph.y),
             hi = vw_to_graph(s, g, g.graph.x + g.graph.w, g.graph.y + g.graph.h);
    vw_rect view = { lo.x - 40, lo.y - 40, hi.x - lo.x + 80, hi.y - lo.y + 80 };
    bool backward = d->phase != VW_FORWARD;
    for (int k = 0; k < l->nedges; k++) {
        const mt_trace_edge *e = &app->model.trace->edges[k];
        if (!d->nodes[e->from].visible || !d->nodes[e->to].visible || k == d->edge) continue;
        if (!vw_rects_overlap(l->edge[k].bounds, view)) continue;      /* off screen */
        bool done = backward && d->edge_done[k];
        /* opaque colours: blending long strokes costs more than drawing them */
        draw_edge(cr, &l->edge[k], done ? C_GRAD_EDGE : C_EDGE, done ? 2.0 : 1.3, 1.0);
    }
    for (int i = 0; i < l->nnodes; i++) {
        app->scene.drawn[i] = false;
        if (!d->nodes[i].visible || !vw_rects_overlap(l->box[i], view)) continue;
        draw_node(cr, app, i);
        vw_point p0 = vw_to_screen(s, g, l->box[i].x, l->box[i].y);
        app->scene.node[i] = (vw_rect){ p0.x, p0.y, l->box[i].w * s->zoom, l->box[i].h * s->zoom };
        app->scene.drawn[i] = true;
    }
    draw_motion(cr, app);
    cairo_restore(cr);
    int cur = d->current;
    app->scene.highlighted = cur >= 0 && cur < l->nnodes && app->scene.drawn[cur] ? cur : -1;
}

/* ---- a frame --------------------------------------------------------------------------------- */

int vw_scene_init(vw_scene *s, int nnodes)
{
    memset(s, 0, sizeof *s);
    s->nnodes = nnodes;
    s->node = calloc((size_t)nnodes, sizeof *s->node);
    s->drawn = calloc((size_t)nnodes, sizeof *s->drawn);
    s->highlighted = -1;
    return s->node && s->drawn ? 0 : -1;
}

void vw_scene_free(vw_scene *s)
{
    free(s->node);
    free(s->drawn);
    memset(s, 0, sizeof *s);
}

void vw_render(cairo_t *cr, double w, double h, vw_app *app)
{
    vw_scene *sc = &app->scene;
    sc->geom = vw_frame_geometry(w, h, app->state.ui, app->state.selected >= 0);
    sc->insp_value = sc->insp_grad = (vw_rect){ 0, 0, 0, 0 };
    sc->hover[0] = 0;
    cairo_save(cr);
    cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE);
    vw_fill_rect(cr, (vw_rect){ 0, 0, w, h }, 1, 1, 1);
    cairo_set_operator(cr, CAIRO_OPERATOR_OVER);
    draw_graph(cr, app);
    vw_caption(&app->model, &app->derived, sc->caption, sizeof sc->caption);
    vw_draw_panel(cr, app);
    if (app->state.selected >= 0) vw_draw_inspector(cr, app);
    vw_draw_top_bar(cr, app);
    vw_draw_bottom_bar(cr, app);
    if (app->state.help) vw_draw_help(cr, app, w, h);
    cairo_restore(cr);
}

/* ---- the app --------------------------------------------------------------------------------- */

int vw_app_init(vw_app *app, mt_trace *t, const char *name, double w, double h, double ui,
                char *err, size_t errlen)
{
    memset(app, 0, sizeof *app);
    if (vw_model_init(&app->model, t, name, err, errlen) != 0) return -1;
    vw_measure_nodes(&app->model);
    if (vw_layout_compute(&app->layout, &app->model, err, errlen) != 0 ||
        vw_derived_init(&app->derived, &app->model) != 0 ||
        vw_scene_init(&app->scene, app->model.trace->nnodes) != 0) {
        if (!err || !err[0]) snprintf(err, errlen, "%s: out of memory", app->model.name);
        vw_app_free(app);
        return -1;
    }
    vw_state_init(&app->state, &app->model, ui);
    vw_frame_geom g = vw_frame_geometry(w, h, app->state.ui, false);
    vw_state_fit(&app->state, &app->layout, g);
    /* too small to read when fitted: start at a readable zoom and follow the walk instead */
    if (app->state.zoom < 0.55 * app->state.ui) app->state.zoom = 0.9 * app->state.ui;
    app->shown_walk = app->shown_step = -2;
    vw_app_update(app, w, h);
    return 0;
}

void vw_app_update(vw_app *app, double w, double h)
{
    vw_state *s = &app->state;
    vw_derive(&app->derived, &app->model, s->walk, s->step);
    s->step = app->derived.step;
    if (app->shown_walk == s->walk && app->shown_step == s->step) return;
    app->shown_walk = s->walk;
    app->shown_step = s->step;
    vw_frame_geom g = vw_frame_geometry(w, h, s->ui, s->selected >= 0);
    int follow = app->derived.current >= 0 ? app->derived.current : app->derived.receiver;
    vw_state_follow(s, &app->layout, g, follow);
    vw_state_clamp(s, &app->layout, g);
}

void vw_app_free(vw_app *app)
{
    vw_scene_free(&app->scene);
    vw_render_cache_free(&app->cache);
    vw_derived_free(&app->derived);
    vw_layout_free(&app->layout);
    vw_model_free(&app->model);
}
