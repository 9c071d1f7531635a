/* json_read.c: mt_trace_load and mt_trace_parse (trace.h): a saved trace read back through
 * cJSON into the structs of trace.h, each field's presence and type checked on the way, then
 * the whole trace checked by mt_trace_check (json_check.c). Nothing read is trusted: every
 * message names the file, the JSON path of the first thing wrong and what was found there.
 * cJSON enters the trace code here and in json_write.c only. */
#include "json_impl.h"
#include "trace_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PATH_LEN 256   /* a JSON path: walks[12].events[345].grads[1].data[15] is 46 bytes */

typedef struct reader {
    const char *name;      /* the file, for messages */
    char       *err;
    size_t      errlen;
    mt_trace   *t;         /* what has been read so far; freed whole on failure */
    size_t      events;    /* events over all walks so far */
} reader;

/* "file NAME: PATH: what" (no PATH: "file NAME: what"). Returns -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(reader *r, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path) mt_trace_msg(r->err, r->errlen, "file %s: %s: %s", r->name, path, msg);
    else mt_trace_msg(r->err, r->errlen, "file %s: %s", r->name, msg);
    return -1;
}

/* Text from the file, fit for a message: at most 40 bytes, printable ASCII or \xNN. */
static const char *quote(const char *s, char *buf, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; s[i] && k + 5 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 40) {
            memcpy(buf + k, "...", 3);
            k += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            buf[k++] = (char)c;
        } else {
            buf[k++] = '\\';
            buf[k++] = 'x';
            buf[k++] = hex[c >> 4];
            buf[k++] = hex[c & 15];
        }
    }
    buf[k] = '\0';
    return buf;
}

static const char *type_name(const cJSON *it)
{
    if (cJSON_IsNull(it)) return "null";
    if (cJSON_IsBool(it)) return "a boolean";
    if (cJSON_IsNumber(it)) return "a number";
    if (cJSON_IsString(it)) return "a string";
    if (cJSON_IsArray(it)) return "an array";
    if (cJSON_IsObject(it)) return "an object";
    return "something else";
}

/* path + "." + key, or path + "[i]" */
static const char *sub(char *buf, size_t n, const char *path, const char *key)
{
    if (snprintf(buf, n, "%s%s%s", path, *path ? "." : "", key) < 0) buf[0] = '\0';
    return buf;
}

static const char *at(char *buf, size_t n, const char *path, size_t i)
{
    if (snprintf(buf, n, "%s[%zu]", path, i) < 0) buf[0] = '\0';
    return buf;
}

/* Where a field is: path.key, or path[index] when index >= 0. Written out only for a message,
 * so that reading a value of thousands of numbers formats no path at all. */
typedef struct loc {
    const char *path, *key;
    long        index;
} loc;

static loc at_key(const char *path, const char *key) { return (loc){ path, key, -1 }; }
static loc at_index(const char *path, size_t i) { return (loc){ path, NULL, (long)i }; }

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail_at(reader *r, loc l, const char *fmt, ...)
{
    char msg[512], p[PATH_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l.index >= 0) at(p, sizeof p, l.path, (size_t)l.index);
    else if (l.key) sub(p, sizeof p, l.path, l.key);
    else snprintf(p, sizeof p, "%s", l.path);
    return fail(r, p, "%s", msg);
}

/* ---- fields and their types ------------------------------------------------------------------ */

static int expect_object(reader *r, const cJSON *it, const char *path)
{
    if (cJSON_IsObject(it)) return 0;
    return fail(r, path, "expected an object, found %s", type_name(it));
}

