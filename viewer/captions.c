/* captions.c: the words and numbers of each step. Names for nodes ("a × b"), values as numbers,
 * the one-line caption that says what the engine just did, and the chain rule of the step in
 * numbers, from the registry's local derivatives (op.h: local_text, local_grad). */
#include "viewer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* appends to buf[n] at *len, never past its end */
static void add(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
    if (*len >= n) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, n - *len, fmt, ap);
    va_end(ap);
    if (k > 0) *len = *len + (size_t)k < n ? *len + (size_t)k : n - 1;
}

/* ---- numbers --------------------------------------------------------------------------------- */

void vw_format_number(double x, char *buf, size_t n)
{
    if (isnan(x)) snprintf(buf, n, "nan");
    else if (isinf(x)) snprintf(buf, n, x > 0 ? "inf" : "-inf");
    else snprintf(buf, n, "%.4g", x == 0 ? 0.0 : x);   /* no "-0" */
}

bool vw_value_small(const mt_trace_value *v)
{
    return v && v->present && v->numel <= VW_SMALL_NUMEL && !v->summarised && v->ndata == v->numel;
}

static void format_shape(const mt_shape *s, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    add(buf, n, &len, "(");
    for (int i = 0; i < s->ndim && i < MT_MAX_DIMS; i++)
        add(buf, n, &len, "%s%d", i ? ", " : "", s->dim[i]);
    add(buf, n, &len, s->ndim == 1 ? ",)" : ")");
}

void vw_format_value(const mt_trace_value *v, char *buf, size_t n)
{
    if (!v || !v->present) { snprintf(buf, n, "—"); return; }
    if (!vw_value_small(v)) { format_shape(&v->shape, buf, n); return; }
    char x[32];
    size_t len = 0;
    buf[0] = 0;
    if (v->shape.ndim == 0) { vw_format_number(v->data[0], buf, n); return; }
    int cols = v->shape.dim[v->shape.ndim - 1], rows = cols > 0 ? (int)v->numel / cols : 0;
    bool matrix = v->shape.ndim >= 2;
    add(buf, n, &len, "[");
    for (int r = 0; r < rows; r++) {
        if (matrix) add(buf, n, &len, "%s[", r ? ", " : "");
        for (int c = 0; c < cols; c++) {
            vw_format_number(v->data[r * cols + c], x, sizeof x);
            add(buf, n, &len, "%s%s", c ? ", " : "", x);
        }
        if (matrix) add(buf, n, &len, "]");
    }
    add(buf, n, &len, "]");
}

/* ---- names ----------------------------------------------------------------------------------- */

/* a name that reads as one term: no spaces (so no infix operator), not already transposed */
static bool atomic(const char *s)
{
    return !strchr(s, ' ') && !strstr(s, "ᵀ");
}

static bool infix(const char *sym)
{
    static const char *const ops[] = { "+", "−", "×", "÷", "@", "^" };
    for (int i = 0; i < MT_COUNT(ops); i++)
        if (strcmp(sym, ops[i]) == 0) return true;
    return false;
}


/* "a × b", "−a", "aᵀ", "tanh(a)": op node nd applied to the k names in[] */
static void apply_text(const mt_trace_node *nd, char in[][VW_NAME_MAX], int k, char *expr, size_t n)
{
    const char *sym = nd->symbol[0] ? nd->symbol : nd->op_name;
    bool wrap = k == 1 && !atomic(in[0]);            /* −(a × b), (a × b)ᵀ */
    if (k == 2 && infix(sym)) snprintf(expr, n, "%s %s %s", in[0], sym, in[1]);
    else if (k == 1 && strcmp(sym, "−") == 0) snprintf(expr, n, wrap ? "−(%s)" : "−%s", in[0]);
    else if (k == 1 && strcmp(sym, "ᵀ") == 0) snprintf(expr, n, wrap ? "(%s)ᵀ" : "%sᵀ", in[0]);
    else if (k == 1) snprintf(expr, n, "%s(%s)", sym, in[0]);
    else if (k == 3) snprintf(expr, n, "%s(%s, %s, %s)", sym, in[0], in[1], in[2]);
    else snprintf(expr, n, "%s(…)", sym);
}

