/* test_nn.c: the "nn" suite. Each module (Linear, ReLU, BatchNorm1d in training and evaluation
 * mode), log_softmax and the cross-entropy loss against PyTorch's float64 answers from
 * fixtures/nn_fixtures.h: forward values and the gradients of the input and every parameter,
 * with both backward traversals. Then what a module is: state_dict names and order, the
 * training flag, initialisation, ownership; and the errors a user can run into. */
#include <mytorch/mytorch.h>

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NN_FIXTURES_MODULES
#include "fixtures/nn_fixtures.h"
#include "test_util.h"

#define REL_TOL 1e-10
#define ABS_TOL 1e-12

/* ---- helpers ---------------------------------------------------------------------------- */

/* every walk, the DFS in both input orders: all must give PyTorch's gradients */
static const mt_traversal traversals[] = { MT_DFS, MT_TOPO, MT_DFS_LAST_FIRST };

static error_log errors;

/* Checked setup: every test starts with no errors seen, and catches the ones it causes. */
static void setup(void) { capture_errors(&errors); }

/* Asserts t exists, has n elements and the wanted values. */
static void expect_tensor(const char *what, const mt_tensor *t, const double *want, size_t n)
{
    ck_assert_msg(t != NULL, "%s is NULL (last error: %s)", what, errors.last);
    ck_assert_msg(t->numel == n, "%s has %zu elements, want %zu", what, t->numel, n);
    expect_close(what, t->data, want, n, REL_TOL, ABS_TOL);
}

/* The state_dict entry of m called key. */
static mt_tensor *entry(mt_module *m, const char *key)
{
    mt_named_tensor sd[16];
    int n = mt_module_state_dict(m, sd, N_OF(sd));
    for (int i = 0; i < n && i < N_OF(sd); i++)
        if (!strcmp(sd[i].name, key)) return sd[i].tensor;
    ck_abort_msg("no state_dict entry \"%s\"", key);
    return NULL;
}

/* Copies values into m's state_dict entry key (load_state_dict for one tensor). */
static void load(mt_module *m, const char *key, const double *values, size_t n)
{
    mt_tensor *t = entry(m, key);
    ck_assert_uint_eq(t->numel, n);
    memcpy(t->data, values, n * sizeof(double));
}

static mt_tensor *input(mt_shape s, const double *values, bool requires_grad)
{
    return mt_requires_grad(mt_from_data(s, values), requires_grad);
}

#define LOAD(m, key, arr) load((m), (key), (arr), sizeof(arr) / sizeof(double))
#define EXPECT(what, t, arr) expect_tensor((what), (t), (arr), sizeof(arr) / sizeof(double))

/* ---- modules against PyTorch ------------------------------------------------------------- */

START_TEST(linear_should_match_pytorch_forward_and_gradients)
{
    mt_module *lin = mt_linear_new(5, 3, NULL);
    LOAD(lin, "weight", linear_w);
    LOAD(lin, "bias", linear_b);
    mt_tensor *x = input(MT_SHAPE(4, 5), linear_x, true);
    mt_tensor *y = mt_module_forward(lin, x);
    EXPECT("y", y, linear_y);
    ck_assert_int_eq(mt_backward_ex(y, mt_from_data(MT_SHAPE(4, 3), linear_gy), traversals[_i]), 0);
    EXPECT("x.grad", x->grad, linear_gx);
    EXPECT("weight.grad", entry(lin, "weight")->grad, linear_gw);
    EXPECT("bias.grad", entry(lin, "bias")->grad, linear_gb);
    ck_assert_int_eq(errors.count, 0);
    mt_module_free(lin);
}
END_TEST

