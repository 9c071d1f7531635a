/* gradcheck.c: the checker (gradcheck.h). Draws inputs, runs backward along every path
 * (engine DFS and TOPO, the op's backward called directly), runs finite differences, compares,
 * classifies kinks, checks structure, and on a failure looks for the pattern that explains it.
 * Printing a whole run (rows, JSON, Jacobians) is at the end of this file. */
#include "gradcheck.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define JACOBIAN_MAX_ENTRIES 4000000u   /* larger Jacobians are not kept (L's gradient still is) */

/* ---- functions ------------------------------------------------------------------------------ */

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, MT_GC_NAME_MAX, "%s", src ? src : "");
}

static void func_clear(mt_gc_func *f)
{
    memset(f, 0, sizeof *f);
    for (int k = 0; k < MT_MAX_INPUTS; k++) f->use[k] = k;
}

void mt_gc_func_op(mt_gc_func *f, const mt_op *op, const mt_case *c)
{
    func_clear(f);
    f->op = op;
    copy_name(f->name, op && op->name ? op->name : "(unnamed op)");
    copy_name(f->case_name, c ? (c->name ? c->name : "(unnamed case)") : "(none)");
    if (!op) { f->defect = "no op"; return; }
    if (op->arity < 1 || op->arity > MT_MAX_INPUTS) {
        f->defect = "the op's arity is not between 1 and MT_MAX_INPUTS";
        return;
    }
    f->nin = op->arity;
    for (int k = 0; k < op->arity; k++) {
        snprintf(f->in_name[k], MT_GC_NAME_MAX, "%c", 'a' + k);
        f->domain[k] = op->domain[k];
        if (c) f->shape[k] = c->in[k];
    }
    if (!op->forward || !op->backward) { f->defect = "the op has no forward or no backward"; return; }
    if (!c) {
        f->defect = "the op has no gradcheck cases: give its mt_op at least one mt_case";
        return;
    }
    f->args = c->args;
}

void mt_gc_func_op_tied(mt_gc_func *f, const mt_op *op, const mt_case *c)
{
    mt_gc_func_op(f, op, c);
    if (f->defect) return;
    snprintf(f->case_name, MT_GC_NAME_MAX, "tied_%.*s", MT_GC_NAME_MAX - 6, c->name ? c->name : "");
    mt_domain d = op->domain[0];
    for (int k = 0; k < op->arity; k++) {
        mt_domain e = op->domain[k];
        if (!mt_shape_equal(c->in[k], c->in[0])) {
            f->defect = "a tied case needs every input of the same shape";
            return;
        }
        if (e.labels) { f->defect = "a tied case cannot use a labels input"; return; }
        if (e.lo > d.lo) d.lo = e.lo;
        if (e.hi < d.hi) d.hi = e.hi;
        if (e.min_abs > d.min_abs) d.min_abs = e.min_abs;
        f->use[k] = 0;
    }
    if (!(d.lo < d.hi) || (d.hi <= d.min_abs && d.lo >= -d.min_abs)) {
        f->defect = "the op's input domains have no common point for a tied case";
        return;
    }
    f->nin = 1;
    copy_name(f->in_name[0], "x");
    f->domain[0] = d;
}

void mt_gc_func_graph(mt_gc_func *f, const char *name, const char *case_name, mt_gc_forward_fn forward,
                   void *self, void (*release)(void *self))
{
    func_clear(f);
    copy_name(f->name, name);
    copy_name(f->case_name, case_name);
    f->forward = forward;
    f->self = self;
    f->release = release;
    if (!forward) f->defect = "no forward function";
}

int mt_gc_func_add_input(mt_gc_func *f, const char *name, mt_shape shape, mt_domain domain,
                      mt_tensor *bound)
{
    if (f->nin >= MT_GC_MAX_INPUTS) return -1;
    int i = f->nin++;
    copy_name(f->in_name[i], name);
    f->shape[i] = shape;
    f->domain[i] = domain;
    f->bound[i] = bound;
    return i;
}

void mt_gc_func_release(mt_gc_func *f)
{
    if (f && f->release && f->self) f->release(f->self);
    if (f) { f->self = NULL; f->release = NULL; }
}

void mt_gc_options_init(mt_gc_options *o)
{
    memset(o, 0, sizeof *o);
    o->eps = MT_GC_DEFAULT_EPS;
    o->atol = MT_GC_DEFAULT_ATOL;
    o->rtol = MT_GC_DEFAULT_RTOL;
    o->max_redraws = MT_GC_DEFAULT_REDRAWS;
    o->program = MT_GC_PROGRAM;
}

const char *mt_gc_status_name(mt_gc_status s)
{
    return s == MT_GC_PASS ? "PASS" : s == MT_GC_KINK ? "KINK" : "FAIL";
}

void mt_gc_result_free(mt_gc_result *r)
{
    if (!r) return;
    free(r->jac.numerical);
    free(r->jac.analytical);
    free(r->jac.bad);
    r->jac.numerical = r->jac.analytical = NULL;
    r->jac.bad = NULL;
}

char *mt_gc_rerun_command(const mt_gc_func *f, const mt_gc_options *o, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "%s --op '%s' --case '%s' --seed %llu",
                                  o->program ? o->program : MT_GC_PROGRAM, f->name, f->case_name,
                                  (unsigned long long)o->seed);
    if (o->eps != MT_GC_DEFAULT_EPS && len < n)
        len += (size_t)snprintf(buf + len, n - len, " --eps %.17g", o->eps);
    if (o->atol != MT_GC_DEFAULT_ATOL && len < n)
        len += (size_t)snprintf(buf + len, n - len, " --atol %.17g", o->atol);
    if (o->rtol != MT_GC_DEFAULT_RTOL && len < n)
        snprintf(buf + len, n - len, " --rtol %.17g", o->rtol);
    return buf;
}

/* ---- the state of one check ------------------------------------------------------------------ */

typedef enum path_kind { PATH_DFS, PATH_TOPO, PATH_DIRECT } path_kind;
static const char *const path_names[] = { "DFS", "TOPO", "direct" };

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

static void say(mt_gc_result *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void say(mt_gc_result *r, const char *fmt, ...)
{
    size_t len = strlen(r->text);
    if (len + 2 >= sizeof r->text) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text + len, sizeof r->text - len - 1, fmt, ap);
    va_end(ap);
    len = strlen(r->text);
    r->text[len] = '\n';
    r->text[len + 1] = '\0';
}

static void capture_error(const char *message, void *user)
{
    check *c = user;
    if (!c->err[0]) snprintf(c->err, sizeof c->err, "%s", message);
}

static void *xcalloc(check *c, size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) c->oom = true;
    return p;
}

/* "b[2,1]", or "b[]" for a scalar. */
static char *where_str(const char *name, mt_shape s, size_t flat, char *buf, size_t n)
{
    int idx[MT_MAX_DIMS];
    for (int d = s.ndim - 1; d >= 0; d--) {
        idx[d] = s.dim[d] > 0 ? (int)(flat % (size_t)s.dim[d]) : 0;
        flat /= s.dim[d] > 0 ? (size_t)s.dim[d] : 1;
    }
    size_t len = (size_t)snprintf(buf, n, "%s[", name);
    for (int d = 0; d < s.ndim && len < n; d++)
        len += (size_t)snprintf(buf + len, n - len, d ? ",%d" : "%d", idx[d]);
    if (len < n) snprintf(buf + len, n - len, "]");
    return buf;
}

/* "3x4", "()" for a scalar. */
static char *shape_compact(mt_shape s, char *buf, size_t n)
{
    if (s.ndim == 0) { snprintf(buf, n, "()"); return buf; }
    size_t len = 0;
    buf[0] = '\0';
    for (int d = 0; d < s.ndim && len < n; d++)
        len += (size_t)snprintf(buf + len, n - len, d ? "x%d" : "%d", s.dim[d]);
    return buf;
}

