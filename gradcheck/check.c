/* check.c: one check (mt_gc_check in gradcheck.h), and the options and results. Draws the
 * inputs from their domains, has backward run along every path (engine DFS and TOPO, the op's
 * backward called directly) and the finite differences taken (both in gradients.c), compares
 * L's gradient and the whole Jacobian, and tells a kink from a failure. What a failure means is
 * diagnose.c's. */
#include "gradcheck_impl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JACOBIAN_MAX_ENTRIES 4000000u   /* larger Jacobians are not kept (L's gradient still is) */

const char *const gc_path_names[] = { "DFS", "TOPO", "direct" };

/* ---- options and results --------------------------------------------------------------------- */

void mt_gc_options_init(mt_gc_options *o)
{
    memset(o, 0, sizeof *o);
    o->eps = MT_GC_DEFAULT_EPS;
    o->atol = MT_GC_TOL_OWN;
    o->rtol = MT_GC_TOL_OWN;
    o->max_redraws = MT_GC_DEFAULT_REDRAWS;
    o->program = MT_GC_PROGRAM;
}

/* The ranges behind mt_gc_option_accepts, with the text that names them (keep the two alike). */
static const struct { const char *flag; double lo, hi; const char *accepts; } option_ranges[] = {
    { "--eps", MT_GC_EPS_MIN, MT_GC_EPS_MAX, "[1e-12, 0.1]: the step h of the finite differences" },
    { "--atol", 0.0, MT_GC_ATOL_MAX, "[0, 1]: the absolute tolerance" },
    { "--rtol", 0.0, MT_GC_RTOL_MAX, "[0, 1]: the relative tolerance" },
};

const char *mt_gc_option_accepts(const char *flag, double v)
{
    for (size_t k = 0; k < sizeof option_ranges / sizeof option_ranges[0]; k++)
        if (flag && strcmp(flag, option_ranges[k].flag) == 0)
            return v >= option_ranges[k].lo && v <= option_ranges[k].hi ? NULL
                 : option_ranges[k].accepts;                      /* NaN fails both tests */
    return "nothing: not an option with a range";
}

const char *mt_gc_options_problem(const mt_gc_options *o, char *buf, size_t n)
{
    const double values[] = { o->eps, o->atol, o->rtol };
    for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
        if (k > 0 && values[k] == MT_GC_TOL_OWN) continue;     /* atol, rtol: the function's */
        const char *why = mt_gc_option_accepts(option_ranges[k].flag, values[k]);
        if (why) {
            snprintf(buf, n, "%s is %g, outside %s", option_ranges[k].flag, values[k], why);
            return buf;
        }
    }
    return NULL;
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

/* ---- helpers --------------------------------------------------------------------------------- */

void gc_say(mt_gc_result *r, const char *fmt, ...)
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

static uint64_t hash_names(const mt_gc_func *f)
{
    uint64_t h = 1469598103934665603ull;            /* FNV-1a over "name\0case" */
    for (const char *p = f->name; ; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
        if (!*p) break;
    }
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

/* A labels input of n elements with K = hi - lo classes: when n >= K, element j starts as class
 * j mod K (so every class is there, each at least n / K times), then all are shuffled; when
 * n < K, n distinct classes drawn at random. Either way a loss sees each class it can. */
static void draw_labels(mt_rng *rng, mt_domain d, double *x, size_t n)
{
    uint64_t k = (uint64_t)(d.hi - d.lo);
    if (n >= k) {
        for (size_t j = 0; j < n; j++) x[j] = (double)(j % k);
        for (size_t j = n; j > 1; j--) {                      /* Fisher-Yates */
            size_t r = (size_t)mt_rng_below(rng, j);
            double t = x[j - 1]; x[j - 1] = x[r]; x[r] = t;
        }
    } else {
        for (size_t j = 0; j < n; j++) {                      /* redrawn until not taken */
            bool taken;
            do {
                x[j] = (double)mt_rng_below(rng, k);
                taken = false;
                for (size_t q = 0; q < j; q++) taken |= x[q] == x[j];
            } while (taken);
        }
    }
    for (size_t j = 0; j < n; j++) x[j] += d.lo;
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

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t k = 0; k < n; k++) s += a[k] * b[k];
    return s;
}

/* ---- one attempt at the current input point ------------------------------------------------- */

/* On a kink: the one-sided differences jump (by more than MT_GC_KINK_*, not merely h times
 * the curvature) and the analytical value lies between them. */
