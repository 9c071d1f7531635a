/* gradcheck.h: the gradient checker behind mytorch-gradcheck, also used by the tests and the
 * MNIST trainer. It compares the gradients backward computes with finite differences, and when
 * they disagree it says where, by how much, and what kind of mistake the numbers look like.
 *
 * What it checks is a *function*: a differentiable function of up to MT_GC_MAX_INPUTS tensors.
 * There are two kinds, and both go through the same mt_gc_check:
 *   - an op case: one mt_op applied to its inputs at the shapes of one mt_case. A registered op
 *     is run through mt_apply and the engine (both traversals) and also called directly; an op
 *     that is not in the registry (a test's deliberately broken op) is called directly, its
 *     forward and backward as the engine would call them, since mt_apply refuses it.
 *   - a graph: a callback that builds the output from the inputs with any ops or modules (a
 *     Linear layer as a function of x, weight and bias; a whole network as a function of its
 *     parameters). Inputs a module owns are "bound": the checker writes their values and reads
 *     their .grad instead of making tensors of its own.
 *
 * The check, for inputs drawn from each input's mt_domain with a seeded generator and a random
 * R of the output's shape (so that every output element matters):
 *   1. the gradient of L = sum(f(x) * R) from backward (seeded with R), for every path (engine
 *      DFS, engine TOPO, direct call), against central differences (L(x+h) - L(x-h)) / 2h,
 *      element by element: |analytical - numerical| <= atol + rtol * |numerical|;
 *   2. the whole Jacobian d f / d x, entry by entry with the same test, as
 *      torch.autograd.gradcheck does (rows from backward seeded with one-hot gradients);
 *   3. structure: each gradient has its input's shape; two backward calls give twice the
 *      gradient (backward adds, it does not overwrite); a seed of 2R gives twice the gradient;
 *      a zero seed gives zero.
 * An element whose one-sided differences (L(x+h) - L(x)) / h and (L(x) - L(x-h)) / h disagree,
 * with the analytical value between them, sits on a kink (relu at 0): it is a KINK, not a
 * FAIL; that input element is redrawn and the function checked again, up to max_redraws times.
 *
 * Evaluations run in a scratch arena that is reset after each one, so memory stays bounded.
 * While mt_gc_check runs it installs its own error handler (library errors become part of the
 * result) and puts the caller's handler back when it returns.
 *
 * Ownership: a mt_gc_func owns its `self` when it has a release function (mt_gc_func_release calls
 * it); mt_gc_cases_default returns an array that mt_gc_cases_free releases; a mt_gc_result holds
 * Jacobians only when asked (keep_jacobians), released by mt_gc_result_free.
 *
 * For an element-wise op with a local_grad (op.h), each check also verifies the registry's
 * chain rule: backward must equal unbroadcast(grad_out * local_grad) at the same inputs and R
 * (local.c), a failure reported like any other.
 *
 * Tolerances: each function has its own (an op's mt_op.tol, chosen from the measured
 * finite-difference error of the correct op with a margin, see --measure-error), else the
 * defaults below; options can replace them for every function (--atol, --rtol, or PyTorch's
 * with --pytorch-tolerances).
 *
 * Where each part lives: func.c builds the function under test, check.c checks it (with the
 * two gradients from gradients.c), diagnose.c explains a failure, local.c checks the chain rule
 * of local_grad, report.c prints a run (rows, JSON lines, Jacobians, re-run and viewer
 * commands), measure.c measures the finite-difference error over many seeds, cases.c holds the
 * default list (gradcheck_impl.h is what they share). Drawing the heatmaps is apart, in
 * heatmap.h, so that this checker links without any drawing library. */
#ifndef MYTORCH_GRADCHECK_H
#define MYTORCH_GRADCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mytorch/mytorch.h"

#define MT_GC_MAX_INPUTS 8
#define MT_GC_NAME_MAX   64
#define MT_GC_TEXT_MAX   4096

