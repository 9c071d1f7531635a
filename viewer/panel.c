/* panel.c: the parts of a frame around the graph, in device pixels scaled by the UI factor: the
 * top bar (example, phase, step), the side panel (caption, chain rule, call stack or ready
 * queue, leaf gradients, call counts), the inspector of a clicked node, the key hints and the
 * keys overlay. Drawn with cairo and src/draw only, like the graph (render.c). */
#include "viewer.h"

#include "../src/draw/draw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const mt_draw_rgb C_BAR = { 0.16, 0.18, 0.25 }, C_TEXT = { 0.13, 0.13, 0.16 },
    C_MUTED = { 0.42, 0.42, 0.46 }, C_RULE = { 0.85, 0.85, 0.87 },
    C_HIGHLIGHT = { VW_HIGHLIGHT_R, VW_HIGHLIGHT_G, VW_HIGHLIGHT_B },
    C_STACK_BG = { 1.0, 0.93, 0.82 },
    C_FINAL = { 0.10, 0.52, 0.28 }, C_GRAD = { 0.80, 0.10, 0.15 }, C_CALLOUT = { 1.0, 0.95, 0.72 },
    C_READY = { 0.56, 0.27, 0.68 }, C_SELECT_LINE = { 0.13, 0.40, 0.85 };

static void set(cairo_t *cr, mt_draw_rgb c) { mt_draw_set_source(cr, c); }

/* text clipped to width by cutting it short with "…" */
static void text_fit(cairo_t *cr, mt_draw_font f, double size, double x, double y, double width,
                     mt_draw_halign ha, const char *text)
{
    char buf[VW_TEXT_MAX];
    snprintf(buf, sizeof buf, "%s", text);
    size_t len = strlen(buf);
    while (len > 0 && mt_draw_text_measure(f, size, buf).width > width) {
        do len--; while (len > 0 && ((unsigned char)buf[len] & 0xC0) == 0x80);  /* whole chars */
        snprintf(buf + len, sizeof buf - len, "…");
        if (len < 1) break;
    }
    mt_draw_text(cr, f, size, x, y, ha, MT_DRAW_TOP, buf);
}

/* ---- bars ------------------------------------------------------------------------------------ */

void vw_draw_top_bar(cairo_t *cr, vw_app *app)
{
    vw_rect r = app->scene.geom.top;
    double ui = app->state.ui, fs = 15 * ui, y = r.y + r.h / 2;
    set(cr, C_BAR);
    cairo_rectangle(cr, r.x, r.y, r.w, r.h);
    cairo_fill(cr);
    const vw_derived *d = &app->derived;
    char left[256], right[128], calls[192] = "";
    snprintf(left, sizeof left, "%s  ·  %s", app->model.name, vw_phase_text(&app->model, d));
    snprintf(right, sizeof right, "step %d of %d", d->step + 1,
             vw_step_count(&app->model, d->walk));
    const mt_trace *t = app->model.trace;
    size_t len = 0;
    for (int w = 0; w < t->nwalks && len < sizeof calls; w++) {
        bool seen = false;                      /* one entry per traversal */
        for (int v = 0; v < w; v++) seen |= t->walks[v].traversal == t->walks[w].traversal;
        if (seen) continue;
        len += (size_t)snprintf(calls + len, sizeof calls - len, "%s%s %d", len ? " · " : "calls: ",
                                t->walks[w].traversal == MT_TOPO ? "topo"
                                : t->walks[w].traversal == MT_DFS ? "DFS" : "DFS last-first",
                                app->model.calls[w]);
    }
    double rw = mt_draw_text_measure(MT_DRAW_BOLD, fs, right).width;
    double cw = mt_draw_text_measure(MT_DRAW_SANS, 12 * ui, calls).width;
    cairo_set_source_rgb(cr, 1, 1, 1);
    mt_draw_text(cr, MT_DRAW_BOLD, fs, r.x + r.w - 14 * ui, y, MT_DRAW_RIGHT, MT_DRAW_MIDDLE,
                 right);
    double lw = r.w - rw - 40 * ui;
    if (calls[0] && lw - cw > 300 * ui) {
        cairo_set_source_rgb(cr, 0.78, 0.80, 0.88);
        mt_draw_text(cr, MT_DRAW_SANS, 12 * ui, r.x + r.w - 30 * ui - rw, y, MT_DRAW_RIGHT,
                     MT_DRAW_MIDDLE, calls);
        lw -= cw + 16 * ui;
    }
    cairo_set_source_rgb(cr, 1, 1, 1);
    double th = mt_draw_text_measure(MT_DRAW_BOLD, fs, left).height;
    text_fit(cr, MT_DRAW_BOLD, fs, r.x + 14 * ui, y - th / 2, lw, MT_DRAW_LEFT, left);
}

