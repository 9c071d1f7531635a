/* test_gradcheck.c: the "gradcheck" suite. The checker must pass every registered op and module,
 * at its own tolerances and at many seeds, and must fail deliberately broken ops (defined here,
 * outside the registry, so they are called directly) with the diagnosis that names their
 * mistake: sign flipped, missing broadcast reduction, overwrite instead of accumulate, off by
 * a factor, forgotten term, transposed; and the registry's own ops broken in the ways that
 * gradcheck once let through (a wrong branch for negative bases or for p = 1, a cut-off beside
 * relu's kink, a one-hot at the wrong class, a reduction that stops early or drops a stride,
 * errors of 1e-4 relative and 5e-6 absolute), each caught by its cases at the default seed,
 * and a wrong local_grad caught by the chain-rule check. The suite links the checker without
 * any drawing library; what only the mytorch-gradcheck command does is test_gradcheck_cli.c's. */
#include "../gradcheck/gradcheck.h"
#include "../gradcheck/local.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* ---- ops, right and broken ------------------------------------------------------------------- */

static mt_tensor *same_shape_output(const char *op, mt_tensor *a, mt_tensor *b)
{
    if (!mt_shape_equal(a->shape, b->shape)) {
        mt_error("%s: the shapes differ", op);
        return NULL;
    }
    return mt_empty(a->shape);
}

/* exp: forward saves its output y = e^a; the right backward is gin += g * y. */
static mt_tensor *exp_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *y = mt_empty(in[0]->shape);
    for (size_t i = 0; i < y->numel; i++) y->data[i] = exp(in[0]->data[i]);
    mt_save_for_backward(ctx, y);
    return y;
}

static void exp_backward(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    for (size_t i = 0; i < g->numel; i++) gin[0]->data[i] += g->data[i] * ctx->saved[0]->data[i];
}

static void exp_backward_sign_flipped(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    for (size_t i = 0; i < g->numel; i++) gin[0]->data[i] -= g->data[i] * ctx->saved[0]->data[i];
}

static void exp_backward_nan(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    (void)ctx;
    for (size_t i = 0; i < g->numel; i++) gin[0]->data[i] += NAN;
}

static void exp_backward_ignores_grad_out(const mt_ctx *ctx, const mt_tensor *g,
                                          mt_tensor *const *gin)
{
    for (size_t i = 0; i < g->numel; i++) gin[0]->data[i] += ctx->saved[0]->data[i];
}

/* square: a^2, d/da = 2a; the broken backward says 4a. */
static mt_tensor *square_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *y = mt_empty(in[0]->shape);
    for (size_t i = 0; i < y->numel; i++) y->data[i] = in[0]->data[i] * in[0]->data[i];
    mt_save_for_backward(ctx, in[0]);
    return y;
}

static void square_backward_twice_too_big(const mt_ctx *ctx, const mt_tensor *g,
                                          mt_tensor *const *gin)
{
    for (size_t i = 0; i < g->numel; i++)
        gin[0]->data[i] += 4.0 * ctx->saved[0]->data[i] * g->data[i];
}

/* mul of two tensors of one shape: d/da = b, d/db = a. */
static mt_tensor *mul_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *y = same_shape_output("mul", in[0], in[1]);
    if (!y) return NULL;
    for (size_t i = 0; i < y->numel; i++) y->data[i] = in[0]->data[i] * in[1]->data[i];
    mt_save_for_backward(ctx, in[0]);
    mt_save_for_backward(ctx, in[1]);
    return y;
}

static void mul_backward_overwrites(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    const mt_tensor *a = ctx->saved[0], *b = ctx->saved[1];
    for (size_t i = 0; i < g->numel; i++) {
        if (gin[0]) gin[0]->data[i] = g->data[i] * b->data[i];     /* = where += belongs */
        if (gin[1]) gin[1]->data[i] = g->data[i] * a->data[i];
    }
}

static void mul_backward_forgets_a(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    const mt_tensor *a = ctx->saved[0];
    for (size_t i = 0; i < g->numel; i++)                           /* d/da never written */
        if (gin[1]) gin[1]->data[i] += g->data[i] * a->data[i];
}

/* add of a (n, m) and b (m,) broadcast along the rows (or b (n, m): the checker's expanded
 * evaluation of the broadcast input uses that). */
static mt_tensor *add_rows_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)ctx; (void)args;
    const mt_tensor *a = in[0], *b = in[1];
    size_t m = (size_t)a->shape.dim[a->shape.ndim - 1];
    if (b->numel != m && b->numel != a->numel) {
        mt_error("add_rows: b must have %zu or %zu elements", m, a->numel);
        return NULL;
    }
    mt_tensor *y = mt_empty(a->shape);
    for (size_t k = 0; k < y->numel; k++)
        y->data[k] = a->data[k] + b->data[b->numel == a->numel ? k : k % m];
    return y;
}

static void add_rows_backward_one_slice(const mt_ctx *ctx, const mt_tensor *g,
                                        mt_tensor *const *gin)
{
    (void)ctx;
    size_t m = gin[1]->numel;
    for (size_t k = 0; k < g->numel; k++) gin[0]->data[k] += g->data[k];
    for (size_t j = 0; j < m; j++) gin[1]->data[j] += g->data[j];   /* row 0 only: not summed */
}

/* transpose (n, m) -> (m, n); the broken backward adds grad_out's data as it is laid out. */
static mt_tensor *transpose_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)ctx; (void)args;
    const mt_tensor *a = in[0];
    int n = a->shape.dim[0], m = a->shape.dim[1];
    mt_tensor *y = mt_empty(MT_SHAPE(m, n));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) y->data[j * n + i] = a->data[i * m + j];
    return y;
}

static void transpose_backward_not_transposed(const mt_ctx *ctx, const mt_tensor *g,
                                              mt_tensor *const *gin)
{
    (void)ctx;
    for (size_t k = 0; k < g->numel; k++) gin[0]->data[k] += g->data[k];
}

/* abs, whose kink at 0 a small domain cannot escape */
static mt_tensor *abs_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *y = mt_empty(in[0]->shape);
    for (size_t i = 0; i < y->numel; i++) y->data[i] = fabs(in[0]->data[i]);
    mt_save_for_backward(ctx, in[0]);
    return y;
}

static void abs_backward(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    for (size_t i = 0; i < g->numel; i++)
        gin[0]->data[i] += g->data[i] * (ctx->saved[0]->data[i] >= 0 ? 1.0 : -1.0);
}

static const mt_case unary_cases[] = {
    { "mat_3x4", { MT_DIMS(3, 4) }, { .scalar = 0 }, NULL },
};
static const mt_case binary_cases[] = {
    { "same_3x4", { MT_DIMS(3, 4), MT_DIMS(3, 4) }, { .scalar = 0 }, NULL },
};
static const mt_case rows_cases[] = {
    { "bcast_3x4_4", { MT_DIMS(3, 4), MT_DIMS(4) }, { .scalar = 0 }, NULL },
};
static const mt_case transpose_cases[] = {
    { "2x3", { MT_DIMS(2, 3) }, { .scalar = 0 }, NULL },
};

#define UNARY(nm, fwd, bwd, lo, hi)                                                          \
    { .name = nm, .backward_name = nm "Backward", .arity = 1, .forward = fwd, .backward = bwd, \
      .domain = { { lo, hi, 0, false } }, .cases = unary_cases, .ncases = 1 }

static const mt_op exp_ok      = UNARY("exp", exp_forward, exp_backward, -2, 2);
static const mt_op exp_sign    = UNARY("exp_sign_flipped", exp_forward, exp_backward_sign_flipped,
                                       -2, 2);