START_TEST(linear_backward_should_accumulate_over_two_calls)
{
    mt_module *lin = mt_linear_new(5, 3, NULL);
    LOAD(lin, "weight", linear_w);
    LOAD(lin, "bias", linear_b);
    mt_tensor *x = input(MT_SHAPE(4, 5), linear_x, true);
    mt_tensor *gy = mt_from_data(MT_SHAPE(4, 3), linear_gy);
    mt_tensor *y = mt_module_forward(lin, x);
    mt_backward_ex(y, gy, MT_TOPO);
    mt_backward_ex(y, gy, MT_TOPO);
    double twice[15];
    for (int i = 0; i < 15; i++) twice[i] = 2 * linear_gw[i];
    EXPECT("weight.grad after two backward calls", entry(lin, "weight")->grad, twice);
    mt_module_free(lin);
}
END_TEST

START_TEST(relu_should_match_pytorch_forward_and_gradient)
{
    mt_module *relu = mt_relu_new();
    mt_tensor *x = input(MT_SHAPE(3, 4), relu_x, true);
    mt_tensor *y = mt_module_forward(relu, x);
    EXPECT("y", y, relu_y);
    mt_backward_ex(y, mt_from_data(MT_SHAPE(3, 4), relu_gy), traversals[_i]);
    EXPECT("x.grad", x->grad, relu_gx);
    mt_tensor *none[1];
    ck_assert_int_eq(mt_module_parameters(relu, none, 1), 0);
    mt_module_free(relu);
}
END_TEST

static mt_module *bn_with_fixture_affine(void)
{
    mt_module *bn = mt_batchnorm1d_new(5, 1e-5, 0.1);
    LOAD(bn, "weight", bn_gamma);
    LOAD(bn, "bias", bn_beta);
    return bn;
}

START_TEST(batchnorm_should_match_pytorch_in_training_mode)
{
    mt_module *bn = bn_with_fixture_affine();
    mt_tensor *x = input(MT_SHAPE(8, 5), bn_x1, true);
    mt_tensor *y = mt_module_forward(bn, x);
    EXPECT("y", y, bn_train_y);
    mt_backward_ex(y, mt_from_data(MT_SHAPE(8, 5), bn_gy), traversals[_i]);
    EXPECT("x.grad", x->grad, bn_train_gx);
    EXPECT("weight.grad", entry(bn, "weight")->grad, bn_train_ggamma);
    EXPECT("bias.grad", entry(bn, "bias")->grad, bn_train_gbeta);
    EXPECT("running_mean", entry(bn, "running_mean"), bn_running_mean1);
    EXPECT("running_var", entry(bn, "running_var"), bn_running_var1);
    ck_assert_msg(entry(bn, "running_mean")->grad_fn == NULL &&
                  !entry(bn, "running_mean")->requires_grad, "running stats joined the graph");
    mt_module_free(bn);
}
END_TEST

START_TEST(batchnorm_running_stats_should_match_pytorch_after_three_train_steps)
{
    mt_module *bn = bn_with_fixture_affine();
    const double *xs[3] = { bn_x1, bn_x2, bn_x3 };
    for (int s = 0; s < 3; s++)
        ck_assert_ptr_nonnull(mt_module_forward(bn, input(MT_SHAPE(8, 5), xs[s], false)));
    EXPECT("running_mean", entry(bn, "running_mean"), bn_running_mean3);
    EXPECT("running_var", entry(bn, "running_var"), bn_running_var3);
    mt_module_free(bn);
}
END_TEST

START_TEST(batchnorm_should_match_pytorch_in_eval_mode_with_gradients)
{
    mt_module *bn = bn_with_fixture_affine();
    const double *xs[3] = { bn_x1, bn_x2, bn_x3 };
    for (int s = 0; s < 3; s++) mt_module_forward(bn, input(MT_SHAPE(8, 5), xs[s], false));
    mt_module_train(bn, false);
    mt_tensor *x = input(MT_SHAPE(8, 5), bn_eval_x, true);
    mt_tensor *y = mt_module_forward(bn, x);
    EXPECT("y", y, bn_eval_y);
    mt_backward_ex(y, mt_from_data(MT_SHAPE(8, 5), bn_gy), traversals[_i]);
    EXPECT("x.grad", x->grad, bn_eval_gx);
    EXPECT("weight.grad", entry(bn, "weight")->grad, bn_eval_ggamma);
    EXPECT("bias.grad", entry(bn, "bias")->grad, bn_eval_gbeta);
    /* evaluation leaves the running statistics alone */
    EXPECT("running_mean", entry(bn, "running_mean"), bn_running_mean3);
    EXPECT("running_var", entry(bn, "running_var"), bn_running_var3);
    mt_module_free(bn);
}
END_TEST