static uint64_t hash_names(const mt_gc_func *f)
{
    uint64_t h = 1469598103934665603ull;            /* FNV-1a over "name\0case" */
    for (const char *p = f->name; ; p++) { h = (h ^ (unsigned char)*p) * 1099511628211ull; if (!*p) break; }
    for (const char *p = f->case_name; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static double draw(mt_rng *rng, mt_domain d)
{
    if (d.labels) return d.lo + (double)mt_rng_below(rng, (uint64_t)(d.hi - d.lo));
    double v = d.lo;
    for (int tries = 0; tries < 10000; tries++) {
        v = d.lo + (d.hi - d.lo) * mt_rng_uniform(rng);
        if (fabs(v) >= d.min_abs) break;
    }
    return v;
}

static const char *domain_problem(mt_domain d)
{
    if (!isfinite(d.lo) || !isfinite(d.hi) || !isfinite(d.min_abs)) return "is not finite";
    if (d.labels)
        return d.lo < d.hi && d.lo == floor(d.lo) && d.hi == ceil(d.hi) ? NULL
             : "holds no integer (labels are drawn from [lo, hi))";
    if (!(d.lo < d.hi)) return "is empty (lo >= hi): give the op's mt_domain a range";
    if (d.hi <= d.min_abs && d.lo >= -d.min_abs) return "lies inside (-min_abs, min_abs)";
    return NULL;
}

/* ---- evaluating f ------------------------------------------------------------------------------ */

/* Makes f's inputs from x in the current arena (a bound input gets the values written into it). */
static void load_inputs(const mt_gc_func *f, double *const *x, const bool *diff, mt_tensor **in,
                        bool requires_grad)
{
    for (int i = 0; i < f->nin; i++) {
        if (f->bound[i]) {
            memcpy(f->bound[i]->data, x[i], f->bound[i]->numel * sizeof(double));
            in[i] = f->bound[i];
        } else {
            in[i] = mt_from_data(f->shape[i], x[i]);
            if (requires_grad && diff[i]) mt_requires_grad(in[i], true);
        }
    }
}

/* f(in): through mt_apply (engine) or the op's forward called directly with ctx. */
static mt_tensor *forward(const mt_gc_func *f, mt_tensor *const *in, mt_ctx *ctx, bool engine)
{
    if (!f->op) return f->forward(f->self, in);
    mt_tensor *opin[MT_MAX_INPUTS] = { 0 };
    for (int k = 0; k < f->op->arity; k++) opin[k] = in[f->use[k]];
    if (engine) return mt_apply(f->op, opin, &f->args);
    memset(ctx, 0, sizeof *ctx);
    ctx->nin = f->op->arity;
    for (int k = 0; k < f->op->arity; k++) ctx->in_shape[k] = opin[k]->shape;
    return f->op->forward(ctx, opin, &f->args);
}

/* f(x) into out, without a graph. The first call (shape non-NULL) learns the output shape;
 * later ones must produce c->nout values. 0, or -1 when forward fails. */
static int eval(check *c, const mt_gc_func *f, double *const *x, const bool *diff, double *out,
                mt_shape *shape)
{
    mt_arena *prev = mt_arena_use(c->arena);
    bool grad = mt_set_grad_enabled(false);
    mt_tensor *in[MT_GC_MAX_INPUTS];
    mt_ctx ctx;
    load_inputs(f, x, diff, in, false);
    mt_tensor *y = forward(f, in, &ctx, false);
    int rc = -1;
    if (y && shape) {
        *shape = y->shape;
        rc = 0;
    } else if (y && y->numel == c->nout) {
        memcpy(out, y->data, c->nout * sizeof(double));
        rc = 0;
    } else if (y && !c->err[0]) {
        char a[64], b[64];
        snprintf(c->err, sizeof c->err, "forward gave shape %s here and %s before",
                 mt_shape_str(y->shape, a, sizeof a), mt_shape_str(c->out_shape, b, sizeof b));
    }
    mt_set_grad_enabled(grad);
    mt_arena_use(prev);
    mt_arena_reset(c->arena);
    return rc;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t k = 0; k < n; k++) s += a[k] * b[k];
    return s;
}

/* Central differences of L for input i of f at x: g[j]; one-sided ones into fwd/bwd and the
 * Jacobian's columns (from column col) when those are given. 0, or -1 when forward fails. */
static int numeric_input(check *c, const mt_gc_func *f, double **x, const bool *diff, int i,
                         double *g, double *fwd, double *bwd, long col)
{
    double h = c->o->eps;
    size_t n = mt_shape_numel(f->shape[i]);
    double *outp = malloc(c->nout * sizeof(double)), *outm = malloc(c->nout * sizeof(double));
    int rc = 0;
    if (!outp || !outm) { c->oom = true; rc = -1; }
    for (size_t j = 0; j < n && rc == 0; j++) {
        double v = x[i][j];
        x[i][j] = v + h;
        rc = eval(c, f, x, diff, outp, NULL);
        x[i][j] = v - h;
        if (rc == 0) rc = eval(c, f, x, diff, outm, NULL);
        x[i][j] = v;
        if (rc) break;
        double lp = dot(outp, c->R, c->nout), lm = dot(outm, c->R, c->nout);
        g[j] = (lp - lm) / (2 * h);
        if (fwd) fwd[j] = (lp - c->L0) / h;
        if (bwd) bwd[j] = (c->L0 - lm) / h;
        if (col >= 0 && c->use_jac) {
            size_t cj = (size_t)col + j;
            for (size_t k = 0; k < c->nout; k++) {
                c->jn[k * c->ncols + cj] = (outp[k] - outm[k]) / (2 * h);
                c->jf[k * c->ncols + cj] = (outp[k] - c->out0[k]) / h;
                c->jb[k * c->ncols + cj] = (c->out0[k] - outm[k]) / h;
            }
        }
    }
    free(outp);
    free(outm);
    return rc;
}

/* ---- running backward ---------------------------------------------------------------------------- */

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

/* Forward with a graph (engine) or with a context (direct), in the current (scratch) arena. */
static int session_begin(session *s, check *c, const mt_gc_func *f, double *const *x,
                         const bool *diff, path_kind kind)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->f = f;
    s->x = x;
    s->diff = diff;
    s->kind = kind;
    load_inputs(f, x, diff, s->in, kind != PATH_DIRECT);
    s->out = forward(f, s->in, &s->ctx, kind != PATH_DIRECT);
    if (!s->out) return -1;
    if (s->out->numel != c->nout) {
        if (!c->err[0]) snprintf(c->err, sizeof c->err, "the output changed shape between runs");
        return -1;
    }
    if (kind == PATH_DIRECT) {
        for (int i = 0; i < f->nin; i++)
            if (diff[i]) s->buf[i] = mt_zeros(f->shape[i]);
    } else if (!s->out->requires_grad) {
        if (!c->err[0])
            snprintf(c->err, sizeof c->err, "the output does not require grad: no graph was built");
        return -1;
    }
    return 0;
}

static void session_zero(session *s)
{
    for (int i = 0; i < s->f->nin; i++) {
        if (!s->diff[i]) continue;
        if (s->kind == PATH_DIRECT) mt_fill(s->buf[i], 0.0);
        else mt_zero_grad(s->in[i]);
    }
}

/* backward seeded with scale * seed (seed NULL: zeros; onehot >= 0: that one-hot row). */
static int session_backward(session *s, const double *seed, double scale, long onehot)
{
    check *c = s->c;
    mt_tensor *g = mt_zeros(s->out->shape);
    if (seed) for (size_t k = 0; k < c->nout; k++) g->data[k] = scale * seed[k];
    if (onehot >= 0) g->data[onehot] = 1.0;
    if (s->kind != PATH_DIRECT)
        return mt_backward_ex(s->out, g, s->kind == PATH_DFS ? MT_DFS : MT_TOPO);
    mt_tensor *gin[MT_MAX_INPUTS] = { 0 };
    for (int k = 0; k < s->f->op->arity; k++) gin[k] = s->buf[s->f->use[k]];
    s->f->op->backward(&s->ctx, g, gin);
    return 0;
}