#define MT_GC_DEFAULT_EPS  1e-6    /* torch.autograd.gradcheck's step h */
/* The tolerances of a function that has none of its own (modules, ops outside the registry,
 * ops whose mt_op.tol is 0), |a - n| <= atol + rtol |n|. In double precision the central
 * differences of every op and module here are within 5e-9 of backward over 200 seeds
 * (--measure-error), so atol 1e-6 leaves a margin of at least 200x, and still fails a
 * gradient off by 5e-6, or by 1e-4 relative wherever |n| > 0.01. rtol 1e-6 is 100 times
 * below that relative mistake and far above the relative error measured. The registry's ops
 * carry tighter ones of their own (mt_op.tol): the smallest 1, 2 or 5 times a power of ten
 * that is MT_GC_MEASURE_MARGIN times the op's largest error, and no less than
 * MT_GC_ATOL_FLOOR. */
#define MT_GC_DEFAULT_ATOL 1e-6
#define MT_GC_DEFAULT_RTOL 1e-6
#define MT_GC_ATOL_FLOOR   1e-8   /* linear ops differ exactly: their error is ~1e-16 */
/* torch.autograd.gradcheck's, for comparison (--pytorch-tolerances): made for single
 * precision, ~10,000 times the finite-difference error in double, they let gradients off by
 * 1e-4 relative or 5e-6 absolute pass. */
#define MT_GC_PYTORCH_ATOL 1e-5
#define MT_GC_PYTORCH_RTOL 1e-3
/* mt_gc_options.atol / rtol: each function's own tolerance (the default options) */
#define MT_GC_TOL_OWN (-1.0)
/* A kink is a jump in the derivative: the one-sided differences differ by more than this
 * (whatever the comparison's tolerances), which h times a smooth function's curvature never
 * reaches in these domains; tighter, a small mistake could pass for a kink. */
#define MT_GC_KINK_ATOL 1e-5
#define MT_GC_KINK_RTOL 1e-3
/* The chain-rule check (local.c): backward and grad_out * local_grad compute one product in
 * two orders, so they agree to rounding: within this times the sum of |terms| per element. */
#define MT_GC_LOCAL_RTOL 1e-10
#define MT_GC_DEFAULT_REDRAWS 8
#define MT_GC_PROGRAM "mytorch-gradcheck"   /* the re-run command's program when none is set */

/* The values the options accept (mt_gc_option_accepts): a step h below MT_GC_EPS_MIN drowns
 * the differences in rounding error (inputs are of order 1, and x + h must differ from x by
 * many ulps), one above MT_GC_EPS_MAX measures a secant, not a derivative; a tolerance above 1
 * lets any gradient of order 1 pass. */
#define MT_GC_EPS_MIN  1e-12
#define MT_GC_EPS_MAX  1e-1
#define MT_GC_ATOL_MAX 1.0
#define MT_GC_RTOL_MAX 1.0

/* ---- functions ------------------------------------------------------------------------------ */

/* A graph function: builds f(in) in the current arena from the inputs (in the order they were
 * added), returns NULL after an error. */
typedef mt_tensor *(*mt_gc_forward_fn)(void *self, mt_tensor *const *in);

typedef struct mt_gc_func {
    char name[MT_GC_NAME_MAX];       /* "mul", "nn.Linear": what --op matches */
    char case_name[MT_GC_NAME_MAX];  /* "bcast_3x1_1x4": what --case matches */
    int  nin;
    char       in_name[MT_GC_MAX_INPUTS][MT_GC_NAME_MAX];  /* "a", "b", "weight" */
    mt_shape   shape[MT_GC_MAX_INPUTS];
    mt_domain  domain[MT_GC_MAX_INPUTS];     /* labels inputs are drawn, never differentiated */
    mt_tensor *bound[MT_GC_MAX_INPUTS];      /* a tensor the function owns, or NULL */
    mt_tol     tol;                          /* its own tolerances; a field 0: the default */

    /* an op case: op input k is function input use[k] (x * x: use = {0, 0}) */
    const mt_op *op;
    mt_op_args   args;
    int          use[MT_MAX_INPUTS];

    /* a graph */
    mt_gc_forward_fn forward;
    void         *self;
    void        (*release)(void *self);

    const char *defect;   /* set when the function cannot be checked: mt_gc_check fails with it */
} mt_gc_func;

