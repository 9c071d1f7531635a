/* test_gradcheck.c: the "gradcheck" suite. The checker must pass every registered op and module,
 * and must fail deliberately broken ops (defined here, outside the registry, so they are called
 * directly) with the diagnosis that names their mistake: sign flipped, missing broadcast
 * reduction, overwrite instead of accumulate, off by a factor, forgotten term, transposed.
 * The suite links the checker without any drawing library; what only the mytorch-gradcheck
 * command does (its flags, the heatmap PNGs) is checked by running the command. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */
#endif

#include "../gradcheck/gradcheck.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_TMP_DIR "/tmp/mt_test_gradcheck_XXXXXX" /* tmp_setup makes one per test case */
#include "test_util.h"

/* The mytorch-gradcheck command of this build (the Makefile gives its path). */
#ifndef MT_GC_BINARY
#define MT_GC_BINARY MT_SOURCE_DIR "/build/bin/mytorch-gradcheck"
#endif

/* ---- ops, right and broken -------------------------------------------------------------------- */

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

static void exp_backward_ignores_grad_out(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
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

static void square_backward_twice_too_big(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    for (size_t i = 0; i < g->numel; i++) gin[0]->data[i] += 4.0 * ctx->saved[0]->data[i] * g->data[i];
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

static void add_rows_backward_one_slice(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
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

static void transpose_backward_not_transposed(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
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
    { "mat_3x4", { MT_DIMS(3, 4) }, { .scalar = 0 } },
};
static const mt_case binary_cases[] = {
    { "same_3x4", { MT_DIMS(3, 4), MT_DIMS(3, 4) }, { .scalar = 0 } },
};
static const mt_case rows_cases[] = {
    { "bcast_3x4_4", { MT_DIMS(3, 4), MT_DIMS(4) }, { .scalar = 0 } },
};
static const mt_case transpose_cases[] = {
    { "2x3", { MT_DIMS(2, 3) }, { .scalar = 0 } },
};

#define UNARY(nm, fwd, bwd, lo, hi)                                                          \
    { .name = nm, .backward_name = nm "Backward", .arity = 1, .forward = fwd, .backward = bwd, \
      .domain = { { lo, hi, 0, false } }, .cases = unary_cases, .ncases = 1 }

static const mt_op exp_ok      = UNARY("exp", exp_forward, exp_backward, -2, 2);
static const mt_op exp_sign    = UNARY("exp_sign_flipped", exp_forward, exp_backward_sign_flipped, -2, 2);
static const mt_op exp_nan     = UNARY("exp_nan", exp_forward, exp_backward_nan, -2, 2);
static const mt_op exp_noscale = UNARY("exp_ignores_grad_out", exp_forward, exp_backward_ignores_grad_out, -2, 2);
static const mt_op square_x2   = UNARY("square_times_2", square_forward, square_backward_twice_too_big, -2, 2);
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

/* ---- broken ops: the right failure, the right diagnosis ----------------------------------------- */

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

/* ---- kinks ------------------------------------------------------------------------------------- */

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

/* ---- the registry and the modules -------------------------------------------------------------- */

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
    ck_assert_str_eq(mt_gc_rerun_command(&f, &o, buf, sizeof buf),
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
    ck_assert_str_eq(mt_gc_rerun_command(&f, &o, buf, sizeof buf),
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
        { "--eps", nextafter(MT_GC_EPS_MAX, 1), false }, { "--eps", nextafter(MT_GC_EPS_MIN, 0), false },
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

/* ---- the command -------------------------------------------------------------------------------- */

/* Runs the shell command line fmt, ... ("$GC" is the mytorch-gradcheck of this build) and
 * returns its exit status (-1 when it could not be run), with its stdout and stderr together
 * in *out (the caller frees). */
static int run_shell(char **out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int run_shell(char **out, const char *fmt, ...)
{
    ck_assert_msg(access(MT_GC_BINARY, X_OK) == 0, "%s is not there: build it first (make)", MT_GC_BINARY);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    const char *head = "GC='" MT_GC_BINARY "'; { ", *tail = "; } 2>&1";
    size_t outlen, len;
    char *cmd = malloc(strlen(head) + (size_t)n + strlen(tail) + 1);
    strcpy(cmd, head);
    va_start(ap, fmt);
    vsnprintf(cmd + strlen(head), (size_t)n + 1, fmt, ap);
    va_end(ap);
    strcat(cmd, tail);
    FILE *p = popen(cmd, "r"), *text = open_memstream(out, &outlen);
    free(cmd);
    ck_assert(p && text);
    char chunk[4096];
    while ((len = fread(chunk, 1, sizeof chunk, p)) > 0) fwrite(chunk, 1, len, text);
    fclose(text);
    int status = pclose(p);
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(command_should_refuse_a_tolerance_out_of_range_with_status_2)
{
    const char *bad[][2] = {
        { "--eps 0", "--eps: '0' is outside the accepted range [1e-12, 0.1]" },
        { "--eps=0.5", "--eps: '0.5' is outside the accepted range [1e-12, 0.1]" },
        { "--eps 1e-300", "--eps: '1e-300' is outside" },
        { "--eps nan", "--eps: 'nan' is not a finite number (--eps accepts [1e-12, 0.1]" },
        { "--atol -1", "--atol: '-1' is outside the accepted range [0, 1]" },
        { "--atol inf", "--atol: 'inf' is not a finite number" },
        { "--rtol 1e308", "--rtol: '1e308' is outside the accepted range [0, 1]" },
        { "--rtol x", "--rtol: 'x' is not a finite number" },
    };
    char *out;
    for (int k = 0; k < N_OF(bad); k++) {
        int rc = run_shell(&out, "\"$GC\" %s", bad[k][0]);
        ck_assert_msg(rc == 2, "%s: exit status %d\n%s", bad[k][0], rc, out);
        ASSERT_ERR_HAS(out, bad[k][1]);
        free(out);
    }
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --eps 1e-5 --atol 1e-4 --rtol 0.01 --op neg --case vec_5"), 0);
    free(out);
}
END_TEST

START_TEST(command_rerun_hint_should_name_the_program_as_it_was_run)
{
    char *out;
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --op add --case same_3x4 --atol 0 --rtol 0"), 1);
    ASSERT_ERR_HAS(out, "rerun: " MT_GC_BINARY " --op 'add' --case 'same_3x4' --seed 0 --atol 0 --rtol 0\n");
    free(out);
    /* found through PATH, it is named as it was typed */
    ck_assert_int_eq(run_shell(&out, "PATH=\"${GC%%/*}:$PATH\" mytorch-gradcheck --op add "
                               "--case same_3x4 --atol 0 --rtol 0"), 1);
    ASSERT_ERR_HAS(out, "\n    rerun: mytorch-gradcheck --op 'add' --case 'same_3x4' --seed 0");
    free(out);
}
END_TEST

/* Checks the PNG magic of the file at path. */
static void assert_png(const char *path)
{
    FILE *png = fopen(path, "rb");
    ck_assert_msg(png != NULL, "no PNG at its path (%zu characters)", strlen(path));
    unsigned char magic[8] = { 0 };
    ck_assert_uint_eq(fread(magic, 1, 8, png), 8);
    fclose(png);
    ck_assert_int_eq(memcmp(magic, "\x89PNG\r\n\x1a\n", 8), 0);
}

START_TEST(heatmap_should_write_a_png)
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

    /* the PNG itself comes from the command, the one program that draws */
    const mt_op *transpose = mt_op_find("transpose");
    mt_gc_func_op(&f, transpose, &transpose->cases[0]);
    char path[512], *out;
    ck_assert_ptr_nonnull(mt_gc_heatmap_path(g_tmp, &f, path, sizeof path));
    ck_assert_msg(run_shell(&out, "\"$GC\" --op transpose --case '%s' --heatmap '%s'", f.case_name,
                            g_tmp) == 0, "%s", out);
    free(out);
    assert_png(path);
}
END_TEST

START_TEST(heatmap_in_a_very_long_directory_should_be_written_whole_or_refused)
{
    /* g_tmp/aaa.../fff...: over 1,100 characters, each part short enough to exist */
    char dir[2048], far[6144], small[64], *out;
    snprintf(dir, sizeof dir, "%s", g_tmp);
    for (int k = 0; k < 6; k++) {
        size_t len = strlen(dir);
        dir[len] = '/';
        memset(dir + len + 1, 'a' + k, 180);
        dir[len + 181] = '\0';
        ck_assert_int_eq(mkdir(dir, 0700), 0);
    }
    ck_assert_uint_gt(strlen(dir), 1100);
    mt_gc_func f;
    const mt_op *transpose = mt_op_find("transpose");
    mt_gc_func_op(&f, transpose, &transpose->cases[0]);
    char *path = mt_gc_heatmap_path_new(dir, &f);
    ck_assert_ptr_null(mt_gc_heatmap_path(dir, &f, small, sizeof small));   /* never cut short */
    ck_assert_msg(run_shell(&out, "\"$GC\" --op transpose --case '%s' --heatmap '%s'", f.case_name,
                            dir) == 0, "%s", out);
    free(out);
    assert_png(path);
    free(path);

    /* past PATH_MAX the directory cannot be made: a message and a failing status */
    snprintf(far, sizeof far, "%s", dir);
    while (strlen(far) < 4500) strcat(far, "/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    int rc = run_shell(&out, "\"$GC\" --op transpose --case '%s' --heatmap '%s'", f.case_name, far);
    ck_assert_msg(rc == 1, "exit status %d:\n%s", rc, out);
    ASSERT_ERR_HAS(out, "cannot create the heatmap directory");
    free(out);
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

    tc = tcase_create("command");
    tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, command_should_refuse_a_tolerance_out_of_range_with_status_2);
    tcase_add_test(tc, command_rerun_hint_should_name_the_program_as_it_was_run);
    tcase_add_test(tc, heatmap_should_write_a_png);
    tcase_add_test(tc, heatmap_in_a_very_long_directory_should_be_written_whole_or_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(gradcheck_suite()); }
