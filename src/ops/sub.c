/* sub.c: a - b, element-wise with broadcasting.
 * d(a - b)/da = 1 and d(a - b)/db = -1, each summed back to its input's shape. */
#include "op.h"

static double sub2(double x, double y) { return x - y; }

static mt_tensor *sub_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)ctx; (void)args;
    mt_tensor *out = mt_broadcast_output("sub", in[0], in[1]);
    if (out) mt_broadcast_apply(in[0], in[1], out, sub2);
    return out;
}

static void sub_backward(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    (void)ctx;
    if (gin[0]) mt_unbroadcast_acc(gin[0], g);
    if (gin[1]) {
        mt_tensor *neg = mt_empty(g->shape);      /* -g, then summed to b's shape */
        for (size_t i = 0; i < g->numel; i++) neg->data[i] = -g->data[i];
        mt_unbroadcast_acc(gin[1], neg);
    }
}

static const mt_case sub_cases[] = { MT_BINARY_CASES };

const mt_op mt_op_sub = {
    .name = "sub", .backward_name = "SubBackward0", .arity = 2,
    .forward = sub_forward, .backward = sub_backward,
    .domain = { { -2, 2, 0, false }, { -2, 2, 0, false } },
    .cases = sub_cases, .ncases = MT_COUNT(sub_cases),
};

mt_tensor *mt_sub(mt_tensor *a, mt_tensor *b)
{
    return mt_apply(&mt_op_sub, (mt_tensor *[]){ a, b }, NULL);
}

mt_tensor *mt_sub_scalar(mt_tensor *a, double s) { return a ? mt_sub(a, mt_scalar(s)) : NULL; }
mt_tensor *mt_rsub_scalar(double s, mt_tensor *a) { return a ? mt_sub(mt_scalar(s), a) : NULL; }
