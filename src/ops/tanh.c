/* tanh.c: tanh(a), element-wise. d tanh(a)/da = 1 - tanh(a)^2: forward saves its own output,
 * so backward needs no second tanh. */
#include "op.h"

#include <math.h>

static mt_tensor *tanh_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *out = mt_empty(in[0]->shape);
    for (size_t i = 0; i < out->numel; i++) out->data[i] = tanh(in[0]->data[i]);
    mt_save_for_backward(ctx, out);
    return out;
}

static void tanh_backward(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    const mt_tensor *y = ctx->saved[0];           /* y = tanh(a), of a's shape */
    for (size_t i = 0; i < g->numel; i++)
        gin[0]->data[i] += g->data[i] * (1.0 - y->data[i] * y->data[i]);
}

static const mt_case tanh_cases[] = { MT_UNARY_CASES };

const mt_op mt_op_tanh = {
    .name = "tanh", .backward_name = "TanhBackward0", .arity = 1,
    .forward = tanh_forward, .backward = tanh_backward,
    .domain = { { -3, 3, 0, false } },            /* past |a| = 3 the slope is < 0.01 */
    .cases = tanh_cases, .ncases = MT_COUNT(tanh_cases),
};

mt_tensor *mt_tanh(mt_tensor *a) { return mt_apply(&mt_op_tanh, (mt_tensor *[]){ a }, NULL); }