/* Every member of obj is one of the n names in allowed, and none appears twice. */
static int check_keys(reader *r, const cJSON *obj, const char *path, const char *const *allowed,
                      int n)
{
    char q[200];
    for (const cJSON *m = obj->child; m; m = m->next) {
        bool known = false;
        for (int i = 0; i < n && !known; i++) known = strcmp(m->string, allowed[i]) == 0;
        if (!known) return fail(r, path, "unknown field \"%s\"", quote(m->string, q, sizeof q));
        for (const cJSON *o = obj->child; o != m; o = o->next)
            if (strcmp(o->string, m->string) == 0)
                return fail(r, path, "field \"%s\" appears twice", quote(m->string, q, sizeof q));
    }
    return 0;
}

static const cJSON *field(reader *r, const cJSON *obj, const char *path, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) fail(r, path, "missing field \"%s\"", key);
    return it;
}

/* An integer in [lo, hi] (a JSON number with no fraction). */
static int read_int(reader *r, const cJSON *it, loc l, double lo, double hi, long long *out)
{
    *out = 0;
    if (!cJSON_IsNumber(it)) return fail_at(r, l, "expected an integer, found %s", type_name(it));
    double d = it->valuedouble;
    if (!isfinite(d) || d != floor(d)) return fail_at(r, l, "%.17g is not an integer", d);
    if (d < lo || d > hi)
        return fail_at(r, l, "%.17g is out of range (%.17g to %.17g)", d, lo, hi);
    *out = (long long)d;
    return 0;
}

static int get_int(reader *r, const cJSON *obj, const char *path, const char *key, int *out)
{
    const cJSON *it = field(r, obj, path, key);
    long long v;
    if (!it || read_int(r, it, at_key(path, key), INT_MIN, INT_MAX, &v)) return -1;
    *out = (int)v;
    return 0;
}

/* A count (numel, value_limit): 0 to 2^53, the integers a JSON number holds exactly. */
static int get_size(reader *r, const cJSON *obj, const char *path, const char *key, size_t *out)
{
    const cJSON *it = field(r, obj, path, key);
    if (!it) return -1;
    if (cJSON_IsNumber(it) && it->valuedouble > (double)MT_TRACE_MAX_NUMEL)
        return fail_at(r, at_key(path, key), "%.17g is more than any tensor holds (at most 2^53)",
                       it->valuedouble);
    long long v;
    if (read_int(r, it, at_key(path, key), 0, (double)MT_TRACE_MAX_NUMEL, &v)) return -1;
    *out = (size_t)v;
    return 0;
}

/* The value limit: a count, where 2^53 and above (SIZE_MAX included) all mean no limit. */
static int get_limit(reader *r, const cJSON *top, size_t *out)
{
    const cJSON *it = field(r, top, "", "value_limit");
    if (!it) return -1;
    long long v;
    if (cJSON_IsNumber(it) && it->valuedouble >= (double)MT_TRACE_MAX_NUMEL) {
        *out = SIZE_MAX;
        return 0;
    }
    if (read_int(r, it, at_key("", "value_limit"), 0, (double)MT_TRACE_MAX_NUMEL, &v)) return -1;
    *out = (size_t)v;
    return 0;
}

static int get_bool(reader *r, const cJSON *obj, const char *path, const char *key, bool *out)
{
    const cJSON *it = field(r, obj, path, key);
    if (!it) return -1;
    if (!cJSON_IsBool(it))
        return fail_at(r, at_key(path, key), "expected true or false, found %s", type_name(it));
    *out = cJSON_IsTrue(it);
    return 0;
}

/* A string that fits in dst (cap bytes with its NUL). */
static int get_string(reader *r, const cJSON *obj, const char *path, const char *key, char *dst,
                      size_t cap)
{
    const cJSON *it = field(r, obj, path, key);
    if (!it) return -1;
    if (!cJSON_IsString(it))
        return fail_at(r, at_key(path, key), "expected a string, found %s", type_name(it));
    size_t n = strlen(it->valuestring);
    if (n >= cap)
        return fail_at(r, at_key(path, key), "%zu bytes, longer than the %zu this field holds", n,
                       cap - 1);
    memcpy(dst, it->valuestring, n + 1);
    return 0;
}

