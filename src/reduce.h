/* reduce.h (internal): reductions along one axis (or all), shared by sum and mean.
 * A shape is split at the axis into (outer, n, inner): the output keeps outer * inner values,
 * each the sum of n inputs spaced inner apart. */
#ifndef MT_REDUCE_H
#define MT_REDUCE_H

#include "mytorch/autograd.h"

typedef struct mt_reduce {
    size_t   outer, n, inner;
    mt_shape out;
} mt_reduce;

/* Plans the reduction of `in` over `axis` (negative from the end, or MT_AXIS_ALL); reports an
 * error naming op and returns false when the axis is out of range. */
bool mt_reduce_plan(const char *op, mt_shape in, int axis, bool keepdim, mt_reduce *p);
/* y (out) = scale * sum over the axis of x (in) */
void mt_reduce_sum(const mt_reduce *p, const double *x, double *y, double scale);
/* gx (in) += scale * g (out), spread back along the axis */
void mt_reduce_spread_acc(const mt_reduce *p, const double *g, double *gx, double scale);

#endif