static bool kink_at(double a, double fwd, double bwd, const mt_gc_options *o)
{
    double big = fmax(fabs(fwd), fabs(bwd));
    if (fabs(fwd - bwd) <= MT_GC_KINK_ATOL + MT_GC_KINK_RTOL * big) return false;   /* smooth */
    double lo = fmin(fwd, bwd), hi = fmax(fwd, bwd), tol = o->atol + o->rtol * big;
    return a >= lo - tol && a <= hi + tol;
}

/* Clears what the previous attempt left in the result. */
static void attempt_reset(check *c)
{
    mt_gc_result *r = c->r;
    r->text[0] = '\0';
    r->diagnoses = 0;
    r->max_abs_err = r->max_rel_err = r->jac_max_abs_err = 0;
    r->error = 0;
    r->margin = INFINITY;
    r->where[0] = r->path[0] = '\0';
    c->err[0] = '\0';
}

static mt_gc_status forward_failed(check *c)
{
    c->r->diagnoses |= MT_GC_DIAG_FORWARD;
    gc_say(c->r, "forward failed: %s", c->err[0] ? c->err : "it returned NULL");
    return MT_GC_FAIL;
}

/* On the first attempt, once the output's shape is known: draws R, |R| in [0.5, 1.5] with a
 * random sign, so every output element counts, and makes room for f(x) and the Jacobians.
 * Later attempts keep them. false when out of memory. */
static bool prepare_functional(check *c)
{
    if (c->R) return true;
    c->R = xcalloc(c, c->nout, sizeof(double));
    c->out0 = xcalloc(c, c->nout, sizeof(double));
    if (c->oom) return false;
    for (size_t k = 0; k < c->nout; k++)
        c->R[k] = (0.5 + mt_rng_uniform(&c->rng)) * (mt_rng_next(&c->rng) >> 63 ? -1 : 1);
    c->ncols = 0;
    for (int i = 0; i < c->f->nin; i++) {
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
        if (c->oom) return false;
    }
    return true;
}

/* f(x) must be finite everywhere, or nothing can be compared: false (and says where) if not. */
static bool output_finite(check *c)
{
    for (size_t k = 0; k < c->nout; k++)
        if (!isfinite(c->out0[k])) {
            char w[128];
            c->r->diagnoses |= MT_GC_DIAG_FORWARD;
            gc_say(c->r, "forward gives %g at %s: the input domain lets it leave its range",
                   c->out0[k], gc_where_str("out", c->out_shape, k, w, sizeof w));
            return false;
        }
    return true;
}

/* Analytical: every path (the Jacobian from the first: the engine's TOPO, or direct). false
 * (and says which path) when forward or backward failed on one. */
static bool run_analytical(check *c)
{
    for (int q = 0; q < c->npaths; q++) {
        path *p = &c->paths[q];
        double *g[MT_GC_MAX_INPUTS];
        memcpy(g, p->g, sizeof g);
        path_kind kind = p->kind;
        memset(p, 0, sizeof *p);
        memcpy(p->g, g, sizeof g);
        p->kind = kind;
        c->err[0] = '\0';
        gc_run_path(c, p, q == 0);
        if (p->failed) {
            c->r->diagnoses |= MT_GC_DIAG_FORWARD;
            gc_say(c->r, "%s: %s", gc_path_names[p->kind],
                   c->err[0] ? c->err : "forward or backward failed");
            return false;
        }
    }
    return true;
}

/* Numerical: central and one-sided differences of L for every differentiated input, and the
 * numerical Jacobian. 0, or -1 when forward fails. */
static int run_numerical(check *c)
{
    c->err[0] = '\0';
    for (int i = 0; i < c->f->nin; i++) {
        if (!c->diff[i]) continue;
        if (gc_numeric_input(c, c->f, c->x, c->diff, i, c->num[i], c->fwd[i], c->bwd[i],
                             c->col0[i]) < 0)
            return -1;
    }
    return 0;
}

/* Compares L's gradient, element by element, on every path: records the errors and the worst
 * element in r, marks kinks (*kinked) and failing inputs per path; true when one fails. */
