/* json_check.c: mt_trace_check (json_impl.h), everything about a trace that its C types do not
 * say: that every id and index resolves, that shapes agree with data, that op nodes name
 * registered ops of the right arity, and that each event is of a known kind with its fields and
 * values in order; json_walk.c then replays each walk's order. The reader runs it on what it
 * parsed and the writer on what it is about to save, so a file that save wrote always loads.
 * Messages name the JSON path of the first thing wrong. */
#include "json_impl.h"

#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define fail mt_trace_checker_fail
#define event_fail mt_trace_checker_event_fail

/* The length of the valid UTF-8 sequence of a printable character at s, or 0 (a control byte,
 * a stray continuation byte, a truncated or overlong sequence). */
static size_t printable_at(const unsigned char *s)
{
    if (s[0] >= 0x20 && s[0] < 0x7f) return 1;
    size_t len = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
               : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (len == 3 && s[0] == 0xe0 && s[1] < 0xa0) return 0;     /* overlong */
    if (len == 4 && s[0] == 0xf0 && s[1] < 0x90) return 0;
    if (len == 2 && s[0] == 0xc2 && s[1] < 0xa0) return 0;     /* C1 controls, U+0080-U+009F */
    if (len == 3 && s[0] == 0xed && s[1] >= 0xa0) return 0;    /* surrogates, U+D800-U+DFFF */
    if (len == 4 && s[0] == 0xf4 && s[1] >= 0x90) return 0;    /* above U+10FFFF */
    return len;
}

/* Every message quotes text from the file (names, kinds, ops): a byte that is not printable
 * UTF-8, a terminal escape sequence say, is written as \xNN, so a message can be printed as
 * it is. */
void mt_trace_msgv(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (!err || errlen == 0) return;
    char raw[1024];
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    bool cut = n < 0 || (size_t)n >= sizeof raw;
    size_t o = 0;
    for (const unsigned char *s = (const unsigned char *)raw; *s && !cut;) {
        size_t len = printable_at(s);
        size_t need = len ? len : 4;
        if (o + need >= errlen) { cut = true; break; }
        if (len) memcpy(err + o, s, len);
        else snprintf(err + o, 5, "\\x%02x", *s);
        o += need;
        s += len ? len : 1;
    }
    err[o] = '\0';
    static const char mark[] = " [...]";
    if (cut && errlen > sizeof mark) {
        size_t at = o + sizeof mark <= errlen ? o : errlen - sizeof mark;
        while (at > 0 && ((unsigned char)err[at] & 0xc0) == 0x80) at--;  /* whole characters */
        memcpy(err + at, mark, sizeof mark);
    }
}

