/* neg.c: -a. d(-a)/da = -1. */
#include "op.h"

static mt_tensor *neg_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)ctx; (void)args;
    mt_tensor *out = mt_empty(in[0]->shape);
    for (size_t i = 0; i < out->numel; i++) out->data[i] = -in[0]->data[i];
    return out;
}

static void neg_backward(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    (void)ctx;
    for (size_t i = 0; i < g->numel; i++) gin[0]->data[i] -= g->data[i];
}

static const mt_case neg_cases[] = { MT_UNARY_CASES };

const mt_op mt_op_neg = {
    .name = "neg", .backward_name = "NegBackward0", .arity = 1,
    .forward = neg_forward, .backward = neg_backward,
    .domain = { { -2, 2, 0, false } },
    .cases = neg_cases, .ncases = MT_COUNT(neg_cases),
};

mt_tensor *mt_neg(mt_tensor *a) { return mt_apply(&mt_op_neg, (mt_tensor *[]){ a }, NULL); }
