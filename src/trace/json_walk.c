/* json_walk.c: the part of mt_trace_check (json_check.c) that replays each walk's events and
 * refuses an order the engine (autograd.c) cannot produce: the DFS recursion with its stack and
 * depths, and PyTorch's topological order with its pending counts and ready nodes. It works on
 * the structs of trace.h; the events' kinds, ids and values are checked before it runs. */
#include "json_impl.h"

#include <string.h>

#define fail mt_trace_checker_fail
#define event_fail mt_trace_checker_event_fail

typedef mt_trace_checker checker;

static const char *kind_name(const checker *c, int node)
{
    return mt_trace_node_kind_name(c->t->nodes[node].kind);
}

/* The node an operand's gradient goes to, or -1 (no edge, or a constant: nothing flows). */
static int grad_parent(const checker *c, int node, int operand)
{
    int e = c->edge_of[node * MT_MAX_INPUTS + operand];
    if (e < 0) return -1;
    int from = c->t->edges[e].from;
    return c->t->nodes[from].kind == MT_TRACE_CONSTANT ? -1 : from;
}

/* How many gradients the backward of op node `node` passes on: one per operand with a parent. */
static int passes_of(const checker *c, int node)
{
    int n = 0;
    for (int i = 0; i < c->t->nodes[node].ninputs; i++) n += grad_parent(c, node, i) >= 0;
    return n;
}

/* What a GRAD_PASSED says about the graph: node passes to a parent that takes gradients, along
 * the edge that joins them. */
static int check_pass(checker *c, int wi, size_t ei, const mt_trace_event *e)
{
    const mt_trace_edge *ed = &c->t->edges[e->edge];
    if (c->t->nodes[e->parent].kind == MT_TRACE_CONSTANT)
        return event_fail(c, wi, ei, "parent", "node %d is a constant (no gradient flows to one)",
                          e->parent);
    if (ed->to != e->node || ed->from != e->parent || ed->operand != e->input_index)
        return event_fail(c, wi, ei, "edge", "edges[%d] runs from node %d into operand %d of node "
                          "%d, not from node %d (the parent) into operand %d of node %d", e->edge,
                          ed->from, ed->operand, ed->to, e->parent, e->input_index, e->node);
    return 0;
}

/* Whether event e is `kind` about `node` */
static bool is(const mt_trace_event *e, mt_event_kind kind, int node)
{
    return e->kind == kind && e->node == node;
}

/* What both walks require of an accumulate: into a leaf, right after the leaf's visit. */
static int check_accumulate(checker *c, int wi, size_t ei)
{
    const mt_trace_event *e = &c->t->walks[wi].events[ei], *prev = e - 1;
    if (c->t->nodes[e->node].kind != MT_TRACE_ACCUMULATE_GRAD)
        return event_fail(c, wi, ei, "node", "node %d is %s; only AccumulateGrad nodes "
                          "accumulate", e->node, kind_name(c, e->node));
    if (!is(prev, MT_EV_VISIT, e->node))
        return event_fail(c, wi, ei, "kind", "an accumulate into node %d that does not follow "
                          "its visit", e->node);
    return 0;
}

/* A walk that succeeded (status 0) visited its root: it is more than backward_begin and end. */
static int check_root_visited(checker *c, int wi)
{
    const mt_trace_walk *w = &c->t->walks[wi];
    size_t last = w->nevents - 1;
    if (w->status == 0 && last == 1)
        return event_fail(c, wi, last, "kind", "backward_end right after backward_begin, but the "
                          "walk succeeded (status 0) without visiting its root");
    return 0;
}

/* The recursion of autograd.h: VISIT pushes a frame, RETURN pops it; depth is the stack's height;
 * a leaf accumulates, an op computes its gradients and passes each on, first input first
 * (dfs) or last first (dfs_last_first), and each pass is followed by the parent's visit. */
