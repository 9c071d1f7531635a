/* add.c: a + b, element-wise with broadcasting.
 * d(a + b)/da = 1 and d(a + b)/db = 1: each input receives the output gradient, summed over
 * the dimensions along which it was broadcast. */
#include "op.h"

static double add2(double x, double y) { return x + y; }

static mt_tensor *add_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)ctx; (void)args;
    mt_tensor *out = mt_broadcast_output("add", in[0], in[1]);
    if (out) mt_broadcast_apply(in[0], in[1], out, add2);
    return out;
}

static void add_backward(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    (void)ctx;
    if (gin[0]) mt_unbroadcast_acc(gin[0], g);
    if (gin[1]) mt_unbroadcast_acc(gin[1], g);
}

static const mt_case add_cases[] = { MT_BINARY_CASES };

const mt_op mt_op_add = {
    .name = "add", .backward_name = "AddBackward0", .arity = 2,
    .forward = add_forward, .backward = add_backward,
    .domain = { { -2, 2, 0, false }, { -2, 2, 0, false } },
    .cases = add_cases, .ncases = MT_COUNT(add_cases),
};

mt_tensor *mt_add(mt_tensor *a, mt_tensor *b)
{
    return mt_apply(&mt_op_add, (mt_tensor *[]){ a, b }, NULL);
}

mt_tensor *mt_add_scalar(mt_tensor *a, double s) { return a ? mt_add(a, mt_scalar(s)) : NULL; }