/* A double: a JSON number, or "nan", "inf", "-inf" (which JSON numbers cannot be). */
static int read_double(reader *r, const cJSON *it, loc l, double *out)
{
    if (cJSON_IsNumber(it)) {
        *out = it->valuedouble;
        return 0;
    }
    if (cJSON_IsString(it)) {
        const char *s = it->valuestring;
        if (strcmp(s, "nan") == 0) { *out = NAN; return 0; }
        if (strcmp(s, "inf") == 0) { *out = INFINITY; return 0; }
        if (strcmp(s, "-inf") == 0) { *out = -INFINITY; return 0; }
        char q[200];
        return fail_at(r, l, "\"%s\" is not a number (a number is a JSON number, \"nan\", \"inf\" "
                       "or \"-inf\")", quote(s, q, sizeof q));
    }
    return fail_at(r, l, "expected a number, found %s", type_name(it));
}

static int get_double(reader *r, const cJSON *obj, const char *path, const char *key, double *out)
{
    const cJSON *it = field(r, obj, path, key);
    return it ? read_double(r, it, at_key(path, key), out) : -1;
}

/* [d0, d1, ...]: 0 to 4 dimensions, each at least min_dim (0; -1 for reshape's argument). */
static int get_shape(reader *r, const cJSON *obj, const char *path, const char *key, int min_dim,
                     mt_shape *s)
{
    char p[PATH_LEN];
    const cJSON *it = field(r, obj, path, key);
    if (!it) return -1;
    sub(p, sizeof p, path, key);
    if (!cJSON_IsArray(it)) return fail(r, p, "expected an array of dimensions, found %s",
                                        type_name(it));
    int n = cJSON_GetArraySize(it);
    if (n > MT_MAX_DIMS) return fail(r, p, "%d dimensions (a shape has 0 to %d)", n, MT_MAX_DIMS);
    memset(s, 0, sizeof *s);
    s->ndim = n;
    size_t i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, it) {
        long long v;
        if (read_int(r, d, at_index(p, i), INT_MIN, INT_MAX, &v)) return -1;
        if (v < min_dim)
            return fail_at(r, at_index(p, i), "%lld is %s", v,
                           min_dim < 0 ? "below -1" : "negative");
        s->dim[i++] = (int)v;
    }
    return 0;
}

/* ---- values, nodes, edges, events, walks ----------------------------------------------------- */

static const char *const VALUE_KEYS[] = { "shape", "numel", "summarised", "data",
                                          "min", "max", "mean", "norm" };

/* A value, or null for an absent one. Its data belongs to v at once, so that a failure half way
 * leaves nothing that mt_trace_free would not release. */
static int read_value(reader *r, const cJSON *it, const char *path, mt_trace_value *v)
{
    char p[PATH_LEN];
    if (!it) return fail(r, path, "missing");
    if (cJSON_IsNull(it)) return 0;
    if (expect_object(r, it, path) || check_keys(r, it, path, VALUE_KEYS, MT_COUNT(VALUE_KEYS)))
        return -1;
    v->present = true;
    if (get_shape(r, it, path, "shape", 0, &v->shape) ||
        get_size(r, it, path, "numel", &v->numel) ||
        get_bool(r, it, path, "summarised", &v->summarised))
        return -1;
    const cJSON *data = field(r, it, path, "data");
    if (!data) return -1;
    sub(p, sizeof p, path, "data");
    if (!cJSON_IsArray(data)) return fail(r, p, "expected an array, found %s", type_name(data));
    size_t n = (size_t)cJSON_GetArraySize(data);
    if (n > v->numel)   /* before allocating for them */
        return fail(r, p, "%zu values for a tensor of %zu element%s", n, v->numel,
                    v->numel == 1 ? "" : "s");
    v->data = mt_trace_xalloc(NULL, n, sizeof *v->data);
    const cJSON *x;
    cJSON_ArrayForEach(x, data) {
        if (read_double(r, x, at_index(p, v->ndata), &v->data[v->ndata])) return -1;
        v->ndata++;
    }
    return get_double(r, it, path, "min", &v->min) || get_double(r, it, path, "max", &v->max) ||
           get_double(r, it, path, "mean", &v->mean) || get_double(r, it, path, "norm", &v->norm)
               ? -1 : 0;
}

