/* nn.h: modules (Sequential, Linear, ReLU, BatchNorm1d) and the cross-entropy loss, built on
 * the ops. Parameter names and order follow PyTorch's state_dict() for the same nn.Sequential.
 *
 *     mt_module *layers[4] = { mt_linear_new(784, 20, NULL), mt_batchnorm1d_new(20, 1e-5, 0.1),
 *                              mt_relu_new(), mt_linear_new(20, 10, NULL) };
 *     mt_module *mlp = mt_sequential_new(4, layers);  // state_dict: 0.weight, 0.bias, 1.weight,
 *                                                     // 1.bias, 1.running_mean, 1.running_var,
 *                                                     // 3.weight, 3.bias
 *     mt_tensor *loss = mt_cross_entropy(mt_module_forward(mlp, x), labels);
 *     mt_backward_ex(loss, NULL, MT_TOPO);
 *
 * Ownership: a module owns its parameters and buffers (kept in an arena of its own, where their
 * grads and AccumulateGrad nodes go too) and, for Sequential, its children; mt_module_free
 * releases all of it. Forward's outputs live in the current arena, like every op's, so resetting
 * a per-step arena after the optimizer step leaves the module untouched.
 * Modules start in training mode, as in PyTorch. Parameters are labelled with their state_dict
 * key ("0.weight") for printing and for graph tools. BatchNorm1d's num_batches_tracked is not kept
 * (PyTorch only uses it when momentum is None), so it is not in the state_dict either. */
#ifndef MYTORCH_NN_H
#define MYTORCH_NN_H

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_NAME_MAX 64

/* A parameter or buffer with its state_dict key ("0.weight", "1.running_mean"). */
typedef struct mt_named_tensor {
    char       name[MT_NAME_MAX];
    mt_tensor *tensor;
    bool       is_buffer;     /* running statistics: saved and loaded, never optimised */
} mt_named_tensor;

typedef struct mt_module mt_module;

/* Linear: y = x W^T + b, x (N, in). W (out, in) and b (out,) uniform in [-1/sqrt(in), 1/sqrt(in)]
 * as PyTorch initialises them, W first, drawn from rng (NULL: the default rng). */
mt_module *mt_linear_new(int in_features, int out_features, mt_rng *rng);
mt_module *mt_relu_new(void);
/* BatchNorm1d on x (N, F): weight (gamma) 1, bias (beta) 0, running_mean 0, running_var 1.
 * Training: normalises with the batch mean and biased variance (N >= 2) and updates, outside the
 * graph, running = momentum * batch + (1 - momentum) * running, with the unbiased variance.
 * Evaluation: uses the running statistics; x, weight and bias still get gradients.
 * PyTorch's defaults are eps 1e-5 and momentum 0.1. */
mt_module *mt_batchnorm1d_new(int num_features, double eps, double momentum);
/* Takes ownership of the n layers (also on failure). */
mt_module *mt_sequential_new(int n, mt_module **layers);

/* NULL after an error; NULL x (an earlier op failed) gives NULL without a second report. */
mt_tensor  *mt_module_forward(mt_module *m, mt_tensor *x);
void        mt_module_train(mt_module *m, bool training);   /* also sets every child */
bool        mt_module_is_training(const mt_module *m);
const char *mt_module_type(const mt_module *m);             /* "Linear", "Sequential", ... */
/* Parameters (requires_grad, to optimise) in state_dict order; returns how many there are,
 * writing at most max of them (out may be NULL when max is 0). The tensors stay the module's. */
int mt_module_parameters(mt_module *m, mt_tensor **out, int max);
/* Parameters and buffers with their keys, in state_dict order; same counting. Loading a
 * state_dict is copying values into these tensors' data. */
int mt_module_state_dict(mt_module *m, mt_named_tensor *out, int max);
void mt_module_free(mt_module *m);                          /* NULL is fine */

/* CrossEntropyLoss is the op mt_cross_entropy (ops.h): the mean over the batch of
 * -log_softmax(logits)[i, labels[i]], fused, so it stays finite for logits of any size. */

/* ---- the functional ops behind the modules (src/ops/linear.c, src/ops/batch_norm.c), named as
 * PyTorch's torch.nn.functional names them: mt_linear is F.linear, mt_linear_new nn.Linear. */
/* F.linear: x (N, in), w (out, in), b (out,) -> x w^T + b (N, out), one dgemm each way. */
mt_tensor *mt_linear(mt_tensor *x, mt_tensor *w, mt_tensor *b);
/* Training-mode F.batch_norm without running statistics: x (N, F) normalised with its batch
 * mean and biased variance, then gamma (F,) * xhat + beta (F,). */
mt_tensor *mt_batch_norm(mt_tensor *x, mt_tensor *gamma, mt_tensor *beta, double eps);

#ifdef __cplusplus
}
#endif

#endif
