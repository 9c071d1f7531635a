/* gradcheck_impl.h: what the checker's files share, and nothing outside gradcheck/ sees: the
 * state of one check, a session (one way of running backward), and the helpers each file
 * lends the others. Names here start with gc_, so the programs that link the checker never
 * meet a bare "eval" or "say".
 *   func.c      builds the function under test and evaluates it
 *   check.c     one check (mt_gc_check): inputs, comparisons, kinks; the options and results
 *   gradients.c the two gradients compared: finite differences, and backward along every path
 *               with its structure checks
 *   diagnose.c  explains a failure: where, on which paths, and the mistake the numbers fit
 *   local.c     the chain rule of an op's local_grad against its backward
 *   report.c    a run's output: rows, JSON lines, Jacobians, re-run commands (mt_gc_run)
 *   measure.c   the finite-difference error over many seeds (mt_gc_measure) */
#ifndef MYTORCH_GRADCHECK_IMPL_H
#define MYTORCH_GRADCHECK_IMPL_H

#include "gradcheck.h"

#include <math.h>

/* ---- the state of one check ------------------------------------------------------------------ */

/* The ways backward runs: through the engine with either traversal, or the op's own backward
 * called directly with the context its forward filled. */
typedef enum path_kind { PATH_DFS, PATH_TOPO, PATH_DIRECT } path_kind;
extern const char *const gc_path_names[];   /* "DFS", "TOPO", "direct", by path_kind */

/* What one way of running backward gave: L's gradient and the structural checks. */
typedef struct path {
    path_kind kind;
    double   *g[MT_GC_MAX_INPUTS];       /* backward seeded with R */
    bool      shape_bad[MT_GC_MAX_INPUTS];
    mt_shape  grad_shape[MT_GC_MAX_INPUTS];
    bool      grad_missing[MT_GC_MAX_INPUTS];  /* engine: the leaf got no .grad at all */
    int       acc_bad, scale_bad, zero_bad; /* first input (+1) failing each; 0: fine */
    bool      acc_overwrites;               /* two calls gave 1x: = instead of += */
    double    acc_ratio;                    /* what two calls gave, as a multiple */
    bool      failed;                       /* backward itself reported an error */
    bool      value_bad[MT_GC_MAX_INPUTS];     /* some element of L's gradient differs */
} path;

typedef struct check {
    const mt_gc_func    *f;
    const mt_gc_options *o;
    mt_gc_result        *r;
    mt_arena         *arena;                /* scratch: reset after every evaluation */
    mt_rng            rng;
    double           *x[MT_GC_MAX_INPUTS];     /* the input values */
    size_t            n[MT_GC_MAX_INPUTS];
    bool              diff[MT_GC_MAX_INPUTS];  /* differentiated: not a labels input */
    mt_shape          out_shape;
    size_t            nout;
    double           *R;                    /* the random linear functional, nout values */
    double           *out0;                 /* f(x) */
    double            L0;
    double           *num[MT_GC_MAX_INPUTS];   /* central differences of L */
    double           *fwd[MT_GC_MAX_INPUTS], *bwd[MT_GC_MAX_INPUTS]; /* one-sided */
    unsigned char    *kink[MT_GC_MAX_INPUTS];  /* elements found on a kink */
    int               npaths;
    path              paths[3];
    /* the Jacobians: numerical (central, and one-sided for kinks) and analytical */
    bool              use_jac;
    size_t            ncols;
    long              col0[MT_GC_MAX_INPUTS];
    double           *jn, *jf, *jb, *ja;
    unsigned char    *jbad;
    char              err[512];             /* the first library error since it was cleared */
    bool              oom;
} check;

/* One run of backward along one path, at values x of function f (c's, or a variant of it that
 * a diagnosis builds), in the current (scratch) arena. */
