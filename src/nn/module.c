/* module.c: what every module shares, whatever its type: creation, forward dispatch, the
 * training flag (set on a module and all its children), parameters and state_dict in PyTorch's
 * order (own parameters, own buffers, then each child under "<index>."), and free. */
#include "module_impl.h"

#include <stdio.h>
#include <stdlib.h>

mt_module *mt_module_alloc(const mt_module_class *cls, int nchildren)
{
    mt_module *m = calloc(1, sizeof *m + (size_t)nchildren * sizeof m->children[0]);
    if (!m) {
        mt_error("%s: out of memory", cls->type);
        return NULL;
    }
    m->cls = cls;
    m->training = true;
    m->nchildren = nchildren;
    return m;
}

mt_tensor *mt_module_add_tensor(mt_module *m, const char *name, mt_shape shape, bool is_buffer)
{
    if (m->nown == MT_MODULE_MAX_OWN) {
        mt_error("%s: more than %d parameters and buffers", m->cls->type, MT_MODULE_MAX_OWN);
        return NULL;
    }
    if (!m->arena) m->arena = mt_arena_new();
    mt_arena *prev = mt_arena_use(m->arena);
    mt_tensor *t = mt_zeros(shape);
    mt_arena_use(prev);
    if (!t) return NULL;
    if (!is_buffer) mt_make_parameter(t);
    mt_set_label(t, name);
    mt_named_tensor *nt = &m->own[m->nown++];
    snprintf(nt->name, sizeof nt->name, "%s", name);
    nt->tensor = t;
    nt->is_buffer = is_buffer;
    return t;
}

/* ---- walking the tree in state_dict order ------------------------------------------------ */

typedef void (*visit_fn)(const char *key, const mt_named_tensor *nt, void *user);

static void walk(const mt_module *m, const char *prefix, visit_fn visit, void *user)
{
    char key[MT_NAME_MAX];
    /* A key that does not fit is reported, and still visited (truncated) so that counts and
     * order stay right. Nesting that deep does not happen with these modules. */
    for (int i = 0; i < m->nown; i++) {
        int len = snprintf(key, sizeof key, "%s%s", prefix, m->own[i].name);
        if (len < 0 || (size_t)len >= sizeof key)
            mt_error("state_dict: key %s%s is longer than %d characters", prefix, m->own[i].name,
                     MT_NAME_MAX - 1);
        visit(key, &m->own[i], user);
    }
    for (int i = 0; i < m->nchildren; i++) {
        int len = snprintf(key, sizeof key, "%s%d.", prefix, i);
        if (len < 0 || (size_t)len >= sizeof key)
            mt_error("state_dict: key prefix %s%d. is longer than %d characters", prefix, i,
                     MT_NAME_MAX - 1);
        walk(m->children[i], key, visit, user);
    }
}

typedef struct collector {
    mt_named_tensor *named;   /* state_dict: keys and tensors */
    mt_tensor      **tensors; /* parameters: tensors only */
    int              max, count;
} collector;

static void collect_param(const char *key, const mt_named_tensor *nt, void *user)
{
    collector *c = user;
    (void)key;
    if (nt->is_buffer) return;
    if (c->count < c->max) c->tensors[c->count] = nt->tensor;
    c->count++;
}

static void collect_named(const char *key, const mt_named_tensor *nt, void *user)
{
    collector *c = user;
    if (c->count < c->max) {
        mt_named_tensor *out = &c->named[c->count];
        snprintf(out->name, sizeof out->name, "%s", key);
        out->tensor = nt->tensor;
        out->is_buffer = nt->is_buffer;
    }
    c->count++;
}

static void relabel(const char *key, const mt_named_tensor *nt, void *user)
{
    (void)user;
    mt_set_label(nt->tensor, key);
}

void mt_module_relabel(mt_module *m) { walk(m, "", relabel, NULL); }

/* ---- the public API ------------------------------------------------------------------------ */

mt_tensor *mt_module_forward(mt_module *m, mt_tensor *x)
{
    if (!m) {
        mt_error("module_forward: the module is NULL");
        return NULL;
    }
    if (!x) return NULL;   /* an earlier op failed and has already reported it */
    return m->cls->forward(m, x);
}

void mt_module_train(mt_module *m, bool training)
{
    if (!m) return;
    m->training = training;
    for (int i = 0; i < m->nchildren; i++) mt_module_train(m->children[i], training);
}

bool mt_module_is_training(const mt_module *m) { return m && m->training; }

const char *mt_module_type(const mt_module *m) { return m ? m->cls->type : "NULL"; }

int mt_module_parameters(mt_module *m, mt_tensor **out, int max)
{
    collector c = { .tensors = out, .max = out ? max : 0 };
    if (m) walk(m, "", collect_param, &c);
    return c.count;
}

int mt_module_state_dict(mt_module *m, mt_named_tensor *out, int max)
{
    collector c = { .named = out, .max = out ? max : 0 };
    if (m) walk(m, "", collect_named, &c);
    return c.count;
}

void mt_module_free(mt_module *m)
{
    if (!m) return;
    for (int i = 0; i < m->nchildren; i++) mt_module_free(m->children[i]);
    mt_arena_free(m->arena);
    free(m);
}