static const mt_op exp_nan     = UNARY("exp_nan", exp_forward, exp_backward_nan, -2, 2);
static const mt_op exp_noscale = UNARY("exp_ignores_grad_out", exp_forward,
                                       exp_backward_ignores_grad_out, -2, 2);
static const mt_op square_x2   = UNARY("square_times_2", square_forward,
                                       square_backward_twice_too_big, -2, 2);
static const mt_op abs_kinked  = UNARY("abs_at_0", abs_forward, abs_backward, -2e-7, 2e-7);
static const mt_op abs_wide    = UNARY("abs", abs_forward, abs_backward, -1, 1);

static const mt_op mul_overwrite = {
    .name = "mul_overwrites", .backward_name = "MulBackward", .arity = 2,
    .forward = mul_forward, .backward = mul_backward_overwrites,
    .domain = { { -2, 2, 0, false }, { -2, 2, 0, false } },
    .cases = binary_cases, .ncases = 1,
};
static const mt_op mul_forgets = {
    .name = "mul_forgets_a", .backward_name = "MulBackward", .arity = 2,
    .forward = mul_forward, .backward = mul_backward_forgets_a,
    .domain = { { -2, 2, 0.1, false }, { -2, 2, 0.1, false } },
    .cases = binary_cases, .ncases = 1,
};
static const mt_op add_one_slice = {
    .name = "add_rows_one_slice", .backward_name = "AddBackward", .arity = 2,
    .forward = add_rows_forward, .backward = add_rows_backward_one_slice,
    .domain = { { -2, 2, 0, false }, { -2, 2, 0, false } },
    .cases = rows_cases, .ncases = 1,
};
static const mt_op transpose_flat = {
    .name = "transpose_flat", .backward_name = "TransposeBackward", .arity = 1,
    .forward = transpose_forward, .backward = transpose_backward_not_transposed,
    .domain = { { -2, 2, 0, false } },
    .cases = transpose_cases, .ncases = 1,
};

/* Checks op's first case (tied: x in every slot) and returns the status. */
static mt_gc_status check_op(const mt_op *op, bool tied, mt_gc_result *r)
{
    mt_gc_func f;
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.seed = 7;
    if (tied) mt_gc_func_op_tied(&f, op, &op->cases[0]);
    else mt_gc_func_op(&f, op, &op->cases[0]);
    mt_gc_status s = mt_gc_check(&f, &o, r);
    mt_gc_result_free(r);
    return s;
}

#define ASSERT_DIAGNOSIS(r, bit)                                                              \
    ck_assert_msg(((r).diagnoses & (bit)) != 0, "expected " #bit ", got 0x%x:\n%s",           \
                  (r).diagnoses, (r).text)

/* ---- broken ops: the right failure, the right diagnosis -------------------------------------- */

START_TEST(unregistered_right_op_should_pass_when_called_directly)
{
    mt_gc_result r;
    ck_assert_int_eq(check_op(&exp_ok, false, &r), MT_GC_PASS);
    ck_assert_uint_eq(r.diagnoses, 0);
    ck_assert_uint_eq(r.elements, 12);
    ck_assert_str_eq(r.text, "");
}
END_TEST

START_TEST(sign_flipped_backward_should_fail_as_sign_flipped)
{
    mt_gc_result r;
    ck_assert_int_eq(check_op(&exp_sign, false, &r), MT_GC_FAIL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_SIGN);
    ck_assert_uint_eq(r.diagnoses & MT_GC_DIAG_FACTOR, 0);
    ck_assert_double_eq_tol(r.analytical, -r.numerical, 1e-6);
    ck_assert_ptr_nonnull(strstr(r.text, "sign flipped"));
    ck_assert_msg(r.where[0] == 'a' && r.where[1] == '[', "where: %s", r.where);
}
END_TEST

START_TEST(missing_unbroadcast_should_fail_as_missing_broadcast_reduction)
{
    mt_gc_result r;
    ck_assert_int_eq(check_op(&add_one_slice, false, &r), MT_GC_FAIL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_BROADCAST);
    ck_assert_msg(strncmp(r.where, "b[", 2) == 0, "where: %s", r.where);
    ck_assert_ptr_nonnull(strstr(r.text, "slice [0,:]"));
}
END_TEST

START_TEST(overwriting_backward_should_fail_as_overwrite)
{
    mt_gc_result r;
    ck_assert_int_eq(check_op(&mul_overwrite, false, &r), MT_GC_FAIL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_OVERWRITE);
    ck_assert_ptr_nonnull(strstr(r.text, "+="));
}
END_TEST

START_TEST(factor_of_two_should_fail_as_constant_factor_2)
{
    mt_gc_result r;
    ck_assert_int_eq(check_op(&square_x2, false, &r), MT_GC_FAIL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_FACTOR);
    ck_assert_double_eq_tol(r.factor, 2.0, 1e-6);
    ck_assert_ptr_nonnull(strstr(r.text, "= 2 x numerical"));
}
END_TEST

START_TEST(forgotten_term_in_x_times_x_should_fail_as_forgotten_term)
{
    mt_gc_result r;
    ck_assert_int_eq(check_op(&mul_forgets, true, &r), MT_GC_FAIL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_TERM);
    ck_assert_ptr_nonnull(strstr(r.text, "forgotten term"));
    ck_assert_msg(strstr(r.text, "nothing for the term through a (the term through b is right)"),
                  "%s", r.text);
}
END_TEST

START_TEST(overwriting_backward_in_x_times_x_should_lose_a_term_and_say_so)
{
    mt_gc_result r;
    ck_assert_int_eq(check_op(&mul_overwrite, true, &r), MT_GC_FAIL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_OVERWRITE);
    ck_assert_msg(strstr(r.text, "each use's term is right on its own (a, b)"), "%s", r.text);
}
END_TEST

START_TEST(forgotten_input_gradient_should_fail_as_analytical_zero)
{
    mt_gc_result r;
    ck_assert_int_eq(check_op(&mul_forgets, false, &r), MT_GC_FAIL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_ZERO);
    ck_assert_msg(strncmp(r.where, "a[", 2) == 0, "where: %s", r.where);
    ck_assert_double_eq(r.analytical, 0.0);
}
END_TEST

START_TEST(untransposed_backward_should_fail_as_transposed)
{
    mt_gc_result r;
    ck_assert_int_eq(check_op(&transpose_flat, false, &r), MT_GC_FAIL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_TRANSPOSED);
}
END_TEST

START_TEST(backward_ignoring_grad_out_should_fail_the_scaling_checks)
{
    mt_gc_result r;
    ck_assert_int_eq(check_op(&exp_noscale, false, &r), MT_GC_FAIL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_SCALE);
}
END_TEST

START_TEST(an_op_without_cases_should_fail_not_be_skipped)
{
    mt_gc_func f;
    mt_gc_result r;
    mt_gc_func_op(&f, &exp_ok, NULL);
    ck_assert_int_eq(mt_gc_check(&f, NULL, &r), MT_GC_FAIL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_NO_CASES);
    mt_gc_result_free(&r);
}
END_TEST

START_TEST(an_empty_domain_should_fail_not_be_skipped)
{
    mt_op op = exp_ok;
    op.domain[0] = (mt_domain){ 0, 0, 0, false };
    mt_gc_result r;
    ck_assert_int_eq(check_op(&op, false, &r), MT_GC_FAIL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_NO_CASES);
}
END_TEST

/* ---- kinks ----------------------------------------------------------------------------------- */

START_TEST(a_kink_that_redraws_cannot_escape_should_be_reported_as_kink)
{
    mt_gc_result r;
    ck_assert_int_eq(check_op(&abs_kinked, false, &r), MT_GC_KINK);
    ck_assert_int_eq(r.redraws, MT_GC_DEFAULT_REDRAWS);
    ck_assert_ptr_nonnull(strstr(r.text, "kink"));
}
END_TEST

