/* test_autograd.c: the "autograd" suite. The graph and the engine, on the worked example of
 * mytorch.h (e = (a*b + a) + c + 3), on diamonds where the two traversals differ in work but not
 * in result, and through the observer the viewer is built on. Flags and invariants follow
 * PyTorch's meanings of requires_grad and is_leaf. */
#include <mytorch/mytorch.h>

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static error_log errors; /* filled by capture_errors(&errors) */

/* ---- the worked example ---------------------------------------------------------------------- */

typedef struct example {
    mt_tensor *a, *b, *c, *ab, *d, *dc, *e;
} example;

/* e = (a*b + a) + c + 3 with a = 1, c = 3 requiring grad and b = 2 a constant. */
static example worked_example(void)
{
    example x;
    x.a = mt_set_label(mt_requires_grad(mt_scalar(1.0), true), "a");
    x.b = mt_set_label(mt_scalar(2.0), "b");
    x.c = mt_set_label(mt_requires_grad(mt_scalar(3.0), true), "c");
    x.ab = mt_mul(x.a, x.b);
    x.d = mt_add(x.ab, x.a);
    x.dc = mt_add(x.d, x.c);
    x.e = mt_add_scalar(x.dc, 3.0);
    ck_assert_ptr_nonnull(x.e);
    return x;
}

START_TEST(worked_example_should_give_pytorch_gradients)
{
    example x = worked_example();
    ck_assert_double_eq(mt_item(x.e), 9.0);     /* 1*2 + 1 + 3 + 3 */
    ck_assert_int_eq(mt_backward(x.e), 0);
    ck_assert_ptr_nonnull(x.a->grad);
    ck_assert_ptr_nonnull(x.c->grad);
    ck_assert_double_eq(mt_item(x.a->grad), 3.0);
    ck_assert_double_eq(mt_item(x.c->grad), 1.0);
    ck_assert_ptr_null(x.b->grad);
    /* like PyTorch, intermediates keep no .grad */
    ck_assert_ptr_null(x.d->grad);
    ck_assert_ptr_null(x.e->grad);
    ck_assert_int_eq(x.a->grad->shape.ndim, 0);
}
END_TEST

START_TEST(worked_example_should_link_the_graph_like_pytorch)
{
    example x = worked_example();
    const mt_node *e_fn = x.e->grad_fn, *dc_fn = x.dc->grad_fn, *d_fn = x.d->grad_fn,
                  *mul_fn = x.ab->grad_fn;
    ck_assert_ptr_nonnull(e_fn);
    ck_assert_int_eq(e_fn->kind, MT_BACKWARD_FUNCTION);
    ck_assert_ptr_eq(e_fn->op, mt_op_find("add"));
    ck_assert_ptr_eq(e_fn->variable, x.e);
    ck_assert_int_eq(e_fn->nparents, 2);
    ck_assert_ptr_eq(e_fn->next_functions[0], dc_fn);
    ck_assert_ptr_null(e_fn->next_functions[1]);                 /* the constant 3 */

    ck_assert_ptr_eq(dc_fn->next_functions[0], d_fn);
    ck_assert_ptr_eq(dc_fn->next_functions[1], x.c->accumulate);
    ck_assert_ptr_eq(d_fn->next_functions[0], mul_fn);
    ck_assert_ptr_eq(d_fn->next_functions[1], x.a->accumulate);

    ck_assert_ptr_eq(mul_fn->op, mt_op_find("mul"));
    ck_assert_int_eq(mul_fn->kind, MT_BACKWARD_FUNCTION);
    ck_assert_ptr_eq(mul_fn->next_functions[0], x.a->accumulate);  /* one node per leaf */
    ck_assert_ptr_null(mul_fn->next_functions[1]);                 /* b: a constant */

    const mt_node *acc = x.a->accumulate;
    ck_assert_ptr_nonnull(acc);
    ck_assert_int_eq(acc->kind, MT_ACCUMULATE_GRAD);
    ck_assert_ptr_eq(acc->variable, x.a);
    ck_assert_int_eq(x.c->accumulate->kind, MT_ACCUMULATE_GRAD);
    ck_assert_ptr_eq(x.c->accumulate->variable, x.c);
    ck_assert_ptr_null(x.b->accumulate);
    ck_assert_ptr_null(x.b->grad_fn);
    ck_assert_ptr_null(x.a->grad_fn);

    /* node ids are unique */
    const mt_node *all[] = { e_fn, dc_fn, d_fn, mul_fn, x.a->accumulate, x.c->accumulate };
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < i; j++) ck_assert_uint_ne(all[i]->id, all[j]->id);
}
END_TEST

START_TEST(worked_example_flags_should_match_pytorch)
{
    example x = worked_example();
    ck_assert(x.a->is_leaf && x.a->requires_grad);
    ck_assert(x.b->is_leaf && !x.b->requires_grad);
    ck_assert(x.c->is_leaf && x.c->requires_grad);
    ck_assert(!x.d->is_leaf && x.d->requires_grad);
    ck_assert(!x.e->is_leaf && x.e->requires_grad);
    ck_assert(!x.a->is_parameter);
    mt_tensor *all[] = { x.a, x.b, x.c, x.ab, x.d, x.dc, x.e };
    for (int i = 0; i < 7; i++) ck_assert_msg(mt_tensor_check(all[i]), "tensor %d", i);
    ck_assert_int_eq(mt_backward(x.e), 0);
    for (int i = 0; i < 7; i++)
        ck_assert_msg(mt_tensor_check(all[i]), "tensor %d after backward", i);
}
END_TEST

