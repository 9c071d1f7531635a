/* reshape.c: the same elements in the same order under a new shape; one dimension may be -1
 * and is then inferred. Backward reshapes the gradient back, which for contiguous data is
 * adding it element by element. */
#include "op_impl.h"

#include <limits.h>

static mt_tensor *reshape_forward(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args)
{
    (void)ctx;
    const mt_tensor *a = in[0];
    mt_shape s = args->shape;
    char sa[64], sb[64];
    if (s.ndim < 0 || s.ndim > MT_MAX_DIMS) {
        mt_error("reshape: target of %d dimensions (a shape has 0 to %d)", s.ndim, MT_MAX_DIMS);
        return NULL;
    }
    int infer = -1;
    for (int i = 0; i < s.ndim; i++) {
        if (s.dim[i] == -1 && infer < 0) infer = i;
        else if (s.dim[i] < 0) {
            mt_error("reshape: bad target shape %s (one dimension may be -1, none other negative)",
                     mt_shape_str(s, sb, sizeof sb));
            return NULL;
        }
    }
    if (infer >= 0) {
        mt_shape known = s;                        /* the product of the other dimensions */
        known.dim[infer] = 1;
        size_t k = mt_shape_numel(known);          /* SIZE_MAX when it does not fit */
        if (k == 0) {
            mt_error("reshape: cannot view shape %s as %s: next to a 0, the -1 could be any size",
                     mt_shape_str(a->shape, sa, sizeof sa), mt_shape_str(s, sb, sizeof sb));
            return NULL;
        }
        /* a->numel % k != 0 also covers a saturated k (then a->numel < k) unless a is empty */
        if (a->numel % k == 0 && a->numel / k <= (size_t)INT_MAX)
            s.dim[infer] = (int)(a->numel / k);
    }
    if ((infer >= 0 && s.dim[infer] < 0) || mt_shape_numel(s) != a->numel) {
        mt_error("reshape: cannot view shape %s (%zu elements) as %s",
                 mt_shape_str(a->shape, sa, sizeof sa), a->numel,
                 mt_shape_str(args->shape, sb, sizeof sb));
        return NULL;
    }
    return mt_from_data(s, a->data);
}

static void reshape_backward(const mt_ctx *ctx, const mt_tensor *grad_out,
                             mt_tensor *const *grad_in)
{
    (void)ctx;
    for (size_t i = 0; i < grad_out->numel; i++) grad_in[0]->data[i] += grad_out->data[i];
}

static const mt_case reshape_cases[] = {
    { "3x4_to_2x6",    { MT_DIMS(3, 4) },    { .shape = MT_DIMS(2, 6) }, NULL },
    { "2x3x2_to_12",   { MT_DIMS(2, 3, 2) }, { .shape = MT_DIMS(12) }, NULL },
    { "6_to_3x-1",     { MT_DIMS(6) },       { .shape = MT_DIMS(3, -1) }, NULL },
    { "2x6_to_-1x3x2", { MT_DIMS(2, 6) },    { .shape = MT_DIMS(-1, 3, 2) }, NULL },
    { "scalar_to_1x1", { MT_SCALAR_DIMS },   { .shape = MT_DIMS(1, 1) }, NULL },
};

const mt_op mt_op_reshape = {
    .name = "reshape", .backward_name = "ReshapeAliasBackward0", .arity = 1,
    .symbol = "reshape", .local_text = { "g reshaped to a's shape" },
    .forward = reshape_forward, .backward = reshape_backward,
    .domain = { { .lo = -2, .hi = 2 } },
    .tol = { .atol = 1e-8, .rtol = 1e-6 },  /* error measured 1.1e-16: the floor */
    .cases = reshape_cases, .ncases = MT_COUNT(reshape_cases),
};

mt_tensor *mt_reshape(mt_tensor *a, mt_shape shape)
{
    mt_op_args args = { .shape = shape };
    return mt_apply(&mt_op_reshape, (mt_tensor *[]){ a }, &args);
}