/* Input i's gradient into dst: 0; 1 when the engine left no .grad (dst is zeros); -1 when
 * it has the wrong shape (*got says which). */
static int session_read(session *s, int i, double *dst, mt_shape *got)
{
    size_t n = mt_shape_numel(s->f->shape[i]);
    const mt_tensor *g = s->kind == PATH_DIRECT ? s->buf[i] : s->in[i]->grad;
    if (!g) { memset(dst, 0, n * sizeof(double)); return 1; }
    if (got) *got = g->shape;
    if (!mt_shape_equal(g->shape, s->f->shape[i])) {
        memset(dst, 0, n * sizeof(double));
        if (g->numel == n) memcpy(dst, g->data, n * sizeof(double));
        return -1;
    }
    memcpy(dst, g->data, n * sizeof(double));
    return 0;
}

static bool close_to(double a, double want, const mt_gc_options *o)
{
    return fabs(a - want) <= o->atol + o->rtol * fabs(want);
}

/* One path: L's gradient, then the structural checks, then (jac) the analytical Jacobian. */
static void run_path(check *c, path *p, bool jac)
{
    const mt_gc_func *f = c->f;
    const mt_gc_options *o = c->o;
    mt_arena *prev = mt_arena_use(c->arena);
    bool grad = mt_set_grad_enabled(true);
    session s;
    double *tmp = NULL;
    size_t maxn = 1;
    for (int i = 0; i < f->nin; i++) if (c->n[i] > maxn) maxn = c->n[i];
    tmp = malloc(maxn * sizeof(double));
    if (!tmp) { c->oom = true; p->failed = true; goto done; }
    if (session_begin(&s, c, f, c->x, c->diff, p->kind) < 0) { p->failed = true; goto done; }

    /* 1. L's gradient */
    session_zero(&s);
    if (session_backward(&s, c->R, 1.0, -1) < 0) { p->failed = true; goto done; }
    for (int i = 0; i < f->nin; i++) {
        if (!c->diff[i]) continue;
        int rc = session_read(&s, i, p->g[i], &p->grad_shape[i]);
        p->shape_bad[i] = rc < 0;
        p->grad_missing[i] = rc == 1;
    }

    /* 2. a second backward adds the same again */
    if (session_backward(&s, c->R, 1.0, -1) < 0) { p->failed = true; goto done; }
    for (int i = 0; i < f->nin && !p->acc_bad; i++) {
        if (!c->diff[i] || p->shape_bad[i]) continue;
        session_read(&s, i, tmp, NULL);
        bool twice = true, once = true, any = false;
        double num = 0, den = 0;
        for (size_t j = 0; j < c->n[i]; j++) {
            twice &= close_to(tmp[j], 2 * p->g[i][j], o);
            once &= close_to(tmp[j], p->g[i][j], o);
            any |= fabs(p->g[i][j]) > o->atol;
            num += tmp[j] * p->g[i][j];
            den += p->g[i][j] * p->g[i][j];
        }
        if (!twice) {
            p->acc_bad = i + 1;
            p->acc_overwrites = once && any;
            p->acc_ratio = den > 0 ? num / den : NAN;
        }
    }

    /* 3. a seed of 2R gives twice the gradient; 4. a zero seed gives zero */
    session_zero(&s);
    if (session_backward(&s, c->R, 2.0, -1) < 0) { p->failed = true; goto done; }
    for (int i = 0; i < f->nin && !p->scale_bad; i++) {
        if (!c->diff[i] || p->shape_bad[i]) continue;
        session_read(&s, i, tmp, NULL);
        for (size_t j = 0; j < c->n[i]; j++)
            if (!close_to(tmp[j], 2 * p->g[i][j], o)) { p->scale_bad = i + 1; break; }
    }
    session_zero(&s);
    if (session_backward(&s, NULL, 0.0, -1) < 0) { p->failed = true; goto done; }
    for (int i = 0; i < f->nin && !p->zero_bad; i++) {
        if (!c->diff[i] || p->shape_bad[i]) continue;
        session_read(&s, i, tmp, NULL);
        for (size_t j = 0; j < c->n[i]; j++)
            if (!(fabs(tmp[j]) <= o->atol)) { p->zero_bad = i + 1; break; }
    }

    /* 5. the analytical Jacobian, a row per output element */
    if (jac && c->use_jac) {
        for (size_t k = 0; k < c->nout; k++) {
            session_zero(&s);
            if (session_backward(&s, NULL, 0.0, (long)k) < 0) { p->failed = true; goto done; }
            for (int i = 0; i < f->nin; i++) {
                if (!c->diff[i]) continue;
                session_read(&s, i, tmp, NULL);
                memcpy(c->ja + k * c->ncols + c->col0[i], tmp, c->n[i] * sizeof(double));
            }
        }
    }
done:
    free(tmp);
    mt_set_grad_enabled(grad);
    mt_arena_use(prev);
    mt_arena_reset(c->arena);
}

/* ---- diagnosis --------------------------------------------------------------------------------- */

static bool all_close(const double *a, const double *want, double k, size_t n, const mt_gc_options *o)
{
    for (size_t j = 0; j < n; j++)
        if (!close_to(a[j], k * want[j], o)) return false;
    return true;
}

static double max_abs(const double *a, size_t n)
{
    double m = 0;
    for (size_t j = 0; j < n; j++) if (fabs(a[j]) > m || isnan(a[j])) m = fabs(a[j]);
    return m;
}

/* Does `in` broadcast to `out` (right-aligned, each dim equal or 1) with fewer elements? */
static bool broadcasts(mt_shape in, mt_shape out)
{
    if (in.ndim > out.ndim || mt_shape_numel(in) >= mt_shape_numel(out)) return false;
    for (int d = 0; d < in.ndim; d++) {
        int a = in.dim[in.ndim - 1 - d], b = out.dim[out.ndim - 1 - d];
        if (a != b && a != 1) return false;
    }
    return true;
}

/* For output element m (flat, of shape out), the element of `in` broadcast to it, and the
 * index of its slice (a flat index over the broadcast dims). */
static void bcast_map(mt_shape in, mt_shape out, size_t m, size_t *in_flat, size_t *slice)
{
    int idx[MT_MAX_DIMS];
    for (int d = out.ndim - 1; d >= 0; d--) {
        idx[d] = (int)(m % (size_t)out.dim[d]);
        m /= (size_t)out.dim[d];
    }
    size_t fi = 0, fs = 0;
    int off = out.ndim - in.ndim;
    for (int d = 0; d < out.ndim; d++) {
        int ind = d - off;
        bool bdim = ind < 0 || (in.dim[ind] == 1 && out.dim[d] != 1);
        if (bdim) fs = fs * (size_t)out.dim[d] + (size_t)idx[d];
        if (ind >= 0) fi = fi * (size_t)in.dim[ind] + (bdim ? 0 : (size_t)idx[d]);
    }
    *in_flat = fi;
    *slice = fs;
}

/* "[0,:]": the slice's fixed broadcast indices and ':' for the other dims. */
static void slice_str(mt_shape in, mt_shape out, size_t slice, char *buf, size_t n)
{
    int off = out.ndim - in.ndim;
    int fixed[MT_MAX_DIMS];
    for (int d = out.ndim - 1; d >= 0; d--) {
        int ind = d - off;
        bool bdim = ind < 0 || (in.dim[ind] == 1 && out.dim[d] != 1);
        fixed[d] = -1;
        if (bdim) { fixed[d] = (int)(slice % (size_t)out.dim[d]); slice /= (size_t)out.dim[d]; }
    }
    size_t len = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < out.ndim && len < n; d++) {
        if (fixed[d] >= 0) len += (size_t)snprintf(buf + len, n - len, d ? ",%d" : "%d", fixed[d]);
        else len += (size_t)snprintf(buf + len, n - len, d ? ",:" : ":");
    }
    if (len < n) snprintf(buf + len, n - len, "]");
}

