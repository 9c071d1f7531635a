/* test_trace.c: the "trace" suite (include/mytorch/trace.h): what the recorder sees of the worked
 * example e = (a*b + a) + c + 3 and of a diamond, event by event; that the three traversals give
 * the same gradients; that a trace survives a JSON round trip field by field and that a broken
 * file is refused with a message naming the field; that one MLP training step's trace outlives
 * the step's arena; and that the DOT of a live graph is one Graphviz reads. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw (test_util.h), ftruncate */
#endif

#include <mytorch/mytorch.h>
#include <mytorch/trace.h>

#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CORE_FIXTURES_OPS
#include "fixtures/core_fixtures.h"
#define NN_FIXTURES_MLP
#include "fixtures/nn_fixtures.h"

#define TEST_TMP_DIR "/tmp/mt_test_trace_XXXXXX"
#include "test_util.h"

static error_log errors; /* filled by capture_errors(&errors) */
static char err[1024];   /* messages of save and load */

/* ---- the worked example ---------------------------------------------------------------------- */

typedef struct seed {
    mt_tensor *a, *b, *c, *d, *e;
} seed;

/* e = (a*b + a) + c + 3 with a = 1, c = 3 requiring grad, b = 2 a constant (as test_autograd.c) */
static seed seed_graph(void)
{
    seed s;
    s.a = mt_set_label(mt_requires_grad(mt_scalar(1.0), true), "a");
    s.b = mt_set_label(mt_scalar(2.0), "b");
    s.c = mt_set_label(mt_requires_grad(mt_scalar(3.0), true), "c");
    s.d = mt_set_label(mt_add(mt_mul(s.a, s.b), s.a), "d");
    s.e = mt_set_label(mt_add_scalar(mt_add(s.d, s.c), 3.0), "e");
    ck_assert_ptr_nonnull(s.e);
    return s;
}

/* The seed example and one backward walk of it, recorded. */
static mt_trace *record_seed(mt_traversal how, seed *out)
{
    mt_trace *tr = mt_trace_begin();
    ck_assert_ptr_nonnull(tr);
    mt_trace_set_title(tr, "seed");
    seed s = seed_graph();
    ck_assert_int_eq(mt_backward_ex(s.e, NULL, how), 0);
    mt_trace_end(tr);
    if (out) *out = s;
    return tr;
}

/* The nodes the recorder makes, in the order forward makes them. */
enum { A, B, MUL, D, C, DC, K3, E };

START_TEST(seed_trace_should_record_node_kinds_labels_and_edges)
{
    seed s;
    mt_trace *tr = record_seed(MT_DFS, &s);
    static const struct { mt_trace_node_kind kind; const char *label, *op; } want[] = {
        { MT_TRACE_ACCUMULATE_GRAD, "a", "" },     { MT_TRACE_CONSTANT, "b", "" },
        { MT_TRACE_BACKWARD_FUNCTION, "", "mul" }, { MT_TRACE_BACKWARD_FUNCTION, "d", "add" },
        { MT_TRACE_ACCUMULATE_GRAD, "c", "" },     { MT_TRACE_BACKWARD_FUNCTION, "", "add" },
        { MT_TRACE_CONSTANT, "3", "" },            { MT_TRACE_BACKWARD_FUNCTION, "e", "add" },
    };
    ck_assert_int_eq(tr->nnodes, N_OF(want));
    for (int i = 0; i < N_OF(want); i++) {
        const mt_trace_node *n = &tr->nodes[i];
        ck_assert_int_eq(n->id, i);
        ck_assert_msg(n->kind == want[i].kind, "node %d: kind %s", i,
                      mt_trace_node_kind_name(n->kind));
        ck_assert_str_eq(n->label, want[i].label);
        ck_assert_str_eq(n->op_name, want[i].op);
        ck_assert_ptr_eq(n->op, want[i].op[0] ? mt_op_find(want[i].op) : NULL);
        ck_assert_int_eq(n->ninputs, want[i].op[0] ? 2 : 0);
    }
    ck_assert_str_eq(tr->nodes[MUL].backward_name, "MulBackward0");
    ck_assert_str_eq(tr->nodes[A].backward_name, "AccumulateGrad");
    ck_assert_double_eq(tr->nodes[E].value.data[0], 9.0);
    ck_assert_double_eq(tr->nodes[K3].value.data[0], 3.0);
    ck_assert_int_eq(tr->output, E);
    static const mt_trace_edge edges[] = {
        { A, MUL, 0 }, { B, MUL, 1 }, { MUL, D, 0 }, { A, D, 1 },
        { D, DC, 0 },  { C, DC, 1 },  { DC, E, 0 },  { K3, E, 1 },
    };
    ck_assert_int_eq(tr->nedges, N_OF(edges));
    for (int i = 0; i < N_OF(edges); i++)
        ck_assert_msg(tr->edges[i].from == edges[i].from && tr->edges[i].to == edges[i].to &&
                      tr->edges[i].operand == edges[i].operand, "edge %d: %d -> %d (%d)", i,
                      tr->edges[i].from, tr->edges[i].to, tr->edges[i].operand);
    ck_assert_int_eq(mt_trace_node_of(tr, s.a), A);
    ck_assert_int_eq(mt_trace_node_of(tr, s.b), B);
    ck_assert_int_eq(mt_trace_node_of(tr, s.e), E);
    mt_trace_free(tr);
}
END_TEST

/* One expected event: kind, node, depth; for GRAD_PASSED also parent and operand. */
typedef struct want_event {
    mt_event_kind kind;
    int node, depth, parent, operand;
} want_event;

#define BEGIN(n) { MT_EV_BACKWARD_BEGIN, n, 0, -1, 0 }
#define VISIT(n, d) { MT_EV_VISIT, n, d, -1, 0 }
#define GRADS(n, d) { MT_EV_NODE_GRADS, n, d, -1, 0 }
#define PASS(n, p, i, d) { MT_EV_GRAD_PASSED, n, d, p, i }
#define ACC(n, d) { MT_EV_ACCUMULATE, n, d, -1, 0 }
#define RET(n, d) { MT_EV_RETURN, n, d, -1, 0 }
#define END(n) { MT_EV_BACKWARD_END, n, 0, -1, 0 }

/* Derived by hand from the recursion in autograd.h, skipping the constants b and 3. */
static const want_event seed_dfs[] = {
    BEGIN(E),        VISIT(E, 1),     GRADS(E, 1),      PASS(E, DC, 0, 1),
    VISIT(DC, 2),    GRADS(DC, 2),    PASS(DC, D, 0, 2), VISIT(D, 3),
    GRADS(D, 3),     PASS(D, MUL, 0, 3), VISIT(MUL, 4), GRADS(MUL, 4),
    PASS(MUL, A, 0, 4), VISIT(A, 5),  ACC(A, 5),        RET(A, 5),
    RET(MUL, 4),     PASS(D, A, 1, 3), VISIT(A, 4),     ACC(A, 4),
    RET(A, 4),       RET(D, 3),       PASS(DC, C, 1, 2), VISIT(C, 3),
    ACC(C, 3),       RET(C, 3),       RET(DC, 2),       RET(E, 1),
    END(E),
};
static const want_event seed_dfs_last_first[] = {
    BEGIN(E),        VISIT(E, 1),     GRADS(E, 1),      PASS(E, DC, 0, 1),
    VISIT(DC, 2),    GRADS(DC, 2),    PASS(DC, C, 1, 2), VISIT(C, 3),
    ACC(C, 3),       RET(C, 3),       PASS(DC, D, 0, 2), VISIT(D, 3),
    GRADS(D, 3),     PASS(D, A, 1, 3), VISIT(A, 4),     ACC(A, 4),
    RET(A, 4),       PASS(D, MUL, 0, 3), VISIT(MUL, 4), GRADS(MUL, 4),
    PASS(MUL, A, 0, 4), VISIT(A, 5),  ACC(A, 5),        RET(A, 5),
    RET(MUL, 4),     RET(D, 3),       RET(DC, 2),       RET(E, 1),
    END(E),
};