static void second_backward_accumulates(mt_traversal how)
{
    example x = worked_example();
    ck_assert_int_eq(mt_backward_ex(x.e, NULL, how), 0);
    ck_assert_double_eq(mt_item(x.a->grad), 3.0);
    ck_assert_int_eq(mt_backward_ex(x.e, NULL, how), 0);
    ck_assert_double_eq(mt_item(x.a->grad), 6.0);
    ck_assert_double_eq(mt_item(x.c->grad), 2.0);
    ck_assert_ptr_null(x.b->grad);
    /* DFS reaches a along its two paths, TOPO sums first and runs a's node once */
    ck_assert_uint_eq(x.a->accumulate->backward_calls, how == MT_DFS ? 4 : 2);
    ck_assert_uint_eq(x.c->accumulate->backward_calls, 2);
    ck_assert_uint_eq(x.e->grad_fn->backward_calls, 2);
}

START_TEST(second_backward_should_accumulate_with_dfs) { second_backward_accumulates(MT_DFS); }
END_TEST

START_TEST(second_backward_should_accumulate_with_topo) { second_backward_accumulates(MT_TOPO); }
END_TEST

START_TEST(backward_with_a_seed_should_scale_the_gradients)
{
    example x = worked_example();
    ck_assert_int_eq(mt_backward_ex(x.e, mt_scalar(-0.5), MT_TOPO), 0);
    ck_assert_double_eq(mt_item(x.a->grad), -1.5);
    ck_assert_double_eq(mt_item(x.c->grad), -0.5);
}
END_TEST

START_TEST(zero_grad_should_reset_gradients_to_zero)
{
    example x = worked_example();
    mt_zero_grad(x.a);                       /* no grad yet: stays NULL */
    ck_assert_ptr_null(x.a->grad);
    mt_zero_grad(NULL);
    ck_assert_int_eq(mt_backward(x.e), 0);
    mt_zero_grad(x.a);
    ck_assert_ptr_nonnull(x.a->grad);
    ck_assert_double_eq(mt_item(x.a->grad), 0.0);
    ck_assert_double_eq(mt_item(x.c->grad), 1.0);   /* only the tensor named */
    ck_assert_int_eq(mt_backward(x.e), 0);
    ck_assert_double_eq(mt_item(x.a->grad), 3.0);
    ck_assert_double_eq(mt_item(x.c->grad), 2.0);
}
END_TEST

START_TEST(backward_from_a_leaf_should_seed_its_own_grad)
{
    mt_tensor *x = mt_requires_grad(mt_from_data(MT_SHAPE(2), (double[]){ 4, 5 }), true);
    ck_assert_int_eq(mt_backward(x), 0);
    ck_assert_double_eq(x->grad->data[0], 1.0);
    ck_assert_double_eq(x->grad->data[1], 1.0);
}
END_TEST

/* ---- requires_grad propagation and no-grad mode ---------------------------------------------- */

START_TEST(output_should_require_grad_iff_an_input_does)
{
    for (int mask = 0; mask < 4; mask++) {
        mt_tensor *p = mt_requires_grad(mt_full(MT_SHAPE(2, 2), 1.5), mask & 1);
        mt_tensor *q = mt_requires_grad(mt_full(MT_SHAPE(2), 2.0), (mask & 2) != 0);
        mt_tensor *outs[] = { mt_add(p, q), mt_sub(p, q), mt_mul(p, q), mt_div(p, q),
                              mt_matmul(p, mt_reshape(q, MT_SHAPE(2, 1))) };
        for (int i = 0; i < 5; i++) {
            mt_tensor *o = outs[i];
            ck_assert_ptr_nonnull(o);
            bool want = mask != 0;
            ck_assert_msg(o->requires_grad == want, "mask %d op %d: requires_grad %d", mask, i,
                          o->requires_grad);
            ck_assert_msg(o->is_leaf == !want, "mask %d op %d: is_leaf %d", mask, i, o->is_leaf);
            ck_assert_msg((o->grad_fn != NULL) == want, "mask %d op %d: grad_fn", mask, i);
            ck_assert(mt_tensor_check(o));
        }
    }
}
END_TEST

START_TEST(unary_ops_on_constants_should_give_leaves)
{
    mt_tensor *x = mt_full(MT_SHAPE(3), 2.0);
    mt_tensor *outs[] = { mt_neg(x), mt_pow(x, 2), mt_exp(x), mt_log(x), mt_sqrt(x), mt_relu(x),
                          mt_transpose(mt_reshape(x, MT_SHAPE(1, 3))), mt_sum(x), mt_mean(x),
                          mt_sum_axis(x, 0, true), mt_add_scalar(x, 1), mt_rdiv_scalar(1, x) };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        ck_assert_ptr_nonnull(outs[i]);
        ck_assert_msg(outs[i]->is_leaf && !outs[i]->requires_grad && !outs[i]->grad_fn,
                      "output %zu", i);
    }
    ck_assert_ptr_null(x->accumulate);
}
END_TEST

static int nodes_created;

static void count_nodes(const mt_event *ev, void *user)
{
    (void)user;
    if (ev->kind == MT_EV_NODE_CREATED) nodes_created++;
}

