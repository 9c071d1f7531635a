/* autograd.h: the graph and the engine that walks it backward.
 *
 * Applying an op (mt_apply) does five things, in this order: make a BackwardFunction node,
 * run the op's forward (which saves what backward needs in the node's context), link the node
 * to its inputs' nodes, store the node on the output as grad_fn, and return the output.
 * An input's node is its grad_fn when it has one (an intermediate), its AccumulateGrad node when
 * it is a leaf that requires grad, and NULL when it is a constant. */
#ifndef MYTORCH_AUTOGRAD_H
#define MYTORCH_AUTOGRAD_H

#include "tensor.h"

#define MT_MAX_INPUTS 4
#define MT_CTX_SLOTS 4
#define MT_AXIS_ALL 127      /* sum/mean over every element */

/* ---- errors ------------------------------------------------------------------------------
 * Misuse of the API (a shape mismatch, a NULL input, backward on a tensor without a graph) is
 * reported through the error handler and the op returns NULL; an op given a NULL input returns
 * NULL without a second report, so the first error of an expression is the one you see. The
 * default handler prints "mytorch: <message>" to stderr. Nothing is left half-built: the
 * arena only holds a few unreachable bytes until its next reset. */
typedef void (*mt_error_fn)(const char *message, void *user);
void        mt_set_error_handler(mt_error_fn fn, void *user);  /* NULL: back to the default */
void        mt_get_error_handler(mt_error_fn *fn, void **user); /* to restore it later */
void        mt_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
const char *mt_last_error(void);   /* "" when none since mt_clear_error */
void        mt_clear_error(void);

/* ---- the context: what forward saved for backward ----------------------------------------- */
typedef struct mt_ctx {
    const mt_tensor *saved[MT_CTX_SLOTS]; /* save_for_backward: tensors (not copied) */
    int      nsaved;
    double   scalars[MT_CTX_SLOTS];       /* e.g. pow's exponent */
    int      ints[MT_CTX_SLOTS];          /* e.g. an axis */
    int      nin;                         /* filled by the engine before forward: */
    mt_shape in_shape[MT_MAX_INPUTS];     /* the inputs' shapes */
} mt_ctx;

void mt_save_for_backward(mt_ctx *ctx, const mt_tensor *t);

/* ---- ops -------------------------------------------------------------------------------- */
/* Non-tensor arguments of an op. */
typedef struct mt_op_args {
    double   scalar;   /* pow: the exponent */
    int      axis;     /* sum, mean, log_softmax: an axis (negative counts from the end), or MT_AXIS_ALL */
    bool     keepdim;  /* sum, mean */
    mt_shape shape;    /* reshape: the new shape */
} mt_op_args;

/* Where gradcheck draws an input: uniform in [lo, hi], redrawn while |x| < min_abs (to keep
 * log, sqrt and div away from 0 and relu away from its kink). A `labels` input is not
 * differentiated: it is drawn as integers in [lo, hi). */
typedef struct mt_domain {
    double lo, hi, min_abs;
    bool   labels;
} mt_domain;

/* One shape case for gradcheck (and the op's own documentation of what it accepts). */
typedef struct mt_case {
    const char *name;
    mt_shape    in[MT_MAX_INPUTS];
    mt_op_args  args;
} mt_case;

/* forward: computes the output (a new tensor in the current arena) from the inputs, saving in
 *   ctx what backward needs. On bad shapes it calls mt_error naming the op and the shapes and
 *   returns NULL.
 * backward: given the gradient of the output, ADDS the gradient of each input into grad_in[i]
 *   (a tensor of input i's shape). grad_in[i] is NULL when input i needs no gradient. */
typedef mt_tensor *(*mt_forward_fn)(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args);
typedef void (*mt_backward_fn)(const mt_ctx *ctx, const mt_tensor *grad_out,
                               mt_tensor *const *grad_in);

/* Everything about one op, in one place (src/ops/<name>.c), listed once in src/ops/ops.def. */
typedef struct mt_op {
    const char    *name;            /* "mul" */
    const char    *backward_name;   /* "MulBackward0", as grad_fn=<...> prints it */
    int            arity;           /* tensor inputs */
    mt_forward_fn  forward;
    mt_backward_fn backward;
    mt_domain      domain[MT_MAX_INPUTS];
    const mt_case *cases;           /* gradcheck's shape cases */
    int            ncases;
} mt_op;

/* The registry: every op, in the order of src/ops/ops.def. */
int          mt_op_count(void);
const mt_op *mt_op_at(int i);
const mt_op *mt_op_find(const char *name);   /* NULL when no op has that name */
bool         mt_op_registered(const mt_op *op);

/* Applies an op: the handout's Function.apply. Returns NULL after reporting an error. */
mt_tensor *mt_apply(const mt_op *op, mt_tensor *const *inputs, const mt_op_args *args);

/* ---- the graph -------------------------------------------------------------------------- */
typedef enum mt_node_kind {
    MT_ACCUMULATE_GRAD,      /* a leaf that requires grad: adds what reaches it into .grad */
    MT_BACKWARD_FUNCTION     /* an op's backward, with the context its forward filled */
} mt_node_kind;

struct mt_node {
    mt_node_kind kind;
    uint32_t     id;                          /* unique per process */
    const mt_op *op;                          /* BackwardFunction: the op */
    mt_tensor   *variable;                    /* AccumulateGrad: the leaf; BackwardFunction: the output */
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
    MT_DFS,    /* the handout's recursive depth-first walk: a node runs once per path to it */
    MT_TOPO    /* PyTorch's: each node runs once, after every gradient into it has been summed */
} mt_traversal;
/* Neither walk recurses in C: MT_DFS keeps the recursion's stack in an array (the observer sees
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

/* No-grad mode: while off, ops build no nodes and their outputs require no grad. Per thread. */
bool mt_set_grad_enabled(bool on);            /* returns the previous setting */
bool mt_is_grad_enabled(void);

/* ---- the observer: everything a graph exporter or a step-by-step viewer needs -------------- */
typedef enum mt_event_kind {
    MT_EV_NODE_CREATED,   /* forward made `node` for output `tensor` from `inputs` */
    MT_EV_BACKWARD_BEGIN, /* backward starts at `tensor` with seed `grad` (how: `traversal`) */
    MT_EV_VISIT,          /* backward reached `node` with the gradient `grad` */
    MT_EV_GRAD_PASSED,    /* `node` passes `grad` to its parent `parent` (input `input_index`) */
    MT_EV_ACCUMULATE,     /* AccumulateGrad `node` adds `grad` into leaf `tensor`: `before`
                             (a copy; NULL on the first time) and `after` (the leaf's .grad).
                             None for a leaf that stopped requiring grad, as in PyTorch. */
    MT_EV_BACKWARD_END
} mt_event_kind;

typedef struct mt_event {
    mt_event_kind     kind;
    const mt_node    *node;
    const mt_node    *parent;
    int               input_index;
    const mt_tensor  *tensor;
    const mt_tensor  *grad;
    const mt_tensor  *before;
    const mt_tensor  *after;
    mt_tensor *const *inputs;     /* NODE_CREATED: the op's inputs */
    int               ninputs;
    mt_traversal      traversal;  /* every backward event: the walk it belongs to */
} mt_event;

typedef void (*mt_observer_fn)(const mt_event *ev, void *user);
/* One observer at a time; NULL removes it. Tensors in an event are valid during the call only
 * unless they live in an arena you keep. */
void mt_set_observer(mt_observer_fn fn, void *user);

#endif
