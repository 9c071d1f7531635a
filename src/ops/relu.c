/* relu.c: max(a, 0). The gradient is 1 where a > 0 and 0 elsewhere (PyTorch's choice at the
 * kink, a = 0). gradcheck keeps |a| >= min_abs, far above its step h = 1e-6, so a difference
 * never crosses the kink, and one case draws every input beside it, in [-0.1, 0.1], where a
 * cut-off in the wrong place shows.
 * As PyTorch's relu (clamp_min), a NaN stays NaN and -0 stays -0: a NaN that appears in training
 * must not be hidden by a layer that maps it to 0. */
#include "op_impl.h"

static mt_tensor *relu_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *out = mt_empty(in[0]->shape);
    for (size_t i = 0; i < out->numel; i++)
        out->data[i] = in[0]->data[i] < 0 ? 0.0 : in[0]->data[i];
    mt_save_for_backward(ctx, out);                /* out > 0 exactly where a > 0 */
    return out;
}

/* PyTorch's threshold_backward(grad, result, 0): the gradient passes unless result <= 0, so it
 * passes through a NaN too. */
static void relu_backward(const mt_ctx *ctx, const mt_tensor *grad_out, mt_tensor *const *grad_in)
{
    const mt_tensor *out = ctx->saved[0];
    for (size_t i = 0; i < grad_out->numel; i++)
        if (!(out->data[i] <= 0)) grad_in[0]->data[i] += grad_out->data[i];
}

/* d out / d input at one element (op.h): what backward multiplies grad_out by */
static double relu_local_grad(const mt_op_args *args, int input, const double *x, double y)
{
    (void)args; (void)input; (void)x;
    return !(y <= 0) ? 1.0 : 0.0;
}

static const mt_case relu_cases[] = {
    MT_UNARY_CASES,
    { "near_0_6x5", { MT_DIMS(6, 5) }, { .scalar = 0 },
      MT_DOMAINS({ .lo = -0.1, .hi = 0.1, .min_abs = 1e-4 }) },
};

const mt_op mt_op_relu = {
    .name = "relu", .backward_name = "ReluBackward0", .arity = 1,
    .symbol = "relu", .local_text = { "1 where a > 0, else 0" },
    .local_grad = relu_local_grad,
    .forward = relu_forward, .backward = relu_backward,
    .domain = { { .lo = -2, .hi = 2, .min_abs = 1e-3 } },
    .tol = { .atol = 1e-8, .rtol = 1e-6 },  /* error measured 1.1e-16: the floor */
    .cases = relu_cases, .ncases = MT_COUNT(relu_cases),
};

mt_tensor *mt_relu(mt_tensor *a) { return mt_apply(&mt_op_relu, (mt_tensor *[]){ a }, NULL); }
