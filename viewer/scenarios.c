/* scenarios.c: the graphs the viewer can show without a file. Each example builds its graph with
 * the library and records it (trace.h): the forward pass, then its backward walks. Everything an
 * example allocates lives in an arena of its own that is freed once the trace has copied it. */
#include "viewer.h"

#include <mytorch/io.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* DFS runs a node once per path to it: it is recorded only while that stays within this many
 * visits, or four per node, whichever is more (a random graph's paths multiply) */
#define DFS_VISIT_LIMIT 2000
#define SYNTH_MAX 5000          /* chain:N and random:N take N in [2, SYNTH_MAX] */

static const vw_example examples[] = {
    { "seed", "the handout's e = (a*b + a) + c + 3 with a = 1, b = 2 (a constant), c = 3: "
              "a.grad = 3, c.grad = 1" },
    { "diamond", "h = x*w used twice, y = (h*2) * (h+1): DFS runs h's subgraph twice, "
                 "topological order once" },
    { "mlp", "a two-layer MLP from elementary ops (x W1^T + b1, relu, log_softmax, one-hot pick, "
             "mean, neg) on 2 samples of 3 inputs, 4 hidden, 2 classes" },
    { "mnist-step", "one step of Linear(784,20) -> BatchNorm1d(20) -> ReLU -> Linear(20,10) "
                    "with cross-entropy on 4 MNIST images (synthetic without data/mnist)" },
    { "chain:N", "a chain of N nodes (tanh, neg, sigmoid, ...), N in [2, 5000], for speed" },
    { "random:N", "a random graph of N nodes, N in [2, 5000], the same every time "
                  "(random:N:SEED for another)" },
};

int vw_example_count(void) { return MT_COUNT(examples); }
const vw_example *vw_example_at(int i)
{
    return i >= 0 && i < MT_COUNT(examples) ? &examples[i] : NULL;
}

/* ---- recording ------------------------------------------------------------------------------- */

/* What a scenario is building: its arena, the trace, and the leaves its walks zero between
 * them. */
typedef struct build {
    mt_arena  *arena, *prev;
    mt_trace  *trace;
    mt_tensor **leaves;           /* grown as needed */
    int        nleaves, cap;
} build;

static int build_begin(build *b, const char *title, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    b->arena = mt_arena_new();
    b->prev = mt_arena_use(b->arena);
    mt_clear_error();
    b->trace = mt_trace_begin();
    if (!b->trace) {
        mt_errbuf_set(err, errlen, "cannot record %s: %s", title, mt_last_error());
        mt_arena_use(b->prev);
        mt_arena_free(b->arena);
        return -1;
    }
    mt_trace_set_title(b->trace, title);
    return 0;
}

/* Ends recording and frees the graph; returns the trace, or NULL (with a message) when an op of
 * the scenario failed (ok false). */
static mt_trace *build_end(build *b, bool ok, char *err, size_t errlen)
{
    mt_trace_end(b->trace);
    free(b->leaves);
    mt_arena_use(b->prev);
    mt_arena_free(b->arena);
    if (ok) return b->trace;
    mt_errbuf_set(err, errlen, "cannot build %s: %s", b->trace->title,
                  mt_last_error()[0] ? mt_last_error() : "an op failed");
    mt_trace_free(b->trace);
    return NULL;
}

static mt_tensor *leaf(build *b, mt_tensor *t, const char *label)
{
    if (!t) return NULL;
    mt_set_label(t, label);
    if (!t->requires_grad) return t;
    if (b->nleaves == b->cap) {
        int cap = b->cap ? 2 * b->cap : 16;
        mt_tensor **bigger = realloc(b->leaves, (size_t)cap * sizeof *bigger);
        if (!bigger) return t;      /* only its zeroing between walks is lost */
        b->leaves = bigger;
        b->cap = cap;
    }
    b->leaves[b->nleaves++] = t;
    return t;
}

/* Labels t, and its trace node too: the recorder copied the label when the op made the node,
 * before the caller could name its output. */
static mt_tensor *name(build *b, mt_tensor *t, const char *label)
{
    if (!t) return NULL;
    mt_set_label(t, label);
    int id = mt_trace_node_of(b->trace, t);
    if (id >= 0) snprintf(b->trace->nodes[id].label, sizeof b->trace->nodes[id].label, "%s", label);
    return t;
}

/* How many visits the recursive DFS makes from the output: one per path to each node. Edges are
 * recorded as their ops are made, so walking them backwards meets every edge out of a node
 * before the edges into it, and each node's path count is complete when it is passed on. */
static double dfs_visits(const mt_trace *t)
{
    if (t->output < 0) return 0;
    double *paths = calloc((size_t)t->nnodes, sizeof *paths), total = 0;
    if (!paths) return INFINITY;
    paths[t->output] = 1;
    for (int k = t->nedges - 1; k >= 0; k--) {
        const mt_trace_edge *e = &t->edges[k];
        if (t->nodes[e->from].kind != MT_TRACE_CONSTANT) paths[e->from] += paths[e->to];
    }
    for (int i = 0; i < t->nnodes; i++) total += paths[i];
    free(paths);
    return total;
}

/* zero_grad between walks, as PyTorch's optimizer.zero_grad() does by default (set_to_none):
 * each walk then starts with no .grad at all, and its first += creates it, as the first walk's
 * did. (The old tensor stays in its arena until the arena goes.) */
static void zero_grads(build *b)
{
    for (int i = 0; i < b->nleaves; i++) b->leaves[i]->grad = NULL;
}

/* The walks every example records: the handout's DFS (last input first) and the plain DFS when
 * they stay small, then the topological order, with zero_grad between them. */
static bool record_walks(build *b, mt_tensor *root)
{
    if (!root) return false;
    double limit = 4.0 * b->trace->nnodes > DFS_VISIT_LIMIT ? 4.0 * b->trace->nnodes
                                                            : DFS_VISIT_LIMIT;
    bool dfs = dfs_visits(b->trace) <= limit;
    if (dfs) {
        if (mt_backward_ex(root, NULL, MT_DFS_LAST_FIRST) != 0) return false;
        zero_grads(b);
        if (mt_backward_ex(root, NULL, MT_DFS) != 0) return false;
        zero_grads(b);
    }
    return mt_backward_ex(root, NULL, MT_TOPO) == 0;
}

static mt_tensor *grad_leaf(build *b, double v, const char *label)
{
    return leaf(b, mt_requires_grad(mt_scalar(v), true), label);
}

/* ---- the examples ---------------------------------------------------------------------------- */

static mt_trace *seed(char *err, size_t errlen)
{
    build b;
    if (build_begin(&b, "seed", err, errlen) != 0) return NULL;
    mt_tensor *a = grad_leaf(&b, 1.0, "a");
    mt_tensor *bb = leaf(&b, mt_scalar(2.0), "b");            /* a constant: requires no grad */
    mt_tensor *c = grad_leaf(&b, 3.0, "c");
    mt_tensor *d = name(&b, mt_add(mt_mul(a, bb), a), "d");    /* d = a*b + a = 3 */
    mt_tensor *e = name(&b, mt_add_scalar(mt_add(d, c), 3.0), "e");   /* e = (d + c) + 3 = 9 */
    return build_end(&b, record_walks(&b, e), err, errlen);
}

static mt_trace *diamond(char *err, size_t errlen)
{
    build b;
    if (build_begin(&b, "diamond", err, errlen) != 0) return NULL;
    mt_tensor *x = grad_leaf(&b, 1.5, "x");
    mt_tensor *w = grad_leaf(&b, 2.0, "w");
    mt_tensor *h = name(&b, mt_mul(x, w), "h");                /* the node used twice */
    mt_tensor *p = name(&b, mt_mul_scalar(h, 2.0), "p");
    mt_tensor *q = name(&b, mt_add_scalar(h, 1.0), "q");
    mt_tensor *y = name(&b, mt_mul(p, q), "y");                /* dy/dh = 2q + p = 14 */
    return build_end(&b, record_walks(&b, y), err, errlen);
}

/* values in [-1, 1] rounded to tenths, so that the numbers on screen stay short */
static mt_tensor *param(build *b, mt_shape s, mt_rng *rng, const char *label)
{
    mt_tensor *t = mt_empty(s);
    if (!t) return NULL;
    for (size_t i = 0; i < t->numel; i++)
        t->data[i] = round((2 * mt_rng_uniform(rng) - 1) * 10) / 10;
    return leaf(b, mt_make_parameter(t), label);
}

static mt_trace *mlp(char *err, size_t errlen)
{
    build b;
    if (build_begin(&b, "mlp", err, errlen) != 0) return NULL;
    mt_rng rng;
    mt_rng_seed(&rng, 7);
    mt_tensor *x = leaf(&b, mt_from_data(MT_SHAPE(2, 3), (double[]){ 0.5, -1.0, 2.0,
                                                                      1.5, 0.2, -0.7 }), "x");
    mt_tensor *w1 = param(&b, MT_SHAPE(4, 3), &rng, "W₁");
    mt_tensor *b1 = param(&b, MT_SHAPE(4), &rng, "b₁");
    mt_tensor *w2 = param(&b, MT_SHAPE(2, 4), &rng, "W₂");
    mt_tensor *b2 = param(&b, MT_SHAPE(2), &rng, "b₂");
    /* the labels y = (0, 1) as one-hot rows: picking log p[i, y_i] is a product and a sum */
    mt_tensor *onehot = leaf(&b, mt_from_data(MT_SHAPE(2, 2), (double[]){ 1, 0, 0, 1 }),
                             "onehot(y)");
    mt_tensor *z1 = name(&b, mt_matmul(x, name(&b, mt_transpose(w1), "W₁ᵀ")), "x W₁ᵀ");
    mt_tensor *h = name(&b, mt_relu(name(&b, mt_add(z1, b1), "x W₁ᵀ + b₁")), "h");
    mt_tensor *z2 = name(&b, mt_matmul(h, name(&b, mt_transpose(w2), "W₂ᵀ")), "h W₂ᵀ");
    mt_tensor *logits = name(&b, mt_add(z2, b2), "logits");
    mt_tensor *logp = name(&b, mt_log_softmax(logits, 1), "log p");
    mt_tensor *picked = name(&b, mt_mul(logp, onehot), "log p ⊙ onehot");
    mt_tensor *ll = name(&b, mt_sum_axis(picked, 1, false), "log p[y]");
    mt_tensor *loss = name(&b, mt_neg(name(&b, mt_mean(ll), "mean log p[y]")), "loss");
    return build_end(&b, record_walks(&b, loss), err, errlen);
}

/* Four images, x (4, 784) in [0, 1], and their labels: the first four of MNIST's t10k set when
 * it is there, else blobs drawn from a seeded generator. */
static void mnist_batch(const char *data_dir, double *x, double *labels, bool *real)
{
    char dir[1024];
    const char *tries[2] = { data_dir ? data_dir : "data/mnist", NULL };
    snprintf(dir, sizeof dir, "%s/data/mnist", MT_SOURCE_DIR);
    if (!data_dir) tries[1] = dir;
    for (int k = 0; k < 2 && tries[k]; k++) {
        mt_mnist m;
        if (mt_mnist_load(tries[k], "t10k", &m, NULL, 0) != 0) continue;
        if (m.count >= 4 && m.rows * m.cols == 784) {
            for (size_t i = 0; i < 4 * 784; i++) x[i] = m.images.data[i] / 255.0;
            for (int i = 0; i < 4; i++) labels[i] = m.labels.data[i];
            *real = true;
            mt_mnist_free(&m);
            return;
        }
        mt_mnist_free(&m);
    }
    *real = false;
    mt_rng rng;
    mt_rng_seed(&rng, 4);
    for (int i = 0; i < 4; i++) {
        labels[i] = (double)(i * 3 % 10);
        double cx = 9 + 10 * mt_rng_uniform(&rng), cy = 9 + 10 * mt_rng_uniform(&rng);
        for (int p = 0; p < 784; p++) {
            double dx = p % 28 - cx, dy = p / 28 - cy, r = sqrt(dx * dx + dy * dy);
            x[i * 784 + p] = fabs(r - 6) < 1.5 ? 1.0 - fabs(r - 6) / 1.5 : 0.0;   /* a ring */
        }
    }
}

/* The module's parameters, labelled by their key in the Sequential's state_dict ("0.weight"). */
static void module_leaves(build *b, mt_module *m, int index)
{
    mt_named_tensor nt[8];
    int n = mt_module_state_dict(m, nt, MT_COUNT(nt));
    for (int i = 0; i < n && i < MT_COUNT(nt); i++) {
        char key[MT_NAME_MAX + 8];
        snprintf(key, sizeof key, "%d.%.60s", index, nt[i].name);
        if (!nt[i].is_buffer) leaf(b, nt[i].tensor, key);
        else mt_set_label(nt[i].tensor, key);
    }
}

static mt_trace *mnist_step(const char *data_dir, char *err, size_t errlen)
{
    static double x[4 * 784];
    double labels[4];
    bool real;
    mnist_batch(data_dir, x, labels, &real);
    mt_rng rng;
    mt_rng_seed(&rng, 1);
    /* the layers one by one (as Sequential runs them), so that each output can be named */
    mt_module *layer[4] = { mt_linear_new(784, 20, &rng), mt_batchnorm1d_new(20, 1e-5, 0.1),
                            mt_relu_new(), mt_linear_new(20, 10, &rng) };
    static const char *out_name[4] = { "Linear(784, 20)", "BatchNorm1d(20)", "ReLU", "logits" };
    build b;
    if (build_begin(&b, "mnist-step", err, errlen) != 0) {
        for (int i = 0; i < 4; i++) mt_module_free(layer[i]);
        return NULL;
    }
    mt_trace_set_value_limit(b.trace, 20 * 784 + 16);   /* the first layer's weight, whole */
    for (int i = 0; i < 4; i++) module_leaves(&b, layer[i], i);
    mt_tensor *y = leaf(&b, mt_from_data(MT_SHAPE(4, 784), x), real ? "x (4 MNIST images)"
                                                                     : "x (4 synthetic images)");
    for (int i = 0; i < 4; i++) y = name(&b, mt_module_forward(layer[i], y), out_name[i]);
    mt_tensor *lab = leaf(&b, mt_from_data(MT_SHAPE(4), labels), "labels");
    mt_tensor *loss = name(&b, mt_cross_entropy(y, lab), "loss");
    mt_trace *t = build_end(&b, record_walks(&b, loss), err, errlen);
    for (int i = 0; i < 4; i++) mt_module_free(layer[i]);
    return t;
}

static mt_trace *chain(int n, char *err, size_t errlen)
{
    build b;
    if (build_begin(&b, "chain", err, errlen) != 0) return NULL;
    mt_tensor *y = grad_leaf(&b, 0.5, "x");
    for (int i = 1; i < n && y; i++) {
        switch (i % 3) {
        case 0: y = mt_neg(y); break;
        case 1: y = mt_tanh(y); break;
        default: y = mt_sigmoid(y); break;
        }
    }
    return build_end(&b, record_walks(&b, y), err, errlen);
}

/* A random graph of exactly n nodes: leaves and unary and binary ops on earlier values, then
 * every value nothing used yet is added into the output, so that backward reaches all of it. */
static mt_trace *random_graph(int n, uint64_t seed_value, char *err, size_t errlen)
{
    build b;
    if (build_begin(&b, "random", err, errlen) != 0) return NULL;
    mt_rng rng;
    mt_rng_seed(&rng, seed_value);
    int cap = n + 2, npool = 0, ndangling = 0, nleaf = 0, leaf_target = n / 8 > 2 ? n / 8 : 2;
    mt_tensor **pool = calloc((size_t)cap, sizeof *pool);
    bool *used = calloc((size_t)cap, sizeof *used);
    bool ok = pool && used;
    mt_trace *t = b.trace;
    while (ok) {
        if (t->nnodes + 2 + ndangling > n) break;   /* room for one more op and the joins */
        int kind = (int)mt_rng_below(&rng, 6);      /* 0-2 unary, 3-5 binary */
        int arity = kind < 3 ? 1 : 2;
        mt_tensor *in[2];
        for (int k = 0; k < arity; k++) {
            bool fresh = npool < 2 || (nleaf < leaf_target && mt_rng_uniform(&rng) < 0.3);
            if (fresh) {
                char lbl[16];
                snprintf(lbl, sizeof lbl, "x%d", nleaf++);
                in[k] = grad_leaf(&b, 2 * mt_rng_uniform(&rng) - 1, lbl);
                continue;
            }
            /* mostly one of the last few values, as in a real network, now and then an older
             * one: the graph grows deep as well as wide, with few edges spanning many ranks */
            double u = mt_rng_uniform(&rng);
            int span = mt_rng_uniform(&rng) < 0.9 ? (npool < 12 ? npool : 12) : npool;
            int j = npool - 1 - (int)(span * u * u);
            if (j < 0) j = 0;
            in[k] = pool[j];
            if (!used[j]) { used[j] = true; ndangling--; }
        }
        mt_tensor *y = kind == 0 ? mt_tanh(in[0]) : kind == 1 ? mt_sigmoid(in[0])
                     : kind == 2 ? mt_neg(in[0]) : kind == 3 ? mt_add(in[0], in[1])
                     : kind == 4 ? mt_mul(in[0], in[1]) : mt_sub(in[0], in[1]);
        if (!y || npool >= cap) { ok = false; break; }
        pool[npool] = y;
        used[npool++] = false;
        ndangling++;
    }
    mt_tensor *out = NULL;
    for (int j = 0; ok && j < npool; j++) {             /* the joins */
        if (used[j]) continue;
        out = out ? mt_add(out, pool[j]) : pool[j];
        ok = out != NULL;
    }
    while (ok && out && t->nnodes < n) ok = (out = mt_tanh(out)) != NULL;
    free(pool);
    free(used);
    return build_end(&b, ok && record_walks(&b, out), err, errlen);
}

/* "chain:N" / "random:N[:SEED]": N and the seed, or -1 with a message. */
static int parse_size(const char *name, const char *arg, int *n, uint64_t *seed_value,
                      char *err, size_t errlen)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (end != arg && *end == ':' && seed_value) {
        char *end2;
        unsigned long long s = strtoull(end + 1, &end2, 10);
        if (end2 == end + 1 || *end2) end = end2 - 1;   /* force the error below */
        else { *seed_value = s; end = end2; }
    }
    if (end == arg || *end || v < 2 || v > SYNTH_MAX) {
        mt_errbuf_set(err, errlen, "example %s: N must be a whole number from 2 to %d, not \"%s\"",
                      name, SYNTH_MAX, arg);
        return -1;
    }
    *n = (int)v;
    return 0;
}

