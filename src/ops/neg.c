/* neg.c: -a. d(-a)/da = -1. */
#include "op_impl.h"

static mt_tensor *neg_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)ctx; (void)args;
    mt_tensor *out = mt_empty(in[0]->shape);
    for (size_t i = 0; i < out->numel; i++) out->data[i] = -in[0]->data[i];
    return out;
}

static void neg_backward(const mt_ctx *ctx, const mt_tensor *grad_out, mt_tensor *const *grad_in)
{
    (void)ctx;
    for (size_t i = 0; i < grad_out->numel; i++) grad_in[0]->data[i] -= grad_out->data[i];
}

/* d out / d input at one element (op.h): what backward multiplies grad_out by */
static double neg_local_grad(const mt_op_args *args, int input, const double *x, double y)
{
    (void)args; (void)input; (void)x; (void)y;
    return -1.0;
}

static const mt_case neg_cases[] = { MT_UNARY_CASES };

const mt_op mt_op_neg = {
    .name = "neg", .backward_name = "NegBackward0", .arity = 1,
    .symbol = "−", .local_text = { "−1" },
    .local_grad = neg_local_grad,
    .forward = neg_forward, .backward = neg_backward,
    .domain = { { .lo = -2, .hi = 2 } },
    .tol = { .atol = 1e-8, .rtol = 1e-6 },  /* error measured 1.1e-16: the floor */
    .cases = neg_cases, .ncases = MT_COUNT(neg_cases),
};

mt_tensor *mt_neg(mt_tensor *a) { return mt_apply(&mt_op_neg, (mt_tensor *[]){ a }, NULL); }