static const char *const KEY_HINT =
    "→/← step   space play   +/− speed   Home/End   t DFS⇄topological   o input order   "
    "click inspect   drag pan   wheel zoom   f fit   s save PNG   h keys   q quit";

void vw_draw_bottom_bar(cairo_t *cr, vw_app *app)
{
    vw_rect r = app->scene.geom.bottom;
    double ui = app->state.ui, fs = 12 * ui;
    cairo_set_source_rgb(cr, 0.93, 0.93, 0.95);
    cairo_rectangle(cr, r.x, r.y, r.w, r.h);
    cairo_fill(cr);
    set(cr, C_RULE);
    cairo_rectangle(cr, r.x, r.y, r.w, 1);
    cairo_fill(cr);
    double x = r.x + 12 * ui, th = mt_draw_text_measure(MT_DRAW_SANS, fs, "Ag").height;
    double y = r.y + (r.h - th) / 2;
    if (app->state.message[0]) {
        set(cr, C_FINAL);
        text_fit(cr, MT_DRAW_BOLD, fs, x, y, r.w * 0.6, MT_DRAW_LEFT, app->state.message);
        x += fmin(mt_draw_text_measure(MT_DRAW_BOLD, fs, app->state.message).width, r.w * 0.6) +
             24 * ui;
    }
    set(cr, C_MUTED);
    if (app->state.playing) {
        char play[64];
        snprintf(play, sizeof play, "▶ playing, %.2g steps/s   ", app->state.speed);
        mt_draw_text(cr, MT_DRAW_BOLD, fs, x, y, MT_DRAW_LEFT, MT_DRAW_TOP, play);
        x += mt_draw_text_measure(MT_DRAW_BOLD, fs, play).width;
    }
    if (r.x + r.w - x > 80 * ui)
        text_fit(cr, MT_DRAW_SANS, fs, x, y, r.x + r.w - x - 10 * ui, MT_DRAW_LEFT, KEY_HINT);
}

/* ---- the side panel -------------------------------------------------------------------------- */

typedef struct pen { cairo_t *cr; double x, y, w, bottom, ui; } pen;

static bool room(const pen *p, double h) { return p->y + h <= p->bottom; }

static void heading(pen *p, const char *text)
{
    if (!room(p, 30 * p->ui)) { p->y = p->bottom; return; }
    p->y += 8 * p->ui;
    set(p->cr, C_RULE);
    cairo_rectangle(p->cr, p->x, p->y, p->w, 1);
    cairo_fill(p->cr);
    p->y += 6 * p->ui;
    set(p->cr, C_MUTED);
    mt_draw_text(p->cr, MT_DRAW_BOLD, 11 * p->ui, p->x, p->y, MT_DRAW_LEFT, MT_DRAW_TOP, text);
    p->y += mt_draw_text_measure(MT_DRAW_BOLD, 11 * p->ui, text).height + 4 * p->ui;
}

/* wrapped text; returns false when the panel is full */
static bool para(pen *p, mt_draw_font f, double size, mt_draw_rgb c, const char *text)
{
    char lines[12][VW_TEXT_MAX];
    int n = vw_wrap(text, f, size, p->w, lines, 12);
    double lh = mt_draw_text_measure(f, size, "Ag").height * 1.05;
    set(p->cr, c);
    for (int i = 0; i < n; i++) {
        if (!room(p, lh)) { p->y = p->bottom; return false; }
        mt_draw_text(p->cr, f, size, p->x, p->y, MT_DRAW_LEFT, MT_DRAW_TOP, lines[i]);
        p->y += lh;
    }
    return true;
}

