/* op_impl.h (internal): what every op file includes: the public API, broadcasting, and the shape
 * cases that all binary element-wise ops are checked on. */
#ifndef MT_OP_H
#define MT_OP_H

#include "mytorch/mytorch.h"
#include "../broadcast.h"

/* gradcheck's shape cases for a broadcasting binary op: the same shape, each kind of broadcast
 * (a row, a column against a row, a lower rank, a 0-D tensor on either side), and in four
 * dimensions, the most a tensor has: a (1,) and a 0-D tensor against 4-D, a tensor broadcast
 * along dims 1 and 3 (its outermost dim kept, so that its stride matters), and two tensors
 * broadcast along different dims each. Every one of unbroadcast's loops and strides is
 * reached with a size above 1. */
#define MT_BINARY_CASES                                                                      \
    { "same_3x4",        { MT_DIMS(3, 4), MT_DIMS(3, 4) },       { .scalar = 0 }, NULL },    \
    { "bcast_3x4_4",     { MT_DIMS(3, 4), MT_DIMS(4) },          { .scalar = 0 }, NULL },    \
    { "bcast_3x1_1x4",   { MT_DIMS(3, 1), MT_DIMS(1, 4) },       { .scalar = 0 }, NULL },    \
    { "bcast_2x3x4_3x1", { MT_DIMS(2, 3, 4), MT_DIMS(3, 1) },    { .scalar = 0 }, NULL },    \
    { "tensor_scalar",   { MT_DIMS(3, 4), MT_SCALAR_DIMS },      { .scalar = 0 }, NULL },    \
    { "scalar_tensor",   { MT_SCALAR_DIMS, MT_DIMS(2, 3) },      { .scalar = 0 }, NULL },    \
    { "bcast_2x3x4x5_1", { MT_DIMS(2, 3, 4, 5), MT_DIMS(1) },    { .scalar = 0 }, NULL },    \
    { "bcast_scalar_2x3x4x5", { MT_SCALAR_DIMS, MT_DIMS(2, 3, 4, 5) },                       \
      { .scalar = 0 }, NULL },                                                               \
    { "bcast_2x1x4x1_2x3x4x5", { MT_DIMS(2, 1, 4, 1), MT_DIMS(2, 3, 4, 5) },                 \
      { .scalar = 0 }, NULL },                                                               \
    { "bcast_1x3x1x5_2x1x4x1", { MT_DIMS(1, 3, 1, 5), MT_DIMS(2, 1, 4, 1) },                 \
      { .scalar = 0 }, NULL }

#define MT_UNARY_CASES                                                    \
    { "vec_5",    { MT_DIMS(5) },       { .scalar = 0 }, NULL },           \
    { "mat_3x4",  { MT_DIMS(3, 4) },    { .scalar = 0 }, NULL },           \
    { "scalar",   { MT_SCALAR_DIMS },   { .scalar = 0 }, NULL }

/* A case's own domains (mt_case.domain), one per input:
 *     { "neg_base", { MT_DIMS(5) }, { .scalar = 3 }, MT_DOMAINS({ .lo = -2, .hi = -0.5 }) } */
#define MT_DOMAINS(...) ((const mt_domain[]){ __VA_ARGS__ })

/* The 0-D constant behind mt_add_scalar(x, 3) and its kin, labelled with its value ("3") so that a
 * graph drawing names it. */
static inline mt_tensor *mt_scalar_constant(double value)
{
    mt_tensor *t = mt_scalar(value);
    if (t) snprintf(t->label, sizeof t->label, "%.6g", value);
    return t;
}

#endif