/* Writes the name; true when it is made of labels only (an expression of v<id>s is no help). */
static bool name_depth(const vw_model *m, int node, char *buf, size_t n, int depth)
{
    const mt_trace *t = m->trace;
    buf[0] = 0;
    if (node < 0 || node >= t->nnodes) { snprintf(buf, n, "?"); return false; }
    const mt_trace_node *nd = &t->nodes[node];
    if (nd->label[0]) { snprintf(buf, n, "%s", nd->label); return true; }
    if (nd->kind != MT_TRACE_BACKWARD_FUNCTION || depth > 2 || nd->ninputs < 1) {
        snprintf(buf, n, "v%d", node);
        return false;
    }
    char in[MT_MAX_INPUTS][VW_NAME_MAX];
    int k = nd->ninputs < MT_MAX_INPUTS ? nd->ninputs : MT_MAX_INPUTS;
    for (int i = 0; i < k; i++) {
        char raw[VW_NAME_MAX];
        if (!name_depth(m, m->inputs[node][i], raw, sizeof raw, depth + 1)) {
            snprintf(buf, n, "v%d", node);
            return false;
        }
        if (atomic(raw) || k == 1) snprintf(in[i], sizeof in[i], "%s", raw);
        else snprintf(in[i], sizeof in[i], "(%.*s)", (int)sizeof in[i] - 3, raw);
    }
    char expr[4 * VW_NAME_MAX];
    apply_text(nd, in, k, expr, sizeof expr);
    if (strlen(expr) <= 20) {                         /* bytes: a short expression */
        snprintf(buf, n, "%s", expr);
        return true;
    }
    snprintf(buf, n, "v%d", node);
    return false;
}

void vw_node_name(const vw_model *m, int node, char *buf, size_t n)
{
    name_depth(m, node, buf, n, 0);
}

/* the name as a term of a formula: "(a × b)" where it has spaces */
static void term(const vw_model *m, int node, char *buf, size_t n)
{
    char raw[VW_NAME_MAX];
    vw_node_name(m, node, raw, sizeof raw);
    if (atomic(raw)) snprintf(buf, n, "%s", raw);
    else snprintf(buf, n, "(%s)", raw);
}

static int root_of(const vw_model *m, const vw_derived *d)
{
    if (d->walk < 0) return m->trace->output;
    return m->trace->walks[d->walk].root;
}

/* ---- local derivatives ----------------------------------------------------------------------- */

static bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Which inputs a local derivative's formula names (bit i: input i as a/A, b/B, ...), bit 8: the
 * output y, bit 9: the incoming gradient g, bit 10: any other word. */
static unsigned references(const char *text)
{
    unsigned r = 0;
    for (const char *p = text; p && *p; p++) {
        if (!is_letter(*p) || (p > text && is_letter(p[-1]))) continue;
        const char *q = p;
        while (is_letter(*q)) q++;
        if (q - p == 1 && q[0] == '\'' && q[1] == 's') {
            r |= 1u << 10;                       /* "a's shape": only the shape, no values */
        } else if (q - p == 1) {
            char c = *p;
            if (c >= 'a' && c <= 'd') r |= 1u << (c - 'a');
            else if (c >= 'A' && c <= 'D') r |= 1u << (c - 'A');
            else if (c == 'y') r |= 1u << 8;
            else if (c == 'g') r |= 1u << 9;
            else r |= 1u << 10;
        } else {
            r |= 1u << 10;
        }
        p = q - 1;
    }
    return r;
}