/* a chain-rule line, broken before its " = " where it is too wide, indented after the first */
static bool equation(pen *p, double size, const char *text)
{
    char part[VW_CHAIN_MAX * 2][VW_TEXT_MAX], line[VW_TEXT_MAX] = "";
    int n = 0;
    const char *s = text;
    while (*s && n < VW_CHAIN_MAX * 2) {                /* "a = b = c" -> "a", " = b", " = c" */
        const char *q = strstr(s + (n ? 3 : 0), " = ");
        size_t len = q ? (size_t)(q - s) : strlen(s);
        snprintf(part[n++], VW_TEXT_MAX, "%.*s", (int)len, s);
        s += len;
    }
    double indent = mt_draw_text_measure(MT_DRAW_MONO, size, "    ").width;
    set(p->cr, C_GRAD);
    bool first = true;
    for (int i = 0; i <= n; i++) {
        char trial[VW_TEXT_MAX];
        if (i < n) snprintf(trial, sizeof trial, "%.255s%.255s", line, part[i]);
        double room_w = p->w - (first ? 0 : indent);
        if (i < n &&
            (!line[0] || mt_draw_text_measure(MT_DRAW_MONO, size, trial).width <= room_w)) {
            snprintf(line, sizeof line, "%s", trial);
            continue;
        }
        pen sub = *p;
        sub.x += first ? 0 : indent;
        sub.w = room_w;
        if (!para(&sub, MT_DRAW_MONO, size, C_GRAD, line)) { p->y = p->bottom; return false; }
        p->y = sub.y;
        first = false;
        if (i < n) snprintf(line, sizeof line, "%.500s", part[i]);
    }
    return true;
}

/* one row of a list, on a tinted band when `band` */
static bool row(pen *p, const char *text, mt_draw_rgb ink, bool band, mt_draw_rgb band_c)
{
    double fs = 12.5 * p->ui, lh = mt_draw_text_measure(MT_DRAW_SANS, fs, "Ag").height + 4 * p->ui;
    if (!room(p, lh)) { p->y = p->bottom; return false; }
    if (band) vw_fill_rect(p->cr, (vw_rect){ p->x - 4 * p->ui, p->y, p->w + 8 * p->ui, lh },
                           band_c.r, band_c.g, band_c.b);
    set(p->cr, ink);
    text_fit(p->cr, band ? MT_DRAW_BOLD : MT_DRAW_SANS, fs, p->x, p->y + 2 * p->ui, p->w,
             MT_DRAW_LEFT, text);
    p->y += lh;
    return true;
}

static void stack_section(pen *p, vw_app *app)
{
    const vw_derived *d = &app->derived;
    const vw_model *m = &app->model;
    const mt_trace *t = m->trace;
    bool topo = t->walks[d->walk].traversal == MT_TOPO;
    char nm[VW_NAME_MAX], line[VW_TEXT_MAX];
    heading(p, topo ? "READY TO RUN (NEXT FIRST)" : "CALL STACK (TOP FIRST)");
    if (d->nstack == 0) row(p, "(empty)", C_MUTED, false, C_STACK_BG);
    int shown = 0;
    for (int i = d->nstack - 1; i >= 0; i--) {
        int nd = d->stack[i];
        vw_node_name(m, nd, nm, sizeof nm);
        if (topo) snprintf(line, sizeof line, "%s   %s", nm, t->nodes[nd].backward_name);
        else snprintf(line, sizeof line, "%d  %s   %s", i + 1, nm, t->nodes[nd].backward_name);
        if (shown == 8 && i > 0) {
            snprintf(line, sizeof line, "… %d more below", i + 1);
            row(p, line, C_MUTED, false, C_STACK_BG);
            break;
        }
        if (!row(p, line, i == d->nstack - 1 ? C_TEXT : C_MUTED, i == d->nstack - 1, C_STACK_BG))
            return;
        shown++;
    }
    if (!topo) return;
    heading(p, "WAITING FOR MORE GRADIENTS (PENDING)");
    int waiting = 0, unreached = 0;
    for (int i = 0; i < d->nnodes; i++) {
        const vw_node_state *ns = &d->nodes[i];
        if (ns->pending <= 0 || ns->visits > 0 || ns->ready) continue;
        if (ns->arrived == 0) { unreached++; continue; }
        if (waiting++ >= 6) continue;
        vw_node_name(m, i, nm, sizeof nm);
        snprintf(line, sizeof line, "%s: %d of %d arrived, pending %d", nm, ns->arrived,
                 ns->arrived + ns->pending, ns->pending);
        row(p, line, C_READY, false, C_STACK_BG);
    }
    if (waiting > 6) {
        snprintf(line, sizeof line, "… and %d more", waiting - 6);
        row(p, line, C_MUTED, false, C_STACK_BG);
    }
    if (!waiting) row(p, "(none)", C_MUTED, false, C_STACK_BG);
    if (unreached) {
        snprintf(line, sizeof line, "%d more not reached yet", unreached);
        row(p, line, C_MUTED, false, C_STACK_BG);
    }
}

