/* test_gradcheck.c: the "gradcheck" suite. The checker must pass every registered op and module,
 * and must fail deliberately broken ops (defined here, outside the registry, so they are called
 * directly) with the diagnosis that names their mistake: sign flipped, missing broadcast
 * reduction, overwrite instead of accumulate, off by a factor, forgotten term, transposed. */
#include "../gradcheck/gradcheck.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

/* after a heatmap: cairo and fontconfig keep font caches until exit otherwise */
static void teardown_fonts(void)
{
    mt_gc_heatmap_shutdown();
    mt_shutdown();
}

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
    ck_assert_ptr_nonnull(strstr(s, "rerun: build/bin/mytorch-gradcheck --op 'exp_sign_flipped' "
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
                     "build/bin/mytorch-gradcheck --op 'exp' --case 'mat_3x4' --seed 3 --atol 9.9999999999999995e-08");
}
END_TEST

START_TEST(heatmap_should_write_a_png)
{
    char dir[] = "/tmp/mt-gradcheck-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
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
    char path[512], err[512];
    mt_gc_heatmap_path(dir, &f, path, sizeof path);
    ck_assert_int_eq(mt_gc_heatmap_write(path, &f, &r, err, sizeof err), 0);
    mt_gc_result_free(&r);
    FILE *png = fopen(path, "rb");
    ck_assert_ptr_nonnull(png);
    unsigned char magic[8] = { 0 };
    ck_assert_uint_eq(fread(magic, 1, 8, png), 8);
    fclose(png);
    ck_assert_int_eq(memcmp(magic, "\x89PNG\r\n\x1a\n", 8), 0);
    unlink(path);
    rmdir(dir);
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
    suite_add_tcase(s, tc);

    tc = tcase_create("heatmap");
    tcase_add_checked_fixture(tc, NULL, teardown_fonts);
    tcase_add_test(tc, heatmap_should_write_a_png);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(gradcheck_suite()); }
