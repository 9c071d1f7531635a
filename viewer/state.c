/* state.c: everything the viewer knows apart from drawing. The model is a trace and its
 * indexes; the state is the cursor (which walk, which step), the camera and the selection; and
 * vw_derive computes what is true at a step from (trace, walk, step) alone, by replaying the
 * walk's events up to it, so stepping back gives exactly the state seen before. */
#include "viewer.h"

#include <mytorch/io.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the model ------------------------------------------------------------------------------- */

static int traversal_slot(mt_traversal how)
{
    return how == MT_DFS ? 0 : how == MT_TOPO ? 1 : how == MT_DFS_LAST_FIRST ? 2 : -1;
}

int vw_model_init(vw_model *m, mt_trace *t, const char *name, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->trace = t;
    snprintf(m->name, sizeof m->name, "%s", name && name[0] ? name : t && t->title[0] ? t->title
                                                                    : "trace");
    if (!t || t->nnodes <= 0) {
        mt_errbuf_set(err, errlen, "%s: the trace holds no nodes: nothing to show", m->name);
        vw_model_free(m);
        return -1;
    }
    int n = t->nnodes;
    m->inputs = malloc((size_t)n * sizeof *m->inputs);
    m->inedge = malloc((size_t)n * MT_MAX_INPUTS * sizeof *m->inedge);
    m->calls = calloc((size_t)(t->nwalks > 0 ? t->nwalks : 1), sizeof *m->calls);
    m->node_w = calloc((size_t)n, sizeof *m->node_w);
    m->node_h = calloc((size_t)n, sizeof *m->node_h);
    if (!m->inputs || !m->inedge || !m->calls || !m->node_w || !m->node_h) {
        mt_errbuf_set(err, errlen, "%s: out of memory for %d nodes", m->name, n);
        vw_model_free(m);
        return -1;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < MT_MAX_INPUTS; k++)
            m->inputs[i][k] = m->inedge[i * MT_MAX_INPUTS + k] = -1;
    for (int k = 0; k < t->nedges; k++) {
        const mt_trace_edge *e = &t->edges[k];
        /* a loaded trace has been checked; one built by hand may not have been */
        if (e->from < 0 || e->from >= n || e->to < 0 || e->to >= n || e->operand < 0 ||
            e->operand >= MT_MAX_INPUTS) {
            mt_errbuf_set(err, errlen, "%s: edge %d joins nodes %d and %d (operand %d) of %d",
                          m->name, k, e->from, e->to, e->operand, n);
            vw_model_free(m);
            return -1;
        }
        m->inputs[e->to][e->operand] = e->from;
        m->inedge[e->to * MT_MAX_INPUTS + e->operand] = k;
    }
    for (int i = 0; i < 3; i++) m->walk_of[i] = -1;
    for (int w = 0; w < t->nwalks; w++) {
        int slot = traversal_slot(t->walks[w].traversal);
        if (slot >= 0 && m->walk_of[slot] < 0) m->walk_of[slot] = w;
        for (size_t i = 0; i < t->walks[w].nevents; i++) {
            const mt_trace_event *e = &t->walks[w].events[i];
            if (e->node >= n || e->parent >= n || e->edge >= t->nedges) {
                mt_errbuf_set(err, errlen, "%s: walk %d event %zu refers to node %d of %d",
                              m->name, w, i, e->node >= n ? e->node : e->parent, n);
                vw_model_free(m);
                return -1;
            }
            if (e->kind == MT_EV_VISIT) m->calls[w]++;
        }
    }
    return 0;
}

void vw_model_free(vw_model *m)
{
    if (!m) return;
    mt_trace_free(m->trace);
    free(m->inputs);
    free(m->inedge);
    free(m->calls);
    free(m->node_w);
    free(m->node_h);
    memset(m, 0, sizeof *m);
}

int vw_step_count(const vw_model *m, int walk)
{
    int n = m->trace->nnodes;
    if (walk >= 0 && walk < m->trace->nwalks) n += (int)m->trace->walks[walk].nevents;
    return n;
}

