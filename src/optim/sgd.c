/* sgd.c: SGD with momentum, the handout's form (v = momentum v - lr grad; p += v), which for a
 * constant lr gives the same parameters as torch.optim.SGD (v = momentum v + grad; p -= lr v).
 * One allocation holds the optimizer, the parameter list and every velocity buffer, so step()
 * allocates nothing; it writes the parameters' data directly and builds no graph. */
#include "mytorch/optim.h"
#include "mytorch/autograd.h"

#include <stdlib.h>

struct mt_sgd {
    double      lr, momentum;
    int         n;
    mt_tensor **params;    /* (n) not owned; points into this allocation */
    double     *velocity;  /* (sum of the params' numel), one run per parameter, in order */
};

mt_sgd *mt_sgd_new(mt_tensor **params, int n, double lr, double momentum)
{
    if (n < 0 || (n > 0 && !params)) {
        mt_error("SGD: %d parameters at %p", n, (void *)params);
        return NULL;
    }
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (!params[i] || !params[i]->requires_grad || !params[i]->is_leaf) {
            mt_error("SGD: parameter %d %s", i,
                     !params[i] ? "is NULL"
                     : !params[i]->is_leaf ? "is not a leaf (optimise leaves, e.g. a module's "
                                             "parameters)"
                     : "does not require grad");
            return NULL;
        }
        total += params[i]->numel;
    }
    if (!(lr >= 0.0) || !(momentum >= 0.0)) {
        mt_error("SGD: need lr >= 0 and momentum >= 0, got %g and %g", lr, momentum);
        return NULL;
    }
    /* [mt_sgd][n pointers][total doubles]: both sizes are multiples of 8, so the doubles align */
    mt_sgd *opt = calloc(1, sizeof *opt + (size_t)n * sizeof(mt_tensor *) + total * sizeof(double));
    if (!opt) {
        mt_error("SGD: out of memory for %zu velocity values", total);
        return NULL;
    }
    opt->lr = lr;
    opt->momentum = momentum;
    opt->n = n;
    opt->params = (mt_tensor **)(opt + 1);
    opt->velocity = (double *)(opt->params + n);
    for (int i = 0; i < n; i++) opt->params[i] = params[i];
    return opt;
}

void mt_sgd_step(mt_sgd *opt)
{
    if (!opt) return;
    double *v = opt->velocity;
    for (int i = 0; i < opt->n; i++) {
        mt_tensor *p = opt->params[i];
        if (p->grad) {
            const double *g = p->grad->data;
            for (size_t k = 0; k < p->numel; k++) {
                v[k] = opt->momentum * v[k] - opt->lr * g[k];
                p->data[k] += v[k];
            }
        }
        v += p->numel;
    }
}

void mt_sgd_zero_grad(mt_sgd *opt)
{
    if (!opt) return;
    for (int i = 0; i < opt->n; i++) mt_zero_grad(opt->params[i]);
}

void mt_sgd_set_lr(mt_sgd *opt, double lr)
{
    if (opt) opt->lr = lr;
}

void mt_sgd_free(mt_sgd *opt) { free(opt); }
