/* diagnose.c: what a failure means. Once check.c has found that backward and the finite
 * differences disagree, this says where (the worst element, the paths that got it wrong, how
 * many elements differ) and looks for the mistake the numbers fit: a shape, zero, a flipped
 * sign, a transpose, a forgotten term of a tied input, a missing or partial broadcast
 * reduction, a constant factor or offset, an error confined to one interval of the input or
 * to some labels, a disagreement between the traversals or between the engine and the op;
 * then a Jacobian that fails where L's gradient does not, and the structure checks. */
#include "gradcheck_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- the mistakes the numbers can fit -------------------------------------------------------- */

static bool all_close(const double *a, const double *want, double k, size_t n,
                      const mt_gc_options *o)
{
    for (size_t j = 0; j < n; j++)
        if (!gc_close_to(a[j], k * want[j], o)) return false;
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

/* The flat index of element fi of shape s with its index along dim e set to 0. */
static size_t flat_at_0(mt_shape s, size_t fi, int e)
{
    size_t stride = 1;
    for (int d = s.ndim - 1; d > e; d--) stride *= (size_t)s.dim[d];
    size_t idx = (fi / stride) % (size_t)s.dim[e];
    return fi - idx * stride;
}

/* A reduction that sums only part of the broadcast gradient G (of the output's shape) of input
 * i, or into the wrong place: the first slab of the output along its dim 0 only (a loop that
 * stops early), or everything into index 0 of one of the input's own dims (that dim's stride
 * left out of the index). a is the analytical gradient; `want` is room for the input's
 * elements. */
static bool diagnose_partial_reduction(check *c, int i, const double *a, const double *G,
                                       double *want)
{
    const mt_gc_func *f = c->f;
    mt_shape in = f->shape[i], out = c->out_shape;
    size_t nout = c->nout, nin = c->n[i];
    char si[64], so[64];
    if (out.ndim >= 1 && out.dim[0] > 1) {              /* the first slab along dim 0 only */
        size_t slab = nout / (size_t)out.dim[0];
        memset(want, 0, nin * sizeof *want);
        for (size_t m = 0; m < slab; m++) {
            size_t fi, sl;
            bcast_map(in, out, m, &fi, &sl);
            want[fi] += G[m];
        }
        if (all_close(a, want, 1.0, nin, c->o) && !all_close(a, c->num[i], 1.0, nin, c->o)) {
            gc_say(c->r, "diagnosis: missing broadcast reduction: the analytical gradient of %s "
                   "(shape %s) sums the broadcast gradient over the first slab of the output "
                   "only, out[0,...], 1 of the %d along dim 0 of %s: a loop over the output "
                   "that stops early", f->in_name[i], gc_shape_compact(in, si, sizeof si),
                   out.dim[0], gc_shape_compact(out, so, sizeof so));
            return true;
        }
    }
    for (int e = 0; e < in.ndim; e++) {                 /* a stride left out of the index */
        if (in.dim[e] < 2) continue;
        memset(want, 0, nin * sizeof *want);
        for (size_t m = 0; m < nout; m++) {
            size_t fi, sl;
            bcast_map(in, out, m, &fi, &sl);
            want[flat_at_0(in, fi, e)] += G[m];
        }
        if (all_close(a, want, 1.0, nin, c->o) && max_abs(want, nin) > c->o->atol) {
            gc_say(c->r, "diagnosis: broadcast reduction with a stride left out: the analytical "
                   "gradient of %s (shape %s) holds the sum over all of its dim %d at index 0, "
                   "and nothing at its other %d index%s: the stride of that dim is missing from "
                   "the index it accumulates into", f->in_name[i],
                   gc_shape_compact(in, si, sizeof si), e, in.dim[e] - 1,
                   in.dim[e] > 2 ? "es" : "");
            return true;
        }
    }
    return false;
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

    mt_gc_func e = *f;                                   /* input i expanded to the output shape */
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
    int rc = gc_numeric_input(c, &e, xe, c->diff, i, G, NULL, NULL, -1);
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
            gc_say(c->r, "diagnosis: missing broadcast reduction: %s (shape %s) is broadcast %zu "
                "times to the output's %s, and its analytical gradient equals the single slice %s "
                "of the broadcast gradient; backward must sum over the broadcast dims",
                f->in_name[i], gc_shape_compact(in, si, sizeof si), count,
                gc_shape_compact(out, so, sizeof so), ss);
            found = true;
        }
    }
    if (!found) found = diagnose_partial_reduction(c, i, a, G, slice);
    if (!found) {
        double *num = c->num[i];
        if (all_close(a, num, 1.0 / (double)count, nin, c->o) && max_abs(num, nin) > c->o->atol) {
            char si[64], so[64];
            gc_say(c->r, "diagnosis: missing broadcast reduction: %s (shape %s) is broadcast %zu "
                "times to the output's %s, and its analytical gradient is the numerical / %zu: the "
                "mean over the broadcast dims where the sum belongs",
                f->in_name[i], gc_shape_compact(in, si, sizeof si), count,
                gc_shape_compact(out, so, sizeof so), count);
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
        ok = gc_numeric_input(c, &u, xu, du, slots[t], term + (size_t)t * n, NULL, NULL, -1) == 0;
    if (!ok) goto out;

    /* the op's own answer per slot */
    bool per_slot = false;
    {
        mt_arena *prev = mt_arena_use(c->arena);
        bool grad = mt_set_grad_enabled(true);
        session s;
        if (gc_session_begin(&s, c, &u, xu, du, PATH_DIRECT) == 0 &&
            gc_session_backward(&s, c->R, 1.0, -1) == 0) {
            for (int t = 0; t < ns; t++) gc_session_read(&s, slots[t], aterm + (size_t)t * n, NULL);
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
            gc_say(c->r, "diagnosis: forgotten term: %s fills inputs of %s %d times; backward "
                "gives nothing for the term through %s%s, so the gradient of %s lacks it (each "
                "input's gradient must be written, and the uses added)", f->in_name[i],
                f->op->name, ns, missing, note, f->in_name[i]);
            found = true;
        } else if (!missing[0] && !wrong[0]) {
            gc_say(c->r, "diagnosis: each use's term is right on its own (%s), yet %s's gradient "
                "is not their sum: with one tensor in several slots the terms must be added, not "
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
        gc_say(c->r, "diagnosis: forgotten term: %s fills inputs of %s %d times, and its "
            "analytical gradient equals only the term through %s; the term through %s is missing",
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

/* Whether element j of input i fails on path p (a kink does not). */
static bool element_bad(check *c, const path *p, int i, size_t j)
{
    return !c->kink[i][j] && !gc_close_to(p->g[i][j], c->num[i][j], c->o);
}

/* Wrong exactly where the input lies in one interval: a function of one differentiated input
 * whose failing elements all lie in [lo, hi] and whose right ones all lie outside it, as a
 * cut-off in the wrong place (relu's at 0.05) or a formula that holds on one side only
 * (|a| for a) make. */
static bool diagnose_range(check *c, const path *p, int i)
{
    const mt_gc_func *f = c->f;
    int ndiff = 0;
    for (int q = 0; q < f->nin; q++) ndiff += c->diff[q];
    size_t n = c->n[i];
    if (ndiff != 1 || n < 4) return false;
    double lo = INFINITY, hi = -INFINITY;
    size_t nbad = 0;
    bool zero = true, flipped = true;
    for (size_t j = 0; j < n; j++) {
        if (!element_bad(c, p, i, j)) continue;
        nbad++;
        lo = fmin(lo, c->x[i][j]);
        hi = fmax(hi, c->x[i][j]);
        zero &= fabs(p->g[i][j]) <= c->o->atol;
        flipped &= gc_close_to(p->g[i][j], -c->num[i][j], c->o);
    }
    if (nbad == 0 || nbad == n) return false;
    for (size_t j = 0; j < n; j++)
        if (!element_bad(c, p, i, j) && !c->kink[i][j] && c->x[i][j] >= lo && c->x[i][j] <= hi)
            return false;
    gc_say(c->r, "diagnosis: wrong exactly where %s lies in [%.4g, %.4g] (%zu of %zu elements; "
           "every element outside is right)%s: a branch or a cut-off in the wrong place, or a "
           "formula that holds on one side only", f->in_name[i], lo, hi, nbad, n,
           zero ? "; there the analytical gradient is 0"
           : flipped ? "; there its sign is flipped" : "");
    return true;
}

/* Wrong exactly in the rows of some labels: input i is (N, C) next to a labels input of N
 * classes, the rows with a failing element have labels that no right row has (a one-hot at
 * the wrong class for those, a class index computed wrong). */
static bool diagnose_labels(check *c, const path *p, int i)
{
    const mt_gc_func *f = c->f;
    mt_shape s = f->shape[i];
    int L = -1;
    for (int q = 0; q < f->nin; q++)
        if (f->domain[q].labels && f->shape[q].ndim == 1 && s.ndim == 2 &&
            f->shape[q].dim[0] == s.dim[0])
            L = q;
    if (L < 0 || f->domain[L].hi - f->domain[L].lo > 64 || s.dim[0] < 2) return false;
    uint64_t bad = 0, good = 0;
    int cols = s.dim[1];
    for (int r = 0; r < s.dim[0]; r++) {
        bool row_bad = false;
        for (int k = 0; k < cols; k++) row_bad |= element_bad(c, p, i, (size_t)r * cols + k);
        uint64_t bit = 1ull << (unsigned)(c->x[L][r] - f->domain[L].lo);
        if (row_bad) bad |= bit; else good |= bit;
    }
    if (!bad || !good || (bad & good)) return false;
    char wrong[160] = "", right[160] = "";
    for (int k = 0; k < 64; k++) {
        char *dst = bad >> k & 1 ? wrong : good >> k & 1 ? right : NULL;
        if (!dst) continue;
        size_t len = strlen(dst);
        snprintf(dst + len, 160 - len, "%s%g", len ? ", " : "", f->domain[L].lo + k);
    }
    gc_say(c->r, "diagnosis: wrong exactly in the rows of %s labelled %s (the rows labelled %s "
           "are right): the one-hot term or the class index goes wrong for those classes",
           f->in_name[i], wrong, right);
    return true;
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
        gc_say(r, "diagnosis: the gradient of %s has shape %s, not %s's shape %s", nm,
            mt_shape_str(p->grad_shape[i], s1, sizeof s1), nm,
            mt_shape_str(f->shape[i], s2, sizeof s2));
        return;
    }
    if (na <= o->atol && nn > o->atol) {
        r->diagnoses |= MT_GC_DIAG_ZERO;
        gc_say(r, "diagnosis: analytical gradient of %s is zero where the numerical is not%s", nm,
            p->grad_missing[i] ? " (no gradient reached it)"
            : f->op ? ": backward never writes its gradient" : "");
        if (diagnose_term(c, i, a)) r->diagnoses |= MT_GC_DIAG_TERM;
        return;
    }
    if (nn > o->atol && all_close(a, num, -1.0, n, o)) {
        r->diagnoses |= MT_GC_DIAG_SIGN;
        gc_say(r, "diagnosis: sign flipped: analytical = -numerical for every element of %s", nm);
        return;
    }
    mt_shape s = f->shape[i];
    if (s.ndim == 2 && s.dim[0] > 1 && s.dim[1] > 1 && nn > o->atol) {
        int rows = s.dim[0], cols = s.dim[1];
        bool tr = true;
        for (int u = 0; u < rows && tr; u++)
            for (int v = 0; v < cols && tr; v++)
                tr = gc_close_to(a[(size_t)v * rows + u], num[(size_t)u * cols + v], o);
        if (tr) {
            r->diagnoses |= MT_GC_DIAG_TRANSPOSED;
            gc_say(r, "diagnosis: transposed: the analytical gradient of %s (%dx%d) holds the "
                "numerical one transposed (its data is laid out as %dx%d)", nm, rows, cols, cols,
                rows);
            return;
        }
    }
    bool explained = false;
    if (diagnose_term(c, i, a)) { r->diagnoses |= MT_GC_DIAG_TERM; explained = true; }
    if (!explained && diagnose_broadcast(c, i, a)) {
        r->diagnoses |= MT_GC_DIAG_BROADCAST;
        explained = true;
    }
    double sxy = 0, sxx = 0;
    for (size_t j = 0; j < n; j++) { sxy += a[j] * num[j]; sxx += num[j] * num[j]; }
    double k = sxx > 0 ? sxy / sxx : NAN;
    if (nn > o->atol && isfinite(k) && fabs(k) > 1e-3 && !gc_close_to(k, 1.0, o) &&
        all_close(a, num, k, n, o)) {
        r->diagnoses |= MT_GC_DIAG_FACTOR;
        r->factor = k;
        gc_say(r, "diagnosis: %soff by a constant factor: analytical = %.6g x numerical for every "
            "element of %s", explained ? "also " : "", k, nm);
        explained = true;
    }
    double d = 0;
    for (size_t j = 0; j < n; j++) d += a[j] - num[j];
    d /= (double)n;
    bool offset = !explained && isfinite(d) && fabs(d) > o->atol;
    for (size_t j = 0; j < n && offset; j++) offset = gc_close_to(a[j] - d, num[j], o);
    if (offset) {
        r->diagnoses |= MT_GC_DIAG_OFFSET;
        gc_say(r, "diagnosis: off by a constant: analytical = numerical %+.3g for every element "
            "of %s: a term that does not depend on grad_out", d, nm);
        explained = true;
    }
    if (!explained && diagnose_range(c, p, i)) r->diagnoses |= MT_GC_DIAG_RANGE;
    if (!explained && diagnose_labels(c, p, i)) r->diagnoses |= MT_GC_DIAG_LABELS;
}

/* ---- explaining a check's failures ----------------------------------------------------------- */

/* When some path got input i right and another did not: the traversals disagree, or the op is
 * right called directly and wrong through the engine. */
static void diagnose_paths(check *c, int i)
{
    mt_gc_result *r = c->r;
    char good[64] = "", bad[64] = "";
    bool engine_bad = false, direct_ok = false, dfs_bad = false, topo_bad = false;
    for (int q = 0; q < c->npaths; q++) {
        const path *pq = &c->paths[q];
        char *dst = pq->value_bad[i] ? bad : good;
        size_t len = strlen(dst);
        snprintf(dst + len, 64 - len, "%s%s", len ? ", " : "", gc_path_names[pq->kind]);
        if (pq->kind == PATH_DIRECT) direct_ok = !pq->value_bad[i];
        else engine_bad |= pq->value_bad[i];
        if (pq->kind == PATH_DFS) dfs_bad = pq->value_bad[i];
        if (pq->kind == PATH_TOPO) topo_bad = pq->value_bad[i];
    }
    if (dfs_bad != topo_bad) {
        r->diagnoses |= MT_GC_DIAG_TRAVERSAL;
        gc_say(r, "diagnosis: the traversals disagree on %s: right with %s, wrong with %s",
               c->f->in_name[i], good, bad);
    } else if (engine_bad && direct_ok) {
        r->diagnoses |= MT_GC_DIAG_ENGINE;
        gc_say(r, "diagnosis: the op's backward is right called directly but wrong "
               "through the engine (%s): look at the graph, not the op", bad);
    }
}

void gc_explain_gradient(check *c)
{
    const mt_gc_func *f = c->f;
    mt_gc_result *r = c->r;
    char paths[64] = "";
    for (int q = 0; q < c->npaths; q++) {
        bool bad = false;
        for (int i = 0; i < f->nin; i++) bad |= c->paths[q].value_bad[i];
        if (bad) {
            size_t len = strlen(paths);
            snprintf(paths + len, sizeof paths - len, "%s%s", len ? ", " : "",
                     gc_path_names[c->paths[q].kind]);
        }
    }
    gc_say(r, "%s: numerical %.10g, analytical %.10g (backward: %s)", r->where, r->numerical,
           r->analytical, paths);
    for (int i = 0; i < f->nin; i++) {
        int first = -1, nbadpaths = 0;
        for (int q = 0; q < c->npaths; q++)
            if (c->paths[q].value_bad[i]) { if (first < 0) first = q; nbadpaths++; }
        if (first < 0) continue;
        const path *p = &c->paths[first];
        size_t nbad = 0;
        for (size_t j = 0; j < c->n[i]; j++)
            if (!gc_close_to(p->g[i][j], c->num[i][j], c->o) && !c->kink[i][j]) nbad++;
        if (nbad || p->shape_bad[i])
            gc_say(r, "%s: %zu of %zu elements differ (%s)", f->in_name[i], nbad, c->n[i],
                   gc_path_names[p->kind]);
        diagnose_input(c, p, i);
        if (nbadpaths < c->npaths) diagnose_paths(c, i);     /* some path got it right */
    }
}

void gc_explain_jacobian(check *c, size_t jac_bad, bool gradient_failed)
{
    const mt_gc_func *f = c->f;
    mt_gc_result *r = c->r;
    size_t e0 = 0;
    for (size_t e = 0; e < c->nout * c->ncols; e++) if (c->jbad[e]) { e0 = e; break; }
    size_t k = e0 / c->ncols, col = e0 % c->ncols;
    int i = 0;
    for (int q = 0; q < f->nin; q++) if (c->col0[q] >= 0 && (size_t)c->col0[q] <= col) i = q;
    char wo[128], wi[128];
    gc_say(r, "Jacobian: %zu entries differ; d %s / d %s: numerical %.10g, analytical %.10g",
           jac_bad, gc_where_str("out", c->out_shape, k, wo, sizeof wo),
           gc_where_str(f->in_name[i], f->shape[i], col - (size_t)c->col0[i], wi, sizeof wi),
           c->jn[e0], c->ja[e0]);
    if (!gradient_failed) {
        r->diagnoses |= MT_GC_DIAG_JACOBIAN;
        gc_say(r, "diagnosis: L's gradient agrees for this R but the Jacobian does not: the "
               "mistake cancels in the sum over output elements");
    }
}

bool gc_explain_structure(check *c)
{
    const mt_gc_func *f = c->f;
    mt_gc_result *r = c->r;
    bool fail = false;
    for (int q = 0; q < c->npaths; q++) {
        const path *p = &c->paths[q];
        const char *pn = gc_path_names[p->kind];
        if (p->acc_bad) {
            const char *nm = f->in_name[p->acc_bad - 1];
            fail = true;
            if (p->acc_overwrites) {
                r->diagnoses |= MT_GC_DIAG_OVERWRITE;
                gc_say(r, "structure (%s): two backward calls give the gradient of %s once, not "
                       "twice\ndiagnosis: backward overwrites its input gradients (= where += "
                       "belongs): it must add into grad_in", pn, nm);
            } else {
                gc_say(r, "structure (%s): two backward calls give %.6g x the gradient of %s, "
                       "not 2x", pn, p->acc_ratio, nm);
            }
        }
        if (p->scale_bad) {
            fail = true;
            r->diagnoses |= MT_GC_DIAG_SCALE;
            gc_say(r, "structure (%s): the seed 2R does not give twice the gradient of %s: "
                   "backward must scale with grad_out", pn, f->in_name[p->scale_bad - 1]);
        }
        if (p->zero_bad) {
            fail = true;
            r->diagnoses |= MT_GC_DIAG_SCALE;
            gc_say(r, "structure (%s): a zero seed gives a non-zero gradient of %s: backward must "
                   "be linear in grad_out", pn, f->in_name[p->zero_bad - 1]);
        }
    }
    return fail;
}