static int check_dfs_event(checker *c, int wi, size_t ei, size_t *top)
{
    const mt_trace_walk *w = &c->t->walks[wi];
    const mt_trace_event *e = &w->events[ei], *prev = &w->events[ei - 1];
    const mt_trace_node *n = &c->t->nodes[e->node];
    bool last_first = w->traversal == MT_DFS_LAST_FIRST;
    const char *kind = mt_event_kind_name(e->kind);
    if (prev->kind == MT_EV_GRAD_PASSED && !is(e, MT_EV_VISIT, prev->parent))
        return event_fail(c, wi, ei, "kind", "%s of node %d, but the gradient just passed to node "
                          "%d is visited next", kind, e->node, prev->parent);
    if (e->kind == MT_EV_READY)
        return event_fail(c, wi, ei, "kind", "a ready event in a %s walk (only topological walks "
                          "have them)", mt_traversal_name(w->traversal));
    if (*top == 0 && ei > 1)
        return event_fail(c, wi, ei, "kind", "%s after the root's visit returned (only "
                          "backward_end follows)", kind);
    int want = e->kind == MT_EV_VISIT ? (int)*top + 1 : (int)*top;
    if (e->depth != want)
        return event_fail(c, wi, ei, "depth", "%d, but the call stack is %d high at this %s (depth "
                          "counts open visits)", e->depth, want, kind);
    int inner = *top ? c->stack[*top - 1] : -1;
    switch (e->kind) {
    case MT_EV_VISIT:
        if (ei == 1 && e->node != w->root)
            return event_fail(c, wi, ei, "node", "%d, but a walk first visits its root, node %d",
                              e->node, w->root);
        if (n->kind == MT_TRACE_CONSTANT)
            return event_fail(c, wi, ei, "node", "node %d is a constant (backward never visits one)"
                              , e->node);
        c->stack[*top] = e->node;
        c->lastop[*top] = last_first ? MT_MAX_INPUTS : -1;
        c->passes[*top] = 0;
        (*top)++;
        return 0;
    case MT_EV_ACCUMULATE:
        return check_accumulate(c, wi, ei);
    case MT_EV_NODE_GRADS:
        if (n->kind != MT_TRACE_BACKWARD_FUNCTION)
            return event_fail(c, wi, ei, "node", "node %d is %s; only a BackwardFunction computes "
                              "gradients", e->node, kind_name(c, e->node));
        if (!is(prev, MT_EV_VISIT, e->node))
            return event_fail(c, wi, ei, "kind", "node_grads of node %d, not right after its visit",
                              e->node);
        if (e->ngrads != n->ninputs)
            return event_fail(c, wi, ei, "grads", "%d gradients, but node %d has %d inputs",
                              e->ngrads, e->node, n->ninputs);
        return 0;
    case MT_EV_GRAD_PASSED: {
        if (e->node != inner)
            return event_fail(c, wi, ei, "node", "%d, but the innermost open visit is of node %d",
                              e->node, inner);
        if (prev->kind != MT_EV_NODE_GRADS && prev->kind != MT_EV_RETURN)
            return event_fail(c, wi, ei, "kind", "a grad_passed right after a %s (a node passes "
                              "gradients once it has computed them, or when a parent's visit "
                              "returns)", mt_event_kind_name(prev->kind));
        if (check_pass(c, wi, ei, e)) return -1;
        int last = c->lastop[*top - 1];
        if (last_first ? e->input_index >= last : e->input_index <= last)
            return event_fail(c, wi, ei, "operand", "%d after operand %d: a %s walk passes "
                              "gradients %s", e->input_index, last, mt_traversal_name(w->traversal),
                              last_first ? "last input first" : "first input first");
        c->lastop[*top - 1] = e->input_index;
        c->passes[*top - 1]++;
        return 0;
    }
    case MT_EV_RETURN:
        if (e->node != inner)
            return event_fail(c, wi, ei, "node", "%d, but the innermost open visit is of node %d "
                              "(a return pops it)", e->node, inner);
        if (n->kind == MT_TRACE_ACCUMULATE_GRAD) {
            if (!is(prev, MT_EV_VISIT, e->node) && !is(prev, MT_EV_ACCUMULATE, e->node))
                return event_fail(c, wi, ei, "kind", "the return of leaf node %d after a %s",
                                  e->node, mt_event_kind_name(prev->kind));
        } else {
            if (prev->kind == MT_EV_VISIT)
                return event_fail(c, wi, ei, "kind", "the return of node %d right after its visit "
                                  "(its node_grads are missing)", e->node);
            if (c->passes[*top - 1] != passes_of(c, e->node))
                return event_fail(c, wi, ei, "kind", "node %d returns after passing %d of its %d "
                                  "gradients", e->node, c->passes[*top - 1], passes_of(c, e->node));
        }
        (*top)--;
        return 0;
    default:
        return event_fail(c, wi, ei, "kind", "a %s event in a %s walk", kind,
                          mt_traversal_name(w->traversal));
    }
}

