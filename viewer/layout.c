/* layout.c: where each node and edge goes, from Graphviz's dot engine. The only file that sees
 * gvc.h. Dot lays the graph out once, left to right (inputs on the left, the output on the
 * right), with each node exactly the size the renderer measured for its text (fixedsize) and the
 * operands of each op in order; the boxes and edge splines are copied into vw_layout and every
 * Graphviz structure is freed before this returns. Call it from one thread. */
#include "viewer.h"

#include <mytorch/io.h>

#include <graphviz/gvc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void vw_layout_free(vw_layout *l)
{
    if (!l) return;
    for (int k = 0; k < l->nedges && l->edge; k++) free(l->edge[k].pts);
    free(l->edge);
    free(l->box);
    memset(l, 0, sizeof *l);
}

extern gvplugin_library_t gvplugin_dot_layout_LTX_library;   /* libgvplugin_dot_layout */

/* edges in the order dot should meet them: by op, then by operand (ordering=in keeps it) */
static const mt_trace_edge *sort_base;
static int by_operand(const void *a, const void *b)
{
    const mt_trace_edge *x = &sort_base[*(const int *)a], *y = &sort_base[*(const int *)b];
    if (x->to != y->to) return x->to < y->to ? -1 : 1;
    if (x->operand != y->operand) return x->operand < y->operand ? -1 : 1;
    return *(const int *)a < *(const int *)b ? -1 : 1;
}

/* dot's points (y up, from the bounding box's corner) to ours (y down, from the top-left) */
static vw_point flip(pointf p, boxf bb)
{
    return (vw_point){ p.x - bb.LL.x, bb.UR.y - p.y };
}

/* ordering=in makes dot add "flat" edges between the inputs of a node, and lists of them on
 * each end. Graphviz 2.42's cleanup frees those lists on real nodes only, and the ends can be
 * the virtual nodes of long edges: their lists are freed here, before gvFreeLayout (which then
 * finds NULL lists, harmless to free again). */
#define VW_GV_VIRTUAL 1                            /* dot's node_type of a virtual node */
static void free_virtual_flat_lists(Agraph_t *g)
{
    for (Agnode_t *n = GD_nlist(g); n; n = ND_next(n)) {
        if (ND_node_type(n) != VW_GV_VIRTUAL) continue;
        free(ND_flat_out(n).list);
        free(ND_flat_in(n).list);
        ND_flat_out(n).list = ND_flat_in(n).list = NULL;
        ND_flat_out(n).size = ND_flat_in(n).size = 0;
    }
}

static int copy_edge(vw_curve *c, Agedge_t *e, boxf bb)
{
    const splines *spl = ED_spl(e);
    memset(c, 0, sizeof *c);
    if (!spl || spl->size < 1 || spl->list[0].size < 1) return 0;
    int total = 0;
    for (int b = 0; b < spl->size; b++) total += spl->list[b].size;
    c->pts = malloc((size_t)total * sizeof *c->pts);
    if (!c->pts) return -1;
    for (int b = 0; b < spl->size; b++) {
        const bezier *bz = &spl->list[b];
        /* a second piece continues from the first one's end: skip its repeated start point */
        for (int k = b && c->npts ? 1 : 0; k < bz->size; k++)
            c->pts[c->npts++] = flip(bz->list[k], bb);
    }
    const bezier *last = &spl->list[spl->size - 1];
    if (last->eflag) {
        c->arrow = true;
        c->tip = flip(last->ep, bb);
    }
    if ((c->npts - 1) % 3 != 0) c->npts = 1 + (c->npts - 1) / 3 * 3;   /* whole segments only */
    double x0 = c->arrow ? c->tip.x : c->pts[0].x, x1 = x0,
           y0 = c->arrow ? c->tip.y : c->pts[0].y, y1 = y0;
    for (int k = 0; k < c->npts; k++) {
        x0 = fmin(x0, c->pts[k].x), x1 = fmax(x1, c->pts[k].x);
        y0 = fmin(y0, c->pts[k].y), y1 = fmax(y1, c->pts[k].y);
    }
    c->bounds = (vw_rect){ x0, y0, x1 - x0, y1 - y0 };
    return 0;
}

