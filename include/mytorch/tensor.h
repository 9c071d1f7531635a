/* tensor.h: double-precision tensors, the arenas that own them, and a portable seeded RNG.
 *
 * A tensor is contiguous row-major data of 0 to 4 dimensions plus the autograd fields with
 * PyTorch's meanings (requires_grad, is_leaf, grad_fn, grad, is_parameter). */
#ifndef MYTORCH_TENSOR_H
#define MYTORCH_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_MAX_DIMS 4
#define MT_LABEL_MAX 32

/* A shape: ndim 0 is a scalar. Build one with MT_SHAPE(3, 4) or MT_SCALAR_SHAPE. */
typedef struct mt_shape {
    int ndim;
    int dim[MT_MAX_DIMS];
} mt_shape;

#define MT_SHAPE(...) ((mt_shape)MT_DIMS(__VA_ARGS__))
#define MT_SCALAR_SHAPE ((mt_shape)MT_SCALAR_DIMS)
/* The same as initializers of static tables: mt_shape s = MT_DIMS(3, 4);
 * More than MT_MAX_DIMS dimensions (MT_SHAPE(1, 2, 3, 4, 5)) is a compile-time error. */
#define MT_DIMS(...)                                                                        \
    { (int)(sizeof((int[]){ __VA_ARGS__ }) / sizeof(int)                                    \
            + 0 * sizeof(struct { int n; _Static_assert(MT_NARGS_(__VA_ARGS__) <= MT_MAX_DIMS, \
                     "MT_SHAPE and MT_DIMS take at most MT_MAX_DIMS (4) dimensions"); })),   \
      { __VA_ARGS__ } }
#define MT_SCALAR_DIMS { 0, { 0 } }
/* how many arguments (up to 16), as a constant the static assertion above can test */
#define MT_NARGS_(...) \
    MT_NARGS_N_(__VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define MT_NARGS_N_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, n, ...) n

/* The number of elements: 1 for a scalar, 0 when a dimension is 0. SIZE_MAX when the count does
 * not fit in a size_t, or when s is not a shape (ndim outside [0, 4], a negative dimension):
 * a count that cannot be confused with a real one. */
size_t mt_shape_numel(mt_shape s);
bool   mt_shape_equal(mt_shape a, mt_shape b);
/* Writes "(3, 4)" (or "()" for a scalar) into buf; returns buf. A shape with an ndim outside
 * [0, 4] is written as "(invalid: 5 dimensions)". */
char  *mt_shape_str(mt_shape s, char *buf, size_t n);

typedef struct mt_arena mt_arena;
typedef struct mt_node mt_node;

typedef struct mt_tensor {
    double   *data;          /* numel values, row-major; owned by the tensor's arena */
    mt_shape  shape;
    size_t    numel;
    bool      requires_grad; /* default false; set with mt_requires_grad */
    bool      is_leaf;       /* true unless produced by an op that built a node */
    bool      is_parameter;  /* set with mt_make_parameter; implies requires_grad and is_leaf */
    struct mt_tensor *grad;  /* leaves that require grad: NULL until the first backward */
    mt_node  *grad_fn;       /* the BackwardFunction that made this tensor; NULL for leaves */
    mt_node  *accumulate;    /* leaves that require grad: their AccumulateGrad node, made once */
    mt_arena *arena;         /* the arena that owns this tensor, its data, grad and nodes */
    uint32_t  id;            /* unique per process: names the tensor in observer events */
    char      label[MT_LABEL_MAX]; /* optional name for printing and graph tools ("a") */
} mt_tensor;

/* ---- arenas: who owns what --------------------------------------------------------------
 * Every tensor, its data, its grad and the graph nodes made for it live in an arena. Nothing
 * is freed one by one: mt_arena_reset() releases everything allocated in an arena at once
 * (keeping its memory for reuse) and mt_arena_free() gives the memory back.
 * New tensors go into the *current* arena. At start-up that is the default arena, which
 * lives until mt_shutdown(). A training loop keeps its parameters in one arena and makes a
 * second, per-step arena current during forward and backward; resetting it after the
 * optimizer step leaves nothing behind, so memory stays flat from step to step.
 * A pointer into an arena is invalid after that arena is reset or freed. */
