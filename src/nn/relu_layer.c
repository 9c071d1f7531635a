/* relu_layer.c: nn.ReLU, max(x, 0) element-wise; no parameters. */
#include "module_impl.h"

static mt_tensor *relu_layer_forward(mt_module *m, mt_tensor *x)
{
    (void)m;
    return mt_relu(x);
}

static const mt_module_class relu_layer_class = { "ReLU", relu_layer_forward };

mt_module *mt_relu_new(void) { return mt_module_alloc(&relu_layer_class, 0); }