START_TEST(a_kink_should_be_redrawn_away_and_then_pass)
{
    /* with h = 0.05 about one element in twenty lies within h of abs's kink */
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.eps = 0.05;
    mt_gc_func f;
    mt_gc_func_op(&f, &abs_wide, &abs_wide.cases[0]);
    int redrawn = 0;
    for (uint64_t seed = 0; seed < 40; seed++) {
        mt_gc_result r;
        o.seed = seed;
        mt_gc_status s = mt_gc_check(&f, &o, &r);
        ck_assert_msg(s == MT_GC_PASS, "seed %llu: %s\n%s", (unsigned long long)seed,
                      mt_gc_status_name(s), r.text);
        redrawn += r.redraws > 0;
        mt_gc_result_free(&r);
    }
    ck_assert_int_gt(redrawn, 0);
}
END_TEST

/* ---- the registry and the modules ------------------------------------------------------------ */

START_TEST(every_registered_op_and_module_should_pass)
{
    mt_gc_func *fs;
    int n = mt_gc_cases_default(&fs);
    ck_assert_int_gt(n, 0);
    for (int i = 0; i < n; i++) {
        mt_gc_result r;
        mt_gc_status s = mt_gc_check(&fs[i], NULL, &r);
        ck_assert_msg(s != MT_GC_FAIL, "%s %s: %s\n%s", fs[i].name, fs[i].case_name,
                      mt_gc_status_name(s), r.text);
        mt_gc_result_free(&r);
    }
    mt_gc_cases_free(fs, n);
}
END_TEST

START_TEST(default_cases_should_hold_every_case_of_every_op)
{
    mt_gc_func *fs;
    int n = mt_gc_cases_default(&fs);
    for (int i = 0; i < mt_op_count(); i++) {
        const mt_op *op = mt_op_at(i);
        ck_assert_int_gt(op->ncases, 0);
        for (int k = 0; k < op->ncases; k++) {
            bool found = false;
            for (int j = 0; j < n && !found; j++)
                found = fs[j].op == op && strcmp(fs[j].case_name, op->cases[k].name) == 0;
            ck_assert_msg(found, "%s %s is not checked", op->name, op->cases[k].name);
        }
    }
    const char *modules[] = { "nn.Linear", "nn.ReLU", "nn.BatchNorm1d", "nn.CrossEntropyLoss",
                              "nn.functional.log_softmax", "nn.MLP" };
    for (int m = 0; m < N_OF(modules); m++) {
        bool found = false;
        for (int j = 0; j < n && !found; j++) found = strcmp(fs[j].name, modules[m]) == 0;
        ck_assert_msg(found, "%s is not checked", modules[m]);
    }
    mt_gc_cases_free(fs, n);
}
END_TEST

START_TEST(labels_should_be_integers_in_their_domain_and_not_differentiated)
{
    const mt_op *ce = mt_op_find("cross_entropy");
    ck_assert_ptr_nonnull(ce);
    mt_gc_func f;
    mt_gc_func_op(&f, ce, &ce->cases[0]);
    mt_gc_result r;
    ck_assert_int_ne(mt_gc_check(&f, NULL, &r), MT_GC_FAIL);
    /* only the logits are compared */
    ck_assert_uint_eq(r.elements, mt_shape_numel(ce->cases[0].in[0]));
    mt_gc_result_free(&r);
}
END_TEST

/* ---- output ---------------------------------------------------------------------------------- */

static char *run_to_string(const mt_gc_func *fs, int n, const mt_gc_options *o, int *failed)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    *failed = mt_gc_run(fs, n, o, out);
    fclose(out);
    return buf;
}

START_TEST(run_should_print_rows_details_rerun_and_the_closing_line)
{
    mt_gc_func fs[2];
    mt_gc_func_op(&fs[0], &exp_ok, &exp_ok.cases[0]);
    mt_gc_func_op(&fs[1], &exp_sign, &exp_sign.cases[0]);
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.seed = 7;
    int failed;
    char *s = run_to_string(fs, 2, &o, &failed);
    ck_assert_int_eq(failed, 1);
    ck_assert_ptr_nonnull(strstr(s, "PASS\n"));
    ck_assert_ptr_nonnull(strstr(s, "FAIL\n"));
    ck_assert_ptr_nonnull(strstr(s, "rerun: mytorch-gradcheck --op 'exp_sign_flipped' "
                                    "--case 'mat_3x4' --seed 7\n"));
    size_t len = strlen(s);
    const char *tail = "\n1 passed, 1 failed\n";
    ck_assert_str_eq(s + len - strlen(tail), tail);
    free(s);
}
END_TEST

START_TEST(json_should_give_one_object_per_case_per_line)
{
    mt_gc_func fs[2];
    mt_gc_func_op(&fs[0], &exp_ok, &exp_ok.cases[0]);
    mt_gc_func_op(&fs[1], &square_x2, &square_x2.cases[0]);
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.json = true;
    o.summary = tmpfile();          /* the closing line, kept off the test's own output */
    ck_assert_ptr_nonnull(o.summary);
    int failed;
    char *s = run_to_string(fs, 2, &o, &failed);
    char closing[64] = "";
    rewind(o.summary);
    ck_assert_ptr_nonnull(fgets(closing, sizeof closing, o.summary));
    ck_assert_str_eq(closing, "1 passed, 1 failed\n");
    fclose(o.summary);
    ck_assert_int_eq(failed, 1);
    int lines = 0;
    for (char *p = s; *p; p++) lines += *p == '\n';
    ck_assert_int_eq(lines, 2);
    ck_assert_msg(s[0] == '{', "%s", s);
    ck_assert_ptr_nonnull(strstr(s, "\"status\":\"PASS\""));
    ck_assert_ptr_nonnull(strstr(s, "\"diagnoses\":[\"factor\"],\"factor\":2"));
    free(s);
}
END_TEST

START_TEST(rerun_command_should_carry_non_default_tolerances)
{
    mt_gc_func f;
    mt_gc_func_op(&f, &exp_ok, &exp_ok.cases[0]);
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.seed = 3;
    o.atol = 1e-7;
    char buf[256];
    ck_assert_str_eq(
        mt_gc_rerun_command(&f, &o, buf, sizeof buf),
        "mytorch-gradcheck --op 'exp' --case 'mat_3x4' --seed 3 --atol 9.9999999999999995e-08");
}
END_TEST

#define JSON_AT(obj, key) cJSON_GetObjectItemCaseSensitive((obj), (key))