static void expect_events(const mt_trace_walk *w, const want_event *want, int n)
{
    ck_assert_int_eq((int)w->nevents, n);
    for (int i = 0; i < n; i++) {
        const mt_trace_event *e = &w->events[i];
        ck_assert_msg(e->kind == want[i].kind && e->node == want[i].node &&
                      e->depth == want[i].depth && e->parent == want[i].parent &&
                      (e->kind != MT_EV_GRAD_PASSED || e->input_index == want[i].operand),
                      "event %d: %s node %d depth %d parent %d operand %d; want %s node %d depth "
                      "%d parent %d operand %d", i, mt_event_kind_name(e->kind), e->node, e->depth,
                      e->parent, e->input_index, mt_event_kind_name(want[i].kind), want[i].node,
                      want[i].depth, want[i].parent, want[i].operand);
    }
}

/* The ACCUMULATE events into node `leaf`: their `after` values in order; returns how many. */
static int accumulations(const mt_trace_walk *w, int leaf, double *after, int max)
{
    int n = 0;
    for (size_t i = 0; i < w->nevents; i++)
        if (w->events[i].kind == MT_EV_ACCUMULATE && w->events[i].node == leaf) {
            if (n < max) after[n] = w->events[i].after.data[0];
            ck_assert(w->events[i].before.present == (n > 0));   /* no .grad the first time */
            n++;
        }
    return n;
}

START_TEST(seed_dfs_should_give_the_hand_derived_events_and_accumulations)
{
    const bool last_first = _i == 1;
    mt_trace *tr = record_seed(last_first ? MT_DFS_LAST_FIRST : MT_DFS, NULL);
    ck_assert_int_eq(tr->nwalks, 1);
    const mt_trace_walk *w = &tr->walks[0];
    ck_assert_int_eq(w->traversal, last_first ? MT_DFS_LAST_FIRST : MT_DFS);
    ck_assert_int_eq(w->root, E);
    ck_assert_int_eq(w->status, 0);
    if (last_first) expect_events(w, seed_dfs_last_first, N_OF(seed_dfs_last_first));
    else expect_events(w, seed_dfs, N_OF(seed_dfs));
    double a[4], c[4];
    ck_assert_int_eq(accumulations(w, A, a, 4), 2);   /* a is reached along two paths */
    ck_assert_int_eq(accumulations(w, B, a + 2, 2), 0);
    ck_assert_double_eq(a[0], last_first ? 1.0 : 2.0);   /* via d first, or via a*b first */
    ck_assert_double_eq(a[1], 3.0);
    ck_assert_int_eq(accumulations(w, C, c, 4), 1);
    ck_assert_double_eq(c[0], 1.0);
    for (size_t i = 0; i < w->nevents; i++) {           /* nothing ever reaches a constant */
        ck_assert_int_ne(w->events[i].node, B);
        ck_assert_int_ne(w->events[i].node, K3);
    }
    mt_trace_free(tr);
}
END_TEST

/* ---- a diamond: y used twice ----------------------------------------------------------------- */

/* z = y + y with y = x * 2: the node of y is shared by both operands of z. */
static mt_tensor *diamond(mt_tensor **x)
{
    *x = mt_set_label(mt_requires_grad(mt_scalar(1.5), true), "x");
    mt_tensor *y = mt_set_label(mt_mul_scalar(*x, 2.0), "y");
    return mt_set_label(mt_add(y, y), "z");
}

static int count_events(const mt_trace_walk *w, mt_event_kind kind, int node)
{
    int n = 0;
    for (size_t i = 0; i < w->nevents; i++)
        n += w->events[i].kind == kind && w->events[i].node == node;
    return n;
}

START_TEST(diamond_should_be_visited_twice_by_dfs_and_once_by_topo)
{
    enum { X, TWO, Y, Z };
    mt_trace *tr = mt_trace_begin();
    mt_tensor *x, *z = diamond(&x);
    ck_assert_int_eq(mt_backward_ex(z, NULL, MT_DFS), 0);
    mt_zero_grad(x);
    ck_assert_int_eq(mt_backward_ex(z, NULL, MT_TOPO), 0);
    mt_trace_end(tr);
    ck_assert_double_eq(mt_item(x->grad), 4.0);
    ck_assert_int_eq(tr->nnodes, 4);
    ck_assert_int_eq(tr->nwalks, 2);
    const mt_trace_walk *dfs = &tr->walks[0], *topo = &tr->walks[1];
    ck_assert_int_eq(count_events(dfs, MT_EV_VISIT, Y), 2);
    ck_assert_int_eq(count_events(dfs, MT_EV_ACCUMULATE, X), 2);
    ck_assert_int_eq(count_events(topo, MT_EV_VISIT, Y), 1);
    ck_assert_int_eq(count_events(topo, MT_EV_ACCUMULATE, X), 1);
    /* y's pending count starts at 2 (two edges from z): the deliveries leave 1, then 0 */
    static const want_event want[] = {
        BEGIN(Z), VISIT(Z, 0), GRADS(Z, 0), PASS(Z, Y, 0, 0), PASS(Z, Y, 1, 0),
        { MT_EV_READY, Y, 0, -1, 0 }, VISIT(Y, 0), GRADS(Y, 0), PASS(Y, X, 0, 0),
        { MT_EV_READY, X, 0, -1, 0 }, VISIT(X, 0), ACC(X, 0), END(Z),
    };
    expect_events(topo, want, N_OF(want));
    ck_assert_int_eq(topo->events[3].pending, 1);
    ck_assert_int_eq(topo->events[4].pending, 0);
    ck_assert_int_eq(topo->events[8].pending, 0);
    ck_assert_double_eq(topo->events[5].grad.data[0], 2.0);   /* READY y with the sum 1 + 1 */
    ck_assert_double_eq(topo->events[11].after.data[0], 4.0);
    mt_trace_free(tr);
}
END_TEST

/* ---- every traversal gives the same gradients ------------------------------------------------ */

static const mt_traversal ALL_WALKS[] = { MT_DFS, MT_DFS_LAST_FIRST, MT_TOPO };

/* The traversals add the same terms into a gradient in different orders (DFS adds each path's
 * term into .grad as it arrives, the topological walk sums them at each node first), and every
 * addition rounds, so the results may differ in their last bits. 1e-12 relative is thousands of
 * ulps, still far below any real mistake. A term that cancels to ~0 is compared at the scale of
 * the tensor's largest gradient, as relative error means nothing there. */
static void expect_same_grads(const char *what, const double *got, const double *want, size_t n)
{
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    expect_close(what, got, want, n, 1e-12, 1e-12 * scale);
}

