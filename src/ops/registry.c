/* registry.c: the table of every op, made from src/ops/ops.def, which gradcheck, the tests and
 * mt_apply iterate. */
#include "mytorch/op.h"

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

const char *mt_op_missing_field(const mt_op *op)
{
    if (!op) return "the op itself";
    if (!op->name || !*op->name) return "name";
    if (!op->backward_name || !*op->backward_name) return "backward_name";
    if (op->arity < 1 || op->arity > MT_MAX_INPUTS) return "arity";
    if (!op->symbol || !*op->symbol) return "symbol";
    for (int i = 0; i < op->arity; i++)
        if (!op->local_text[i] || !*op->local_text[i]) return "local_text";
    if (!op->forward) return "forward";
    if (!op->backward) return "backward";
    if (!op->cases || op->ncases < 1) return "cases";
    return NULL;
}
