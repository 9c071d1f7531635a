/* mul.c: a * b, element-wise with broadcasting.
 * d(a * b)/da = b and d(a * b)/db = a: forward saves both inputs for backward. */
#include "op.h"

static double mul2(double x, double y) { return x * y; }

static mt_tensor *mul_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *out = mt_broadcast_output("mul", in[0], in[1]);
    if (!out) return NULL;
    mt_broadcast_apply(in[0], in[1], out, mul2);
    mt_save_for_backward(ctx, in[0]);
    mt_save_for_backward(ctx, in[1]);
    return out;
}

static void mul_backward(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    const mt_tensor *a = ctx->saved[0], *b = ctx->saved[1];
    mt_tensor *t = mt_empty(g->shape);              /* (output shape) local gradient * g */
    if (gin[0]) {
        mt_broadcast_apply(g, b, t, mul2);          /* g * b */
        mt_unbroadcast_acc(gin[0], t);
    }
    if (gin[1]) {
        mt_broadcast_apply(g, a, t, mul2);          /* g * a */
        mt_unbroadcast_acc(gin[1], t);
    }
}

static const mt_case mul_cases[] = { MT_BINARY_CASES };

const mt_op mt_op_mul = {
    .name = "mul", .backward_name = "MulBackward0", .arity = 2,
    .forward = mul_forward, .backward = mul_backward,
    .domain = { { -2, 2, 0, false }, { -2, 2, 0, false } },
    .cases = mul_cases, .ncases = MT_COUNT(mul_cases),
};

mt_tensor *mt_mul(mt_tensor *a, mt_tensor *b)
{
    return mt_apply(&mt_op_mul, (mt_tensor *[]){ a, b }, NULL);
}

mt_tensor *mt_mul_scalar(mt_tensor *a, double s) { return a ? mt_mul(a, mt_scalar(s)) : NULL; }
