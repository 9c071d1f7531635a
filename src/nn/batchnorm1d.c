/* batchnorm1d.c: nn.BatchNorm1d(num_features) on (N, F) inputs.
 * Training: normalise with the batch's mean and biased variance (the fused batch_norm op), then
 * update the running statistics in place, outside the graph, as PyTorch does:
 *     running_mean = momentum * mean + (1 - momentum) * running_mean
 *     running_var  = momentum * var * N/(N-1) + (1 - momentum) * running_var   (unbiased var)
 * Evaluation: (x - running_mean) / sqrt(running_var + eps) * gamma + beta from element-wise ops,
 * so x, gamma and beta still get gradients; the running statistics are constants. */
#include "module_impl.h"

#include <math.h>

enum { GAMMA, BETA, RUNNING_MEAN, RUNNING_VAR };   /* indices into own[], state_dict order */

/* The statistics update: no graph, nothing allocated. x is (N, F) with N >= 2. */
static void update_running_stats(mt_module *m, const mt_tensor *x)
{
    int n = x->shape.dim[0], f = x->shape.dim[1];
    double *rm = m->own[RUNNING_MEAN].tensor->data, *rv = m->own[RUNNING_VAR].tensor->data;
    double mom = m->momentum;
    for (int j = 0; j < f; j++) {
        double mean = 0.0, ss = 0.0;
        for (int i = 0; i < n; i++) mean += x->data[(size_t)i * f + j];
        mean /= n;
        for (int i = 0; i < n; i++) {
            double d = x->data[(size_t)i * f + j] - mean;
            ss += d * d;
        }
        rm[j] = mom * mean + (1.0 - mom) * rm[j];
        rv[j] = mom * (ss / (n - 1)) + (1.0 - mom) * rv[j];
    }
}

static mt_tensor *batchnorm1d_forward(mt_module *m, mt_tensor *x)
{
    mt_tensor *gamma = m->own[GAMMA].tensor, *beta = m->own[BETA].tensor;
    char b[64];
    if (x->shape.ndim != 2 || x->shape.dim[1] != m->num_features) {
        mt_error("BatchNorm1d: expected an input of shape (N, %d), got %s", m->num_features,
                 mt_shape_str(x->shape, b, sizeof b));
        return NULL;
    }
    if (m->training) {
        if (x->shape.dim[0] < 2) {
            mt_error("BatchNorm1d: expected more than 1 value per channel when training, "
                     "got input of shape %s", mt_shape_str(x->shape, b, sizeof b));
            return NULL;
        }
        mt_tensor *y = mt_batch_norm(x, gamma, beta, m->eps);
        if (y) update_running_stats(m, x);
        return y;
    }
    /* eval: 1/sqrt(running_var + eps) is a constant of this step, made in the current arena */
    const mt_tensor *rv = m->own[RUNNING_VAR].tensor;
    mt_tensor *inv_std = mt_empty(rv->shape);          /* (F) */
    if (!inv_std) return NULL;
    for (int j = 0; j < m->num_features; j++) inv_std->data[j] = 1.0 / sqrt(rv->data[j] + m->eps);
    mt_tensor *xhat = mt_mul(mt_sub(x, m->own[RUNNING_MEAN].tensor), inv_std);
    return mt_add(mt_mul(xhat, gamma), beta);
}

static const mt_module_class batchnorm1d_class = { "BatchNorm1d", batchnorm1d_forward };

mt_module *mt_batchnorm1d_new(int num_features, double eps, double momentum)
{
    if (num_features < 1 || !(eps >= 0.0) || !(momentum >= 0.0 && momentum <= 1.0)) {
        mt_error("BatchNorm1d: need num_features >= 1, eps >= 0 and momentum in [0, 1], "
                 "got %d, %g, %g", num_features, eps, momentum);
        return NULL;
    }
    mt_module *m = mt_module_alloc(&batchnorm1d_class, 0);
    if (!m) return NULL;
    m->num_features = num_features;
    m->eps = eps;
    m->momentum = momentum;
    mt_tensor *gamma = mt_module_add_tensor(m, "weight", MT_SHAPE(num_features), false);
    mt_tensor *beta = mt_module_add_tensor(m, "bias", MT_SHAPE(num_features), false);
    mt_tensor *rm = mt_module_add_tensor(m, "running_mean", MT_SHAPE(num_features), true);
    mt_tensor *rv = mt_module_add_tensor(m, "running_var", MT_SHAPE(num_features), true);
    if (!gamma || !beta || !rm || !rv) {
        mt_module_free(m);
        return NULL;
    }
    mt_fill(gamma, 1.0);
    mt_fill(rv, 1.0);
    return m;
}