START_TEST(json_lines_should_parse_and_carry_every_field_with_exact_numbers)
{
    mt_gc_func fs[3];
    mt_gc_func_op(&fs[0], &exp_ok, &exp_ok.cases[0]);
    mt_gc_func_op(&fs[1], &square_x2, &square_x2.cases[0]);
    mt_gc_func_op(&fs[2], &add_one_slice, &add_one_slice.cases[0]);
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.seed = 11;
    o.json = true;
    o.program = "/opt/mt/bin/mytorch-gradcheck";
    o.summary = tmpfile();
    int failed;
    char *s = run_to_string(fs, 3, &o, &failed);
    fclose(o.summary);
    ck_assert_int_eq(failed, 2);
    const char *keys[] = { "op", "case", "inputs", "elements", "max_abs_err", "max_rel_err",
                           "jacobian_max_abs_err", "seconds", "status", "redraws", "diagnoses",
                           /* a failure's, from here on */
                           "where", "path", "numerical", "analytical", "detail", "rerun" };
    char *line = s;
    for (int k = 0; k < 3; k++, line = strchr(line, '\0') + 1) {
        ck_assert_ptr_nonnull(strchr(line, '\n'));
        *strchr(line, '\n') = '\0';
        cJSON *j = cJSON_Parse(line);
        ck_assert_msg(cJSON_IsObject(j), "line %d does not parse: %s", k + 1, line);
        mt_gc_result r;                  /* the same check again: the numbers the line must hold */
        mt_gc_check(&fs[k], &o, &r);
        for (int m = 0; m < (r.status == MT_GC_FAIL ? N_OF(keys) : 11); m++)
            ck_assert_msg(JSON_AT(j, keys[m]), "line %d lacks %s: %s", k + 1, keys[m], line);
        ck_assert_str_eq(JSON_AT(j, "op")->valuestring, fs[k].name);
        ck_assert_str_eq(JSON_AT(j, "case")->valuestring, fs[k].case_name);
        const cJSON *inputs = JSON_AT(j, "inputs");
        ck_assert_int_eq(cJSON_GetArraySize(inputs), fs[k].nin);
        for (int i = 0; i < fs[k].nin; i++) {
            const cJSON *in = cJSON_GetArrayItem(inputs, i), *shape = JSON_AT(in, "shape");
            ck_assert_str_eq(JSON_AT(in, "name")->valuestring, fs[k].in_name[i]);
            ck_assert_int_eq(cJSON_GetArraySize(shape), fs[k].shape[i].ndim);
            for (int d = 0; d < fs[k].shape[i].ndim; d++)
                ck_assert_int_eq(cJSON_GetArrayItem(shape, d)->valueint, fs[k].shape[i].dim[d]);
            ck_assert(cJSON_IsFalse(JSON_AT(in, "labels")));
        }
        ck_assert_str_eq(JSON_AT(j, "status")->valuestring, mt_gc_status_name(r.status));
        ck_assert_double_eq(JSON_AT(j, "elements")->valuedouble, (double)r.elements);
        ck_assert_double_eq(JSON_AT(j, "max_abs_err")->valuedouble, r.max_abs_err);
        ck_assert_double_eq(JSON_AT(j, "max_rel_err")->valuedouble, r.max_rel_err);
        ck_assert_double_eq(JSON_AT(j, "jacobian_max_abs_err")->valuedouble, r.jac_max_abs_err);
        if (r.diagnoses & MT_GC_DIAG_FACTOR)
            ck_assert_double_eq(JSON_AT(j, "factor")->valuedouble, r.factor);
        if (r.status == MT_GC_FAIL) {
            ck_assert_str_eq(JSON_AT(j, "where")->valuestring, r.where);
            ck_assert_double_eq(JSON_AT(j, "numerical")->valuedouble, r.numerical);
            ck_assert_double_eq(JSON_AT(j, "analytical")->valuedouble, r.analytical);
            const char *detail = JSON_AT(j, "detail")->valuestring;   /* the text, last \n off */
            ck_assert_int_eq(strncmp(detail, r.text, strlen(detail)), 0);
            ck_assert_uint_eq(strlen(detail) + 1, strlen(r.text));
            char *cmd = mt_gc_rerun_command_new(&fs[k], &o);
            ck_assert_str_eq(JSON_AT(j, "rerun")->valuestring, cmd);
            free(cmd);
        } else {
            ck_assert_ptr_null(JSON_AT(j, "rerun"));
            ck_assert_ptr_null(JSON_AT(j, "detail"));
        }
        mt_gc_result_free(&r);
        cJSON_Delete(j);
    }
    ck_assert_str_eq(line, "");
    free(s);
}
END_TEST

START_TEST(json_should_write_values_that_are_not_finite_as_null)
{
    mt_gc_func f;
    mt_gc_func_op(&f, &exp_nan, &exp_nan.cases[0]);
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.json = true;
    o.summary = tmpfile();
    int failed;
    char *s = run_to_string(&f, 1, &o, &failed);
    fclose(o.summary);
    ck_assert_int_eq(failed, 1);
    cJSON *j = cJSON_Parse(s);
    ck_assert_msg(j != NULL, "does not parse: %s", s);
    ck_assert_msg(cJSON_IsNull(JSON_AT(j, "max_abs_err")), "%s", s);
    ck_assert_msg(cJSON_IsNull(JSON_AT(j, "analytical")), "%s", s);
    ck_assert_str_eq(JSON_AT(j, "status")->valuestring, "FAIL");
    cJSON_Delete(j);
    free(s);
}
END_TEST

START_TEST(rerun_command_should_name_the_program_that_was_set)
{
    mt_gc_func f;
    mt_gc_func_op(&f, &exp_ok, &exp_ok.cases[0]);
    mt_gc_options o;
    mt_gc_options_init(&o);
    ck_assert_str_eq(o.program, "mytorch-gradcheck");      /* library callers that set none */
    char buf[256];
    o.program = "./build-x/bin/mytorch-gradcheck";
    ck_assert_str_eq(mt_gc_rerun_command(&f, &o, buf, sizeof buf),
                     "./build-x/bin/mytorch-gradcheck --op 'exp' --case 'mat_3x4' --seed 0");
    o.program = "/tmp/my dir/it's here/mytorch-gradcheck";   /* quoted for the shell */
    ck_assert_str_eq(
        mt_gc_rerun_command(&f, &o, buf, sizeof buf),
        "'/tmp/my dir/it'\\''s here/mytorch-gradcheck' --op 'exp' --case 'mat_3x4' --seed 0");

    /* a long program name is never cut short: _new holds it all, a small buffer gets nothing */
    char longname[3001];
    memset(longname, 'p', 3000);
    longname[0] = '/';
    longname[3000] = '\0';
    o.program = longname;
    char *cmd = mt_gc_rerun_command_new(&f, &o);
    ck_assert_int_eq(strncmp(cmd, longname, 3000), 0);
    ck_assert_str_eq(cmd + 3000, " --op 'exp' --case 'mat_3x4' --seed 0");
    ck_assert_ptr_null(mt_gc_rerun_command(&f, &o, buf, sizeof buf));
    ck_assert_str_eq(buf, "");
    free(cmd);
}
END_TEST

START_TEST(options_out_of_range_should_be_refused_naming_the_flag_and_the_range)
{
    const struct { const char *flag; double v; bool ok; } cases[] = {
        { "--eps", MT_GC_DEFAULT_EPS, true }, { "--eps", MT_GC_EPS_MIN, true },
        { "--eps", MT_GC_EPS_MAX, true },     { "--eps", 0.0, false },
        { "--eps", nextafter(MT_GC_EPS_MAX, 1), false },
        { "--eps", nextafter(MT_GC_EPS_MIN, 0), false },
        { "--eps", NAN, false },              { "--eps", INFINITY, false },
        { "--atol", 0.0, true },              { "--atol", -1e-300, false },
        { "--atol", INFINITY, false },        { "--rtol", MT_GC_RTOL_MAX, true },
        { "--rtol", nextafter(MT_GC_RTOL_MAX, 2), false }, { "--rtol", NAN, false },
    };
    for (int k = 0; k < N_OF(cases); k++)
        ck_assert_msg((mt_gc_option_accepts(cases[k].flag, cases[k].v) == NULL) == cases[k].ok,
                      "%s %g", cases[k].flag, cases[k].v);
    ASSERT_ERR_HAS(mt_gc_option_accepts("--eps", 1.0), "[1e-12, 0.1]");

    /* a library caller gets the same limits: the check refuses, it does not divide by zero */
    mt_gc_func f;
    mt_gc_func_op(&f, &exp_ok, &exp_ok.cases[0]);
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.eps = 0;
    mt_gc_result r;
    ck_assert_int_eq(mt_gc_check(&f, &o, &r), MT_GC_FAIL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_NO_CASES);
    ASSERT_ERR_HAS(r.text, "cannot be checked: --eps is 0, outside [1e-12, 0.1]");
    mt_gc_result_free(&r);
}
END_TEST

