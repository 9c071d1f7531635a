/* main.c: mytorch-viewer's command line. It opens a trace (a saved file, a built-in example or a
 * registry op at one of its gradcheck cases), then either renders it without a window (PNG,
 * frames, PDF, SVG, trace export, benchmark) or opens the window. Exit status: 0, 1 for a
 * problem with a file or an input, 2 for a bad command line. */
#include "viewer.h"

#include "../src/draw/draw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const USAGE =
    "usage: mytorch-viewer [FILE.json | --example NAME | --op NAME --case CASE] [options]\n"
    "\n"
    "Replays a recorded autograd graph: the forward pass node by node, then every step of a\n"
    "backward walk (DFS, last input first, as the handout; plain DFS; topological order).\n"
    "With no input it opens the handout's example (--example seed).\n"
    "\n"
    "inputs:\n"
    "  FILE.json            a trace saved by mt_trace_save or --export-trace\n"
    "  --example NAME       a built-in example (--list names them)\n"
    "  --op NAME --case C   a registry op at one of its gradcheck cases\n"
    "  --data DIR           where mnist-step finds MNIST (default data/mnist)\n"
    "  --list               list the examples and the ops with their cases\n"
    "\n"
    "what to show:\n"
    "  --walk W             the walk shown first: dfs-last-first (default), dfs or topo\n"
    "  --step N             the step shown first (1 to the number of steps, or \"end\")\n"
    "  --inspect NODE       open the inspector on NODE (its label, or its number from 1)\n"
    "  --hover X,Y          with --screenshot: the mouse at pixel X,Y (the inspector reads it)\n"
    "  --scale X            enlarge everything, for a projector (0.5 to 4, default 1)\n"
    "  --size WxH           window and image size in pixels (default 1280x720)\n"
    "\n"
    "without a window (no display needed):\n"
    "  --screenshot FILE    step N as a PNG\n"
    "  --frames DIR         every step as DIR/step-0001.png, ...\n"
    "  --pdf FILE           every step on its own page, a handout to print\n"
    "  --svg FILE           step N as SVG\n"
    "  --export-trace FILE  the trace as JSON\n"
    "  --bench              time the layout and every frame at --size\n"
    "  --passes N           with --bench: play every step N times and report memory\n"
    "\n"
    "in the window:\n"
    "  --keys \"KEYS\"        play keys into the window (right left space plus minus home end\n"
    "                       t o f s h q esc), one every 120 ms, then exit\n"
    "  keys: -> <- step, space play, +/- speed, Home/End, t DFS/topological, o input order,\n"
    "        click a node to inspect it, drag to pan, wheel to zoom, f fit, s save PNG,\n"
    "        h or ? keys, q or Esc quit\n";

typedef struct options {
    const char *file, *example, *op, *op_case, *data, *walk, *step, *inspect;
    const char *screenshot, *frames, *pdf, *svg, *export_trace, *keys;
    int  w, h, passes;
    double scale, hover_x, hover_y;
    bool bench, list, hover;
} options;

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "mytorch-viewer: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(mytorch-viewer --help lists the options)\n");
    return 2;
}

static bool parse_size(const char *s, int *w, int *h)
{
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X')) return false;
    const char *p = end + 1;
    long b = strtol(p, &end, 10);
    if (end == p || *end || a < 200 || b < 200 || a > 8192 || b > 8192) return false;
    *w = (int)a;
    *h = (int)b;
    return true;
}