static bool compare_gradient(check *c, bool *kinked)
{
    const mt_gc_func *f = c->f;
    const mt_gc_options *o = c->o;
    mt_gc_result *r = c->r;
    bool fail = false;
    double worst = -1;
    for (int i = 0; i < f->nin; i++) {
        if (!c->diff[i]) continue;
        memset(c->kink[i], 0, c->n[i]);
        for (int q = 0; q < c->npaths; q++) {
            path *p = &c->paths[q];
            for (size_t j = 0; j < c->n[i]; j++) {
                double a = p->g[i][j], nu = c->num[i][j], e = fabs(a - nu);
                if (e > r->max_abs_err || isnan(e)) r->max_abs_err = e;
                if (fabs(nu) > o->atol && e / fabs(nu) > r->max_rel_err)
                    r->max_rel_err = e / fabs(nu);
                if (e <= o->atol + o->rtol * fabs(nu) && !p->shape_bad[i]) continue;
                bool k = !p->shape_bad[i] && kink_at(a, c->fwd[i][j], c->bwd[i][j], o);
                if (k) { c->kink[i][j] = 1; *kinked = true; }
                else { p->value_bad[i] = true; fail = true; }
                double excess = isnan(e) ? INFINITY : e - (o->atol + o->rtol * fabs(nu));
                if (!k && excess > worst) {
                    worst = excess;
                    gc_where_str(f->in_name[i], f->shape[i], j, r->where, sizeof r->where);
                    snprintf(r->path, sizeof r->path, "%s", gc_path_names[p->kind]);
                    r->numerical = nu;
                    r->analytical = a;
                }
            }
        }
    }
    return fail;
}

/* Compares the Jacobians entry by entry, marking failing entries in jbad and kinks (*kinked);
 * returns how many fail. */
static size_t compare_jacobian(check *c, bool *kinked)
{
    const mt_gc_options *o = c->o;
    size_t jac_bad = 0;
    if (!c->use_jac) return 0;
    for (int i = 0; i < c->f->nin; i++) {
        if (!c->diff[i]) continue;
        for (size_t j = 0; j < c->n[i]; j++) {
            size_t col = (size_t)c->col0[i] + j;
            for (size_t k = 0; k < c->nout; k++) {
                size_t e = k * c->ncols + col;
                double err = fabs(c->ja[e] - c->jn[e]);
                if (err > c->r->jac_max_abs_err || isnan(err)) c->r->jac_max_abs_err = err;
                c->jbad[e] = 0;
                if (err <= o->atol + o->rtol * fabs(c->jn[e])) continue;
                if (kink_at(c->ja[e], c->jf[e], c->jb[e], o)) {
                    c->kink[i][j] = 1;
                    *kinked = true;
                    continue;
                }
                c->jbad[e] = 1;
                jac_bad++;
            }
        }
    }
    return jac_bad;
}

/* One element compared: its error and its margin, kinks left out. */
static void note_error(mt_gc_result *r, double a, double nu, const mt_gc_options *o)
{
    double e = fabs(a - nu), t = o->atol + o->rtol * fabs(nu);
    if (e > r->error || isnan(e)) r->error = e;
    if (isnan(e)) r->margin = 0;
    else if (e > 0 && t / e < r->margin) r->margin = t / e;
}

/* The finite-difference error and the margin over every compared value off a kink. */
static void measure_errors(check *c)
{
    for (int i = 0; i < c->f->nin; i++) {
        if (!c->diff[i]) continue;
        for (size_t j = 0; j < c->n[i]; j++) {
            if (c->kink[i][j]) continue;
            for (int q = 0; q < c->npaths; q++)
                if (!c->paths[q].shape_bad[i])
                    note_error(c->r, c->paths[q].g[i][j], c->num[i][j], c->o);
            if (!c->use_jac) continue;
            size_t col = (size_t)c->col0[i] + j;
            for (size_t k = 0; k < c->nout; k++)
                note_error(c->r, c->ja[k * c->ncols + col], c->jn[k * c->ncols + col], c->o);
        }
    }
}

/* One attempt at the current input point: the output and R, both gradients, the comparisons,
 * the chain rule of local_grad, then the explanation of what failed. Returns the status; text
 * and diagnoses go to c->r. */