static int get_value(reader *r, const cJSON *obj, const char *path, const char *key,
                     mt_trace_value *v)
{
    char p[PATH_LEN];
    const cJSON *it = field(r, obj, path, key);
    return it ? read_value(r, it, sub(p, sizeof p, path, key), v) : -1;
}

static int read_args(reader *r, const cJSON *obj, const char *path, mt_op_args *a)
{
    static const char *const keys[] = { "scalar", "axis", "keepdim", "shape" };
    char p[PATH_LEN];
    const cJSON *it = field(r, obj, path, "args");
    if (!it) return -1;
    sub(p, sizeof p, path, "args");
    if (expect_object(r, it, p) || check_keys(r, it, p, keys, MT_COUNT(keys))) return -1;
    return get_double(r, it, p, "scalar", &a->scalar) || get_int(r, it, p, "axis", &a->axis) ||
           get_bool(r, it, p, "keepdim", &a->keepdim) || get_shape(r, it, p, "shape", -1, &a->shape)
               ? -1 : 0;
}

static int node_kind_of(const char *s)
{
    for (int k = MT_TRACE_ACCUMULATE_GRAD; k <= MT_TRACE_CONSTANT; k++)
        if (strcmp(s, mt_trace_node_kind_name((mt_trace_node_kind)k)) == 0) return k;
    return -1;
}

static int read_node(reader *r, const cJSON *it, int i)
{
    static const char *const keys[] = { "id", "kind", "label", "op", "backward_name", "symbol",
                                        "requires_grad", "is_leaf", "is_parameter", "value",
                                        "ninputs", "args" };   /* the last two: ops only */
    char path[PATH_LEN], p[PATH_LEN], q[200];
    snprintf(path, sizeof path, "nodes[%d]", i);
    int id;
    if (expect_object(r, it, path) || get_int(r, it, path, "id", &id)) return -1;
    if (id != i) {
        sub(p, sizeof p, path, "id");
        if (id >= 0 && id < i)
            return fail(r, p, "%d again (nodes[%d] has it): ids are 0, 1, 2, ... in order", id,
                        id);
        return fail(r, p, "%d, but ids are 0, 1, 2, ... in order: expected %d", id, i);
    }
    const cJSON *kj = field(r, it, path, "kind");
    if (!kj) return -1;
    sub(p, sizeof p, path, "kind");
    if (!cJSON_IsString(kj)) return fail(r, p, "expected a string, found %s", type_name(kj));
    int k = node_kind_of(kj->valuestring);
    if (k < 0)
        return fail(r, p, "unknown node kind \"%s\" (AccumulateGrad, BackwardFunction or "
                    "constant)", quote(kj->valuestring, q, sizeof q));
    bool op = k == MT_TRACE_BACKWARD_FUNCTION;
    if (check_keys(r, it, path, keys, op ? MT_COUNT(keys) : MT_COUNT(keys) - 2)) return -1;
    mt_trace_node *n = mt_trace_add_node(r->t);
    n->kind = (mt_trace_node_kind)k;
    if (get_string(r, it, path, "label", n->label, sizeof n->label) ||
        get_string(r, it, path, "op", n->op_name, sizeof n->op_name) ||
        get_string(r, it, path, "backward_name", n->backward_name, sizeof n->backward_name) ||
        get_string(r, it, path, "symbol", n->symbol, sizeof n->symbol) ||
        get_bool(r, it, path, "requires_grad", &n->requires_grad) ||
        get_bool(r, it, path, "is_leaf", &n->is_leaf) ||
        get_bool(r, it, path, "is_parameter", &n->is_parameter))
        return -1;
    if (op) {
        n->op = mt_op_find(n->op_name);
        if (!n->op)
            return fail(r, sub(p, sizeof p, path, "op"), "\"%s\" is not an op in the registry",
                        quote(n->op_name, q, sizeof q));
        if (get_int(r, it, path, "ninputs", &n->ninputs) || read_args(r, it, path, &n->args))
            return -1;
    }
    return get_value(r, it, path, "value", &n->value);
}