/* Missing broadcast reduction: input i of an op case is broadcast to the output; the true
 * gradient is the sum over the broadcast dims of the gradient of the expanded input. Looks for
 * a = one slice of it, or a = the mean. Needs the op to accept the expanded shape. */
static bool diagnose_broadcast(check *c, int i, const double *a)
{
    const mt_gc_func *f = c->f;
    mt_shape in = f->shape[i], out = c->out_shape;
    if (!f->op || !broadcasts(in, out)) return false;
    for (int k = 0; k < f->op->arity; k++)
        if (k != i && f->use[k] == i) return false;      /* tied: not a broadcast question */
    size_t nout = c->nout, nin = c->n[i], count = nout / nin;

    mt_gc_func e = *f;                                       /* input i expanded to the output shape */
    e.shape[i] = out;
    double *xe[MT_GC_MAX_INPUTS];
    memcpy(xe, c->x, sizeof xe);
    double *ex = malloc(nout * sizeof(double)), *G = malloc(nout * sizeof(double));
    double *slice = malloc(nin * sizeof(double));
    bool found = false;
    if (!ex || !G || !slice) { c->oom = true; goto out; }
    for (size_t m = 0; m < nout; m++) {
        size_t fi, s;
        bcast_map(in, out, m, &fi, &s);
        ex[m] = c->x[i][fi];
    }
    xe[i] = ex;
    char saved[sizeof c->err];
    memcpy(saved, c->err, sizeof saved);
    int rc = numeric_input(c, &e, xe, c->diff, i, G, NULL, NULL, -1);
    memcpy(c->err, saved, sizeof saved);                  /* expected failures stay quiet */
    if (rc < 0) goto out;
    for (size_t s = 0; s < count && !found; s++) {
        for (size_t m = 0; m < nout; m++) {
            size_t fi, sl;
            bcast_map(in, out, m, &fi, &sl);
            if (sl == s) slice[fi] = G[m];
        }
        if (all_close(a, slice, 1.0, nin, c->o) && max_abs(slice, nin) > c->o->atol) {
            char ss[64], si[64], so[64];
            slice_str(in, out, s, ss, sizeof ss);
            say(c->r, "diagnosis: missing broadcast reduction: %s (shape %s) is broadcast %zu times "
                "to the output's %s, and its analytical gradient equals the single slice %s of the "
                "broadcast gradient; backward must sum over the broadcast dims",
                f->in_name[i], shape_compact(in, si, sizeof si), count,
                shape_compact(out, so, sizeof so), ss);
            found = true;
        }
    }
    if (!found) {
        double *num = c->num[i];
        if (all_close(a, num, 1.0 / (double)count, nin, c->o) && max_abs(num, nin) > c->o->atol) {
            char si[64], so[64];
            say(c->r, "diagnosis: missing broadcast reduction: %s (shape %s) is broadcast %zu times "
                "to the output's %s, and its analytical gradient is the numerical / %zu: the mean "
                "over the broadcast dims where the sum belongs",
                f->in_name[i], shape_compact(in, si, sizeof si), count,
                shape_compact(out, so, sizeof so), count);
            found = true;
        }
    }
out:
    free(ex);
    free(G);
    free(slice);
    return found;
}

/* Appends "a" or ", b" to a list of slot names. */
static void add_slot(char *list, size_t n, int slot)
{
    size_t len = strlen(list);
    snprintf(list + len, n - len, "%s%c", len ? ", " : "", 'a' + slot);
}

/* Forgotten term: input i fills several of the op's slots (x * x); its gradient must be the sum
 * of the terms through each. Untie the slots (each its own copy of x), take each slot's term
 * numerically and from the op's backward with a gradient buffer per slot, and name the slots
 * whose term is missing. Without a per-slot answer, look for a strict subset of the terms that
 * the analytical gradient equals. */
static bool diagnose_term(check *c, int i, const double *a)
{
    const mt_gc_func *f = c->f;
    if (!f->op) return false;
    int slots[MT_MAX_INPUTS], ns = 0;
    for (int k = 0; k < f->op->arity; k++) if (f->use[k] == i) slots[ns++] = k;
    if (ns < 2) return false;

    mt_gc_func u = *f;
    double *xu[MT_GC_MAX_INPUTS] = { 0 };
    bool du[MT_GC_MAX_INPUTS] = { 0 };
    u.nin = f->op->arity;
    for (int k = 0; k < f->op->arity; k++) {
        u.use[k] = k;
        u.shape[k] = f->shape[f->use[k]];
        u.bound[k] = NULL;
        u.domain[k] = f->domain[f->use[k]];
        xu[k] = c->x[f->use[k]];
        du[k] = c->diff[f->use[k]];
    }
    size_t n = c->n[i];
    double *term = calloc((size_t)ns * n, sizeof(double));
    double *aterm = calloc((size_t)ns * n, sizeof(double));
    double *sum = malloc(n * sizeof(double));
    double *copies[MT_MAX_INPUTS] = { 0 };
    bool found = false, ok = true;
    char saved[sizeof c->err];
    memcpy(saved, c->err, sizeof saved);
    if (!term || !aterm || !sum) { c->oom = true; goto out; }
    for (int t = 0; t < ns && ok; t++) {   /* each slot perturbed alone: its own copy */
        copies[t] = malloc(n * sizeof(double));
        if (!copies[t]) { c->oom = true; ok = false; break; }
        memcpy(copies[t], c->x[i], n * sizeof(double));
        xu[slots[t]] = copies[t];
    }
    for (int t = 0; t < ns && ok; t++)
        ok = numeric_input(c, &u, xu, du, slots[t], term + (size_t)t * n, NULL, NULL, -1) == 0;
    if (!ok) goto out;

    /* the op's own answer per slot */
    bool per_slot = false;
    {
        mt_arena *prev = mt_arena_use(c->arena);
        bool grad = mt_set_grad_enabled(true);
        session s;
        if (session_begin(&s, c, &u, xu, du, PATH_DIRECT) == 0 &&
            session_backward(&s, c->R, 1.0, -1) == 0) {
            for (int t = 0; t < ns; t++) session_read(&s, slots[t], aterm + (size_t)t * n, NULL);
            per_slot = true;
        }
        mt_set_grad_enabled(grad);
        mt_arena_use(prev);
        mt_arena_reset(c->arena);
    }
    if (per_slot) {
        char right[64] = "", missing[64] = "", wrong[64] = "";
        for (int t = 0; t < ns; t++) {
            const double *at = aterm + (size_t)t * n, *nt = term + (size_t)t * n;
            if (all_close(at, nt, 1.0, n, c->o)) add_slot(right, sizeof right, slots[t]);
            else if (max_abs(at, n) <= c->o->atol) add_slot(missing, sizeof missing, slots[t]);
            else add_slot(wrong, sizeof wrong, slots[t]);
        }
        if (missing[0] && !wrong[0]) {
            char note[96] = "";
            if (right[0]) snprintf(note, sizeof note, " (the term through %s is right)", right);
            say(c->r, "diagnosis: forgotten term: %s fills inputs of %s %d times; backward gives "
                "nothing for the term through %s%s, so the gradient of %s lacks it (each input's "
                "gradient must be written, and the uses added)", f->in_name[i], f->op->name, ns,
                missing, note, f->in_name[i]);
            found = true;
        } else if (!missing[0] && !wrong[0]) {
            say(c->r, "diagnosis: each use's term is right on its own (%s), yet %s's gradient is "
                "not their sum: with one tensor in several slots the terms must be added, not "
                "written over each other", right, f->in_name[i]);
            c->r->diagnoses |= MT_GC_DIAG_OVERWRITE;
            found = true;
        }
        goto out;
    }
    for (unsigned mask = 1; mask + 1 < (1u << ns) && !found; mask++) {
        memset(sum, 0, n * sizeof(double));
        for (int t = 0; t < ns; t++)
            if (mask & (1u << t))
                for (size_t j = 0; j < n; j++) sum[j] += term[(size_t)t * n + j];
        if (!all_close(a, sum, 1.0, n, c->o)) continue;
        char have[64] = "", miss[64] = "";
        for (int t = 0; t < ns; t++) add_slot(mask & (1u << t) ? have : miss, 64, slots[t]);
        say(c->r, "diagnosis: forgotten term: %s fills inputs of %s %d times, and its analytical "
            "gradient equals only the term through %s; the term through %s is missing",
            f->in_name[i], f->op->name, ns, have, miss);
        found = true;
    }
out:
    memcpy(c->err, saved, sizeof saved);
    for (int t = 0; t < ns; t++) free(copies[t]);
    free(term);
    free(aterm);
    free(sum);
    return found;
}