START_TEST(traversals_should_agree_on_the_seed_and_the_diamond)
{
    double ga[3], gc[3], gx[3];
    for (int k = 0; k < 3; k++) {
        seed s = seed_graph();
        ck_assert_int_eq(mt_backward_ex(s.e, NULL, ALL_WALKS[k]), 0);
        ga[k] = mt_item(s.a->grad);
        gc[k] = mt_item(s.c->grad);
        ck_assert_ptr_null(s.b->grad);
        mt_tensor *x, *z = diamond(&x);
        ck_assert_int_eq(mt_backward_ex(z, NULL, ALL_WALKS[k]), 0);
        gx[k] = mt_item(x->grad);
    }
    for (int k = 0; k < 3; k++) {   /* small integers: every order is exact here */
        ck_assert_double_eq(ga[k], 3.0);
        ck_assert_double_eq(gc[k], 1.0);
        ck_assert_double_eq(gx[k], 4.0);
    }
}
END_TEST

static mt_shape cf_shape(int ndim, const int *dim)
{
    mt_shape s = MT_SCALAR_SHAPE;
    s.ndim = ndim;
    for (int i = 0; i < ndim; i++) s.dim[i] = dim[i];
    return s;
}

/* The ops.h function a fixture case names (as in test_ops.c). */
static mt_tensor *call_op(const cf_op_case *c, mt_tensor *const *in)
{
    const char *f = c->fn;
    mt_tensor *a = in[0], *b = in[1];
    static const struct { const char *fn; mt_tensor *(*f2)(mt_tensor *, mt_tensor *);
                          mt_tensor *(*f1)(mt_tensor *); } table[] = {
        { "add", mt_add, NULL },   { "sub", mt_sub, NULL },   { "mul", mt_mul, NULL },
        { "div", mt_div, NULL },   { "matmul", mt_matmul, NULL }, { "neg", NULL, mt_neg },
        { "exp", NULL, mt_exp },   { "log", NULL, mt_log },   { "sqrt", NULL, mt_sqrt },
        { "relu", NULL, mt_relu }, { "tanh", NULL, mt_tanh }, { "sigmoid", NULL, mt_sigmoid },
        { "transpose", NULL, mt_transpose }, { "sum", NULL, mt_sum }, { "mean", NULL, mt_mean },
    };
    for (int i = 0; i < N_OF(table); i++)
        if (!strcmp(f, table[i].fn)) return table[i].f2 ? table[i].f2(a, b) : table[i].f1(a);
    if (!strcmp(f, "add_scalar")) return mt_add_scalar(a, c->scalar);
    if (!strcmp(f, "sub_scalar")) return mt_sub_scalar(a, c->scalar);
    if (!strcmp(f, "rsub_scalar")) return mt_rsub_scalar(c->scalar, a);
    if (!strcmp(f, "mul_scalar")) return mt_mul_scalar(a, c->scalar);
    if (!strcmp(f, "div_scalar")) return mt_div_scalar(a, c->scalar);
    if (!strcmp(f, "rdiv_scalar")) return mt_rdiv_scalar(c->scalar, a);
    if (!strcmp(f, "pow")) return mt_pow(a, c->scalar);
    if (!strcmp(f, "reshape")) return mt_reshape(a, cf_shape(c->shape_ndim, c->shape_dim));
    if (!strcmp(f, "sum_axis")) return mt_sum_axis(a, c->axis, c->keepdim);
    if (!strcmp(f, "mean_axis")) return mt_mean_axis(a, c->axis, c->keepdim);
    ck_abort_msg("fixture %s names an unknown function %s", c->name, f);
    return NULL;
}

/* Each PyTorch case of test_ops.c, used twice so that every input is reached along two paths:
 * z = op(in) + op(in) backward with the case's G gives each input 2x PyTorch's gradient. */
START_TEST(traversals_should_agree_on_every_op_fixture_used_twice)
{
    const cf_op_case *c = &cf_op_cases[_i];
    double *got[3][2] = { { NULL } };
    for (int k = 0; k < 3; k++) {
        mt_tensor *in[2] = { NULL, NULL };
        for (int i = 0; i < c->nin; i++)
            in[i] = mt_requires_grad(mt_from_data(cf_shape(c->in[i].ndim, c->in[i].dim),
                                                  c->in[i].data), true);
        mt_tensor *z = mt_add(call_op(c, in), call_op(c, in));
        ck_assert_msg(z != NULL, "%s: %s", c->name, mt_last_error());
        ck_assert_int_eq(mt_backward_ex(z, mt_from_data(z->shape, c->grad_out), ALL_WALKS[k]), 0);
        for (int i = 0; i < c->nin; i++) got[k][i] = in[i]->grad->data;
    }
    for (int i = 0; i < c->nin; i++) {
        size_t n = (size_t)c->in[i].numel;
        double *twice = malloc(n * sizeof *twice);
        for (size_t j = 0; j < n; j++) twice[j] = 2 * c->grad_in[i][j];
        char what[96];
        snprintf(what, sizeof what, "%s input %d, dfs vs PyTorch", c->name, i);
        expect_same_grads(what, got[0][i], twice, n);
        for (int k = 1; k < 3; k++) {
            snprintf(what, sizeof what, "%s input %d, %s vs dfs", c->name, i,
                     mt_traversal_name(ALL_WALKS[k]));
            expect_same_grads(what, got[k][i], got[0][i], n);
        }
        free(twice);
    }
}
END_TEST

/* The MLP of test_mlp.c with the fixture's weights: one step under each traversal. */
START_TEST(traversals_should_agree_on_an_mlp_step)
{
    const double *init[] = { mlp_init_0_weight, mlp_init_0_bias, mlp_init_1_weight,
                             mlp_init_1_bias, mlp_init_1_running_mean, mlp_init_1_running_var,
                             mlp_init_3_weight, mlp_init_3_bias };
    const double *want[] = { mlp_grad_0_weight, mlp_grad_0_bias, mlp_grad_1_weight,
                             mlp_grad_1_bias, mlp_grad_3_weight, mlp_grad_3_bias };
    mt_tensor *x = mt_empty(MT_SHAPE(100, 784));
    for (size_t i = 0; i < x->numel; i++) x->data[i] = mlp_x_codes[i] / 256.0;
    mt_tensor *labels = mt_from_data(MT_SHAPE(100), mlp_labels);
    mt_module *mlp[3];
    mt_tensor *params[3][6];
    for (int k = 0; k < 3; k++) {
        mt_module *layers[4] = { mt_linear_new(784, 20, NULL), mt_batchnorm1d_new(20, 1e-5, 0.1),
                                 mt_relu_new(), mt_linear_new(20, 10, NULL) };
        mlp[k] = mt_sequential_new(4, layers);
        mt_named_tensor sd[8];
        ck_assert_int_eq(mt_module_state_dict(mlp[k], sd, 8), 8);
        for (int i = 0; i < 8; i++)
            memcpy(sd[i].tensor->data, init[i], sd[i].tensor->numel * sizeof(double));
        ck_assert_int_eq(mt_module_parameters(mlp[k], params[k], 6), 6);
        mt_tensor *loss = mt_cross_entropy(mt_module_forward(mlp[k], x), labels);
        ck_assert_int_eq(mt_backward_ex(loss, NULL, ALL_WALKS[k]), 0);
    }
    for (int p = 0; p < 6; p++) {
        size_t n = params[0][p]->numel;
        char what[96];
        snprintf(what, sizeof what, "%s.grad, dfs vs PyTorch", params[0][p]->label);
        if (p != 1) expect_close(what, params[0][p]->grad->data, want[p], n, 1e-10, 1e-300);
        for (int k = 1; k < 3; k++) {
            snprintf(what, sizeof what, "%s.grad, %s vs dfs", params[0][p]->label,
                     mt_traversal_name(ALL_WALKS[k]));
            /* 0.bias: 0 exactly in theory (BatchNorm removes it), rounding noise in practice:
             * compared at the scale of the first layer's weight gradient */
            if (p == 1) expect_close(what, params[k][p]->grad->data, params[0][p]->grad->data, n,
                                     1e-12, 1e-12);
            else expect_same_grads(what, params[k][p]->grad->data, params[0][p]->grad->data, n);
        }
    }
    for (int k = 0; k < 3; k++) mt_module_free(mlp[k]);
}
END_TEST

