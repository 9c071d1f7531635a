/* record.c: the recorder. It listens to the engine's observer and copies what it is told into
 * an mt_trace: a node for every op, leaf and constant the first time it is seen, an edge per
 * operand, and every backward event with its values. Nothing in a trace points into an arena. */
#include "trace_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building a trace --------------------------------------------------------------------- */

void *mt_trace_xalloc(void *p, size_t n, size_t size)
{
    if (n && size > (size_t)-1 / n) n = (size_t)-1 / size + 1;   /* let realloc refuse it */
    size_t bytes = n * size;
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) {
        fprintf(stderr, "mytorch: out of memory growing a trace to %zu items\n", n);
        abort();
    }
    return q;
}

/* room for one more item in an array of *n items with capacity *cap */
static void *grow(void *items, size_t n, size_t *cap, size_t size)
{
    if (n < *cap) return items;
    *cap = *cap ? *cap * 2 : 16;
    return mt_trace_xalloc(items, *cap, size);
}

/* The capacities live beside the trace, so that mt_trace stays plain data. */
typedef struct trace_box {
    mt_trace t;
    size_t   node_cap, edge_cap, walk_cap;
    size_t  *event_cap;            /* one per walk */
    /* Engine objects recorded, by id: a node's (mt_node.id) or, for constants, the tensor's
     * (mt_tensor.id), both unique per process, so a key never goes stale when an arena is
     * reset. An open-addressing table from key to trace node; kept until the trace is freed. */
    uint64_t *keys;                /* 0: empty */
    int      *vals;
    size_t    cap, used;
    /* The edges into an op node are added together, right after it: first_edge[node] is the
     * first of them, so that finding the edge a gradient travels along costs its arity. */
    int      *first_edge;
    size_t    first_edge_cap;
} trace_box;

static trace_box *box_of(mt_trace *t) { return (trace_box *)t; }

mt_trace *mt_trace_new(void)
{
    trace_box *b = calloc(1, sizeof *b);
    if (!b) { fprintf(stderr, "mytorch: out of memory for a trace\n"); abort(); }
    b->t.version = MT_TRACE_VERSION;
    b->t.value_limit = MT_TRACE_VALUE_LIMIT;
    b->t.output = -1;
    return &b->t;
}

mt_trace_node *mt_trace_add_node(mt_trace *t)
{
    trace_box *b = box_of(t);
    t->nodes = grow(t->nodes, (size_t)t->nnodes, &b->node_cap, sizeof *t->nodes);
    mt_trace_node *n = &t->nodes[t->nnodes];
    memset(n, 0, sizeof *n);
    n->id = t->nnodes++;
    return n;
}

mt_trace_edge *mt_trace_add_edge(mt_trace *t)
{
    trace_box *b = box_of(t);
    t->edges = grow(t->edges, (size_t)t->nedges, &b->edge_cap, sizeof *t->edges);
    mt_trace_edge *e = &t->edges[t->nedges++];
    memset(e, 0, sizeof *e);
    return e;
}

mt_trace_walk *mt_trace_add_walk(mt_trace *t)
{
    trace_box *b = box_of(t);
    size_t old_cap = b->walk_cap;
    t->walks = grow(t->walks, (size_t)t->nwalks, &b->walk_cap, sizeof *t->walks);
    if (b->walk_cap != old_cap) {
        b->event_cap = mt_trace_xalloc(b->event_cap, b->walk_cap, sizeof *b->event_cap);
        for (size_t i = old_cap; i < b->walk_cap; i++) b->event_cap[i] = 0;
    }
    mt_trace_walk *w = &t->walks[t->nwalks++];
    memset(w, 0, sizeof *w);
    w->root = -1;
    return w;
}

mt_trace_event *mt_trace_add_event(mt_trace *t, mt_trace_walk *w)
{
    trace_box *b = box_of(t);
    size_t wi = (size_t)(w - t->walks);
    w->events = grow(w->events, w->nevents, &b->event_cap[wi], sizeof *w->events);
    mt_trace_event *e = &w->events[w->nevents++];
    memset(e, 0, sizeof *e);
    e->node = e->parent = e->edge = -1;
    return e;
}

void mt_trace_value_clear(mt_trace_value *v)
{
    free(v->data);
    memset(v, 0, sizeof *v);
}

