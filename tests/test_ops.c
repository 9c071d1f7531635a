/* test_ops.c: the "ops" suite. Every op of ops.h (log_softmax and cross_entropy are tested with
 * the modules, in test_nn.c) is run on PyTorch's reference cases from fixtures/core_fixtures.h:
 * forward values, and every input gradient after backward with both traversals. Then the
 * errors: bad shapes are reported once, naming the op and the shapes, and leave the library
 * working. Last, the registry. */
#include <mytorch/mytorch.h>

#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORE_FIXTURES_OPS
#include "fixtures/core_fixtures.h"
#include "test_util.h"

#define REL_TOL 1e-12
#define ABS_TOL 1e-14

/* ---- helpers ---------------------------------------------------------------------------- */

static mt_shape cf_shape(int ndim, const int *dim)
{
    mt_shape s = MT_SCALAR_SHAPE;
    s.ndim = ndim;
    for (int i = 0; i < ndim; i++) s.dim[i] = dim[i];
    return s;
}

static mt_tensor *cf_make(const cf_tensor *t)
{
    return mt_from_data(cf_shape(t->ndim, t->dim), t->data);
}

/* Asserts t has the fixture's shape and values (to REL_TOL / ABS_TOL). */
static void expect_tensor(const char *what, const char *case_name, const mt_tensor *t,
                          int ndim, const int *dim, const double *want)
{
    char got_s[64], want_s[64];
    ck_assert_msg(t != NULL, "%s %s: NULL (last error: %s)", case_name, what, mt_last_error());
    mt_shape ws = cf_shape(ndim, dim);
    ck_assert_msg(mt_shape_equal(t->shape, ws), "%s %s: shape %s, want %s", case_name, what,
                  mt_shape_str(t->shape, got_s, sizeof got_s),
                  mt_shape_str(ws, want_s, sizeof want_s));
    ck_assert_uint_eq(t->numel, mt_shape_numel(ws));
    for (size_t i = 0; i < t->numel; i++)
        ck_assert_msg(is_close(t->data[i], want[i], REL_TOL, ABS_TOL),
                      "%s %s[%zu]: got %.17g, want %.17g", case_name, what, i, t->data[i], want[i]);
}

/* Calls the ops.h function the case names. */
static mt_tensor *call_op(const cf_op_case *c, mt_tensor *const *in)
{
    const char *f = c->fn;
    if (!strcmp(f, "add")) return mt_add(in[0], in[1]);
    if (!strcmp(f, "sub")) return mt_sub(in[0], in[1]);
    if (!strcmp(f, "mul")) return mt_mul(in[0], in[1]);
    if (!strcmp(f, "div")) return mt_div(in[0], in[1]);
    if (!strcmp(f, "add_scalar")) return mt_add_scalar(in[0], c->scalar);
    if (!strcmp(f, "sub_scalar")) return mt_sub_scalar(in[0], c->scalar);
    if (!strcmp(f, "rsub_scalar")) return mt_rsub_scalar(c->scalar, in[0]);
    if (!strcmp(f, "mul_scalar")) return mt_mul_scalar(in[0], c->scalar);
    if (!strcmp(f, "div_scalar")) return mt_div_scalar(in[0], c->scalar);
    if (!strcmp(f, "rdiv_scalar")) return mt_rdiv_scalar(c->scalar, in[0]);
    if (!strcmp(f, "neg")) return mt_neg(in[0]);
    if (!strcmp(f, "pow")) return mt_pow(in[0], c->scalar);
    if (!strcmp(f, "exp")) return mt_exp(in[0]);
    if (!strcmp(f, "log")) return mt_log(in[0]);
    if (!strcmp(f, "sqrt")) return mt_sqrt(in[0]);
    if (!strcmp(f, "relu")) return mt_relu(in[0]);
    if (!strcmp(f, "tanh")) return mt_tanh(in[0]);
    if (!strcmp(f, "sigmoid")) return mt_sigmoid(in[0]);
    if (!strcmp(f, "matmul")) return mt_matmul(in[0], in[1]);
    if (!strcmp(f, "transpose")) return mt_transpose(in[0]);
    if (!strcmp(f, "reshape")) return mt_reshape(in[0], cf_shape(c->shape_ndim, c->shape_dim));
    if (!strcmp(f, "sum")) return mt_sum(in[0]);
    if (!strcmp(f, "sum_axis")) return mt_sum_axis(in[0], c->axis, c->keepdim);
    if (!strcmp(f, "mean")) return mt_mean(in[0]);
    if (!strcmp(f, "mean_axis")) return mt_mean_axis(in[0], c->axis, c->keepdim);
    ck_abort_msg("fixture %s names an unknown function %s", c->name, f);
    return NULL;
}

static bool is_scalar_form(const cf_op_case *c) { return strstr(c->fn, "_scalar") != NULL; }

static error_log errors; /* filled by capture_errors(&errors) */

/* Asserts exactly one error was reported and that it contains every needle. */
static void expect_one_error(const char *n1, const char *n2, const char *n3)
{
    ck_assert_msg(errors.count == 1, "%d errors reported (last: \"%s\")", errors.count,
                  errors.last);
    const char *needles[] = { n1, n2, n3 };
    for (int i = 0; i < 3; i++)
        if (needles[i])
            ck_assert_msg(strstr(errors.last, needles[i]) != NULL,
                          "error \"%s\" does not mention \"%s\"", errors.last, needles[i]);
}

/* ---- the PyTorch reference cases ------------------------------------------------------------- */