static void leaves_section(pen *p, vw_app *app)
{
    const vw_derived *d = &app->derived;
    const vw_model *m = &app->model;
    const mt_trace *t = m->trace;
    heading(p, "LEAF GRADIENTS");
    int shown = 0, total = 0;
    for (int i = 0; i < t->nnodes; i++) {
        const mt_trace_node *nd = &t->nodes[i];
        if (nd->kind == MT_TRACE_BACKWARD_FUNCTION) continue;
        if (nd->kind == MT_TRACE_CONSTANT &&
            (!nd->label[0] || strspn(nd->label, "0123456789.-") == strlen(nd->label)))
            continue;                               /* the "3" of + 3 */
        total++;
        if (shown >= 8) continue;
        char nm[VW_NAME_MAX], v[96], line[VW_TEXT_MAX];
        vw_node_name(m, i, nm, sizeof nm);
        const vw_node_state *ns = &d->nodes[i];
        bool final = d->phase != VW_FORWARD && ns->final;
        if (nd->kind == MT_TRACE_CONSTANT)
            snprintf(line, sizeof line, "%s: a constant, no .grad", nm);
        else {
            vw_format_value(d->phase == VW_FORWARD ? NULL : ns->leaf_grad, v, sizeof v);
            snprintf(line, sizeof line, "%s.grad = %s%s", nm, v, final ? "   ✓ final" : "");
        }
        row(p, line, nd->kind == MT_TRACE_CONSTANT ? C_MUTED : final ? C_FINAL : C_TEXT, false,
            C_STACK_BG);
        shown++;
    }
    if (total > shown) {
        char line[64];
        snprintf(line, sizeof line, "… and %d more leaves", total - shown);
        row(p, line, C_MUTED, false, C_STACK_BG);
    }
}

static const char *event_title(const mt_trace_event *e)
{
    switch (e->kind) {
    case MT_EV_BACKWARD_BEGIN: return "BACKWARD BEGINS";
    case MT_EV_VISIT: return "VISIT";
    case MT_EV_NODE_GRADS: return "NODE COMPUTES ITS INPUT GRADIENTS";
    case MT_EV_GRAD_PASSED: return "GRADIENT PASSED";
    case MT_EV_ACCUMULATE: return "ACCUMULATE (+=)";
    case MT_EV_RETURN: return "RETURN";
    case MT_EV_READY: return "READY";
    case MT_EV_BACKWARD_END: return "BACKWARD ENDS";
    default: return "EVENT";
    }
}