/* ---- JSON round trip ------------------------------------------------------------------------- */

static bool same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;   /* -0.0 is not 0.0 here */
}

static void expect_same_value(const char *what, const mt_trace_value *a, const mt_trace_value *b)
{
    ck_assert_msg(a->present == b->present, "%s: present %d vs %d", what, a->present, b->present);
    if (!a->present) return;
    ck_assert_msg(mt_shape_equal(a->shape, b->shape) && a->numel == b->numel &&
                  a->summarised == b->summarised && a->ndata == b->ndata,
                  "%s: shape, numel, summarised or ndata differ", what);
    for (size_t i = 0; i < a->ndata; i++)
        ck_assert_msg(same_double(a->data[i], b->data[i]), "%s.data[%zu]: %.17g vs %.17g", what, i,
                      a->data[i], b->data[i]);
    ck_assert_msg(same_double(a->min, b->min) && same_double(a->max, b->max) &&
                  same_double(a->mean, b->mean) && same_double(a->norm, b->norm),
                  "%s: statistics differ", what);
}

static void expect_same_trace(const mt_trace *x, const mt_trace *y)
{
    char what[96];
    ck_assert_int_eq(x->version, y->version);
    ck_assert_uint_eq(x->value_limit, y->value_limit);
    ck_assert_str_eq(x->title, y->title);
    ck_assert_int_eq(x->output, y->output);
    ck_assert_int_eq(x->nnodes, y->nnodes);
    for (int i = 0; i < x->nnodes; i++) {
        const mt_trace_node *a = &x->nodes[i], *b = &y->nodes[i];
        ck_assert_msg(a->id == b->id && a->kind == b->kind && a->op == b->op &&
                      !strcmp(a->op_name, b->op_name) && !strcmp(a->backward_name, b->backward_name)
                      && !strcmp(a->symbol, b->symbol) && !strcmp(a->label, b->label) &&
                      a->ninputs == b->ninputs && a->requires_grad == b->requires_grad &&
                      a->is_leaf == b->is_leaf && a->is_parameter == b->is_parameter,
                      "node %d differs", i);
        ck_assert_msg(same_double(a->args.scalar, b->args.scalar) && a->args.axis == b->args.axis &&
                      a->args.keepdim == b->args.keepdim &&
                      mt_shape_equal(a->args.shape, b->args.shape), "node %d: args differ", i);
        snprintf(what, sizeof what, "nodes[%d].value", i);
        expect_same_value(what, &a->value, &b->value);
    }
    ck_assert_int_eq(x->nedges, y->nedges);
    if (x->nedges) ck_assert(memcmp(x->edges, y->edges, (size_t)x->nedges * sizeof *x->edges) == 0);
    ck_assert_int_eq(x->nwalks, y->nwalks);
    for (int w = 0; w < x->nwalks; w++) {
        const mt_trace_walk *p = &x->walks[w], *q = &y->walks[w];
        ck_assert(p->traversal == q->traversal && p->root == q->root && p->status == q->status);
        ck_assert_uint_eq(p->nevents, q->nevents);
        for (size_t i = 0; i < p->nevents; i++) {
            const mt_trace_event *a = &p->events[i], *b = &q->events[i];
            ck_assert_msg(a->kind == b->kind && a->node == b->node && a->parent == b->parent &&
                          a->edge == b->edge && a->input_index == b->input_index &&
                          a->depth == b->depth && a->pending == b->pending &&
                          a->status == b->status && a->ngrads == b->ngrads,
                          "walks[%d].events[%zu] differs", w, i);
            const mt_trace_value *va[] = { &a->grad, &a->before, &a->after },
                                 *vb[] = { &b->grad, &b->before, &b->after };
            for (int k = 0; k < 3; k++) {
                snprintf(what, sizeof what, "walks[%d].events[%zu] value %d", w, i, k);
                expect_same_value(what, va[k], vb[k]);
            }
            for (int k = 0; k < MT_MAX_INPUTS; k++) {
                snprintf(what, sizeof what, "walks[%d].events[%zu].grads[%d]", w, i, k);
                expect_same_value(what, &a->grads[k], &b->grads[k]);
            }
        }
    }
}

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return s;
}

/* Saves tr, loads it back, checks they are equal, and that saving the copy gives the same text. */
static void expect_round_trip(const mt_trace *tr)
{
    char p1[300], p2[300];
    TMP(p1, "first.json");
    TMP(p2, "second.json");
    ck_assert_msg(mt_trace_save(tr, p1, err, sizeof err) == 0, "save: %s", err);
    mt_trace *back = mt_trace_load(p1, err, sizeof err);
    ck_assert_msg(back != NULL, "load: %s", err);
    expect_same_trace(tr, back);
    ck_assert_msg(mt_trace_save(back, p2, err, sizeof err) == 0, "save again: %s", err);
    char *t1 = read_text(p1, NULL), *t2 = read_text(p2, NULL);
    ck_assert_str_eq(t1, t2);
    free(t1);
    free(t2);
    mt_trace_free(back);
}

START_TEST(json_round_trip_should_keep_every_field)
{
    mt_trace *tr = mt_trace_begin();
    mt_trace_set_title(tr, "round \"trip\"\n\\ \xc3\x97");
    mt_trace_set_value_limit(tr, 4);     /* so that most values here are summarised */
    seed s = seed_graph();
    /* doubles that need 17 digits, a subnormal, -0, the extremes and the non-finite */
    double wd[20], kd[20];
    for (int i = 0; i < 20; i++) { wd[i] = 0.1 * i + 1.0 / 3; kd[i] = 1.0 / (i + 7); }
    wd[1] = 4.9406564584124654e-324; wd[2] = -0.0; wd[3] = 1.7976931348623157e308;
    kd[0] = NAN; kd[1] = INFINITY; kd[2] = -INFINITY;
    mt_tensor *w = mt_set_label(mt_requires_grad(mt_from_data(MT_SHAPE(4, 5), wd), true), "w");
    mt_tensor *k = mt_set_label(mt_from_data(MT_SHAPE(4, 5), kd), "k");
    mt_tensor *q = mt_sum_axis(mt_mul(w, k), 1, false);                /* (4,): whole */
    mt_tensor *r = mt_reshape(mt_pow(q, 2.0), MT_SHAPE(2, -1));        /* args: scalar, shape */
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(mt_backward_ex(s.e, NULL, MT_DFS), 0);
    ck_assert_int_eq(mt_backward_ex(s.e, mt_scalar(-0.5), MT_TOPO), 0);
    ck_assert_int_eq(mt_backward_ex(s.e, NULL, MT_DFS_LAST_FIRST), 0);
    ck_assert_int_eq(mt_backward_ex(r, mt_full(MT_SHAPE(2, 2), 1.0 / 3), MT_TOPO), 0);
    mt_trace_end(tr);
    ck_assert_int_eq(tr->nwalks, 4);
    int wn = mt_trace_node_of(tr, w);
    ck_assert(tr->nodes[wn].value.summarised);
    ck_assert_uint_eq(tr->nodes[wn].value.ndata, MT_TRACE_SUMMARY_HEAD);
    expect_round_trip(tr);
    mt_trace_free(tr);
}
END_TEST