START_TEST(op_forward_should_match_pytorch)
{
    const cf_op_case *c = &cf_op_cases[_i];
    mt_tensor *in[2] = { NULL, NULL };
    for (int i = 0; i < c->nin; i++) in[i] = mt_requires_grad(cf_make(&c->in[i]), true);
    mt_tensor *out = call_op(c, in);
    expect_tensor("output", c->name, out, c->out.ndim, c->out.dim, c->out.data);
    ck_assert_msg(out->requires_grad && !out->is_leaf && out->grad_fn != NULL,
                  "%s: an op on inputs that require grad must give a non-leaf with a grad_fn",
                  c->name);
    ck_assert_int_eq(out->grad_fn->kind, MT_BACKWARD_FUNCTION);
    ck_assert_ptr_eq(out->grad_fn->variable, out);
    ck_assert(mt_tensor_check(out));
    /* forward leaves its inputs alone */
    for (int i = 0; i < c->nin; i++)
        ck_assert_msg(memcmp(in[i]->data, c->in[i].data, in[i]->numel * sizeof(double)) == 0,
                      "%s: forward changed input %d", c->name, i);
}
END_TEST

static void check_backward(const cf_op_case *c, mt_traversal how)
{
    const char *tname = mt_traversal_name(how);
    mt_tensor *in[2] = { NULL, NULL };
    for (int i = 0; i < c->nin; i++) in[i] = mt_requires_grad(cf_make(&c->in[i]), true);
    mt_tensor *out = call_op(c, in);
    ck_assert_msg(out != NULL, "%s: %s", c->name, mt_last_error());
    mt_tensor *g = mt_from_data(out->shape, c->grad_out);
    ck_assert_msg(mt_backward_ex(out, g, how) == 0, "%s %s: backward failed: %s", c->name, tname,
                  mt_last_error());
    for (int i = 0; i < c->nin; i++) {
        char what[32];
        snprintf(what, sizeof what, "%s grad of input %d", tname, i);
        expect_tensor(what, c->name, in[i]->grad, c->in[i].ndim, c->in[i].dim, c->grad_in[i]);
        ck_assert(mt_tensor_check(in[i]));
    }
    /* backward reads the seed, it does not consume it */
    ck_assert(memcmp(g->data, c->grad_out, g->numel * sizeof(double)) == 0);
}

START_TEST(op_backward_dfs_should_match_pytorch) { check_backward(&cf_op_cases[_i], MT_DFS); }
END_TEST

START_TEST(op_backward_topo_should_match_pytorch) { check_backward(&cf_op_cases[_i], MT_TOPO); }
END_TEST

/* The handout's order, last input first: the same gradients as first input first. */
START_TEST(op_backward_dfs_last_input_first_should_match_pytorch)
{
    check_backward(&cf_op_cases[_i], MT_DFS_LAST_FIRST);
}
END_TEST

/* The constant of a scalar form is a 0-D input that requires no grad: a NULL parent. */
START_TEST(scalar_forms_should_make_the_constant_a_null_parent)
{
    int seen = 0;
    for (int k = 0; k < CF_NUM_OP_CASES; k++) {
        const cf_op_case *c = &cf_op_cases[k];
        if (!is_scalar_form(c)) continue;
        seen++;
        mt_tensor *x = mt_requires_grad(cf_make(&c->in[0]), true);
        mt_tensor *out = call_op(c, &x);
        ck_assert_ptr_nonnull(out);
        const mt_node *n = out->grad_fn;
        ck_assert_int_eq(n->nparents, 2);
        int nulls = (n->next_functions[0] == NULL) + (n->next_functions[1] == NULL);
        ck_assert_msg(nulls == 1, "%s: %d NULL parents, want 1", c->name, nulls);
        const mt_node *p = n->next_functions[0] ? n->next_functions[0] : n->next_functions[1];
        ck_assert_ptr_eq(p, x->accumulate);
        ck_assert_int_eq(p->kind, MT_ACCUMULATE_GRAD);
        ck_assert_ptr_eq(p->variable, x);
    }
    ck_assert_int_eq(seen, 12);
}
END_TEST

START_TEST(fixtures_should_cover_every_core_function_of_ops_h)
{
    static const char *const fns[] = {
        "add", "sub", "mul", "div", "add_scalar", "sub_scalar", "rsub_scalar", "mul_scalar",
        "div_scalar", "rdiv_scalar", "neg", "pow", "exp", "log", "sqrt", "relu", "matmul",
        "transpose", "reshape", "sum", "sum_axis", "mean", "mean_axis", "tanh", "sigmoid",
    };
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        int n = 0;
        for (int k = 0; k < CF_NUM_OP_CASES; k++) n += strcmp(cf_op_cases[k].fn, fns[f]) == 0;
        ck_assert_msg(n >= 2, "only %d fixture cases call mt_%s", n, fns[f]);
    }
}
END_TEST

/* ---- errors ---------------------------------------------------------------------------------- */

START_TEST(add_should_report_shape_mismatch_naming_op_and_shapes)
{
    capture_errors(&errors);
    mt_tensor *a = mt_requires_grad(mt_ones(MT_SHAPE(3, 4)), true);
    mt_tensor *b = mt_ones(MT_SHAPE(5));
    ck_assert_ptr_null(mt_add(a, b));
    expect_one_error("add", "(3, 4)", "(5,)");
}
END_TEST

