/* local.h: checking an op's numeric local derivative (op.h's local_grad) against its backward. */
#ifndef MT_GC_LOCAL_H
#define MT_GC_LOCAL_H

#include "mytorch/mytorch.h"

/* 0 when backward equals unbroadcast(grad_out * local_grad) within tol (relative, plus tol
 * absolute) at case c, inputs drawn from the op's domain with seed; 0 too for an op without
 * local_grad. -1 with a message naming the op, case, input and element otherwise. */
int mt_gc_check_local(const mt_op *op, const mt_case *c, uint64_t seed, double tol, char *msg,
                      size_t msglen);

#endif