/* 0, 2 for a bad command line (reported), or -1 for --help */
static int parse(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->w = 1280;
    o->h = 720;
    o->scale = 1;
    o->passes = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return -1;
        if (strcmp(a, "--list") == 0) { o->list = true; continue; }
        if (strcmp(a, "--bench") == 0) { o->bench = true; continue; }
        if (a[0] != '-' || a[1] == 0) {
            if (o->file) return usage_error("one trace file at a time (\"%s\" is a second)", a);
            o->file = a;
            continue;
        }
        if (strcmp(a, "--example") == 0) slot = &o->example;
        else if (strcmp(a, "--op") == 0) slot = &o->op;
        else if (strcmp(a, "--case") == 0) slot = &o->op_case;
        else if (strcmp(a, "--data") == 0) slot = &o->data;
        else if (strcmp(a, "--walk") == 0) slot = &o->walk;
        else if (strcmp(a, "--step") == 0) slot = &o->step;
        else if (strcmp(a, "--inspect") == 0) slot = &o->inspect;
        else if (strcmp(a, "--screenshot") == 0) slot = &o->screenshot;
        else if (strcmp(a, "--frames") == 0) slot = &o->frames;
        else if (strcmp(a, "--pdf") == 0) slot = &o->pdf;
        else if (strcmp(a, "--svg") == 0) slot = &o->svg;
        else if (strcmp(a, "--export-trace") == 0) slot = &o->export_trace;
        else if (strcmp(a, "--keys") == 0) slot = &o->keys;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool numeric = strcmp(a, "--size") == 0 || strcmp(a, "--scale") == 0 ||
                       strcmp(a, "--passes") == 0 || strcmp(a, "--hover") == 0;
        if (!slot && !numeric) return usage_error("unknown option %s", a);
        if (!v) return usage_error("%s needs a value", a);
        i++;
        if (slot) { *slot = v; continue; }
        char *end;
        if (strcmp(a, "--size") == 0) {
            if (!parse_size(v, &o->w, &o->h))
                return usage_error("bad --size \"%s\": give WxH, each from 200 to 8192 pixels", v);
        } else if (strcmp(a, "--scale") == 0) {
            o->scale = strtod(v, &end);
            if (end == v || *end || !(o->scale >= 0.5 && o->scale <= 4))
                return usage_error("bad --scale \"%s\": give a number from 0.5 to 4", v);
        } else if (strcmp(a, "--passes") == 0) {
            long p = strtol(v, &end, 10);
            if (end == v || *end || p < 1 || p > 1000)
                return usage_error("bad --passes \"%s\": give a whole number from 1 to 1000", v);
            o->passes = (int)p;
        } else {
            o->hover_x = strtod(v, &end);
            if (end == v || *end != ',')
                return usage_error("bad --hover \"%s\": give X,Y in pixels", v);
            const char *q = end + 1;
            o->hover_y = strtod(q, &end);
            if (end == q || *end) return usage_error("bad --hover \"%s\": give X,Y in pixels", v);
            o->hover = true;
        }
    }
    int inputs = (o->file != NULL) + (o->example != NULL) + (o->op != NULL);
    if (inputs > 1)
        return usage_error("%s", "give one input: a FILE.json, --example NAME or --op NAME "
                                 "--case CASE");
    if (o->op && !o->op_case)
        return usage_error("--op %s needs --case CASE (--list shows each op's cases)", o->op);
    if (o->op_case && !o->op) return usage_error("%s", "--case needs --op NAME");
    if (o->svg && !o->step) return usage_error("%s", "--svg needs --step N");
    if (o->walk && strcmp(o->walk, "dfs") && strcmp(o->walk, "dfs-last-first") &&
        strcmp(o->walk, "topo"))
        return usage_error("bad --walk \"%s\": dfs-last-first, dfs or topo", o->walk);
    return 0;
}

static void list_all(void)
{
    printf("examples (--example NAME):\n");
    for (int i = 0; i < vw_example_count(); i++)
        printf("  %-12s %s\n", vw_example_at(i)->name, vw_example_at(i)->summary);
    printf("\nregistry ops (--op NAME --case CASE), each with its gradcheck cases:\n");
    for (int i = 0; i < mt_op_count(); i++) {
        const mt_op *op = mt_op_at(i);
        printf("  %-14s", op->name);
        for (int k = 0; k < op->ncases; k++) printf(" %s", op->cases[k].name);
        printf("\n");
    }
}

/* the trace the options name, or NULL with a message; *name: what to call it */
static mt_trace *open_trace(const options *o, char *name, size_t n, char *err, size_t errlen)
{
    if (o->file) {
        const char *base = strrchr(o->file, '/');
        snprintf(name, n, "%s", base ? base + 1 : o->file);
        char *dot = strrchr(name, '.');
        if (dot && dot != name && strcmp(dot, ".json") == 0) *dot = 0;
        return mt_trace_load(o->file, err, errlen);
    }
    if (o->op) {
        snprintf(name, n, "%s-%s", o->op, o->op_case);
        return vw_op_record(o->op, o->op_case, err, errlen);
    }
    snprintf(name, n, "%s", o->example ? o->example : "seed");
    return vw_example_record(o->example ? o->example : "seed", o->data, err, errlen);
}