/* ---- the registry's ops, broken the ways gradcheck once let through -------------------------- */

/* A copy of the registry's op `name` with its backward replaced, outside the registry (so it is
 * called directly), without local_grad: what catches it is the finite differences alone. */
static mt_op broken_copy(const char *name, const char *broken_name, mt_backward_fn backward)
{
    const mt_op *op = mt_op_find(name);
    ck_assert_ptr_nonnull(op);
    mt_op b = *op;
    b.name = broken_name;
    b.backward = backward;
    b.local_grad = NULL;
    return b;
}

/* Checks every case of op at the default seed, as the gradcheck run does: returns how many
 * fail, with case `name`'s result in *r (its Jacobians released). */
static int check_cases(const mt_op *op, const char *name, mt_gc_result *r)
{
    int failed = 0;
    bool found = false;
    for (int k = 0; k < op->ncases; k++) {
        mt_gc_func f;
        mt_gc_result rk;
        mt_gc_func_op(&f, op, &op->cases[k]);
        failed += mt_gc_check(&f, NULL, &rk) == MT_GC_FAIL;
        mt_gc_result_free(&rk);
        if (strcmp(op->cases[k].name, name) == 0) { *r = rk; found = true; }
    }
    ck_assert_msg(found, "%s has no case %s", op->name, name);
    return failed;
}

#define ASSERT_FAILS_WITH(r, bit)                                                             \
    do {                                                                                      \
        ck_assert_msg((r).status == MT_GC_FAIL, "expected FAIL, got %s\n%s",                  \
                      mt_gc_status_name((r).status), (r).text);                               \
        ASSERT_DIAGNOSIS(r, bit);                                                             \
    } while (0)

/* pow with |a|^(p - 1): right for a > 0 only */
static void pow_backward_abs_base(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    const mt_tensor *a = ctx->saved[0];
    double p = ctx->scalars[0];
    if (p == 0.0) return;
    for (size_t i = 0; i < g->numel; i++)
        gin[0]->data[i] += g->data[i] * p * pow(fabs(a->data[i]), p - 1.0);
}

/* pow that takes p = 1 for a constant too */
static void pow_backward_p1_zero(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    const mt_tensor *a = ctx->saved[0];
    double p = ctx->scalars[0];
    if (p == 0.0 || p == 1.0) return;
    for (size_t i = 0; i < g->numel; i++)
        gin[0]->data[i] += g->data[i] * p * pow(a->data[i], p - 1.0);
}

/* relu whose cut-off sits at 0.05, not at its kink */
static void relu_backward_cutoff(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    const mt_tensor *out = ctx->saved[0];
    for (size_t i = 0; i < g->numel; i++)
        if (!(out->data[i] <= 0.05)) gin[0]->data[i] += g->data[i];
}

/* cross_entropy with its one-hot at label % 3 */
static void cross_entropy_backward_mod3(const mt_ctx *ctx, const mt_tensor *go,
                                        mt_tensor *const *gin)
{
    const mt_tensor *prob = ctx->saved[0], *labels = ctx->saved[1];
    int n = prob->shape.dim[0], c = prob->shape.dim[1];
    double g = go->data[0] / n;
    for (size_t k = 0; k < prob->numel; k++) gin[0]->data[k] += g * prob->data[k];
    for (int i = 0; i < n; i++) gin[0]->data[(size_t)i * c + (size_t)labels->data[i] % 3] -= g;
}

/* dst += src summed over the dims dst was broadcast along, as src/broadcast.c does, broken in
 * its 4-D loop (taken when something is broadcast) one of two ways: over the first slab of src
 * along dim 0 only (first_slab), or with dim 0 left out of the index into dst. */
static void unbroadcast_broken(mt_tensor *dst, const mt_tensor *src, bool first_slab)
{
    mt_shape s = dst->shape, o = src->shape;
    bool broken = dst->numel != src->numel && o.ndim == 4;
    size_t n = broken && first_slab ? src->numel / (size_t)o.dim[0] : src->numel;
    for (size_t k = 0; k < n; k++) {
        size_t idx = 0, stride = 1, m = k;
        for (int d = o.ndim - 1, e = s.ndim - 1; d >= 0; d--, e--) {
            size_t i = m % (size_t)o.dim[d];
            m /= (size_t)o.dim[d];
            if (e < 0) continue;
            if (s.dim[e] != 1 && !(broken && !first_slab && d == 0)) idx += i * stride;
            stride *= (size_t)s.dim[e];
        }
        dst->data[idx] += src->data[k];
    }
}

static void add_backward_first_slab(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    (void)ctx;
    for (int k = 0; k < 2; k++) if (gin[k]) unbroadcast_broken(gin[k], g, true);
}

static void add_backward_no_stride0(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    (void)ctx;
    for (int k = 0; k < 2; k++) if (gin[k]) unbroadcast_broken(gin[k], g, false);
}

/* exp off by 1e-4 relative, and by 5e-6 absolute */
static void exp_backward_rel(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    for (size_t i = 0; i < g->numel; i++)
        gin[0]->data[i] += 1.0001 * g->data[i] * ctx->saved[0]->data[i];
}

static void exp_backward_abs(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    for (size_t i = 0; i < g->numel; i++)
        gin[0]->data[i] += g->data[i] * ctx->saved[0]->data[i] + 5e-6;
}

START_TEST(pow_with_abs_of_the_base_should_fail_at_negative_bases)
{
    mt_op op = broken_copy("pow", "pow_abs_base", pow_backward_abs_base);
    mt_gc_result r;
    ck_assert_int_ge(check_cases(&op, "square_negative_5", &r), 2);
    ASSERT_FAILS_WITH(r, MT_GC_DIAG_SIGN);              /* every base negative */
    check_cases(&op, "square_3x4", &r);                 /* bases of both signs */
    ASSERT_FAILS_WITH(r, MT_GC_DIAG_RANGE);
    ASSERT_ERR_HAS(r.text, "diagnosis: wrong exactly where a lies in [-");
    ASSERT_ERR_HAS(r.text, "there its sign is flipped");
    check_cases(&op, "sqrt_3x4", &r);                   /* a > 0: right there */
    ck_assert_int_eq(r.status, MT_GC_PASS);
}
END_TEST

START_TEST(pow_that_treats_p_1_as_a_constant_should_fail_at_p_1)
{
    mt_op op = broken_copy("pow", "pow_p1_zero", pow_backward_p1_zero);
    mt_gc_result r;
    ck_assert_int_eq(check_cases(&op, "p1_3x4", &r), 1);
    ASSERT_FAILS_WITH(r, MT_GC_DIAG_ZERO);
}
END_TEST

START_TEST(relu_cut_off_beside_its_kink_should_fail_near_0)
{
    mt_op op = broken_copy("relu", "relu_cutoff_0.05", relu_backward_cutoff);
    mt_gc_result r;
    ck_assert_int_ge(check_cases(&op, "near_0_6x5", &r), 1);
    ASSERT_FAILS_WITH(r, MT_GC_DIAG_RANGE);
    ASSERT_ERR_HAS(r.text, "there the analytical gradient is 0");
    ck_assert_int_eq(r.redraws, 0);                     /* min_abs keeps h off the kink */
}
END_TEST