/* Explains why input i's gradient failed on path p. */
static void diagnose_input(check *c, const path *p, int i)
{
    const mt_gc_func *f = c->f;
    const mt_gc_options *o = c->o;
    mt_gc_result *r = c->r;
    const double *a = p->g[i], *num = c->num[i];
    size_t n = c->n[i];
    const char *nm = f->in_name[i];
    double na = max_abs(a, n), nn = max_abs(num, n);

    if (p->shape_bad[i]) {
        char s1[64], s2[64];
        r->diagnoses |= MT_GC_DIAG_SHAPE;
        say(r, "diagnosis: the gradient of %s has shape %s, not %s's shape %s", nm,
            mt_shape_str(p->grad_shape[i], s1, sizeof s1), nm, mt_shape_str(f->shape[i], s2, sizeof s2));
        return;
    }
    if (na <= o->atol && nn > o->atol) {
        r->diagnoses |= MT_GC_DIAG_ZERO;
        say(r, "diagnosis: analytical gradient of %s is zero where the numerical is not%s", nm,
            p->grad_missing[i] ? " (no gradient reached it)"
            : f->op ? ": backward never writes its gradient" : "");
        if (diagnose_term(c, i, a)) r->diagnoses |= MT_GC_DIAG_TERM;
        return;
    }
    if (nn > o->atol && all_close(a, num, -1.0, n, o)) {
        r->diagnoses |= MT_GC_DIAG_SIGN;
        say(r, "diagnosis: sign flipped: analytical = -numerical for every element of %s", nm);
        return;
    }
    mt_shape s = f->shape[i];
    if (s.ndim == 2 && s.dim[0] > 1 && s.dim[1] > 1 && nn > o->atol) {
        int rows = s.dim[0], cols = s.dim[1];
        bool tr = true;
        for (int u = 0; u < rows && tr; u++)
            for (int v = 0; v < cols && tr; v++)
                tr = close_to(a[(size_t)v * rows + u], num[(size_t)u * cols + v], o);
        if (tr) {
            r->diagnoses |= MT_GC_DIAG_TRANSPOSED;
            say(r, "diagnosis: transposed: the analytical gradient of %s (%dx%d) holds the "
                "numerical one transposed (its data is laid out as %dx%d)", nm, rows, cols, cols, rows);
            return;
        }
    }
    bool explained = false;
    if (diagnose_term(c, i, a)) { r->diagnoses |= MT_GC_DIAG_TERM; explained = true; }
    if (!explained && diagnose_broadcast(c, i, a)) { r->diagnoses |= MT_GC_DIAG_BROADCAST; explained = true; }
    double sxy = 0, sxx = 0;
    for (size_t j = 0; j < n; j++) { sxy += a[j] * num[j]; sxx += num[j] * num[j]; }
    double k = sxx > 0 ? sxy / sxx : NAN;
    if (nn > o->atol && isfinite(k) && fabs(k) > 1e-3 && !close_to(k, 1.0, o) &&
        all_close(a, num, k, n, o)) {
        r->diagnoses |= MT_GC_DIAG_FACTOR;
        r->factor = k;
        say(r, "diagnosis: %soff by a constant factor: analytical = %.6g x numerical for every "
            "element of %s", explained ? "also " : "", k, nm);
    }
}

/* ---- the check ----------------------------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool kink_at(double a, double fwd, double bwd, const mt_gc_options *o)
{
    double big = fmax(fabs(fwd), fabs(bwd));
    if (fabs(fwd - bwd) <= o->atol + o->rtol * big) return false;   /* smooth here */
    double lo = fmin(fwd, bwd), hi = fmax(fwd, bwd), tol = o->atol + o->rtol * big;
    return a >= lo - tol && a <= hi + tol;
}