/* --step N (1-based, or "end") -> the step index; -1 after reporting it out of range */
static int step_index(const char *text, const vw_app *app)
{
    int n = vw_step_count(&app->model, app->state.walk);
    if (strcmp(text, "end") == 0 || strcmp(text, "last") == 0) return n - 1;
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < 1 || v > n) {
        fprintf(stderr, "mytorch-viewer: bad --step \"%s\": %s has steps 1 to %d (1 to %d forward, "
                "then the walk's events), or \"end\"\n(mytorch-viewer --help lists the options)\n",
                text, app->model.name, n, app->model.trace->nnodes);
        return -1;
    }
    return (int)v - 1;
}

static int node_index(const char *text, const vw_app *app)
{
    const mt_trace *t = app->model.trace;
    for (int i = 0; i < t->nnodes; i++) {
        char nm[VW_NAME_MAX];
        vw_node_name(&app->model, i, nm, sizeof nm);
        if (strcmp(nm, text) == 0) return i;
    }
    char *end;
    long v = strtol(text, &end, 10);
    if (end != text && !*end && v >= 1 && v <= t->nnodes) return (int)v - 1;
    fprintf(stderr, "mytorch-viewer: --inspect \"%s\": no node of %s has that name, and it is "
            "not a number from 1 to %d\n", text, app->model.name, t->nnodes);
    return -1;
}

/* the outputs the options name; frames (vw_frame_names) lists what --frames writes */
static void name_outputs(const options *o, vw_outputs *out, const char **frames, int nframes)
{
    memset(out, 0, sizeof *out);
    out->out[VW_OUT_TRACE] = (mt_output){ .flag = "--export-trace", .path = o->export_trace };
    out->out[VW_OUT_SCREENSHOT] = (mt_output){ .flag = "--screenshot", .path = o->screenshot };
    out->out[VW_OUT_SVG] = (mt_output){ .flag = "--svg", .path = o->svg };
    out->out[VW_OUT_FRAMES] = (mt_output){ .flag = "--frames", .path = o->frames,
                                           .names = frames, .n = nframes };
    out->out[VW_OUT_PDF] = (mt_output){ .flag = "--pdf", .path = o->pdf };
}

/* Writes the headless outputs in order, each whole or not at all: 0, or 1 with the message. */
static int write_outputs(const options *o, mt_trace *t, vw_app *app, int step, vw_outputs *out,
                         char *err, size_t errlen)
{
    for (int i = 0; i < VW_NOUT; i++) {
        const char *path = out->out[i].path;
        if (!path) continue;
        char *own = calloc(1, errlen);
        if (!own) {
            mt_errbuf_set(err, errlen, "out of memory");
            return 1;
        }
        int rc = i == VW_OUT_TRACE      ? mt_trace_save(t, path, own, errlen)
               : i == VW_OUT_SCREENSHOT ? vw_write_png(app, path, step, o->w, o->h, own, errlen)
               : i == VW_OUT_SVG        ? vw_write_svg(app, path, step, o->w, o->h, own, errlen)
               : i == VW_OUT_FRAMES     ? vw_write_frames(app, path, out->out[i].names,
                                                          out->out[i].n, o->w, o->h, own, errlen)
                                        : vw_write_pdf(app, path, o->w, o->h, own, errlen);
        if (rc != 0) mt_errbuf_set(err, errlen, "%s: %s", out->out[i].flag, own);
        free(own);
        if (rc != 0) return 1;
        out->written[i] = 1;
        int steps = app ? vw_step_count(&app->model, app->state.walk) : 0;
        if (i == VW_OUT_TRACE)
            printf("wrote %s (%d nodes, %d walks)\n", path, t->nnodes, t->nwalks);
        else if (i == VW_OUT_FRAMES) printf("wrote %s (%d frames)\n", path, steps);
        else if (i == VW_OUT_PDF) printf("wrote %s (%d pages)\n", path, steps);
        else printf("wrote %s (step %d of %d)\n", path, step + 1, steps);
        fflush(stdout);                   /* said before a signal can end the process */
    }
    return 0;
}