/* the formula with the op's letters (a, b / A, B) replaced by the inputs' names */
static void substitute(const vw_model *m, int node, const char *text, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    for (const char *p = text; *p; p++) {
        bool single = is_letter(*p) && !(p > text && is_letter(p[-1])) && !is_letter(p[1]);
        int i = !single ? -1
              : (*p >= 'a' && *p <= 'd') ? *p - 'a'
              : (*p >= 'A' && *p <= 'D') ? *p - 'A' : -1;
        if (i >= 0 && i < MT_MAX_INPUTS && m->inputs[node][i] >= 0) {
            char nm[VW_NAME_MAX + 2];
            term(m, m->inputs[node][i], nm, sizeof nm);
            add(buf, n, &len, "%s", nm);
        } else {
            add(buf, n, &len, "%c", *p);
        }
    }
}

/* The local derivative d node / d input i as a number, when the op gives one (element-wise) and
 * every value involved is a single element. */
static bool local_number(const vw_model *m, int node, int i, double *out)
{
    const mt_trace_node *nd = &m->trace->nodes[node];
    if (!nd->op || !nd->op->local_grad || nd->ninputs > MT_MAX_INPUTS) return false;
    if (!nd->value.present || nd->value.numel != 1 || nd->value.ndata < 1) return false;
    double x[MT_MAX_INPUTS] = { 0 };
    for (int k = 0; k < nd->ninputs; k++) {
        int in = m->inputs[node][k];
        if (in < 0) return false;
        const mt_trace_value *v = &m->trace->nodes[in].value;
        if (!v->present || v->numel != 1 || v->ndata < 1) return false;
        x[k] = v->data[0];
    }
    *out = nd->op->local_grad(&nd->args, i, x, nd->value.data[0]);
    return true;
}

static bool is_number_text(const char *s)
{
    size_t minus = strlen("−");
    while (*s) {
        if (strncmp(s, "−", minus) == 0) s += minus;
        else if (strchr("0123456789.-", *s)) s++;
        else return false;
    }
    return true;
}

/* "∂e/∂a = ∂e/∂(a × b) · ∂(a × b)/∂a = 1 · b = 1 · 2 = 2": the gradient of input i of node,
 * given the gradient g the node received and the result it computed. */
static void chain_line(const vw_model *m, const vw_derived *d, int node, int i,
                       const mt_trace_value *g, const mt_trace_value *result, char *buf, size_t n)
{
    const mt_trace_node *nd = &m->trace->nodes[node];
    int in = m->inputs[node][i];
    char r[VW_NAME_MAX + 2], nn[VW_NAME_MAX + 2], ni[VW_NAME_MAX + 2], gs[96], rs[96], loc[160];
    term(m, root_of(m, d), r, sizeof r);
    term(m, node, nn, sizeof nn);
    term(m, in, ni, sizeof ni);
    vw_format_value(g, gs, sizeof gs);
    vw_format_value(result, rs, sizeof rs);
    const char *text =
        nd->op && i < nd->op->arity && nd->op->local_text[i] ? nd->op->local_text[i] : "?";
    substitute(m, node, text, loc, sizeof loc);
    size_t len = 0;
    buf[0] = 0;
    if (references(text) & (1u << 9)) {            /* a formula in g itself: matmul, sum, ... */
        add(buf, n, &len, "∂%s/∂%s = %s, with g = ∂%s/∂%s = %s → %s", r, ni, loc, r, nn, gs, rs);
        return;
    }
    add(buf, n, &len, "∂%s/∂%s = ∂%s/∂%s · ∂%s/∂%s = %s · %s", r, ni, r, nn, nn, ni, gs, loc);
    double x;
    if (!is_number_text(loc) && local_number(m, node, i, &x) && vw_value_small(g)) {
        char xs[32];
        vw_format_number(x, xs, sizeof xs);
        add(buf, n, &len, " = %s · %s", gs, xs);
    }
    /* broadcasting: the input was stretched to the output's shape, so its gradient is summed
     * back over the stretched dimensions (unbroadcast) */
    if (result && in >= 0 && result->present && g && g->present &&
        !mt_shape_equal(result->shape, g->shape)) {
        char shp[64];
        mt_trace_value only_shape = *result;
        only_shape.summarised = true;
        vw_format_value(&only_shape, shp, sizeof shp);
        add(buf, n, &len, ", summed to %s", shp);
    }
    add(buf, n, &len, " = %s", rs);
}