START_TEST(no_grad_mode_should_build_no_nodes_and_restore)
{
    nodes_created = 0;
    mt_set_observer(count_nodes, NULL);
    ck_assert(mt_is_grad_enabled());
    mt_tensor *w = mt_requires_grad(mt_full(MT_SHAPE(2, 2), 0.5), true);
    ck_assert(mt_set_grad_enabled(false) == true);
    ck_assert(!mt_is_grad_enabled());
    mt_tensor *y = mt_sum(mt_mul_scalar(mt_matmul(w, w), 2.0));
    ck_assert_ptr_nonnull(y);
    ck_assert_double_eq(mt_item(y), 4.0);          /* 2 * sum of 0.5 entries of w@w */
    ck_assert(y->is_leaf && !y->requires_grad && y->grad_fn == NULL);
    ck_assert_int_eq(nodes_created, 0);
    ck_assert_ptr_null(w->accumulate);
    ck_assert(w->requires_grad);                   /* the leaf keeps its flag */
    ck_assert(mt_set_grad_enabled(false) == false);  /* returns the previous setting */
    ck_assert(mt_set_grad_enabled(true) == false);
    ck_assert(mt_is_grad_enabled());

    mt_tensor *z = mt_sum(mt_matmul(w, w));
    ck_assert(!z->is_leaf && z->requires_grad && z->grad_fn != NULL);
    ck_assert_int_eq(nodes_created, 2);
    ck_assert_int_eq(mt_backward(z), 0);
    /* d sum(w@w)/dw = 1 w^T + w^T 1 = 2 * 0.5 * 2 = 2 per entry */
    for (int i = 0; i < 4; i++) ck_assert_double_eq(w->grad->data[i], 2.0);
}
END_TEST

/* ---- flags and invariants -------------------------------------------------------------------- */

START_TEST(requires_grad_off_should_be_refused_on_a_non_leaf)
{
    capture_errors(&errors);
    mt_tensor *a = mt_requires_grad(mt_scalar(2.0), true);
    mt_tensor *y = mt_mul(a, a);
    ck_assert_ptr_eq(mt_requires_grad(y, false), y);
    ck_assert_int_eq(errors.count, 1);
    ck_assert_ptr_nonnull(strstr(errors.last, "requires_grad"));
    ck_assert(y->requires_grad && !y->is_leaf);
    ck_assert(mt_tensor_check(y));
    /* a leaf may be switched both ways */
    mt_requires_grad(a, false);
    ck_assert(!a->requires_grad);
    mt_requires_grad(a, true);
    ck_assert(a->requires_grad);
    ck_assert_int_eq(errors.count, 1);
    ck_assert_ptr_null(mt_requires_grad(NULL, true));
}
END_TEST

START_TEST(make_parameter_should_set_requires_grad_and_keep_it)
{
    capture_errors(&errors);
    mt_tensor *w = mt_zeros(MT_SHAPE(3, 2));
    ck_assert(!w->requires_grad && !w->is_parameter);
    ck_assert_ptr_eq(mt_make_parameter(w), w);
    ck_assert(w->is_parameter && w->requires_grad && w->is_leaf);
    ck_assert(mt_tensor_check(w));
    ck_assert_int_eq(errors.count, 0);
    mt_requires_grad(w, false);                     /* refused */
    ck_assert_int_eq(errors.count, 1);
    ck_assert(w->requires_grad);
    ck_assert(mt_tensor_check(w));
}
END_TEST

START_TEST(make_parameter_should_be_refused_for_a_non_leaf)
{
    capture_errors(&errors);
    mt_tensor *a = mt_requires_grad(mt_scalar(2.0), true);
    mt_tensor *y = mt_exp(a);
    mt_make_parameter(y);
    ck_assert_int_eq(errors.count, 1);
    ck_assert(!y->is_parameter);
    ck_assert(mt_tensor_check(y));
}
END_TEST

START_TEST(tensor_check_should_catch_broken_invariants)
{
    mt_tensor *t = mt_zeros(MT_SHAPE(2));
    ck_assert(mt_tensor_check(t));
    ck_assert(!mt_tensor_check(NULL));
    t->is_parameter = true;                 /* a parameter that requires no grad */
    ck_assert(!mt_tensor_check(t));
    t->is_parameter = false;
    t->is_leaf = false;                     /* a non-leaf that requires no grad */
    ck_assert(!mt_tensor_check(t));
    t->is_leaf = true;
    t->requires_grad = true;
    t->grad = mt_zeros(MT_SHAPE(3));        /* a grad of the wrong shape */
    ck_assert(!mt_tensor_check(t));
    t->grad = mt_zeros(MT_SHAPE(2));
    ck_assert(mt_tensor_check(t));
}
END_TEST

START_TEST(backward_without_grad_should_report_and_return_minus_one)
{
    capture_errors(&errors);
    mt_tensor *x = mt_ones(MT_SHAPE(2));
    mt_tensor *y = mt_sum(mt_mul(x, x));
    ck_assert_int_eq(mt_backward(y), -1);
    ck_assert_int_eq(errors.count, 1);
    ck_assert_ptr_nonnull(strstr(errors.last, "backward"));
    ck_assert_int_eq(mt_backward_ex(y, NULL, MT_TOPO), -1);
    ck_assert_int_eq(errors.count, 2);
    ck_assert_int_eq(mt_backward(NULL), -1);
    ck_assert_int_eq(errors.count, 3);
    ck_assert_ptr_null(x->grad);
}
END_TEST

/* ---- diamonds: same gradients, different amounts of work ------------------------------------- */

#define LEVELS 3

typedef struct diamond {
    mt_tensor *x;
    mt_tensor *v[LEVELS + 1];  /* v[0] = x*x; v[i+1] = v[i] (op) v[i]: two paths into each v[i] */
} diamond;

static diamond diamond_chain(double x0, bool use_mul)
{
    diamond d;
    d.x = mt_requires_grad(mt_from_data(MT_SHAPE(2), (double[]){ x0, -x0 }), true);
    d.v[0] = mt_mul(d.x, d.x);
    for (int i = 0; i < LEVELS; i++)
        d.v[i + 1] = use_mul ? mt_mul(d.v[i], d.v[i]) : mt_add(d.v[i], d.v[i]);
    ck_assert_ptr_nonnull(d.v[LEVELS]);
    return d;
}