void vw_draw_panel(cairo_t *cr, vw_app *app)
{
    vw_rect r = app->scene.geom.panel;
    double ui = app->state.ui;
    vw_fill_rect(cr, r, 1, 1, 1);
    set(cr, C_RULE);
    cairo_rectangle(cr, r.x, r.y, 1, r.h);
    cairo_fill(cr);
    cairo_save(cr);
    cairo_rectangle(cr, r.x, r.y, r.w, r.h);
    cairo_clip(cr);
    pen p = { cr, r.x + 16 * ui, r.y + 12 * ui, r.w - 32 * ui, r.y + r.h - 8 * ui, ui };
    const vw_derived *d = &app->derived;
    char title[96];
    if (d->phase == VW_FORWARD) snprintf(title, sizeof title, "FORWARD · NODE %d", d->created + 1);
    else if (d->event && d->event->kind == MT_EV_VISIT && d->event->depth > 0)
        snprintf(title, sizeof title, "%s · DEPTH %d", event_title(d->event), d->event->depth);
    else snprintf(title, sizeof title, "%s", event_title(d->event));
    set(cr, d->phase == VW_FORWARD ? C_MUTED : C_HIGHLIGHT);
    mt_draw_text(cr, MT_DRAW_BOLD, 12 * ui, p.x, p.y, MT_DRAW_LEFT, MT_DRAW_TOP, title);
    p.y += mt_draw_text_measure(MT_DRAW_BOLD, 12 * ui, title).height + 6 * ui;
    para(&p, MT_DRAW_SANS, 14.5 * ui, C_TEXT, app->scene.caption);

    char acc[160];
    vw_accumulate_text(&app->model, d->event, acc, sizeof acc);
    if (acc[0] && room(&p, 40 * ui)) {
        p.y += 8 * ui;
        mt_draw_text_extents e = mt_draw_text_measure(MT_DRAW_BOLD, 17 * ui, acc);
        vw_rect b = { p.x, p.y, fmin(p.w, e.width + 20 * ui), e.height + 12 * ui };
        vw_rounded(cr, b, 6 * ui);
        set(cr, C_CALLOUT);
        cairo_fill_preserve(cr);
        set(cr, C_HIGHLIGHT);
        cairo_set_line_width(cr, 1.5 * ui);
        cairo_stroke(cr);
        set(cr, C_TEXT);
        text_fit(cr, MT_DRAW_BOLD, 17 * ui, b.x + 10 * ui, b.y + 6 * ui, p.w - 20 * ui,
                 MT_DRAW_LEFT, acc);
        p.y += b.h + 4 * ui;
    }
    char lines[VW_CHAIN_MAX][VW_TEXT_MAX];
    int n = vw_chain_rule(&app->model, d, lines, VW_CHAIN_MAX);
    if (n > 0) {
        heading(&p, "CHAIN RULE, IN NUMBERS");
        for (int i = 0; i < n; i++)
            if (!equation(&p, 13 * ui, lines[i])) break;
    }
    if (d->phase != VW_FORWARD) stack_section(&p, app);
    leaves_section(&p, app);
    if (d->phase != VW_FORWARD) {
        heading(&p, "BACKWARD CALLS");
        char line[VW_TEXT_MAX];
        snprintf(line, sizeof line, "%d so far, %d in this walk (%s)", d->calls, d->total_calls,
                 vw_traversal_text(app->model.trace->walks[d->walk].traversal));
        para(&p, MT_DRAW_SANS, 12.5 * ui, C_TEXT, line);
    }
    cairo_restore(cr);
}

/* ---- the inspector --------------------------------------------------------------------------- */

static void index_text(const mt_shape *s, size_t k, char *buf, size_t n)
{
    int idx[MT_MAX_DIMS] = { 0 };
    if (s->ndim == 0) { buf[0] = 0; return; }            /* a scalar has no index */
    for (int i = s->ndim - 1; i >= 0; i--) {
        int dim = s->dim[i] > 0 ? s->dim[i] : 1;
        idx[i] = (int)(k % (size_t)dim);
        k /= (size_t)dim;
    }
    size_t len = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < s->ndim && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%d", i ? ", " : "", idx[i]);
    if (len < n) snprintf(buf + len, n - len, "]");
}