/* ---- captions -------------------------------------------------------------------------------- */

const char *vw_phase_text(const vw_model *m, const vw_derived *d)
{
    static char buf[96];
    if (d->phase == VW_FORWARD) return "forward pass";
    mt_traversal how = m->trace->walks[d->walk].traversal;
    snprintf(buf, sizeof buf, "backward: %s%s", vw_traversal_text(how),
             d->phase == VW_DONE ? " (done)" : "");
    return buf;
}

void vw_accumulate_text(const vw_model *m, const mt_trace_event *e, char *buf, size_t n)
{
    buf[0] = 0;
    if (!e || e->kind != MT_EV_ACCUMULATE) return;
    char nm[VW_NAME_MAX], b[96], a[96], g[96];
    vw_node_name(m, e->node, nm, sizeof nm);
    vw_format_value(&e->before, b, sizeof b);
    vw_format_value(&e->after, a, sizeof a);
    vw_format_value(&e->grad, g, sizeof g);
    if (vw_value_small(&e->grad) && e->grad.numel == 1 && e->grad.data[0] >= 0)
        snprintf(buf, n, "%s.grad: %s → %s (+%s)", nm, b, a, g);
    else if (vw_value_small(&e->grad) && e->grad.numel == 1)
        snprintf(buf, n, "%s.grad: %s → %s (%s)", nm, b, a, g);
    else snprintf(buf, n, "%s.grad: %s → %s", nm, b, a);
}

/* what forward saved for backward, as the op's formulas say: "a and b", "its output" */
static bool saved_text(const vw_model *m, int node, char *buf, size_t n)
{
    const mt_trace_node *nd = &m->trace->nodes[node];
    unsigned refs = 0;
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; nd->op && i < nd->op->arity && i < MT_MAX_INPUTS; i++)
        if (nd->op->local_text[i]) refs |= references(nd->op->local_text[i]);
    int cnt = 0;
    for (int i = 0; i < nd->ninputs && i < MT_MAX_INPUTS; i++)
        if (refs & (1u << i)) cnt++;
    int k = 0;
    for (int i = 0; i < nd->ninputs && i < MT_MAX_INPUTS; i++) {
        if (!(refs & (1u << i))) continue;
        char nm[VW_NAME_MAX];
        vw_node_name(m, m->inputs[node][i], nm, sizeof nm);
        add(buf, n, &len, "%s%s", k == 0 ? "" : k == cnt - 1 ? " and " : ", ", nm);
        k++;
    }
    if (refs & (1u << 8)) add(buf, n, &len, "%sits output", k ? " and " : "");
    return k > 0 || (refs & (1u << 8));
}

static void leaf_summary(const vw_model *m, const vw_derived *d, char *buf, size_t n, size_t *len)
{
    const mt_trace *t = m->trace;
    int shown = 0, leaves = 0;
    for (int i = 0; i < t->nnodes; i++) {
        if (t->nodes[i].kind == MT_TRACE_BACKWARD_FUNCTION) continue;
        if (t->nodes[i].kind == MT_TRACE_CONSTANT && !t->nodes[i].label[0]) continue;
        leaves++;
        if (shown >= 6) continue;
        char nm[VW_NAME_MAX], v[96];
        vw_node_name(m, i, nm, sizeof nm);
        if (t->nodes[i].kind == MT_TRACE_CONSTANT) {
            if (strspn(nm, "0123456789.-") == strlen(nm)) { leaves--; continue; }   /* "3" */
            add(buf, n, len, "%s%s has no grad (a constant)", shown ? ", " : " ", nm);
        } else {
            vw_format_value(d->nodes[i].leaf_grad, v, sizeof v);
            add(buf, n, len, "%s%s.grad = %s", shown ? ", " : " ", nm, v);
        }
        shown++;
    }
    if (leaves > shown) add(buf, n, len, ", and %d more", leaves - shown);
    add(buf, n, len, ".");
}