/* One attempt at the current input point. Returns the status; text and diagnoses go to r. */
static mt_gc_status attempt(check *c)
{
    const mt_gc_func *f = c->f;
    const mt_gc_options *o = c->o;
    mt_gc_result *r = c->r;
    r->text[0] = '\0';
    r->diagnoses = 0;
    r->max_abs_err = r->max_rel_err = r->jac_max_abs_err = 0;
    r->where[0] = r->path[0] = '\0';
    c->err[0] = '\0';

    if (eval(c, f, c->x, c->diff, NULL, &c->out_shape) < 0) goto forward_failed;
    c->nout = mt_shape_numel(c->out_shape);
    if (!c->R) {   /* R: |R| in [0.5, 1.5] with a random sign, so every output element counts */
        c->R = xcalloc(c, c->nout, sizeof(double));
        c->out0 = xcalloc(c, c->nout, sizeof(double));
        if (c->oom) return MT_GC_FAIL;
        for (size_t k = 0; k < c->nout; k++)
            c->R[k] = (0.5 + mt_rng_uniform(&c->rng)) * (mt_rng_next(&c->rng) >> 63 ? -1 : 1);
        c->ncols = 0;
        for (int i = 0; i < f->nin; i++) {
            c->col0[i] = c->diff[i] ? (long)c->ncols : -1;
            if (c->diff[i]) c->ncols += c->n[i];
        }
        c->use_jac = c->nout * c->ncols <= JACOBIAN_MAX_ENTRIES;
        if (c->use_jac) {
            size_t e = c->nout * c->ncols;
            c->jn = xcalloc(c, e, sizeof(double));
            c->jf = xcalloc(c, e, sizeof(double));
            c->jb = xcalloc(c, e, sizeof(double));
            c->ja = xcalloc(c, e, sizeof(double));
            c->jbad = xcalloc(c, e, 1);
            if (c->oom) return MT_GC_FAIL;
        }
    }
    if (eval(c, f, c->x, c->diff, c->out0, NULL) < 0) goto forward_failed;
    for (size_t k = 0; k < c->nout; k++)
        if (!isfinite(c->out0[k])) {
            char w[128];
            r->diagnoses |= MT_GC_DIAG_FORWARD;
            say(r, "forward gives %g at %s: the input domain lets it leave its range", c->out0[k],
                where_str("out", c->out_shape, k, w, sizeof w));
            return MT_GC_FAIL;
        }
    c->L0 = dot(c->out0, c->R, c->nout);

    /* analytical: every path (the Jacobian from the first: the engine's TOPO, or direct) */
    for (int q = 0; q < c->npaths; q++) {
        path *p = &c->paths[q];
        double *g[MT_GC_MAX_INPUTS];
        memcpy(g, p->g, sizeof g);
        path_kind kind = p->kind;
        memset(p, 0, sizeof *p);
        memcpy(p->g, g, sizeof g);
        p->kind = kind;
        c->err[0] = '\0';
        run_path(c, p, q == 0);
        if (p->failed) {
            r->diagnoses |= MT_GC_DIAG_FORWARD;
            say(r, "%s: %s", path_names[p->kind], c->err[0] ? c->err : "forward or backward failed");
            return MT_GC_FAIL;
        }
    }

    /* numerical */
    c->err[0] = '\0';
    for (int i = 0; i < f->nin; i++) {
        if (!c->diff[i]) continue;
        if (numeric_input(c, f, c->x, c->diff, i, c->num[i], c->fwd[i], c->bwd[i], c->col0[i]) < 0)
            goto forward_failed;
    }

    /* compare L's gradient, element by element, on every path */
    bool fail = false, kinked = false;
    double worst = -1;
    for (int i = 0; i < f->nin; i++) {
        if (!c->diff[i]) continue;
        memset(c->kink[i], 0, c->n[i]);
        for (int q = 0; q < c->npaths; q++) {
            path *p = &c->paths[q];
            for (size_t j = 0; j < c->n[i]; j++) {
                double a = p->g[i][j], nu = c->num[i][j], e = fabs(a - nu);
                if (e > r->max_abs_err || isnan(e)) r->max_abs_err = e;
                if (fabs(nu) > o->atol && e / fabs(nu) > r->max_rel_err) r->max_rel_err = e / fabs(nu);
                if (e <= o->atol + o->rtol * fabs(nu) && !p->shape_bad[i]) continue;
                bool k = !p->shape_bad[i] && kink_at(a, c->fwd[i][j], c->bwd[i][j], o);
                if (k) { c->kink[i][j] = 1; kinked = true; }
                else { p->value_bad[i] = true; fail = true; }
                double excess = isnan(e) ? INFINITY : e - (o->atol + o->rtol * fabs(nu));
                if (!k && excess > worst) {
                    worst = excess;
                    where_str(f->in_name[i], f->shape[i], j, r->where, sizeof r->where);
                    snprintf(r->path, sizeof r->path, "%s", path_names[p->kind]);
                    r->numerical = nu;
                    r->analytical = a;
                }
            }
        }
    }

    /* compare the Jacobians entry by entry */
    size_t jac_bad = 0;
    if (c->use_jac) {
        for (int i = 0; i < f->nin; i++) {
            if (!c->diff[i]) continue;
            for (size_t j = 0; j < c->n[i]; j++) {
                size_t col = (size_t)c->col0[i] + j;
                for (size_t k = 0; k < c->nout; k++) {
                    size_t e = k * c->ncols + col;
                    double err = fabs(c->ja[e] - c->jn[e]);
                    if (err > r->jac_max_abs_err || isnan(err)) r->jac_max_abs_err = err;
                    c->jbad[e] = 0;
                    if (err <= o->atol + o->rtol * fabs(c->jn[e])) continue;
                    if (kink_at(c->ja[e], c->jf[e], c->jb[e], o)) { c->kink[i][j] = 1; kinked = true; continue; }
                    c->jbad[e] = 1;
                    jac_bad++;
                }
            }
        }
    }

    /* report L's gradient: the worst element, then a diagnosis per failing input */
    if (fail) {
        char paths[64] = "";
        for (int q = 0; q < c->npaths; q++) {
            bool bad = false;
            for (int i = 0; i < f->nin; i++) bad |= c->paths[q].value_bad[i];
            if (bad) {
                size_t len = strlen(paths);
                snprintf(paths + len, sizeof paths - len, "%s%s", len ? ", " : "",
                         path_names[c->paths[q].kind]);
            }
        }
        say(r, "%s: numerical %.10g, analytical %.10g (backward: %s)", r->where, r->numerical,
            r->analytical, paths);
        for (int i = 0; i < f->nin; i++) {
            int first = -1, nbadpaths = 0;
            for (int q = 0; q < c->npaths; q++)
                if (c->paths[q].value_bad[i]) { if (first < 0) first = q; nbadpaths++; }
            if (first < 0) continue;
            const path *p = &c->paths[first];
            size_t nbad = 0;
            for (size_t j = 0; j < c->n[i]; j++)
                if (!close_to(p->g[i][j], c->num[i][j], o) && !c->kink[i][j]) nbad++;
            if (nbad || p->shape_bad[i])
                say(r, "%s: %zu of %zu elements differ (%s)", f->in_name[i], nbad, c->n[i],
                    path_names[p->kind]);
            diagnose_input(c, p, i);
            if (nbadpaths < c->npaths) {      /* some path got it right */
                char good[64] = "", bad[64] = "";
                bool engine_bad = false, direct_ok = false, dfs_bad = false, topo_bad = false;
                for (int q = 0; q < c->npaths; q++) {
                    const path *pq = &c->paths[q];
                    char *dst = pq->value_bad[i] ? bad : good;
                    size_t len = strlen(dst);
                    snprintf(dst + len, 64 - len, "%s%s", len ? ", " : "", path_names[pq->kind]);
                    if (pq->kind == PATH_DIRECT) direct_ok = !pq->value_bad[i];
                    else engine_bad |= pq->value_bad[i];
                    if (pq->kind == PATH_DFS) dfs_bad = pq->value_bad[i];
                    if (pq->kind == PATH_TOPO) topo_bad = pq->value_bad[i];
                }
                if (dfs_bad != topo_bad) {
                    r->diagnoses |= MT_GC_DIAG_TRAVERSAL;
                    say(r, "diagnosis: the traversals disagree on %s: right with %s, wrong with %s",
                        f->in_name[i], good, bad);
                } else if (engine_bad && direct_ok) {
                    r->diagnoses |= MT_GC_DIAG_ENGINE;
                    say(r, "diagnosis: the op's backward is right called directly but wrong "
                        "through the engine (%s): look at the graph, not the op", bad);
                }
            }
        }
    }
    if (jac_bad) {
        size_t e0 = 0;
        for (size_t e = 0; e < c->nout * c->ncols; e++) if (c->jbad[e]) { e0 = e; break; }
        size_t k = e0 / c->ncols, col = e0 % c->ncols;
        int i = 0;
        for (int q = 0; q < f->nin; q++) if (c->col0[q] >= 0 && (size_t)c->col0[q] <= col) i = q;
        char wo[128], wi[128];
        say(r, "Jacobian: %zu entries differ; d %s / d %s: numerical %.10g, analytical %.10g",
            jac_bad, where_str("out", c->out_shape, k, wo, sizeof wo),
            where_str(f->in_name[i], f->shape[i], col - (size_t)c->col0[i], wi, sizeof wi),
            c->jn[e0], c->ja[e0]);
        if (!fail) {
            r->diagnoses |= MT_GC_DIAG_JACOBIAN;
            say(r, "diagnosis: L's gradient agrees for this R but the Jacobian does not: the "
                "mistake cancels in the sum over output elements");
        }
        fail = true;
    }

    /* structure */
    for (int q = 0; q < c->npaths; q++) {
        const path *p = &c->paths[q];
        const char *pn = path_names[p->kind];
        if (p->acc_bad) {
            const char *nm = f->in_name[p->acc_bad - 1];
            fail = true;
            if (p->acc_overwrites) {
                r->diagnoses |= MT_GC_DIAG_OVERWRITE;
                say(r, "structure (%s): two backward calls give the gradient of %s once, not "
                    "twice\ndiagnosis: backward overwrites its input gradients (= where += "
                    "belongs): it must add into grad_in", pn, nm);
            } else {
                say(r, "structure (%s): two backward calls give %.6g x the gradient of %s, not 2x",
                    pn, p->acc_ratio, nm);
            }
        }
        if (p->scale_bad) {
            fail = true;
            r->diagnoses |= MT_GC_DIAG_SCALE;
            say(r, "structure (%s): the seed 2R does not give twice the gradient of %s: backward "
                "must scale with grad_out", pn, f->in_name[p->scale_bad - 1]);
        }
        if (p->zero_bad) {
            fail = true;
            r->diagnoses |= MT_GC_DIAG_SCALE;
            say(r, "structure (%s): a zero seed gives a non-zero gradient of %s: backward must "
                "be linear in grad_out", pn, f->in_name[p->zero_bad - 1]);
        }
    }
    if (c->oom) { say(r, "out of memory"); return MT_GC_FAIL; }
    if (fail) return MT_GC_FAIL;
    return kinked ? MT_GC_KINK : MT_GC_PASS;

forward_failed:
    r->diagnoses |= MT_GC_DIAG_FORWARD;
    say(r, "forward failed: %s", c->err[0] ? c->err : "it returned NULL");
    return MT_GC_FAIL;
}

