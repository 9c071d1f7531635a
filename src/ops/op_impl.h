/* op_impl.h (internal): what every op file includes: the public API, broadcasting, and the shape
 * cases that all binary element-wise ops are checked on. */
#ifndef MT_OP_H
#define MT_OP_H

#include "mytorch/mytorch.h"
#include "../broadcast.h"

/* gradcheck's shape cases for a broadcasting binary op */
#define MT_BINARY_CASES                                                   \
    { "same_3x4",      { MT_DIMS(3, 4), MT_DIMS(3, 4) },    { .scalar = 0 } },    \
    { "bcast_3x4_4",   { MT_DIMS(3, 4), MT_DIMS(4) },       { .scalar = 0 } },    \
    { "bcast_3x1_1x4", { MT_DIMS(3, 1), MT_DIMS(1, 4) },    { .scalar = 0 } },    \
    { "bcast_2x3x4_3x1", { MT_DIMS(2, 3, 4), MT_DIMS(3, 1) }, { .scalar = 0 } },  \
    { "tensor_scalar", { MT_DIMS(3, 4), MT_SCALAR_DIMS },   { .scalar = 0 } },    \
    { "scalar_tensor", { MT_SCALAR_DIMS, MT_DIMS(2, 3) },   { .scalar = 0 } }

#define MT_UNARY_CASES                                                    \
    { "vec_5",    { MT_DIMS(5) },       { .scalar = 0 } },                         \
    { "mat_3x4",  { MT_DIMS(3, 4) },    { .scalar = 0 } },                         \
    { "scalar",   { MT_SCALAR_DIMS },   { .scalar = 0 } }


/* The 0-D constant behind mt_add_scalar(x, 3) and its kin, labelled with its value ("3") so that a
 * graph drawing names it. */
static inline mt_tensor *mt_scalar_constant(double value)
{
    mt_tensor *t = mt_scalar(value);
    if (t) snprintf(t->label, sizeof t->label, "%.6g", value);
    return t;
}

#endif