mt_arena *mt_arena_new(void);
void      mt_arena_free(mt_arena *a);           /* NULL is fine */
void      mt_arena_reset(mt_arena *a);
mt_arena *mt_arena_current(void);
mt_arena *mt_arena_use(mt_arena *a);            /* makes a current; returns the previous one */
size_t    mt_arena_used(const mt_arena *a);     /* bytes handed out since the last reset */
size_t    mt_arena_reserved(const mt_arena *a); /* bytes held from the system */
/* 64-byte aligned, from a (NULL: the current arena); aborts with a message when out of memory
 * (a request too large for any allocator included). */
void     *mt_arena_alloc(mt_arena *a, size_t bytes);
void      mt_shutdown(void);                    /* frees this thread's default arena and state */

/* ---- creation: every function returns a leaf in the current arena ----------------------
 * A shape that is not one (a negative dimension, more than 4 dimensions) or that holds more
 * doubles than memory can address is reported, naming the function and the shape, and NULL
 * is returned. Running out of memory for a shape that could exist aborts (mt_arena_alloc). */
mt_tensor *mt_empty(mt_shape s);                /* uninitialised data */
mt_tensor *mt_zeros(mt_shape s);
mt_tensor *mt_ones(mt_shape s);
mt_tensor *mt_full(mt_shape s, double value);
mt_tensor *mt_scalar(double value);             /* 0-D */
/* copies numel values (data NULL: refused unless numel is 0) */
mt_tensor *mt_from_data(mt_shape s, const double *data);
mt_tensor *mt_zeros_like(const mt_tensor *t);
mt_tensor *mt_copy(const mt_tensor *t);         /* same values and requires_grad, new leaf */
mt_tensor *mt_detach(const mt_tensor *t);       /* same values, new leaf, requires_grad false */

/* ---- autograd flags (the invariants are kept here, not by convention) -------------------- */
/* Sets requires_grad on a leaf and returns it. Turning it off on a non-leaf, or on a
 * parameter, is refused with an error (the tensor is returned unchanged). */
mt_tensor *mt_requires_grad(mt_tensor *t, bool on);
/* Marks a leaf as a parameter (which also makes it require grad). Refused for non-leaves. */
mt_tensor *mt_make_parameter(mt_tensor *t);
mt_tensor *mt_set_label(mt_tensor *t, const char *label);
/* Checks is_parameter => requires_grad && is_leaf, !requires_grad => is_leaf, grad shape. */
bool mt_tensor_check(const mt_tensor *t);

/* ---- values ---------------------------------------------------------------------------- */
double mt_item(const mt_tensor *t);             /* the value of a one-element tensor */
void   mt_fill(mt_tensor *t, double value);
/* Prints like PyTorch: tensor([[1., 2.]], requires_grad=True) or ..., grad_fn=<MulBackward0>) */
void   mt_print(const mt_tensor *t);
void   mt_fprint(FILE *f, const mt_tensor *t);
/* Same text into buf (truncated to n-1 chars); returns the length it would have had. */
size_t mt_format(const mt_tensor *t, char *buf, size_t n);

/* ---- random numbers: xoshiro256** seeded by splitmix64, the same on every machine -------- */
typedef struct mt_rng { uint64_t s[4]; } mt_rng;
void     mt_rng_seed(mt_rng *r, uint64_t seed);
uint64_t mt_rng_next(mt_rng *r);
double   mt_rng_uniform(mt_rng *r);             /* [0, 1) with 53 random bits */
double   mt_rng_normal(mt_rng *r);              /* standard normal, Box-Muller */
uint64_t mt_rng_below(mt_rng *r, uint64_t n);   /* uniform in [0, n), unbiased */
mt_rng  *mt_default_rng(void);                  /* the generator mt_manual_seed seeds */
void     mt_manual_seed(uint64_t seed);
mt_tensor *mt_rand(mt_shape s, double lo, double hi, mt_rng *r); /* r NULL: default rng */
mt_tensor *mt_randn(mt_shape s, double mean, double std, mt_rng *r);

#ifdef __cplusplus
}
#endif

#endif
