/* sqrt.c: the square root. d(sqrt a)/da = 1 / (2 sqrt a); gradcheck draws a in [0.1, 3]. */
#include "op_impl.h"

#include <math.h>

static mt_tensor *sqrt_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *out = mt_empty(in[0]->shape);
    for (size_t i = 0; i < out->numel; i++) out->data[i] = sqrt(in[0]->data[i]);
    mt_save_for_backward(ctx, out);
    return out;
}

static void sqrt_backward(const mt_ctx *ctx, const mt_tensor *grad_out, mt_tensor *const *grad_in)
{
    const mt_tensor *out = ctx->saved[0];
    for (size_t i = 0; i < grad_out->numel; i++)
        grad_in[0]->data[i] += grad_out->data[i] / (2.0 * out->data[i]);
}

/* d out / d input at one element (op.h): what backward multiplies grad_out by */
static double sqrt_local_grad(const mt_op_args *args, int input, const double *x, double y)
{
    (void)args; (void)input; (void)x;
    return 0.5 / y;
}

static const mt_case sqrt_cases[] = { MT_UNARY_CASES };

const mt_op mt_op_sqrt = {
    .name = "sqrt", .backward_name = "SqrtBackward0", .arity = 1,
    .symbol = "√", .local_text = { "1/(2y)" },
    .local_grad = sqrt_local_grad,
    .forward = sqrt_forward, .backward = sqrt_backward,
    .domain = { { .lo = 0.1, .hi = 3 } },
    .tol = { .atol = 2e-8, .rtol = 1e-6 },  /* error measured 1.5e-10: margin 133x */
    .cases = sqrt_cases, .ncases = MT_COUNT(sqrt_cases),
};

mt_tensor *mt_sqrt(mt_tensor *a) { return mt_apply(&mt_op_sqrt, (mt_tensor *[]){ a }, NULL); }