mt_gc_status mt_gc_check(const mt_gc_func *f, const mt_gc_options *o_in, mt_gc_result *r)
{
    mt_gc_options defaults;
    if (!o_in) { mt_gc_options_init(&defaults); o_in = &defaults; }
    memset(r, 0, sizeof *r);
    double t0 = now();
    check *c = calloc(1, sizeof *c);
    if (!c) { snprintf(r->text, sizeof r->text, "out of memory\n"); return r->status = MT_GC_FAIL; }
    c->f = f;
    c->o = o_in;
    c->r = r;
    mt_rng_seed(&c->rng, o_in->seed ^ hash_names(f));
    mt_error_fn saved_handler = NULL;
    void *saved_user = NULL;
    bool handler_set = false;

    r->status = MT_GC_FAIL;
    if (f->defect) {
        r->diagnoses |= MT_GC_DIAG_NO_CASES;
        say(r, "cannot be checked: %s", f->defect);
        goto out;
    }
    for (int i = 0; i < f->nin; i++) {
        const char *why = domain_problem(f->domain[i]);
        if (why) {
            r->diagnoses |= MT_GC_DIAG_NO_CASES;
            say(r, "cannot be checked: the domain of %s [%g, %g] %s", f->in_name[i],
                f->domain[i].lo, f->domain[i].hi, why);
            goto out;
        }
        if (f->bound[i] && f->bound[i]->numel != mt_shape_numel(f->shape[i])) {
            r->diagnoses |= MT_GC_DIAG_NO_CASES;
            say(r, "cannot be checked: bound input %s does not have its declared shape",
                f->in_name[i]);
            goto out;
        }
    }

    c->arena = mt_arena_new();
    mt_get_error_handler(&saved_handler, &saved_user);   /* the caller's, restored at the end */
    mt_set_error_handler(capture_error, c);
    handler_set = true;
    if (f->op && mt_op_registered(f->op)) {
        c->npaths = 3;
        c->paths[0].kind = PATH_TOPO;
        c->paths[1].kind = PATH_DFS;
        c->paths[2].kind = PATH_DIRECT;
    } else if (f->op) {
        c->npaths = 1;
        c->paths[0].kind = PATH_DIRECT;
    } else {
        c->npaths = 2;
        c->paths[0].kind = PATH_TOPO;
        c->paths[1].kind = PATH_DFS;
    }
    for (int i = 0; i < f->nin; i++) {
        c->n[i] = mt_shape_numel(f->shape[i]);
        c->diff[i] = !f->domain[i].labels;
        c->x[i] = xcalloc(c, c->n[i], sizeof(double));
        if (c->diff[i]) {
            c->num[i] = xcalloc(c, c->n[i], sizeof(double));
            c->fwd[i] = xcalloc(c, c->n[i], sizeof(double));
            c->bwd[i] = xcalloc(c, c->n[i], sizeof(double));
            c->kink[i] = xcalloc(c, c->n[i], 1);
            for (int q = 0; q < c->npaths; q++) c->paths[q].g[i] = xcalloc(c, c->n[i], sizeof(double));
            r->elements += c->n[i];
        }
    }
    if (c->oom) { say(r, "out of memory"); goto out; }
    for (int i = 0; i < f->nin; i++)
        for (size_t j = 0; j < c->n[i]; j++) c->x[i][j] = draw(&c->rng, f->domain[i]);

    for (;;) {
        r->status = attempt(c);
        if (r->status != MT_GC_KINK || r->redraws >= o_in->max_redraws) break;
        r->redraws++;                  /* move the kinked elements and look again */
        for (int i = 0; i < f->nin; i++)
            for (size_t j = 0; c->diff[i] && j < c->n[i]; j++)
                if (c->kink[i][j]) c->x[i][j] = draw(&c->rng, f->domain[i]);
    }
    if (r->status == MT_GC_KINK) {
        for (int i = 0; i < f->nin; i++)
            for (size_t j = 0; c->diff[i] && j < c->n[i]; j++)
                if (c->kink[i][j]) {
                    char w[128];
                    say(r, "kink: at %s the one-sided differences are %.6g and %.6g, the "
                        "analytical value lies between them; still there after %d redraws",
                        where_str(f->in_name[i], f->shape[i], j, w, sizeof w), c->fwd[i][j],
                        c->bwd[i][j], r->redraws);
                    i = f->nin;
                    break;
                }
    }
    if (o_in->keep_jacobians && c->use_jac && c->ja) {
        r->jac.nout = c->nout;
        r->jac.ncols = c->ncols;
        r->jac.out_shape = c->out_shape;
        memcpy(r->jac.col0, c->col0, sizeof c->col0);
        r->jac.numerical = c->jn;
        r->jac.analytical = c->ja;
        r->jac.bad = c->jbad;
        r->jac.atol = o_in->atol;
        c->jn = c->ja = NULL;
        c->jbad = NULL;
    }

out:
    if (handler_set) mt_set_error_handler(saved_handler, saved_user);
    mt_arena_free(c->arena);
    for (int i = 0; i < MT_GC_MAX_INPUTS; i++) {
        free(c->x[i]); free(c->num[i]); free(c->fwd[i]); free(c->bwd[i]); free(c->kink[i]);
        for (int q = 0; q < 3; q++) free(c->paths[q].g[i]);
    }
    free(c->R); free(c->out0);
    free(c->jn); free(c->jf); free(c->jb); free(c->ja); free(c->jbad);
    free(c);
    r->seconds = now() - t0;
    return r->status;
}

/* ---- a whole run: rows, JSON lines, Jacobians ------------------------------------------------- */

static void inputs_str(const mt_gc_func *f, char *buf, size_t n)
{
    size_t len = 0;
    snprintf(buf, n, "-");
    for (int i = 0; i < f->nin && len < n; i++) {
        char s[64];
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? " " : "",
                                shape_compact(f->shape[i], s, sizeof s));
    }
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(out, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", out);
        else if (ch == '\t') fputs("\\t", out);
        else if (ch < 0x20) fprintf(out, "\\u%04x", ch);
        else fputc(ch, out);
    }
    fputc('"', out);
}

static void json_number(FILE *out, double v)
{
    if (isfinite(v)) fprintf(out, "%.9g", v);
    else fputs("null", out);
}

static const struct { unsigned bit; const char *name; } diag_names[] = {
    { MT_GC_DIAG_FORWARD, "forward" },       { MT_GC_DIAG_SHAPE, "shape" },
    { MT_GC_DIAG_ZERO, "zero" },             { MT_GC_DIAG_SIGN, "sign" },
    { MT_GC_DIAG_FACTOR, "factor" },         { MT_GC_DIAG_TRANSPOSED, "transposed" },
    { MT_GC_DIAG_BROADCAST, "broadcast" },   { MT_GC_DIAG_TERM, "forgotten_term" },
    { MT_GC_DIAG_OVERWRITE, "overwrite" },   { MT_GC_DIAG_SCALE, "scale" },
    { MT_GC_DIAG_TRAVERSAL, "traversal" },   { MT_GC_DIAG_ENGINE, "engine" },
    { MT_GC_DIAG_NO_CASES, "unchecked" },    { MT_GC_DIAG_JACOBIAN, "jacobian" },
};

