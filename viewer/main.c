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

static int run(const options *o)
{
    char err[1024] = "", name[128];
    mt_trace *t = open_trace(o, name, sizeof name, err, sizeof err);
    if (!t) {
        fprintf(stderr, "mytorch-viewer: %s\n", err);
        return 1;
    }
    if (o->export_trace) {
        int rc = mt_trace_save(t, o->export_trace, err, sizeof err);
        if (rc != 0) fprintf(stderr, "mytorch-viewer: %s\n", err);
        else printf("wrote %s (%d nodes, %d walks)\n", o->export_trace, t->nnodes, t->nwalks);
        mt_trace_free(t);
        return rc == 0 ? 0 : 1;
    }
    vw_app app;
    if (vw_app_init(&app, t, name, o->w, o->h, o->scale, err, sizeof err) != 0) {
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
    bool headless = o->screenshot || o->frames || o->pdf || o->svg || o->bench;
    if (status == 0 && o->screenshot &&
        vw_write_png(&app, o->screenshot, step, o->w, o->h, err, sizeof err) != 0)
        status = 1;
    if (status == 0 && o->svg && vw_write_svg(&app, o->svg, step, o->w, o->h, err, sizeof err) != 0)
        status = 1;
    if (status == 0 && o->frames &&
        vw_write_frames(&app, o->frames, o->w, o->h, err, sizeof err) != 0)
        status = 1;
    if (status == 0 && o->pdf && vw_write_pdf(&app, o->pdf, o->w, o->h, err, sizeof err) != 0)
        status = 1;
    if (status == 1 && err[0]) fprintf(stderr, "mytorch-viewer: %s\n", err);
    if (status == 0 && o->bench) vw_bench(&app, o->w, o->h, o->passes, stdout);
    if (status == 0 && !headless) {
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
    rc = run(&o);
    mt_draw_shutdown();
    mt_shutdown();
    return rc;
}
