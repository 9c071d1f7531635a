/* sub.c: a - b, element-wise with broadcasting.
 * d(a - b)/da = 1 and d(a - b)/db = -1, each summed back to its input's shape. */
#include "op_impl.h"

static double sub2(double x, double y) { return x - y; }

static mt_tensor *sub_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)ctx; (void)args;
    mt_tensor *out = mt_broadcast_output("sub", in[0], in[1]);
    if (out) mt_broadcast_apply(in[0], in[1], out, sub2);
    return out;
}

static void sub_backward(const mt_ctx *ctx, const mt_tensor *grad_out, mt_tensor *const *grad_in)
{
    (void)ctx;
    if (grad_in[0]) mt_unbroadcast_acc(grad_in[0], grad_out);
    if (grad_in[1]) {
        mt_tensor *neg = mt_empty(grad_out->shape);      /* -grad_out, then summed to b's shape */
        for (size_t i = 0; i < grad_out->numel; i++) neg->data[i] = -grad_out->data[i];
        mt_unbroadcast_acc(grad_in[1], neg);
    }
}

/* d out / d input at one element (op.h): what backward multiplies grad_out by */
static double sub_local_grad(const mt_op_args *args, int input, const double *x, double y)
{
    (void)args; (void)x; (void)y;
    return input == 0 ? 1.0 : -1.0;
}

static const mt_case sub_cases[] = { MT_BINARY_CASES };

const mt_op mt_op_sub = {
    .name = "sub", .backward_name = "SubBackward0", .arity = 2,
    .symbol = "−", .local_text = { "1", "−1" },
    .local_grad = sub_local_grad,
    .forward = sub_forward, .backward = sub_backward,
    .domain = { { .lo = -2, .hi = 2 }, { .lo = -2, .hi = 2 } },
    .tol = { .atol = 5e-7, .rtol = 1e-6 },  /* error measured 4.6e-09: margin 109x */
    .cases = sub_cases, .ncases = MT_COUNT(sub_cases),
};

mt_tensor *mt_sub(mt_tensor *a, mt_tensor *b)
{
    return mt_apply(&mt_op_sub, (mt_tensor *[]){ a, b }, NULL);
}

mt_tensor *mt_sub_scalar(mt_tensor *a, double s)
{
    return a ? mt_sub(a, mt_scalar_constant(s)) : NULL;
}

mt_tensor *mt_rsub_scalar(double s, mt_tensor *a)
{
    return a ? mt_sub(mt_scalar_constant(s), a) : NULL;
}