static mt_gc_status attempt(check *c)
{
    attempt_reset(c);
    if (gc_eval(c, c->f, c->x, c->diff, NULL, &c->out_shape) < 0) return forward_failed(c);
    c->nout = mt_shape_numel(c->out_shape);
    if (!prepare_functional(c)) return MT_GC_FAIL;
    if (gc_eval(c, c->f, c->x, c->diff, c->out0, NULL) < 0) return forward_failed(c);
    if (!output_finite(c)) return MT_GC_FAIL;
    c->L0 = dot(c->out0, c->R, c->nout);

    if (!run_analytical(c)) return MT_GC_FAIL;
    if (run_numerical(c) < 0) return forward_failed(c);

    bool kinked = false;
    bool fail = compare_gradient(c, &kinked);
    size_t jac_bad = compare_jacobian(c, &kinked);
    measure_errors(c);

    /* explain, in this order: L's gradient, the Jacobian, the structure, the chain rule */
    if (fail) gc_explain_gradient(c);
    if (jac_bad) {
        gc_explain_jacobian(c, jac_bad, fail);
        fail = true;
    }
    if (gc_explain_structure(c)) fail = true;
    if (!c->o->skip_local && gc_check_local(c)) fail = true;
    if (c->oom) { gc_say(c->r, "out of memory"); return MT_GC_FAIL; }
    if (fail) return MT_GC_FAIL;
    return kinked ? MT_GC_KINK : MT_GC_PASS;
}

/* ---- the check ------------------------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Says into r why f cannot be checked with o at all (options out of range, a defect, a domain
 * with no point to draw, a bound input of the wrong size); false when it can be. */
static bool cannot_check(const mt_gc_func *f, const mt_gc_options *o, mt_gc_result *r)
{
    char why_options[160];
    if (mt_gc_options_problem(o, why_options, sizeof why_options)) {
        r->diagnoses |= MT_GC_DIAG_NO_CASES;
        gc_say(r, "cannot be checked: %s", why_options);
        return true;
    }
    if (f->defect) {
        r->diagnoses |= MT_GC_DIAG_NO_CASES;
        gc_say(r, "cannot be checked: %s", f->defect);
        return true;
    }
    for (int i = 0; i < f->nin; i++) {
        const char *why = domain_problem(f->domain[i]);
        if (why) {
            r->diagnoses |= MT_GC_DIAG_NO_CASES;
            gc_say(r, "cannot be checked: the domain of %s [%g, %g] %s", f->in_name[i],
                   f->domain[i].lo, f->domain[i].hi, why);
            return true;
        }
        if (f->bound[i] && f->bound[i]->numel != mt_shape_numel(f->shape[i])) {
            r->diagnoses |= MT_GC_DIAG_NO_CASES;
            gc_say(r, "cannot be checked: bound input %s does not have its declared shape",
                   f->in_name[i]);
            return true;
        }
    }
    return false;
}

/* The paths backward runs along: a registered op through the engine (both traversals) and
 * directly; an op outside the registry directly only, since mt_apply refuses it; a graph
 * through the engine only, having no backward of its own. */
static void choose_paths(check *c)
{
    const mt_gc_func *f = c->f;
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
}

/* Room for every input's values and gradients, then the values drawn from the domains. false
 * when out of memory. */
static bool draw_inputs(check *c)
{
    const mt_gc_func *f = c->f;
    for (int i = 0; i < f->nin; i++) {
        c->n[i] = mt_shape_numel(f->shape[i]);
        c->diff[i] = !f->domain[i].labels;
        c->x[i] = xcalloc(c, c->n[i], sizeof(double));
        if (c->diff[i]) {
            c->num[i] = xcalloc(c, c->n[i], sizeof(double));
            c->fwd[i] = xcalloc(c, c->n[i], sizeof(double));
            c->bwd[i] = xcalloc(c, c->n[i], sizeof(double));
            c->kink[i] = xcalloc(c, c->n[i], 1);
            for (int q = 0; q < c->npaths; q++)
                c->paths[q].g[i] = xcalloc(c, c->n[i], sizeof(double));
            c->r->elements += c->n[i];
        }
    }
    if (c->oom) return false;
    for (int i = 0; i < f->nin; i++) {
        if (f->domain[i].labels) draw_labels(&c->rng, f->domain[i], c->x[i], c->n[i]);
        else for (size_t j = 0; j < c->n[i]; j++) c->x[i][j] = draw(&c->rng, f->domain[i]);
    }
    return true;
}

/* Attempts until the point is off every kink or the redraws run out: each time, the elements
 * found on a kink are drawn again. */