static void forward_caption(const vw_model *m, const vw_derived *d, char *buf, size_t n)
{
    const mt_trace_node *nd = &m->trace->nodes[d->created];
    char nm[VW_NAME_MAX], v[96], sv[160];
    size_t len = 0;
    vw_node_name(m, d->created, nm, sizeof nm);
    vw_format_value(&nd->value, v, sizeof v);
    buf[0] = 0;
    add(buf, n, &len, "Forward, node %d of %d: ", d->created + 1, m->trace->nnodes);
    if (nd->kind == MT_TRACE_ACCUMULATE_GRAD) {
        add(buf, n, &len, "%s = %s is a %s that requires grad. Its AccumulateGrad node will add "
            "every gradient that reaches it into %s.grad.", nm, v,
            nd->is_parameter ? "parameter (a leaf)" : "leaf", nm);
    } else if (nd->kind == MT_TRACE_CONSTANT) {
        if (strcmp(nm, v) == 0) add(buf, n, &len, "%s", nm);          /* the 3 of "+ 3" */
        else add(buf, n, &len, "%s = %s", nm, v);
        add(buf, n, &len, " is a constant (requires_grad is false): the graph has no node for "
            "it, so no gradient will flow back to it.");
    } else {
        /* "d = a × b + a = 3": a named output with what it is made of */
        char in[MT_MAX_INPUTS][VW_NAME_MAX], expr[4 * VW_NAME_MAX] = "";
        int k = nd->ninputs < MT_MAX_INPUTS ? nd->ninputs : MT_MAX_INPUTS;
        for (int i = 0; i < k; i++) {
            char raw[VW_NAME_MAX];
            vw_node_name(m, m->inputs[d->created][i], raw, sizeof raw);
            if (atomic(raw) || k == 1) snprintf(in[i], sizeof in[i], "%s", raw);
            else snprintf(in[i], sizeof in[i], "(%.*s)", (int)sizeof in[i] - 3, raw);
        }
        if (nd->label[0] && k > 0) apply_text(nd, in, k, expr, sizeof expr);
        if (expr[0] && strlen(expr) <= 40)
            add(buf, n, &len, "%s makes %s = %s = %s and its %s node, linked to the nodes of its "
                "inputs", nd->op_name, nm, expr, v, nd->backward_name);
        else
            add(buf, n, &len, "%s makes %s = %s and its %s node, linked to the nodes of its inputs",
                nd->op_name, nm, v, nd->backward_name);
        if (saved_text(m, d->created, sv, sizeof sv))
            add(buf, n, &len, "; it saves %s in its context for backward.", sv);
        else add(buf, n, &len, ".");
    }
}

static const char *nth(int k)
{
    static char buf[16];
    snprintf(buf, sizeof buf, "%d%s", k, k % 100 >= 11 && k % 100 <= 13 ? "th"
             : k % 10 == 1 ? "st" : k % 10 == 2 ? "nd" : k % 10 == 3 ? "rd" : "th");
    return buf;
}