static int read_edge(reader *r, const cJSON *it, int i)
{
    static const char *const keys[] = { "from", "to", "operand" };
    char path[PATH_LEN];
    snprintf(path, sizeof path, "edges[%d]", i);
    if (expect_object(r, it, path) || check_keys(r, it, path, keys, MT_COUNT(keys))) return -1;
    mt_trace_edge *e = mt_trace_add_edge(r->t);
    return get_int(r, it, path, "from", &e->from) || get_int(r, it, path, "to", &e->to) ||
           get_int(r, it, path, "operand", &e->operand) ? -1 : 0;
}

static int event_kind_of(const char *s)
{
    for (int k = MT_EV_NODE_CREATED; k <= MT_EV_BACKWARD_END; k++)
        if (strcmp(s, mt_event_kind_name((mt_event_kind)k)) == 0) return k;
    return -1;
}

/* The members of an event: "kind" and the fields of its kind, each once. */
static int check_event_keys(reader *r, const cJSON *it, const char *path, mt_event_kind kind,
                            mt_traversal how, unsigned fields)
{
    char p[PATH_LEN], q[200];
    for (const cJSON *m = it->child; m; m = m->next) {
        for (const cJSON *o = it->child; o != m; o = o->next)
            if (strcmp(o->string, m->string) == 0)
                return fail(r, path, "field \"%s\" appears twice", quote(m->string, q, sizeof q));
        if (strcmp(m->string, "kind") == 0) continue;
        unsigned bit = 0;
        for (int b = 0; b < MT_EVF_COUNT && !bit; b++)
            if (strcmp(m->string, mt_trace_event_field_name(1u << b)) == 0) bit = 1u << b;
        if (!bit) return fail(r, path, "unknown field \"%s\"", quote(m->string, q, sizeof q));
        if (!(fields & bit))
            return fail(r, sub(p, sizeof p, path, m->string), "a %s event of a %s walk has no %s",
                        mt_event_kind_name(kind), mt_traversal_name(how), m->string);
    }
    return 0;
}