START_TEST(binary_ops_should_report_shape_mismatch_naming_the_op)
{
    static const char *const names[] = { "add", "sub", "mul", "div" };
    mt_tensor *(*const fns[])(mt_tensor *, mt_tensor *) = { mt_add, mt_sub, mt_mul, mt_div };
    capture_errors(&errors);
    for (int i = 0; i < 4; i++) {
        errors.count = 0;
        mt_tensor *a = mt_ones(MT_SHAPE(2, 3));
        mt_tensor *b = mt_ones(MT_SHAPE(4, 1, 2));
        ck_assert_ptr_null(fns[i](a, b));
        expect_one_error(names[i], "(2, 3)", "(4, 1, 2)");
    }
}
END_TEST

START_TEST(library_should_keep_working_after_a_shape_error)
{
    capture_errors(&errors);
    mt_tensor *x = mt_requires_grad(mt_from_data(MT_SHAPE(2), (double[]){ 1.5, -2.0 }), true);
    ck_assert_ptr_null(mt_mul(x, mt_ones(MT_SHAPE(3))));
    ck_assert_int_eq(errors.count, 1);
    /* y = sum(x * [2, 3]) + 1 -> 2*1.5 - 3*2 + 1 = -2; dy/dx = [2, 3] */
    mt_tensor *y =
        mt_add_scalar(mt_sum(mt_mul(x, mt_from_data(MT_SHAPE(2), (double[]){ 2, 3 }))), 1);
    ck_assert_ptr_nonnull(y);
    ck_assert_double_eq(mt_item(y), -2.0);
    ck_assert_int_eq(mt_backward(y), 0);
    ck_assert_double_eq(x->grad->data[0], 2.0);
    ck_assert_double_eq(x->grad->data[1], 3.0);
    ck_assert_int_eq(errors.count, 1);
}
END_TEST

START_TEST(null_input_should_propagate_null_without_a_second_message)
{
    capture_errors(&errors);
    mt_tensor *a = mt_requires_grad(mt_ones(MT_SHAPE(3, 4)), true);
    mt_tensor *bad = mt_add(a, mt_ones(MT_SHAPE(5)));           /* the one error */
    ck_assert_ptr_null(bad);
    ck_assert_int_eq(errors.count, 1);
    char first[512];
    snprintf(first, sizeof first, "%s", errors.last);
    /* every op given the NULL returns NULL silently */
    ck_assert_ptr_null(mt_mul(bad, a));
    ck_assert_ptr_null(mt_add(a, bad));
    ck_assert_ptr_null(mt_add_scalar(bad, 1.0));
    ck_assert_ptr_null(mt_rsub_scalar(1.0, bad));
    ck_assert_ptr_null(mt_rdiv_scalar(1.0, bad));
    ck_assert_ptr_null(mt_neg(bad));
    ck_assert_ptr_null(mt_pow(bad, 2.0));
    ck_assert_ptr_null(mt_exp(bad));
    ck_assert_ptr_null(mt_log(bad));
    ck_assert_ptr_null(mt_sqrt(bad));
    ck_assert_ptr_null(mt_relu(bad));
    ck_assert_ptr_null(mt_matmul(bad, a));
    ck_assert_ptr_null(mt_transpose(bad));
    ck_assert_ptr_null(mt_reshape(bad, MT_SHAPE(-1)));
    ck_assert_ptr_null(mt_sum(bad));
    ck_assert_ptr_null(mt_sum_axis(bad, 0, false));
    ck_assert_ptr_null(mt_mean(bad));
    ck_assert_ptr_null(mt_mean_axis(bad, 1, true));
    ck_assert_ptr_null(mt_sum(mt_mul(mt_exp(bad), a)));
    ck_assert_int_eq(errors.count, 1);
    ck_assert_str_eq(errors.last, first);
}
END_TEST

START_TEST(matmul_should_report_inner_dimension_mismatch)
{
    capture_errors(&errors);
    mt_tensor *a = mt_ones(MT_SHAPE(3, 4));
    mt_tensor *b = mt_ones(MT_SHAPE(5, 2));
    ck_assert_ptr_null(mt_matmul(a, b));
    expect_one_error("matmul", "(3, 4)", "(5, 2)");
}
END_TEST

START_TEST(reshape_should_report_wrong_numel)
{
    capture_errors(&errors);
    mt_tensor *a = mt_ones(MT_SHAPE(3, 4));
    ck_assert_ptr_null(mt_reshape(a, MT_SHAPE(5, 2)));
    expect_one_error("reshape", "(3, 4)", "(5, 2)");
    errors.count = 0;
    ck_assert_ptr_null(mt_reshape(a, MT_SHAPE(5, -1)));        /* 12 is not a multiple of 5 */
    expect_one_error("reshape", "(3, 4)", NULL);
    errors.count = 0;
    ck_assert_ptr_null(mt_reshape(a, MT_SHAPE(-1, -1)));       /* two unknown dimensions */
    expect_one_error("reshape", NULL, NULL);
}
END_TEST

START_TEST(sum_and_mean_should_report_bad_axis)
{
    capture_errors(&errors);
    mt_tensor *a = mt_ones(MT_SHAPE(3, 4));
    ck_assert_ptr_null(mt_sum_axis(a, 2, false));
    expect_one_error("sum", "(3, 4)", "2");
    errors.count = 0;
    ck_assert_ptr_null(mt_sum_axis(a, -3, true));
    expect_one_error("sum", "(3, 4)", "-3");
    errors.count = 0;
    ck_assert_ptr_null(mt_mean_axis(a, 5, false));
    expect_one_error("mean", "(3, 4)", "5");
}
END_TEST