START_TEST(batchnorm_should_start_as_pytorch_does)
{
    mt_module *bn = mt_batchnorm1d_new(3, 1e-5, 0.1);
    const double ones[3] = { 1, 1, 1 }, zeros[3] = { 0, 0, 0 };
    EXPECT("weight", entry(bn, "weight"), ones);
    EXPECT("bias", entry(bn, "bias"), zeros);
    EXPECT("running_mean", entry(bn, "running_mean"), zeros);
    EXPECT("running_var", entry(bn, "running_var"), ones);
    mt_module_free(bn);
}
END_TEST

START_TEST(log_softmax_should_match_pytorch_including_logits_of_1000)
{
    mt_tensor *x = input(MT_SHAPE(4, 7), logsoftmax_x, true);
    mt_tensor *y = mt_log_softmax(x, 1);
    EXPECT("y", y, logsoftmax_y);
    mt_backward_ex(y, mt_from_data(MT_SHAPE(4, 7), logsoftmax_gy), traversals[_i]);
    EXPECT("x.grad", x->grad, logsoftmax_gx);
    ck_assert_str_eq(y->grad_fn->op->backward_name, "LogSoftmaxBackward0");
}
END_TEST

/* One cross-entropy fixture: the loss and the logits' gradient with the traversal `how`. */
static void check_cross_entropy(mt_shape s, const double *logits, const double *labels,
                                double want_loss, const double *want_grad, mt_traversal how)
{
    mt_tensor *x = input(s, logits, true);
    mt_tensor *y = mt_from_data(MT_SHAPE(s.dim[0]), labels);
    mt_tensor *loss = mt_cross_entropy(x, y);
    ck_assert_msg(loss != NULL, "loss is NULL: %s", errors.last);
    ck_assert_int_eq(loss->shape.ndim, 0);
    expect_close("loss", loss->data, &want_loss, 1, REL_TOL, ABS_TOL);
    ck_assert_msg(isfinite(loss->data[0]), "loss is not finite");
    mt_backward_ex(loss, NULL, how);
    expect_close("logits.grad", x->grad->data, want_grad, x->numel, REL_TOL, ABS_TOL);
    ck_assert_ptr_null(y->grad);
    ck_assert_int_eq(errors.count, 0);
}

START_TEST(cross_entropy_should_match_pytorch_for_ordinary_logits)
{
    check_cross_entropy(MT_SHAPE(6, 10), ce_logits, ce_labels, ce_loss, ce_grad, traversals[_i]);
}
END_TEST

START_TEST(cross_entropy_should_stay_finite_and_match_pytorch_for_logits_of_1000)
{
    check_cross_entropy(MT_SHAPE(6, 10), ce_extreme_logits, ce_extreme_labels, ce_extreme_loss,
                        ce_extreme_grad, traversals[_i]);
}
END_TEST

START_TEST(cross_entropy_should_be_zero_for_a_single_class)
{
    check_cross_entropy(MT_SHAPE(5, 1), ce_one_logits, ce_one_labels, ce_one_loss, ce_one_grad,
                        traversals[_i]);
}
END_TEST

/* ---- errors ------------------------------------------------------------------------------ */