/* A backward that fails half way (a .grad replaced by one of another shape) is a walk too. */
START_TEST(json_round_trip_should_keep_a_failed_walk)
{
    capture_errors(&errors);
    mt_trace *tr = mt_trace_begin();
    mt_tensor *x = mt_requires_grad(mt_from_data(MT_SHAPE(2), (double[]){ 1, 2 }), true);
    mt_tensor *y = mt_sum(mt_mul(x, x));
    x->grad = mt_zeros(MT_SHAPE(3));
    ck_assert_int_eq(mt_backward_ex(y, NULL, _i ? MT_TOPO : MT_DFS), -1);
    mt_trace_end(tr);
    ck_assert_int_eq(errors.count, 1);
    ck_assert_int_eq(tr->walks[0].status, -1);
    expect_round_trip(tr);
    mt_trace_free(tr);
}
END_TEST

/* What the recorder makes in the odd cases is what the checks accept: a graph built before
 * recording began (its nodes found during backward, its constants without edges), half built
 * before, a backward from a leaf, a leaf that stopped requiring grad (visited, nothing
 * accumulated), a graph that grows between walks, and a trace of forward only. */
START_TEST(save_should_accept_what_the_recorder_makes_in_odd_cases)
{
    const mt_traversal how = ALL_WALKS[_i];
    mt_tensor *a = mt_requires_grad(mt_scalar(1.0), true);
    mt_tensor *c = mt_requires_grad(mt_scalar(3.0), true);
    mt_tensor *before = mt_add_scalar(mt_add(mt_mul(a, mt_scalar(2)), a), 3.0);
    mt_trace *t[5];
    t[0] = mt_trace_begin();
    ck_assert_int_eq(mt_backward_ex(before, NULL, how), 0);
    mt_trace_end(t[0]);
    ck_assert_int_eq(t[0]->nnodes, 4);          /* a, mul, add, add: the constants are gone */
    t[1] = mt_trace_begin();
    mt_tensor *half = mt_sum(mt_exp(mt_add(before, mt_mul_scalar(c, 0.5))));
    ck_assert_int_eq(mt_backward_ex(half, NULL, how), 0);
    mt_trace_end(t[1]);
    t[2] = mt_trace_begin();
    ck_assert_int_eq(mt_backward_ex(mt_requires_grad(mt_ones(MT_SHAPE(2)), true), NULL, how), 0);
    mt_trace_end(t[2]);
    t[3] = mt_trace_begin();
    mt_tensor *p = mt_requires_grad(mt_ones(MT_SHAPE(2)), true);
    mt_tensor *q = mt_requires_grad(mt_ones(MT_SHAPE(2)), true);
    mt_tensor *r = mt_sum(mt_mul(p, q));
    mt_requires_grad(q, false);
    ck_assert_int_eq(mt_backward_ex(r, NULL, how), 0);
    mt_tensor *grown = mt_mul(r, r);
    ck_assert_int_eq(mt_backward_ex(grown, NULL, ALL_WALKS[(_i + 1) % 3]), 0);
    mt_trace_end(t[3]);
    ck_assert_ptr_null(q->grad);
    t[4] = mt_trace_begin();
    mt_mul(a, c);
    mt_trace_end(t[4]);
    for (int i = 0; i < 5; i++) {
        char path[300];
        TMP(path, "odd.json");
        ck_assert_msg(mt_trace_save(t[i], path, err, sizeof err) == 0, "case %d: %s", i, err);
        mt_trace *back = mt_trace_load(path, err, sizeof err);
        ck_assert_msg(back != NULL, "case %d: %s", i, err);
        expect_same_trace(t[i], back);
        mt_trace_free(back);
        mt_trace_free(t[i]);
    }
}
END_TEST

/* ---- malformed files ------------------------------------------------------------------------- */

/* A valid trace of the seed example (DFS), saved, as text to break. */
static char *seed_text(size_t *len)
{
    char path[300];
    TMP(path, "seed.json");
    mt_trace *tr = record_seed(MT_DFS, NULL);
    ck_assert_msg(mt_trace_save(tr, path, err, sizeof err) == 0, "%s", err);
    mt_trace_free(tr);
    return read_text(path, len);
}

/* text with the first `old` after the first `anchor` replaced by `new` (malloc'd) */
static char *edit(const char *text, const char *anchor, const char *old, const char *new)
{
    const char *a = strstr(text, anchor);
    ck_assert_msg(a != NULL, "anchor \"%s\" not in the trace", anchor);
    const char *o = strstr(a, old);
    ck_assert_msg(o != NULL, "\"%s\" not after \"%s\"", old, anchor);
    size_t head = (size_t)(o - text), n = strlen(text) - strlen(old) + strlen(new);
    char *s = malloc(n + 1);
    memcpy(s, text, head);
    strcpy(s + head, new);
    strcat(s, o + strlen(old));
    return s;
}

/* Each broken trace: where to edit the seed's text (anchor, old -> new), and what the message
 * must say. The formatted JSON puts a tab after each colon. */
