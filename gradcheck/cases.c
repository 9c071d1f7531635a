/* cases.c: the default list of functions gradcheck checks: every case of every op in the
 * registry (so an op added to src/ops/ops.def is checked with no change here), a tied case
 * (x op x) per op of two or more inputs, and the modules of nn.h as functions of their inputs
 * and parameters. Small sizes: the whole list checks in about 15 ms, and must stay well under
 * 50 ms, as the MNIST trainer runs it before every training run. */
#include "gradcheck.h"

#include <stdlib.h>
#include <string.h>

#define MLP_IN     5
#define MLP_HIDDEN 6
#define MLP_OUT    3
#define BATCH      4

/* ---- module functions ----------------------------------------------------------------------- */

/* A module (owned) and what the function does with it. The constant batch x, when the
 * function is of the parameters only, is kept as values and made in the current arena. */
typedef struct module_fn {
    mt_module *m;
    bool       x_is_input;        /* in[0] is x; otherwise x comes from xdata */
    double     xdata[BATCH * MLP_IN];
    mt_shape   xshape;
    double     labels[BATCH];     /* loss functions: the labels, every class of [0, MLP_OUT) */
    bool       loss;              /* f = cross_entropy(m(x), labels) */
    int        first_param;       /* index of the first parameter input */
} module_fn;

static void module_fn_release(void *self)
{
    module_fn *s = self;
    mt_module_free(s->m);
    free(s);
}

static mt_tensor *module_fn_forward(void *self, mt_tensor *const *in)
{
    module_fn *s = self;
    mt_tensor *x = s->x_is_input ? in[0] : mt_from_data(s->xshape, s->xdata);
    mt_tensor *y = mt_module_forward(s->m, x);
    if (!s->loss) return y;
    return mt_cross_entropy(y, mt_from_data(MT_SHAPE(BATCH), s->labels));
}

static const mt_domain x_domain      = { -2.0, 2.0, 0.0, false };
static const mt_domain weight_domain = { -1.0, 1.0, 0.0, false };
static const mt_domain bias_domain   = { -0.5, 0.5, 0.0, false };
static const mt_domain gamma_domain  = { 0.5, 1.5, 0.0, false };

/* Adds m's parameters as bound inputs, named by their state_dict keys. */
static int add_parameters(mt_gc_func *f, mt_module *m)
{
    mt_named_tensor named[MT_GC_MAX_INPUTS * 2];
    int n = mt_module_state_dict(m, named, MT_GC_MAX_INPUTS * 2);
    if (n < 0 || n > MT_GC_MAX_INPUTS * 2) return -1;
    for (int k = 0; k < n; k++) {
        if (named[k].is_buffer) continue;
        const char *key = named[k].name, *dot = strrchr(key, '.');
        const char *leaf = dot ? dot + 1 : key;
        /* a 1-D weight is BatchNorm's scale (gamma): kept away from 0 */
        bool gamma = strcmp(leaf, "weight") == 0 && named[k].tensor->shape.ndim == 1;
        mt_domain d = strcmp(leaf, "bias") == 0 ? bias_domain
                    : gamma                    ? gamma_domain
                                               : weight_domain;
        if (mt_gc_func_add_input(f, key, named[k].tensor->shape, d, named[k].tensor) < 0) return -1;
    }
    return 0;
}

/* A function of a module: of (x, parameters) when x_is_input, else of the parameters. */
static int module_case(mt_gc_func *f, const char *name, const char *case_name, mt_module *m,
                       mt_shape xshape, bool x_is_input, bool loss, mt_rng *rng)
{
    module_fn *s = calloc(1, sizeof *s);
    if (!s || !m) { free(s); mt_module_free(m); return -1; }
    s->m = m;
    s->x_is_input = x_is_input;
    s->xshape = xshape;
    s->loss = loss;
    for (size_t k = 0; k < mt_shape_numel(xshape) && k < BATCH * MLP_IN; k++)
        s->xdata[k] = -2.0 + 4.0 * mt_rng_uniform(rng);
    uint64_t first = mt_rng_below(rng, MLP_OUT);         /* BATCH >= MLP_OUT: each class */
    for (int k = 0; k < BATCH; k++) s->labels[k] = (double)((first + (uint64_t)k) % MLP_OUT);
    mt_module_train(m, true);
    mt_gc_func_graph(f, name, case_name, module_fn_forward, s, module_fn_release);
    if (x_is_input) mt_gc_func_add_input(f, "x", xshape, x_domain, NULL);
    return add_parameters(f, m);
}

