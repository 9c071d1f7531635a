/* sum.c: the sum of all elements, or along one axis (keepdim keeps it as size 1).
 * Every input element contributes with weight 1, so backward spreads the output gradient back
 * over the elements that were summed. */
#include "op_impl.h"
#include "../reduce.h"

static mt_tensor *sum_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    mt_reduce p;
    if (!mt_reduce_plan("sum", in[0]->shape, args->axis, args->keepdim, &p)) return NULL;
    mt_tensor *out = mt_empty(p.out);
    mt_reduce_sum(&p, in[0]->data, out->data, 1.0);
    ctx->ints[0] = args->axis;
    ctx->ints[1] = args->keepdim;
    return out;
}

static void sum_backward(const mt_ctx *ctx, const mt_tensor *grad_out, mt_tensor *const *grad_in)
{
    mt_reduce p;
    mt_reduce_plan("sum", ctx->in_shape[0], ctx->ints[0], ctx->ints[1], &p);
    mt_reduce_spread_acc(&p, grad_out->data, grad_in[0]->data, 1.0);
}

static const mt_case sum_cases[] = {
    { "all_3x4",          { MT_DIMS(3, 4) },    { .axis = MT_AXIS_ALL }, NULL },
    { "axis0_3x4",        { MT_DIMS(3, 4) },    { .axis = 0 }, NULL },
    { "axis1_keep_3x4",   { MT_DIMS(3, 4) },    { .axis = 1, .keepdim = true }, NULL },
    { "axis-1_2x3x4",     { MT_DIMS(2, 3, 4) }, { .axis = -1 }, NULL },
    { "axis1_2x3x4",      { MT_DIMS(2, 3, 4) }, { .axis = 1, .keepdim = true }, NULL },
    { "scalar_axis0",     { MT_SCALAR_DIMS },   { .axis = 0 }, NULL },
    { "axis1_keep_2x3x4x5", { MT_DIMS(2, 3, 4, 5) }, { .axis = 1, .keepdim = true }, NULL },
};

const mt_op mt_op_sum = {
    .name = "sum", .backward_name = "SumBackward0", .arity = 1,
    .symbol = "Σ", .local_text = { "g broadcast to a's shape" },
    .forward = sum_forward, .backward = sum_backward,
    .domain = { { .lo = -2, .hi = 2 } },
    .tol = { .atol = 2e-7, .rtol = 1e-6 },  /* error measured 1.5e-09: margin 133x */
    .cases = sum_cases, .ncases = MT_COUNT(sum_cases),
};

mt_tensor *mt_sum_axis(mt_tensor *a, int axis, bool keepdim)
{
    mt_op_args args = { .axis = axis, .keepdim = keepdim };
    return mt_apply(&mt_op_sum, (mt_tensor *[]){ a }, &args);
}

mt_tensor *mt_sum(mt_tensor *a) { return mt_sum_axis(a, MT_AXIS_ALL, false); }
