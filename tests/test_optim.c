/* test_optim.c: the "optim" suite. SGD against torch.optim.SGD over five steps on the same
 * gradients, without and with momentum 0.9 (fixtures/nn_fixtures.h, whose script also checks
 * that the handout's form of the update gives torch's numbers); then what step() must not do:
 * touch parameters without a gradient, build graph, allocate. */
#include <mytorch/mytorch.h>

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NN_FIXTURES_SGD
#include "fixtures/nn_fixtures.h"
#include "test_util.h"

#define REL_TOL 1e-12
#define ABS_TOL 1e-14

static error_log errors;

/* Checked setup: every test starts with no errors seen, and catches the ones it causes. */
static void setup(void) { capture_errors(&errors); }

/* Asserts the parameter values got[0..n) after the given step equal torch's. */
static void expect_step(const char *what, int step, const double *got, const double *want, size_t n)
{
    char name[64];
    snprintf(name, sizeof name, "%s after step %d ", what, step);
    expect_close(name, got, want, n, REL_TOL, ABS_TOL);
}

/* A parameter with the fixture's values and a gradient set directly (as backward would). */
static mt_tensor *param_with_grad(mt_shape s, const double *values, const double *grad)
{
    mt_tensor *p = mt_make_parameter(mt_from_data(s, values));
    p->grad = mt_from_data(s, grad);
    return p;
}

/* Five steps; after each, both parameters must equal torch's. */
static void run_five_steps(double momentum, const double *want1, const double *want2)
{
    mt_tensor *p[2] = { param_with_grad(MT_SHAPE(3, 4), sgd_p1, sgd_g1),
                        param_with_grad(MT_SHAPE(5), sgd_p2, sgd_g2) };
    mt_sgd *opt = mt_sgd_new(p, 2, sgd_lr, momentum);
    ck_assert_ptr_nonnull(opt);
    for (int s = 0; s < 5; s++) {
        mt_sgd_step(opt);
        expect_step("p1", s + 1, p[0]->data, want1 + 12 * s, 12);
        expect_step("p2", s + 1, p[1]->data, want2 + 5 * s, 5);
    }
    mt_sgd_free(opt);
}

START_TEST(sgd_without_momentum_should_match_torch_over_five_steps)
{
    run_five_steps(0.0, sgd_plain_p1, sgd_plain_p2);
}
END_TEST

START_TEST(sgd_with_momentum_should_match_torch_over_five_steps)
{
    run_five_steps(0.9, sgd_momentum_p1, sgd_momentum_p2);
}
END_TEST

START_TEST(sgd_step_should_leave_parameters_without_grad_alone)
{
    mt_tensor *a = param_with_grad(MT_SHAPE(3, 4), sgd_p1, sgd_g1);
    mt_tensor *b = mt_make_parameter(mt_from_data(MT_SHAPE(5), sgd_p2));   /* grad NULL */
    mt_tensor *p[2] = { b, a };
    mt_sgd *opt = mt_sgd_new(p, 2, sgd_lr, 0.9);
    for (int s = 0; s < 5; s++) mt_sgd_step(opt);
    ck_assert_mem_eq(b->data, sgd_p2, sizeof sgd_p2);
    expect_step("a", 5, a->data, sgd_momentum_p1 + 12 * 4, 12);   /* its velocity is its own */
    mt_sgd_free(opt);
}
END_TEST

START_TEST(sgd_step_should_build_no_graph_and_allocate_nothing_in_the_arena)
{
    mt_tensor *p[2] = { param_with_grad(MT_SHAPE(3, 4), sgd_p1, sgd_g1),
                        param_with_grad(MT_SHAPE(5), sgd_p2, sgd_g2) };
    mt_sgd *opt = mt_sgd_new(p, 2, sgd_lr, 0.9);
    size_t used = mt_arena_used(mt_arena_current());
    for (int s = 0; s < 5; s++) {
        mt_sgd_step(opt);
        mt_sgd_zero_grad(opt);
    }
    ck_assert_uint_eq(mt_arena_used(mt_arena_current()), used);
    for (int i = 0; i < 2; i++) {
        ck_assert(p[i]->is_leaf && p[i]->is_parameter && p[i]->grad_fn == NULL);
        ck_assert(mt_tensor_check(p[i]));
    }
    mt_sgd_free(opt);
}
END_TEST