/* ---- the derived state ---------------------------------------------------------------------- */

int vw_derived_init(vw_derived *d, const vw_model *m)
{
    memset(d, 0, sizeof *d);
    d->nnodes = m->trace->nnodes;
    d->nedges = m->trace->nedges;
    d->nodes = calloc((size_t)d->nnodes, sizeof *d->nodes);
    d->edge_done = calloc((size_t)(d->nedges > 0 ? d->nedges : 1), sizeof *d->edge_done);
    d->stack = calloc((size_t)d->nnodes, sizeof *d->stack);
    d->last_visit = calloc((size_t)d->nnodes, sizeof *d->last_visit);
    if (!d->nodes || !d->edge_done || !d->stack || !d->last_visit) {
        vw_derived_free(d);
        return -1;
    }
    return 0;
}

void vw_derived_free(vw_derived *d)
{
    if (!d) return;
    free(d->nodes);
    free(d->edge_done);
    free(d->stack);
    free(d->last_visit);
    memset(d, 0, sizeof *d);
}

static void stack_remove(vw_derived *d, int node)
{
    for (int i = d->nstack - 1; i >= 0; i--)
        if (d->stack[i] == node) {
            memmove(&d->stack[i], &d->stack[i + 1], (size_t)(d->nstack - i - 1) * sizeof *d->stack);
            d->nstack--;
            return;
        }
}

static void stack_push(vw_derived *d, int node)
{
    if (d->nstack < d->nnodes) d->stack[d->nstack++] = node;
}

static void reset(vw_derived *d, int walk, int step)
{
    memset(d->nodes, 0, (size_t)d->nnodes * sizeof *d->nodes);
    for (int i = 0; i < d->nnodes; i++) d->nodes[i].pending = -1;
    memset(d->edge_done, 0, (size_t)(d->nedges > 0 ? d->nedges : 1) * sizeof *d->edge_done);
    d->nstack = 0;
    d->walk = walk;
    d->step = step;
    d->phase = VW_FORWARD;
    d->created = d->event_index = d->current = d->edge = d->receiver = -1;
    d->event = NULL;
    d->travelling = NULL;
    d->calls = d->total_calls = 0;
}

/* What the whole walk says before any of it is replayed: when each node gets its last
 * gradient, how many calls the walk makes, each leaf's .grad before the walk (absent, or what
 * zero_grad left), and each node's count of edges to wait for (topological). */
static void survey(vw_derived *d, const mt_trace_walk *w, bool topo)
{
    for (int i = 0; i < d->nnodes; i++) d->last_visit[i] = -1;
    for (size_t i = w->nevents; i-- > 0;) {
        const mt_trace_event *e = &w->events[i];
        if (e->node < 0) continue;
        vw_node_state *ns = &d->nodes[e->node];
        if (e->kind == MT_EV_VISIT) d->total_calls++;
        if ((e->kind == MT_EV_VISIT || e->kind == MT_EV_ACCUMULATE) && d->last_visit[e->node] < 0)
            d->last_visit[e->node] = (int)i;
        if (e->kind == MT_EV_ACCUMULATE)      /* walking backwards: the first one wins */
            ns->leaf_grad = e->before.present ? &e->before : NULL;
        if (topo && e->kind == MT_EV_GRAD_PASSED && e->parent >= 0)
            d->nodes[e->parent].pending = d->nodes[e->parent].pending < 0 ? 1
                                          : d->nodes[e->parent].pending + 1;
    }
}

