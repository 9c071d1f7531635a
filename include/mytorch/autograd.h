/* autograd.h: the graph, the engine that walks it backward, and the observer that reports
 * every step of both.
 *
 * Applying an op (mt_apply, op.h) does five things, in this order: make a BackwardFunction node,
 * run the op's forward (which saves what backward needs in the node's context), link the node
 * to its inputs' nodes, store the node on the output as grad_fn, and return the output.
 * An input's node is its grad_fn when it has one (an intermediate), its AccumulateGrad node when
 * it is a leaf that requires grad, and NULL when it is a constant. */
#ifndef MYTORCH_AUTOGRAD_H
#define MYTORCH_AUTOGRAD_H

#include "tensor.h"
#include "op.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the graph -------------------------------------------------------------------------- */
typedef enum mt_node_kind {
    MT_ACCUMULATE_GRAD,      /* a leaf that requires grad: adds what reaches it into .grad */
    MT_BACKWARD_FUNCTION     /* an op's backward, with the context its forward filled */
} mt_node_kind;

struct mt_node {
    mt_node_kind kind;
    uint32_t     id;                          /* unique per process */
    const mt_op *op;                          /* BackwardFunction: the op */
    mt_tensor   *variable;                    /* AccumulateGrad: the leaf; BackwardFunction: its
                                                 output */
    int          nparents;                    /* BackwardFunction: the op's arity */
    mt_node     *next_functions[MT_MAX_INPUTS]; /* the parents; NULL for a constant input */
    mt_ctx       ctx;
    uint64_t     backward_calls;              /* how often this node's backward has run */
    /* scratch for one topological traversal */
    int          pending;
    mt_tensor   *grad_sum;
    uint64_t     mark;
};

/* ---- backward ---------------------------------------------------------------------------- */
typedef enum mt_traversal {
    MT_DFS = 0,            /* the handout's recursive depth-first walk, first input first: a node
                              runs once per path to it */
    MT_TOPO = 1,           /* PyTorch's: each node runs once, after every gradient into it has
                              been summed */
    MT_DFS_LAST_FIRST = 2, /* the same DFS visiting the last input first, as the handout's
                              walkthrough does (c before d, a before a*b); same gradients */
    MT_NO_TRAVERSAL = -1   /* on observer events that belong to no walk (graph building) */
} mt_traversal;
/* Neither walk recurses in C: the DFS keeps the recursion's stack in an array (the observer sees
 * the recursion's order), so a graph as deep as memory allows does not overflow the C stack. */

/* t.backward(): seeds a gradient of ones of t's shape and walks with the recursive DFS.
 * Returns 0, or -1 after reporting an error (t requires no grad). */
int  mt_backward(mt_tensor *t);
/* grad: the seed (NULL: ones), of t's shape. Returns -1 after reporting an error: t requires no
 * grad, a seed of another shape, an unknown traversal, or, found on the way, a leaf whose .grad
 * was replaced by a tensor of another shape (leaves reached before it keep what they got).
 * Grad mode is off while backward runs and is restored when it returns, error or not. */
int  mt_backward_ex(mt_tensor *t, const mt_tensor *grad, mt_traversal how);
void mt_zero_grad(mt_tensor *t);              /* sets t->grad to zeros when it exists */
const char *mt_traversal_name(mt_traversal how); /* "dfs", "topo", "dfs_last_first", "none" */

/* No-grad mode: while off, ops build no nodes and their outputs require no grad. Per thread. */
bool mt_set_grad_enabled(bool on);            /* returns the previous setting */
bool mt_is_grad_enabled(void);

/* ---- the observer: everything a graph exporter or a step-by-step viewer needs --------------
 * The DFS is the recursion visit(node, grad) { VISIT; leaf: ACCUMULATE | run backward,
 * NODE_GRADS, then for each parent: GRAD_PASSED, visit(parent) } RETURN, so the call stack at
 * any event is the VISITs not yet RETURNed, and `depth` is its height (the root's visit is at
 * depth 1). The topological walk reports VISIT, NODE_GRADS, GRAD_PASSED with the parent's
 * `pending` count after the delivery, and READY when that count reaches 0. */
typedef enum mt_event_kind {
    MT_EV_NODE_CREATED,   /* forward made BackwardFunction `node` for output `tensor` from
                             `inputs`, with the op's non-tensor `args` */
    MT_EV_LEAF_NODE_CREATED, /* the AccumulateGrad `node` of leaf `tensor` was made (the first
                             time the leaf was an input of an op that builds a node) */
    MT_EV_BACKWARD_BEGIN, /* backward starts at `tensor` (root `node`) with seed `grad` */
    MT_EV_VISIT,          /* backward reached `node` with the gradient `grad` */
    MT_EV_NODE_GRADS,     /* `node`'s backward ran: `grads[i]` is what it computed for input i
                             (NULL where input i takes none), `ngrads` its arity */
    MT_EV_GRAD_PASSED,    /* `node` passes `grad` to its parent `parent` (input `input_index`) */
    MT_EV_ACCUMULATE,     /* AccumulateGrad `node` adds `grad` into leaf `tensor`: `before`
                             (a copy; NULL on the first time) and `after` (the leaf's .grad).
                             None for a leaf that stopped requiring grad, as in PyTorch. */
    MT_EV_RETURN,         /* DFS: the visit of `node` returns (its frame is popped) */
    MT_EV_READY,          /* topological: every edge into `node` has delivered; it will run */
    MT_EV_BACKWARD_END    /* the walk ends with `status` 0, or -1 after an error */
} mt_event_kind;

typedef struct mt_event {
    mt_event_kind     kind;
    mt_traversal      traversal;  /* the walk it belongs to; MT_NO_TRAVERSAL outside backward */
    const mt_node    *node;
    const mt_node    *parent;
    int               input_index;
    const mt_tensor  *tensor;
    const mt_tensor  *grad;
    const mt_tensor  *before;
    const mt_tensor  *after;
    mt_tensor *const *inputs;     /* NODE_CREATED: the op's inputs */
    int               ninputs;
    const mt_op_args *args;       /* NODE_CREATED: the op's non-tensor arguments */
    mt_tensor *const *grads;      /* NODE_GRADS */
    int               ngrads;
    int               depth;      /* DFS: the height of the call stack (see above); else 0 */
    int               pending;    /* topological GRAD_PASSED: edges into `parent` still to come */
    int               status;     /* BACKWARD_END */
} mt_event;

typedef void (*mt_observer_fn)(const mt_event *ev, void *user);
/* One observer at a time, per thread; NULL removes it. Tensors in an event are valid during the
 * call only unless they live in an arena you keep (trace.h copies what it needs). */
void mt_set_observer(mt_observer_fn fn, void *user);
void mt_get_observer(mt_observer_fn *fn, void **user);   /* to restore it later */

#ifdef __cplusplus
}
#endif

#endif
