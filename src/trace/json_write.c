/* json_write.c: mt_trace_save (trace.h), a trace as JSON (docs/trace-format.md) through cJSON,
 * written atomically (mt_write_file_atomic). cJSON enters the trace code here and in
 * json_read.c only.
 *
 * Numbers: cJSON prints a double with 15 significant digits and accepts them when they read
 * back within DBL_EPSILON, which is not always the same double. So every number here is a raw
 * item printed by this file: the shortest of %.15g, %.16g, %.17g that reads back to the same
 * bits (17 digits always do). NaN and the infinities are not JSON numbers: they are the
 * strings "nan", "inf" and "-inf". */
#include "json_impl.h"

#include <cjson/cJSON.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mytorch/io.h"

/* A tree under construction; running out of memory anywhere marks it and the save fails. */
typedef struct writer {
    bool oom;
} writer;

static cJSON *check(writer *w, cJSON *item)
{
    if (!item) w->oom = true;
    return item;
}

static void add(writer *w, cJSON *obj, const char *key, cJSON *item)
{
    if (!item || !obj || !cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        w->oom = true;
    }
}

static void append(writer *w, cJSON *arr, cJSON *item)
{
    if (!item || !arr || !cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        w->oom = true;
    }
}

/* The shortest text that strtod reads back as exactly x, with '.' whatever the locale says. */
static void format_double(double x, char *buf, size_t n)
{
    static const char *const formats[] = { "%.15g", "%.16g", "%.17g" };  /* not %.*g: slower */
    for (int i = 0; i < 3; i++) {
        snprintf(buf, n, formats[i], x);
        double back = strtod(buf, NULL);
        if (memcmp(&back, &x, sizeof x) == 0) break;
    }
    char point = localeconv()->decimal_point[0];
    if (point != '.')
        for (char *p = buf; *p; p++)
            if (*p == point) *p = '.';
}

static cJSON *number(writer *w, double x)
{
    if (isnan(x)) return check(w, cJSON_CreateString("nan"));
    if (isinf(x)) return check(w, cJSON_CreateString(x > 0 ? "inf" : "-inf"));
    char buf[40];
    format_double(x, buf, sizeof buf);
    return check(w, cJSON_CreateRaw(buf));
}

/* Integers as raw text too: cJSON would print a size_t above 2^31 through %.15g. */
static cJSON *integer(writer *w, long long x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", x);
    return check(w, cJSON_CreateRaw(buf));
}

static cJSON *count(writer *w, size_t x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", x);
    return check(w, cJSON_CreateRaw(buf));
}

static cJSON *string(writer *w, const char *s) { return check(w, cJSON_CreateString(s)); }
static cJSON *boolean(writer *w, bool b) { return check(w, cJSON_CreateBool(b)); }

static cJSON *shape_json(writer *w, mt_shape s)
{
    cJSON *a = check(w, cJSON_CreateArray());
    for (int i = 0; i < s.ndim && i < MT_MAX_DIMS; i++) append(w, a, integer(w, s.dim[i]));
    return a;
}

/* {"shape", "numel", "summarised", "data", "min", "max", "mean", "norm"}, or null when absent */
static cJSON *value_json(writer *w, const mt_trace_value *v)
{
    if (!v->present) return check(w, cJSON_CreateNull());
    cJSON *o = check(w, cJSON_CreateObject());
    add(w, o, "shape", shape_json(w, v->shape));
    add(w, o, "numel", count(w, v->numel));
    add(w, o, "summarised", boolean(w, v->summarised));
    cJSON *data = check(w, cJSON_CreateArray());
    for (size_t i = 0; i < v->ndata && !w->oom; i++) append(w, data, number(w, v->data[i]));
    add(w, o, "data", data);
    add(w, o, "min", number(w, v->min));
    add(w, o, "max", number(w, v->max));
    add(w, o, "mean", number(w, v->mean));
    add(w, o, "norm", number(w, v->norm));
    return o;
}

static cJSON *args_json(writer *w, const mt_op_args *a)
{
    cJSON *o = check(w, cJSON_CreateObject());
    add(w, o, "scalar", number(w, a->scalar));
    add(w, o, "axis", integer(w, a->axis));
    add(w, o, "keepdim", boolean(w, a->keepdim));
    add(w, o, "shape", shape_json(w, a->shape));
    return o;
}

static cJSON *node_json(writer *w, const mt_trace_node *n)
{
    cJSON *o = check(w, cJSON_CreateObject());
    add(w, o, "id", integer(w, n->id));
    add(w, o, "kind", string(w, mt_trace_node_kind_name(n->kind)));
    add(w, o, "label", string(w, n->label));
    add(w, o, "op", string(w, n->op_name));
    add(w, o, "backward_name", string(w, n->backward_name));
    add(w, o, "symbol", string(w, n->symbol));
    if (n->kind == MT_TRACE_BACKWARD_FUNCTION) {
        add(w, o, "ninputs", integer(w, n->ninputs));
        add(w, o, "args", args_json(w, &n->args));
    }
    add(w, o, "requires_grad", boolean(w, n->requires_grad));
    add(w, o, "is_leaf", boolean(w, n->is_leaf));
    add(w, o, "is_parameter", boolean(w, n->is_parameter));
    add(w, o, "value", value_json(w, &n->value));
    return o;
}