void vw_derive(vw_derived *d, const vw_model *m, int walk, int step)
{
    const mt_trace *t = m->trace;
    if (walk < 0 || walk >= t->nwalks) walk = -1;
    int nsteps = vw_step_count(m, walk);
    if (step >= nsteps) step = nsteps - 1;
    if (step < 0) step = 0;
    reset(d, walk, step);
    if (step < t->nnodes) {                       /* forward: nodes 0..step exist */
        for (int i = 0; i <= step; i++) d->nodes[i].visible = true;
        d->created = d->current = step;
        return;
    }
    for (int i = 0; i < d->nnodes; i++) d->nodes[i].visible = true;
    const mt_trace_walk *w = &t->walks[walk];
    bool topo = w->traversal == MT_TOPO;
    int k = step - t->nnodes;
    survey(d, w, topo);
    d->phase = VW_BACKWARD;
    for (int i = 0; i <= k; i++) {
        const mt_trace_event *e = &w->events[i];
        vw_node_state *ns = e->node >= 0 ? &d->nodes[e->node] : NULL;
        switch (e->kind) {
        case MT_EV_BACKWARD_BEGIN:
            if (ns) {
                ns->grad = e->grad.present ? &e->grad : NULL;   /* the seed, at the root */
                if (topo) stack_push(d, e->node), ns->ready = true;
            }
            break;
        case MT_EV_VISIT:
            if (!ns) break;
            ns->visits++;
            d->calls++;
            if (e->grad.present) ns->grad = &e->grad;
            if (topo) { stack_remove(d, e->node); ns->ready = false; }
            else stack_push(d, e->node);
            break;
        case MT_EV_GRAD_PASSED:
            if (e->edge >= 0) d->edge_done[e->edge] = true;
            if (topo && e->parent >= 0) {
                d->nodes[e->parent].pending = e->pending;
                d->nodes[e->parent].arrived++;
            }
            break;
        case MT_EV_ACCUMULATE:
            if (!ns) break;
            ns->leaf_grad = e->after.present ? &e->after : ns->leaf_grad;
            ns->accumulated++;
            break;
        case MT_EV_RETURN:
            if (ns && !topo) stack_remove(d, e->node);
            break;
        case MT_EV_READY:
            if (!ns) break;
            ns->ready = true;
            if (e->grad.present) ns->grad = &e->grad;           /* the sum, complete */
            stack_push(d, e->node);
            break;
        case MT_EV_BACKWARD_END:
            d->phase = VW_DONE;
            break;
        default:
            break;
        }
    }
    if (!topo)
        for (int i = 0; i < d->nstack; i++) d->nodes[d->stack[i]].stack_pos = i + 1;
    /* final: nothing more will arrive; in topological order that is so once a node is ready */
    for (int i = 0; i < d->nnodes; i++)
        d->nodes[i].final = (d->last_visit[i] >= 0 && k >= d->last_visit[i]) ||
                            (topo && d->nodes[i].ready);
    const mt_trace_event *e = &w->events[k];
    d->event_index = k;
    d->event = e;
    d->current = e->kind == MT_EV_BACKWARD_END ? -1 : e->node;
    if (e->kind == MT_EV_GRAD_PASSED) {
        d->edge = e->edge;
        d->receiver = e->parent;
        d->travelling = e->grad.present ? &e->grad : NULL;
    }
}

bool vw_derived_equal(const vw_derived *a, const vw_derived *b)
{
    if (a->nnodes != b->nnodes || a->nedges != b->nedges || a->nstack != b->nstack ||
        a->walk != b->walk || a->step != b->step || a->phase != b->phase ||
        a->created != b->created || a->event_index != b->event_index || a->event != b->event ||
        a->current != b->current || a->edge != b->edge || a->receiver != b->receiver ||
        a->travelling != b->travelling || a->calls != b->calls || a->total_calls != b->total_calls)
        return false;
    for (int i = 0; i < a->nnodes; i++) {
        const vw_node_state *x = &a->nodes[i], *y = &b->nodes[i];
        if (x->visible != y->visible || x->visits != y->visits || x->grad != y->grad ||
            x->leaf_grad != y->leaf_grad || x->accumulated != y->accumulated ||
            x->final != y->final || x->stack_pos != y->stack_pos ||
            x->pending != y->pending || x->ready != y->ready || x->arrived != y->arrived)
            return false;
    }
    for (int i = 0; i < a->nedges; i++)
        if (a->edge_done[i] != b->edge_done[i]) return false;
    for (int i = 0; i < a->nstack; i++)
        if (a->stack[i] != b->stack[i]) return false;
    return true;
}

