/* module_impl.h: what a module is inside. Each layer type (linear.c, relu.c, batchnorm.c,
 * sequential.c) fills in a class (its name and forward) and the fields it needs; module.c does
 * everything that is the same for all of them: training flag, parameters, state_dict, free. */
#ifndef MT_MODULE_IMPL_H
#define MT_MODULE_IMPL_H

#include "mytorch/nn.h"

#define MT_MODULE_MAX_OWN 4   /* parameters + buffers of one layer (BatchNorm1d has 4) */

typedef struct mt_module_class {
    const char *type;                                   /* "Linear", as PyTorch prints it */
    mt_tensor *(*forward)(mt_module *m, mt_tensor *x);  /* x is never NULL here */
} mt_module_class;

struct mt_module {
    const mt_module_class *cls;
    bool       training;        /* true after creation, as in PyTorch */
    mt_arena  *arena;           /* owns the tensors in own[] (and their grads); NULL if none */
    int        nown;
    mt_named_tensor own[MT_MODULE_MAX_OWN]; /* local keys ("weight"): parameters, then buffers */
    /* Linear */
    int        in_features, out_features;
    /* BatchNorm1d */
    int        num_features;
    double     eps, momentum;
    /* Sequential: the children, owned, in order; state_dict keys are prefixed "<index>." */
    int        nchildren;
    mt_module *children[];
};

/* Allocates a module of class cls with room for nchildren children, training on, no tensors.
 * Returns NULL after reporting an error when out of memory. */
mt_module *mt_module_alloc(const mt_module_class *cls, int nchildren);
/* Makes a zero tensor in m's own arena (created on first use) and registers it under `name`:
 * a parameter (mt_make_parameter) unless is_buffer. NULL after reporting an error. */
mt_tensor *mt_module_add_tensor(mt_module *m, const char *name, mt_shape shape, bool is_buffer);
/* Labels every tensor of m with its state_dict key, so that graph tools can show "0.weight". */
void mt_module_relabel(mt_module *m);

#endif