void mt_trace_value_set(mt_trace_value *v, mt_shape s, const double *data, size_t numel,
                        size_t limit)
{
    mt_trace_value_clear(v);
    v->present = true;
    v->shape = s;
    v->numel = numel;
    v->summarised = numel > limit;
    v->ndata = v->summarised ? (numel < MT_TRACE_SUMMARY_HEAD ? numel : MT_TRACE_SUMMARY_HEAD)
                             : numel;
    v->data = mt_trace_xalloc(NULL, v->ndata, sizeof *v->data);
    if (v->ndata) memcpy(v->data, data, v->ndata * sizeof *v->data);
    double lo = INFINITY, hi = -INFINITY, sum = 0, sq = 0;
    for (size_t i = 0; i < numel; i++) {
        double x = data[i];
        if (x < lo) lo = x;
        if (x > hi) hi = x;
        sum += x;
        sq += x * x;
        if (isnan(x)) lo = hi = NAN;
    }
    v->min = numel ? lo : 0;
    v->max = numel ? hi : 0;
    v->mean = numel ? sum / (double)numel : 0;
    v->norm = sqrt(sq);
}

static void value_of(const mt_trace *t, mt_trace_value *v, const mt_tensor *x)
{
    if (x) mt_trace_value_set(v, x->shape, x->data, x->numel, t->value_limit);
    else mt_trace_value_clear(v);
}

static void walk_free(mt_trace_walk *w)
{
    for (size_t i = 0; i < w->nevents; i++) {
        mt_trace_event *e = &w->events[i];
        mt_trace_value_clear(&e->grad);
        mt_trace_value_clear(&e->before);
        mt_trace_value_clear(&e->after);
        for (int k = 0; k < MT_MAX_INPUTS; k++) mt_trace_value_clear(&e->grads[k]);
    }
    free(w->events);
}

/* ---- what the recorder keeps while it listens ---------------------------------------------- */
typedef struct recorder {
    mt_trace      *trace;
    trace_box     *box;       /* the same trace, with its table of engine objects */
    mt_observer_fn prev_fn;
    void          *prev_user;
    mt_trace_walk *walk;      /* the walk being recorded, or NULL */
} recorder;

static _Thread_local recorder *active;

static uint64_t node_key(const mt_node *n) { return ((uint64_t)n->id << 1) | 0; }
static uint64_t const_key(const mt_tensor *x) { return ((uint64_t)x->id << 1) | 1; }

static size_t slot_of(const trace_box *r, uint64_t key)
{
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull) & (r->cap - 1);
    while (r->keys[i] && r->keys[i] != key) i = (i + 1) & (r->cap - 1);
    return i;
}

static int find_in(const trace_box *r, uint64_t key)
{
    if (!r->cap) return -1;
    size_t i = slot_of(r, key);
    return r->keys[i] ? r->vals[i] : -1;
}

static int find(const recorder *r, uint64_t key) { return find_in(r->box, key); }

static void put_in(trace_box *r, uint64_t key, int val)
{
    if ((r->used + 1) * 2 > r->cap) {                  /* keep it at most half full */
        trace_box old = *r;
        r->cap = old.cap ? old.cap * 2 : 64;
        r->keys = mt_trace_xalloc(NULL, r->cap, sizeof *r->keys);
        memset(r->keys, 0, r->cap * sizeof *r->keys);
        r->vals = mt_trace_xalloc(NULL, r->cap, sizeof *r->vals);
        r->used = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.keys[i]) put_in(r, old.keys[i], old.vals[i]);
        free(old.keys);
        free(old.vals);
    }
    size_t i = slot_of(r, key);
    if (!r->keys[i]) r->used++;
    r->keys[i] = key;
    r->vals[i] = val;
}

static void put(recorder *r, uint64_t key, int val) { put_in(r->box, key, val); }

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static mt_trace_node *new_node(recorder *r, mt_trace_node_kind kind, const mt_tensor *x)
{
    mt_trace_node *n = mt_trace_add_node(r->trace);
    n->kind = kind;
    copy_str(n->label, sizeof n->label, x ? x->label : "");
    if (x) {
        value_of(r->trace, &n->value, x);
        n->requires_grad = x->requires_grad;
        n->is_leaf = x->is_leaf;
        n->is_parameter = x->is_parameter;
    }
    return n;
}

static int add_leaf(recorder *r, const mt_node *acc)
{
    mt_trace_node *n = new_node(r, MT_TRACE_ACCUMULATE_GRAD, acc->variable);
    copy_str(n->backward_name, sizeof n->backward_name, "AccumulateGrad");
    put(r, node_key(acc), n->id);
    return n->id;
}