/* one of the inspector's two maps, in r; returns where the cells went */
static vw_rect inspect_map(cairo_t *cr, vw_app *app, const mt_trace_value *v, double vmax,
                           vw_rect r, const char *what)
{
    double ui = app->state.ui, fs = 12 * ui;
    char line[VW_TEXT_MAX], lo[32], hi[32];
    set(cr, C_TEXT);
    double th = mt_draw_text_measure(MT_DRAW_BOLD, fs, "Ag").height;
    if (!v || !v->present) {
        snprintf(line, sizeof line, "%s: not computed yet", what);
        mt_draw_text(cr, MT_DRAW_BOLD, fs, r.x, r.y, MT_DRAW_LEFT, MT_DRAW_TOP, line);
        vw_rect box = { r.x, r.y + th + 4 * ui, r.w, r.h - th - 4 * ui };
        cairo_set_source_rgb(cr, 0.95, 0.95, 0.95);
        cairo_rectangle(cr, box.x, box.y, box.w, box.h);
        cairo_fill(cr);
        set(cr, C_MUTED);
        mt_draw_text(cr, MT_DRAW_MONO, 20 * ui, box.x + box.w / 2, box.y + box.h / 2,
                     MT_DRAW_CENTER, MT_DRAW_MIDDLE, "—");
        return (vw_rect){ 0, 0, 0, 0 };
    }
    vw_format_number(v->min, lo, sizeof lo);
    vw_format_number(v->max, hi, sizeof hi);
    snprintf(line, sizeof line, "%s   min %s   max %s%s", what, lo, hi,
             v->summarised ? "   (first 16 kept)" : "");
    text_fit(cr, MT_DRAW_BOLD, fs, r.x, r.y, r.w, MT_DRAW_LEFT, line);
    int rows, cols;
    cols = v->shape.ndim == 0 ? 1 : v->shape.dim[v->shape.ndim - 1];
    if (cols < 1) cols = 1;
    rows = (int)(v->numel / (size_t)cols);
    if (rows < 1) rows = 1;
    double aw = r.w, ah = r.h - th - 6 * ui;
    double cell = fmin(aw / cols, ah / rows);
    vw_rect cells = cell >= 2 ? (vw_rect){ r.x, r.y + th + 6 * ui, cell * cols, cell * rows }
                              : (vw_rect){ r.x, r.y + th + 6 * ui, aw, ah };   /* stretched */
    cairo_surface_t *img = vw_heatmap_image(&app->cache, v, vmax);
    if (img) {
        cairo_save(cr);
        cairo_rectangle(cr, cells.x, cells.y, cells.w, cells.h);
        cairo_clip(cr);
        cairo_translate(cr, cells.x, cells.y);
        int iw = cairo_image_surface_get_width(img), ih = cairo_image_surface_get_height(img);
        cairo_scale(cr, cells.w / iw, cells.h / ih);
        cairo_set_source_surface(cr, img, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr), cells.w >= iw && cells.h >= ih
                                 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_BILINEAR);
        cairo_paint(cr);
        cairo_restore(cr);
    }
    cairo_set_source_rgb(cr, 0.5, 0.5, 0.53);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, cells.x, cells.y, cells.w, cells.h);
    cairo_stroke(cr);
    bool numbers = !v->summarised && v->ndata == v->numel && cell >= 28 * ui;
    for (size_t k = 0; numbers && k < v->numel; k++) {   /* big cells: their numbers, all or none */
        char num[32];
        snprintf(num, sizeof num, "%.3g", v->data[k]);
        numbers = mt_draw_text_measure(MT_DRAW_MONO_BOLD, 11 * ui, num).width <= cell - 4 * ui;
    }
    if (numbers) {
        for (size_t k = 0; k < v->numel; k++) {
            char num[32];
            snprintf(num, sizeof num, "%.3g", v->data[k] == 0 ? 0.0 : v->data[k]);
            double cx = cells.x + (k % (size_t)cols + 0.5) * cell,
                   cy = cells.y + (k / (size_t)cols + 0.5) * cell;
            set(cr, fabs(v->data[k]) > 0.6 * vmax ? (mt_draw_rgb){ 1, 1, 1 } : C_TEXT);
            mt_draw_text(cr, MT_DRAW_MONO_BOLD, 11 * ui, cx, cy, MT_DRAW_CENTER, MT_DRAW_MIDDLE,
                         num);
        }
    }
    app->scene.insp_rows = rows;
    app->scene.insp_cols = cols;
    return cells;
}

