/* linear_layer.c: nn.Linear(in_features, out_features): y = x W^T + b with W (out, in) and
 * b (out,), initialised as PyTorch does: every entry uniform in [-1/sqrt(in), 1/sqrt(in)],
 * W first. */
#include "module_impl.h"

#include <math.h>

static mt_tensor *linear_layer_forward(mt_module *m, mt_tensor *x)
{
    return mt_linear(x, m->own[0].tensor, m->own[1].tensor);
}

static const mt_module_class linear_layer_class = { "Linear", linear_layer_forward };

mt_module *mt_linear_new(int in_features, int out_features, mt_rng *rng)
{
    if (in_features < 1 || out_features < 1) {
        mt_error("Linear: in_features (%d) and out_features (%d) must be >= 1",
                 in_features, out_features);
        return NULL;
    }
    mt_module *m = mt_module_alloc(&linear_layer_class, 0);
    if (!m) return NULL;
    m->in_features = in_features;
    m->out_features = out_features;
    mt_tensor *w = mt_module_add_tensor(m, "weight", MT_SHAPE(out_features, in_features), false);
    mt_tensor *b = mt_module_add_tensor(m, "bias", MT_SHAPE(out_features), false);
    if (!w || !b) {
        mt_module_free(m);
        return NULL;
    }
    if (!rng) rng = mt_default_rng();
    double bound = 1.0 / sqrt((double)in_features);
    for (size_t i = 0; i < w->numel; i++) w->data[i] = -bound + 2.0 * bound * mt_rng_uniform(rng);
    for (size_t i = 0; i < b->numel; i++) b->data[i] = -bound + 2.0 * bound * mt_rng_uniform(rng);
    return m;
}
