/* ops.h: the differentiable ops, as functions. Each builds a graph node when an input requires
 * grad (and grad mode is on) and returns a new tensor in the current arena, or NULL after
 * reporting an error (see autograd.h). The op itself, forward and backward together, lives in
 * src/ops/<name>.c. Binary element-wise ops broadcast as NumPy does. */
#ifndef MYTORCH_OPS_H
#define MYTORCH_OPS_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* element-wise, broadcasting: a (.., m) op b (.., m) -> the broadcast shape */
mt_tensor *mt_add(mt_tensor *a, mt_tensor *b);
mt_tensor *mt_sub(mt_tensor *a, mt_tensor *b);
mt_tensor *mt_mul(mt_tensor *a, mt_tensor *b);
mt_tensor *mt_div(mt_tensor *a, mt_tensor *b);

/* with a scalar constant, which becomes a 0-D constant input (a NULL parent in the graph) */
mt_tensor *mt_add_scalar(mt_tensor *a, double s);   /* a + s */
mt_tensor *mt_sub_scalar(mt_tensor *a, double s);   /* a - s */
mt_tensor *mt_rsub_scalar(double s, mt_tensor *a);  /* s - a */
mt_tensor *mt_mul_scalar(mt_tensor *a, double s);   /* a * s */
mt_tensor *mt_div_scalar(mt_tensor *a, double s);   /* a / s */
mt_tensor *mt_rdiv_scalar(double s, mt_tensor *a);  /* s / a */

/* element-wise, unary */
mt_tensor *mt_neg(mt_tensor *a);
mt_tensor *mt_pow(mt_tensor *a, double exponent);
mt_tensor *mt_exp(mt_tensor *a);
mt_tensor *mt_log(mt_tensor *a);
mt_tensor *mt_sqrt(mt_tensor *a);
mt_tensor *mt_relu(mt_tensor *a);
mt_tensor *mt_tanh(mt_tensor *a);
mt_tensor *mt_sigmoid(mt_tensor *a);

/* linear algebra and shapes */
/* (n, k) @ (k, m) -> (n, m), OpenBLAS dgemm */
mt_tensor *mt_matmul(mt_tensor *a, mt_tensor *b);
mt_tensor *mt_transpose(mt_tensor *a);                  /* (n, m) -> (m, n) */
mt_tensor *mt_reshape(mt_tensor *a, mt_shape shape);    /* same numel; one dim may be -1 */

/* reductions */
mt_tensor *mt_sum(mt_tensor *a);                        /* all elements -> () */
mt_tensor *mt_sum_axis(mt_tensor *a, int axis, bool keepdim);
mt_tensor *mt_mean(mt_tensor *a);
mt_tensor *mt_mean_axis(mt_tensor *a, int axis, bool keepdim);

/* classification */
mt_tensor *mt_log_softmax(mt_tensor *x, int axis);      /* (N, C), axis 1: LogSumExp-stable */
/* logits (N, C), labels (N,) holding integers in [0, C) -> () mean of -log_softmax[i, label_i] */
mt_tensor *mt_cross_entropy(mt_tensor *logits, mt_tensor *labels);

#ifdef __cplusplus
}
#endif

#endif
