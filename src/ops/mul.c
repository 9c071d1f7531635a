/* mul.c: a * b, element-wise with broadcasting.
 * d(a * b)/da = b and d(a * b)/db = a: forward saves both inputs for backward. */
#include "op_impl.h"

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

static void mul_backward(const mt_ctx *ctx, const mt_tensor *grad_out, mt_tensor *const *grad_in)
{
    const mt_tensor *a = ctx->saved[0], *b = ctx->saved[1];
    mt_tensor *t = mt_empty(grad_out->shape);  /* (output shape) local gradient * grad_out */
    if (grad_in[0]) {
        mt_broadcast_apply(grad_out, b, t, mul2);          /* grad_out * b */
        mt_unbroadcast_acc(grad_in[0], t);
    }
    if (grad_in[1]) {
        mt_broadcast_apply(grad_out, a, t, mul2);          /* grad_out * a */
        mt_unbroadcast_acc(grad_in[1], t);
    }
}

/* d out / d input at one element (op.h): what backward multiplies grad_out by */
static double mul_local_grad(const mt_op_args *args, int input, const double *x, double y)
{
    (void)args; (void)y;
    return input == 0 ? x[1] : x[0];
}

static const mt_case mul_cases[] = { MT_BINARY_CASES };

const mt_op mt_op_mul = {
    .name = "mul", .backward_name = "MulBackward0", .arity = 2,
    .symbol = "×", .local_text = { "b", "a" },
    .local_grad = mul_local_grad,
    .forward = mul_forward, .backward = mul_backward,
    .domain = { { .lo = -2, .hi = 2 }, { .lo = -2, .hi = 2 } },
    .tol = { .atol = 5e-7, .rtol = 1e-6 },  /* error measured 2.0e-09: margin 250x */
    .cases = mul_cases, .ncases = MT_COUNT(mul_cases),
};

mt_tensor *mt_mul(mt_tensor *a, mt_tensor *b)
{
    return mt_apply(&mt_op_mul, (mt_tensor *[]){ a, b }, NULL);
}

mt_tensor *mt_mul_scalar(mt_tensor *a, double s)
{
    return a ? mt_mul(a, mt_scalar_constant(s)) : NULL;
}