void vw_draw_inspector(cairo_t *cr, vw_app *app)
{
    vw_rect r = app->scene.geom.inspector;
    const vw_model *m = &app->model;
    int i = app->state.selected;
    if (r.w <= 0 || i < 0 || i >= m->trace->nnodes) return;
    const mt_trace_node *nd = &m->trace->nodes[i];
    const vw_node_state *ns = &app->derived.nodes[i];
    double ui = app->state.ui, pad = 12 * ui;
    vw_fill_rect(cr, r, 1, 1, 1);
    set(cr, C_SELECT_LINE);
    cairo_rectangle(cr, r.x, r.y, r.w, 2 * ui);
    cairo_fill(cr);
    char nm[VW_NAME_MAX], title[VW_TEXT_MAX], shape[64];
    vw_node_name(m, i, nm, sizeof nm);
    mt_trace_value tmp = nd->value;
    tmp.numel = VW_SMALL_NUMEL + 1;                     /* format the shape only */
    tmp.summarised = true;
    vw_format_value(&tmp, shape, sizeof shape);
    snprintf(title, sizeof title,
             "Inspector: %s   %s %s   (click it again or press Esc to close)", nm,
             nd->kind == MT_TRACE_BACKWARD_FUNCTION ? nd->backward_name
             : nd->kind == MT_TRACE_CONSTANT ? "constant" : nd->is_parameter ? "parameter" : "leaf",
             shape);
    set(cr, C_TEXT);
    text_fit(cr, MT_DRAW_BOLD, 13 * ui, r.x + pad, r.y + 8 * ui, r.w - 2 * pad, MT_DRAW_LEFT,
             title);
    double top = r.y + 8 * ui + mt_draw_text_measure(MT_DRAW_BOLD, 13 * ui, "Ag").height + 8 * ui;
    const mt_trace_value *g = app->derived.phase == VW_FORWARD ? NULL
                            : nd->kind == MT_TRACE_ACCUMULATE_GRAD ? ns->leaf_grad : ns->grad;
    if (nd->kind == MT_TRACE_CONSTANT) g = NULL;
    double vmax = fmax(fmax(fabs(nd->value.min), fabs(nd->value.max)),
                       g && g->present ? fmax(fabs(g->min), fabs(g->max)) : 0);
    double bar = 46 * ui, hover_h = 20 * ui;
    double mw = (r.w - 3 * pad - bar - 10 * ui) / 2, mh = r.y + r.h - top - pad - hover_h;
    vw_rect rv = { r.x + pad, top, mw, mh }, rg = { r.x + 2 * pad + mw, top, mw, mh };
    app->scene.insp_value = inspect_map(cr, app, &nd->value, vmax, rv, "value");
    app->scene.insp_grad = inspect_map(cr, app, g, vmax, rg,
                                       nd->kind == MT_TRACE_CONSTANT ? "grad: none (a constant)"
                                                                     : "grad");
    /* the shared signed scale */
    vw_rect cb = { r.x + r.w - pad - bar + 4 * ui, top + 18 * ui, 14 * ui, mh - 18 * ui };
    for (int k = 0; k < (int)cb.h; k++) {
        mt_draw_rgb c = mt_draw_cmap_diverging(vmax * (1 - 2 * (k + 0.5) / cb.h), vmax);
        vw_fill_rect(cr, (vw_rect){ cb.x, cb.y + k, cb.w, 1 }, c.r, c.g, c.b);
    }
    char lo[32], hi[32];
    vw_format_number(vmax, hi, sizeof hi);
    vw_format_number(-vmax, lo, sizeof lo);
    set(cr, C_MUTED);
    mt_draw_text(cr, MT_DRAW_MONO, 10 * ui, cb.x + cb.w / 2, cb.y - 2 * ui, MT_DRAW_CENTER,
                 MT_DRAW_BOTTOM, hi);
    mt_draw_text(cr, MT_DRAW_MONO, 10 * ui, cb.x + cb.w / 2, cb.y + cb.h + 2 * ui, MT_DRAW_CENTER,
                 MT_DRAW_TOP, lo);
    /* the cell under the mouse */
    vw_state *s = &app->state;
    const char *hint = "point at a cell to read it";
    char reading[320];
    vw_rect maps[2] = { app->scene.insp_value, app->scene.insp_grad };
    for (int k = 0; k < 2 && s->mouse_in; k++) {
        vw_rect c = maps[k];
        if (c.w <= 0 || s->mouse_x < c.x || s->mouse_x >= c.x + c.w || s->mouse_y < c.y ||
            s->mouse_y >= c.y + c.h)
            continue;
        int rows = app->scene.insp_rows, cols = app->scene.insp_cols;
        int col = (int)((s->mouse_x - c.x) / c.w * cols),
            rw = (int)((s->mouse_y - c.y) / c.h * rows);
        size_t idx = (size_t)rw * (size_t)cols + (size_t)col;
        char ix[64], vv[32] = "?", gv[32] = "—";
        index_text(&nd->value.shape, idx, ix, sizeof ix);
        if (idx < nd->value.ndata) vw_format_number(nd->value.data[idx], vv, sizeof vv);
        if (g && g->present && idx < g->ndata) vw_format_number(g->data[idx], gv, sizeof gv);
        snprintf(reading, sizeof reading, "%s%s = %s      grad%s = %s", nm, ix, vv, ix, gv);
        snprintf(app->scene.hover, sizeof app->scene.hover, "%s", reading);
        hint = reading;
        for (int q = 0; q < 2; q++) {                  /* the cell, outlined in both maps */
            vw_rect mc = maps[q];
            if (mc.w <= 0) continue;
            cairo_rectangle(cr, mc.x + col * mc.w / cols, mc.y + rw * mc.h / rows, mc.w / cols,
                            mc.h / rows);
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            cairo_set_line_width(cr, 2 * ui);
            cairo_stroke(cr);
        }
    }
    set(cr, app->scene.hover[0] ? C_TEXT : C_MUTED);
    text_fit(cr, app->scene.hover[0] ? MT_DRAW_MONO_BOLD : MT_DRAW_SANS, 12.5 * ui, r.x + pad,
             r.y + r.h - pad - hover_h + 4 * ui, r.w - 2 * pad, MT_DRAW_LEFT, hint);
}