static const struct bad_trace {
    const char *what, *anchor, *old, *new, *message;
} bad_traces[] = {
    { "wrong version", "{", "\"version\":\t1", "\"version\":\t2",
      "version: 2, but this build reads version 1" },
    { "missing version", "{", "\"version\":\t1,", "",
      "missing field \"version\"" },
    { "not a trace", "{", "\"mytorch-trace\"", "\"other\"",
      "not a MyTorch trace (its \"format\" is \"other\"" },
    { "dangling edge id", "\"edges\":", "\"from\":\t0", "\"from\":\t42",
      "edges[0].from: 42 is not a node (the trace has 8)" },
    { "operand index out of range", "\"edges\":", "\"operand\":\t1", "\"operand\":\t5",
      "edges[1].operand: 5, but node 2 (mul) has 2 inputs" },
    { "edge into a leaf", "\"edges\":", "\"to\":\t2", "\"to\":\t4",
      "edges[0].to: node 4 is AccumulateGrad, not a BackwardFunction" },
    { "numel disagrees with the shape", "\"id\":\t0", "\"numel\":\t1", "\"numel\":\t2",
      "nodes[0].value.numel: 2, but shape () has 1 element" },
    { "more data than elements", "\"id\":\t0", "\"data\":\t[1]", "\"data\":\t[1, 1]",
      "nodes[0].value.data: 2 values for a tensor of 1 element" },
    { "a whole value missing data", "\"id\":\t0", "\"data\":\t[1]", "\"data\":\t[]",
      "nodes[0].value.data: 0 values, but a whole value (summarised false) holds all 1" },
    { "five dimensions", "\"id\":\t0", "\"shape\":\t[]", "\"shape\":\t[1, 1, 1, 1, 1]",
      "nodes[0].value.shape: 5 dimensions (a shape has 0 to 4)" },
    { "negative dimension", "\"id\":\t0", "\"shape\":\t[]", "\"shape\":\t[-3]",
      "nodes[0].value.shape[0]: -3 is negative" },
    { "huge size claim", "\"id\":\t0", "\"numel\":\t1", "\"numel\":\t1e30",
      "nodes[0].value.numel: 1e+30 is more than any tensor holds (at most 2^53)" },
    { "duplicated node id", "\"id\":\t1", "\"id\":\t1", "\"id\":\t0",
      "nodes[1].id: 0 again (nodes[0] has it)" },
    { "ids out of order", "\"id\":\t1", "\"id\":\t1", "\"id\":\t5",
      "nodes[1].id: 5, but ids are 0, 1, 2, ... in order: expected 1" },
    { "unknown node kind", "\"id\":\t1", "\"constant\"", "\"const\"",
      "nodes[1].kind: unknown node kind \"const\"" },
    { "unknown op", "\"id\":\t2", "\"mul\"", "\"frobnicate\"",
      "nodes[2].op: \"frobnicate\" is not an op in the registry" },
    { "arity mismatch", "\"id\":\t2", "\"ninputs\":\t2", "\"ninputs\":\t1",
      "nodes[2].ninputs: 1, but mul takes 2 inputs" },
    { "backward name of another op", "\"id\":\t2", "\"MulBackward0\"", "\"AddBackward0\"",
      "nodes[2].backward_name: \"AddBackward0\", but mul's node is MulBackward0" },
    { "wrong type", "\"id\":\t2", "\"is_leaf\":\tfalse", "\"is_leaf\":\t0",
      "nodes[2].is_leaf: expected true or false, found a number" },
    { "unknown field", "\"id\":\t2", "\"label\":", "\"lable\":",
      "nodes[2]: unknown field \"lable\"" },
    { "NaN string malformed", "\"id\":\t0", "\"data\":\t[1]", "\"data\":\t[\"NaN\"]",
      "nodes[0].value.data[0]: \"NaN\" is not a number" },
    { "dangling output", "{", "\"output\":\t7", "\"output\":\t8",
      "output: 8 is not a node (the trace has 8)" },
    { "unknown traversal", "\"walks\":", "\"dfs\"", "\"bfs\"",
      "walks[0].traversal: unknown traversal \"bfs\"" },
    { "dangling walk root", "\"walks\":", "\"root\":\t7", "\"root\":\t99",
      "walks[0].root: 99 is not a node" },
    { "unknown event kind", "\"walks\":", "\"visit\"", "\"vist\"",
      "walks[0].events[1].kind: unknown event kind \"vist\"" },
    { "depth in a topological walk", "\"walks\":", "\"dfs\"", "\"topo\"",
      "walks[0].events[1].depth: a visit event of a topo walk has no depth" },
    { "operands passed out of order", "\"walks\":", "\"dfs\"", "\"dfs_last_first\"",
      "walks[0].events[17].operand: 1 after operand 0: a dfs_last_first walk passes gradients "
      "last input first" },
    { "a return that is not of the innermost visit", "\"kind\":\t\"return\"", "\"node\":\t0",
      "\"node\":\t2", "walks[0].events[15].node: 2, but the innermost open visit is of node 0" },
    { "depth that disagrees with the open visits", "\"kind\":\t\"node_grads\"",
      "\"depth\":\t1", "\"depth\":\t2",
      "walks[0].events[2].depth: 2, but the call stack is 1 high" },
    { "a grad_passed along the wrong edge", "\"kind\":\t\"grad_passed\"", "\"edge\":\t6",
      "\"edge\":\t4",
      "walks[0].events[3].edge: edges[4] runs from node 3 into operand 0 of node 5" },
    { "dangling event node", "\"kind\":\t\"visit\"", "\"node\":\t7", "\"node\":\t-2",
      "walks[0].events[1].node: -2 is not a node" },
    { "an event before backward_begin", "\"walks\":", "\"backward_begin\"", "\"visit\"",
      "walks[0].events[0]: missing field \"depth\"" },
};

START_TEST(malformed_trace_should_be_refused_with_its_message)
{
    const struct bad_trace *b = &bad_traces[_i];
    size_t len;
    char *good = seed_text(&len);
    char *text = edit(good, b->anchor, b->old, b->new);
    mt_trace *t = mt_trace_parse(text, strlen(text), "bad.json", err, sizeof err);
    ck_assert_msg(t == NULL, "%s: accepted", b->what);
    ck_assert_msg(strncmp(err, "file bad.json: ", 15) == 0, "%s: \"%s\"", b->what, err);
    ASSERT_ERR_HAS(err, b->message);
    free(text);
    free(good);
}
END_TEST

START_TEST(malformed_text_should_be_refused_as_truncated_or_not_json)
{
    size_t len;
    char *good = seed_text(&len);
    mt_trace *t = mt_trace_parse(good, len, "seed.json", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);   /* the text itself is fine */
    mt_trace_free(t);
    for (size_t cut = 1; cut < len - 2; cut += len / 37 + 1) {   /* cut anywhere: truncated */
        ck_assert_ptr_null(mt_trace_parse(good, cut, "cut.json", err, sizeof err));
        ASSERT_ERR_HAS(err, "file cut.json: truncated");
    }
    ck_assert_ptr_null(mt_trace_parse("hello", 5, "hello.json", err, sizeof err));
    ASSERT_ERR_HAS(err, "file hello.json: not JSON: syntax error at line 1, column 1");
    ck_assert_ptr_null(mt_trace_parse("{\"a\": 1]", 8, "x.json", err, sizeof err));
    ASSERT_ERR_HAS(err, "not JSON: syntax error at line 1, column 8");
    ck_assert_ptr_null(mt_trace_parse("  \n", 3, "blank.json", err, sizeof err));
    ASSERT_ERR_HAS(err, "file blank.json: empty");
    ck_assert_ptr_null(mt_trace_parse("[1, 2]", 6, NULL, err, sizeof err));
    ASSERT_ERR_HAS(err, "file (text): not a MyTorch trace: the JSON is an array");
    char *junk = malloc(len + 3);
    memcpy(junk, good, len);
    memcpy(junk + len, " x", 3);
    ck_assert_ptr_null(mt_trace_parse(junk, len + 2, "junk.json", err, sizeof err));
    ASSERT_ERR_HAS(err, "file junk.json: not JSON: text after the end of the trace");
    free(junk);
    free(good);
}
END_TEST

/* A byte of a saved trace changed, at a few hundred places to each of a few values: refused with
 * a message naming the file, or read as a trace the checks accept; never a crash or a leak. */