static cJSON *edge_json(writer *w, const mt_trace_edge *e)
{
    cJSON *o = check(w, cJSON_CreateObject());
    add(w, o, "from", integer(w, e->from));
    add(w, o, "to", integer(w, e->to));
    add(w, o, "operand", integer(w, e->operand));
    return o;
}

/* "kind" and exactly the fields mt_trace_event_fields gives the kind (mt_trace_check has made
 * sure the others hold their defaults, so nothing is lost). */
static cJSON *event_json(writer *w, const mt_trace_event *e, mt_traversal how)
{
    unsigned f = mt_trace_event_fields(e->kind, how);
    cJSON *o = check(w, cJSON_CreateObject());
    add(w, o, "kind", string(w, mt_event_kind_name(e->kind)));
    if (f & MT_EVF_NODE) add(w, o, "node", integer(w, e->node));
    if (f & MT_EVF_PARENT) add(w, o, "parent", integer(w, e->parent));
    if (f & MT_EVF_EDGE) add(w, o, "edge", integer(w, e->edge));
    if (f & MT_EVF_OPERAND) add(w, o, "operand", integer(w, e->input_index));
    if (f & MT_EVF_DEPTH) add(w, o, "depth", integer(w, e->depth));
    if (f & MT_EVF_PENDING) add(w, o, "pending", integer(w, e->pending));
    if (f & MT_EVF_STATUS) add(w, o, "status", integer(w, e->status));
    if (f & MT_EVF_GRAD) add(w, o, "grad", value_json(w, &e->grad));
    if (f & MT_EVF_BEFORE) add(w, o, "before", value_json(w, &e->before));
    if (f & MT_EVF_AFTER) add(w, o, "after", value_json(w, &e->after));
    if (f & MT_EVF_GRADS) {
        cJSON *g = check(w, cJSON_CreateArray());
        for (int i = 0; i < e->ngrads; i++) append(w, g, value_json(w, &e->grads[i]));
        add(w, o, "grads", g);
    }
    return o;
}

static cJSON *walk_json(writer *w, const mt_trace_walk *wk)
{
    cJSON *o = check(w, cJSON_CreateObject());
    add(w, o, "traversal", string(w, mt_traversal_name(wk->traversal)));
    add(w, o, "root", integer(w, wk->root));
    add(w, o, "status", integer(w, wk->status));
    cJSON *ev = check(w, cJSON_CreateArray());
    for (size_t i = 0; i < wk->nevents && !w->oom; i++)
        append(w, ev, event_json(w, &wk->events[i], wk->traversal));
    add(w, o, "events", ev);
    return o;
}

static cJSON *trace_json(writer *w, const mt_trace *t)
{
    cJSON *o = check(w, cJSON_CreateObject());
    add(w, o, "format", string(w, MT_TRACE_FORMAT));
    add(w, o, "version", integer(w, t->version));
    add(w, o, "title", string(w, t->title));
    add(w, o, "value_limit", count(w, t->value_limit));
    add(w, o, "output", integer(w, t->output));
    cJSON *nodes = check(w, cJSON_CreateArray());
    for (int i = 0; i < t->nnodes && !w->oom; i++) append(w, nodes, node_json(w, &t->nodes[i]));
    add(w, o, "nodes", nodes);
    cJSON *edges = check(w, cJSON_CreateArray());
    for (int i = 0; i < t->nedges && !w->oom; i++) append(w, edges, edge_json(w, &t->edges[i]));
    add(w, o, "edges", edges);
    cJSON *walks = check(w, cJSON_CreateArray());
    for (int i = 0; i < t->nwalks && !w->oom; i++) append(w, walks, walk_json(w, &t->walks[i]));
    add(w, o, "walks", walks);
    return o;
}

static int write_text(FILE *f, void *user)
{
    const char *text = user;
    size_t n = strlen(text);
    return fwrite(text, 1, n, f) == n && fputc('\n', f) != EOF ? 0 : -1;
}

int mt_trace_save(const mt_trace *t, const char *path, char *err, size_t errlen)
{
    if (!t || !path) {
        mt_trace_msg(err, errlen, "mt_trace_save: %s is NULL", !t ? "the trace" : "path");
        return -1;
    }
    /* what load would refuse is not written: every saved file loads */
    char prefix[320];
    snprintf(prefix, sizeof prefix, "file %s: not saved", path);
    if (mt_trace_check(t, prefix, err, errlen) != 0) return -1;

    writer w = { false };
    cJSON *root = trace_json(&w, t);
    char *text = w.oom ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        mt_trace_msg(err, errlen, "file %s: out of memory for the JSON text", path);
        return -1;
    }
    int rc = mt_write_file_atomic(path, write_text, text, err, errlen);
    cJSON_free(text);
    return rc;
}
