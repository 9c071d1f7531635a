/* sigmoid.c: sigmoid(a) = 1 / (1 + e^-a), element-wise. d sigmoid(a)/da = s (1 - s) with
 * s = sigmoid(a): forward saves its own output. Forward never takes e^x of a large positive x,
 * so it neither overflows nor loses the small values. */
#include "op.h"

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

static void sigmoid_backward(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    const mt_tensor *s = ctx->saved[0];           /* s = sigmoid(a), of a's shape */
    for (size_t i = 0; i < g->numel; i++)
        gin[0]->data[i] += g->data[i] * s->data[i] * (1.0 - s->data[i]);
}

static const mt_case sigmoid_cases[] = { MT_UNARY_CASES };

const mt_op mt_op_sigmoid = {
    .name = "sigmoid", .backward_name = "SigmoidBackward0", .arity = 1,
    .forward = sigmoid_forward, .backward = sigmoid_backward,
    .domain = { { -4, 4, 0, false } },
    .cases = sigmoid_cases, .ncases = MT_COUNT(sigmoid_cases),
};

mt_tensor *mt_sigmoid(mt_tensor *a)
{
    return mt_apply(&mt_op_sigmoid, (mt_tensor *[]){ a }, NULL);
}