START_TEST(backward_should_reject_a_seed_of_the_wrong_shape)
{
    capture_errors(&errors);
    mt_tensor *x = mt_requires_grad(mt_ones(MT_SHAPE(2, 3)), true);
    mt_tensor *y = mt_mul_scalar(x, 2.0);
    ck_assert_int_eq(mt_backward_ex(y, mt_ones(MT_SHAPE(3, 2)), MT_TOPO), -1);
    expect_one_error("(2, 3)", "(3, 2)", NULL);
    ck_assert_ptr_null(x->grad);
}
END_TEST

/* ---- the registry ---------------------------------------------------------------------------- */

static const char *const core_ops[] = {
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "relu",
    "matmul", "transpose", "reshape", "sum", "mean", "tanh", "sigmoid",
};

START_TEST(registry_should_hold_every_core_op)
{
    for (size_t i = 0; i < sizeof core_ops / sizeof core_ops[0]; i++) {
        const mt_op *op = mt_op_find(core_ops[i]);
        ck_assert_msg(op != NULL, "op \"%s\" is not in the registry", core_ops[i]);
        ck_assert_str_eq(op->name, core_ops[i]);
        ck_assert(mt_op_registered(op));
    }
    ck_assert_ptr_null(mt_op_find("no_such_op"));
    ck_assert_ptr_null(mt_op_find(""));
    ck_assert_ptr_null(mt_op_at(-1));
    ck_assert_ptr_null(mt_op_at(mt_op_count()));
}
END_TEST

START_TEST(registry_entries_should_be_complete_and_unique)
{
    int n = mt_op_count();
    ck_assert_int_ge(n, (int)(sizeof core_ops / sizeof core_ops[0]));
    for (int i = 0; i < n; i++) {
        const mt_op *op = mt_op_at(i);
        ck_assert_ptr_nonnull(op);
        ck_assert_msg(op->name && op->name[0], "op %d has no name", i);
        ck_assert_msg(op->backward_name && strstr(op->backward_name, "Backward"),
                      "%s: backward_name \"%s\"", op->name,
                      op->backward_name ? op->backward_name : "(null)");
        ck_assert_msg(op->forward && op->backward, "%s: forward or backward missing", op->name);
        ck_assert_msg(op->arity >= 1 && op->arity <= MT_MAX_INPUTS, "%s: arity %d", op->name,
                      op->arity);
        ck_assert_msg(op->cases && op->ncases >= 1, "%s: no gradcheck case", op->name);
        for (int k = 0; k < op->ncases; k++)
            for (int j = 0; j < op->arity; j++)
                ck_assert_msg(op->cases[k].in[j].ndim >= 0 &&
                              op->cases[k].in[j].ndim <= MT_MAX_DIMS,
                              "%s case %d input %d: ndim %d", op->name, k, j,
                              op->cases[k].in[j].ndim);
        const char *missing = mt_op_missing_field(op);
        ck_assert_msg(missing == NULL, "%s: no %s (src/ops/%s.c)", op->name,
                      missing ? missing : "", op->name);
        ck_assert_ptr_eq(mt_op_find(op->name), op);
        ck_assert(mt_op_registered(op));
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(mt_op_at(j)->name, op->name) != 0, "op name \"%s\" twice",
                          op->name);
    }
}
END_TEST

/* An op written without its display symbol or one of its chain-rule formulas is caught. */
START_TEST(an_op_without_symbol_or_formula_should_be_reported_incomplete)
{
    const mt_op *mul = mt_op_find("mul");
    ck_assert_ptr_null(mt_op_missing_field(mul));
    mt_op broken = *mul;
    broken.symbol = NULL;
    ck_assert_str_eq(mt_op_missing_field(&broken), "symbol");
    broken = *mul;
    broken.local_text[1] = "";
    ck_assert_str_eq(mt_op_missing_field(&broken), "local_text");
    broken = *mul;
    broken.ncases = 0;
    ck_assert_str_eq(mt_op_missing_field(&broken), "cases");
    ck_assert_str_eq(mt_op_missing_field(NULL), "the op itself");
}
END_TEST

/* Element-wise ops declare a numeric local derivative; the others cannot have one. */
START_TEST(elementwise_ops_should_have_a_local_derivative)
{
    static const char *const elementwise[] = { "add", "sub", "mul", "div", "neg", "pow", "exp",
                                               "log", "sqrt", "relu", "tanh", "sigmoid" };
    for (int i = 0; i < MT_COUNT(elementwise); i++) {
        const mt_op *op = mt_op_find(elementwise[i]);
        ck_assert_msg(op && op->local_grad, "%s: no local_grad", elementwise[i]);
    }
    ck_assert(mt_op_find("matmul")->local_grad == NULL);
    ck_assert(mt_op_find("sum")->local_grad == NULL);
}
END_TEST

/* Scalar constants carry their value as their label, so a graph drawing can name them. */
START_TEST(scalar_constants_should_be_labelled_with_their_value)
{
    mt_tensor *x = mt_requires_grad(mt_scalar(1.0), true);
    mt_trace *tr = mt_trace_begin();
    ck_assert_ptr_nonnull(mt_add_scalar(x, 3.0));
    ck_assert_ptr_nonnull(mt_mul_scalar(x, -0.25));
    ck_assert_ptr_nonnull(mt_rdiv_scalar(1e-7, x));
    mt_trace_end(tr);
    const char *want[] = { "3", "-0.25", "1e-07" };
    int found = 0;
    for (int i = 0; i < tr->nnodes; i++)
        if (tr->nodes[i].kind == MT_TRACE_CONSTANT) {
            ck_assert_int_lt(found, 3);
            ck_assert_str_eq(tr->nodes[i].label, want[found]);
            found++;
        }
    ck_assert_int_eq(found, 3);
    mt_trace_free(tr);
}
END_TEST

