/* dot.c: mt_graph_write_dot (trace.h), the live graph behind a tensor as Graphviz DOT, left to
 * right from the leaves to the output, the way ggml's graph dump and micrograd's draw_dot show
 * one. It walks grad_fn / next_functions and draws; it never changes the graph.
 *
 * Constants: a node keeps no pointer to its inputs, only to their nodes, and a constant input
 * has none (next_functions[i] is NULL); its value is gone from the graph (an op's context holds
 * only what its backward needs). So each NULL parent is drawn as its own small "constant" stub,
 * one per operand, with the shape the op recorded for that input (ctx.in_shape). A trace
 * (mt_trace_begin) is the way to keep constants' values: it sees them while forward runs. */
#include "mytorch/trace.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SHORT_VALUES 6   /* a value with up to this many elements is printed whole */

/* ---- the nodes reached from the root, each once ---------------------------------------------- */

/* An open-addressing set of node pointers (graphs can be deep: a linear search per node would
 * make a 200k-node chain quadratic). */
typedef struct node_set {
    const mt_node **slots;
    size_t cap, n;
} node_set;

static size_t slot_of(const node_set *s, const mt_node *n)
{
    size_t i = (size_t)(((uintptr_t)n >> 4) * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
    while (s->slots[i] && s->slots[i] != n) i = (i + 1) & (s->cap - 1);
    return i;
}

/* 1 when n was added, 0 when it was there already, -1 when out of memory */
static int set_add(node_set *s, const mt_node *n)
{
    if ((s->n + 1) * 2 > s->cap) {                 /* at most half full */
        node_set bigger = { NULL, s->cap ? s->cap * 2 : 64, 0 };
        bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
        if (!bigger.slots) return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i]) {
                bigger.slots[slot_of(&bigger, s->slots[i])] = s->slots[i];
                bigger.n++;
            }
        free(s->slots);
        *s = bigger;
    }
    size_t i = slot_of(s, n);
    if (s->slots[i]) return 0;
    s->slots[i] = n;
    s->n++;
    return 1;
}

/* The nodes behind root in depth-first order, first input first (so that the file reads in the
 * order forward made them, roughly): *out is a malloc'd array of *n nodes. */
static int collect(const mt_node *root, const mt_node ***out, size_t *n)
{
    node_set seen = { 0 };
    const mt_node **stack = NULL, **order = NULL;
    size_t top = 0, stack_cap = 0, count = 0, order_cap = 0;
    int rc = -1;
    if (set_add(&seen, root) < 0) goto done;
    if (!(stack = malloc(sizeof *stack * (stack_cap = 64)))) goto done;
    stack[top++] = root;
    while (top) {
        const mt_node *node = stack[--top];
        if (count == order_cap) {
            size_t cap = order_cap ? order_cap * 2 : 64;
            const mt_node **bigger = realloc(order, cap * sizeof *order);
            if (!bigger) goto done;
            order = bigger;
            order_cap = cap;
        }
        order[count++] = node;
        /* pushed last input first, so that the first input is popped first */
        for (int i = node->nparents - 1; i >= 0; i--) {
            const mt_node *p = node->next_functions[i];
            if (!p) continue;
            int added = set_add(&seen, p);
            if (added < 0) goto done;
            if (!added) continue;
            if (top == stack_cap) {
                const mt_node **bigger = realloc(stack, 2 * stack_cap * sizeof *stack);
                if (!bigger) goto done;
                stack = bigger;
                stack_cap *= 2;
            }
            stack[top++] = p;
        }
    }
    rc = 0;
done:
    free(seen.slots);
    free(stack);
    if (rc == 0) {
        *out = order;
        *n = count;
    } else {
        free(order);
    }
    return rc;
}

/* ---- label text ------------------------------------------------------------------------------ */

/* A label under construction: plain text with real newlines; escaped only when written. */
typedef struct text {
    char   s[512];
    size_t n;
} text;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(text *t, const char *fmt, ...)
{
    if (t->n >= sizeof t->s - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->s + t->n, sizeof t->s - t->n, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    t->n += (size_t)k;
    if (t->n > sizeof t->s - 1) t->n = sizeof t->s - 1;   /* cut: the label is only a label */
}

/* "name 1.5", "name [1, 2, 3]" or, for more than SHORT_VALUES elements, "name min -1 max 2" */
static void put_values(text *t, const char *name, const double *x, size_t numel)
{
    if (numel == 1) {
        put(t, "\n%s %.4g", name, x[0]);
        return;
    }
    if (numel <= SHORT_VALUES) {
        put(t, "\n%s [", name);
        for (size_t i = 0; i < numel; i++) put(t, "%s%.4g", i ? ", " : "", x[i]);
        put(t, "]");
        return;
    }
    double lo = x[0], hi = x[0];
    for (size_t i = 1; i < numel && !isnan(lo); i++) {
        if (isnan(x[i])) lo = hi = x[i];             /* a NaN anywhere shows as min nan */
        else if (x[i] < lo) lo = x[i];
        else if (x[i] > hi) hi = x[i];
    }
    put(t, "\n%s min %.4g max %.4g", name, lo, hi);
}

static void put_shape(text *t, mt_shape s)
{
    char b[64];
    if (s.ndim > 0) put(t, "\nshape %s", mt_shape_str(s, b, sizeof b));
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
               : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || len > n || (len == 2 && s[0] < 0xC2)) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

/* Writes s as the inside of a DOT double-quoted string: quotes and backslashes escaped, a
 * newline as DOT's \n line break, other control characters dropped and bytes that are not
 * UTF-8 as '?' (dot refuses a file that is not UTF-8). */
static void write_escaped(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') { fputc('\\', f); fputc((int)c, f); i++; continue; }
        if (c == '\n') { fputs("\\n", f); i++; continue; }
        if (c < 0x20 || c == 0x7f) { i++; continue; }
        size_t len = utf8_len(p + i, n - i);
        if (len == 0) { fputc('?', f); i++; continue; }
        fwrite(p + i, 1, len, f);
        i += len;
    }
}

