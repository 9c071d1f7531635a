/* test_mlp.c: the "mlp" suite: the handout's network, Linear(784, 20) -> BatchNorm1d(20) ->
 * ReLU -> Linear(20, 10) with cross-entropy, trained as a whole against PyTorch on a fixed
 * batch of 100 rows with fixed weights (fixtures/nn_fixtures.h): one step's loss and every
 * gradient, then the losses of ten SGD steps. Last, a thousand steps in the per-step arena
 * must leave memory exactly where it was. */
#include <mytorch/mytorch.h>

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NN_FIXTURES_MLP
#include "fixtures/nn_fixtures.h"
#include "test_util.h"

#define BATCH 100
#define ABS_TOL 1e-300 /* the tolerances here are relative: where want is 0, got must be too */

/* ---- helpers ---------------------------------------------------------------------------- */

/* The fixture's initial state_dict, by key. */
static const struct { const char *key; const double *values; size_t n; } init_weights[] = {
#define W(key, arr) { key, arr, sizeof(arr) / sizeof(double) }
    W("0.weight", mlp_init_0_weight),         W("0.bias", mlp_init_0_bias),
    W("1.weight", mlp_init_1_weight),         W("1.bias", mlp_init_1_bias),
    W("1.running_mean", mlp_init_1_running_mean), W("1.running_var", mlp_init_1_running_var),
    W("3.weight", mlp_init_3_weight),         W("3.bias", mlp_init_3_bias),
#undef W
};

static const struct { const char *key; const double *values; size_t n; } want_grads[] = {
#define G(key, arr) { key, arr, sizeof(arr) / sizeof(double) }
    G("0.weight", mlp_grad_0_weight), G("0.bias", mlp_grad_0_bias),
    G("1.weight", mlp_grad_1_weight), G("1.bias", mlp_grad_1_bias),
    G("3.weight", mlp_grad_3_weight), G("3.bias", mlp_grad_3_bias),
#undef G
};

/* The handout's MLP with the fixture's weights loaded through its state_dict. */
static mt_module *fixture_mlp(void)
{
    mt_module *layers[4] = { mt_linear_new(784, 20, NULL), mt_batchnorm1d_new(20, 1e-5, 0.1),
                             mt_relu_new(), mt_linear_new(20, 10, NULL) };
    mt_module *mlp = mt_sequential_new(4, layers);
    ck_assert_ptr_nonnull(mlp);
    mt_named_tensor sd[8];
    ck_assert_int_eq(mt_module_state_dict(mlp, sd, 8), N_OF(init_weights));
    for (int i = 0; i < N_OF(init_weights); i++) {
        ck_assert_str_eq(sd[i].name, init_weights[i].key);
        ck_assert_uint_eq(sd[i].tensor->numel, init_weights[i].n);
        memcpy(sd[i].tensor->data, init_weights[i].values, init_weights[i].n * sizeof(double));
    }
    return mlp;
}

/* The batch, in the current arena: x (100, 784) = code / 256, labels (100,). */
static void fixture_batch(mt_tensor **x, mt_tensor **labels)
{
    *x = mt_empty(MT_SHAPE(BATCH, 784));
    for (size_t i = 0; i < (*x)->numel; i++) (*x)->data[i] = mlp_x_codes[i] / 256.0;
    *labels = mt_from_data(MT_SHAPE(BATCH), mlp_labels);
}

/* forward, loss, backward: returns the loss */
static double forward_backward(mt_module *mlp, mt_tensor *x, mt_tensor *labels, mt_traversal how)
{
    mt_tensor *loss = mt_cross_entropy(mt_module_forward(mlp, x), labels);
    ck_assert_msg(loss != NULL, "forward failed: %s", mt_last_error());
    ck_assert_int_eq(mt_backward_ex(loss, NULL, how), 0);
    return mt_item(loss);
}

static size_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- tests ------------------------------------------------------------------------------- */

START_TEST(mlp_step_should_match_pytorch_loss_and_every_gradient)
{
    static const mt_traversal walks[] = { MT_DFS, MT_TOPO, MT_DFS_LAST_FIRST };
    const mt_traversal how = walks[_i];
    mt_module *mlp = fixture_mlp();
    mt_tensor *x, *labels;
    fixture_batch(&x, &labels);
    double loss = forward_backward(mlp, x, labels, how);
    ck_assert_msg(is_close(loss, mlp_loss0, 1e-10, ABS_TOL), "loss %.17g, want %.17g", loss,
                  mlp_loss0);
    mt_named_tensor sd[8];
    mt_module_state_dict(mlp, sd, 8);
    int g = 0;
    for (int i = 0; i < 8; i++) {
        if (sd[i].is_buffer) continue;
        ck_assert_str_eq(sd[i].name, want_grads[g].key);
        ck_assert_ptr_nonnull(sd[i].tensor->grad);
        const double *got = sd[i].tensor->grad->data, *want = want_grads[g].values;
        if (!strcmp(sd[i].name, "0.bias")) {
            /* BatchNorm subtracts the batch mean, so a bias before it has no effect: its
             * gradient is 0 exactly, and both libraries give rounding noise around it */
            for (size_t k = 0; k < want_grads[g].n; k++)
                ck_assert_msg(fabs(got[k]) < 1e-14 && fabs(want[k]) < 1e-14,
                              "0.bias.grad[%zu]: got %g, want %g (both ~0)", k, got[k], want[k]);
        } else {
            expect_close(sd[i].name, got, want, want_grads[g].n, 1e-10, ABS_TOL);
        }
        g++;
    }
    ck_assert_int_eq(g, N_OF(want_grads));
    mt_module_free(mlp);
}
END_TEST