void mt_trace_msg(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mt_trace_msgv(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- the fields of each event kind ----------------------------------------------------------- */

unsigned mt_trace_event_fields(mt_event_kind k, mt_traversal how)
{
    bool dfs = how == MT_DFS || how == MT_DFS_LAST_FIRST;
    unsigned depth = dfs ? MT_EVF_DEPTH : 0u;
    switch (k) {
    case MT_EV_BACKWARD_BEGIN: return MT_EVF_NODE | MT_EVF_GRAD;
    case MT_EV_VISIT: return MT_EVF_NODE | MT_EVF_GRAD | depth;
    case MT_EV_NODE_GRADS: return MT_EVF_NODE | MT_EVF_GRADS | depth;
    case MT_EV_GRAD_PASSED:
        return MT_EVF_NODE | MT_EVF_PARENT | MT_EVF_EDGE | MT_EVF_OPERAND | MT_EVF_GRAD |
               (dfs ? MT_EVF_DEPTH : MT_EVF_PENDING);
    case MT_EV_ACCUMULATE: return MT_EVF_NODE | MT_EVF_GRAD | MT_EVF_BEFORE | MT_EVF_AFTER | depth;
    case MT_EV_RETURN: return MT_EVF_NODE | depth;
    case MT_EV_READY: return MT_EVF_NODE | MT_EVF_GRAD;
    case MT_EV_BACKWARD_END: return MT_EVF_NODE | MT_EVF_STATUS;
    case MT_EV_NODE_CREATED:
    case MT_EV_LEAF_NODE_CREATED: return 0;
    }
    return 0;
}

const char *mt_trace_event_field_name(unsigned bit)
{
    static const char *const names[MT_EVF_COUNT] = {
        "node", "parent", "edge", "operand", "depth", "pending", "status",
        "grad", "before", "after", "grads",
    };
    for (int i = 0; i < MT_EVF_COUNT; i++)
        if (bit == 1u << i) return names[i];
    return "?";
}

/* ---- the checker ----------------------------------------------------------------------------- */

typedef mt_trace_checker checker;

static int failv(checker *c, const char *path, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    mt_trace_msg(c->err, c->errlen, "%s: %s: %s", c->prefix, path, msg);
    return -1;
}

int mt_trace_checker_fail(checker *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(c, path, fmt, ap);
    va_end(ap);
    return -1;
}

/* fail at "nodes[i].field" or "edges[i].field" (field NULL: the object itself): the path is
 * written out only when something is wrong. */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int item_fail(checker *c, const char *array, int i, const char *field, const char *fmt,
                     ...)
{
    char p[96];
    snprintf(p, sizeof p, "%s[%d]%s%s", array, i, field ? "." : "", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    failv(c, p, fmt, ap);
    va_end(ap);
    return -1;
}
#define node_fail(c, i, ...) item_fail((c), "nodes", (i), __VA_ARGS__)
#define edge_fail(c, i, ...) item_fail((c), "edges", (i), __VA_ARGS__)

/* "walks[1].events[7]" or "walks[1].events[7].node" */
static const char *evpath(char *buf, size_t n, int wi, size_t ei, const char *field)
{
    snprintf(buf, n, "walks[%d].events[%zu]%s%s", wi, ei, field ? "." : "", field ? field : "");
    return buf;
}

int mt_trace_checker_event_fail(checker *c, int wi, size_t ei, const char *field,
                                const char *fmt, ...)
{
    char p[96];
    evpath(p, sizeof p, wi, ei, field);
    va_list ap;
    va_start(ap, fmt);
    failv(c, p, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *kind_name(const checker *c, int node)
{
    return mt_trace_node_kind_name(c->t->nodes[node].kind);
}

static bool is_node(const checker *c, int id) { return id >= 0 && id < c->t->nnodes; }

static bool shape_ok(mt_shape s, int min_dim)
{
    if (s.ndim < 0 || s.ndim > MT_MAX_DIMS) return false;
    for (int i = 0; i < s.ndim; i++)
        if (s.dim[i] < min_dim) return false;
    return true;
}

static int check_shape(checker *c, const char *path, mt_shape s, int min_dim)
{
    if (s.ndim < 0 || s.ndim > MT_MAX_DIMS)
        return fail(c, path, "%d dimensions (a shape has 0 to %d)", s.ndim, MT_MAX_DIMS);
    for (int i = 0; i < s.ndim; i++)
        if (s.dim[i] < min_dim)
            return fail(c, path, "dimension %d is %d (%s)", i, s.dim[i],
                        min_dim < 0 ? "at least -1" : "negative");
    return 0;
}

/* A value: its shape a shape, numel its product, data all of it or (summarised) a head.
 * value_ok says whether it is, quickly; check_value says what is wrong (and where). */
static bool value_ok(const mt_trace_value *v, bool required)
{
    if (!v->present) return !required && v->ndata == 0;
    if (!shape_ok(v->shape, 0)) return false;
    size_t n = mt_shape_numel(v->shape);
    return n != SIZE_MAX && n <= MT_TRACE_MAX_NUMEL && v->numel == n && v->ndata <= n &&
           (v->summarised || v->ndata == n) && (v->ndata == 0 || v->data);
}

static int check_value(checker *c, const char *path, const mt_trace_value *v, bool required)
{
    char p[160];
    if (value_ok(v, required)) return 0;
    if (!v->present) {
        if (required) return fail(c, path, "missing (null), but this event always carries one");
        return fail(c, path, "absent but holds %zu values", v->ndata);
    }
    snprintf(p, sizeof p, "%s.shape", path);
    if (check_shape(c, p, v->shape, 0)) return -1;
    size_t n = mt_shape_numel(v->shape);
    char sb[64];
    mt_shape_str(v->shape, sb, sizeof sb);
    if (n == SIZE_MAX || n > MT_TRACE_MAX_NUMEL)
        return fail(c, p, "%s has more elements than any tensor can (at most 2^53)", sb);
    snprintf(p, sizeof p, "%s.numel", path);
    if (v->numel != n)
        return fail(c, p, "%zu, but shape %s has %zu element%s", v->numel, sb, n,
                    n == 1 ? "" : "s");
    snprintf(p, sizeof p, "%s.data", path);
    if (v->ndata > v->numel)
        return fail(c, p, "%zu values for a tensor of %zu element%s", v->ndata, v->numel,
                    v->numel == 1 ? "" : "s");
    if (!v->summarised && v->ndata != v->numel)
        return fail(c, p, "%zu values, but a whole value (summarised false) holds all %zu",
                    v->ndata, v->numel);
    return fail(c, p, "%zu values but no data", v->ndata);
}

static bool terminated(const char *s, size_t n) { return memchr(s, '\0', n) != NULL; }

/* ---- nodes, edges, the output ---------------------------------------------------------------- */

static int check_op_node(checker *c, int i, const mt_trace_node *n)
{
    if (!n->op || !mt_op_registered(n->op))
        return node_fail(c, i, "op", "\"%s\" is not an op in the registry", n->op_name);
    if (strcmp(n->op_name, n->op->name) != 0)
        return node_fail(c, i, "op", "\"%s\", but the node's op is %s", n->op_name, n->op->name);
    if (strcmp(n->backward_name, n->op->backward_name) != 0)
        return node_fail(c, i, "backward_name", "\"%s\", but %s's node is %s", n->backward_name,
                         n->op->name, n->op->backward_name);
    if (strcmp(n->symbol, n->op->symbol) != 0)
        return node_fail(c, i, "symbol", "\"%s\", but %s's symbol is \"%s\"", n->symbol,
                         n->op->name, n->op->symbol);
    if (n->ninputs != n->op->arity)
        return node_fail(c, i, "ninputs", "%d, but %s takes %d input%s", n->ninputs, n->op->name,
                         n->op->arity, n->op->arity == 1 ? "" : "s");
    if (n->is_leaf) return node_fail(c, i, "is_leaf", "true, but an op's output is not a leaf");
    if (!shape_ok(n->args.shape, -1)) {
        char p[64];
        snprintf(p, sizeof p, "nodes[%d].args.shape", i);
        return check_shape(c, p, n->args.shape, -1);
    }
    return 0;
}

static int check_node(checker *c, int i)
{
    const mt_trace_node *n = &c->t->nodes[i];
    if (n->id != i)
        return node_fail(c, i, "id", "%d (ids are 0, 1, 2, ... in order: expected %d)", n->id, i);
    if (n->kind != MT_TRACE_ACCUMULATE_GRAD && n->kind != MT_TRACE_BACKWARD_FUNCTION &&
        n->kind != MT_TRACE_CONSTANT)
        return node_fail(c, i, "kind", "unknown node kind %d", (int)n->kind);
    if (!terminated(n->op_name, sizeof n->op_name) || !terminated(n->label, sizeof n->label) ||
        !terminated(n->backward_name, sizeof n->backward_name) ||
        !terminated(n->symbol, sizeof n->symbol))
        return node_fail(c, i, NULL, "a name that is not NUL-terminated");
    if (n->kind == MT_TRACE_BACKWARD_FUNCTION) {
        if (check_op_node(c, i, n)) return -1;
    } else {
        if (n->op || n->op_name[0])
            return node_fail(c, i, "op", "\"%s\" on %s node (only BackwardFunction nodes have an "
                             "op)", n->op_name, kind_name(c, i));
        if (n->ninputs)
            return node_fail(c, i, "ninputs", "%d on %s node", n->ninputs, kind_name(c, i));
        const char *want = n->kind == MT_TRACE_ACCUMULATE_GRAD ? "AccumulateGrad" : "";
        if (strcmp(n->backward_name, want) != 0)
            return node_fail(c, i, "backward_name", "\"%s\" on %s node (expected \"%s\")",
                             n->backward_name, kind_name(c, i), want);
        if (n->symbol[0])
            return node_fail(c, i, "symbol", "\"%s\" on %s node (only ops have a symbol)",
                             n->symbol, kind_name(c, i));
        if (!n->is_leaf)
            return node_fail(c, i, "is_leaf", "false, but %s node is a leaf", kind_name(c, i));
    }
    if (n->is_parameter && n->kind != MT_TRACE_ACCUMULATE_GRAD)
        return node_fail(c, i, "is_parameter", "true on %s node (a parameter is a leaf that "
                         "requires grad)", kind_name(c, i));
    if (n->kind == MT_TRACE_CONSTANT && n->requires_grad)
        return node_fail(c, i, "requires_grad", "true on a constant (a constant is a tensor that "
                         "requires no grad)");
    if (!value_ok(&n->value, true)) {
        char p[64];
        snprintf(p, sizeof p, "nodes[%d].value", i);
        return check_value(c, p, &n->value, true);
    }
    return 0;
}

/* Each edge runs from an earlier node into one operand of a later op node; no operand has two.
 * An operand may have none: a constant of a graph built before recording began. */
static int check_edges(checker *c)
{
    const mt_trace *t = c->t;
    for (int i = 0; i < t->nedges; i++) {
        const mt_trace_edge *e = &t->edges[i];
        if (!is_node(c, e->from))
            return edge_fail(c, i, "from", "%d is not a node (the trace has %d)", e->from,
                             t->nnodes);
        if (!is_node(c, e->to))
            return edge_fail(c, i, "to", "%d is not a node (the trace has %d)", e->to, t->nnodes);
        const mt_trace_node *to = &t->nodes[e->to];
        if (to->kind != MT_TRACE_BACKWARD_FUNCTION)
            return edge_fail(c, i, "to", "node %d is %s, not a BackwardFunction (only ops have "
                             "inputs)", e->to, kind_name(c, e->to));
        if (e->operand < 0 || e->operand >= to->ninputs)
            return edge_fail(c, i, "operand", "%d, but node %d (%s) has %d input%s", e->operand,
                             e->to, to->op_name, to->ninputs, to->ninputs == 1 ? "" : "s");
        if (e->from >= e->to)
            return edge_fail(c, i, NULL, "from node %d into node %d: an op's inputs are recorded "
                             "before it", e->from, e->to);
        int *slot = &c->edge_of[e->to * MT_MAX_INPUTS + e->operand];
        if (*slot >= 0)
            return edge_fail(c, i, NULL, "a second edge into operand %d of node %d (edges[%d] is "
                             "the first)", e->operand, e->to, *slot);
        *slot = i;
    }
    if (t->output < -1 || t->output >= t->nnodes)
        return fail(c, "output", "%d is not a node (the trace has %d)", t->output, t->nnodes);
    if (t->output >= 0 && t->nodes[t->output].kind != MT_TRACE_BACKWARD_FUNCTION)
        return fail(c, "output", "node %d is %s; the output is the node of the last op made",
                    t->output, kind_name(c, t->output));
    return 0;
}

/* ---- one event on its own -------------------------------------------------------------------- */

/* Whether v (when present) has the shape of node's value. */
static bool shape_of_ok(const checker *c, const mt_trace_value *v, int node)
{
    const mt_trace_value *nv = &c->t->nodes[node].value;
    return !v->present || !nv->present || mt_shape_equal(v->shape, nv->shape);
}

/* A value an event carries (grads[k] when k >= 0): well formed, and of the shape of `owner`
 * (the node it is the gradient or .grad of; -1: not compared). */
static int check_event_value(checker *c, int wi, size_t ei, const char *field, int k,
                             const mt_trace_value *v, bool required, int owner)
{
    if (value_ok(v, required) && (owner < 0 || shape_of_ok(c, v, owner))) return 0;
    char p[112];
    evpath(p, sizeof p, wi, ei, field);
    if (k >= 0) {
        size_t n = strlen(p);
        snprintf(p + n, sizeof p - n, "[%d]", k);
    }
    if (check_value(c, p, v, required)) return -1;
    char a[64], b[64];
    return fail(c, p, "shape %s, but node %d has shape %s", mt_shape_str(v->shape, a, sizeof a),
                owner, mt_shape_str(c->t->nodes[owner].value.shape, b, sizeof b));
}

/* A field the event's kind does not have must hold its default. */
static int check_unused(checker *c, int wi, size_t ei, const mt_trace_event *e, unsigned fields,
                        const char *trav)
{
    const struct { unsigned bit; bool set; } used[] = {
        { MT_EVF_PARENT, e->parent != -1 },   { MT_EVF_EDGE, e->edge != -1 },
        { MT_EVF_OPERAND, e->input_index != 0 }, { MT_EVF_DEPTH, e->depth != 0 },
        { MT_EVF_PENDING, e->pending != 0 },  { MT_EVF_STATUS, e->status != 0 },
        { MT_EVF_GRAD, e->grad.present },     { MT_EVF_BEFORE, e->before.present },
        { MT_EVF_AFTER, e->after.present },   { MT_EVF_GRADS, e->ngrads != 0 },
    };
    for (int i = 0; i < MT_COUNT(used); i++)
        if (used[i].set && !(fields & used[i].bit)) {
            const char *name = mt_trace_event_field_name(used[i].bit);
            return event_fail(c, wi, ei, name, "set, but a %s event of a %s walk has no %s",
                              mt_event_kind_name(e->kind), trav, name);
        }
    if (e->ngrads == 0)
        for (int k = 0; k < MT_MAX_INPUTS; k++)
            if (e->grads[k].present)
                return event_fail(c, wi, ei, "grads", "a gradient beyond ngrads");
    return 0;
}

/* The values an event carries: well formed, and of the shape of the node they belong to. */
static int check_event_values(checker *c, int wi, size_t ei, const mt_trace_event *e, int root)
{
    bool needs_grad = e->kind != MT_EV_NODE_GRADS && e->kind != MT_EV_RETURN &&
                      e->kind != MT_EV_BACKWARD_END;
    int owner = e->kind == MT_EV_GRAD_PASSED ? e->parent : e->kind == MT_EV_BACKWARD_BEGIN ? root
                                                                                         : e->node;
    if (check_event_value(c, wi, ei, "grad", -1, &e->grad, needs_grad, owner) ||
        check_event_value(c, wi, ei, "before", -1, &e->before, false, e->node) ||
        check_event_value(c, wi, ei, "after", -1, &e->after, e->kind == MT_EV_ACCUMULATE, e->node))
        return -1;
    if (e->ngrads < 0 || e->ngrads > MT_MAX_INPUTS)
        return event_fail(c, wi, ei, "grads", "%d gradients (at most %d)", e->ngrads,
                          MT_MAX_INPUTS);
    const mt_trace_node *n = &c->t->nodes[e->node];
    for (int k = 0; k < e->ngrads; k++) {
        int edge = k < n->ninputs && n->kind == MT_TRACE_BACKWARD_FUNCTION
                 ? c->edge_of[e->node * MT_MAX_INPUTS + k] : -1;
        int input = edge >= 0 ? c->t->edges[edge].from : -1;
        if (check_event_value(c, wi, ei, "grads", k, &e->grads[k], false, input)) return -1;
    }
    return 0;
}

/* Kind, ids and values of event ei of walk wi, before its place in the order is looked at. */
static int check_event(checker *c, int wi, size_t ei)
{
    const mt_trace_walk *w = &c->t->walks[wi];
    const mt_trace_event *e = &w->events[ei];
    const char *trav = mt_traversal_name(w->traversal);
    if ((int)e->kind < (int)MT_EV_NODE_CREATED || (int)e->kind > (int)MT_EV_BACKWARD_END)
        return event_fail(c, wi, ei, "kind", "unknown event kind %d", (int)e->kind);
    unsigned fields = mt_trace_event_fields(e->kind, w->traversal);
    const char *kind = mt_event_kind_name(e->kind);
    size_t after = w->nevents - ei - 1;
    if (!fields)
        return event_fail(c, wi, ei, "kind", "a %s event inside a walk (walks hold backward "
                          "events only)", kind);
    if (ei == 0 && e->kind != MT_EV_BACKWARD_BEGIN)
        return event_fail(c, wi, ei, "kind", "%s, but a walk starts with backward_begin", kind);
    if (ei > 0 && e->kind == MT_EV_BACKWARD_BEGIN)
        return event_fail(c, wi, ei, "kind", "a second backward_begin (a walk is one backward "
                          "pass)");
    if (after > 0 && e->kind == MT_EV_BACKWARD_END)
        return event_fail(c, wi, ei, "kind", "backward_end, but %zu more event%s (a walk ends "
                          "with it)", after, after == 1 ? " follows" : "s follow");
    if (after == 0 && e->kind != MT_EV_BACKWARD_END)
        return event_fail(c, wi, ei, "kind", "%s, but a walk ends with backward_end", kind);
    if (check_unused(c, wi, ei, e, fields, trav)) return -1;
    if (!is_node(c, e->node))
        return event_fail(c, wi, ei, "node", "%d is not a node (the trace has %d)", e->node,
                          c->t->nnodes);
    if ((fields & MT_EVF_PARENT) && !is_node(c, e->parent))
        return event_fail(c, wi, ei, "parent", "%d is not a node (the trace has %d)", e->parent,
                          c->t->nnodes);
    if ((fields & MT_EVF_EDGE) && (e->edge < 0 || e->edge >= c->t->nedges))
        return event_fail(c, wi, ei, "edge", "%d is not an edge (the trace has %d)", e->edge,
                          c->t->nedges);
    if ((e->kind == MT_EV_BACKWARD_BEGIN || e->kind == MT_EV_BACKWARD_END) && e->node != w->root)
        return event_fail(c, wi, ei, "node", "%d, but the walk's root is node %d", e->node,
                          w->root);
    if (e->kind == MT_EV_BACKWARD_END && e->status != w->status)
        return event_fail(c, wi, ei, "status", "%d, but the walk's status is %d", e->status,
                          w->status);
    return check_event_values(c, wi, ei, e, w->root);
}

static int check_walk(checker *c, int wi)
{
    const mt_trace_walk *w = &c->t->walks[wi];
    char p[48];
    snprintf(p, sizeof p, "walks[%d].traversal", wi);
    if (w->traversal != MT_DFS && w->traversal != MT_TOPO && w->traversal != MT_DFS_LAST_FIRST)
        return fail(c, p, "unknown traversal %d", (int)w->traversal);
    snprintf(p, sizeof p, "walks[%d].root", wi);
    if (!is_node(c, w->root))
        return fail(c, p, "%d is not a node (the trace has %d)", w->root, c->t->nnodes);
    if (c->t->nodes[w->root].kind == MT_TRACE_CONSTANT)
        return fail(c, p, "node %d is a constant (backward starts at a tensor that requires grad)",
                    w->root);
    snprintf(p, sizeof p, "walks[%d].status", wi);
    if (w->status != 0 && w->status != -1)
        return fail(c, p, "%d (0, or -1 after an error)", w->status);
    snprintf(p, sizeof p, "walks[%d].events", wi);
    if (w->nevents < 2)
        return fail(c, p, "%zu event%s; a walk has at least backward_begin and backward_end",
                    w->nevents, w->nevents == 1 ? "" : "s");
    for (size_t ei = 0; ei < w->nevents; ei++)
        if (check_event(c, wi, ei)) return -1;

    /* the open visits of a DFS are at most its events; the ready nodes at most the nodes */
    size_t n = w->nevents > (size_t)c->t->nnodes ? w->nevents : (size_t)c->t->nnodes;
    c->stack = malloc(n * sizeof *c->stack);
    c->lastop = malloc(n * sizeof *c->lastop);
    c->passes = malloc(n * sizeof *c->passes);
    int rc = -1;
    if (!c->stack || !c->lastop || !c->passes) fail(c, p, "out of memory to check the walk");
    else rc = w->traversal == MT_TOPO ? mt_trace_check_topo(c, wi) : mt_trace_check_dfs(c, wi);
    free(c->stack);
    free(c->lastop);
    free(c->passes);
    c->stack = c->lastop = c->passes = NULL;
    return rc;
}

int mt_trace_check(const mt_trace *t, const char *prefix, char *err, size_t errlen)
{
    checker c = { .t = t, .prefix = prefix ? prefix : "trace", .err = err, .errlen = errlen };
    if (!t) return fail(&c, "trace", "NULL");
    if (t->version != MT_TRACE_VERSION)
        return fail(&c, "version", "%d, but this build reads and writes version %d", t->version,
                    MT_TRACE_VERSION);
    if (!terminated(t->title, sizeof t->title)) return fail(&c, "title", "not NUL-terminated");
    if (t->nnodes < 0 || t->nedges < 0 || t->nwalks < 0 || (t->nnodes && !t->nodes) ||
        (t->nedges && !t->edges) || (t->nwalks && !t->walks))
        return fail(&c, "trace", "negative or missing arrays");
    for (int i = 0; i < t->nnodes; i++)
        if (check_node(&c, i)) return -1;
    size_t slots = (size_t)t->nnodes * MT_MAX_INPUTS;
    c.edge_of = malloc((slots ? slots : 1) * sizeof *c.edge_of);
    c.count = malloc(((size_t)t->nnodes + 1) * sizeof *c.count);
    c.mark = malloc((size_t)t->nnodes + 1);
    int rc = -1;
    if (!c.edge_of || !c.count || !c.mark) {
        fail(&c, "trace", "out of memory to check it");
        goto done;
    }
    for (size_t i = 0; i < slots; i++) c.edge_of[i] = -1;
    if (check_edges(&c)) goto done;
    for (int i = 0; i < t->nwalks; i++)
        if (check_walk(&c, i)) goto done;
    rc = 0;
done:
    free(c.edge_of);
    free(c.count);
    free(c.mark);
    return rc;
}