static int read_event(reader *r, const cJSON *it, int wi, size_t ei, mt_trace_walk *w)
{
    char path[PATH_LEN], p[PATH_LEN], q[200];
    snprintf(path, sizeof path, "walks[%d].events[%zu]", wi, ei);
    if (expect_object(r, it, path)) return -1;
    const cJSON *k = field(r, it, path, "kind");
    if (!k) return -1;
    if (!cJSON_IsString(k))
        return fail_at(r, at_key(path, "kind"), "expected a string, found %s", type_name(k));
    int kd = event_kind_of(k->valuestring);
    if (kd < 0)
        return fail_at(r, at_key(path, "kind"), "unknown event kind \"%s\"",
                       quote(k->valuestring, q, sizeof q));
    unsigned f = mt_trace_event_fields((mt_event_kind)kd, w->traversal);
    if (!f)
        return fail_at(r, at_key(path, "kind"), "a %s event inside a walk (walks hold backward "
                       "events only)", mt_event_kind_name((mt_event_kind)kd));
    if (check_event_keys(r, it, path, (mt_event_kind)kd, w->traversal, f)) return -1;
    mt_trace_event *e = mt_trace_add_event(r->t, w);
    e->kind = (mt_event_kind)kd;
    const struct { unsigned bit; const char *key; int *dst; } ints[] = {
        { MT_EVF_NODE, "node", &e->node },       { MT_EVF_PARENT, "parent", &e->parent },
        { MT_EVF_EDGE, "edge", &e->edge },       { MT_EVF_OPERAND, "operand", &e->input_index },
        { MT_EVF_DEPTH, "depth", &e->depth },    { MT_EVF_PENDING, "pending", &e->pending },
        { MT_EVF_STATUS, "status", &e->status },
    };
    for (int i = 0; i < MT_COUNT(ints); i++)
        if ((f & ints[i].bit) && get_int(r, it, path, ints[i].key, ints[i].dst)) return -1;
    if (((f & MT_EVF_GRAD) && get_value(r, it, path, "grad", &e->grad)) ||
        ((f & MT_EVF_BEFORE) && get_value(r, it, path, "before", &e->before)) ||
        ((f & MT_EVF_AFTER) && get_value(r, it, path, "after", &e->after)))
        return -1;
    if (f & MT_EVF_GRADS) {
        const cJSON *g = field(r, it, path, "grads");
        if (!g) return -1;
        sub(p, sizeof p, path, "grads");
        if (!cJSON_IsArray(g)) return fail(r, p, "expected an array, found %s", type_name(g));
        int n = cJSON_GetArraySize(g);
        if (n > MT_MAX_INPUTS) return fail(r, p, "%d gradients (an op has at most %d inputs)", n,
                                           MT_MAX_INPUTS);
        const cJSON *x;
        cJSON_ArrayForEach(x, g) {
            if (read_value(r, x, at(q, sizeof q, p, (size_t)e->ngrads), &e->grads[e->ngrads]))
                return -1;
            e->ngrads++;
        }
    }
    return 0;
}

static int traversal_of(const char *s)
{
    static const mt_traversal all[] = { MT_DFS, MT_TOPO, MT_DFS_LAST_FIRST };
    for (int i = 0; i < MT_COUNT(all); i++)
        if (strcmp(s, mt_traversal_name(all[i])) == 0) return (int)all[i];
    return -100;
}

static int read_walk(reader *r, const cJSON *it, int wi)
{
    static const char *const keys[] = { "traversal", "root", "status", "events" };
    char path[PATH_LEN], p[PATH_LEN], q[200];
    snprintf(path, sizeof path, "walks[%d]", wi);
    if (expect_object(r, it, path) || check_keys(r, it, path, keys, MT_COUNT(keys))) return -1;
    const cJSON *tj = field(r, it, path, "traversal");
    if (!tj) return -1;
    sub(p, sizeof p, path, "traversal");
    if (!cJSON_IsString(tj)) return fail(r, p, "expected a string, found %s", type_name(tj));
    int how = traversal_of(tj->valuestring);
    if (how == -100)
        return fail(r, p, "unknown traversal \"%s\" (dfs, dfs_last_first or topo)",
                    quote(tj->valuestring, q, sizeof q));
    int root, status;
    if (get_int(r, it, path, "root", &root) || get_int(r, it, path, "status", &status)) return -1;
    const cJSON *events = field(r, it, path, "events");
    if (!events) return -1;
    sub(p, sizeof p, path, "events");
    if (!cJSON_IsArray(events)) return fail(r, p, "expected an array, found %s", type_name(events));
    size_t n = (size_t)cJSON_GetArraySize(events);
    if (n > MT_TRACE_MAX_EVENTS - r->events)
        return fail(r, p, "%zu more events after %zu; traces of more than %d events are refused",
                    n, r->events, MT_TRACE_MAX_EVENTS);
    r->events += n;
    mt_trace_walk *w = mt_trace_add_walk(r->t);
    w->traversal = (mt_traversal)how;
    w->root = root;
    w->status = status;
    size_t ei = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, events)
        if (read_event(r, e, wi, ei++, w)) return -1;
    return 0;
}

