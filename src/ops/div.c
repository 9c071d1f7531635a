/* div.c: a / b, element-wise with broadcasting.
 * d(a / b)/da = 1 / b and d(a / b)/db = -a / b^2. gradcheck keeps b away from 0. */
#include "op_impl.h"

static double div2(double x, double y) { return x / y; }
static double mul2(double x, double y) { return x * y; }
static double neg_a_over_b2(double a, double b) { return -a / (b * b); }

static mt_tensor *div_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *out = mt_broadcast_output("div", in[0], in[1]);
    if (!out) return NULL;
    mt_broadcast_apply(in[0], in[1], out, div2);
    mt_save_for_backward(ctx, in[0]);
    mt_save_for_backward(ctx, in[1]);
    return out;
}

static void div_backward(const mt_ctx *ctx, const mt_tensor *grad_out, mt_tensor *const *grad_in)
{
    const mt_tensor *a = ctx->saved[0], *b = ctx->saved[1];
    mt_tensor *t = mt_empty(grad_out->shape);
    if (grad_in[0]) {
        mt_broadcast_apply(grad_out, b, t, div2);              /* grad_out / b */
        mt_unbroadcast_acc(grad_in[0], t);
    }
    if (grad_in[1]) {
        mt_broadcast_apply(a, b, t, neg_a_over_b2);     /* -a / b^2, in the output's shape */
        mt_broadcast_apply(t, grad_out, t, mul2);              /* times grad_out */
        mt_unbroadcast_acc(grad_in[1], t);
    }
}

/* d out / d input at one element (op.h): what backward multiplies grad_out by */
static double div_local_grad(const mt_op_args *args, int input, const double *x, double y)
{
    (void)args; (void)y;
    return input == 0 ? 1.0 / x[1] : -x[0] / (x[1] * x[1]);
}

static const mt_case div_cases[] = { MT_BINARY_CASES };

const mt_op mt_op_div = {
    .name = "div", .backward_name = "DivBackward0", .arity = 2,
    .symbol = "÷", .local_text = { "1/b", "−a/b²" },
    .local_grad = div_local_grad,
    .forward = div_forward, .backward = div_backward,
    .domain = { { .lo = -2, .hi = 2 }, { .lo = -2, .hi = 2, .min_abs = 0.5 } },
    .tol = { .atol = 2e-7, .rtol = 1e-6 },  /* error measured 1.8e-09: margin 111x */
    .cases = div_cases, .ncases = MT_COUNT(div_cases),
};

mt_tensor *mt_div(mt_tensor *a, mt_tensor *b)
{
    return mt_apply(&mt_op_div, (mt_tensor *[]){ a, b }, NULL);
}

mt_tensor *mt_div_scalar(mt_tensor *a, double s)
{
    return a ? mt_div(a, mt_scalar_constant(s)) : NULL;
}

mt_tensor *mt_rdiv_scalar(double s, mt_tensor *a)
{
    return a ? mt_div(mt_scalar_constant(s), a) : NULL;
}