static void attempt_until_smooth(check *c)
{
    const mt_gc_func *f = c->f;
    mt_gc_result *r = c->r;
    for (;;) {
        r->status = attempt(c);
        if (r->status != MT_GC_KINK || r->redraws >= c->o->max_redraws) break;
        r->redraws++;                  /* move the kinked elements and look again */
        for (int i = 0; i < f->nin; i++)
            for (size_t j = 0; c->diff[i] && j < c->n[i]; j++)
                if (c->kink[i][j]) c->x[i][j] = draw(&c->rng, f->domain[i]);
    }
}

/* A KINK that stayed: the first element still on it. */
static void report_kink(check *c)
{
    const mt_gc_func *f = c->f;
    for (int i = 0; i < f->nin; i++)
        for (size_t j = 0; c->diff[i] && j < c->n[i]; j++)
            if (c->kink[i][j]) {
                char w[128];
                gc_say(c->r, "kink: at %s the one-sided differences are %.6g and %.6g, the "
                       "analytical value lies between them; still there after %d redraws",
                       gc_where_str(f->in_name[i], f->shape[i], j, w, sizeof w), c->fwd[i][j],
                       c->bwd[i][j], c->r->redraws);
                return;
            }
}

/* Moves the Jacobians from c to the result, which then owns them. */
static void hand_over_jacobians(check *c)
{
    mt_gc_result *r = c->r;
    r->jac.nout = c->nout;
    r->jac.ncols = c->ncols;
    r->jac.out_shape = c->out_shape;
    memcpy(r->jac.col0, c->col0, sizeof c->col0);
    r->jac.numerical = c->jn;
    r->jac.analytical = c->ja;
    r->jac.bad = c->jbad;
    r->jac.atol = c->o->atol;
    c->jn = c->ja = NULL;
    c->jbad = NULL;
}

static void check_free(check *c)
{
    mt_arena_free(c->arena);
    for (int i = 0; i < MT_GC_MAX_INPUTS; i++) {
        free(c->x[i]); free(c->num[i]); free(c->fwd[i]); free(c->bwd[i]); free(c->kink[i]);
        for (int q = 0; q < 3; q++) free(c->paths[q].g[i]);
    }
    free(c->R); free(c->out0);
    free(c->jn); free(c->jf); free(c->jb); free(c->ja); free(c->jbad);
    free(c);
}

/* The tolerance a check uses: the option's when it sets one, else f's own, else the default. */
static double resolve_tol(double option, double own, double fallback)
{
    return option != MT_GC_TOL_OWN ? option : own > 0 ? own : fallback;
}

mt_gc_status mt_gc_check(const mt_gc_func *f, const mt_gc_options *o_given, mt_gc_result *r)
{
    mt_gc_options o_res;                 /* the options with f's tolerances resolved */
    if (o_given) o_res = *o_given;
    else mt_gc_options_init(&o_res);
    const mt_gc_options *o_in = &o_res;
    memset(r, 0, sizeof *r);
    r->margin = INFINITY;
    if (!mt_gc_options_problem(&o_res, (char[8]){ 0 }, 8)) {
        o_res.atol = resolve_tol(o_res.atol, f->tol.atol, MT_GC_DEFAULT_ATOL);
        o_res.rtol = resolve_tol(o_res.rtol, f->tol.rtol, MT_GC_DEFAULT_RTOL);
    }
    r->atol = o_res.atol;
    r->rtol = o_res.rtol;
    double t0 = now();
    check *c = calloc(1, sizeof *c);
    if (!c) { snprintf(r->text, sizeof r->text, "out of memory\n"); return r->status = MT_GC_FAIL; }
    c->f = f;
    c->o = o_in;
    c->r = r;
    mt_rng_seed(&c->rng, o_in->seed ^ hash_names(f));

    r->status = MT_GC_FAIL;
    if (!cannot_check(f, o_in, r)) {
        mt_error_fn saved_handler = NULL;
        void *saved_user = NULL;
        c->arena = mt_arena_new();
        mt_get_error_handler(&saved_handler, &saved_user);   /* the caller's, restored below */
        mt_set_error_handler(capture_error, c);
        choose_paths(c);
        if (!draw_inputs(c)) {
            gc_say(r, "out of memory");
        } else {
            attempt_until_smooth(c);
            if (r->status == MT_GC_KINK) report_kink(c);
            if (o_in->keep_jacobians && c->use_jac && c->ja) hand_over_jacobians(c);
        }
        mt_set_error_handler(saved_handler, saved_user);
    }
    check_free(c);
    r->seconds = now() - t0;
    return r->status;
}