static void diamond_counts(const diamond *d, mt_traversal how)
{
    /* DFS runs the node of v[i] once per path from the root: 2^(LEVELS - i) */
    for (int i = 0; i <= LEVELS; i++) {
        uint64_t want = how == MT_DFS ? (uint64_t)1 << (LEVELS - i) : 1;
        ck_assert_msg(d->v[i]->grad_fn->backward_calls == want,
                      "%s: v[%d] ran %llu times, want %llu", how == MT_DFS ? "DFS" : "TOPO", i,
                      (unsigned long long)d->v[i]->grad_fn->backward_calls,
                      (unsigned long long)want);
    }
    uint64_t leaf = how == MT_DFS ? (uint64_t)1 << (LEVELS + 1) : 1;
    ck_assert_uint_eq(d->x->accumulate->backward_calls, leaf);
}

START_TEST(diamonds_should_give_the_same_sum_gradients_with_both_traversals)
{
    /* v[3] = 8 x^2, dv/dx = 16 x: powers of two, so both traversals are exact */
    diamond dfs = diamond_chain(1.25, false), topo = diamond_chain(1.25, false);
    mt_tensor *g = mt_from_data(MT_SHAPE(2), (double[]){ 1.0, -3.0 });
    ck_assert_int_eq(mt_backward_ex(dfs.v[LEVELS], g, MT_DFS), 0);
    ck_assert_int_eq(mt_backward_ex(topo.v[LEVELS], g, MT_TOPO), 0);
    ck_assert_double_eq(dfs.x->grad->data[0], 16 * 1.25);
    ck_assert_double_eq(dfs.x->grad->data[1], -3.0 * 16 * -1.25);
    ck_assert(memcmp(dfs.x->grad->data, topo.x->grad->data, 2 * sizeof(double)) == 0);
    diamond_counts(&dfs, MT_DFS);
    diamond_counts(&topo, MT_TOPO);
}
END_TEST

START_TEST(diamonds_of_products_should_agree_across_traversals)
{
    /* v[3] = x^16, dv/dx = 16 x^15 */
    const double x0 = 1.1;
    diamond dfs = diamond_chain(x0, true), topo = diamond_chain(x0, true);
    ck_assert_int_eq(mt_backward_ex(dfs.v[LEVELS], NULL, MT_DFS), 0);
    ck_assert_int_eq(mt_backward_ex(topo.v[LEVELS], NULL, MT_TOPO), 0);
    double want[2] = { 16 * pow(x0, 15), 16 * pow(-x0, 15) };
    for (int i = 0; i < 2; i++) {
        ck_assert_double_eq_tol(dfs.x->grad->data[i], want[i], 1e-12 * fabs(want[i]));
        ck_assert_double_eq_tol(topo.x->grad->data[i], dfs.x->grad->data[i], 1e-12 * fabs(want[i]));
    }
    diamond_counts(&dfs, MT_DFS);
    diamond_counts(&topo, MT_TOPO);
}
END_TEST

/* Two chains over the same leaves, L[i] feeding both M[i] = M[i+1] + L[i] and N[i] = L[i] +
 * N[i+1], root = N[0] + M[0]. Finding the nodes meets each leaf early (from the M chain), but
 * in PyTorch's order every leaf only becomes ready while the N chain runs, so all of them wait
 * at once: the engine must hold many more ready nodes than it held while counting edges. */
START_TEST(topo_should_handle_many_nodes_ready_at_once)
{
    enum { K = 300 };
    mt_tensor **leaf = malloc(K * sizeof *leaf);
    ck_assert_ptr_nonnull(leaf);
    for (int i = 0; i < K; i++) leaf[i] = mt_requires_grad(mt_scalar(i * 0.5), true);
    mt_tensor *m = leaf[K - 1], *n = leaf[K - 1];
    for (int i = K - 2; i >= 0; i--) {
        m = mt_add(m, leaf[i]);
        n = mt_add(leaf[i], n);
    }
    mt_tensor *root = mt_add(n, m);
    ck_assert_int_eq(mt_backward_ex(root, NULL, MT_TOPO), 0);
    for (int i = 0; i < K; i++) {
        ck_assert_ptr_nonnull(leaf[i]->grad);
        ck_assert_msg(mt_item(leaf[i]->grad) == 2.0, "leaf %d: grad %g", i, mt_item(leaf[i]->grad));
        ck_assert_uint_eq(leaf[i]->accumulate->backward_calls, 1);
    }
    free(leaf);
}
END_TEST

/* ---- the observer ---------------------------------------------------------------------------- */

#define MAX_EVENTS 64

typedef struct seen_event {
    mt_event_kind kind;
    const mt_node *node, *parent;
    int input_index;
    const mt_tensor *tensor;
    double grad;              /* first element of ev->grad (NAN when none) */
    bool has_before;
    double before, after;
    int ninputs;
    mt_traversal traversal;
} seen_event;

typedef struct recorder {
    int n;
    seen_event ev[MAX_EVENTS];
} recorder;