static int add_op(recorder *r, const mt_node *node, const mt_tensor *out, const mt_op_args *args)
{
    mt_trace_node *n = new_node(r, MT_TRACE_BACKWARD_FUNCTION, out);
    n->op = node->op;
    copy_str(n->op_name, sizeof n->op_name, node->op->name);
    copy_str(n->backward_name, sizeof n->backward_name, node->op->backward_name);
    copy_str(n->symbol, sizeof n->symbol, node->op->symbol);
    if (args) n->args = *args;
    n->ninputs = node->nparents;
    put(r, node_key(node), n->id);
    trace_box *b = r->box;
    if ((size_t)n->id >= b->first_edge_cap) {
        size_t cap = b->first_edge_cap ? b->first_edge_cap : 64;
        while (cap <= (size_t)n->id) cap *= 2;
        b->first_edge = mt_trace_xalloc(b->first_edge, cap, sizeof *b->first_edge);
        b->first_edge_cap = cap;
    }
    b->first_edge[n->id] = r->trace->nedges;
    return n->id;
}

static void add_edge(recorder *r, int from, int to, int operand)
{
    mt_trace_edge *e = mt_trace_add_edge(r->trace);
    e->from = from;
    e->to = to;
    e->operand = operand;
}

/* A graph node met for the first time during backward (its graph was built before recording
 * began): it and the part of the graph behind it that is not known yet are added, inputs before
 * the ops that use them, as the forward pass would have. Constants cannot be recovered from a
 * built graph (a node keeps no pointer to them), so such ops show only their graph inputs. */
static int discover(recorder *r, const mt_node *root)
{
    int known = find(r, node_key(root));
    if (known >= 0) return known;
    if (root->kind == MT_ACCUMULATE_GRAD) return add_leaf(r, root);
    int from[MT_MAX_INPUTS];
    for (int i = 0; i < root->nparents; i++)
        from[i] = root->next_functions[i] ? discover(r, root->next_functions[i]) : -1;
    int id = add_op(r, root, root->variable, NULL);
    for (int i = 0; i < root->nparents; i++)
        if (from[i] >= 0) add_edge(r, from[i], id, i);
    return id;
}

/* The node an op's input contributes: as autograd.c's parent_node decides it. */
static int input_node(recorder *r, const mt_tensor *x)
{
    if (x->grad_fn) return discover(r, x->grad_fn);
    if (x->requires_grad && x->accumulate) return discover(r, x->accumulate);
    int id = find(r, const_key(x));
    if (id >= 0) return id;
    mt_trace_node *n = new_node(r, MT_TRACE_CONSTANT, x);
    put(r, const_key(x), n->id);
    return n->id;
}

static void on_node_created(recorder *r, const mt_event *ev)
{
    int from[MT_MAX_INPUTS];
    for (int i = 0; i < ev->ninputs; i++) from[i] = input_node(r, ev->inputs[i]);
    int id = add_op(r, ev->node, ev->tensor, ev->args);
    for (int i = 0; i < ev->ninputs; i++) add_edge(r, from[i], id, i);
    r->trace->output = id;
}

static int edge_between(const recorder *r, int from, int to, int operand)
{
    const mt_trace *t = r->trace;
    if (to < 0 || t->nodes[to].kind != MT_TRACE_BACKWARD_FUNCTION) return -1;
    int first = r->box->first_edge[to];
    for (int i = first; i < t->nedges && i < first + t->nodes[to].ninputs; i++) {
        const mt_trace_edge *e = &t->edges[i];
        if (e->from == from && e->to == to && e->operand == operand) return i;
    }
    return -1;
}

static void on_walk_event(recorder *r, const mt_event *ev)
{
    mt_trace *t = r->trace;
    if (ev->kind == MT_EV_BACKWARD_BEGIN) {
        int root = discover(r, ev->node);       /* before the walk: it may add nodes */
        r->walk = mt_trace_add_walk(t);
        r->walk->traversal = ev->traversal;
        r->walk->root = root;
    }
    if (!r->walk) return;                       /* recording began inside a walk */
    mt_trace_walk *w = r->walk;
    int node = ev->node ? discover(r, ev->node) : -1;
    int parent = ev->parent ? discover(r, ev->parent) : -1;
    if (ev->kind == MT_EV_VISIT && node >= 0 && !t->nodes[node].label[0])
        /* a tensor labelled after the op that made it (d = mt_set_label(mt_add(..), "d")) */
        copy_str(t->nodes[node].label, sizeof t->nodes[node].label, ev->node->variable->label);
    mt_trace_event *e = mt_trace_add_event(t, w);
    e->kind = ev->kind;
    e->node = node;
    e->depth = ev->depth;
    e->pending = ev->pending;
    e->status = ev->status;
    switch (ev->kind) {
    case MT_EV_GRAD_PASSED:
        e->parent = parent;
        e->input_index = ev->input_index;
        e->edge = edge_between(r, parent, node, ev->input_index);
        value_of(t, &e->grad, ev->grad);
        break;
    case MT_EV_NODE_GRADS:
        e->ngrads = ev->ngrads;
        for (int i = 0; i < ev->ngrads && i < MT_MAX_INPUTS; i++)
            value_of(t, &e->grads[i], ev->grads[i]);
        break;
    case MT_EV_ACCUMULATE:
        value_of(t, &e->grad, ev->grad);
        value_of(t, &e->before, ev->before);
        value_of(t, &e->after, ev->after);
        break;
    case MT_EV_BACKWARD_END:
        w->status = ev->status;
        r->walk = NULL;
        break;
    default:
        value_of(t, &e->grad, ev->grad);        /* BEGIN's seed, VISIT's and READY's gradient */
        break;
    }
}

