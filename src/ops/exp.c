/* exp.c: e^a. d(e^a)/da = e^a: forward saves its own output. */
#include "op.h"

#include <math.h>

static mt_tensor *exp_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *out = mt_empty(in[0]->shape);
    for (size_t i = 0; i < out->numel; i++) out->data[i] = exp(in[0]->data[i]);
    mt_save_for_backward(ctx, out);
    return out;
}

static void exp_backward(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    const mt_tensor *out = ctx->saved[0];
    for (size_t i = 0; i < g->numel; i++) gin[0]->data[i] += g->data[i] * out->data[i];
}

static const mt_case exp_cases[] = { MT_UNARY_CASES };

const mt_op mt_op_exp = {
    .name = "exp", .backward_name = "ExpBackward0", .arity = 1,
    .forward = exp_forward, .backward = exp_backward,
    .domain = { { -2, 2, 0, false } },
    .cases = exp_cases, .ncases = MT_COUNT(exp_cases),
};

mt_tensor *mt_exp(mt_tensor *a) { return mt_apply(&mt_op_exp, (mt_tensor *[]){ a }, NULL); }
