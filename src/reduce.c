/* reduce.c: the one reduction kernel behind sum and mean, and its adjoint (spreading the
 * gradient of each output back over the n inputs it summed). */
#include "reduce.h"

#include <string.h>

bool mt_reduce_plan(const char *op, mt_shape in, int axis, bool keepdim, mt_reduce *p)
{
    memset(p, 0, sizeof *p);
    if (axis == MT_AXIS_ALL) {
        p->outer = 1; p->n = mt_shape_numel(in); p->inner = 1;
        p->out.ndim = keepdim ? in.ndim : 0;
        for (int i = 0; i < p->out.ndim; i++) p->out.dim[i] = 1;
        return true;
    }
    /* As PyTorch, a scalar accepts axis 0 and -1 (it is treated as one element along them). */
    int range = in.ndim > 0 ? in.ndim : 1;
    int ax = axis < 0 ? axis + range : axis;
    if (ax < 0 || ax >= range) {
        char s[64];
        mt_error("%s: axis %d is out of range for shape %s (axes go from %d to %d)", op, axis,
                 mt_shape_str(in, s, sizeof s), -range, range - 1);
        return false;
    }
    if (in.ndim == 0) {                            /* () -> (), keepdim or not */
        p->outer = p->n = p->inner = 1;
        return true;
    }
    p->outer = 1; p->inner = 1; p->n = (size_t)in.dim[ax];
    for (int i = 0; i < ax; i++) p->outer *= (size_t)in.dim[i];
    for (int i = ax + 1; i < in.ndim; i++) p->inner *= (size_t)in.dim[i];
    for (int i = 0; i < in.ndim; i++) {
        if (i == ax && !keepdim) continue;
        p->out.dim[p->out.ndim++] = i == ax ? 1 : in.dim[i];
    }
    return true;
}

void mt_reduce_sum(const mt_reduce *p, const double *x, double *y, double scale)
{
    for (size_t o = 0; o < p->outer; o++)
        for (size_t j = 0; j < p->inner; j++) {
            double s = 0;
            for (size_t k = 0; k < p->n; k++) s += x[(o * p->n + k) * p->inner + j];
            y[o * p->inner + j] = scale * s;
        }
}

void mt_reduce_spread_acc(const mt_reduce *p, const double *g, double *gx, double scale)
{
    for (size_t o = 0; o < p->outer; o++)
        for (size_t k = 0; k < p->n; k++)
            for (size_t j = 0; j < p->inner; j++)
                gx[(o * p->n + k) * p->inner + j] += scale * g[o * p->inner + j];
}