START_TEST(mlp_ten_sgd_steps_should_match_pytorch_losses)
{
    mt_module *mlp = fixture_mlp();
    mt_tensor *params[6];
    ck_assert_int_eq(mt_module_parameters(mlp, params, 6), 6);
    mt_sgd *opt = mt_sgd_new(params, 6, mlp_lr, mlp_momentum);
    mt_tensor *x, *labels;
    fixture_batch(&x, &labels);
    mt_arena *step = mt_arena_new();
    for (int s = 0; s < 10; s++) {
        mt_arena *prev = mt_arena_use(step);
        mt_sgd_zero_grad(opt);
        double loss = forward_backward(mlp, x, labels, MT_TOPO);
        mt_sgd_step(opt);
        mt_arena_use(prev);
        mt_arena_reset(step);
        ck_assert_msg(is_close(loss, mlp_losses[s], 1e-9, ABS_TOL),
                      "step %d: loss %.17g, want %.17g", s, loss, mlp_losses[s]);
    }
    mt_named_tensor sd[8];
    mt_module_state_dict(mlp, sd, 8);
    expect_close("1.running_mean", sd[4].tensor->data, mlp_final_running_mean, 20, 1e-9, ABS_TOL);
    expect_close("1.running_var", sd[5].tensor->data, mlp_final_running_var, 20, 1e-9, ABS_TOL);
    expect_close("0.weight[0]", sd[0].tensor->data, mlp_final_0_weight_row0, 784, 1e-9, ABS_TOL);
    mt_arena_free(step);
    mt_sgd_free(opt);
    mt_module_free(mlp);
}
END_TEST

START_TEST(mlp_training_should_keep_memory_flat_over_1000_steps)
{
    mt_module *mlp = fixture_mlp();
    mt_tensor *params[6];
    mt_module_parameters(mlp, params, 6);
    mt_sgd *opt = mt_sgd_new(params, 6, 0.01, 0.9);
    mt_tensor *x, *labels;
    fixture_batch(&x, &labels);
    mt_arena *step = mt_arena_new();
    size_t rss100 = 0, reserved100 = 0, used100 = 0;
    for (int s = 1; s <= 1000; s++) {
        mt_arena *prev = mt_arena_use(step);
        mt_sgd_zero_grad(opt);
        forward_backward(mlp, x, labels, MT_TOPO);
        mt_sgd_step(opt);
        mt_arena_use(prev);
        size_t used = mt_arena_used(step);
        mt_arena_reset(step);
        if (s == 100) {
            rss100 = resident_bytes();
            reserved100 = mt_arena_reserved(step);
            used100 = used;
        } else if (s > 100) {
            ck_assert_msg(used == used100, "step %d used %zu bytes, step 100 %zu", s, used,
                          used100);
            ck_assert_msg(mt_arena_reserved(step) == reserved100,
                          "step %d: arena grew from %zu to %zu", s, reserved100,
                          mt_arena_reserved(step));
        }
    }
    size_t rss1000 = resident_bytes();
#ifndef __SANITIZE_ADDRESS__   /* AddressSanitizer's quarantine keeps freed blocks resident */
    ck_assert_msg(rss1000 <= rss100 + 256 * 1024,
                  "resident memory grew from %zu KB after step 100 to %zu KB after step 1000",
                  rss100 / 1024, rss1000 / 1024);
#else
    (void)rss100;
    (void)rss1000;
#endif
    mt_arena_free(step);
    mt_sgd_free(opt);
    mt_module_free(mlp);
}
END_TEST

static Suite *mlp_suite(void)
{
    Suite *s = suite_create("mlp");
    TCase *tc = tcase_create("training");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 600);   /* a thousand steps under valgrind */
    tcase_add_loop_test(tc, mlp_step_should_match_pytorch_loss_and_every_gradient, 0, 3);
    tcase_add_test(tc, mlp_ten_sgd_steps_should_match_pytorch_losses);
    tcase_add_test(tc, mlp_training_should_keep_memory_flat_over_1000_steps);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(mlp_suite()); }