START_TEST(cross_entropy_one_hot_at_the_wrong_class_should_fail_in_those_rows)
{
    mt_op op = broken_copy("cross_entropy", "cross_entropy_mod3", cross_entropy_backward_mod3);
    mt_gc_result r;
    ck_assert_int_ge(check_cases(&op, "6x5_every_class", &r), 1);
    ASSERT_FAILS_WITH(r, MT_GC_DIAG_LABELS);
    ASSERT_ERR_HAS(r.text, "rows of a labelled 3, 4 (the rows labelled 0, 1, 2 are right)");
    check_cases(&op, "4x3", &r);                        /* C = 3: label % 3 is the label */
    ck_assert_int_eq(r.status, MT_GC_PASS);
}
END_TEST

START_TEST(unbroadcast_over_the_first_slab_only_should_fail_in_4d)
{
    mt_op op = broken_copy("add", "add_first_slab", add_backward_first_slab);
    mt_gc_result r;
    ck_assert_int_ge(check_cases(&op, "bcast_2x1x4x1_2x3x4x5", &r), 1);
    ASSERT_FAILS_WITH(r, MT_GC_DIAG_BROADCAST);
    ASSERT_ERR_HAS(r.text, "over the first slab of the output only");
    check_cases(&op, "bcast_2x3x4x5_1", &r);
    ASSERT_FAILS_WITH(r, MT_GC_DIAG_BROADCAST);
    check_cases(&op, "bcast_2x3x4_3x1", &r);            /* fewer dims: the loop is right */
    ck_assert_int_eq(r.status, MT_GC_PASS);
}
END_TEST

START_TEST(unbroadcast_without_the_outermost_stride_should_fail_in_4d)
{
    mt_op op = broken_copy("add", "add_no_stride0", add_backward_no_stride0);
    mt_gc_result r;
    ck_assert_int_ge(check_cases(&op, "bcast_2x1x4x1_2x3x4x5", &r), 1);
    ASSERT_FAILS_WITH(r, MT_GC_DIAG_BROADCAST);
    ASSERT_ERR_HAS(r.text, "holds the sum over all of its dim 0 at index 0");
}
END_TEST

START_TEST(tiny_errors_should_fail_the_defaults_and_pass_pytorchs_tolerances)
{
    mt_op rel = broken_copy("exp", "exp_rel_1e-4", exp_backward_rel);
    mt_op abs_ = broken_copy("exp", "exp_abs_5e-6", exp_backward_abs);
    mt_gc_result r;
    ck_assert_int_eq(check_cases(&rel, "mat_3x4", &r), rel.ncases);
    ASSERT_FAILS_WITH(r, MT_GC_DIAG_FACTOR);
    ck_assert_double_eq_tol(r.factor, 1.0001, 1e-7);
    ck_assert_int_eq(check_cases(&abs_, "mat_3x4", &r), abs_.ncases);
    ASSERT_FAILS_WITH(r, MT_GC_DIAG_OFFSET);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_SCALE);              /* a zero seed gives 5e-6 */
    ASSERT_ERR_HAS(r.text, "analytical = numerical +5e-06 for every element of a");

    /* why the defaults changed: PyTorch's tolerances, made for single precision, pass both */
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.atol = MT_GC_PYTORCH_ATOL;
    o.rtol = MT_GC_PYTORCH_RTOL;
    const mt_op *ops[] = { &rel, &abs_ };
    for (int k = 0; k < 2; k++) {
        mt_gc_func f;
        mt_gc_func_op(&f, ops[k], &ops[k]->cases[1]);
        ck_assert_int_eq(mt_gc_check(&f, &o, &r), MT_GC_PASS);
        mt_gc_result_free(&r);
    }
}
END_TEST

/* ---- the chain rule of local_grad ------------------------------------------------------------ */

static double mul_local_grad_swapped(const mt_op_args *args, int input, const double *x, double y)
{
    (void)args; (void)y;
    return input == 0 ? x[0] : x[1];                    /* d(a b)/da is b, not a */
}

START_TEST(a_wrong_local_grad_should_fail_the_chain_rule_check)
{
    mt_op op = *mt_op_find("mul");
    op.name = "mul_wrong_local_grad";
    op.local_grad = mul_local_grad_swapped;
    mt_gc_func f;
    mt_gc_func_op(&f, &op, &op.cases[0]);
    mt_gc_result r;
    ck_assert_int_eq(mt_gc_check(&f, NULL, &r), MT_GC_FAIL);
    mt_gc_result_free(&r);
    ck_assert_uint_eq(r.diagnoses, MT_GC_DIAG_LOCAL);   /* backward itself is right */
    ASSERT_ERR_HAS(r.text, "local_grad: a[");
    ASSERT_ERR_HAS(r.text, "grad_out * local_grad (\"b\") summed over the broadcast gives");
    ASSERT_ERR_HAS(r.text, "a: 12 of 12 elements differ from the chain rule");
    ASSERT_ERR_HAS(r.text, "the finite differences agree with backward, so local_grad is the one "
                           "that is wrong");
    ck_assert_msg(r.where[0] == 'a' && r.where[1] == '[', "where: %s", r.where);

    /* without the check it passes: only the chain rule sees it */
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.skip_local = true;
    ck_assert_int_eq(mt_gc_check(&f, &o, &r), MT_GC_PASS);
    mt_gc_result_free(&r);

    /* and on its own, as mt_gc_check_local */
    char msg[512];
    ck_assert_int_eq(mt_gc_check_local(&op, &op.cases[2], 3, 1e-10, msg, sizeof msg), -1);
    ASSERT_ERR_HAS(msg, "mul_wrong_local_grad bcast_3x1_1x4: input 0 element");
    const mt_op *mul = mt_op_find("mul");
    for (int k = 0; k < mul->ncases; k++)
        ck_assert_int_eq(mt_gc_check_local(mul, &mul->cases[k], 3, 1e-10, msg, sizeof msg), 0);
}
END_TEST

START_TEST(a_wrong_backward_should_fail_the_chain_rule_check_too_and_be_named)
{
    mt_op op = *mt_op_find("exp");
    op.name = "exp_rel_1e-4";
    op.backward = exp_backward_rel;                     /* local_grad kept */
    mt_gc_func f;
    mt_gc_func_op(&f, &op, &op.cases[1]);
    mt_gc_result r;
    ck_assert_int_eq(mt_gc_check(&f, NULL, &r), MT_GC_FAIL);
    mt_gc_result_free(&r);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_LOCAL);
    ASSERT_DIAGNOSIS(r, MT_GC_DIAG_FACTOR);
    ASSERT_ERR_HAS(r.text, "the finite differences agree with local_grad, so backward is the one "
                           "that is wrong");
}
END_TEST

/* ---- tolerances, cases, labels, seeds -------------------------------------------------------- */

START_TEST(every_registered_op_and_module_should_pass_with_its_margin_at_20_seeds)
{
    mt_gc_func *fs;
    int n = mt_gc_cases_default(&fs);
    ck_assert_int_gt(n, 0);
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.seed = (uint64_t)_i;
    for (int i = 0; i < n; i++) {
        mt_gc_result r;
        mt_gc_status s = mt_gc_check(&fs[i], &o, &r);
        ck_assert_msg(s != MT_GC_FAIL, "seed %d, %s %s: %s\n%s", _i, fs[i].name,
                      fs[i].case_name, mt_gc_status_name(s), r.text);
        /* each op's atol was chosen as >= 100x its largest error over 200 seeds */
        ck_assert_msg(r.margin >= MT_GC_MEASURE_MARGIN, "seed %d, %s %s: margin %g (error %g)",
                      _i, fs[i].name, fs[i].case_name, r.margin, r.error);
        mt_gc_result_free(&r);
    }
    mt_gc_cases_free(fs, n);
}
END_TEST