/* An array member of the top object, of at most max items. */
static const cJSON *get_array(reader *r, const cJSON *top, const char *key, int max)
{
    const cJSON *a = field(r, top, "", key);
    if (!a) return NULL;
    if (!cJSON_IsArray(a)) {
        fail(r, key, "expected an array, found %s", type_name(a));
        return NULL;
    }
    int n = cJSON_GetArraySize(a);
    if (n > max) {
        fail(r, key, "%d items; traces of more than %d %s are refused", n, max, key);
        return NULL;
    }
    return a;
}

static int read_trace(reader *r, const cJSON *top)
{
    static const char *const keys[] = { "format", "version", "title", "value_limit", "output",
                                        "nodes", "edges", "walks" };
    char q[200];
    if (!cJSON_IsObject(top))
        return fail(r, NULL, "not a MyTorch trace: the JSON is %s, not an object", type_name(top));
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(top, "format");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, MT_TRACE_FORMAT) != 0)
        return fail(r, NULL, "not a MyTorch trace (its \"format\" is %s%s%s, not \"%s\")",
                    cJSON_IsString(format) ? "\"" : "",
                    cJSON_IsString(format) ? quote(format->valuestring, q, sizeof q)
                                           : format ? type_name(format) : "missing",
                    cJSON_IsString(format) ? "\"" : "", MT_TRACE_FORMAT);
    const cJSON *version = field(r, top, "", "version");
    long long v;
    if (!version || read_int(r, version, at_key("", "version"), INT_MIN, INT_MAX, &v)) return -1;
    if (v != MT_TRACE_VERSION)
        return fail(r, "version", "%lld, but this build reads version %d", v, MT_TRACE_VERSION);
    if (check_keys(r, top, "", keys, MT_COUNT(keys))) return -1;
    r->t = mt_trace_new();
    if (get_string(r, top, "", "title", r->t->title, sizeof r->t->title) ||
        get_limit(r, top, &r->t->value_limit) || get_int(r, top, "", "output", &r->t->output))
        return -1;
    const cJSON *nodes = get_array(r, top, "nodes", MT_TRACE_MAX_NODES);
    const cJSON *edges = nodes ? get_array(r, top, "edges", MT_TRACE_MAX_EDGES) : NULL;
    const cJSON *walks = edges ? get_array(r, top, "walks", MT_TRACE_MAX_WALKS) : NULL;
    if (!walks) return -1;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, nodes) if (read_node(r, it, i++)) return -1;
    i = 0;
    cJSON_ArrayForEach(it, edges) if (read_edge(r, it, i++)) return -1;
    i = 0;
    cJSON_ArrayForEach(it, walks) if (read_walk(r, it, i++)) return -1;
    return 0;
}

/* ---- the text -------------------------------------------------------------------------------- */

/* True when the text stops inside a string, an object or an array: it was cut short. */
static bool ends_inside(const char *s, size_t n)
{
    long depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return in_string || depth > 0;
}