/* Runs the loss on a (3, 4) batch with the given labels: it must fail with one message. */
static void expect_label_error(const double labels[3], const char *needle)
{
    const double logits[12] = { 0 };
    mt_tensor *x = input(MT_SHAPE(3, 4), logits, true);
    mt_tensor *loss = mt_cross_entropy(x, mt_from_data(MT_SHAPE(3), labels));
    ck_assert_ptr_null(loss);
    ck_assert_int_eq(errors.count, 1);
    ck_assert_msg(strstr(errors.last, "cross_entropy") && strstr(errors.last, needle),
                  "message \"%s\" lacks \"%s\"", errors.last, needle);
    errors.count = 0;
}

START_TEST(cross_entropy_should_name_the_index_and_value_of_a_bad_label)
{
    expect_label_error((const double[]){ 0, 3, 4 }, "labels[2] = 4");
    expect_label_error((const double[]){ -1, 0, 0 }, "labels[0] = -1");
    expect_label_error((const double[]){ 0, 2.5, 1 }, "labels[1] = 2.5");
    expect_label_error((const double[]){ 0, 1, NAN }, "labels[2] = nan");
    const double logits[12] = { 0 };
    ck_assert_ptr_nonnull(mt_cross_entropy(input(MT_SHAPE(3, 4), logits, true),
                                           mt_from_data(MT_SHAPE(3),
                                                        (const double[]){ 0, 3, 1 })));
    ck_assert_int_eq(errors.count, 0);
}
END_TEST

START_TEST(cross_entropy_should_report_mismatched_shapes)
{
    const double logits[12] = { 0 }, labels[4] = { 0 };
    mt_tensor *loss = mt_cross_entropy(mt_from_data(MT_SHAPE(3, 4), logits),
                                            mt_from_data(MT_SHAPE(4), labels));
    ck_assert_ptr_null(loss);
    ck_assert_int_eq(errors.count, 1);
    ck_assert_msg(strstr(errors.last, "(3, 4)") && strstr(errors.last, "(4,)"), "%s", errors.last);
}
END_TEST

START_TEST(log_softmax_should_refuse_an_axis_other_than_the_last_of_a_matrix)
{
    mt_tensor *x = mt_from_data(MT_SHAPE(4, 7), logsoftmax_x);
    ck_assert_ptr_null(mt_log_softmax(x, 0));
    ck_assert_int_eq(errors.count, 1);
    ck_assert_msg(strstr(errors.last, "log_softmax") && strstr(errors.last, "axis 0") &&
                  strstr(errors.last, "(4, 7)"), "%s", errors.last);
    ck_assert_ptr_null(mt_log_softmax(mt_zeros(MT_SHAPE(7)), 0));
    ck_assert_int_eq(errors.count, 2);
    ck_assert_msg(strstr(errors.last, "(7,)"), "%s", errors.last);
}
END_TEST

START_TEST(linear_should_report_mismatched_shapes_naming_them)
{
    mt_module *lin = mt_linear_new(5, 3, NULL);
    const double x[12] = { 0 };
    ck_assert_ptr_null(mt_module_forward(lin, mt_from_data(MT_SHAPE(3, 4), x)));
    ck_assert_int_eq(errors.count, 1);
    ck_assert_msg(strstr(errors.last, "linear") && strstr(errors.last, "(3, 4)") &&
                  strstr(errors.last, "(3, 5)"), "%s", errors.last);
    mt_module_free(lin);
}
END_TEST

START_TEST(batchnorm_should_refuse_one_row_in_training_but_not_in_eval)
{
    mt_module *bn = mt_batchnorm1d_new(5, 1e-5, 0.1);
    mt_tensor *x = mt_from_data(MT_SHAPE(1, 5), bn_x1);
    ck_assert_ptr_null(mt_module_forward(bn, x));
    ck_assert_int_eq(errors.count, 1);
    ck_assert_msg(strstr(errors.last, "more than 1 value per channel"), "%s", errors.last);
    const double zeros[5] = { 0 };
    EXPECT("running_mean untouched", entry(bn, "running_mean"), zeros);
    mt_module_train(bn, false);
    ck_assert_ptr_nonnull(mt_module_forward(bn, x));
    ck_assert_int_eq(errors.count, 1);
    mt_module_free(bn);
}
END_TEST