START_TEST(tolerances_should_be_the_ops_own_unless_the_options_replace_them)
{
    const mt_op *exp_op = mt_op_find("exp");
    mt_gc_func f;
    mt_gc_func_op(&f, exp_op, &exp_op->cases[0]);
    mt_gc_options o;
    mt_gc_options_init(&o);
    ck_assert(o.atol == MT_GC_TOL_OWN && o.rtol == MT_GC_TOL_OWN);
    char buf[160];
    ck_assert_ptr_null(mt_gc_options_problem(&o, buf, sizeof buf));
    mt_gc_result r;
    mt_gc_check(&f, &o, &r);
    ck_assert_double_eq(r.atol, exp_op->tol.atol);
    ck_assert_double_eq(r.rtol, exp_op->tol.rtol);
    o.atol = 1e-3;                                      /* one replaced, the other the op's */
    mt_gc_check(&f, &o, &r);
    ck_assert_double_eq(r.atol, 1e-3);
    ck_assert_double_eq(r.rtol, exp_op->tol.rtol);
    mt_gc_func_op(&f, &exp_ok, &exp_ok.cases[0]);       /* an op with none: the defaults */
    o.atol = MT_GC_TOL_OWN;
    mt_gc_check(&f, &o, &r);
    ck_assert_double_eq(r.atol, MT_GC_DEFAULT_ATOL);
    ck_assert_double_eq(r.rtol, MT_GC_DEFAULT_RTOL);
    mt_gc_result_free(&r);

    /* every op of the registry has its own, between the floor and the default */
    for (int i = 0; i < mt_op_count(); i++) {
        const mt_op *op = mt_op_at(i);
        ck_assert_msg(op->tol.atol >= MT_GC_ATOL_FLOOR && op->tol.atol <= MT_GC_DEFAULT_ATOL &&
                      op->tol.rtol > 0 && op->tol.rtol <= MT_GC_DEFAULT_RTOL,
                      "%s: atol %g, rtol %g", op->name, op->tol.atol, op->tol.rtol);
    }
}
END_TEST

START_TEST(rerun_and_watch_commands_should_carry_what_reproduces_the_case)
{
    mt_gc_func f;
    const mt_op *mul = mt_op_find("mul");
    mt_gc_func_op(&f, mul, &mul->cases[1]);
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.atol = MT_GC_PYTORCH_ATOL;
    o.rtol = MT_GC_PYTORCH_RTOL;
    o.skip_local = true;
    char buf[256];
    ck_assert_str_eq(mt_gc_rerun_command(&f, &o, buf, sizeof buf),
                     "mytorch-gradcheck --op 'mul' --case 'bcast_3x4_4' --seed 0 "
                     "--pytorch-tolerances --no-local-grad");
    char *w = mt_gc_watch_command_new(&f, &o);
    ck_assert_str_eq(w, "mytorch-viewer --op mul --case bcast_3x4_4");
    free(w);
    o.program = "build/bin/mytorch-gradcheck";          /* the viewer beside the checker */
    w = mt_gc_watch_command_new(&f, &o);
    ck_assert_str_eq(w, "build/bin/mytorch-viewer --op mul --case bcast_3x4_4");
    free(w);
    /* neither a tied case, nor an op outside the registry, nor a module is the viewer's */
    mt_gc_func_op_tied(&f, mul, &mul->cases[0]);
    ck_assert_ptr_null(mt_gc_watch_command_new(&f, &o));
    mt_gc_func_op(&f, &exp_ok, &exp_ok.cases[0]);
    ck_assert_ptr_null(mt_gc_watch_command_new(&f, &o));
    mt_gc_func *fs;
    int n = mt_gc_cases_default(&fs);
    ck_assert_str_eq(fs[n - 1].name, "nn.functional.log_softmax");
    ck_assert_ptr_null(mt_gc_watch_command_new(&fs[n - 1], &o));
    mt_gc_cases_free(fs, n);
}
END_TEST

START_TEST(a_case_domain_should_replace_the_ops_for_that_case_only)
{
    const mt_op *pow_op = mt_op_find("pow");
    mt_gc_func f;
    for (int k = 0; k < pow_op->ncases; k++) {
        const mt_case *c = &pow_op->cases[k];
        mt_gc_func_op(&f, pow_op, c);
        mt_domain want = c->domain ? c->domain[0] : pow_op->domain[0];
        ck_assert_double_eq(f.domain[0].lo, want.lo);
        ck_assert_double_eq(f.domain[0].hi, want.hi);
        ck_assert_double_eq(f.domain[0].min_abs, want.min_abs);
        if (!strcmp(c->name, "square_negative_5")) ck_assert_double_eq(f.domain[0].hi, -0.5);
        if (!strcmp(c->name, "sqrt_3x4")) ck_assert_double_eq(f.domain[0].lo, 0.5);
    }
}
END_TEST

/* A graph function that keeps the labels it was given. */
static double spied_labels[16];
static mt_tensor *labels_spy_forward(void *self, mt_tensor *const *in)
{
    (void)self;
    memcpy(spied_labels, in[1]->data, in[1]->numel * sizeof(double));
    return mt_cross_entropy(in[0], in[1]);
}

START_TEST(labels_should_cover_every_class_when_there_are_enough)
{
    const struct { int n, c; } sizes[] = { { 7, 5 }, { 5, 5 }, { 3, 5 } };
    for (int s = 0; s < N_OF(sizes); s++)
        for (uint64_t seed = 0; seed < 10; seed++) {
            int n = sizes[s].n, c = sizes[s].c;
            mt_gc_func f;
            mt_gc_func_graph(&f, "labels_spy", "case", labels_spy_forward, NULL, NULL);
            mt_gc_func_add_input(&f, "logits", MT_SHAPE(n, c), (mt_domain){ -1, 1, 0, false },
                                 NULL);
            mt_gc_func_add_input(&f, "labels", MT_SHAPE(n), (mt_domain){ 0, c, 0, true }, NULL);
            mt_gc_options o;
            mt_gc_options_init(&o);
            o.seed = seed;
            mt_gc_result r;
            ck_assert_int_ne(mt_gc_check(&f, &o, &r), MT_GC_FAIL);
            mt_gc_result_free(&r);
            int count[16] = { 0 };
            for (int i = 0; i < n; i++) {
                double v = spied_labels[i];
                ck_assert(v >= 0 && v < c && v == floor(v));
                count[(int)v]++;
            }
            for (int k = 0; k < c; k++)             /* n >= c: each class; n < c: distinct */
                ck_assert_msg(n >= c ? count[k] >= n / c : count[k] <= 1,
                              "n %d, c %d, seed %d: class %d drawn %d times", n, c, (int)seed, k,
                              count[k]);
        }
}
END_TEST

START_TEST(keep_jacobians_should_hold_both_jacobians)
{
    mt_gc_func f;
    mt_gc_func_op(&f, &transpose_flat, &transpose_flat.cases[0]);
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.keep_jacobians = true;
    mt_gc_result r;
    mt_gc_check(&f, &o, &r);
    ck_assert_ptr_nonnull(r.jac.numerical);
    ck_assert_uint_eq(r.jac.nout, 6);
    ck_assert_uint_eq(r.jac.ncols, 6);
    mt_gc_result_free(&r);
}
END_TEST

/* How many times text occurs in s. (Not inlined: GCC 12 takes a string that open_memstream
 * filled for a pointer to the stack once this is inlined, and warns.) */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int count_of(const char *s, const char *text)
{
    int n = 0;
    for (const char *p = strstr(s, text); p; p = strstr(p + 1, text)) n++;
    return n;
}