typedef struct session {
    check          *c;
    const mt_gc_func  *f;                    /* the function and its values (c's, or a variant) */
    double *const  *x;
    const bool     *diff;
    path_kind       kind;
    mt_tensor      *in[MT_GC_MAX_INPUTS];
    mt_tensor      *out;
    mt_ctx          ctx;
    mt_tensor      *buf[MT_GC_MAX_INPUTS];   /* direct: each input's gradient */
} session;

/* The test every comparison uses: |a - want| <= atol + rtol |want|. */
static inline bool gc_close_to(double a, double want, const mt_gc_options *o)
{
    return fabs(a - want) <= o->atol + o->rtol * fabs(want);
}

/* ---- func.c: evaluating the function under test ---------------------------------------------- */

/* Makes f's inputs from x in the current arena (a bound input gets the values written into it);
 * differentiated ones require grad when requires_grad. */
void gc_load_inputs(const mt_gc_func *f, double *const *x, const bool *diff, mt_tensor **in,
                    bool requires_grad);
/* f(in): through mt_apply (engine) or the op's forward called directly with ctx. */
mt_tensor *gc_forward(const mt_gc_func *f, mt_tensor *const *in, mt_ctx *ctx, bool engine);

/* ---- check.c: for the other files ------------------------------------------------------------ */

/* Appends a line (printf format) to r->text, cut short once the text is full. */
void gc_say(mt_gc_result *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- gradients.c: the two gradients, for check.c and diagnose.c ------------------------------ */

/* f(x) into out, without a graph. The first call (shape non-NULL) learns the output shape;
 * later ones must produce c->nout values. 0, or -1 when forward fails. */
int gc_eval(check *c, const mt_gc_func *f, double *const *x, const bool *diff, double *out,
            mt_shape *shape);
/* Central differences of L for input i of f at x: g[j]; one-sided ones into fwd/bwd and the
 * Jacobian's columns (from column col) when those are given. 0, or -1 when forward fails. */
int gc_numeric_input(check *c, const mt_gc_func *f, double **x, const bool *diff, int i,
                     double *g, double *fwd, double *bwd, long col);
/* Forward with a graph (engine) or with a context (direct). 0, or -1 with c->err set. */
int  gc_session_begin(session *s, check *c, const mt_gc_func *f, double *const *x,
                      const bool *diff, path_kind kind);
/* backward seeded with scale * seed (seed NULL: zeros; onehot >= 0: that one-hot row). */
int  gc_session_backward(session *s, const double *seed, double scale, long onehot);
/* Input i's gradient into dst: 0; 1 when the engine left no .grad (dst is zeros); -1 when
 * it has the wrong shape (*got says which). */
int  gc_session_read(session *s, int i, double *dst, mt_shape *got);
/* One path: L's gradient, then the structural checks, then (jac) the analytical Jacobian. */
void gc_run_path(check *c, path *p, bool jac);

/* ---- diagnose.c: explaining what failed ------------------------------------------------------ */

/* L's gradient differs: the worst element and its paths, then per failing input how many
 * elements differ, the mistake that fits, and which paths got it right. */
void gc_explain_gradient(check *c);
/* jac_bad Jacobian entries differ: the first of them; when L's gradient agreed (gradient_failed
 * false), that the mistake cancels in L. */
void gc_explain_jacobian(check *c, size_t jac_bad, bool gradient_failed);
/* The structure checks of every path: says each that failed; true when one did. */
bool gc_explain_structure(check *c);

/* ---- local.c: the chain rule ----------------------------------------------------------------- */

/* For an op function whose op has a local_grad: compares the first path's gradient (backward
 * seeded with R) with unbroadcast(R * local_grad) at the check's inputs and output. Says what
 * differs and returns true when it does; false when it agrees or there is no local_grad. */
bool gc_check_local(check *c);

/* ---- report.c: positions and shapes as text -------------------------------------------------- */

/* "b[2,1]", or "b[]" for a scalar: element flat of a tensor of shape s named name. */
char *gc_where_str(const char *name, mt_shape s, size_t flat, char *buf, size_t n);
/* "3x4", "()" for a scalar. */
char *gc_shape_compact(mt_shape s, char *buf, size_t n);

#endif
