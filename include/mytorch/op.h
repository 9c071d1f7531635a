/* op.h: what an op is. An op (src/ops/<name>.c) is one mt_op value holding everything about it:
 * its names, its display symbol and chain rule for graph tools, its forward and backward, and
 * the domains and shape cases gradcheck checks it on. The registry (src/ops/ops.def) lists every
 * op once; mt_apply runs one and builds its graph node (autograd.h).
 *
 * A new op in five lines (docs/adding-an-op.md walks through a whole one):
 *
 *     static const mt_case square_cases[] = { MT_UNARY_CASES };
 *     const mt_op mt_op_square = {
 *         .name = "square", .backward_name = "PowBackward0", .arity = 1, .symbol = "x²",
 *         .local_text = { "2a" }, .local_grad = square_local,
 *         .forward = square_forward, .backward = square_backward,
 *         .domain = { { .lo = -2, .hi = 2 } },
 *         .tol = { .atol = 1e-7, .rtol = 1e-6 },   // from mytorch-gradcheck --measure-error
 *         .cases = square_cases, .ncases = MT_COUNT(square_cases),
 *     };                                  // and MT_OP(square) in src/ops/ops.def */
#ifndef MYTORCH_OP_H
#define MYTORCH_OP_H

#include "tensor.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_MAX_INPUTS 4
#define MT_CTX_SLOTS 4
#define MT_AXIS_ALL 127      /* sum/mean over every element */
#define MT_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))   /* the elements of an array */

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

/* ---- an op's non-tensor arguments ---------------------------------------------------------
 * One struct for every op; each field lists the ops that read it (the others leave it zero). */
typedef struct mt_op_args {
    double   scalar;   /* pow: the exponent; batch_norm: eps */
    int      axis;     /* sum, mean, log_softmax: an axis (negative counts from the end), or
                          MT_AXIS_ALL (sum, mean) */
    bool     keepdim;  /* sum, mean: keep the reduced axis as size 1 */
    mt_shape shape;    /* reshape: the new shape (one dimension may be -1) */
} mt_op_args;

/* ---- how gradcheck checks it -------------------------------------------------------------
 * Where gradcheck draws an input: uniform in [lo, hi], redrawn while |x| < min_abs (to keep
 * log, sqrt and div away from 0 and relu away from its kink). A `labels` input is not
 * differentiated: it is drawn as integers in [lo, hi), each of them at least once when the
 * input has at least hi - lo elements (so every class of a loss gets its one-hot term), in a
 * random order. */
typedef struct mt_domain {
    double lo, hi, min_abs;
    bool   labels;
} mt_domain;

/* One shape case for gradcheck (and the op's own documentation of what it accepts). `domain`,
 * when not NULL, points to one domain per input that replaces the op's for this case only: a
 * case that reaches a part of the op the op-wide domain must leave out (pow's negative bases,
 * which only integer exponents accept; relu just beside its kink; labels up to a wider C).
 * The op's own domain must stay valid for every case. */
typedef struct mt_case {
    const char      *name;
    mt_shape         in[MT_MAX_INPUTS];
    mt_op_args       args;
    const mt_domain *domain;
} mt_case;

/* gradcheck's tolerances for an op's gradients: |analytical - numerical| <= atol + rtol
 * |numerical|. Chosen per op from the finite-difference error of the correct op at every one
 * of its cases over 200 seeds (mytorch-gradcheck --measure-error --seeds 200): atol at least
 * 100 times the largest error, which each op notes beside it. A field left 0 takes
 * gradcheck's default (gradcheck/gradcheck.h). */
typedef struct mt_tol {
    double atol, rtol;
} mt_tol;

/* ---- forward, backward and the local derivative -------------------------------------------
 * forward: computes the output (a new tensor in the current arena) from the inputs, saving in
 *   ctx what backward needs. On bad shapes it calls mt_error naming the op and the shapes and
 *   returns NULL.
 * backward: given grad_out, the gradient of the output, ADDS the gradient of each input into
 *   grad_in[i] (a tensor of input i's shape). grad_in[i] is NULL when input i needs no gradient.
 * local_grad (element-wise ops only): the local derivative d out[k] / d input[i] at one output
 *   element k, from the op's arguments, the inputs' values x[0..arity-1] at k (broadcast) and
 *   the output's value y. It needs no context, so a trace viewer can evaluate it too.
 *   Backward must equal unbroadcast(grad_out * local_grad): gradcheck verifies it, so what a
 *   viewer prints as the chain rule is what backward computed. */
typedef mt_tensor *(*mt_forward_fn)(mt_ctx *ctx, mt_tensor *const *in, const mt_op_args *args);
typedef void (*mt_backward_fn)(const mt_ctx *ctx, const mt_tensor *grad_out,
                               mt_tensor *const *grad_in);
typedef double (*mt_local_grad_fn)(const mt_op_args *args, int input, const double *x,
                                   double y);

/* Everything about one op, in one place (src/ops/<name>.c), listed once in src/ops/ops.def. */
typedef struct mt_op {
    const char    *name;            /* "mul" */
    const char    *backward_name;   /* "MulBackward0", as grad_fn=<...> prints it */
    int            arity;           /* tensor inputs */
    const char    *symbol;          /* "×": how a graph drawing names the op (UTF-8) */
    /* For each input, its local derivative as a formula in the inputs' names (a, b, ...), the
     * output y and the incoming gradient g: mul { "b", "a" }; div { "1/b", "−a/b²" }; matmul
     * { "g @ Bᵀ", "Aᵀ @ g" }. Ops whose rule is not a product (sum) say what backward does. */
    const char    *local_text[MT_MAX_INPUTS];
    mt_local_grad_fn local_grad;    /* element-wise ops; NULL for the others */
    mt_forward_fn  forward;
    mt_backward_fn backward;
    mt_domain      domain[MT_MAX_INPUTS];
    mt_tol         tol;             /* gradcheck's tolerances; { 0 }: its defaults */
    const mt_case *cases;           /* gradcheck's shape cases */
    int            ncases;
} mt_op;

/* The registry: every op, in the order of src/ops/ops.def. */
int          mt_op_count(void);
const mt_op *mt_op_at(int i);
const mt_op *mt_op_find(const char *name);   /* NULL when no op has that name */
bool         mt_op_registered(const mt_op *op);
/* NULL when op has every field a registered op must have (names, symbol, a formula per input,
 * forward, backward, cases); otherwise the name of the first missing field. */
const char  *mt_op_missing_field(const mt_op *op);

/* Applies an op: the handout's Function.apply (autograd.h says what it builds). Returns the
 * output, or NULL after reporting an error. */
mt_tensor *mt_apply(const mt_op *op, mt_tensor *const *inputs, const mt_op_args *args);

#ifdef __cplusplus
}
#endif

#endif