START_TEST(batchnorm_should_report_the_wrong_number_of_features)
{
    mt_module *bn = mt_batchnorm1d_new(5, 1e-5, 0.1);
    const double x[12] = { 0 };
    ck_assert_ptr_null(mt_module_forward(bn, mt_from_data(MT_SHAPE(3, 4), x)));
    ck_assert_int_eq(errors.count, 1);
    ck_assert_msg(strstr(errors.last, "BatchNorm1d") && strstr(errors.last, "(N, 5)") &&
                  strstr(errors.last, "(3, 4)"), "%s", errors.last);
    mt_module_free(bn);
}
END_TEST

START_TEST(forward_should_pass_a_null_input_on_without_a_second_message)
{
    mt_module *lin = mt_linear_new(5, 3, NULL);
    ck_assert_ptr_null(mt_module_forward(lin, NULL));
    ck_assert_int_eq(errors.count, 0);
    ck_assert_ptr_null(mt_module_forward(NULL, mt_zeros(MT_SHAPE(2, 5))));
    ck_assert_int_eq(errors.count, 1);
    mt_module_free(lin);
}
END_TEST

/* ---- what a module is -------------------------------------------------------------------- */

static mt_module *handout_mlp(void)
{
    mt_module *layers[4] = { mt_linear_new(784, 20, NULL), mt_batchnorm1d_new(20, 1e-5, 0.1),
                             mt_relu_new(), mt_linear_new(20, 10, NULL) };
    return mt_sequential_new(4, layers);
}

START_TEST(state_dict_should_use_pytorch_names_and_order)
{
    mt_module *mlp = handout_mlp();
    mt_named_tensor sd[MLP_STATE_DICT_LEN];
    ck_assert_int_eq(mt_module_state_dict(mlp, NULL, 0), MLP_STATE_DICT_LEN);
    ck_assert_int_eq(mt_module_state_dict(mlp, sd, MLP_STATE_DICT_LEN), MLP_STATE_DICT_LEN);
    mt_tensor *params[MLP_STATE_DICT_LEN];
    int np = mt_module_parameters(mlp, params, MLP_STATE_DICT_LEN);
    ck_assert_int_eq(np, 6);
    int p = 0;
    for (int i = 0; i < MLP_STATE_DICT_LEN; i++) {
        ck_assert_str_eq(sd[i].name, mlp_state_dict_keys[i]);
        ck_assert_int_eq((int)sd[i].tensor->numel, mlp_state_dict_numel[i]);
        ck_assert_str_eq(sd[i].tensor->label, mlp_state_dict_keys[i]);  /* what the viewer shows */
        bool buffer = strstr(sd[i].name, "running_") != NULL;
        ck_assert_int_eq(sd[i].is_buffer, buffer);
        ck_assert_int_eq(sd[i].tensor->is_parameter, !buffer);
        ck_assert_int_eq(sd[i].tensor->requires_grad, !buffer);
        ck_assert(sd[i].tensor->is_leaf);
        if (!buffer) ck_assert_ptr_eq(params[p++], sd[i].tensor);
    }
    /* a short array gets the first entries and the full count */
    mt_named_tensor two[2];
    ck_assert_int_eq(mt_module_state_dict(mlp, two, 2), MLP_STATE_DICT_LEN);
    ck_assert_str_eq(two[1].name, "0.bias");
    mt_module_free(mlp);
}
END_TEST