/* op case c of op (c NULL: the op has no cases, which mt_gc_check reports as a failure). Works for
 * any mt_op, registered or not. Inputs are named a, b, c, d; their domains are the case's when
 * it has its own (mt_case.domain), else the op's; the tolerances are the op's. */
void mt_gc_func_op(mt_gc_func *f, const mt_op *op, const mt_case *c);
/* The same op with one tensor x in every input slot (x * x, x @ x): checks that the gradients
 * through every use are summed. Shapes come from c, the domain is the intersection of the
 * op's domains. Sets f->defect when c's input shapes differ or a domain is empty. */
void mt_gc_func_op_tied(mt_gc_func *f, const mt_op *op, const mt_case *c);
/* A graph function with no inputs yet; self is released with release (NULL: not owned). */
void mt_gc_func_graph(mt_gc_func *f, const char *name, const char *case_name,
                      mt_gc_forward_fn forward, void *self, void (*release)(void *self));
/* Adds an input; bound is a tensor the function owns (a module parameter) or NULL. Returns its
 * index, or -1 when there are already MT_GC_MAX_INPUTS. */
int  mt_gc_func_add_input(mt_gc_func *f, const char *name, mt_shape shape, mt_domain domain,
                       mt_tensor *bound);
void mt_gc_func_release(mt_gc_func *f);     /* releases self when owned; NULL is fine */

/* ---- options and results --------------------------------------------------------------------- */

struct mt_gc_result;

/* Draws the heatmap of one checked function into the PNG file path (heatmap.h's
 * mt_gc_heatmap_write is one): 0, or -1 with a message naming the file in err. */
typedef int (*mt_gc_heatmap_fn)(const char *path, const mt_gc_func *f,
                                const struct mt_gc_result *r, char *err, size_t errlen);

typedef struct mt_gc_options {
    double      eps;               /* MT_GC_DEFAULT_EPS; the range mt_gc_option_accepts gives */
    double      atol, rtol;        /* MT_GC_TOL_OWN: each function's own tolerance (the default);
                                      otherwise, in the range mt_gc_option_accepts gives, this
                                      one for every function */
    uint64_t    seed;              /* 0; each function's inputs depend on it and its names only */
    int         max_redraws;       /* MT_GC_DEFAULT_REDRAWS */
    bool        keep_jacobians;    /* fill mt_gc_result.jac (mt_gc_run sets it for verbose and
                                      heatmap) */
    bool        skip_local;        /* leave out the chain-rule check of local_grad, to see what
                                      the finite differences catch alone (--no-local-grad) */
    bool        json, verbose;     /* mt_gc_run's output */
    const char *heatmap_dir;       /* mt_gc_run: a PNG per function there; NULL: none */
    mt_gc_heatmap_fn heatmap;      /* what draws those PNGs; NULL: heatmap_dir is refused, so
                                      that only a program that draws links the drawing code */
    const char *program;           /* the re-run command's program: the command sets its argv[0];
                                      MT_GC_PROGRAM */
    FILE       *summary;           /* mt_gc_run's closing line; NULL: stderr with json, else out */
} mt_gc_options;

void mt_gc_options_init(mt_gc_options *o);

/* Whether option flag ("--eps", "--atol" or "--rtol") accepts v: NULL when it does, otherwise
 * the accepted range and what the option is, as static text ("[1e-12, 0.1]: the step h of the
 * finite differences"). NaN and infinities are never accepted; an unknown flag accepts nothing. */
const char *mt_gc_option_accepts(const char *flag, double v);
/* NULL when o's eps, atol and rtol are all accepted (atol and rtol may also be MT_GC_TOL_OWN);
 * otherwise the first that is not, named by its flag with its value and range, in buf.
 * mt_gc_check refuses (FAIL, "cannot be checked") options that are not accepted. */
const char *mt_gc_options_problem(const mt_gc_options *o, char *buf, size_t n);

typedef enum mt_gc_status { MT_GC_PASS, MT_GC_KINK, MT_GC_FAIL } mt_gc_status;

/* Diagnoses: what a failure looks like. Several can fit at once (x * x with a forgotten term
 * is also off by a factor 0.5); mt_gc_result.text explains each one that does. */
