/* sigmoid.c: sigmoid(a) = 1 / (1 + e^-a), element-wise. d sigmoid(a)/da = s (1 - s) with
 * s = sigmoid(a): forward saves its own output. Forward never takes e^x of a large positive x,
 * so it neither overflows nor loses the small values. */
#include "op_impl.h"

#include <math.h>

static double sigmoid1(double a)
{
    if (a >= 0) return 1.0 / (1.0 + exp(-a));
    double e = exp(a);                            /* a < 0: e^a is in (0, 1) */
    return e / (1.0 + e);
}

static mt_tensor *sigmoid_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *out = mt_empty(in[0]->shape);
    for (size_t i = 0; i < out->numel; i++) out->data[i] = sigmoid1(in[0]->data[i]);
    mt_save_for_backward(ctx, out);
    return out;
}

static void sigmoid_backward(const mt_ctx *ctx, const mt_tensor *grad_out,
                             mt_tensor *const *grad_in)
{
    const mt_tensor *s = ctx->saved[0];           /* s = sigmoid(a), of a's shape */
    for (size_t i = 0; i < grad_out->numel; i++)
        grad_in[0]->data[i] += grad_out->data[i] * s->data[i] * (1.0 - s->data[i]);
}

/* d out / d input at one element (op.h): what backward multiplies grad_out by */
static double sigmoid_local_grad(const mt_op_args *args, int input, const double *x, double y)
{
    (void)args; (void)input; (void)x;
    return y * (1.0 - y);
}

static const mt_case sigmoid_cases[] = { MT_UNARY_CASES };

const mt_op mt_op_sigmoid = {
    .name = "sigmoid", .backward_name = "SigmoidBackward0", .arity = 1,
    .symbol = "σ", .local_text = { "y (1 − y)" },
    .local_grad = sigmoid_local_grad,
    .forward = sigmoid_forward, .backward = sigmoid_backward,
    .domain = { { .lo = -4, .hi = 4 } },
    .tol = { .atol = 2e-8, .rtol = 1e-6 },  /* error measured 1.9e-10: margin 105x */
    .cases = sigmoid_cases, .ncases = MT_COUNT(sigmoid_cases),
};

mt_tensor *mt_sigmoid(mt_tensor *a)
{
    return mt_apply(&mt_op_sigmoid, (mt_tensor *[]){ a }, NULL);
}