static void record(const mt_event *ev, void *user)
{
    recorder *r = user;
    ck_assert_int_lt(r->n, MAX_EVENTS);
    seen_event *s = &r->ev[r->n++];
    s->kind = ev->kind;
    s->node = ev->node;
    s->parent = ev->parent;
    s->input_index = ev->input_index;
    s->tensor = ev->tensor;
    s->grad = ev->grad ? ev->grad->data[0] : NAN;
    s->has_before = ev->before != NULL;
    s->before = ev->before ? ev->before->data[0] : NAN;
    s->after = ev->after ? ev->after->data[0] : NAN;
    s->ninputs = ev->ninputs;
    s->traversal = ev->traversal;
    if (ev->kind == MT_EV_NODE_CREATED) {
        ck_assert_ptr_nonnull(ev->inputs);
        ck_assert_ptr_eq(ev->tensor->grad_fn, ev->node);
    }
    if (ev->kind == MT_EV_GRAD_PASSED) {
        ck_assert_msg(ev->parent != NULL, "GRAD_PASSED to a NULL parent");
        ck_assert_ptr_eq(ev->node->next_functions[ev->input_index], ev->parent);
        ck_assert_ptr_nonnull(ev->grad);
    }
    if (ev->kind == MT_EV_ACCUMULATE) {
        ck_assert_int_eq(ev->node->kind, MT_ACCUMULATE_GRAD);
        ck_assert_ptr_eq(ev->node->variable, ev->tensor);
        ck_assert_ptr_nonnull(ev->after);
    }
}

static int count_kind(const recorder *r, mt_event_kind k)
{
    int n = 0;
    for (int i = 0; i < r->n; i++) n += r->ev[i].kind == k;
    return n;
}

START_TEST(observer_should_see_one_node_created_per_op_with_grad)
{
    static recorder r;
    memset(&r, 0, sizeof r);
    mt_set_observer(record, &r);
    example x = worked_example();
    /* a's AccumulateGrad (made when a*b is), mul, add, c's AccumulateGrad, add, add of the 3 */
    ck_assert_int_eq(r.n, 6);
    static const mt_event_kind kinds[6] = {
        MT_EV_LEAF_NODE_CREATED, MT_EV_NODE_CREATED, MT_EV_NODE_CREATED,
        MT_EV_LEAF_NODE_CREATED, MT_EV_NODE_CREATED, MT_EV_NODE_CREATED,
    };
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(r.ev[i].kind, kinds[i]);
        ck_assert_int_eq(r.ev[i].traversal, MT_NO_TRAVERSAL);
        if (kinds[i] == MT_EV_NODE_CREATED) ck_assert_int_eq(r.ev[i].ninputs, 2);
    }
    ck_assert_int_eq(count_kind(&r, MT_EV_NODE_CREATED), 4);   /* mul, add, add, add of 3 */
    ck_assert_ptr_eq(r.ev[0].tensor, x.a);
    ck_assert_ptr_eq(r.ev[0].node, x.a->accumulate);
    ck_assert_ptr_eq(r.ev[1].tensor, x.ab);
    ck_assert_ptr_eq(r.ev[2].tensor, x.d);
    ck_assert_ptr_eq(r.ev[3].tensor, x.c);
    ck_assert_ptr_eq(r.ev[4].tensor, x.dc);
    ck_assert_ptr_eq(r.ev[5].tensor, x.e);
    mt_tensor *k = mt_mul(x.b, x.b);          /* constants only: no node, no event */
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(r.n, 6);
    mt_set_observer(NULL, NULL);
    mt_mul(x.a, x.a);
    ck_assert_int_eq(r.n, 6);
}
END_TEST

/* The ACCUMULATE events of one leaf in one backward: before/after chain up, start at `start`
 * (NAN: no grad yet) and end at `final`. Returns how many there were. */
static int check_accumulations(const recorder *r, const mt_tensor *leaf, double start, double final)
{
    int n = 0;
    double cur = start;
    for (int i = 0; i < r->n; i++) {
        const seen_event *s = &r->ev[i];
        if (s->kind != MT_EV_ACCUMULATE || s->tensor != leaf) continue;
        if (isnan(cur)) ck_assert_msg(!s->has_before, "first accumulation must have no before");
        else {
            ck_assert(s->has_before);
            ck_assert_double_eq(s->before, cur);
        }
        double want = (isnan(cur) ? 0.0 : cur) + s->grad;
        ck_assert_double_eq(s->after, want);
        cur = s->after;
        n++;
    }
    ck_assert_double_eq(cur, final);
    return n;
}

static void observe_backward(mt_traversal how)
{
    static recorder r;
    example x = worked_example();
    memset(&r, 0, sizeof r);
    mt_set_observer(record, &r);
    ck_assert_int_eq(mt_backward_ex(x.e, NULL, how), 0);

    ck_assert_int_eq(r.ev[0].kind, MT_EV_BACKWARD_BEGIN);
    ck_assert_ptr_eq(r.ev[0].tensor, x.e);
    ck_assert_ptr_eq(r.ev[0].node, x.e->grad_fn);
    ck_assert_double_eq(r.ev[0].grad, 1.0);
    ck_assert_int_eq(r.ev[0].traversal, how);
    ck_assert_int_eq(r.ev[r.n - 1].kind, MT_EV_BACKWARD_END);
    ck_assert_int_eq(count_kind(&r, MT_EV_BACKWARD_BEGIN), 1);
    ck_assert_int_eq(count_kind(&r, MT_EV_BACKWARD_END), 1);
    ck_assert_int_eq(count_kind(&r, MT_EV_NODE_CREATED), 0);  /* backward builds no graph */

    ck_assert_int_eq(r.ev[1].kind, MT_EV_VISIT);              /* the root first, with the seed */
    ck_assert_ptr_eq(r.ev[1].node, x.e->grad_fn);
    ck_assert_double_eq(r.ev[1].grad, 1.0);

    /* six edges with a non-NULL parent: e->dc, dc->d, dc->c, d->mul, d->a, mul->a */
    ck_assert_int_eq(count_kind(&r, MT_EV_GRAD_PASSED), 6);
    /* DFS visits a's node along both paths; TOPO once */
    ck_assert_int_eq(count_kind(&r, MT_EV_VISIT), how == MT_DFS ? 7 : 6);
    ck_assert_int_eq(check_accumulations(&r, x.a, NAN, 3.0), how == MT_DFS ? 2 : 1);
    ck_assert_int_eq(check_accumulations(&r, x.c, NAN, 1.0), 1);
    ck_assert_int_eq(count_kind(&r, MT_EV_ACCUMULATE), how == MT_DFS ? 3 : 2);

    if (how == MT_DFS) {
        /* a receives b = 2 from the product and 1 from the sum, in either order */
        double g[2];
        int k = 0;
        for (int i = 0; i < r.n; i++)
            if (r.ev[i].kind == MT_EV_ACCUMULATE && r.ev[i].tensor == x.a) g[k++] = r.ev[i].grad;
        ck_assert((g[0] == 2.0 && g[1] == 1.0) || (g[0] == 1.0 && g[1] == 2.0));
    }
    /* every gradient passed along an edge, by what it carries */
    for (int i = 0; i < r.n; i++) {
        const seen_event *s = &r.ev[i];
        if (s->kind != MT_EV_GRAD_PASSED) continue;
        double want = (s->node == x.ab->grad_fn) ? 2.0 : 1.0;   /* d(ab)/da = b */
        ck_assert_msg(s->grad == want, "edge from node %u: %g", s->node->id, s->grad);
    }

    /* a second backward: accumulations start from the previous grads */
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(mt_backward_ex(x.e, NULL, how), 0);
    ck_assert_int_eq(check_accumulations(&r, x.a, 3.0, 6.0), how == MT_DFS ? 2 : 1);
    ck_assert_int_eq(check_accumulations(&r, x.c, 1.0, 2.0), 1);
    mt_set_observer(NULL, NULL);
}

