/* tanh.c: tanh(a), element-wise. d tanh(a)/da = 1 - tanh(a)^2: forward saves its own output,
 * so backward needs no second tanh. */
#include "op_impl.h"

#include <math.h>

static mt_tensor *tanh_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *out = mt_empty(in[0]->shape);
    for (size_t i = 0; i < out->numel; i++) out->data[i] = tanh(in[0]->data[i]);
    mt_save_for_backward(ctx, out);
    return out;
}

static void tanh_backward(const mt_ctx *ctx, const mt_tensor *grad_out, mt_tensor *const *grad_in)
{
    const mt_tensor *y = ctx->saved[0];           /* y = tanh(a), of a's shape */
    for (size_t i = 0; i < grad_out->numel; i++)
        grad_in[0]->data[i] += grad_out->data[i] * (1.0 - y->data[i] * y->data[i]);
}

/* d out / d input at one element (op.h): what backward multiplies grad_out by */
static double tanh_local_grad(const mt_op_args *args, int input, const double *x, double y)
{
    (void)args; (void)input; (void)x;
    return 1.0 - y * y;
}

static const mt_case tanh_cases[] = { MT_UNARY_CASES };

const mt_op mt_op_tanh = {
    .name = "tanh", .backward_name = "TanhBackward0", .arity = 1,
    .symbol = "tanh", .local_text = { "1 − y²" },
    .local_grad = tanh_local_grad,
    .forward = tanh_forward, .backward = tanh_backward,
    .domain = { { .lo = -3, .hi = 3 } },  /* past |a| = 3 the slope is < 0.01 */
    .tol = { .atol = 2e-8, .rtol = 1e-6 },  /* error measured 1.6e-10: margin 125x */
    .cases = tanh_cases, .ncases = MT_COUNT(tanh_cases),
};

mt_tensor *mt_tanh(mt_tensor *a) { return mt_apply(&mt_op_tanh, (mt_tensor *[]){ a }, NULL); }