START_TEST(train_and_eval_should_propagate_to_every_child)
{
    mt_module *inner_layers[2] = { mt_batchnorm1d_new(4, 1e-5, 0.1), mt_relu_new() };
    mt_module *inner = mt_sequential_new(2, inner_layers);
    mt_module *outer_layers[2] = { mt_linear_new(3, 4, NULL), inner };
    mt_module *outer = mt_sequential_new(2, outer_layers);
    mt_module *all[4] = { outer, outer_layers[0], inner, inner_layers[0] };
    for (int i = 0; i < 4; i++) ck_assert(mt_module_is_training(all[i]));
    mt_module_train(outer, false);
    for (int i = 0; i < 4; i++) ck_assert(!mt_module_is_training(all[i]));
    mt_module_train(outer, true);
    for (int i = 0; i < 4; i++) ck_assert(mt_module_is_training(all[i]));
    /* nested keys, as PyTorch prints them */
    mt_named_tensor sd[8];
    ck_assert_int_eq(mt_module_state_dict(outer, sd, 8), 6);
    ck_assert_str_eq(sd[2].name, "1.0.weight");
    ck_assert_str_eq(sd[5].name, "1.0.running_var");
    mt_module_free(outer);
}
END_TEST

START_TEST(modules_should_report_their_pytorch_type_names)
{
    mt_module *mlp = handout_mlp();
    ck_assert_str_eq(mt_module_type(mlp), "Sequential");
    mt_module *l = mt_linear_new(2, 2, NULL), *b = mt_batchnorm1d_new(2, 1e-5, 0.1),
              *r = mt_relu_new();
    ck_assert_str_eq(mt_module_type(l), "Linear");
    ck_assert_str_eq(mt_module_type(b), "BatchNorm1d");
    ck_assert_str_eq(mt_module_type(r), "ReLU");
    mt_module_free(l);
    mt_module_free(b);
    mt_module_free(r);
    mt_module_free(mlp);
    mt_module_free(NULL);
}
END_TEST

START_TEST(linear_init_should_be_uniform_within_one_over_sqrt_in_and_seeded)
{
    mt_rng r1, r2;
    mt_rng_seed(&r1, 42);
    mt_rng_seed(&r2, 42);
    mt_module *a = mt_linear_new(100, 30, &r1), *b = mt_linear_new(100, 30, &r2);
    const char *keys[2] = { "weight", "bias" };
    for (int k = 0; k < 2; k++) {
        mt_tensor *ta = entry(a, keys[k]), *tb = entry(b, keys[k]);
        double lo = 1, hi = -1;
        for (size_t i = 0; i < ta->numel; i++) {
            ck_assert(fabs(ta->data[i]) <= 0.1);
            ck_assert(ta->data[i] == tb->data[i]);
            if (ta->data[i] < lo) lo = ta->data[i];
            if (ta->data[i] > hi) hi = ta->data[i];
        }
        ck_assert_msg(lo < -0.05 && hi > 0.05, "%s spans only [%g, %g]", keys[k], lo, hi);
    }
    mt_module_free(a);
    mt_module_free(b);
}
END_TEST

START_TEST(parameters_should_live_outside_the_current_arena)
{
    mt_arena *step = mt_arena_new();
    mt_arena *prev = mt_arena_use(step);
    mt_module *lin = mt_linear_new(5, 3, NULL);
    ck_assert_uint_eq(mt_arena_used(step), 0);     /* the module keeps its own arena */
    mt_tensor *y = mt_module_forward(lin, mt_from_data(MT_SHAPE(4, 5), linear_x));
    mt_backward_ex(mt_sum(y), NULL, MT_TOPO);
    mt_arena_use(prev);
    mt_arena_reset(step);                           /* the step's graph is gone ... */
    mt_tensor *w = entry(lin, "weight");            /* ... the weights and grads are not */
    ck_assert_ptr_nonnull(w->grad);
    ck_assert(w->arena != step && w->grad->arena != step);
    mt_arena_free(step);
    mt_module_free(lin);
}
END_TEST

