/* local.c: the registry's chain rule against backward. For an element-wise op, what a viewer
 * prints as a step of the chain rule (the incoming gradient times local_grad) must be what the
 * op's backward computes: summed over broadcast dimensions, grad_in[i] = sum over outputs k of
 * grad_out[k] * local_grad(args, i, x(k), y[k]). mt_gc_check verifies it at every check of an
 * op that has a local_grad (gc_check_local), with the check's inputs and R as grad_out;
 * mt_gc_check_local does it on its own. */
#include "local.h"
#include "gradcheck_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the flat index into a tensor of shape s (which broadcasts to out) of output element k */
static size_t broadcast_index(mt_shape s, mt_shape out, size_t k)
{
    size_t idx = 0, stride = 1;
    for (int d = out.ndim - 1, e = s.ndim - 1; d >= 0; d--, e--) {
        size_t i = k % (size_t)out.dim[d];
        k /= (size_t)out.dim[d];
        if (e < 0) continue;
        if (s.dim[e] != 1) idx += i * stride;
        stride *= (size_t)s.dim[e];
    }
    return idx;
}

/* The chain rule for input `in` of an op function (op slot s reads input use[s]; input q has
 * shape shape[q] and values x[q]): want[j] = the sum over output elements k, and over the
 * slots that input fills, of g[k] * local_grad(args, slot, x(k), y[k]); sumabs[j] the sum of
 * the terms' sizes, the scale of their rounding. */
static void chain_rule(const mt_op *op, const mt_op_args *args, const int *use,
                       const mt_shape *shape, double *const *x, mt_shape out, const double *y,
                       const double *g, int in, double *want, double *sumabs)
{
    size_t n = mt_shape_numel(shape[in]), nout = mt_shape_numel(out);
    memset(want, 0, n * sizeof *want);
    memset(sumabs, 0, n * sizeof *sumabs);
    double xs[MT_MAX_INPUTS];
    for (size_t k = 0; k < nout; k++) {
        for (int s = 0; s < op->arity; s++)
            xs[s] = x[use[s]][broadcast_index(shape[use[s]], out, k)];
        size_t j = broadcast_index(shape[in], out, k);
        for (int s = 0; s < op->arity; s++) {
            if (use[s] != in) continue;
            double t = g[k] * op->local_grad(args, s, xs, y[k]);
            want[j] += t;
            sumabs[j] += fabs(t);
        }
    }
}

static bool local_close(double got, double want, double sumabs)
{
    return fabs(got - want) <= MT_GC_LOCAL_RTOL * sumabs;    /* false for a NaN */
}

/* The formula of the first slot input i fills, for the message. */
static const char *slot_text(const mt_gc_func *f, int i)
{
    for (int s = 0; s < f->op->arity; s++)
        if (f->use[s] == i && f->op->local_text[s]) return f->op->local_text[s];
    return "?";
}

bool gc_check_local(check *c)
{
    const mt_gc_func *f = c->f;
    if (!f->op || !f->op->local_grad || c->npaths < 1) return false;
    const path *p = &c->paths[0];
    mt_gc_result *r = c->r;
    size_t maxn = 1;
    for (int i = 0; i < f->nin; i++) if (c->n[i] > maxn) maxn = c->n[i];
    double *want = malloc(maxn * sizeof *want), *sumabs = malloc(maxn * sizeof *sumabs);
    bool fail = false;
    if (!want || !sumabs) { c->oom = true; goto done; }
    for (int i = 0; i < f->nin; i++) {
        if (!c->diff[i] || p->shape_bad[i]) continue;
        chain_rule(f->op, &f->args, f->use, f->shape, c->x, c->out_shape, c->out0, c->R, i,
                   want, sumabs);
        size_t nbad = 0, worst = 0;
        double worst_excess = -1;
        for (size_t j = 0; j < c->n[i]; j++) {
            double got = p->g[i][j];
            if (local_close(got, want[j], sumabs[j])) continue;
            nbad++;
            double excess = isnan(got - want[j]) ? INFINITY
                          : fabs(got - want[j]) - MT_GC_LOCAL_RTOL * sumabs[j];
            if (excess > worst_excess) { worst_excess = excess; worst = j; }
        }
        if (!nbad) continue;
        fail = true;
        r->diagnoses |= MT_GC_DIAG_LOCAL;
        char w[128];
        gc_where_str(f->in_name[i], f->shape[i], worst, w, sizeof w);
        double got = p->g[i][worst], chain = want[worst], num = c->num[i][worst];
        gc_say(r, "local_grad: %s: backward (%s) gives %.10g, grad_out * local_grad (\"%s\") "
               "summed over the broadcast gives %.10g; numerical %.10g", w,
               gc_path_names[p->kind], got, slot_text(f, i), chain, num);
        gc_say(r, "%s: %zu of %zu elements differ from the chain rule", f->in_name[i], nbad,
               c->n[i]);
        bool back_ok = gc_close_to(got, num, c->o), chain_ok = gc_close_to(chain, num, c->o);
        gc_say(r, "diagnosis: backward is not unbroadcast(grad_out * local_grad), the chain rule "
               "op.h's local_grad states and a viewer prints: %s",
               back_ok && !chain_ok ? "the finite differences agree with backward, so local_grad "
                                      "is the one that is wrong"
               : chain_ok && !back_ok ? "the finite differences agree with local_grad, so "
                                        "backward is the one that is wrong"
               : back_ok ? "the difference is below what finite differences can resolve"
                         : "the finite differences agree with neither");
        if (!r->where[0]) {
            snprintf(r->where, sizeof r->where, "%s", w);
            snprintf(r->path, sizeof r->path, "%s", gc_path_names[p->kind]);
            r->numerical = num;
            r->analytical = got;
        }
    }
done:
    free(want);
    free(sumabs);
    return fail;
}