START_TEST(apply_should_refuse_an_unregistered_op)
{
    capture_errors(&errors);
    mt_op fake = *mt_op_find("neg");   /* same functions, but not the registry's entry */
    mt_tensor *x = mt_ones(MT_SHAPE(2));
    ck_assert(!mt_op_registered(&fake));
    ck_assert_ptr_null(mt_apply(&fake, (mt_tensor *[]){ x }, NULL));
    expect_one_error("neg", NULL, NULL);
}
END_TEST

START_TEST(apply_should_build_the_same_result_as_the_named_function)
{
    mt_tensor *a = mt_requires_grad(mt_from_data(MT_SHAPE(2, 2), (double[]){ 1, 2, 3, 4 }), true);
    mt_op_args args = { .axis = -1, .keepdim = true };
    mt_tensor *s = mt_apply(mt_op_find("sum"), (mt_tensor *[]){ a }, &args);
    ck_assert_ptr_nonnull(s);
    ck_assert(mt_shape_equal(s->shape, MT_SHAPE(2, 1)));
    ck_assert_double_eq(s->data[0], 3.0);
    ck_assert_double_eq(s->data[1], 7.0);
    ck_assert_ptr_eq(s->grad_fn->op, mt_op_find("sum"));
}
END_TEST


/* ---- hardening: empty tensors, huge shapes and edge values ----------------------------------- */

/* Runs backward from out with a seed of ones and checks that every input that requires grad got
 * a gradient of its own shape with only finite values. */
static void backward_ones(const char *what, mt_tensor *out, mt_tensor *const *in, int nin,
                          mt_traversal how)
{
    ck_assert_msg(out != NULL, "%s: NULL (%s)", what, mt_last_error());
    ck_assert_msg(mt_backward_ex(out, mt_ones(out->shape), how) == 0, "%s: %s", what,
                  mt_last_error());
    for (int i = 0; i < nin; i++) {
        if (!in[i]->requires_grad) continue;
        ck_assert_msg(in[i]->grad != NULL, "%s: input %d got no grad", what, i);
        ck_assert_msg(mt_shape_equal(in[i]->grad->shape, in[i]->shape), "%s: grad %d shape",
                      what, i);
        for (size_t k = 0; k < in[i]->grad->numel; k++)
            ck_assert_msg(isfinite(in[i]->grad->data[k]), "%s: grad %d[%zu] = %g", what, i, k,
                          in[i]->grad->data[k]);
        mt_zero_grad(in[i]);
    }
}

static void expect_shape(const char *what, const mt_tensor *t, mt_shape want)
{
    char a[64], b[64];
    ck_assert_msg(t != NULL, "%s: NULL (%s)", what, mt_last_error());
    ck_assert_msg(mt_shape_equal(t->shape, want), "%s: shape %s, want %s", what,
                  mt_shape_str(t->shape, a, sizeof a), mt_shape_str(want, b, sizeof b));
    ck_assert_uint_eq(t->numel, mt_shape_numel(want));
}

START_TEST(empty_tensors_should_pass_through_every_core_op)
{
    capture_errors(&errors);
    for (int t = 0; t < 2; t++) {
        mt_traversal how = t ? MT_TOPO : MT_DFS;
        mt_tensor *x = mt_requires_grad(mt_zeros(MT_SHAPE(0, 3)), true);    /* (0, 3) */
        mt_tensor *r = mt_requires_grad(mt_ones(MT_SHAPE(3)), true);        /* (3,) */
        mt_tensor *xr[] = { x, r };
        mt_tensor *(*const bin[])(mt_tensor *, mt_tensor *) = { mt_add, mt_sub, mt_mul, mt_div };
        for (int i = 0; i < 4; i++) {
            mt_tensor *y = bin[i](x, r);
            expect_shape("binary", y, MT_SHAPE(0, 3));
            backward_ones("binary", y, xr, 2, how);
            for (int k = 0; k < 3; k++) ck_assert_double_eq(r->grad->data[k], 0.0);
        }
        mt_tensor *un[] = { mt_neg(x), mt_pow(x, 2.5), mt_exp(x), mt_log(x), mt_sqrt(x), mt_relu(x),
                            mt_add_scalar(x, 1), mt_rdiv_scalar(1, x) };
        for (size_t i = 0; i < sizeof un / sizeof un[0]; i++) {
            expect_shape("unary", un[i], MT_SHAPE(0, 3));
            backward_ones("unary", un[i], &x, 1, how);
        }
        mt_tensor *w = mt_requires_grad(mt_ones(MT_SHAPE(3, 2)), true);
        mt_tensor *xw[] = { x, w };
        mt_tensor *y = mt_matmul(x, w);                                     /* (0, 3) @ (3, 2) */
        expect_shape("matmul (0,3)@(3,2)", y, MT_SHAPE(0, 2));
        backward_ones("matmul (0,3)@(3,2)", y, xw, 2, how);
        mt_tensor *p = mt_requires_grad(mt_ones(MT_SHAPE(2, 0)), true);
        mt_tensor *px[] = { p, x };
        y = mt_matmul(p, x);                                                /* (2, 0) @ (0, 3) */
        expect_shape("matmul (2,0)@(0,3)", y, MT_SHAPE(2, 3));
        for (int k = 0; k < 6; k++) ck_assert_double_eq(y->data[k], 0.0);   /* an empty sum */
        backward_ones("matmul (2,0)@(0,3)", y, px, 2, how);
        y = mt_transpose(x);
        expect_shape("transpose", y, MT_SHAPE(3, 0));
        backward_ones("transpose", y, &x, 1, how);
        y = mt_reshape(x, MT_SHAPE(-1));
        expect_shape("reshape (-1)", y, MT_SHAPE(0));
        backward_ones("reshape", y, &x, 1, how);
        y = mt_reshape(x, MT_SHAPE(3, -1, 5));
        expect_shape("reshape (3, -1, 5)", y, MT_SHAPE(3, 0, 5));
        y = mt_sum(x);
        expect_shape("sum", y, MT_SCALAR_SHAPE);
        ck_assert_double_eq(mt_item(y), 0.0);
        backward_ones("sum", y, &x, 1, how);
        y = mt_sum_axis(x, 0, false);   /* over the empty axis */
        expect_shape("sum axis 0", y, MT_SHAPE(3));
        for (int k = 0; k < 3; k++) ck_assert_double_eq(y->data[k], 0.0);
        backward_ones("sum axis 0", y, &x, 1, how);
        y = mt_sum_axis(x, 1, true);
        expect_shape("sum axis 1", y, MT_SHAPE(0, 1));
        y = mt_mean_axis(x, -1, false);
        expect_shape("mean axis -1", y, MT_SHAPE(0));
        backward_ones("mean axis -1", y, &x, 1, how);
    }
    ck_assert_int_eq(errors.count, 0);
}
END_TEST