static void list_examples(char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < MT_COUNT(examples) && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", examples[i].name);
}

mt_trace *vw_example_record(const char *name, const char *data_dir, char *err, size_t errlen)
{
    mt_trace *t = NULL;
    int n = 0;
    uint64_t seed_value = 42;
    if (!name) name = "";
    if (strcmp(name, "seed") == 0) t = seed(err, errlen);
    else if (strcmp(name, "diamond") == 0) t = diamond(err, errlen);
    else if (strcmp(name, "mlp") == 0) t = mlp(err, errlen);
    else if (strcmp(name, "mnist-step") == 0) t = mnist_step(data_dir, err, errlen);
    else if (strncmp(name, "chain:", 6) == 0) {
        if (parse_size("chain:N", name + 6, &n, NULL, err, errlen) != 0) return NULL;
        t = chain(n, err, errlen);
    } else if (strncmp(name, "random:", 7) == 0) {
        if (parse_size("random:N", name + 7, &n, &seed_value, err, errlen) != 0) return NULL;
        t = random_graph(n, seed_value, err, errlen);
    } else {
        char list[256];
        list_examples(list, sizeof list);
        mt_errbuf_set(err, errlen,
                      "unknown example \"%s\" (the examples: %s; --list describes them)", name,
                      list);
        return NULL;
    }
    if (t) mt_trace_set_title(t, name);
    return t;
}