enum {
    MT_GC_DIAG_FORWARD    = 1u << 0,   /* forward failed or gave a non-finite value */
    MT_GC_DIAG_SHAPE      = 1u << 1,   /* a gradient does not have its input's shape */
    MT_GC_DIAG_ZERO       = 1u << 2,   /* analytical zero where numerical is not */
    MT_GC_DIAG_SIGN       = 1u << 3,   /* analytical = -numerical */
    MT_GC_DIAG_FACTOR     = 1u << 4,   /* analytical = k * numerical, k constant
                                       (mt_gc_result.factor) */
    MT_GC_DIAG_TRANSPOSED = 1u << 5,   /* analytical = numerical transposed */
    MT_GC_DIAG_BROADCAST  = 1u << 6,   /* a broadcast input's gradient is not summed over the
                                       broadcast dims: one slice of it, or the mean */
    MT_GC_DIAG_TERM       = 1u << 7,   /* an input used several times gets only some of its terms */
    MT_GC_DIAG_OVERWRITE  = 1u << 8,   /* backward overwrites its input gradients (= for +=) */
    MT_GC_DIAG_SCALE      = 1u << 9,   /* gradient not linear in the seed (2R, or 0) */
    MT_GC_DIAG_TRAVERSAL  = 1u << 10,  /* DFS and TOPO disagree */
    MT_GC_DIAG_ENGINE     = 1u << 11,  /* the op's backward is right called directly, not through
                                       the engine */
    MT_GC_DIAG_NO_CASES   = 1u << 12,  /* the function cannot be checked (mt_gc_func.defect) */
    MT_GC_DIAG_JACOBIAN   = 1u << 13,  /* L's gradient agrees but some Jacobian entry does not */
    MT_GC_DIAG_LOCAL      = 1u << 14,  /* backward is not unbroadcast(grad_out * local_grad) */
    MT_GC_DIAG_OFFSET     = 1u << 15,  /* analytical = numerical + d, d constant */
    MT_GC_DIAG_RANGE      = 1u << 16,  /* wrong exactly where the input lies in one interval
                                          (a branch or a cut-off in the wrong place) */
    MT_GC_DIAG_LABELS     = 1u << 17   /* wrong exactly in the rows of some label values */
};

/* The Jacobians, when kept: nout rows (output elements, row-major) by ncols columns (the
 * differentiated inputs' elements, input after input; input i starts at col0[i], and
 * col0[i] = -1 for a labels input). */
typedef struct mt_gc_jacobian {
    size_t   nout, ncols;
    mt_shape out_shape;
    long     col0[MT_GC_MAX_INPUTS];
    double  *numerical, *analytical;   /* nout * ncols */
    unsigned char *bad;                /* nout * ncols: 1 where the entry fails */
    double   atol;                     /* the check's atol: differences below it are noise */
} mt_gc_jacobian;

typedef struct mt_gc_result {
    mt_gc_status status;
    size_t    elements;             /* input elements whose gradient was compared */
    double    max_abs_err, max_rel_err; /* over L's gradient, every path; rel only where
                                           |numerical| > atol */
    double    jac_max_abs_err;      /* over the Jacobian entries */
    double    atol, rtol;           /* the tolerances the check used */
    double    error;                /* max |analytical - numerical| over L's gradient (every path)
                                       and the Jacobian, elements on a kink left out: the
                                       finite-difference error when backward is right */
    double    margin;               /* min over the same of (atol + rtol |numerical|) /
                                       |analytical - numerical|: how many times the error could
                                       grow before the check fails (< 1: it failed; INFINITY
                                       when every error is 0) */
    double    seconds;
    int       redraws;              /* input points redrawn because of kinks */
    unsigned  diagnoses;            /* MT_GC_DIAG_* */
    double    factor;               /* MT_GC_DIAG_FACTOR: analytical / numerical */
    /* the worst mismatch of L's gradient (FAIL or KINK) */
    char      where[2 * MT_GC_NAME_MAX];   /* "b[2,1]" */
    char      path[32];                 /* "DFS", "TOPO", "direct" */
    double    numerical, analytical;
    char      text[MT_GC_TEXT_MAX];        /* what went wrong, in lines; "" when it passed */
    mt_gc_jacobian jac;                    /* when keep_jacobians */
} mt_gc_result;