START_TEST(sequential_should_free_its_layers_even_when_one_is_null)
{
    mt_module *layers[3] = { mt_linear_new(2, 2, NULL), NULL, mt_relu_new() };
    ck_assert_ptr_null(mt_sequential_new(3, layers));
    ck_assert_int_eq(errors.count, 1);
    ck_assert_msg(strstr(errors.last, "layer 1"), "%s", errors.last);
    /* valgrind (make memcheck) proves the two layers were freed */
}
END_TEST

START_TEST(nn_ops_should_be_registered_with_gradcheck_cases)
{
    const char *names[4] = { "log_softmax", "cross_entropy", "linear", "batch_norm" };
    for (int i = 0; i < 4; i++) {
        const mt_op *op = mt_op_find(names[i]);
        ck_assert_msg(op != NULL, "%s is not registered", names[i]);
        ck_assert(op->forward && op->backward && op->ncases > 0 && op->cases);
        for (int j = 0; j < op->arity; j++) ck_assert(op->domain[j].hi > op->domain[j].lo);
    }
    ck_assert(mt_op_find("cross_entropy")->domain[1].labels);
}
END_TEST

static Suite *nn_suite(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("pytorch_reference");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, linear_should_match_pytorch_forward_and_gradients, 0,
                        MT_COUNT(traversals));
    tcase_add_test(tc, linear_backward_should_accumulate_over_two_calls);
    tcase_add_loop_test(tc, relu_should_match_pytorch_forward_and_gradient, 0,
                        MT_COUNT(traversals));
    tcase_add_loop_test(tc, batchnorm_should_match_pytorch_in_training_mode, 0,
                        MT_COUNT(traversals));
    tcase_add_test(tc, batchnorm_running_stats_should_match_pytorch_after_three_train_steps);
    tcase_add_loop_test(tc, batchnorm_should_match_pytorch_in_eval_mode_with_gradients, 0,
                        MT_COUNT(traversals));
    tcase_add_test(tc, batchnorm_should_start_as_pytorch_does);
    tcase_add_loop_test(tc, log_softmax_should_match_pytorch_including_logits_of_1000, 0,
                        MT_COUNT(traversals));
    tcase_add_loop_test(tc, cross_entropy_should_match_pytorch_for_ordinary_logits, 0,
                        MT_COUNT(traversals));
    tcase_add_loop_test(tc, cross_entropy_should_stay_finite_and_match_pytorch_for_logits_of_1000,
                        0, MT_COUNT(traversals));
    tcase_add_loop_test(tc, cross_entropy_should_be_zero_for_a_single_class, 0,
                        MT_COUNT(traversals));
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, cross_entropy_should_name_the_index_and_value_of_a_bad_label);
    tcase_add_test(tc, cross_entropy_should_report_mismatched_shapes);
    tcase_add_test(tc, log_softmax_should_refuse_an_axis_other_than_the_last_of_a_matrix);
    tcase_add_test(tc, linear_should_report_mismatched_shapes_naming_them);
    tcase_add_test(tc, batchnorm_should_refuse_one_row_in_training_but_not_in_eval);
    tcase_add_test(tc, batchnorm_should_report_the_wrong_number_of_features);
    tcase_add_test(tc, forward_should_pass_a_null_input_on_without_a_second_message);
    suite_add_tcase(s, tc);

    tc = tcase_create("modules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, state_dict_should_use_pytorch_names_and_order);
    tcase_add_test(tc, train_and_eval_should_propagate_to_every_child);
    tcase_add_test(tc, modules_should_report_their_pytorch_type_names);
    tcase_add_test(tc, linear_init_should_be_uniform_within_one_over_sqrt_in_and_seeded);
    tcase_add_test(tc, parameters_should_live_outside_the_current_arena);
    tcase_add_test(tc, sequential_should_free_its_layers_even_when_one_is_null);
    tcase_add_test(tc, nn_ops_should_be_registered_with_gradcheck_cases);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(nn_suite()); }
