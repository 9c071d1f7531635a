/* local.c: the registry's chain rule against backward. For an element-wise op, what a viewer
 * prints as a step of the chain rule (the incoming gradient times local_grad) must be what the
 * op's backward computes: summed over broadcast dimensions, grad_in[i] = sum over outputs k of
 * grad_out[k] * local_grad(args, i, x(k), y[k]). Checked here on every shape case. */
#include "local.h"

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

static double draw_in(mt_rng *rng, mt_domain d)
{
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
    mt_tensor *in[MT_MAX_INPUTS] = { NULL };
    for (int i = 0; i < op->arity; i++) {
        in[i] = mt_requires_grad(mt_empty(c->in[i]), true);
        for (size_t k = 0; k < in[i]->numel; k++) in[i]->data[k] = draw_in(&rng, op->domain[i]);
    }
    int rc = -1;
    mt_tensor *out = mt_apply(op, in, &c->args);
    if (!out) {
        snprintf(msg, msglen, "%s %s: forward failed: %s", op->name, c->name, mt_last_error());
        goto done;
    }
    mt_tensor *g = mt_empty(out->shape);
    for (size_t k = 0; k < g->numel; k++) g->data[k] = 2.0 * mt_rng_uniform(&rng) - 1.0;
    if (mt_backward_ex(out, g, MT_TOPO) != 0) {
        snprintf(msg, msglen, "%s %s: backward failed: %s", op->name, c->name, mt_last_error());
        goto done;
    }
    for (int i = 0; i < op->arity; i++) {
        double *want = calloc(in[i]->numel ? in[i]->numel : 1, sizeof *want);
        double x[MT_MAX_INPUTS];
        for (size_t k = 0; k < out->numel; k++) {
            for (int j = 0; j < op->arity; j++)
                x[j] = in[j]->data[broadcast_index(in[j]->shape, out->shape, k)];
            want[broadcast_index(in[i]->shape, out->shape, k)] +=
                g->data[k] * op->local_grad(&c->args, i, x, out->data[k]);
        }
        for (size_t k = 0; k < in[i]->numel; k++) {
            double got = in[i]->grad ? in[i]->grad->data[k] : 0.0;
            if (!(fabs(got - want[k]) <= tol * (1.0 + fabs(want[k])))) {
                snprintf(msg, msglen,
                         "%s %s: input %d element %zu: backward gives %.17g but grad_out * "
                         "local_grad (\"%s\") gives %.17g",
                         op->name, c->name, i, k, got, op->local_text[i], want[k]);
                free(want);
                goto done;
            }
        }
        free(want);
    }
    rc = 0;
done:
    mt_arena_use(prev);
    mt_arena_free(arena);
    return rc;
}
