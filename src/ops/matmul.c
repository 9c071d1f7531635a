/* matmul.c: a @ b for 2-D a (n, k) and b (k, m), through OpenBLAS's cblas_dgemm.
 * Backward: da += g @ b^T (n, k) and db += a^T @ g (k, m); dgemm's beta = 1 does the "+=". */
#include "op_impl.h"

#include <cblas.h>
#include <stdint.h>

static mt_tensor *matmul_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)args;
    const mt_tensor *a = in[0], *b = in[1];
    if (a->shape.ndim != 2 || b->shape.ndim != 2)
        return mt_shape_error("matmul", "needs two 2-D tensors, got", a->shape, b->shape);
    if (a->shape.dim[1] != b->shape.dim[0])
        return mt_shape_error("matmul", "inner dimensions differ for", a->shape, b->shape);
    int n = a->shape.dim[0], k = a->shape.dim[1], m = b->shape.dim[1];
    if (mt_shape_numel(MT_SHAPE(n, m)) > (size_t)PTRDIFF_MAX / sizeof(double))
        return mt_shape_error("matmul", "the result is too large to hold for", a->shape, b->shape);
    /* with k = 0 every entry is an empty sum: 0 */
    mt_tensor *out = k ? mt_empty(MT_SHAPE(n, m)) : mt_zeros(MT_SHAPE(n, m));   /* (n, m) */
    if (n && m && k)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, m, k,
                    1.0, a->data, k, b->data, m, 0.0, out->data, m);
    mt_save_for_backward(ctx, a);
    mt_save_for_backward(ctx, b);
    return out;
}

static void matmul_backward(const mt_ctx *ctx, const mt_tensor *grad_out, mt_tensor *const *grad_in)
{
    const mt_tensor *a = ctx->saved[0], *b = ctx->saved[1];
    int n = a->shape.dim[0], k = a->shape.dim[1], m = b->shape.dim[1];
    if (!n || !m || !k) return;
    if (grad_in[0])   /* (n, k) += (n, m) @ (m, k) */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, m,
                    1.0, grad_out->data, m, b->data, m, 1.0, grad_in[0]->data, k);
    if (grad_in[1])   /* (k, m) += (k, n) @ (n, m) */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, m, n,
                    1.0, a->data, k, grad_out->data, m, 1.0, grad_in[1]->data, m);
}

static const mt_case matmul_cases[] = {
    { "3x4_4x5", { MT_DIMS(3, 4), MT_DIMS(4, 5) }, { .scalar = 0 }, NULL },
    { "1x3_3x1", { MT_DIMS(1, 3), MT_DIMS(3, 1) }, { .scalar = 0 }, NULL },
    { "5x1_1x2", { MT_DIMS(5, 1), MT_DIMS(1, 2) }, { .scalar = 0 }, NULL },
    /* non-square, non-vector: a transpose moves memory in both operands and in g */
    { "2x3_3x4", { MT_DIMS(2, 3), MT_DIMS(3, 4) }, { .scalar = 0 }, NULL },
    { "4x2_2x3", { MT_DIMS(4, 2), MT_DIMS(2, 3) }, { .scalar = 0 }, NULL },
};

const mt_op mt_op_matmul = {
    .name = "matmul", .backward_name = "MmBackward0", .arity = 2,
    .symbol = "@", .local_text = { "g @ Bᵀ", "Aᵀ @ g" },
    .forward = matmul_forward, .backward = matmul_backward,
    .domain = { { .lo = -2, .hi = 2 }, { .lo = -2, .hi = 2 } },
    .tol = { .atol = 2e-7, .rtol = 1e-6 },  /* error measured 1.4e-09: margin 143x */
    .cases = matmul_cases, .ncases = MT_COUNT(matmul_cases),
};

mt_tensor *mt_matmul(mt_tensor *a, mt_tensor *b)
{
    return mt_apply(&mt_op_matmul, (mt_tensor *[]){ a, b }, NULL);
}