START_TEST(observer_should_follow_dfs_backward) { observe_backward(MT_DFS); }
END_TEST

START_TEST(observer_should_follow_topo_backward) { observe_backward(MT_TOPO); }
END_TEST


/* ---- hardening: deep graphs, traversal order, errors during backward ------------------------- */

/* y = -(-(...(-x))) with n negations: a chain of n nodes, the deepest graph there is. */
static mt_tensor *neg_chain(mt_tensor *x, int n)
{
    mt_tensor *y = x;
    for (int i = 0; i < n; i++) y = mt_neg(y);
    return y;
}

static void deep_chain_backward(mt_traversal how)
{
    enum { DEPTH = 200000 };
    mt_tensor *x = mt_requires_grad(mt_from_data(MT_SHAPE(2), (double[]){ 1.5, -2 }), true);
    mt_tensor *y = neg_chain(x, DEPTH);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(mt_backward_ex(mt_sum(y), NULL, how), 0);
    /* an even number of negations: the gradient is +1 */
    ck_assert_double_eq(x->grad->data[0], 1.0);
    ck_assert_double_eq(x->grad->data[1], 1.0);
    ck_assert_uint_eq(x->accumulate->backward_calls, 1);
    ck_assert_uint_eq(y->grad_fn->backward_calls, 1);
    ck_assert(mt_is_grad_enabled());
}

START_TEST(dfs_should_walk_a_200k_node_chain_without_overflowing_the_stack)
{
    deep_chain_backward(MT_DFS);
}
END_TEST

START_TEST(topo_should_walk_a_200k_node_chain)
{
    deep_chain_backward(MT_TOPO);
}
END_TEST

/* The events the handout's recursive DFS produces, made by an independent recursion over the
 * graph: VISIT n, then for an AccumulateGrad ACCUMULATE, else for each non-NULL parent in input
 * order GRAD_PASSED and the parent's whole walk. */
typedef struct order_event {
    mt_event_kind kind;
    const mt_node *node, *parent;
    int input_index;
} order_event;

typedef struct order_log {
    int n;
    order_event ev[256];
} order_log;

static void order_add(order_log *log, mt_event_kind kind, const mt_node *node,
                      const mt_node *parent, int input_index)
{
    ck_assert_int_lt(log->n, 256);
    log->ev[log->n++] = (order_event){ kind, node, parent, input_index };
}

static void reference_dfs(order_log *log, const mt_node *n)
{
    order_add(log, MT_EV_VISIT, n, NULL, 0);
    if (n->kind == MT_ACCUMULATE_GRAD) { order_add(log, MT_EV_ACCUMULATE, n, NULL, 0); return; }
    for (int i = 0; i < n->nparents; i++) {
        const mt_node *p = n->next_functions[i];
        if (!p) continue;
        order_add(log, MT_EV_GRAD_PASSED, n, p, i);
        reference_dfs(log, p);
    }
}

static void record_order(const mt_event *ev, void *user)
{
    if (ev->kind == MT_EV_VISIT || ev->kind == MT_EV_GRAD_PASSED || ev->kind == MT_EV_ACCUMULATE)
        order_add(user, ev->kind, ev->node, ev->parent,
                  ev->kind == MT_EV_GRAD_PASSED ? ev->input_index : 0);
}

START_TEST(dfs_should_visit_in_the_order_of_the_recursive_walk)
{
    /* the worked example, a diamond, a repeated input and a constant, all in one graph */
    example x = worked_example();
    mt_tensor *p = mt_mul(x.a, x.a);                 /* the same parent twice */
    mt_tensor *q = mt_exp(mt_add(p, x.e));
    mt_tensor *root = mt_sum(mt_add(mt_mul(q, x.c), mt_sub_scalar(p, 1.0)));
    ck_assert_ptr_nonnull(root);
    static order_log want, got;
    memset(&want, 0, sizeof want);
    memset(&got, 0, sizeof got);
    reference_dfs(&want, root->grad_fn);
    mt_set_observer(record_order, &got);
    ck_assert_int_eq(mt_backward(root), 0);
    mt_set_observer(NULL, NULL);
    ck_assert_int_eq(got.n, want.n);
    for (int i = 0; i < want.n; i++) {
        ck_assert_msg(got.ev[i].kind == want.ev[i].kind && got.ev[i].node == want.ev[i].node &&
                      got.ev[i].parent == want.ev[i].parent &&
                      got.ev[i].input_index == want.ev[i].input_index,
                      "event %d: kind %d node %u, want kind %d node %u", i, got.ev[i].kind,
                      got.ev[i].node->id, want.ev[i].kind, want.ev[i].node->id);
    }
}
END_TEST