/* ---- the keys overlay ------------------------------------------------------------------------ */

void vw_draw_help(cairo_t *cr, vw_app *app, double w, double h)
{
    static const char *const keys[][2] = {
        { "→  /  ←", "next / previous step (back restores exactly what was there)" },
        { "space", "play / pause" }, { "+  /  −", "faster / slower" },
        { "Home  /  End", "first / last step" },
        { "t", "switch between recursive DFS and topological order" },
        { "o", "switch the DFS input order (first input first / last first)" },
        { "click", "inspect a node: value and gradient as heatmaps" },
        { "drag  /  wheel", "pan / zoom about the cursor" }, { "f", "fit the graph in the window" },
        { "s", "save a PNG of the view in the current directory" },
        { "h  or  ?", "show / hide these keys" }, { "q  or  Esc", "quit" },
    };
    double ui = app->state.ui, fs = 14 * ui,
           lh = mt_draw_text_measure(MT_DRAW_SANS, fs, "Ag").height * 1.45;
    double bw = fmin(w - 40 * ui, 640 * ui), bh = lh * (MT_COUNT(keys) + 2);
    vw_rect b = { (w - bw) / 2, (h - bh) / 2, bw, bh };
    cairo_set_source_rgba(cr, 0, 0, 0, 0.35);
    cairo_rectangle(cr, 0, 0, w, h);
    cairo_fill(cr);
    vw_rounded(cr, b, 10 * ui);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill(cr);
    set(cr, C_TEXT);
    mt_draw_text(cr, MT_DRAW_BOLD, 16 * ui, b.x + 20 * ui, b.y + lh * 0.5, MT_DRAW_LEFT,
                 MT_DRAW_TOP, "Keys");
    for (int i = 0; i < MT_COUNT(keys); i++) {
        double y = b.y + lh * (1.5 + i);
        set(cr, C_HIGHLIGHT);
        mt_draw_text(cr, MT_DRAW_MONO_BOLD, fs, b.x + 20 * ui, y, MT_DRAW_LEFT, MT_DRAW_TOP,
                     keys[i][0]);
        set(cr, C_TEXT);
        text_fit(cr, MT_DRAW_SANS, fs, b.x + 170 * ui, y, bw - 190 * ui, MT_DRAW_LEFT, keys[i][1]);
    }
}