START_TEST(verbose_run_should_print_each_tolerance_and_each_ops_margin)
{
    const mt_op *neg = mt_op_find("neg"), *exp_op = mt_op_find("exp");
    mt_gc_func fs[3];
    mt_gc_func_op(&fs[0], neg, &neg->cases[0]);
    mt_gc_func_op(&fs[1], neg, &neg->cases[1]);
    mt_gc_func_op(&fs[2], exp_op, &exp_op->cases[0]);
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.verbose = true;
    int failed;
    char *s = run_to_string(fs, 3, &o, &failed);
    ck_assert_int_eq(failed, 0);
    ASSERT_ERR_HAS(s, "    tolerance: atol 1e-08, rtol 1e-06 (the op's own); largest error ");
    ASSERT_ERR_HAS(s, "\n  neg: margin ");
    ASSERT_ERR_HAS(s, "\n  exp: margin ");
    ck_assert_int_eq(count_of(s, "\n  neg: margin "), 1);  /* once, after both of neg's cases */
    free(s);
}
END_TEST

START_TEST(a_failing_op_case_should_say_how_to_watch_it_in_the_viewer)
{
    const mt_op *add = mt_op_find("add");
    mt_gc_func f;
    mt_gc_func_op(&f, add, &add->cases[0]);
    mt_gc_options o;
    mt_gc_options_init(&o);
    o.atol = o.rtol = 0;                                /* any rounding fails */
    o.seed = 2;
    int failed;
    char *s = run_to_string(&f, 1, &o, &failed);
    ck_assert_int_eq(failed, 1);
    ASSERT_ERR_HAS(s, "    rerun: mytorch-gradcheck --op 'add' --case 'same_3x4' --seed 2 --atol 0 "
                      "--rtol 0\n    watch: mytorch-viewer --op add --case same_3x4\n");
    free(s);
    o.json = true;
    o.summary = tmpfile();
    s = run_to_string(&f, 1, &o, &failed);
    fclose(o.summary);
    cJSON *j = cJSON_Parse(s);
    ck_assert_msg(j != NULL, "%s", s);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "watch")->valuestring,
                     "mytorch-viewer --op add --case same_3x4");
    ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(j, "atol")->valuedouble, 0);
    ck_assert(cJSON_GetObjectItemCaseSensitive(j, "margin") != NULL);
    cJSON_Delete(j);
    free(s);
}
END_TEST

START_TEST(measure_should_report_each_case_and_each_op)
{
    const mt_op *exp_op = mt_op_find("exp");
    mt_gc_func fs[3];
    for (int k = 0; k < 3; k++) mt_gc_func_op(&fs[k], exp_op, &exp_op->cases[k]);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ck_assert_int_eq(mt_gc_measure(fs, 3, NULL, 4, out), 0);
    fclose(out);
    ASSERT_ERR_HAS(buf, "over 4 seeds from 0");
    ASSERT_ERR_HAS(buf, "\nexp                         mat_3x4 ");
    ASSERT_ERR_HAS(buf, "\nper op: ");
    ASSERT_ERR_HAS(buf, "\nexp                          ");
    ASSERT_ERR_HAS(buf, "\n0 of 3 functions failed at some seed\n");
    free(buf);
    /* a broken op fails at every seed */
    mt_op rel = broken_copy("exp", "exp_rel_1e-4", exp_backward_rel);
    mt_gc_func_op(&fs[0], &rel, &rel.cases[0]);
    out = open_memstream(&buf, &len);
    ck_assert_int_eq(mt_gc_measure(fs, 1, NULL, 2, out), 1);
    fclose(out);
    ASSERT_ERR_HAS(buf, "  2\n");
    free(buf);
}
END_TEST

static Suite *gradcheck_suite(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *tc = tcase_create("broken_ops");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, unregistered_right_op_should_pass_when_called_directly);
    tcase_add_test(tc, sign_flipped_backward_should_fail_as_sign_flipped);
    tcase_add_test(tc, missing_unbroadcast_should_fail_as_missing_broadcast_reduction);
    tcase_add_test(tc, overwriting_backward_should_fail_as_overwrite);
    tcase_add_test(tc, factor_of_two_should_fail_as_constant_factor_2);
    tcase_add_test(tc, forgotten_term_in_x_times_x_should_fail_as_forgotten_term);
    tcase_add_test(tc, overwriting_backward_in_x_times_x_should_lose_a_term_and_say_so);
    tcase_add_test(tc, forgotten_input_gradient_should_fail_as_analytical_zero);
    tcase_add_test(tc, untransposed_backward_should_fail_as_transposed);
    tcase_add_test(tc, backward_ignoring_grad_out_should_fail_the_scaling_checks);
    tcase_add_test(tc, an_op_without_cases_should_fail_not_be_skipped);
    tcase_add_test(tc, an_empty_domain_should_fail_not_be_skipped);
    suite_add_tcase(s, tc);

    tc = tcase_create("kinks");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, a_kink_that_redraws_cannot_escape_should_be_reported_as_kink);
    tcase_add_test(tc, a_kink_should_be_redrawn_away_and_then_pass);
    suite_add_tcase(s, tc);

    tc = tcase_create("registry");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_registered_op_and_module_should_pass);
    tcase_add_test(tc, default_cases_should_hold_every_case_of_every_op);
    tcase_add_test(tc, labels_should_be_integers_in_their_domain_and_not_differentiated);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, run_should_print_rows_details_rerun_and_the_closing_line);
    tcase_add_test(tc, json_should_give_one_object_per_case_per_line);
    tcase_add_test(tc, rerun_command_should_carry_non_default_tolerances);
    tcase_add_test(tc, json_lines_should_parse_and_carry_every_field_with_exact_numbers);
    tcase_add_test(tc, json_should_write_values_that_are_not_finite_as_null);
    tcase_add_test(tc, rerun_command_should_name_the_program_that_was_set);
    tcase_add_test(tc, options_out_of_range_should_be_refused_naming_the_flag_and_the_range);
    suite_add_tcase(s, tc);

    tc = tcase_create("gradcheck_missed_these");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pow_with_abs_of_the_base_should_fail_at_negative_bases);
    tcase_add_test(tc, pow_that_treats_p_1_as_a_constant_should_fail_at_p_1);
    tcase_add_test(tc, relu_cut_off_beside_its_kink_should_fail_near_0);
    tcase_add_test(tc, cross_entropy_one_hot_at_the_wrong_class_should_fail_in_those_rows);
    tcase_add_test(tc, unbroadcast_over_the_first_slab_only_should_fail_in_4d);
    tcase_add_test(tc, unbroadcast_without_the_outermost_stride_should_fail_in_4d);
    tcase_add_test(tc, tiny_errors_should_fail_the_defaults_and_pass_pytorchs_tolerances);
    suite_add_tcase(s, tc);

    tc = tcase_create("chain_rule");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, a_wrong_local_grad_should_fail_the_chain_rule_check);
    tcase_add_test(tc, a_wrong_backward_should_fail_the_chain_rule_check_too_and_be_named);
    suite_add_tcase(s, tc);

    tc = tcase_create("seeds_and_tolerances");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, every_registered_op_and_module_should_pass_with_its_margin_at_20_seeds,
                        0, 20);
    tcase_add_test(tc, tolerances_should_be_the_ops_own_unless_the_options_replace_them);
    tcase_add_test(tc, rerun_and_watch_commands_should_carry_what_reproduces_the_case);
    tcase_add_test(tc, a_case_domain_should_replace_the_ops_for_that_case_only);
    tcase_add_test(tc, labels_should_cover_every_class_when_there_are_enough);
    suite_add_tcase(s, tc);

    tc = tcase_create("reports");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, keep_jacobians_should_hold_both_jacobians);
    tcase_add_test(tc, verbose_run_should_print_each_tolerance_and_each_ops_margin);
    tcase_add_test(tc, a_failing_op_case_should_say_how_to_watch_it_in_the_viewer);
    tcase_add_test(tc, measure_should_report_each_case_and_each_op);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(gradcheck_suite()); }