void vw_caption(const vw_model *m, const vw_derived *d, char *buf, size_t n)
{
    buf[0] = 0;
    if (d->phase == VW_FORWARD) { forward_caption(m, d, buf, n); return; }
    const mt_trace *t = m->trace;
    const mt_trace_walk *w = &t->walks[d->walk];
    const mt_trace_event *e = d->event;
    bool topo = w->traversal == MT_TOPO;
    int node = e->node;
    char nm[VW_NAME_MAX], tn[VW_NAME_MAX + 2], tp[VW_NAME_MAX + 2], r[VW_NAME_MAX + 2], g[96],
        pn[VW_NAME_MAX], sv[160];
    size_t len = 0;
    vw_node_name(m, node, nm, sizeof nm);
    term(m, node, tn, sizeof tn);
    term(m, e->parent, tp, sizeof tp);
    term(m, w->root, r, sizeof r);
    vw_format_value(&e->grad, g, sizeof g);
    const char *bw = node >= 0 ? t->nodes[node].backward_name : "";
    switch (e->kind) {
    case MT_EV_BACKWARD_BEGIN:
        add(buf, n, &len, "backward() starts at %s with the seed ∂%s/∂%s = %s, ones of %s's shape; "
            "then it walks the graph %s.", nm, r, r, g, nm,
            topo ? "in topological order, each node once" : w->traversal == MT_DFS_LAST_FIRST
                 ? "depth-first, last input first" : "depth-first, first input first");
        break;
    case MT_EV_VISIT:
        if (t->nodes[node].kind != MT_TRACE_BACKWARD_FUNCTION) {
            add(buf, n, &len, "%s's AccumulateGrad node receives %s.", nm, g);
            break;
        }
        if (topo) {
            add(buf, n, &len, "%s runs, once, with ∂%s/∂%s = %s: every gradient into %s has "
                "been summed.", bw, r, tn, g, nm);
        } else if (e->depth <= 1) {
            add(buf, n, &len, "The first call: %s of %s receives the seed %s.", bw, nm, g);
        } else {
            add(buf, n, &len, "Call at depth %d: %s of %s receives ∂%s/∂%s = %s", e->depth, bw, nm,
                r, tn, g);
            if (d->nodes[node].visits > 1)
                add(buf, n, &len, " (its %s call: DFS runs a node once per path to it)",
                    nth(d->nodes[node].visits));
            add(buf, n, &len, ".");
        }
        if (saved_text(m, node, sv, sizeof sv)) {
            bool before = false;                 /* told once per walk, then said briefly */
            for (int i = 0; i < d->event_index && !before; i++) {
                const mt_trace_event *p = &w->events[i];
                before = p->kind == MT_EV_VISIT &&
                         t->nodes[p->node].kind == MT_TRACE_BACKWARD_FUNCTION &&
                         saved_text(m, p->node, pn, sizeof pn);
            }
            const char *them = strstr(sv, " and ") ? "them" : "it";
            if (before)
                add(buf, n, &len, " It reads %s from its context, where forward saved %s.", sv,
                    them);
            else
                add(buf, n, &len, " Plot twist: to compute its gradients %s needs %s, and forward "
                    "saved %s in its context during the forward pass, so backward reads %s from "
                    "there.", bw, sv, them, them);
        }
        break;
    case MT_EV_NODE_GRADS:
        add(buf, n, &len, "%s computes one gradient per input:", bw);
        for (int i = 0; i < e->ngrads && i < MT_MAX_INPUTS; i++) {
            char in[VW_NAME_MAX], gv[96];
            vw_node_name(m, m->inputs[node][i], in, sizeof in);
            vw_format_value(&e->grads[i], gv, sizeof gv);
            add(buf, n, &len, "%s %s gets %s", i ? "," : "", in,
                e->grads[i].present ? gv : "none (a constant)");
        }
        add(buf, n, &len, ".");
        break;
    case MT_EV_GRAD_PASSED: {
        vw_node_name(m, e->parent, pn, sizeof pn);
        const mt_trace_event *prev = d->event_index > 0 ? &w->events[d->event_index - 1] : NULL;
        bool first = true;
        for (int i = 0; i < d->event_index; i++)
            if (w->events[i].kind == MT_EV_GRAD_PASSED) first = false;
        if (topo) {
            add(buf, n, &len, "%s delivers %s to %s; ", nm, g, pn);
            if (e->pending > 0)
                add(buf, n, &len, "%s waits for %d more before it can run.", pn, e->pending);
            else
                add(buf, n, &len, "that was the last one %s waited for.", pn);
        } else if (first) {
            add(buf, n, &len, "The first recursive call: %s passes ∂%s/∂%s = %s down to %s.", nm,
                r, tp, g, pn);
        } else if (prev && prev->kind == MT_EV_RETURN) {
            add(buf, n, &len, "Back to %s: %s is done with its other input and now passes %s "
                "down to %s.", pn, nm, g, pn);
        } else {
            add(buf, n, &len, "Recursive call: %s passes ∂%s/∂%s = %s down to %s (input %d).", nm,
                r, tp, g, pn, e->input_index);
        }
        break;
    }
    case MT_EV_ACCUMULATE: {
        char a[96], b[96];
        vw_format_value(&e->after, a, sizeof a);
        vw_format_value(&e->before, b, sizeof b);
        if (!e->before.present)
            add(buf, n, &len, "%s stores %s: %s.grad did not exist, so it is created holding %s.",
                nm, g, nm, a);
        else if (d->nodes[node].visits > 1)
            add(buf, n, &len, "%s.grad += %s: %s → %s. %s is reached along more than one path, "
                "and += adds each path's gradient.", nm, g, b, a, nm);
        else
            add(buf, n, &len, "%s.grad += %s: %s → %s (zero_grad set it to %s before this walk).",
                nm, g, b, a, b);
        break;
    }
    case MT_EV_RETURN: {
        add(buf, n, &len, "%s's call returns (depth %d → %d)", nm, e->depth, e->depth - 1);
        if (d->nstack > 0) {
            vw_node_name(m, d->stack[d->nstack - 1], pn, sizeof pn);
            add(buf, n, &len, "; back in %s.", pn);
        } else {
            add(buf, n, &len, ": the stack is empty.");
        }
        break;
    }
    case MT_EV_READY:
        if (d->nodes[node].arrived > 1)
            add(buf, n, &len, "Every gradient into %s has arrived (%d): their sum %s is final, so "
                "%s is ready to run.", nm, d->nodes[node].arrived, g, nm);
        else
            add(buf, n, &len, "The one gradient into %s has arrived: %s is final, so %s is ready "
                "to run.", nm, g, nm);
        break;
    case MT_EV_BACKWARD_END:
        add(buf, n, &len, "Backward is done (%d calls):", d->calls);
        leaf_summary(m, d, buf, n, &len);
        if (w->status != 0) add(buf, n, &len, " The walk stopped with an error.");
        break;
    default:
        add(buf, n, &len, "%s", mt_event_kind_name(e->kind));
        break;
    }
}

