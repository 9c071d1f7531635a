/* gradients.c: the two gradients a check compares (check.c). The numerical one: f evaluated
 * without a graph, and its central and one-sided differences of L, column by column of the
 * Jacobian; the analytical one: backward along one path, with the structure checks on the way. */
#include "gradcheck_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- finite differences ---------------------------------------------------------------------- */

int gc_eval(check *c, const mt_gc_func *f, double *const *x, const bool *diff, double *out,
            mt_shape *shape)
{
    mt_arena *prev = mt_arena_use(c->arena);
    bool grad = mt_set_grad_enabled(false);
    mt_tensor *in[MT_GC_MAX_INPUTS];
    mt_ctx ctx;
    gc_load_inputs(f, x, diff, in, false);
    mt_tensor *y = gc_forward(f, in, &ctx, false);
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

int gc_numeric_input(check *c, const mt_gc_func *f, double **x, const bool *diff, int i,
                     double *g, double *fwd, double *bwd, long col)
{
    double h = c->o->eps;
    size_t n = mt_shape_numel(f->shape[i]);
    double *outp = malloc(c->nout * sizeof(double)), *outm = malloc(c->nout * sizeof(double));
    int rc = 0;
    if (!outp || !outm) { c->oom = true; rc = -1; }
    for (size_t j = 0; j < n && rc == 0; j++) {
        /* the steps actually taken, (v + h) - v and v - (v - h), which the rounding of v + h
         * and v - h makes differ from h: dividing by them keeps a linear op exact */
        double v = x[i][j], vp = v + h, vm = v - h;
        x[i][j] = vp;
        rc = gc_eval(c, f, x, diff, outp, NULL);
        x[i][j] = vm;
        if (rc == 0) rc = gc_eval(c, f, x, diff, outm, NULL);
        x[i][j] = v;
        if (rc) break;
        /* L(x+h) - L(x-h) as the sum of R times each output's own difference, not as the
         * difference of two sums: an output that x[i][j] does not touch adds exactly 0, and
         * the rounding of the others stays at their own size, not at L's */
        double dc = 0, df = 0, db = 0;
        for (size_t k = 0; k < c->nout; k++) {
            dc += c->R[k] * (outp[k] - outm[k]);
            df += c->R[k] * (outp[k] - c->out0[k]);
            db += c->R[k] * (c->out0[k] - outm[k]);
        }
        double h2 = vp - vm, hf = vp - v, hb = v - vm;
        g[j] = dc / h2;
        if (fwd) fwd[j] = df / hf;
        if (bwd) bwd[j] = db / hb;
        if (col >= 0 && c->use_jac) {
            size_t cj = (size_t)col + j;
            for (size_t k = 0; k < c->nout; k++) {
                c->jn[k * c->ncols + cj] = (outp[k] - outm[k]) / h2;
                c->jf[k * c->ncols + cj] = (outp[k] - c->out0[k]) / hf;
                c->jb[k * c->ncols + cj] = (c->out0[k] - outm[k]) / hb;
            }
        }
    }
    free(outp);
    free(outm);
    return rc;
}

/* ---- running backward ------------------------------------------------------------------------ */

int gc_session_begin(session *s, check *c, const mt_gc_func *f, double *const *x,
                     const bool *diff, path_kind kind)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->f = f;
    s->x = x;
    s->diff = diff;
    s->kind = kind;
    gc_load_inputs(f, x, diff, s->in, kind != PATH_DIRECT);
    s->out = gc_forward(f, s->in, &s->ctx, kind != PATH_DIRECT);
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

int gc_session_backward(session *s, const double *seed, double scale, long onehot)
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

int gc_session_read(session *s, int i, double *dst, mt_shape *got)
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

void gc_run_path(check *c, path *p, bool jac)
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
    if (gc_session_begin(&s, c, f, c->x, c->diff, p->kind) < 0) { p->failed = true; goto done; }

    /* 1. L's gradient */
    session_zero(&s);
    if (gc_session_backward(&s, c->R, 1.0, -1) < 0) { p->failed = true; goto done; }
    for (int i = 0; i < f->nin; i++) {
        if (!c->diff[i]) continue;
        int rc = gc_session_read(&s, i, p->g[i], &p->grad_shape[i]);
        p->shape_bad[i] = rc < 0;
        p->grad_missing[i] = rc == 1;
    }

    /* 2. a second backward adds the same again */
    if (gc_session_backward(&s, c->R, 1.0, -1) < 0) { p->failed = true; goto done; }
    for (int i = 0; i < f->nin && !p->acc_bad; i++) {
        if (!c->diff[i] || p->shape_bad[i]) continue;
        gc_session_read(&s, i, tmp, NULL);
        bool twice = true, once = true, any = false;
        double num = 0, den = 0;
        for (size_t j = 0; j < c->n[i]; j++) {
            twice &= gc_close_to(tmp[j], 2 * p->g[i][j], o);
            once &= gc_close_to(tmp[j], p->g[i][j], o);
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
    if (gc_session_backward(&s, c->R, 2.0, -1) < 0) { p->failed = true; goto done; }
    for (int i = 0; i < f->nin && !p->scale_bad; i++) {
        if (!c->diff[i] || p->shape_bad[i]) continue;
        gc_session_read(&s, i, tmp, NULL);
        for (size_t j = 0; j < c->n[i]; j++)
            if (!gc_close_to(tmp[j], 2 * p->g[i][j], o)) { p->scale_bad = i + 1; break; }
    }
    session_zero(&s);
    if (gc_session_backward(&s, NULL, 0.0, -1) < 0) { p->failed = true; goto done; }
    for (int i = 0; i < f->nin && !p->zero_bad; i++) {
        if (!c->diff[i] || p->shape_bad[i]) continue;
        gc_session_read(&s, i, tmp, NULL);
        for (size_t j = 0; j < c->n[i]; j++)
            if (!(fabs(tmp[j]) <= o->atol)) { p->zero_bad = i + 1; break; }
    }

    /* 5. the analytical Jacobian, a row per output element */
    if (jac && c->use_jac) {
        for (size_t k = 0; k < c->nout; k++) {
            session_zero(&s);
            if (gc_session_backward(&s, NULL, 0.0, (long)k) < 0) { p->failed = true; goto done; }
            for (int i = 0; i < f->nin; i++) {
                if (!c->diff[i]) continue;
                gc_session_read(&s, i, tmp, NULL);
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