static void observe(const mt_event *ev, void *user)
{
    recorder *r = user;
    if (ev->kind == MT_EV_LEAF_NODE_CREATED) {
        if (find(r, node_key(ev->node)) < 0) add_leaf(r, ev->node);
    } else if (ev->kind == MT_EV_NODE_CREATED) {
        on_node_created(r, ev);
    } else {
        on_walk_event(r, ev);
    }
    if (r->prev_fn) r->prev_fn(ev, r->prev_user);   /* whoever listened before still hears */
}

/* ---- the public side ------------------------------------------------------------------------- */

mt_trace *mt_trace_begin(void)
{
    if (active) {
        mt_error("trace: already recording on this thread (call mt_trace_end first)");
        return NULL;
    }
    recorder *r = calloc(1, sizeof *r);
    if (!r) { fprintf(stderr, "mytorch: out of memory for a trace\n"); abort(); }
    r->trace = mt_trace_new();
    r->box = box_of(r->trace);
    mt_get_observer(&r->prev_fn, &r->prev_user);
    mt_set_observer(observe, r);
    active = r;
    return r->trace;
}

static recorder *recorder_of(const mt_trace *t)
{
    return active && active->trace == t ? active : NULL;
}

void mt_trace_end(mt_trace *t)
{
    recorder *r = recorder_of(t);
    if (!r) return;
    mt_set_observer(r->prev_fn, r->prev_user);
    free(r);
    active = NULL;
}

void mt_trace_set_value_limit(mt_trace *t, size_t limit) { if (t) t->value_limit = limit; }

void mt_trace_set_title(mt_trace *t, const char *title)
{
    if (t) copy_str(t->title, sizeof t->title, title);
}

int mt_trace_node_of(const mt_trace *t, const mt_tensor *x)
{
    if (!t || !x) return -1;
    const trace_box *b = box_of((mt_trace *)t);
    if (x->grad_fn) return find_in(b, node_key(x->grad_fn));
    if (x->accumulate) {
        int id = find_in(b, node_key(x->accumulate));
        if (id >= 0) return id;
    }
    return find_in(b, const_key(x));
}

void mt_trace_free(mt_trace *t)
{
    if (!t) return;
    mt_trace_end(t);
    for (int i = 0; i < t->nnodes; i++) mt_trace_value_clear(&t->nodes[i].value);
    for (int i = 0; i < t->nwalks; i++) walk_free(&t->walks[i]);
    free(t->nodes);
    free(t->edges);
    free(t->walks);
    trace_box *b = box_of(t);
    free(b->event_cap);
    free(b->keys);
    free(b->vals);
    free(b->first_edge);
    free(b);
}

const char *mt_trace_node_kind_name(mt_trace_node_kind k)
{
    switch (k) {
    case MT_TRACE_ACCUMULATE_GRAD: return "AccumulateGrad";
    case MT_TRACE_BACKWARD_FUNCTION: return "BackwardFunction";
    case MT_TRACE_CONSTANT: return "constant";
    }
    return "unknown";
}

const char *mt_event_kind_name(mt_event_kind k)
{
    switch (k) {
    case MT_EV_NODE_CREATED: return "node_created";
    case MT_EV_LEAF_NODE_CREATED: return "leaf_node_created";
    case MT_EV_BACKWARD_BEGIN: return "backward_begin";
    case MT_EV_VISIT: return "visit";
    case MT_EV_NODE_GRADS: return "node_grads";
    case MT_EV_GRAD_PASSED: return "grad_passed";
    case MT_EV_ACCUMULATE: return "accumulate";
    case MT_EV_RETURN: return "return";
    case MT_EV_READY: return "ready";
    case MT_EV_BACKWARD_END: return "backward_end";
    }
    return "unknown";
}