int vw_layout_compute(vw_layout *l, const vw_model *m, char *err, size_t errlen)
{
    const mt_trace *t = m->trace;
    memset(l, 0, sizeof *l);
    double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
    int n = t->nnodes, ne = t->nedges;
    l->box = calloc((size_t)n, sizeof *l->box);
    l->edge = calloc((size_t)(ne > 0 ? ne : 1), sizeof *l->edge);
    Agnode_t **node = calloc((size_t)n, sizeof *node);
    Agedge_t **edge = calloc((size_t)(ne > 0 ? ne : 1), sizeof *edge);
    int *order = calloc((size_t)(ne > 0 ? ne : 1), sizeof *order);
    if (!l->box || !l->edge || !node || !edge || !order) {
        free(node), free(edge), free(order);
        vw_layout_free(l);
        mt_errbuf_set(err, errlen, "%s: out of memory for the layout of %d nodes", m->name, n);
        return -1;
    }
    l->nnodes = n;
    l->nedges = ne;

    /* dot's plugin linked in: no plugin configuration to read or libraries to open */
    static const lt_symlist_t builtins[] = {
        { "gvplugin_dot_layout_LTX_library", &gvplugin_dot_layout_LTX_library }, { 0, 0 } };
    GVC_t *gvc = gvContextPlugins(builtins, 0);
    agseterr(AGMAX);                               /* dot's warnings are not the user's business */
    Agraph_t *g = agopen("trace", Agdirected, NULL);
    agattr(g, AGRAPH, "rankdir", "LR");
    agattr(g, AGRAPH, "ordering", "in");
    agattr(g, AGRAPH, "nodesep", "0.30");
    agattr(g, AGRAPH, "ranksep", "0.65");
    if (n > 150) {                                 /* fewer crossing-minimisation passes */
        agattr(g, AGRAPH, "mclimit", "0.2");
        agattr(g, AGRAPH, "nslimit", "0.2");
        agattr(g, AGRAPH, "nslimit1", "0.2");
        agattr(g, AGRAPH, "searchsize", "10");
    }
    agattr(g, AGNODE, "shape", "box");
    agattr(g, AGNODE, "fixedsize", "true");
    agattr(g, AGNODE, "label", "");
    Agsym_t *sw = agattr(g, AGNODE, "width", "1");
    Agsym_t *sh = agattr(g, AGNODE, "height", "0.5");
    agattr(g, AGEDGE, "arrowsize", "0.8");
    for (int i = 0; i < n; i++) {
        char name[24], v[32];
        snprintf(name, sizeof name, "n%d", i);
        node[i] = agnode(g, name, 1);
        snprintf(v, sizeof v, "%.4f", m->node_w[i] / 72.0);   /* inches */
        agxset(node[i], sw, v);
        snprintf(v, sizeof v, "%.4f", m->node_h[i] / 72.0);
        agxset(node[i], sh, v);
    }
    for (int k = 0; k < ne; k++) order[k] = k;
    sort_base = t->edges;
    qsort(order, (size_t)ne, sizeof *order, by_operand);
    for (int j = 0; j < ne; j++) {
        const mt_trace_edge *e = &t->edges[order[j]];
        edge[order[j]] = agedge(g, node[e->from], node[e->to], NULL, 1);   /* a + a: two edges */
    }
    int rc = gvLayout(gvc, g, "dot");
    if (rc != 0) {
        mt_errbuf_set(err, errlen, "%s: Graphviz could not lay the graph out", m->name);
    } else {
        boxf bb = GD_bb(g);
        l->width = bb.UR.x - bb.LL.x;
        l->height = bb.UR.y - bb.LL.y;
        for (int i = 0; i < n; i++) {
            double w = ND_width(node[i]) * 72, h = ND_height(node[i]) * 72;
            vw_point c = flip(ND_coord(node[i]), bb);
            l->box[i] = (vw_rect){ c.x - w / 2, c.y - h / 2, w, h };
        }
        for (int k = 0; k < ne && rc == 0; k++)
            if (edge[k] && copy_edge(&l->edge[k], edge[k], bb) != 0) {
                mt_errbuf_set(err, errlen, "%s: out of memory copying the layout", m->name);
                rc = -1;
            }
        free_virtual_flat_lists(g);
        gvFreeLayout(gvc, g);
    }
    agclose(g);
    gvFreeContext(gvc);
    free(node);
    free(edge);
    free(order);
    if (rc != 0) {
        vw_layout_free(l);
        return -1;
    }
    l->ms = now_ms(CLOCK_MONOTONIC) - t0;
    l->cpu_ms = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
    return 0;
}