/* ---- drawing --------------------------------------------------------------------------------- */

/* How each kind of node looks: ops are boxes, leaves that require grad green ellipses,
 * parameters gold double ellipses, constants small grey notes. */
static const char OP_STYLE[] = "shape=box, style=\"rounded,filled\", fillcolor=\"#dbe8fb\"";
static const char LEAF_STYLE[] = "shape=ellipse, style=filled, fillcolor=\"#d5f0d0\"";
static const char PARAM_STYLE[] =
    "shape=ellipse, style=filled, fillcolor=\"#fbe7a6\", peripheries=2";
static const char CONST_STYLE[] =
    "shape=note, style=filled, fillcolor=\"#eeeeee\", fontsize=9, fontcolor=\"#555555\"";

static void write_node(FILE *f, const char *prefix, uint32_t id, const text *label,
                       const char *style, bool is_root)
{
    fprintf(f, "  %s%u [label=\"", prefix, (unsigned)id);
    write_escaped(f, label->s);
    fprintf(f, "\", %s%s];\n", style, is_root ? ", penwidth=2.5" : "");
}

/* A tensor that has no node of its own: a constant root, or a leaf no op has used yet. */
static void write_lone_tensor(FILE *f, const mt_tensor *x)
{
    text t = { .n = 0 };
    put(&t, "%s", x->label[0] ? x->label : (x->requires_grad ? "leaf" : "constant"));
    put_shape(&t, x->shape);
    put_values(&t, "value", x->data, x->numel);
    if (x->grad) put_values(&t, "grad", x->grad->data, x->grad->numel);
    write_node(f, "t", x->id, &t,
               x->is_parameter ? PARAM_STYLE : x->requires_grad ? LEAF_STYLE : CONST_STYLE, true);
}

static void write_leaf(FILE *f, const mt_node *node, bool is_root)
{
    const mt_tensor *x = node->variable;
    text t = { .n = 0 };
    put(&t, "%s\n%s", x->label[0] ? x->label : "leaf",
        x->is_parameter ? "parameter" : "AccumulateGrad");
    put_shape(&t, x->shape);
    put_values(&t, "value", x->data, x->numel);
    if (x->grad) put_values(&t, "grad", x->grad->data, x->grad->numel);
    else put(&t, "\ngrad None");
    write_node(f, "n", node->id, &t, x->is_parameter ? PARAM_STYLE : LEAF_STYLE, is_root);
}

/* An op's node, its constant stubs and the edges from its inputs, labelled with the operand
 * index when the op has more than one. */
static void write_op(FILE *f, const mt_node *node, bool is_root)
{
    const mt_tensor *y = node->variable;
    text t = { .n = 0 };
    if (y && y->label[0]) put(&t, "%s = ", y->label);
    put(&t, "%s  %s", node->op->symbol, node->op->backward_name);
    if (y) {
        put_shape(&t, y->shape);
        put_values(&t, "value", y->data, y->numel);
    }
    write_node(f, "n", node->id, &t, OP_STYLE, is_root);
    for (int i = 0; i < node->nparents; i++) {
        const mt_node *p = node->next_functions[i];
        char from[48];
        if (p) {
            snprintf(from, sizeof from, "n%u", (unsigned)p->id);
        } else {
            char b[64];
            snprintf(from, sizeof from, "k%u_%d", (unsigned)node->id, i);
            fprintf(f, "  %s [label=\"constant\\nshape %s\", %s];\n", from,
                    mt_shape_str(node->ctx.in_shape[i], b, sizeof b), CONST_STYLE);
        }
        fprintf(f, "  %s -> n%u", from, (unsigned)node->id);
        if (node->nparents > 1) fprintf(f, " [label=\"%d\"]", i);
        fputs(";\n", f);
    }
}

int mt_graph_write_dot(const mt_tensor *root, FILE *f)
{
    if (!root || !f) {
        mt_error("graph_write_dot: NULL %s", !root ? "tensor" : "file");
        return -1;
    }
    const mt_node *top = root->grad_fn ? root->grad_fn
                       : root->requires_grad ? root->accumulate : NULL;
    const mt_node **nodes = NULL;
    size_t n = 0;
    if (top && collect(top, &nodes, &n) != 0) {
        mt_error("graph_write_dot: out of memory for the graph's nodes");
        return -1;
    }
    errno = 0;
    fputs("digraph mytorch {\n"
          "  rankdir=LR;\n"
          "  node [fontname=\"DejaVu Sans\", fontsize=11];\n"
          "  edge [fontname=\"DejaVu Sans\", fontsize=9, color=\"#444444\"];\n", f);
    if (!top) write_lone_tensor(f, root);
    for (size_t i = 0; i < n; i++) {
        if (nodes[i]->kind == MT_ACCUMULATE_GRAD) write_leaf(f, nodes[i], nodes[i] == top);
        else write_op(f, nodes[i], nodes[i] == top);
    }
    fputs("}\n", f);
    free(nodes);
    if (ferror(f) || fflush(f) != 0) {
        mt_error("graph_write_dot: write error: %s", errno ? strerror(errno) : "stream error");
        return -1;
    }
    return 0;
}
