/* mytorch.h: MyTorch, reverse-mode automatic differentiation in C, made to be read and stepped
 * through. Include this one header; link with -lmytorch (pkg-config mytorch).
 *
 * A five-minute tour, on the worked example e = (a*b + a) + c + 3:
 *
 *     #include <mytorch/mytorch.h>
 *
 *     mt_tensor *a = mt_requires_grad(mt_scalar(1.0), true);  // a leaf that requires grad
 *     mt_tensor *b = mt_scalar(2.0);                          // a leaf that does not: a constant
 *     mt_tensor *c = mt_requires_grad(mt_scalar(3.0), true);
 *     mt_tensor *d = mt_add(mt_mul(a, b), a);                 // d = a*b + a
 *     mt_tensor *e = mt_add_scalar(mt_add(d, c), 3.0);        // e = (d + c) + 3
 *     mt_backward(e);                                          // seeds de/de = 1, walks back
 *     mt_print(a->grad);                                       // tensor(3.)  = b + 1
 *     mt_print(c->grad);                                       // tensor(1.)
 *     // b->grad is NULL: b does not require grad, so nothing flows to it.
 *     mt_backward(e);                                          // gradients accumulate:
 *     mt_print(a->grad);                                       // tensor(6.)
 *     mt_shutdown();                                           // frees everything above
 *
 * The graph behind e: e->grad_fn is an AddBackward node whose parents (next_functions) are the
 * AddBackward node of (d + c) and NULL (the constant 3); that one's parents are d's AddBackward
 * and c's AccumulateGrad node; d's are MulBackward and a's AccumulateGrad; MulBackward's are
 * a's AccumulateGrad and NULL (b, a constant). a reaches e along two paths, so a.grad = b + 1.
 *
 * Ownership, in one paragraph: tensors and nodes live in arenas (tensor.h). Nothing is freed one
 * at a time; mt_arena_reset() frees a whole step's graph and mt_shutdown() the default arena.
 * Modules (nn.h) and optimizers (optim.h) own their parameters and state and are released with
 * their _free function. A training step (forward, backward, optimizer step, arena reset) leaves
 * nothing behind.
 *
 * Threads: the current and default arena, grad mode, the observer, the last error and its
 * handler, and the default RNG are per thread (C11 _Thread_local), so two threads may each run
 * their own graphs at once; they must not share a tensor that either of them writes. A thread
 * frees its own state with mt_shutdown() before it ends.
 *
 * Where things are: tensor.h (tensors, arenas, RNG), error.h (how misuse is reported), op.h
 * (what an op is: descriptor, context, gradcheck domains and cases, the registry, mt_apply),
 * autograd.h (nodes, backward, grad mode, the observer), ops.h (the ops), nn.h (modules),
 * optim.h (SGD), io.h (IDX and .npy), trace.h (recording a graph and its walks for replay,
 * JSON and DOT). */
#ifndef MYTORCH_H
#define MYTORCH_H

#include "tensor.h"
#include "error.h"
#include "op.h"
#include "autograd.h"
#include "ops.h"
#include "nn.h"
#include "optim.h"
#include "io.h"
#include "trace.h"

#endif
