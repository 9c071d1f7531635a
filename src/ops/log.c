/* log.c: the natural logarithm. d(log a)/da = 1 / a; gradcheck draws a in [0.1, 3]. */
#include "op.h"

#include <math.h>

static mt_tensor *log_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    mt_tensor *out = mt_empty(in[0]->shape);
    for (size_t i = 0; i < out->numel; i++) out->data[i] = log(in[0]->data[i]);
    mt_save_for_backward(ctx, in[0]);
    return out;
}

static void log_backward(const mt_ctx *ctx, const mt_tensor *g, mt_tensor *const *gin)
{
    const mt_tensor *a = ctx->saved[0];
    for (size_t i = 0; i < g->numel; i++) gin[0]->data[i] += g->data[i] / a->data[i];
}

static const mt_case log_cases[] = { MT_UNARY_CASES };

const mt_op mt_op_log = {
    .name = "log", .backward_name = "LogBackward0", .arity = 1,
    .forward = log_forward, .backward = log_backward,
    .domain = { { 0.1, 3, 0, false } },
    .cases = log_cases, .ncases = MT_COUNT(log_cases),
};

mt_tensor *mt_log(mt_tensor *a) { return mt_apply(&mt_op_log, (mt_tensor *[]){ a }, NULL); }
