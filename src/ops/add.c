/* add.c: a + b, element-wise with broadcasting.
 * d(a + b)/da = 1 and d(a + b)/db = 1: each input receives the output gradient, summed over
 * the dimensions along which it was broadcast. */
#include "op_impl.h"

static double add2(double x, double y) { return x + y; }

static mt_tensor *add_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)ctx; (void)args;
    mt_tensor *out = mt_broadcast_output("add", in[0], in[1]);
    if (out) mt_broadcast_apply(in[0], in[1], out, add2);
    return out;
}

static void add_backward(const mt_ctx *ctx, const mt_tensor *grad_out, mt_tensor *const *grad_in)
{
    (void)ctx;
    if (grad_in[0]) mt_unbroadcast_acc(grad_in[0], grad_out);
    if (grad_in[1]) mt_unbroadcast_acc(grad_in[1], grad_out);
}

/* d out / d input at one element (op.h): what backward multiplies grad_out by */
static double add_local_grad(const mt_op_args *args, int input, const double *x, double y)
{
    (void)args; (void)input; (void)x; (void)y;
    return 1.0;
}

static const mt_case add_cases[] = { MT_BINARY_CASES };

const mt_op mt_op_add = {
    .name = "add", .backward_name = "AddBackward0", .arity = 2,
    .symbol = "+", .local_text = { "1", "1" },
    .local_grad = add_local_grad,
    .forward = add_forward, .backward = add_backward,
    .domain = { { .lo = -2, .hi = 2 }, { .lo = -2, .hi = 2 } },
    .tol = { .atol = 5e-7, .rtol = 1e-6 },  /* error measured 4.7e-09: margin 106x */
    .cases = add_cases, .ncases = MT_COUNT(add_cases),
};

mt_tensor *mt_add(mt_tensor *a, mt_tensor *b)
{
    return mt_apply(&mt_op_add, (mt_tensor *[]){ a, b }, NULL);
}

mt_tensor *mt_add_scalar(mt_tensor *a, double s)
{
    return a ? mt_add(a, mt_scalar_constant(s)) : NULL;
}