START_TEST(corrupted_trace_should_be_refused_or_read_whole)
{
    static const char subst[] = { '0', '7', '-', '"', '}', ']', ',', 'x', ' ', '\0' };
    size_t len;
    char *good = seed_text(&len), *text = malloc(len);
    int refused = 0;
    for (size_t i = (size_t)_i; i < len; i += len / 300 + 1)
        for (int k = 0; k < N_OF(subst); k++) {
            if (good[i] == subst[k]) continue;
            memcpy(text, good, len);
            text[i] = subst[k];
            mt_trace *t = mt_trace_parse(text, len, "bad.json", err, sizeof err);
            if (t) {
                mt_trace_free(t);
                continue;
            }
            refused++;
            ck_assert_msg(strncmp(err, "file bad.json: ", 15) == 0, "byte %zu: \"%s\"", i, err);
        }
    ck_assert_int_gt(refused, 0);
    free(text);
    free(good);
}
END_TEST

START_TEST(load_should_refuse_missing_and_oversized_files)
{
    char path[300];
    TMP(path, "missing.json");
    ck_assert_ptr_null(mt_trace_load(path, err, sizeof err));
    ASSERT_ERR_HAS(err, "cannot open: No such file or directory");
    ck_assert_ptr_null(mt_trace_load(g_tmp, err, sizeof err));
    ASSERT_ERR_HAS(err, "is a directory");
    TMP(path, "huge.json");        /* 300 MiB, sparse: refused before a byte is read */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)300 << 20), 0);
    close(fd);
    ck_assert_ptr_null(mt_trace_load(path, err, sizeof err));
    ASSERT_ERR_HAS(err, "314572800 bytes; traces over 256 MiB are refused");
}
END_TEST

/* ---- traces no walk produces, refused by save (which leaves no file) ------------------------- */

static void swap_events(mt_trace_walk *w, size_t i, size_t j)
{
    mt_trace_event t = w->events[i];
    w->events[i] = w->events[j];
    w->events[j] = t;
}

/* Each breaks a recorded walk in place (0-4: the seed's DFS walk; 5-7: the diamond's topological
 * walk; 8: the seed's topological walk); mt_trace_free still releases everything. */
static void break_trace(int which, mt_trace *t)
{
    mt_trace_walk *w = &t->walks[0];
    switch (which) {
    case 0: swap_events(w, 0, 1); break;                       /* begin is not first */
    case 1: swap_events(w, w->nevents - 2, w->nevents - 1); break;   /* events after the end */
    case 2: swap_events(w, 25, 26); break;                     /* dc returns before c */
    case 3: w->events[14].node = DC; break;                    /* accumulate into an op */
    case 4: w->status = w->events[w->nevents - 1].status = 1; break;
    case 5: w->events[4].pending = 1; break;                   /* topo: the wrong count */
    case 6: swap_events(w, 5, 6); break;                       /* topo: ready too late */
    case 7: w->events[1].depth = 1; break;                     /* topo: a depth */
    case 8: w->events[11].node = D; break;                     /* topo: not last in, first out */
    }
}

static const char *const broken_messages[] = {
    "walks[0].events[0].kind: visit, but a walk starts with backward_begin",
    "walks[0].events[27].kind: backward_end, but 1 more event follows",
    "walks[0].events[25].depth: 2, but the call stack is 3 high at this return",
    "walks[0].events[14].node: node 5 is BackwardFunction; only AccumulateGrad nodes accumulate",
    "walks[0].status: 1 (0, or -1 after an error)",
    "walks[0].events[4].pending: 1, but 0 deliveries into node 2 are still to come",
    "walks[0].events[5].kind: visit, but node 2 got its last gradient just before",
    "walks[0].events[1].depth: set, but a visit event of a topo walk has no depth",
    "walks[0].events[11].node: 3, but the node made ready last is node 4 (ready nodes run last "
    "in, first out)",
};