START_TEST(mean_over_nothing_should_be_nan_like_pytorch)
{
    /* torch.zeros(0).mean() is nan and torch.zeros(0, 3).mean(0) is [nan, nan, nan]: 0 / 0 */
    mt_tensor *x = mt_requires_grad(mt_zeros(MT_SHAPE(0, 3)), true);
    ck_assert(isnan(mt_item(mt_mean(x))));
    mt_tensor *m = mt_mean_axis(x, 0, true);
    expect_shape("mean axis 0", m, MT_SHAPE(1, 3));
    for (int k = 0; k < 3; k++) ck_assert(isnan(m->data[k]));
    mt_tensor *y = mt_requires_grad(mt_zeros(MT_SHAPE(3, 0)), true);
    m = mt_mean_axis(y, 1, false);
    expect_shape("mean axis 1", m, MT_SHAPE(3));
    for (int k = 0; k < 3; k++) ck_assert(isnan(m->data[k]));
    backward_ones("mean axis 1", m, &y, 1, MT_TOPO);    /* nothing to spread the gradient over */
    /* a mean over something is unchanged */
    ck_assert_double_eq(mt_item(mt_mean(mt_from_data(MT_SHAPE(2), (double[]){ 1, 4 }))), 2.5);
}
END_TEST

START_TEST(sum_and_mean_of_a_scalar_should_accept_axis_0_and_minus_1)
{
    /* PyTorch: torch.tensor(5.).sum(0) == tensor(5.), and dim must be in [-1, 0] */
    capture_errors(&errors);
    for (int axis = -1; axis <= 0; axis++)
        for (int keep = 0; keep < 2; keep++) {
            mt_tensor *a = mt_requires_grad(mt_scalar(5.0), true);
            mt_tensor *s = mt_sum_axis(a, axis, keep);
            expect_shape("sum of a scalar", s, MT_SCALAR_SHAPE);
            ck_assert_double_eq(mt_item(s), 5.0);
            mt_tensor *m = mt_mean_axis(s, axis, keep);
            expect_shape("mean of a scalar", m, MT_SCALAR_SHAPE);
            ck_assert_double_eq(mt_item(m), 5.0);
            ck_assert_int_eq(mt_backward(mt_mul_scalar(m, 3.0)), 0);
            ck_assert_double_eq(mt_item(a->grad), 3.0);
        }
    ck_assert_int_eq(errors.count, 0);
    ck_assert_ptr_null(mt_sum_axis(mt_scalar(1.0), 1, false));
    expect_one_error("sum", "()", "1");
    errors.count = 0;
    ck_assert_ptr_null(mt_mean_axis(mt_scalar(1.0), -2, false));
    expect_one_error("mean", "()", "-2");
}
END_TEST

START_TEST(matmul_should_report_an_output_too_large_to_hold)
{
    /* (2^31 - 1, 0) @ (0, 2^31 - 1): empty inputs, but 2^62 output elements */
    capture_errors(&errors);
    mt_tensor *a = mt_requires_grad(mt_zeros(MT_SHAPE(INT_MAX, 0)), true);
    mt_tensor *b = mt_zeros(MT_SHAPE(0, INT_MAX));
    ck_assert_ptr_null(mt_matmul(a, b));
    expect_one_error("matmul", "(2147483647, 0)", "(0, 2147483647)");
}
END_TEST

START_TEST(broadcasting_should_report_an_output_too_large_to_hold)
{
    /* Shapes that claim 2^30 elements each (the op must refuse before it reads any of them);
     * broadcast together they would need 2^63 bytes. */
    capture_errors(&errors);
    double cell = 1.0;
    mt_tensor a = { .data = &cell, .shape = MT_SHAPE(1 << 30, 1), .numel = (size_t)1 << 30,
                    .is_leaf = true };
    mt_tensor b = { .data = &cell, .shape = MT_SHAPE(1, 1 << 30), .numel = (size_t)1 << 30,
                    .is_leaf = true };
    ck_assert_ptr_null(mt_mul(&a, &b));
    expect_one_error("mul", "(1073741824, 1)", "(1, 1073741824)");
}
END_TEST