static void print_json(FILE *out, const mt_gc_func *f, const mt_gc_result *r, const mt_gc_options *o)
{
    fputs("{\"op\":", out);
    json_string(out, f->name);
    fputs(",\"case\":", out);
    json_string(out, f->case_name);
    fputs(",\"inputs\":[", out);
    for (int i = 0; i < f->nin; i++) {
        fprintf(out, "%s{\"name\":", i ? "," : "");
        json_string(out, f->in_name[i]);
        fputs(",\"shape\":[", out);
        for (int d = 0; d < f->shape[i].ndim; d++) fprintf(out, d ? ",%d" : "%d", f->shape[i].dim[d]);
        fprintf(out, "],\"labels\":%s}", f->domain[i].labels ? "true" : "false");
    }
    fprintf(out, "],\"elements\":%zu,\"max_abs_err\":", r->elements);
    json_number(out, r->max_abs_err);
    fputs(",\"max_rel_err\":", out);
    json_number(out, r->max_rel_err);
    fputs(",\"jacobian_max_abs_err\":", out);
    json_number(out, r->jac_max_abs_err);
    fputs(",\"seconds\":", out);
    json_number(out, r->seconds);
    fprintf(out, ",\"status\":\"%s\",\"redraws\":%d,\"diagnoses\":[", mt_gc_status_name(r->status),
            r->redraws);
    int nd = 0;
    for (size_t k = 0; k < sizeof diag_names / sizeof diag_names[0]; k++)
        if (r->diagnoses & diag_names[k].bit) fprintf(out, "%s\"%s\"", nd++ ? "," : "", diag_names[k].name);
    fputc(']', out);
    if (r->diagnoses & MT_GC_DIAG_FACTOR) { fputs(",\"factor\":", out); json_number(out, r->factor); }
    if (r->where[0]) {
        fputs(",\"where\":", out);
        json_string(out, r->where);
        fputs(",\"path\":", out);
        json_string(out, r->path);
        fputs(",\"numerical\":", out);
        json_number(out, r->numerical);
        fputs(",\"analytical\":", out);
        json_number(out, r->analytical);
    }
    if (r->text[0]) {
        char detail[MT_GC_TEXT_MAX];
        snprintf(detail, sizeof detail, "%s", r->text);
        size_t len = strlen(detail);
        if (len && detail[len - 1] == '\n') detail[len - 1] = '\0';
        fputs(",\"detail\":", out);
        json_string(out, detail);
    }
    if (r->status == MT_GC_FAIL) {
        char cmd[512];
        fputs(",\"rerun\":", out);
        json_string(out, mt_gc_rerun_command(f, o, cmd, sizeof cmd));
    }
    fputs("}\n", out);
}

/* Numerical and analytical Jacobians side by side, per input, for small ones. */
static void print_jacobians(FILE *out, const mt_gc_func *f, const mt_gc_result *r)
{
    const mt_gc_jacobian *J = &r->jac;
    if (!J->numerical) { fprintf(out, "    (no Jacobian kept: too large)\n"); return; }
    for (int i = 0; i < f->nin; i++) {
        if (J->col0[i] < 0) continue;
        size_t n = mt_shape_numel(f->shape[i]);
        if (J->nout > 24 || n > 8) {
            fprintf(out, "    d out / d %s: %zu x %zu, too large to print here (try --heatmap)\n",
                    f->in_name[i], J->nout, n);
            continue;
        }
        char w[128];
        fprintf(out, "    d out / d %s: numerical | analytical (* marks a failing entry)\n",
                f->in_name[i]);
        fprintf(out, "    %-12s", "");
        for (size_t j = 0; j < n; j++) fprintf(out, "%11s", where_str(f->in_name[i], f->shape[i], j, w, sizeof w));
        fprintf(out, "   |");
        for (size_t j = 0; j < n; j++) fprintf(out, "%11s", where_str(f->in_name[i], f->shape[i], j, w, sizeof w));
        fputc('\n', out);
        for (size_t k = 0; k < J->nout; k++) {
            fprintf(out, "    %-12s", where_str("out", J->out_shape, k, w, sizeof w));
            for (size_t j = 0; j < n; j++)
                fprintf(out, " %10.4g", J->numerical[k * J->ncols + (size_t)J->col0[i] + j]);
            fprintf(out, "   |");
            for (size_t j = 0; j < n; j++) {
                size_t e = k * J->ncols + (size_t)J->col0[i] + j;
                fprintf(out, " %9.4g%c", J->analytical[e], J->bad[e] ? '*' : ' ');
            }
            fputc('\n', out);
        }
    }
}

int mt_gc_run(const mt_gc_func *fs, int n, const mt_gc_options *o_in, FILE *out)
{
    mt_gc_options o;
    if (o_in) o = *o_in; else mt_gc_options_init(&o);
    o.keep_jacobians |= o.verbose || o.heatmap_dir;
    int passed = 0, failed = 0, errors = 0;
    int wn = 2, wc = 4, wi = 6;
    for (int k = 0; k < n; k++) {
        char s[256];
        inputs_str(&fs[k], s, sizeof s);
        if ((int)strlen(fs[k].name) > wn) wn = (int)strlen(fs[k].name);
        if ((int)strlen(fs[k].case_name) > wc) wc = (int)strlen(fs[k].case_name);
        if ((int)strlen(s) > wi) wi = (int)strlen(s);
    }
    if (wi > 40) wi = 40;
    if (o.heatmap_dir && mkdir(o.heatmap_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "mytorch-gradcheck: cannot create the heatmap directory %s: %s\n",
                o.heatmap_dir, strerror(errno));
        errors++;
        o.heatmap_dir = NULL;
    }
    if (!o.json)
        fprintf(out, "%-*s  %-*s  %-*s  %8s  %9s  %9s  %9s  %s\n", wn, "op", wc, "case", wi,
                "inputs", "elements", "max abs", "max rel", "time", "status");
    for (int k = 0; k < n; k++) {
        const mt_gc_func *f = &fs[k];
        mt_gc_result r;
        mt_gc_check(f, &o, &r);
        if (o.json) {
            print_json(out, f, &r, &o);
        } else {
            char s[256];
            inputs_str(f, s, sizeof s);
            fprintf(out, "%-*s  %-*s  %-*s  %8zu  %9.2e  %9.2e  %6.2f ms  %s\n", wn, f->name, wc,
                    f->case_name, wi, s, r.elements, r.max_abs_err, r.max_rel_err,
                    1e3 * r.seconds, mt_gc_status_name(r.status));
            for (const char *line = r.text; *line;) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t)(end - line) : strlen(line);
                fprintf(out, "    %.*s\n", (int)len, line);
                line += len + (end ? 1 : 0);
            }
            if (r.status == MT_GC_FAIL) {
                char cmd[512];
                fprintf(out, "    rerun: %s\n", mt_gc_rerun_command(f, &o, cmd, sizeof cmd));
            }
            if (o.verbose && r.redraws)
                fprintf(out, "    (inputs redrawn %d time%s to move them off a kink)\n", r.redraws,
                        r.redraws > 1 ? "s" : "");
            if (o.verbose) print_jacobians(out, f, &r);
        }
        if (o.heatmap_dir && r.jac.numerical) {
            char path[1024], err[1024];
            mt_gc_heatmap_path(o.heatmap_dir, f, path, sizeof path);
            if (mt_gc_heatmap_write(path, f, &r, err, sizeof err) < 0) {
                fprintf(stderr, "mytorch-gradcheck: %s\n", err);
                errors++;
            }
        }
        if (r.status == MT_GC_FAIL) failed++;
        else passed++;
        mt_gc_result_free(&r);
        fflush(out);
    }
    fprintf(o.summary ? o.summary : o.json ? stderr : out, "%d passed, %d failed\n", passed, failed);
    return failed + errors;
}

int mt_gc_check_all(FILE *out, bool quiet, int *ncases)
{
    mt_gc_func *fs = NULL;
    int n = mt_gc_cases_default(&fs);
    if (ncases) *ncases = n;
    if (n < 0) { fprintf(out, "gradcheck: out of memory\n"); return 1; }
    mt_gc_options o;
    mt_gc_options_init(&o);
    int failed = 0;
    if (!quiet) failed = mt_gc_run(fs, n, &o, out);
    else
        for (int i = 0; i < n; i++) {
            mt_gc_result r;
            if (mt_gc_check(&fs[i], &o, &r) == MT_GC_FAIL) {
                char cmd[512];
                failed++;
                fprintf(out, "gradcheck FAIL: %s [%s]\n%s  re-run: %s\n", fs[i].name,
                        fs[i].case_name, r.text, mt_gc_rerun_command(&fs[i], &o, cmd, sizeof cmd));
            }
            mt_gc_result_free(&r);
        }
    mt_gc_cases_free(fs, n);
    return failed;
}