START_TEST(sgd_zero_grad_should_zero_every_grad_and_keep_the_buffer)
{
    mt_tensor *p[2] = { param_with_grad(MT_SHAPE(3, 4), sgd_p1, sgd_g1),
                        param_with_grad(MT_SHAPE(5), sgd_p2, sgd_g2) };
    mt_tensor *g0 = p[0]->grad;
    mt_sgd *opt = mt_sgd_new(p, 2, sgd_lr, 0.0);
    mt_sgd_zero_grad(opt);
    ck_assert_ptr_eq(p[0]->grad, g0);
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < p[i]->numel; k++) ck_assert(p[i]->grad->data[k] == 0.0);
    mt_sgd_step(opt);   /* a zero gradient moves nothing */
    ck_assert_mem_eq(p[0]->data, sgd_p1, sizeof sgd_p1);
    mt_sgd_free(opt);
}
END_TEST

START_TEST(sgd_set_lr_should_scale_the_next_step)
{
    mt_tensor *p[1] = { param_with_grad(MT_SHAPE(5), sgd_p2, sgd_g2) };
    mt_sgd *opt = mt_sgd_new(p, 1, 1.0, 0.0);
    mt_sgd_set_lr(opt, sgd_lr);
    mt_sgd_step(opt);
    expect_step("p2", 1, p[0]->data, sgd_plain_p2, 5);
    mt_sgd_free(opt);
}
END_TEST

START_TEST(sgd_should_train_through_backward)
{
    /* p . g summed: backward puts g into p.grad, one step moves p by -lr g */
    mt_tensor *p[1] = { mt_make_parameter(mt_from_data(MT_SHAPE(5), sgd_p2)) };
    mt_sgd *opt = mt_sgd_new(p, 1, sgd_lr, 0.0);
    mt_backward(mt_sum(mt_mul(p[0], mt_from_data(MT_SHAPE(5), sgd_g2))));
    mt_sgd_step(opt);
    expect_step("p2", 1, p[0]->data, sgd_plain_p2, 5);
    mt_sgd_free(opt);
}
END_TEST

START_TEST(sgd_new_should_refuse_what_it_cannot_optimise)
{
    mt_tensor *a = mt_requires_grad(mt_ones(MT_SHAPE(2)), true);
    mt_tensor *nonleaf = mt_mul_scalar(a, 2.0);
    mt_tensor *constant = mt_ones(MT_SHAPE(2));
    mt_tensor *bad[3][1] = { { nonleaf }, { constant }, { NULL } };
    const char *why[3] = { "not a leaf", "does not require grad", "NULL" };
    for (int i = 0; i < 3; i++) {
        errors.count = 0;
        ck_assert_ptr_null(mt_sgd_new(bad[i], 1, 0.1, 0.0));
        ck_assert_int_eq(errors.count, 1);
        ck_assert_msg(strstr(errors.last, "SGD") && strstr(errors.last, why[i]), "%s", errors.last);
    }
    mt_tensor *ok[1] = { a };
    ck_assert_ptr_null(mt_sgd_new(ok, 1, -0.1, 0.0));
    mt_sgd *empty = mt_sgd_new(NULL, 0, 0.1, 0.0);   /* nothing to optimise is fine */
    ck_assert_ptr_nonnull(empty);
    mt_sgd_step(empty);
    mt_sgd_free(empty);
    mt_sgd_free(NULL);
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("sgd");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sgd_without_momentum_should_match_torch_over_five_steps);
    tcase_add_test(tc, sgd_with_momentum_should_match_torch_over_five_steps);
    tcase_add_test(tc, sgd_step_should_leave_parameters_without_grad_alone);
    tcase_add_test(tc, sgd_step_should_build_no_graph_and_allocate_nothing_in_the_arena);
    tcase_add_test(tc, sgd_zero_grad_should_zero_every_grad_and_keep_the_buffer);
    tcase_add_test(tc, sgd_set_lr_should_scale_the_next_step);
    tcase_add_test(tc, sgd_should_train_through_backward);
    tcase_add_test(tc, sgd_new_should_refuse_what_it_cannot_optimise);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(optim_suite()); }
