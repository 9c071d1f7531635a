/* internal.h: what the library's own files share and its users never call: shape checks,
 * the standard shape error, and the per-thread resets that mt_shutdown runs. */
#ifndef MT_INTERNAL_H
#define MT_INTERNAL_H

#include "mytorch/tensor.h"

/* (tensor.c) Reports "<op>: ..." naming the shape and returns false unless s has 0 to 4
 * dimensions, none negative, and few enough elements that their doubles can be allocated. */
bool mt_shape_check(const char *op, mt_shape s);

/* (autograd.c) Frees this thread's backward scratch arena and clears its observer and grad
 * mode, as mt_shutdown (arena.c) does for the whole thread. */
void mt_autograd_thread_reset(void);

#endif