/* x reaches the root along paths of lengths 1, 2 and 4:
 *   u = exp(x); v = 3 u; w = (v * v) + u; root = sum(w + x)
 * d root / dx = (18 u^2 + u) + 1 (with u = e^x, dv/dx = 3u, d(v^2)/dx = 2 v 3u = 18 u^2). */
START_TEST(topo_should_run_each_node_once_after_every_consumer_on_uneven_paths)
{
    const double x0[3] = { -0.5, 0.25, 1.0 };
    for (int t = 0; t < 2; t++) {
        mt_traversal how = t ? MT_TOPO : MT_DFS;
        mt_tensor *x = mt_requires_grad(mt_from_data(MT_SHAPE(3), x0), true);
        mt_tensor *u = mt_exp(x);
        mt_tensor *v = mt_mul_scalar(u, 3.0);
        mt_tensor *w = mt_add(mt_mul(v, v), u);
        mt_tensor *root = mt_sum(mt_add(w, x));
        static order_log got;
        memset(&got, 0, sizeof got);
        mt_set_observer(record_order, &got);
        ck_assert_int_eq(mt_backward_ex(root, NULL, how), 0);
        mt_set_observer(NULL, NULL);
        for (int i = 0; i < 3; i++) {
            double ui = exp(x0[i]);
            ck_assert_double_eq_tol(x->grad->data[i], 18 * ui * ui + ui + 1,
                                    1e-12 * (18 * ui * ui + 2));
        }
        if (how == MT_DFS) continue;
        /* TOPO: every node visited once, and only after every edge into it delivered */
        for (int i = 0; i < got.n; i++) {
            if (got.ev[i].kind != MT_EV_VISIT) continue;
            const mt_node *n = got.ev[i].node;
            for (int j = 0; j < got.n; j++) {
                if (j != i && got.ev[j].kind == MT_EV_VISIT) ck_assert(got.ev[j].node != n);
                if (got.ev[j].kind == MT_EV_GRAD_PASSED && got.ev[j].parent == n)
                    ck_assert_msg(j < i, "node %u visited before an edge into it", n->id);
            }
            ck_assert_uint_eq(n->backward_calls, 1);
        }
    }
}
END_TEST

START_TEST(backward_should_refuse_an_unknown_traversal)
{
    capture_errors(&errors);
    mt_tensor *x = mt_requires_grad(mt_scalar(2.0), true);
    mt_tensor *y = mt_mul(x, x);
    ck_assert_int_eq(mt_backward_ex(y, NULL, (mt_traversal)7), -1);
    ck_assert_int_eq(errors.count, 1);
    ck_assert_ptr_nonnull(strstr(errors.last, "backward"));
    ck_assert_ptr_null(x->grad);
}
END_TEST

/* A leaf whose .grad was replaced by a tensor of another shape: backward must say so (not write
 * past the end of it), and leave grad mode, the current arena and the engine as they were. */
START_TEST(backward_failing_midway_should_report_and_restore_the_engine)
{
    capture_errors(&errors);
    for (int t = 0; t < 2; t++) {
        mt_traversal how = t ? MT_TOPO : MT_DFS;
        errors.count = 0;
        mt_tensor *w = mt_requires_grad(mt_from_data(MT_SHAPE(4), (double[]){ 1, 2, 3, 4 }), true);
        mt_tensor *loss = mt_sum(mt_mul(w, w));
        w->grad = mt_zeros(MT_SHAPE(2));                 /* the wrong shape */
        mt_arena *cur = mt_arena_current();
        for (int mode = 0; mode < 2; mode++) {
            mt_set_grad_enabled(mode);
            ck_assert_int_eq(mt_backward_ex(loss, NULL, how), -1);
            ck_assert(mt_is_grad_enabled() == (bool)mode);
            ck_assert_ptr_eq(mt_arena_current(), cur);
        }
        mt_set_grad_enabled(true);
        ck_assert_int_eq(errors.count, 2);
        ck_assert_ptr_nonnull(strstr(errors.last, "(2,)"));
        ck_assert_ptr_nonnull(strstr(errors.last, "(4,)"));
        /* the engine is usable again */
        w->grad = NULL;
        ck_assert_int_eq(mt_backward_ex(loss, NULL, how), 0);
        ck_assert_double_eq(w->grad->data[3], 8.0);
    }
}
END_TEST

static void expect_grad_mode_off(const mt_event *ev, void *user)
{
    int *events = user;
    (*events)++;
    if (ev->kind != MT_EV_NODE_CREATED) ck_assert(!mt_is_grad_enabled());
}

START_TEST(backward_should_run_with_grad_mode_off_and_restore_it)
{
    int events = 0;
    for (int mode = 0; mode < 2; mode++) {
        example x = worked_example();
        mt_set_observer(expect_grad_mode_off, &events);
        mt_set_grad_enabled(mode);
        ck_assert_int_eq(mt_backward(x.e), 0);
        ck_assert(mt_is_grad_enabled() == (bool)mode);
        ck_assert_int_eq(mt_backward_ex(x.e, NULL, MT_TOPO), 0);
        ck_assert(mt_is_grad_enabled() == (bool)mode);
        mt_set_observer(NULL, NULL);
        mt_set_grad_enabled(true);
        ck_assert_double_eq(mt_item(x.a->grad), 6.0);
    }
    ck_assert_int_gt(events, 0);
}
END_TEST