/* ---- the frame's parts ----------------------------------------------------------------------- */

vw_frame_geom vw_frame_geometry(double w, double h, double ui, bool inspector)
{
    vw_frame_geom g;
    double top = round(38 * ui), bottom = round(28 * ui);
    double pw = round(fmin(370 * ui, w * 0.4));
    g.top = (vw_rect){ 0, 0, w, top };
    g.bottom = (vw_rect){ 0, h - bottom, w, bottom };
    g.panel = (vw_rect){ w - pw, top, pw, fmax(0, h - top - bottom) };
    g.graph = (vw_rect){ 0, top, fmax(1, w - pw), fmax(1, h - top - bottom) };
    g.inspector = (vw_rect){ 0, 0, 0, 0 };
    if (inspector) {
        double ih = round(fmin(250 * ui, g.graph.h * 0.5));
        g.inspector = (vw_rect){ g.graph.x, g.graph.y + g.graph.h - ih, g.graph.w, ih };
        g.graph.h -= ih;
    }
    return g;
}

/* ---- the cursor ------------------------------------------------------------------------------ */

void vw_state_init(vw_state *s, const vw_model *m, double ui)
{
    memset(s, 0, sizeof *s);
    s->ui = ui > 0 ? ui : 1;
    s->zoom = s->ui;
    s->selected = -1;
    s->speed = 2.0;
    s->anim = 1.0;
    /* the handout's order first, then plain DFS, then topological */
    s->walk = m->walk_of[2] >= 0 ? m->walk_of[2] : m->walk_of[0] >= 0 ? m->walk_of[0]
            : m->walk_of[1] >= 0 ? m->walk_of[1] : m->trace->nwalks > 0 ? 0 : -1;
    s->last_dfs = s->walk >= 0 && m->trace->walks[s->walk].traversal == MT_DFS ? MT_DFS
                                                                              : MT_DFS_LAST_FIRST;
}

void vw_state_goto(vw_state *s, const vw_model *m, int step)
{
    int n = vw_step_count(m, s->walk);
    s->step = step < 0 ? 0 : step >= n ? n - 1 : step;
    s->anim = 0;
}

void vw_state_step(vw_state *s, const vw_model *m, int delta)
{
    vw_state_goto(s, m, s->step + delta);
}

const char *vw_traversal_text(mt_traversal how)
{
    switch (how) {
    case MT_DFS: return "DFS, first input first";
    case MT_DFS_LAST_FIRST: return "DFS, last input first";
    case MT_TOPO: return "topological order";
    default: return "no traversal";
    }
}

bool vw_state_switch_walk(vw_state *s, const vw_model *m, mt_traversal how)
{
    int slot = traversal_slot(how), to = slot >= 0 ? m->walk_of[slot] : -1;
    if (to < 0) {
        snprintf(s->message, sizeof s->message, "this trace has no %s walk%s",
                 vw_traversal_text(how),
                 how != MT_TOPO ? " (the examples record DFS only where it visits at most 2000 "
                                  "nodes, or four per node: here its paths multiply)" : "");
        return false;
    }
    int nnodes = m->trace->nnodes, from = s->walk;
    bool done = s->step == vw_step_count(m, from) - 1 && s->step >= nnodes;
    s->walk = to;
    if (how != MT_TOPO) s->last_dfs = how;
    /* forward stays where it is; the end stays the end; inside a walk, the other one starts */
    if (done) s->step = vw_step_count(m, to) - 1;
    else if (s->step >= nnodes) s->step = nnodes;
    s->anim = 0;
    snprintf(s->message, sizeof s->message, "%s: %d backward calls", vw_traversal_text(how),
             m->calls[to]);
    if (from >= 0 && from != to) {
        size_t len = strlen(s->message);
        snprintf(s->message + len, sizeof s->message - len, " (%s: %d)",
                 vw_traversal_text(m->trace->walks[from].traversal), m->calls[from]);
    }
    return true;
}