/* ---- functions of plain ops ------------------------------------------------------------------ */

static mt_tensor *log_softmax_forward(void *self, mt_tensor *const *in)
{
    (void)self;
    return mt_log_softmax(in[0], 1);
}

static mt_tensor *cross_entropy_forward(void *self, mt_tensor *const *in)
{
    (void)self;
    return mt_cross_entropy(in[0], in[1]);
}

/* ---- the list -------------------------------------------------------------------------------- */

static mt_module *mlp_new(mt_rng *rng)
{
    mt_module *layers[4] = {
        mt_linear_new(MLP_IN, MLP_HIDDEN, rng),
        mt_batchnorm1d_new(MLP_HIDDEN, 1e-5, 0.1),
        mt_relu_new(),
        mt_linear_new(MLP_HIDDEN, MLP_OUT, rng),
    };
    return mt_sequential_new(4, layers);
}

int mt_gc_cases_default(mt_gc_func **out)
{
    int cap = 8, n = 0;
    for (int i = 0; i < mt_op_count(); i++) {
        const mt_op *op = mt_op_at(i);
        cap += (op->ncases > 0 ? op->ncases : 1) + 1;
    }
    mt_gc_func *fs = calloc((size_t)cap, sizeof *fs);
    if (!fs) return -1;

    for (int i = 0; i < mt_op_count(); i++) {
        const mt_op *op = mt_op_at(i);
        if (op->ncases <= 0 || !op->cases) { mt_gc_func_op(&fs[n++], op, NULL); continue; }
        for (int k = 0; k < op->ncases; k++) mt_gc_func_op(&fs[n++], op, &op->cases[k]);
        /* the tied case: the first case whose inputs all have one shape */
        for (int k = 0; k < op->ncases && op->arity >= 2; k++) {
            bool same = true, labels = false;
            for (int j = 0; j < op->arity; j++) {
                same &= mt_shape_equal(op->cases[k].in[j], op->cases[k].in[0]);
                labels |= op->domain[j].labels;
            }
            if (!same || labels) continue;
            mt_gc_func_op_tied(&fs[n++], op, &op->cases[k]);
            break;
        }
    }

    /* the modules: their own rng, so their parameters do not depend on the op list */
    mt_rng rng;
    mt_rng_seed(&rng, 20240601);
    mt_shape x = MT_SHAPE(BATCH, MLP_IN);
    int bad = 0;
    bad |= module_case(&fs[n++], "nn.Linear", "4x5_to_3", mt_linear_new(MLP_IN, MLP_OUT, &rng),
                       x, true, false, &rng);
    bad |= module_case(&fs[n++], "nn.ReLU", "4x5", mt_relu_new(), x, true, false, &rng);
    fs[n - 1].domain[0].min_abs = 1e-3;                   /* 1000 h away from the kink at 0 */
    bad |= module_case(&fs[n++], "nn.BatchNorm1d", "train_4x5",
                       mt_batchnorm1d_new(MLP_IN, 1e-5, 0.1), x, true, false, &rng);
    bad |= module_case(&fs[n++], "nn.MLP", "params_5_6_3", mlp_new(&rng), x, false, false, &rng);
    bad |= module_case(&fs[n++], "nn.MLP", "loss_params_5_6_3", mlp_new(&rng), x, false, true,
                       &rng);

    mt_gc_func *f = &fs[n++];
    mt_gc_func_graph(f, "nn.CrossEntropyLoss", "4x3", cross_entropy_forward, NULL, NULL);
    mt_gc_func_add_input(f, "logits", MT_SHAPE(BATCH, MLP_OUT),
                         (mt_domain){ -3.0, 3.0, 0.0, false }, NULL);
    mt_gc_func_add_input(f, "labels", MT_SHAPE(BATCH), (mt_domain){ 0.0, MLP_OUT, 0.0, true },
                         NULL);

    f = &fs[n++];
    mt_gc_func_graph(f, "nn.functional.log_softmax", "3x5_axis1", log_softmax_forward, NULL, NULL);
    mt_gc_func_add_input(f, "x", MT_SHAPE(3, 5), (mt_domain){ -3.0, 3.0, 0.0, false }, NULL);

    if (bad) { mt_gc_cases_free(fs, n); return -1; }
    *out = fs;
    return n;
}

void mt_gc_cases_free(mt_gc_func *fs, int n)
{
    if (!fs) return;
    for (int i = 0; i < n; i++) mt_gc_func_release(&fs[i]);
    free(fs);
}