static void record_accumulate_traversal(const mt_event *ev, void *user)
{
    int *seen = user;
    if (ev->kind != MT_EV_ACCUMULATE) return;
    seen[ev->traversal == MT_TOPO ? 1 : 0]++;
    /* before is a snapshot: its values are the grad's before this addition */
    if (ev->before)
        for (size_t i = 0; i < ev->after->numel; i++)
            ck_assert_double_eq(ev->after->data[i], ev->before->data[i] + ev->grad->data[i]);
    ck_assert_ptr_eq(ev->after, ev->tensor->grad);
}

START_TEST(accumulate_events_should_carry_the_traversal)
{
    example x = worked_example();
    int seen[2] = { 0, 0 };
    mt_set_observer(record_accumulate_traversal, seen);
    ck_assert_int_eq(mt_backward_ex(x.e, NULL, MT_TOPO), 0);
    ck_assert_int_eq(seen[1], 2);                    /* a and c, once each */
    ck_assert_int_eq(seen[0], 0);
    ck_assert_int_eq(mt_backward_ex(x.e, NULL, MT_DFS), 0);
    ck_assert_int_eq(seen[0], 3);                    /* a twice, c once */
    mt_set_observer(NULL, NULL);
}
END_TEST

/* PyTorch's AccumulateGrad adds nothing to a leaf whose requires_grad was turned off after the
 * graph was built. */
START_TEST(backward_should_not_accumulate_into_a_leaf_that_stopped_requiring_grad)
{
    for (int t = 0; t < 2; t++) {
        mt_tensor *a = mt_requires_grad(mt_scalar(2.0), true);
        mt_tensor *b = mt_requires_grad(mt_scalar(5.0), true);
        mt_tensor *y = mt_mul(a, b);
        mt_requires_grad(b, false);
        ck_assert_int_eq(mt_backward_ex(y, NULL, t ? MT_TOPO : MT_DFS), 0);
        ck_assert_double_eq(mt_item(a->grad), 5.0);
        ck_assert_ptr_null(b->grad);
        ck_assert(mt_tensor_check(b));
    }
}
END_TEST

START_TEST(error_messages_may_quote_the_last_error)
{
    capture_errors(&errors);
    mt_error("first: %d", 1);
    mt_error("second, after \"%s\"", mt_last_error());
    ck_assert_str_eq(mt_last_error(), "second, after \"first: 1\"");
    ck_assert_str_eq(errors.last, "second, after \"first: 1\"");
}
END_TEST

static Suite *autograd_suite(void)
{
    Suite *s = suite_create("autograd");
    TCase *tc = tcase_create("worked_example");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, worked_example_should_give_pytorch_gradients);
    tcase_add_test(tc, worked_example_should_link_the_graph_like_pytorch);
    tcase_add_test(tc, worked_example_flags_should_match_pytorch);
    tcase_add_test(tc, second_backward_should_accumulate_with_dfs);
    tcase_add_test(tc, second_backward_should_accumulate_with_topo);
    tcase_add_test(tc, backward_with_a_seed_should_scale_the_gradients);
    tcase_add_test(tc, zero_grad_should_reset_gradients_to_zero);
    tcase_add_test(tc, backward_from_a_leaf_should_seed_its_own_grad);
    suite_add_tcase(s, tc);

    tc = tcase_create("flags");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, output_should_require_grad_iff_an_input_does);
    tcase_add_test(tc, unary_ops_on_constants_should_give_leaves);
    tcase_add_test(tc, no_grad_mode_should_build_no_nodes_and_restore);
    tcase_add_test(tc, requires_grad_off_should_be_refused_on_a_non_leaf);
    tcase_add_test(tc, make_parameter_should_set_requires_grad_and_keep_it);
    tcase_add_test(tc, make_parameter_should_be_refused_for_a_non_leaf);
    tcase_add_test(tc, tensor_check_should_catch_broken_invariants);
    tcase_add_test(tc, backward_without_grad_should_report_and_return_minus_one);
    tcase_add_test(tc, backward_should_refuse_an_unknown_traversal);
    tcase_add_test(tc, backward_failing_midway_should_report_and_restore_the_engine);
    tcase_add_test(tc, backward_should_run_with_grad_mode_off_and_restore_it);
    tcase_add_test(tc, backward_should_not_accumulate_into_a_leaf_that_stopped_requiring_grad);
    tcase_add_test(tc, error_messages_may_quote_the_last_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("traversals");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, diamonds_should_give_the_same_sum_gradients_with_both_traversals);
    tcase_add_test(tc, diamonds_of_products_should_agree_across_traversals);
    tcase_add_test(tc, topo_should_handle_many_nodes_ready_at_once);
    tcase_add_test(tc, topo_should_run_each_node_once_after_every_consumer_on_uneven_paths);
    suite_add_tcase(s, tc);

    tc = tcase_create("observer");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, observer_should_see_one_node_created_per_op_with_grad);
    tcase_add_test(tc, observer_should_follow_dfs_backward);
    tcase_add_test(tc, observer_should_follow_topo_backward);
    tcase_add_test(tc, dfs_should_visit_in_the_order_of_the_recursive_walk);
    tcase_add_test(tc, accumulate_events_should_carry_the_traversal);
    suite_add_tcase(s, tc);

    tc = tcase_create("deep_graphs");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 300);                      /* 200k nodes, also under valgrind */
    tcase_add_test(tc, dfs_should_walk_a_200k_node_chain_without_overflowing_the_stack);
    tcase_add_test(tc, topo_should_walk_a_200k_node_chain);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(autograd_suite()); }