int mt_trace_check_dfs(checker *c, int wi)
{
    const mt_trace_walk *w = &c->t->walks[wi];
    size_t top = 0, last = w->nevents - 1;
    for (size_t ei = 1; ei < last; ei++)
        if (check_dfs_event(c, wi, ei, &top)) return -1;
    if (w->events[last - 1].kind == MT_EV_GRAD_PASSED)
        return event_fail(c, wi, last, "kind", "backward_end right after a grad_passed (the "
                          "parent's visit is missing)");
    if (check_root_visited(c, wi)) return -1;
    if (w->status == 0 && top != 0)
        return event_fail(c, wi, last, "kind", "backward_end with %zu visit%s still open "
                          "(innermost: node %d), but the walk succeeded (status 0)", top,
                          top == 1 ? "" : "s", c->stack[top - 1]);
    return 0;
}

/* Pass 1 of the engine's topological walk: from the root, every delivery each node is to get. */
static void count_deliveries(checker *c, int root)
{
    const mt_trace *t = c->t;
    memset(c->count, 0, (size_t)t->nnodes * sizeof *c->count);
    memset(c->mark, 0, (size_t)t->nnodes);
    size_t top = 0;
    c->stack[top++] = root;
    c->mark[root] = 1;
    while (top) {
        int n = c->stack[--top];
        if (t->nodes[n].kind != MT_TRACE_BACKWARD_FUNCTION) continue;
        for (int i = 0; i < t->nodes[n].ninputs; i++) {
            int p = grad_parent(c, n, i);
            if (p < 0) continue;
            c->count[p]++;
            if (!c->mark[p]) { c->mark[p] = 1; c->stack[top++] = p; }
        }
    }
}

/* PyTorch's order (autograd.c): a node runs once; a visit takes the node made ready last; each
 * op passes its gradients first input first, saying how many deliveries its parent still waits
 * for, and a parent whose count reaches 0 is ready at once. */
typedef struct topo_state {
    size_t nready;   /* nodes ready and not yet visited, on c->stack */
    int    running;  /* the op whose gradients are being passed, or -1 */
    int    last;     /* its operand passed last */
    int    passes;   /* how many it has passed */
    int    waiting;  /* an op visited whose node_grads must come next, or -1 */
} topo_state;

static int finish_running(checker *c, int wi, size_t ei, topo_state *s)
{
    if (s->running >= 0 && s->passes != passes_of(c, s->running))
        return event_fail(c, wi, ei, "kind", "node %d moves on after passing %d of its %d "
                          "gradients", s->running, s->passes, passes_of(c, s->running));
    s->running = -1;
    return 0;
}