/* ---- registry ops ---------------------------------------------------------------------------- */

/* gradcheck's draw: uniform in [lo, hi], away from (-min_abs, min_abs); labels as integers */
static double draw(mt_rng *rng, mt_domain d)
{
    if (d.labels)
        return d.lo + (double)mt_rng_below(rng, (uint64_t)(d.hi - d.lo > 1 ? d.hi - d.lo : 1));
    double v = d.lo;
    for (int tries = 0; tries < 10000; tries++) {
        v = d.lo + (d.hi - d.lo) * mt_rng_uniform(rng);
        if (fabs(v) >= d.min_abs) break;
    }
    return v;
}

mt_trace *vw_op_record(const char *op_name, const char *case_name, char *err, size_t errlen)
{
    const mt_op *op = mt_op_find(op_name ? op_name : "");
    char list[1024];
    size_t used = 0;
    list[0] = 0;
    if (!op) {
        for (int i = 0; i < mt_op_count() && used < sizeof list; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                     mt_op_at(i)->name);
        mt_errbuf_set(err, errlen, "unknown op \"%s\" (the registry's ops: %s)",
                      op_name ? op_name : "", list);
        return NULL;
    }
    const mt_case *c = NULL;
    for (int i = 0; i < op->ncases; i++) {
        if (case_name && strcmp(op->cases[i].name, case_name) == 0) c = &op->cases[i];
        if (used < sizeof list)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                     op->cases[i].name);
    }
    if (!c) {
        mt_errbuf_set(err, errlen, "op %s has no case \"%s\" (its cases: %s)", op->name,
                      case_name ? case_name : "", list);
        return NULL;
    }
    char title[64];
    snprintf(title, sizeof title, "%s/%s", op->name, c->name);
    build b;
    if (build_begin(&b, title, err, errlen) != 0) return NULL;
    mt_rng rng;
    uint64_t h = 1469598103934665603ull;               /* FNV-1a over "op\0case", as gradcheck */
    for (const char *p = op->name; ; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
        if (!*p) break;
    }
    for (const char *p = c->name; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    mt_rng_seed(&rng, h);
    mt_tensor *in[MT_MAX_INPUTS] = { 0 };
    bool ok = true;
    for (int i = 0; i < op->arity && ok; i++) {
        mt_tensor *t = mt_empty(c->in[i]);
        ok = t != NULL;
        if (!ok) break;
        mt_domain d = c->domain ? c->domain[i] : op->domain[i];   /* the case's own, if any */
        for (size_t k = 0; k < t->numel; k++) t->data[k] = draw(&rng, d);
        if (!d.labels) mt_requires_grad(t, true);
        in[i] = leaf(&b, t, (const char[][2]){ "a", "b", "c", "d" }[i]);
    }
    mt_tensor *y = ok ? name(&b, mt_apply(op, in, &c->args), "y") : NULL;
    mt_trace *t = build_end(&b, y && record_walks(&b, y), err, errlen);
    if (t) mt_trace_set_title(t, title);
    return t;
}
