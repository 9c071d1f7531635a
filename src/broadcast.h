/* broadcast.h (internal): NumPy broadcasting for the element-wise ops, the one general
 * unbroadcast that every op's backward uses to sum a gradient back to its input's shape, and the
 * shape checks an op runs before it makes an output of a new shape. */
#ifndef MT_BROADCAST_H
#define MT_BROADCAST_H

#include "mytorch/autograd.h"
#include "internal.h"

/* The broadcast shape of a and b (dimensions aligned from the right; each pair equal or one of
 * them 1). Returns false when they do not broadcast. */
bool mt_broadcast_shape(mt_shape a, mt_shape b, mt_shape *out);

/* out[i] = f(a[ia], b[ib]) over out's shape, where a and b broadcast to out. */
typedef double (*mt_binary_fn)(double x, double y);
void mt_broadcast_apply(const mt_tensor *a, const mt_tensor *b, mt_tensor *out, mt_binary_fn f);

/* dst += src summed over the dimensions along which dst was broadcast to src's shape.
 * dst's shape must broadcast to src's shape. */
void mt_unbroadcast_acc(mt_tensor *dst, const mt_tensor *src);

/* The output of a broadcasting binary op, or NULL after the standard shape error
 * ("<op>: cannot broadcast shapes (3, 4) and (5,)") or an error that the broadcast shape is too
 * large to hold. */
mt_tensor *mt_broadcast_output(const char *op, const mt_tensor *a, const mt_tensor *b);

/* Reports "<op>: <what> shapes (3, 4) and (5,)" and returns NULL: the standard shape error of a
 * binary op. */
mt_tensor *mt_shape_error(const char *op, const char *what, mt_shape a, mt_shape b);

#endif