/* ---- the camera ------------------------------------------------------------------------------ */

vw_point vw_to_screen(const vw_state *s, vw_frame_geom g, double gx, double gy)
{
    return (vw_point){ g.graph.x + g.graph.w / 2 + (gx - s->cam_x) * s->zoom,
                       g.graph.y + g.graph.h / 2 + (gy - s->cam_y) * s->zoom };
}

vw_point vw_to_graph(const vw_state *s, vw_frame_geom g, double px, double py)
{
    return (vw_point){ s->cam_x + (px - g.graph.x - g.graph.w / 2) / s->zoom,
                       s->cam_y + (py - g.graph.y - g.graph.h / 2) / s->zoom };
}

static double clamp_zoom(const vw_state *s, double z)
{
    return fmin(fmax(z, 0.02 * s->ui), 4.0 * s->ui);
}

void vw_state_fit(vw_state *s, const vw_layout *l, vw_frame_geom g)
{
    double m = 24 * s->ui, lw = fmax(l->width, 1), lh = fmax(l->height, 1);
    s->zoom = clamp_zoom(s, fmin(fmin((g.graph.w - 2 * m) / lw, (g.graph.h - 2 * m) / lh),
                                 1.6 * s->ui));
    s->cam_x = lw / 2;
    s->cam_y = lh / 2;
}

void vw_state_follow(vw_state *s, const vw_layout *l, vw_frame_geom g, int node)
{
    if (node < 0 || node >= l->nnodes) return;
    vw_rect b = l->box[node];
    vw_point p0 = vw_to_screen(s, g, b.x, b.y), p1 = vw_to_screen(s, g, b.x + b.w, b.y + b.h);
    double m = 24 * s->ui;
    /* re-centred along an axis it would leave: fewer, larger moves than creeping along */
    if (p0.x < g.graph.x + m || p1.x > g.graph.x + g.graph.w - m) s->cam_x = b.x + b.w / 2;
    if (p0.y < g.graph.y + m || p1.y > g.graph.y + g.graph.h - m) s->cam_y = b.y + b.h / 2;
}

void vw_state_clamp(vw_state *s, const vw_layout *l, vw_frame_geom g)
{
    double m = 30 * s->ui / s->zoom, vw = g.graph.w / s->zoom, vh = g.graph.h / s->zoom;
    /* a graph wider than the view keeps the view on it; a narrower one is centred */
    if (l->width + 2 * m <= vw) s->cam_x = l->width / 2;
    else s->cam_x = fmin(fmax(s->cam_x, vw / 2 - m), l->width - vw / 2 + m);
    if (l->height + 2 * m <= vh) s->cam_y = l->height / 2;
    else s->cam_y = fmin(fmax(s->cam_y, vh / 2 - m), l->height - vh / 2 + m);
}

void vw_state_zoom_at(vw_state *s, vw_frame_geom g, double px, double py, double factor)
{
    vw_point before = vw_to_graph(s, g, px, py);
    s->zoom = clamp_zoom(s, s->zoom * factor);
    vw_point after = vw_to_graph(s, g, px, py);
    s->cam_x += before.x - after.x;          /* the point under the cursor stays there */
    s->cam_y += before.y - after.y;
}

int vw_pick_node(const vw_state *s, const vw_layout *l, const vw_derived *d, vw_frame_geom g,
                 double px, double py)
{
    if (px < g.graph.x || px >= g.graph.x + g.graph.w || py < g.graph.y ||
        py >= g.graph.y + g.graph.h)
        return -1;
    vw_point p = vw_to_graph(s, g, px, py);
    for (int i = l->nnodes - 1; i >= 0; i--) {
        vw_rect b = l->box[i];
        if (d->nodes[i].visible && p.x >= b.x && p.x <= b.x + b.w && p.y >= b.y && p.y <= b.y + b.h)
            return i;
    }
    return -1;
}

bool vw_rects_overlap(vw_rect a, vw_rect b)
{
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}
