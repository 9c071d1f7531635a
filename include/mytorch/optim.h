/* optim.h: stochastic gradient descent with momentum, the handout's update:
 *     v = momentum * v - lr * grad;   p = p + v        (v starts at zero)
 * step() and zero_grad() build no graph and allocate nothing. */
#ifndef MYTORCH_OPTIM_H
#define MYTORCH_OPTIM_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_sgd mt_sgd;

/* Keeps pointers to the n parameters (not owned: they must outlive the optimizer) and their
 * velocity buffers, made here in one allocation that mt_sgd_free releases. NULL after an error:
 * a parameter that is NULL, not a leaf or not requiring grad, or lr or momentum < 0. */
mt_sgd *mt_sgd_new(mt_tensor **params, int n, double lr, double momentum);
void    mt_sgd_step(mt_sgd *opt);        /* parameters whose grad is NULL are left alone */
void    mt_sgd_zero_grad(mt_sgd *opt);
void    mt_sgd_set_lr(mt_sgd *opt, double lr);
void    mt_sgd_free(mt_sgd *opt);        /* NULL is fine */

#ifdef __cplusplus
}
#endif

#endif
