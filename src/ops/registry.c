/* registry.c: the table of every op, made from src/ops/ops.def, which gradcheck, the tests and
 * mt_apply iterate. */
#include "mytorch/autograd.h"

#include <string.h>

#define MT_OP(name) extern const mt_op mt_op_##name;
#include "ops.def"
#undef MT_OP

static const mt_op *const registry[] = {
#define MT_OP(name) &mt_op_##name,
#include "ops.def"
#undef MT_OP
};

#define REGISTRY_SIZE ((int)(sizeof registry / sizeof registry[0]))

int mt_op_count(void) { return REGISTRY_SIZE; }
const mt_op *mt_op_at(int i) { return i >= 0 && i < REGISTRY_SIZE ? registry[i] : NULL; }

const mt_op *mt_op_find(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; i < REGISTRY_SIZE; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}

bool mt_op_registered(const mt_op *op)
{
    for (int i = 0; i < REGISTRY_SIZE; i++)
        if (registry[i] == op) return true;
    return false;
}