START_TEST(reshape_should_handle_its_edge_cases)
{
    capture_errors(&errors);
    mt_tensor *e = mt_zeros(MT_SHAPE(0, 3));
    expect_shape("(0, 3) -> (5, -1)", mt_reshape(e, MT_SHAPE(5, -1)), MT_SHAPE(5, 0));
    expect_shape("(0, 3) -> (-1,)", mt_reshape(e, MT_SHAPE(-1)), MT_SHAPE(0));
    mt_tensor *s = mt_requires_grad(mt_scalar(2.0), true);
    mt_tensor *s4 = mt_reshape(s, MT_SHAPE(1, 1, 1, 1));
    expect_shape("() -> (1, 1, 1, 1)", s4, MT_SHAPE(1, 1, 1, 1));
    expect_shape("() -> (-1,)", mt_reshape(s, MT_SHAPE(-1)), MT_SHAPE(1));
    mt_tensor *back = mt_reshape(s4, MT_SCALAR_SHAPE);
    expect_shape("(1, 1, 1, 1) -> ()", back, MT_SCALAR_SHAPE);
    ck_assert_int_eq(mt_backward(mt_mul(back, back)), 0);
    ck_assert_double_eq(mt_item(s->grad), 4.0);
    ck_assert_int_eq(errors.count, 0);

    /* -1 next to a 0 could be anything: PyTorch refuses it */
    ck_assert_ptr_null(mt_reshape(e, MT_SHAPE(-1, 0)));
    expect_one_error("reshape", "(0, 3)", "(-1, 0)");
    errors.count = 0;
    /* a count that wraps to 0 must not pass for the 0 elements of e */
    ck_assert_ptr_null(mt_reshape(e, MT_SHAPE(1 << 16, 1 << 16, 1 << 16, 1 << 16)));
    expect_one_error("reshape", "(0, 3)", "(65536, 65536, 65536, 65536)");
    errors.count = 0;
    /* ... while a -1 next to dimensions whose product does not fit can only be 0 */
    expect_shape("(0, 3) -> (big, big, big, -1)",
                 mt_reshape(e, MT_SHAPE(INT_MAX, INT_MAX, INT_MAX, -1)),
                 MT_SHAPE(INT_MAX, INT_MAX, INT_MAX, 0));
    ck_assert_ptr_null(mt_reshape(mt_ones(MT_SHAPE(2)), MT_SHAPE(INT_MAX, INT_MAX, INT_MAX, -1)));
    expect_one_error("reshape", "(2,)", NULL);
    errors.count = 0;
    mt_tensor *a = mt_ones(MT_SHAPE(2, 3));
    ck_assert_ptr_null(mt_reshape(a, MT_SHAPE(6, -2)));
    expect_one_error("reshape", "(6, -2)", NULL);
    errors.count = 0;
    mt_shape five = { 5, { 1, 1, 1, 1 } };
    ck_assert_ptr_null(mt_reshape(a, five));
    expect_one_error("reshape", "5", NULL);
}
END_TEST

START_TEST(relu_should_propagate_nan_like_pytorch)
{
    /* torch.relu(tensor([nan, -0., -1., 2.])) == [nan, -0., 0., 2.]; its backward passes the
     * gradient where the result is not <= 0, so through the nan as well */
    mt_tensor *x =
        mt_requires_grad(mt_from_data(MT_SHAPE(4), (double[]){ NAN, -0.0, -1, 2 }), true);
    mt_tensor *y = mt_relu(x);
    ck_assert(isnan(y->data[0]));
    ck_assert(y->data[1] == 0.0 && signbit(y->data[1]));
    ck_assert(y->data[2] == 0.0 && !signbit(y->data[2]));
    ck_assert_double_eq(y->data[3], 2.0);
    ck_assert_int_eq(mt_backward(y), 0);
    const double want[4] = { 1, 0, 0, 1 };
    for (int i = 0; i < 4; i++) ck_assert_double_eq(x->grad->data[i], want[i]);
}
END_TEST

START_TEST(pow_with_exponent_zero_should_have_zero_gradient)
{
    /* d(x^0)/dx is 0 everywhere, x = 0 included (PyTorch's pow_backward special-cases it);
     * 0 * 0^-1 would give nan */
    mt_tensor *x = mt_requires_grad(mt_from_data(MT_SHAPE(3), (double[]){ 0, 2, -3 }), true);
    mt_tensor *y = mt_pow(x, 0.0);
    for (int i = 0; i < 3; i++) ck_assert_double_eq(y->data[i], 1.0);
    ck_assert_int_eq(mt_backward(y), 0);
    for (int i = 0; i < 3; i++) ck_assert_double_eq(x->grad->data[i], 0.0);
    /* x^1 at 0 still has gradient 1 */
    mt_tensor *z = mt_requires_grad(mt_scalar(0.0), true);
    ck_assert_int_eq(mt_backward(mt_pow(z, 1.0)), 0);
    ck_assert_double_eq(mt_item(z->grad), 1.0);
}
END_TEST

START_TEST(apply_should_report_a_null_inputs_array_and_find_should_accept_null)
{
    capture_errors(&errors);
    ck_assert_ptr_null(mt_op_find(NULL));
    ck_assert_int_eq(errors.count, 0);
    ck_assert_ptr_null(mt_apply(mt_op_find("neg"), NULL, NULL));
    expect_one_error("neg", "inputs", NULL);
}
END_TEST

START_TEST(apply_should_refuse_an_input_whose_shape_was_edited_in_place)
{
    capture_errors(&errors);
    mt_tensor *t = mt_ones(MT_SHAPE(2, 3));
    t->shape = MT_SHAPE(3, 3);                       /* 9 elements claimed, 6 held */
    ck_assert_ptr_null(mt_neg(t));
    expect_one_error("neg", "(3, 3)", "6");
    errors.count = 0;
    ck_assert_ptr_null(mt_matmul(mt_ones(MT_SHAPE(2, 3)), t));
    expect_one_error("matmul", "input 1", "(3, 3)");
}
END_TEST

