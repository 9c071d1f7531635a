/* sqrt.c: the square root. d(sqrt a)/da = 1 / (2 sqrt a); gradcheck draws a in [0.1, 3]. */
#include "op.h"

#include <math.h>

static mt_tensor *sqrt_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *out = mt_empty(in[0]->shape);
    for (size_t i = 0; i < out->numel; i++) out->data[i] = sqrt(in[0]->data[i]);
    mt_save_for_backward(ctx, out);
    return out;
}

static void sqrt_backward(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    const mt_tensor *out = ctx->saved[0];
    for (size_t i = 0; i < g->numel; i++) gin[0]->data[i] += g->data[i] / (2.0 * out->data[i]);
}

static const mt_case sqrt_cases[] = { MT_UNARY_CASES };

const mt_op mt_op_sqrt = {
    .name = "sqrt", .backward_name = "SqrtBackward0", .arity = 1,
    .forward = sqrt_forward, .backward = sqrt_backward,
    .domain = { { 0.1, 3, 0, false } },
    .cases = sqrt_cases, .ncases = MT_COUNT(sqrt_cases),
};

mt_tensor *mt_sqrt(mt_tensor *a) { return mt_apply(&mt_op_sqrt, (mt_tensor *[]){ a }, NULL); }
