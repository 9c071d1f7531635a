/* export.c: --export-graph and --export-dot, the graph of one real training step (the first:
 * forward, loss and backward of its batch) as a trace (trace.h; mytorch-viewer replays it) and
 * as Graphviz DOT. Both are taken before the step's arena is reset; the trace copies all it
 * shows, so it outlives that arena, and it is freed as soon as it is saved. */
#include "mnist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mt_trace *export_begin(const options *o)
{
    if (!o->export_graph) return NULL;
    mt_trace *tr = mt_trace_begin();
    if (!tr) die("--export-graph: cannot start recording: %s", mt_last_error());
    mt_trace_set_title(tr, "mnist-step");
    return tr;
}

void export_abandon(mt_trace *tr)
{
    if (!tr) return;
    mt_trace_end(tr);
    mt_trace_free(tr);
}

typedef struct text { const char *data; size_t len; } text;

static int write_text(FILE *f, void *user)
{
    const text *t = user;
    return fwrite(t->data, 1, t->len, f) == t->len ? 0 : -1;
}

/* The DOT of the graph behind loss, made in memory first so that the file is written whole or
 * not at all, as every other output is. */
static void write_dot(const char *path, const mt_tensor *loss)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) die("--export-dot: file %s: cannot make the graph in memory: %s", path,
                  strerror(errno));
    int rc = mt_graph_write_dot(loss, mem);
    if (fclose(mem) != 0 || rc != 0)
        die("--export-dot: file %s: cannot write the graph: %s", path,
            rc != 0 ? mt_last_error() : strerror(errno));
    text t = { buf, len };
    char *err = err_new();
    if (mt_write_file_atomic(path, write_text, &t, err, g_errlen) != 0)
        die("--export-dot: %s", err);
    free(err);
    free(buf);
}

void export_step(const options *o, mt_trace *tr, const mt_tensor *loss)
{
    if (tr) {
        mt_trace_end(tr);
        char *err = err_new();
        if (mt_trace_save(tr, o->export_graph, err, g_errlen) != 0)
            die("--export-graph: %s", err);
        free(err);
        mt_trace_free(tr);
        mark_written("--export-graph");
    }
    if (o->export_dot) {
        write_dot(o->export_dot, loss);
        mark_written("--export-dot");
    }
}