int vw_chain_rule(const vw_model *m, const vw_derived *d, char lines[][VW_TEXT_MAX], int max)
{
    if (d->phase == VW_FORWARD || !d->event || max <= 0) return 0;
    const mt_trace *t = m->trace;
    const mt_trace_walk *w = &t->walks[d->walk];
    const mt_trace_event *e = d->event;
    int node = e->node, k = 0;
    char r[VW_NAME_MAX + 2], nn[VW_NAME_MAX + 2], g[96];
    term(m, w->root, r, sizeof r);
    term(m, node, nn, sizeof nn);
    switch (e->kind) {
    case MT_EV_BACKWARD_BEGIN:
        vw_format_value(&e->grad, g, sizeof g);
        snprintf(lines[k++], VW_TEXT_MAX, "∂%s/∂%s = %s", r, r, g);
        break;
    case MT_EV_VISIT:
        if (t->nodes[node].kind != MT_TRACE_BACKWARD_FUNCTION) {
            vw_format_value(&e->grad, g, sizeof g);
            snprintf(lines[k++], VW_TEXT_MAX, "∂%s/∂%s = %s%s", r, nn, g,
                     w->traversal == MT_TOPO ? "" : " (this path)");
            break;
        }
        for (int i = 0; i < t->nodes[node].ninputs && i < MT_MAX_INPUTS && k < max; i++) {
            const mt_trace_node *nd = &t->nodes[node];
            int in = m->inputs[node][i];
            char ni[VW_NAME_MAX + 2], loc[160];
            term(m, in, ni, sizeof ni);
            if (in < 0 || t->nodes[in].kind == MT_TRACE_CONSTANT) {
                snprintf(lines[k++], VW_TEXT_MAX, "%s: a constant, no gradient", ni);
                continue;
            }
            const char *text = nd->op && nd->op->local_text[i] ? nd->op->local_text[i] : "?";
            substitute(m, node, text, loc, sizeof loc);
            double x;
            char xs[48] = "";
            if (!(references(text) & (1u << 9)) && !is_number_text(loc) &&
                local_number(m, node, i, &x)) {
                char num[32];
                vw_format_number(x, num, sizeof num);
                snprintf(xs, sizeof xs, " = %s", num);
            }
            snprintf(lines[k++], VW_TEXT_MAX, "local: ∂%s/∂%s = %s%s", nn, ni, loc, xs);
        }
        break;
    case MT_EV_NODE_GRADS: {
        const mt_trace_value *gin = d->nodes[node].grad;
        for (int i = 0; i < e->ngrads && i < MT_MAX_INPUTS && k < max; i++) {
            if (!e->grads[i].present) continue;
            chain_line(m, d, node, i, gin, &e->grads[i], lines[k++], VW_TEXT_MAX);
        }
        break;
    }
    case MT_EV_GRAD_PASSED:
        if (e->input_index >= 0 && e->input_index < MT_MAX_INPUTS)
            chain_line(m, d, node, e->input_index, d->nodes[node].grad, &e->grad, lines[k++],
                       VW_TEXT_MAX);
        break;
    case MT_EV_ACCUMULATE: {
        char b[96], a[96];
        vw_format_value(&e->grad, g, sizeof g);
        vw_format_value(&e->after, a, sizeof a);
        if (e->before.present) {
            vw_format_value(&e->before, b, sizeof b);
            snprintf(lines[k++], VW_TEXT_MAX, "%s.grad = %s + %s = %s", nn, b, g, a);
        } else {
            snprintf(lines[k++], VW_TEXT_MAX, "%s.grad = %s (new)", nn, a);
        }
        break;
    }
    case MT_EV_READY: {
        /* the sum of what arrived, when every term is one number */
        size_t len = 0;
        char line[VW_TEXT_MAX];
        bool numbers = true;
        int terms = 0;
        line[0] = 0;
        add(line, sizeof line, &len, "∂%s/∂%s =", r, nn);
        for (int i = 0; i <= d->event_index; i++) {
            const mt_trace_event *p = &w->events[i];
            if (p->kind != MT_EV_GRAD_PASSED || p->parent != node) continue;
            numbers &= vw_value_small(&p->grad) && p->grad.numel == 1;
            vw_format_value(&p->grad, g, sizeof g);
            add(line, sizeof line, &len, "%s %s", terms++ ? " +" : "", g);
        }
        vw_format_value(&e->grad, g, sizeof g);
        if (terms <= 1)
            snprintf(line, sizeof line, "∂%s/∂%s = %s (one gradient: nothing to add)", r, nn, g);
        else if (numbers)
            add(line, sizeof line, &len, " = %s", g);
        else
            snprintf(line, sizeof line, "∂%s/∂%s = the sum of %d gradients: %s", r, nn, terms, g);
        snprintf(lines[k++], VW_TEXT_MAX, "%s", line);
        break;
    }
    case MT_EV_BACKWARD_END:
        for (int i = 0; i < t->nnodes && k < max; i++) {
            if (t->nodes[i].kind != MT_TRACE_ACCUMULATE_GRAD) continue;
            char ni[VW_NAME_MAX + 2];
            term(m, i, ni, sizeof ni);
            vw_format_value(d->nodes[i].leaf_grad, g, sizeof g);
            snprintf(lines[k++], VW_TEXT_MAX, "∂%s/∂%s = %s", r, ni, g);
        }
        break;
    default:
        break;
    }
    return k;
}