/* Checks the outputs (vw_outputs_check), then writes them, or reports why not: 0, 1 or 2. */
static int headless(const options *o, mt_trace *t, vw_app *app, int step, char *err,
                    size_t errlen)
{
    int steps = 0, nframes = 0;
    const char **frames = o->frames ? vw_frame_names(app, o->frames, &steps, &nframes) : NULL;
    if (o->frames && !frames) {
        fprintf(stderr, "mytorch-viewer: out of memory\n");
        return 1;
    }
    static vw_outputs out;                /* the signal handler reads it */
    name_outputs(o, &out, frames, nframes);
    int status = vw_outputs_check(&out, err, errlen);
    bool writes = false;
    for (int i = 0; i < VW_NOUT; i++) writes |= out.out[i].path != NULL;
    if (status == 0 && writes) {
        vw_outputs_catch_signals(&out);
        status = write_outputs(o, t, app, step, &out, err, errlen);
    }
    if (status == 2) fprintf(stderr, "mytorch-viewer: %s\n(mytorch-viewer --help lists the "
                             "options)\n", err);
    else if (status != 0) fprintf(stderr, "mytorch-viewer: %s\n", err);
    free(frames);
    return status;
}

static int run(const options *o, char *err, size_t errlen)
{
    char name[128];
    mt_trace *t = open_trace(o, name, sizeof name, err, errlen);
    if (!t) {
        fprintf(stderr, "mytorch-viewer: %s\n", err);
        return 1;
    }
    bool draws = o->screenshot || o->frames || o->pdf || o->svg || o->bench;
    if (o->export_trace && !draws) {          /* the trace alone: no layout needed */
        int status = headless(o, t, NULL, 0, err, errlen);
        mt_trace_free(t);
        return status;
    }
    vw_app app;
    if (vw_app_init(&app, t, name, o->w, o->h, o->scale, err, errlen) != 0) {
        fprintf(stderr, "mytorch-viewer: %s\n", err);
        return 1;
    }
    int status = 0;
    if (o->walk) {
        mt_traversal how = strcmp(o->walk, "topo") == 0 ? MT_TOPO
                         : strcmp(o->walk, "dfs") == 0 ? MT_DFS : MT_DFS_LAST_FIRST;
        if (!vw_state_switch_walk(&app.state, &app.model, how)) {
            fprintf(stderr, "mytorch-viewer: --walk %s: %s\n", o->walk, app.state.message);
            status = 1;
        }
        app.state.message[0] = 0;
    }
    int step = 0;
    if (status == 0 && o->step && (step = step_index(o->step, &app)) < 0) status = 2;
    if (status == 0 && o->inspect && (app.state.selected = node_index(o->inspect, &app)) < 0)
        status = 2;
    if (status == 0) vw_state_goto(&app.state, &app.model, step);
    if (o->hover) {
        app.state.mouse_x = o->hover_x;
        app.state.mouse_y = o->hover_y;
        app.state.mouse_in = true;
    }
    if (status == 0 && (draws || o->export_trace))
        status = headless(o, app.model.trace, &app, step, err, errlen);
    if (status == 0 && o->bench) vw_bench(&app, o->w, o->h, o->passes, stdout);
    if (status == 0 && !draws && !o->export_trace) {
        vw_app_update(&app, o->w, o->h);
        status = vw_window_run(&app, o->w, o->h, o->scale, o->keys);
    }
    vw_app_free(&app);
    return status;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc < 0) { fputs(USAGE, stdout); return 0; }
    if (rc != 0) return rc;
    if (o.list) { list_all(); return 0; }
    size_t longest = 0;                   /* messages quote paths whole (MT_ERRLEN, io.h) */
    for (int i = 1; i < argc; i++)
        if (strlen(argv[i]) > longest) longest = strlen(argv[i]);
    char *err = calloc(1, MT_ERRLEN(longest));
    if (!err) {
        fprintf(stderr, "mytorch-viewer: out of memory\n");
        return 1;
    }
    rc = run(&o, err, MT_ERRLEN(longest));
    free(err);
    mt_draw_shutdown();
    mt_shutdown();
    return rc;
}
