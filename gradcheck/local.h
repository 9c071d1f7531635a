/* local.h: checking an op's numeric local derivative (op.h's local_grad) against its backward,
 * on its own. mt_gc_check does the same at every check of such an op (MT_GC_DIAG_LOCAL), so
 * the default gradcheck run and mt_gc_check_all cover every op that has a local_grad. */
#ifndef MT_GC_LOCAL_H
#define MT_GC_LOCAL_H

#include "mytorch/mytorch.h"

/* 0 when backward equals unbroadcast(grad_out * local_grad) within tol (relative, plus tol
 * absolute) at case c, inputs drawn from the case's domain (or the op's) with seed, the op's
 * forward and backward called directly (so any op, registered or not); 0 too for an op
 * without local_grad. -1 with a message naming the op, case, input and element otherwise. */
int mt_gc_check_local(const mt_op *op, const mt_case *c, uint64_t seed, double tol, char *msg,
                      size_t msglen);

#endif
