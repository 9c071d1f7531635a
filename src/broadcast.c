/* broadcast.c: NumPy broadcasting. Shapes are aligned from the right and padded with leading 1s
 * to four dimensions; a dimension of size 1 is read with stride 0, so the same element is
 * reused along it. Unbroadcast is the reverse: summing along those dimensions. */
#include "broadcast.h"

#include <stdint.h>
#include <stdio.h>

bool mt_broadcast_shape(mt_shape a, mt_shape b, mt_shape *out)
{
    mt_shape r = { a.ndim > b.ndim ? a.ndim : b.ndim, { 0 } };
    for (int i = 0; i < r.ndim; i++) {
        int ai = a.ndim - r.ndim + i, bi = b.ndim - r.ndim + i;
        int da = ai >= 0 ? a.dim[ai] : 1, db = bi >= 0 ? b.dim[bi] : 1;
        if (da != db && da != 1 && db != 1) return false;
        r.dim[i] = da == 1 ? db : da;
    }
    *out = r;
    return true;
}

/* Strides (in elements) for reading a tensor of shape `in` as if it had shape `out` (padded
 * to 4 dims): 0 along every dimension where `in` is 1 or missing. */
static void view_strides(mt_shape in, mt_shape out, size_t st[4], int n[4])
{
    int pad = 4 - out.ndim;
    size_t stride = 1;
    for (int i = 3; i >= 0; i--) {
        int oi = i - pad;                               /* index into out */
        int ii = oi - (out.ndim - in.ndim);             /* index into in */
        n[i] = oi >= 0 ? out.dim[oi] : 1;
        int din = (oi >= 0 && ii >= 0) ? in.dim[ii] : 1;
        st[i] = (din == 1) ? 0 : stride;
        stride *= (size_t)din;
    }
}

void mt_broadcast_apply(const mt_tensor *a, const mt_tensor *b, mt_tensor *out, mt_binary_fn f)
{
    const double *x = a->data, *y = b->data;
    double *o = out->data;
    if (a->numel == out->numel && b->numel == out->numel) {   /* same shape: the common case */
        for (size_t i = 0; i < out->numel; i++) o[i] = f(x[i], y[i]);
        return;
    }
    size_t sa[4], sb[4];
    int n[4], m[4];
    view_strides(a->shape, out->shape, sa, n);
    view_strides(b->shape, out->shape, sb, m);
    size_t k = 0;
    for (int i0 = 0; i0 < n[0]; i0++)
        for (int i1 = 0; i1 < n[1]; i1++)
            for (int i2 = 0; i2 < n[2]; i2++)
                for (int i3 = 0; i3 < n[3]; i3++) {
                    size_t ia = i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3];
                    size_t ib = i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3];
                    o[k++] = f(x[ia], y[ib]);
                }
}

void mt_unbroadcast_acc(mt_tensor *dst, const mt_tensor *src)
{
    double *d = dst->data;
    const double *s = src->data;
    if (dst->numel == src->numel) {                    /* nothing was broadcast */
        for (size_t i = 0; i < src->numel; i++) d[i] += s[i];
        return;
    }
    size_t sd[4];
    int n[4];
    view_strides(dst->shape, src->shape, sd, n);
    size_t k = 0;
    for (int i0 = 0; i0 < n[0]; i0++)
        for (int i1 = 0; i1 < n[1]; i1++)
            for (int i2 = 0; i2 < n[2]; i2++)
                for (int i3 = 0; i3 < n[3]; i3++)
                    d[i0 * sd[0] + i1 * sd[1] + i2 * sd[2] + i3 * sd[3]] += s[k++];
}

mt_tensor *mt_shape_error(const char *op, const char *what, mt_shape a, mt_shape b)
{
    char sa[64], sb[64];
    mt_error("%s: %s shapes %s and %s", op, what, mt_shape_str(a, sa, sizeof sa),
             mt_shape_str(b, sb, sizeof sb));
    return NULL;
}

mt_tensor *mt_broadcast_output(const char *op, const mt_tensor *a, const mt_tensor *b)
{
    mt_shape s;
    char sa[64], sb[64];
    if (!mt_broadcast_shape(a->shape, b->shape, &s))
        return mt_shape_error(op, "cannot broadcast", a->shape, b->shape);
    if (mt_shape_numel(s) > (size_t)PTRDIFF_MAX / sizeof(double)) {
        char so[64];
        mt_error("%s: broadcasting shapes %s and %s gives %s, too many elements to hold", op,
                 mt_shape_str(a->shape, sa, sizeof sa), mt_shape_str(b->shape, sb, sizeof sb),
                 mt_shape_str(s, so, sizeof so));
        return NULL;
    }
    return mt_empty(s);
}
