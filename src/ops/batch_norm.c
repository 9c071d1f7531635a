/* batch_norm.c: training-mode batch normalisation of x (N, F) with the batch's own statistics,
 *     xhat = (x - mean) / sqrt(var + eps),   y = gamma * xhat + beta
 * (mean and biased variance over the N rows, per feature; eps in args.scalar), as one op with
 * one fused backward, which per feature f, with sums over the rows n, is
 *     dbeta  += sum dy          dgamma += sum dy * xhat
 *     dx     += gamma / (N sqrt(var + eps)) * (N dy - sum dy - xhat * sum dy * xhat)
 * The running statistics are the module's business (src/nn/batchnorm1d.c), not the op's. */
#include "op_impl.h"

#include <math.h>
#include <string.h>

static mt_tensor *batch_norm_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    const mt_tensor *x = in[0], *gamma = in[1], *beta = in[2];
    double eps = args->scalar;
    if (x->shape.ndim != 2 || x->shape.dim[0] < 1 || gamma->shape.ndim != 1 ||
        beta->shape.ndim != 1 || gamma->shape.dim[0] != x->shape.dim[1] ||
        beta->shape.dim[0] != x->shape.dim[1]) {
        char bx[64], bg[64], bb[64];
        mt_error("batch_norm: x %s, gamma %s and beta %s do not fit "
                 "(need (N, F) with N >= 1, (F,), (F,))",
                 mt_shape_str(x->shape, bx, sizeof bx), mt_shape_str(gamma->shape, bg, sizeof bg),
                 mt_shape_str(beta->shape, bb, sizeof bb));
        return NULL;
    }
    if (!(eps >= 0.0)) {
        mt_error("batch_norm: eps must be >= 0, got %g", eps);
        return NULL;
    }
    int n = x->shape.dim[0], f = x->shape.dim[1];
    mt_tensor *y = mt_empty(x->shape);                 /* (N, F) */
    mt_tensor *xhat = mt_empty(x->shape);              /* (N, F), for backward */
    mt_tensor *inv_std = mt_zeros(MT_SHAPE(f));        /* (F), for backward */
    double *mean = mt_arena_alloc(mt_arena_current(), (size_t)f * sizeof(double)); /* (F) */
    if (!y || !xhat || !inv_std) return NULL;

    /* two passes, row by row so the reads stay contiguous: the mean, then the variance */
    memset(mean, 0, (size_t)f * sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < f; j++) mean[j] += x->data[(size_t)i * f + j];
    for (int j = 0; j < f; j++) mean[j] /= n;
    double *var = inv_std->data;                       /* first the sum of squares */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < f; j++) {
            double d = x->data[(size_t)i * f + j] - mean[j];
            var[j] += d * d;
        }
    for (int j = 0; j < f; j++) inv_std->data[j] = 1.0 / sqrt(var[j] / n + eps);

    for (int i = 0; i < n; i++)
        for (int j = 0; j < f; j++) {
            size_t k = (size_t)i * f + j;
            xhat->data[k] = (x->data[k] - mean[j]) * inv_std->data[j];
            y->data[k] = gamma->data[j] * xhat->data[k] + beta->data[j];
        }
    mt_save_for_backward(ctx, xhat);
    mt_save_for_backward(ctx, inv_std);
    mt_save_for_backward(ctx, gamma);
    return y;
}

static void batch_norm_backward(const mt_ctx *ctx, const mt_tensor *grad_out,
                                mt_tensor *const *grad_in)
{
    const mt_tensor *xhat = ctx->saved[0], *inv_std = ctx->saved[1], *gamma = ctx->saved[2];
    int n = xhat->shape.dim[0], f = xhat->shape.dim[1];
    const double *g = grad_out->data;                  /* (N, F) */
    /* per feature: sum dy and sum dy * xhat */
    double *sg = mt_arena_alloc(mt_arena_current(), 2 * (size_t)f * sizeof(double));
    double *sgx = sg + f;
    memset(sg, 0, 2 * (size_t)f * sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < f; j++) {
            size_t k = (size_t)i * f + j;
            sg[j] += g[k];
            sgx[j] += g[k] * xhat->data[k];
        }
    if (grad_in[0]) {
        double *dx = grad_in[0]->data;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < f; j++) {
                size_t k = (size_t)i * f + j;
                double scale = gamma->data[j] * inv_std->data[j] / n;
                dx[k] += scale * (n * g[k] - sg[j] - xhat->data[k] * sgx[j]);
            }
    }
    if (grad_in[1])
        for (int j = 0; j < f; j++) grad_in[1]->data[j] += sgx[j];
    if (grad_in[2])
        for (int j = 0; j < f; j++) grad_in[2]->data[j] += sg[j];
}

static const mt_case batch_norm_cases[] = {
    { "6x3",             { MT_DIMS(6, 3), MT_DIMS(3), MT_DIMS(3) }, { .scalar = 1e-5 }, NULL },
    { "3x4_eps0.1",      { MT_DIMS(3, 4), MT_DIMS(4), MT_DIMS(4) }, { .scalar = 0.1 }, NULL },
    { "5x1_one_feature", { MT_DIMS(5, 1), MT_DIMS(1), MT_DIMS(1) }, { .scalar = 1e-5 }, NULL },
};

const mt_op mt_op_batch_norm = {
    .name = "batch_norm", .backward_name = "NativeBatchNormBackward0", .arity = 3,
    .symbol = "BN", .local_text = { "(γ/σ) (g − mean g − x̂ · mean(g x̂))", "Σ g x̂", "Σ g" },
    .forward = batch_norm_forward, .backward = batch_norm_backward,
    .domain = { { .lo = -2, .hi = 2 }, { .lo = 0.5, .hi = 2 }, { .lo = -1, .hi = 1 } },
    .tol = { .atol = 5e-7, .rtol = 1e-6 },  /* error measured 2.3e-09: margin 217x */
    .cases = batch_norm_cases, .ncases = MT_COUNT(batch_norm_cases),
};

mt_tensor *mt_batch_norm(mt_tensor *x, mt_tensor *gamma, mt_tensor *beta, double eps)
{
    mt_tensor *in[3] = { x, gamma, beta };
    mt_op_args args = { .scalar = eps };
    return mt_apply(&mt_op_batch_norm, in, &args);
}