static size_t skip_space(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* Reports where the JSON text s[0..n) goes wrong at byte pos. */
static void syntax_error(reader *r, const char *s, size_t n, size_t pos)
{
    size_t end = n;                                /* the text without trailing blanks */
    while (end > 0 && skip_space(s, end - 1, end) == end) end--;
    if (end == 0) {
        fail(r, NULL, "empty: no JSON in it");
        return;
    }
    if (ends_inside(s, n) && pos + 8 >= end) {
        fail(r, NULL, "truncated: the JSON stops after %zu bytes, inside an unfinished %s", n,
             s[0] == '{' ? "object" : "value");
        return;
    }
    int line = 1, col = 1;
    for (size_t i = 0; i < pos && i < n; i++) {
        if (s[i] == '\n') { line++; col = 1; }
        else col++;
    }
    char q[200], near[24];
    size_t k = 0;
    for (size_t i = pos; i < n && k < 12 && s[i] != '\n'; i++) near[k++] = s[i];
    near[k] = '\0';
    fail(r, NULL, "not JSON: syntax error at line %d, column %d (near \"%s\")", line, col,
         quote(near, q, sizeof q));
}

mt_trace *mt_trace_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    reader r = { name ? name : "(text)", err, errlen, NULL, 0 };
    if (!text) {
        fail(&r, NULL, "no text (NULL)");
        return NULL;
    }
    if (len > MT_TRACE_MAX_FILE) {
        fail(&r, NULL, "%zu bytes; traces over %zu MiB are refused", len, MT_TRACE_MAX_FILE >> 20);
        return NULL;
    }
    /* a NUL-terminated copy, so that nothing in cJSON can read past the text */
    char *copy = malloc(len + 1);
    if (!copy) {
        fail(&r, NULL, "out of memory for %zu bytes", len);
        return NULL;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(copy, len, &end, false);
    int rc = -1;
    if (!json) {
        syntax_error(&r, copy, len, end ? (size_t)(end - copy) : 0);
    } else if (skip_space(copy, (size_t)(end - copy), len) < len) {
        size_t pos = skip_space(copy, (size_t)(end - copy), len);
        fail(&r, NULL, "not JSON: text after the end of the trace, at byte %zu", pos);
    } else if (read_trace(&r, json) == 0) {
        char prefix[320];
        snprintf(prefix, sizeof prefix, "file %s", r.name);
        rc = mt_trace_check(r.t, prefix, err, errlen);
    }
    cJSON_Delete(json);
    free(copy);
    if (rc != 0) {
        mt_trace_free(r.t);
        return NULL;
    }
    return r.t;
}

mt_trace *mt_trace_load(const char *path, char *err, size_t errlen)
{
    if (!path) {
        mt_trace_msg(err, errlen, "mt_trace_load: path is NULL");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        mt_trace_msg(err, errlen, "file %s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0) {
        const char *why = S_ISDIR(st.st_mode) ? "is a directory" : NULL;
        if (!why && S_ISREG(st.st_mode) && (unsigned long long)st.st_size > MT_TRACE_MAX_FILE) {
            mt_trace_msg(err, errlen, "file %s: %lld bytes; traces over %zu MiB are refused", path,
                         (long long)st.st_size, MT_TRACE_MAX_FILE >> 20);
            fclose(f);
            return NULL;
        }
        if (why) {
            mt_trace_msg(err, errlen, "file %s: %s", path, why);
            fclose(f);
            return NULL;
        }
    }
    /* read to the end (a pipe has no size), never more than the limit allows */
    size_t n = 0, cap = 0;
    char *buf = NULL;
    bool oom = false;
    for (;;) {
        if (n == cap) {
            if (cap > MT_TRACE_MAX_FILE) break;    /* n is over the limit: refused below */
            size_t want = cap ? cap * 2 : (size_t)1 << 16;
            if (want > MT_TRACE_MAX_FILE + 1) want = MT_TRACE_MAX_FILE + 1;
            char *bigger = realloc(buf, want);
            if (!bigger) { oom = true; break; }
            buf = bigger;
            cap = want;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;                       /* the end, or an error (ferror below) */
    }
    int failed = ferror(f), saved = errno;
    fclose(f);
    mt_trace *t = NULL;
    if (failed) mt_trace_msg(err, errlen, "file %s: cannot read: %s", path, strerror(saved));
    else if (oom) mt_trace_msg(err, errlen, "file %s: out of memory reading it", path);
    else if (n > MT_TRACE_MAX_FILE)
        mt_trace_msg(err, errlen, "file %s: more than %zu MiB; traces over %zu MiB are refused",
                     path, MT_TRACE_MAX_FILE >> 20, MT_TRACE_MAX_FILE >> 20);
    else t = mt_trace_parse(buf ? buf : "", n, path, err, errlen);
    free(buf);
    return t;
}