START_TEST(save_should_refuse_an_order_no_walk_produces)
{
    mt_trace *t;
    if (_i < 5 || _i == 8) {
        t = record_seed(_i < 5 ? MT_DFS : MT_TOPO, NULL);
    } else {
        t = mt_trace_begin();
        mt_tensor *x, *z = diamond(&x);
        ck_assert_int_eq(mt_backward_ex(z, NULL, MT_TOPO), 0);
        mt_trace_end(t);
    }
    break_trace(_i, t);
    char path[300];
    TMP(path, "broken.json");
    ck_assert_int_eq(mt_trace_save(t, path, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not saved: ") != NULL, "\"%s\"", err);
    ASSERT_ERR_HAS(err, broken_messages[_i]);
    ck_assert(!file_exists(path));
    mt_trace_free(t);
}
END_TEST

START_TEST(save_should_report_a_file_it_cannot_create)
{
    mt_trace *t = record_seed(MT_DFS, NULL);
    char path[300];
    TMP(path, "no/such/dir/seed.json");
    ck_assert_int_eq(mt_trace_save(t, path, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "cannot create");
    mt_trace_free(t);
}
END_TEST

/* ---- DOT ------------------------------------------------------------------------------------ */

/* Asserts Graphviz reads the file without a word of complaint, when dot is installed. */
static void expect_dot_reads(const char *path)
{
    if (system("command -v dot >/dev/null 2>&1") != 0) {
        printf("note: Graphviz's dot is not on PATH: %s was not checked with dot -Tsvg\n", path);
        return;
    }
    char cmd[1024], log[400];
    snprintf(log, sizeof log, "%s.log", path);
    snprintf(cmd, sizeof cmd, "dot -Tsvg '%s' -o /dev/null 2>'%s'", path, log);
    ck_assert_msg(system(cmd) == 0, "dot -Tsvg refused %s", path);
    size_t n;
    char *complaints = read_text(log, &n);
    ck_assert_msg(n == 0, "dot -Tsvg %s: %s", path, complaints);
    free(complaints);
}

static char *dot_of(const mt_tensor *root, const char *name)
{
    char path[300];
    TMP(path, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(mt_graph_write_dot(root, f), 0);
    fclose(f);
    expect_dot_reads(path);
    return read_text(path, NULL);
}

START_TEST(dot_should_draw_the_seed_graph_left_to_right)
{
    seed s = seed_graph();
    ck_assert_int_eq(mt_backward(s.e), 0);
    mt_set_label(s.a, "q\"x\\y\nz");        /* quotes, a backslash and a newline */
    char *dot = dot_of(s.e, "seed.dot");
    ck_assert_ptr_nonnull(strstr(dot, "digraph"));
    ck_assert_ptr_nonnull(strstr(dot, "rankdir=LR"));
    ck_assert_ptr_nonnull(strstr(dot, "q\\\"x\\\\y\\nz\\nAccumulateGrad\\nvalue 1\\ngrad 3"));
    ck_assert_ptr_nonnull(strstr(dot, "e = +  AddBackward0\\nvalue 9"));
    ck_assert_ptr_nonnull(strstr(dot, "×  MulBackward0\\nvalue 2"));
    int stubs = 0;
    for (const char *p = dot; (p = strstr(p, "label=\"constant\\nshape ()\"")); p++) stubs++;
    ck_assert_int_eq(stubs, 2);                   /* b and the 3, one stub each */
    ck_assert_ptr_nonnull(strstr(dot, "[label=\"1\"]"));   /* operand indices on binary ops */
    free(dot);
}
END_TEST

START_TEST(dot_should_style_parameters_and_draw_lone_tensors)
{
    mt_tensor *w = mt_set_label(mt_make_parameter(mt_ones(MT_SHAPE(3, 4))), "0.weight");
    mt_tensor *y = mt_sum(mt_relu(w));
    ck_assert_int_eq(mt_backward(y), 0);
    char *dot = dot_of(y, "param.dot");
    ck_assert_ptr_nonnull(strstr(dot, "0.weight\\nparameter\\nshape (3, 4)\\nvalue min 1 max 1"));
    ck_assert_ptr_nonnull(strstr(dot, "peripheries=2"));
    ck_assert_ptr_null(strstr(dot, "[label=\"0\"]"));     /* unary ops: no operand labels */
    free(dot);
    dot = dot_of(mt_from_data(MT_SHAPE(2), (double[]){ 1.5, -2 }), "const.dot");
    ck_assert_ptr_nonnull(strstr(dot, "constant\\nshape (2,)\\nvalue [1.5, -2]"));
    free(dot);
    capture_errors(&errors);
    ck_assert_int_eq(mt_graph_write_dot(NULL, stdout), -1);
    ASSERT_ERR_HAS(errors.last, "NULL tensor");
}
END_TEST

/* ---- one MNIST-like training step ----------------------------------------------------------- */

START_TEST(mnist_step_trace_should_outlive_the_step_arena)
{
    enum { BATCH = 32 };
    mt_rng rng;
    mt_rng_seed(&rng, 2024);
    mt_module *layers[4] = { mt_linear_new(784, 20, &rng), mt_batchnorm1d_new(20, 1e-5, 0.1),
                             mt_relu_new(), mt_linear_new(20, 10, &rng) };
    mt_module *mlp = mt_sequential_new(4, layers);
    mt_tensor *params[6];
    ck_assert_int_eq(mt_module_parameters(mlp, params, 6), 6);
    mt_sgd *opt = mt_sgd_new(params, 6, 0.1, 0.0);
    mt_arena *step = mt_arena_new();

    mt_trace *tr = mt_trace_begin();
    mt_trace_set_title(tr, "mnist step");
    mt_arena *prev = mt_arena_use(step);           /* the trainer's step, as in src/mnist */
    mt_tensor *x = mt_rand(MT_SHAPE(BATCH, 784), 0.0, 1.0, &rng);
    mt_tensor *labels = mt_empty(MT_SHAPE(BATCH));
    for (int i = 0; i < BATCH; i++) labels->data[i] = (double)mt_rng_below(&rng, 10);
    mt_sgd_zero_grad(opt);
    mt_tensor *loss = mt_cross_entropy(mt_module_forward(mlp, x), labels);
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(mt_backward_ex(loss, NULL, MT_TOPO), 0);
    double loss_value = mt_item(loss), bias_grad[10];
    memcpy(bias_grad, params[5]->grad->data, sizeof bias_grad);
    free(dot_of(loss, "step.dot"));                /* the live graph, before the reset */
    mt_sgd_step(opt);
    mt_arena_use(prev);
    mt_arena_reset(step);                          /* x, the activations and the loss are gone */
    mt_trace_end(tr);

    ck_assert_int_eq(tr->nodes[tr->output].kind, MT_TRACE_BACKWARD_FUNCTION);
    ck_assert(same_double(tr->nodes[tr->output].value.data[0], loss_value));
    int nparams = 0, w0 = -1;
    for (int i = 0; i < tr->nnodes; i++)
        if (tr->nodes[i].is_parameter) {
            nparams++;
            if (!strcmp(tr->nodes[i].label, "0.weight")) w0 = i;
        }
    ck_assert_int_eq(nparams, 6);
    ck_assert_int_ge(w0, 0);
    ck_assert(tr->nodes[w0].value.summarised);    /* 20 x 784 is over the default limit */
    ck_assert_int_eq(tr->nodes[w0].value.shape.dim[1], 784);
    ck_assert_int_eq(tr->nwalks, 1);
    const mt_trace_walk *w = &tr->walks[0];
    ck_assert_int_eq(w->status, 0);
    int acc = 0;
    for (size_t i = 0; i < w->nevents; i++) {
        const mt_trace_event *e = &w->events[i];
        if (e->kind != MT_EV_ACCUMULATE) continue;
        acc++;
        if (!strcmp(tr->nodes[e->node].label, "3.bias"))
            for (int k = 0; k < 10; k++) ck_assert(same_double(e->after.data[k], bias_grad[k]));
    }
    ck_assert_int_eq(acc, 6);                     /* each parameter once: a topological walk */
    expect_round_trip(tr);
    mt_trace_free(tr);
    mt_arena_free(step);
    mt_sgd_free(opt);
    mt_module_free(mlp);
}
END_TEST

static Suite *trace_suite(void)
{
    Suite *s = suite_create("trace");
    TCase *rec = tcase_create("recording");
    tcase_add_checked_fixture(rec, NULL, teardown);
    tcase_add_test(rec, seed_trace_should_record_node_kinds_labels_and_edges);
    tcase_add_loop_test(rec, seed_dfs_should_give_the_hand_derived_events_and_accumulations, 0, 2);
    tcase_add_test(rec, diamond_should_be_visited_twice_by_dfs_and_once_by_topo);
    suite_add_tcase(s, rec);

    TCase *orders = tcase_create("traversals");
    tcase_add_checked_fixture(orders, NULL, teardown);
    tcase_set_timeout(orders, 120);
    tcase_add_test(orders, traversals_should_agree_on_the_seed_and_the_diamond);
    tcase_add_loop_test(orders, traversals_should_agree_on_every_op_fixture_used_twice, 0,
                        CF_NUM_OP_CASES);
    tcase_add_test(orders, traversals_should_agree_on_an_mlp_step);
    suite_add_tcase(s, orders);

    TCase *json = tcase_create("json");
    tcase_add_unchecked_fixture(json, tmp_setup, tmp_teardown);
    tcase_add_checked_fixture(json, NULL, teardown);
    tcase_set_timeout(json, 120);
    tcase_add_test(json, json_round_trip_should_keep_every_field);
    tcase_add_loop_test(json, json_round_trip_should_keep_a_failed_walk, 0, 2);
    tcase_add_loop_test(json, save_should_accept_what_the_recorder_makes_in_odd_cases, 0, 3);
    tcase_add_loop_test(json, malformed_trace_should_be_refused_with_its_message, 0,
                        N_OF(bad_traces));
    tcase_add_test(json, malformed_text_should_be_refused_as_truncated_or_not_json);
    tcase_add_loop_test(json, corrupted_trace_should_be_refused_or_read_whole, 0, 3);
    tcase_add_test(json, load_should_refuse_missing_and_oversized_files);
    tcase_add_loop_test(json, save_should_refuse_an_order_no_walk_produces, 0,
                        N_OF(broken_messages));
    tcase_add_test(json, save_should_report_a_file_it_cannot_create);
    suite_add_tcase(s, json);

    TCase *dot = tcase_create("dot");
    tcase_add_unchecked_fixture(dot, tmp_setup, tmp_teardown);
    tcase_add_checked_fixture(dot, NULL, teardown);
    tcase_set_timeout(dot, 120);
    tcase_add_test(dot, dot_should_draw_the_seed_graph_left_to_right);
    tcase_add_test(dot, dot_should_style_parameters_and_draw_lone_tensors);
    tcase_add_test(dot, mnist_step_trace_should_outlive_the_step_arena);
    suite_add_tcase(s, dot);
    return s;
}

int main(void) { return run_suite(trace_suite()); }