/* Checks f with options o (NULL: the defaults); fills r (to release with mt_gc_result_free) and
 * returns r->status. The values of f's bound inputs are overwritten with the drawn ones. */
mt_gc_status mt_gc_check(const mt_gc_func *f, const mt_gc_options *o, mt_gc_result *r);
void      mt_gc_result_free(mt_gc_result *r);
const char *mt_gc_status_name(mt_gc_status s);            /* "PASS", "KINK", "FAIL" */

/* The command that re-runs just f with o's seed and tolerances, as a shell would read it:
 * o->program (quoted when it holds characters a shell would interpret), then --op, --case,
 * --seed, and --eps, --atol, --rtol where they are not the defaults. _new returns it in memory
 * the caller frees (NULL when out of memory); the other writes it into buf and returns buf, or
 * returns NULL when it does not fit in n bytes (buf then holds "", never a cut command). */
char *mt_gc_rerun_command_new(const mt_gc_func *f, const mt_gc_options *o);
char *mt_gc_rerun_command(const mt_gc_func *f, const mt_gc_options *o, char *buf, size_t n);

/* The command that shows f's case step by step in the viewer, "mytorch-viewer --op mul --case
 * same_3x4", the viewer named as o->program's directory would hold it; NULL when f is not a
 * case of a registered op as the op declares it (modules and tied cases are not the viewer's)
 * or when out of memory. The caller frees it. */
char *mt_gc_watch_command_new(const mt_gc_func *f, const mt_gc_options *o);

/* ---- running many: the command's output ------------------------------------------------------ */

/* Checks each function, printing a row each (or a JSON object per line with o->json), the
 * details of every failure, Jacobians with o->verbose and PNGs with o->heatmap_dir (drawn by
 * o->heatmap); then the closing line "N passed, M failed" (to stderr with o->json, so stdout
 * stays JSON lines). A KINK counts as passed. Returns the number failed, plus heatmaps and
 * JSON lines that could not be written. */
int mt_gc_run(const mt_gc_func *fs, int n, const mt_gc_options *o, FILE *out);

/* The PNG mt_gc_run writes for f in dir: DIR/NAME--CASE.png, unsafe characters of the names
 * replaced by '_'. _new returns it in memory the caller frees (NULL when out of memory); the
 * other writes it into buf and returns buf, or NULL when it does not fit in n bytes. */
char *mt_gc_heatmap_path_new(const char *dir, const mt_gc_func *f);
char *mt_gc_heatmap_path(const char *dir, const mt_gc_func *f, char *buf, size_t n);

/* Every case of every registered op, a tied case for each op of two or more inputs that has a
 * case with equal input shapes, then the modules: nn.Linear, nn.ReLU, nn.BatchNorm1d (training),
 * nn.CrossEntropyLoss, nn.functional.log_softmax and a small MLP (Linear, BatchNorm1d, ReLU,
 * Linear) as a function of its parameters. Returns how many (and *out, to release with
 * mt_gc_cases_free), or -1 when out of memory. */
int  mt_gc_cases_default(mt_gc_func **out);
void mt_gc_cases_free(mt_gc_func *fs, int n);

/* Measures the finite-difference error of each function over `seeds` seeds (o->seed and on),
 * with o's tolerances: a row per function (the largest error, the tolerance, the smallest
 * margin, the failures), then a row per op or module: its largest error, the atol that would
 * give a margin of MT_GC_MEASURE_MARGIN, and the margin of the one it has. Returns the number
 * of functions that failed at some seed. */
#define MT_GC_MEASURE_MARGIN 100.0
int  mt_gc_measure(const mt_gc_func *fs, int n, const mt_gc_options *o, int seeds, FILE *out);

/* Checks every default case with default options: for programs that want to refuse to run on
 * a broken library. Prints as mt_gc_run does, or, when quiet, only each failure in full with
 * the command that re-runs it. Returns the number failed; *ncases (when not NULL) gets the
 * number of cases. */
int  mt_gc_check_all(FILE *out, bool quiet, int *ncases);

#endif
