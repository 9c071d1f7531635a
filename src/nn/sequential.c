/* sequential.c: nn.Sequential: the children applied in order, each to the previous output.
 * Their parameters appear in state_dict as "<index>.<name>", and are labelled so. */
#include "module_impl.h"

static mt_tensor *sequential_forward(mt_module *m, mt_tensor *x)
{
    for (int i = 0; i < m->nchildren && x; i++) x = mt_module_forward(m->children[i], x);
    return x;
}

static const mt_module_class sequential_class = { "Sequential", sequential_forward };

mt_module *mt_sequential_new(int n, mt_module **layers)
{
    bool ok = n >= 0 && (n == 0 || layers);
    for (int i = 0; ok && i < n; i++)
        if (!layers[i]) {
            mt_error("Sequential: layer %d is NULL", i);
            ok = false;
        }
    if (!ok && n < 0) mt_error("Sequential: %d layers", n);
    else if (!ok && !layers) mt_error("Sequential: the layer array is NULL");
    mt_module *m = ok ? mt_module_alloc(&sequential_class, n) : NULL;
    if (!m) {   /* we own the layers even now */
        for (int i = 0; layers && i < n; i++) mt_module_free(layers[i]);
        return NULL;
    }
    for (int i = 0; i < n; i++) m->children[i] = layers[i];
    mt_module_relabel(m);
    return m;
}