/* ---- on its own ------------------------------------------------------------------------------ */

static double draw_in(mt_rng *rng, mt_domain d)
{
    if (d.labels) return d.lo + (double)mt_rng_below(rng, (uint64_t)(d.hi - d.lo));
    double x;
    do x = d.lo + (d.hi - d.lo) * mt_rng_uniform(rng);
    while (fabs(x) < d.min_abs);
    return x;
}

int mt_gc_check_local(const mt_op *op, const mt_case *c, uint64_t seed, double tol, char *msg,
                      size_t msglen)
{
    if (!op->local_grad) return 0;
    mt_rng rng;
    mt_rng_seed(&rng, seed);
    mt_arena *arena = mt_arena_new(), *prev = mt_arena_use(arena);
    bool grad = mt_set_grad_enabled(false);
    mt_tensor *in[MT_MAX_INPUTS] = { NULL }, *gin[MT_MAX_INPUTS] = { NULL };
    double *x[MT_MAX_INPUTS] = { NULL };
    mt_shape shape[MT_MAX_INPUTS];
    int use[MT_MAX_INPUTS];
    mt_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.nin = op->arity;
    for (int i = 0; i < op->arity; i++) {
        mt_domain d = c->domain ? c->domain[i] : op->domain[i];
        in[i] = mt_empty(c->in[i]);
        for (size_t k = 0; k < in[i]->numel; k++) in[i]->data[k] = draw_in(&rng, d);
        if (!d.labels) gin[i] = mt_zeros(c->in[i]);
        x[i] = in[i]->data;
        shape[i] = ctx.in_shape[i] = in[i]->shape;
        use[i] = i;
    }
    int rc = -1;
    double *want = NULL, *sumabs = NULL;
    /* forward and backward called directly, as the engine would: any op, registered or not */
    mt_tensor *out = op->forward(&ctx, in, &c->args);
    if (!out) {
        snprintf(msg, msglen, "%s %s: forward failed: %s", op->name, c->name, mt_last_error());
        goto done;
    }
    mt_tensor *g = mt_empty(out->shape);
    for (size_t k = 0; k < g->numel; k++) g->data[k] = 2.0 * mt_rng_uniform(&rng) - 1.0;
    op->backward(&ctx, g, gin);
    for (int i = 0; i < op->arity; i++) {
        if (!gin[i]) continue;
        size_t n = in[i]->numel ? in[i]->numel : 1;
        free(want);
        free(sumabs);
        want = malloc(n * sizeof *want);
        sumabs = malloc(n * sizeof *sumabs);
        if (!want || !sumabs) {
            snprintf(msg, msglen, "%s %s: out of memory", op->name, c->name);
            goto done;
        }
        chain_rule(op, &c->args, use, shape, x, out->shape, out->data, g->data, i, want, sumabs);
        for (size_t k = 0; k < in[i]->numel; k++) {
            double got = gin[i]->data[k];
            if (!(fabs(got - want[k]) <= tol * (1.0 + fabs(want[k])))) {
                snprintf(msg, msglen,
                         "%s %s: input %d element %zu: backward gives %.17g but grad_out * "
                         "local_grad (\"%s\") gives %.17g",
                         op->name, c->name, i, k, got, op->local_text[i], want[k]);
                goto done;
            }
        }
    }
    rc = 0;
done:
    free(want);
    free(sumabs);
    mt_set_grad_enabled(grad);
    mt_arena_use(prev);
    mt_arena_free(arena);
    return rc;
}
