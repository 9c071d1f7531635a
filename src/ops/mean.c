/* mean.c: the mean of all elements, or along one axis: the sum divided by the n elements
 * reduced, so each input receives the output gradient divided by n. */
#include "op_impl.h"
#include "../reduce.h"

#include <math.h>

static mt_tensor *mean_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    mt_reduce p;
    if (!mt_reduce_plan("mean", in[0]->shape, args->axis, args->keepdim, &p)) return NULL;
    mt_tensor *out = mt_empty(p.out);
    /* the mean of nothing is 0 / 0: NaN, as in PyTorch and NumPy */
    mt_reduce_sum(&p, in[0]->data, out->data, p.n ? 1.0 / (double)p.n : NAN);
    ctx->ints[0] = args->axis;
    ctx->ints[1] = args->keepdim;
    return out;
}

static void mean_backward(const mt_ctx *ctx, const mt_tensor *grad_out, mt_tensor *const *grad_in)
{
    mt_reduce p;
    mt_reduce_plan("mean", ctx->in_shape[0], ctx->ints[0], ctx->ints[1], &p);
    /* n = 0: there is nothing to spread the gradient over */
    mt_reduce_spread_acc(&p, grad_out->data, grad_in[0]->data, p.n ? 1.0 / (double)p.n : 0.0);
}

static const mt_case mean_cases[] = {
    { "all_3x4",          { MT_DIMS(3, 4) },    { .axis = MT_AXIS_ALL }, NULL },
    { "axis0_3x4",        { MT_DIMS(3, 4) },    { .axis = 0 }, NULL },
    { "axis1_keep_3x4",   { MT_DIMS(3, 4) },    { .axis = 1, .keepdim = true }, NULL },
    { "axis-1_2x3x4",     { MT_DIMS(2, 3, 4) }, { .axis = -1 }, NULL },
    { "axis0_keep_2x3x4", { MT_DIMS(2, 3, 4) }, { .axis = 0, .keepdim = true }, NULL },
    { "scalar_axis-1",    { MT_SCALAR_DIMS },   { .axis = -1 }, NULL },
    { "axis2_2x3x4x5",    { MT_DIMS(2, 3, 4, 5) }, { .axis = 2 }, NULL },
};

const mt_op mt_op_mean = {
    .name = "mean", .backward_name = "MeanBackward0", .arity = 1,
    .symbol = "mean", .local_text = { "g / n broadcast to a's shape" },
    .forward = mean_forward, .backward = mean_backward,
    .domain = { { .lo = -2, .hi = 2 } },
    .tol = { .atol = 5e-8, .rtol = 1e-6 },  /* error measured 2.8e-10: margin 179x */
    .cases = mean_cases, .ncases = MT_COUNT(mean_cases),
};

mt_tensor *mt_mean_axis(mt_tensor *a, int axis, bool keepdim)
{
    mt_op_args args = { .axis = axis, .keepdim = keepdim };
    return mt_apply(&mt_op_mean, (mt_tensor *[]){ a }, &args);
}

mt_tensor *mt_mean(mt_tensor *a) { return mt_mean_axis(a, MT_AXIS_ALL, false); }