static int check_topo_event(checker *c, int wi, size_t ei, topo_state *s)
{
    const mt_trace_walk *w = &c->t->walks[wi];
    const mt_trace_event *e = &w->events[ei], *prev = &w->events[ei - 1];
    const mt_trace_node *n = &c->t->nodes[e->node];
    const char *kind = mt_event_kind_name(e->kind);
    if (prev->kind == MT_EV_GRAD_PASSED && prev->pending == 0 && !is(e, MT_EV_READY, prev->parent))
        return event_fail(c, wi, ei, "kind", "%s, but node %d got its last gradient just before: "
                          "it is ready next", kind, prev->parent);
    if (s->waiting >= 0 && e->kind != MT_EV_NODE_GRADS)
        return event_fail(c, wi, ei, "kind", "%s, but node %d was visited and its node_grads come "
                          "next", kind, s->waiting);
    switch (e->kind) {
    case MT_EV_VISIT:
        if (finish_running(c, wi, ei, s)) return -1;
        if (ei == 1 && e->node != w->root)
            return event_fail(c, wi, ei, "node", "%d, but a walk first visits its root, node %d",
                              e->node, w->root);
        if (ei > 1) {
            if (s->nready == 0)
                return event_fail(c, wi, ei, "node", "a visit of node %d, but no node is ready",
                                  e->node);
            int want = c->stack[s->nready - 1];
            if (e->node != want)
                return event_fail(c, wi, ei, "node", "%d, but the node made ready last is node %d "
                                  "(ready nodes run last in, first out)", e->node, want);
            s->nready--;
        }
        if (c->mark[e->node] == 2)
            return event_fail(c, wi, ei, "node", "node %d visited twice (a topological walk runs "
                              "each node once)", e->node);
        c->mark[e->node] = 2;
        if (n->kind == MT_TRACE_BACKWARD_FUNCTION) s->waiting = e->node;
        return 0;
    case MT_EV_ACCUMULATE:
        return check_accumulate(c, wi, ei);
    case MT_EV_NODE_GRADS:
        if (!is(prev, MT_EV_VISIT, e->node) || n->kind != MT_TRACE_BACKWARD_FUNCTION)
            return event_fail(c, wi, ei, "kind", "node_grads of node %d, not right after the visit "
                              "of that op", e->node);
        if (e->ngrads != n->ninputs)
            return event_fail(c, wi, ei, "grads", "%d gradients, but node %d has %d inputs",
                              e->ngrads, e->node, n->ninputs);
        *s = (topo_state){ s->nready, e->node, -1, 0, -1 };
        return 0;
    case MT_EV_GRAD_PASSED:
        if (e->node != s->running)
            return event_fail(c, wi, ei, "node", "%d, but the node passing gradients now is %d",
                              e->node, s->running);
        if (check_pass(c, wi, ei, e)) return -1;
        if (e->input_index <= s->last)
            return event_fail(c, wi, ei, "operand", "%d after operand %d: a topo walk passes "
                              "gradients first input first", e->input_index, s->last);
        s->last = e->input_index;
        s->passes++;
        if (--c->count[e->parent] < 0)
            return event_fail(c, wi, ei, "parent", "node %d gets more gradients than edges lead "
                              "into it", e->parent);
        if (e->pending != c->count[e->parent])
            return event_fail(c, wi, ei, "pending", "%d, but %d deliver%s into node %d %s still to "
                              "come", e->pending, c->count[e->parent], c->count[e->parent] == 1 ?
                              "y" : "ies", e->parent, c->count[e->parent] == 1 ? "is" : "are");
        return 0;
    case MT_EV_READY:
        if (prev->kind != MT_EV_GRAD_PASSED || prev->parent != e->node || prev->pending != 0)
            return event_fail(c, wi, ei, "kind", "node %d ready, but not right after its last "
                              "gradient arrived", e->node);
        c->stack[s->nready++] = e->node;
        return 0;
    default:
        return event_fail(c, wi, ei, "kind", "a %s event in a topo walk", kind);
    }
}

int mt_trace_check_topo(checker *c, int wi)
{
    const mt_trace_walk *w = &c->t->walks[wi];
    size_t last = w->nevents - 1;
    topo_state s = { 0, -1, -1, 0, -1 };
    count_deliveries(c, w->root);
    for (size_t ei = 1; ei < last; ei++)
        if (check_topo_event(c, wi, ei, &s)) return -1;
    const mt_trace_event *prev = &w->events[last - 1];
    if (prev->kind == MT_EV_GRAD_PASSED && prev->pending == 0)
        return event_fail(c, wi, last, "kind", "backward_end, but node %d got its last gradient "
                          "just before: it is ready next", prev->parent);
    if (w->status != 0) return 0;                 /* an error stops the walk anywhere */
    if (check_root_visited(c, wi)) return -1;
    if (s.waiting >= 0)
        return event_fail(c, wi, last, "kind", "backward_end, but node %d was visited and its "
                          "node_grads come next", s.waiting);
    if (finish_running(c, wi, last, &s)) return -1;
    if (s.nready)
        return event_fail(c, wi, last, "kind", "backward_end with node %d ready but never visited",
                    c->stack[s.nready - 1]);
    return 0;
}