/* Draws a tensor of shape s from an op's gradcheck domain. */
static mt_tensor *draw_from_domain(mt_shape s, mt_domain d, mt_rng *r)
{
    mt_tensor *t = mt_empty(s);
    for (size_t i = 0; i < t->numel; i++) {
        double v;
        if (d.labels) v = d.lo + (double)mt_rng_below(r, (uint64_t)(d.hi - d.lo));
        else do v = d.lo + (d.hi - d.lo) * mt_rng_uniform(r); while (fabs(v) < d.min_abs);
        t->data[i] = v;
    }
    return t;
}

/* Each core op's gradcheck domain must keep every one of its cases where the op is defined and
 * smooth: a finite output and finite gradients, at many draws. */
START_TEST(core_op_domains_should_keep_every_case_finite)
{
    capture_errors(&errors);
    mt_rng r;
    mt_rng_seed(&r, 11);
    for (size_t k = 0; k < sizeof core_ops / sizeof core_ops[0]; k++) {
        const mt_op *op = mt_op_find(core_ops[k]);
        for (int c = 0; c < op->ncases; c++)
            for (int draw = 0; draw < 20; draw++) {
                mt_tensor *in[MT_MAX_INPUTS] = { NULL };
                for (int i = 0; i < op->arity; i++) {
                    mt_domain d = op->domain[i];
                    ck_assert_msg(d.lo < d.hi && d.min_abs >= 0 &&
                                  (d.hi > d.min_abs || d.lo < -d.min_abs),
                                  "%s input %d: empty domain", op->name, i);
                    in[i] = draw_from_domain(op->cases[c].in[i], d, &r);
                    if (!d.labels) mt_requires_grad(in[i], true);
                }
                mt_tensor *out = mt_apply(op, in, &op->cases[c].args);
                char what[96];
                snprintf(what, sizeof what, "%s case %s", op->name, op->cases[c].name);
                ck_assert_msg(out != NULL, "%s: %s", what, mt_last_error());
                for (size_t i = 0; i < out->numel; i++)
                    ck_assert_msg(isfinite(out->data[i]), "%s: output[%zu] = %g", what, i,
                                  out->data[i]);
                backward_ones(what, out, in, op->arity, MT_TOPO);
            }
    }
    ck_assert_int_eq(errors.count, 0);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("pytorch_reference");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_loop_test(tc, op_forward_should_match_pytorch, 0, CF_NUM_OP_CASES);
    tcase_add_loop_test(tc, op_backward_dfs_should_match_pytorch, 0, CF_NUM_OP_CASES);
    tcase_add_loop_test(tc, op_backward_topo_should_match_pytorch, 0, CF_NUM_OP_CASES);
    tcase_add_loop_test(tc, op_backward_dfs_last_input_first_should_match_pytorch, 0,
                        CF_NUM_OP_CASES);
    tcase_add_test(tc, scalar_forms_should_make_the_constant_a_null_parent);
    tcase_add_test(tc, fixtures_should_cover_every_core_function_of_ops_h);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, add_should_report_shape_mismatch_naming_op_and_shapes);
    tcase_add_test(tc, binary_ops_should_report_shape_mismatch_naming_the_op);
    tcase_add_test(tc, library_should_keep_working_after_a_shape_error);
    tcase_add_test(tc, null_input_should_propagate_null_without_a_second_message);
    tcase_add_test(tc, matmul_should_report_inner_dimension_mismatch);
    tcase_add_test(tc, reshape_should_report_wrong_numel);
    tcase_add_test(tc, sum_and_mean_should_report_bad_axis);
    tcase_add_test(tc, backward_should_reject_a_seed_of_the_wrong_shape);
    tcase_add_test(tc, matmul_should_report_an_output_too_large_to_hold);
    tcase_add_test(tc, broadcasting_should_report_an_output_too_large_to_hold);
    tcase_add_test(tc, reshape_should_handle_its_edge_cases);
    tcase_add_test(tc, apply_should_report_a_null_inputs_array_and_find_should_accept_null);
    tcase_add_test(tc, apply_should_refuse_an_input_whose_shape_was_edited_in_place);
    suite_add_tcase(s, tc);

    tc = tcase_create("edge_values");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, empty_tensors_should_pass_through_every_core_op);
    tcase_add_test(tc, mean_over_nothing_should_be_nan_like_pytorch);
    tcase_add_test(tc, sum_and_mean_of_a_scalar_should_accept_axis_0_and_minus_1);
    tcase_add_test(tc, relu_should_propagate_nan_like_pytorch);
    tcase_add_test(tc, pow_with_exponent_zero_should_have_zero_gradient);
    suite_add_tcase(s, tc);

    tc = tcase_create("registry");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, registry_should_hold_every_core_op);
    tcase_add_test(tc, registry_entries_should_be_complete_and_unique);
    tcase_add_test(tc, an_op_without_symbol_or_formula_should_be_reported_incomplete);
    tcase_add_test(tc, elementwise_ops_should_have_a_local_derivative);
    tcase_add_test(tc, scalar_constants_should_be_labelled_with_their_value);
    tcase_add_test(tc, apply_should_refuse_an_unregistered_op);
    tcase_add_test(tc, apply_should_build_the_same_result_as_the_named_function);
    tcase_add_test(tc, core_op_domains_should_keep_every_case_finite);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(ops_suite()); }
