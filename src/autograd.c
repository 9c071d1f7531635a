/* autograd.c: the engine. mt_apply builds the graph during forward (the handout's
 * Function.apply); mt_backward walks it from the output to the leaves, either with the
 * handout's recursive depth-first search or in PyTorch's topological order. */
#include "mytorch/autograd.h"
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* What a thread is doing is its own (as grad mode is in PyTorch): a graph is built, walked and
 * observed by one thread. Ids are shared, so that they stay unique per process. */
static _Thread_local bool grad_enabled = true;
static atomic_uint_least32_t next_node_id = 1;
static _Thread_local uint64_t traversal_serial;
static _Thread_local mt_observer_fn observer;
static _Thread_local void *observer_user;
static _Thread_local mt_arena *scratch;  /* backward's temporaries, reset when each backward ends */
static _Thread_local bool in_backward;

bool mt_set_grad_enabled(bool on) { bool prev = grad_enabled; grad_enabled = on; return prev; }
bool mt_is_grad_enabled(void) { return grad_enabled; }
void mt_set_observer(mt_observer_fn fn, void *user) { observer = fn; observer_user = user; }

void mt_get_observer(mt_observer_fn *fn, void **user)
{
    if (fn) *fn = observer;
    if (user) *user = observer_user;
}

const char *mt_traversal_name(mt_traversal how)
{
    switch (how) {
    case MT_DFS: return "dfs";
    case MT_TOPO: return "topo";
    case MT_DFS_LAST_FIRST: return "dfs_last_first";
    case MT_NO_TRAVERSAL: return "none";
    }
    return "unknown";
}

/* The event is built only when someone listens: with no observer, backward costs nothing more. */
#define emit(...)                                                                               \
    do {                                                                                        \
        if (observer) {                                                                         \
            mt_event ev_ = __VA_ARGS__;                                                         \
            observer(&ev_, observer_user);                                                      \
        }                                                                                       \
    } while (0)

void mt_save_for_backward(mt_ctx *ctx, const mt_tensor *t)
{
    if (ctx->nsaved >= MT_CTX_SLOTS) {
        mt_error("save_for_backward: more than %d tensors", MT_CTX_SLOTS);
        return;
    }
    ctx->saved[ctx->nsaved++] = t;
}

static mt_node *node_new(mt_arena *a, mt_node_kind kind)
{
    mt_node *n = mt_arena_alloc(a, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->id = (uint32_t)atomic_fetch_add_explicit(&next_node_id, 1, memory_order_relaxed);
    return n;
}

/* The node an input contributes to the graph: its grad_fn (an intermediate), its
 * AccumulateGrad (a leaf that requires grad, made once and kept on the leaf), or NULL (a
 * constant: nothing flows back to it). */
static mt_node *parent_node(mt_tensor *t)
{
    if (t->grad_fn) return t->grad_fn;
    if (!t->requires_grad) return NULL;
    if (!t->accumulate) {
        t->accumulate = node_new(t->arena, MT_ACCUMULATE_GRAD);
        t->accumulate->variable = t;
        emit((mt_event){ .kind = MT_EV_LEAF_NODE_CREATED, .traversal = MT_NO_TRAVERSAL,
                         .node = t->accumulate, .tensor = t });
    }
    return t->accumulate;
}

mt_tensor *mt_apply(const mt_op *op, mt_tensor *const *inputs, const mt_op_args *args)
{
    static const mt_op_args no_args;
    if (!op) { mt_error("apply: NULL op"); return NULL; }
    if (!mt_op_registered(op)) {
        mt_error("%s: this op is not in the registry; add MT_OP(%s) to src/ops/ops.def",
                 op->name, op->name);
        return NULL;
    }
    if (!inputs) { mt_error("%s: NULL inputs array", op->name); return NULL; }
    if (!args) args = &no_args;
    bool needs_grad = false;
    for (int i = 0; i < op->arity; i++) {
        if (!inputs[i]) return NULL;             /* an earlier op failed and said so */
        needs_grad |= inputs[i]->requires_grad;
    }
    /* A shape edited in place (t->shape = ...) no longer describes the data: an op would read or
     * write past its end. */
    for (int i = 0; i < op->arity; i++)
        if (inputs[i]->numel != mt_shape_numel(inputs[i]->shape)) {
            char b[64];
            mt_error("%s: input %d has shape %s but holds %zu elements (use mt_reshape to change "
                     "a shape)", op->name, i, mt_shape_str(inputs[i]->shape, b, sizeof b),
                     inputs[i]->numel);
            return NULL;
        }
    needs_grad &= grad_enabled;

    /* 1. the node (its context is where forward saves what backward needs) */
    mt_ctx local;
    mt_node *node = needs_grad ? node_new(mt_arena_current(), MT_BACKWARD_FUNCTION) : NULL;
    mt_ctx *ctx = node ? &node->ctx : &local;
    if (!node) memset(ctx, 0, sizeof *ctx);
    ctx->nin = op->arity;
    for (int i = 0; i < op->arity; i++) ctx->in_shape[i] = inputs[i]->shape;

    /* 2. forward */
    mt_tensor *out = op->forward(ctx, inputs, args);
    if (!out || !node) return out;

    /* 3. link the node to its parents; 4. store it on the output */
    node->op = op;
    node->nparents = op->arity;
    for (int i = 0; i < op->arity; i++) node->next_functions[i] = parent_node(inputs[i]);
    node->variable = out;
    out->grad_fn = node;
    out->requires_grad = true;
    out->is_leaf = false;
    emit((mt_event){ .kind = MT_EV_NODE_CREATED, .traversal = MT_NO_TRAVERSAL, .node = node,
                     .tensor = out, .inputs = inputs, .ninputs = op->arity, .args = args });
    /* 5. return it */
    return out;
}

/* ---- backward ------------------------------------------------------------------------------ */

/* AccumulateGrad: leaf.grad += grad. The grad buffer lives in the leaf's own arena. As in
 * PyTorch, a leaf that no longer requires grad (turned off after the graph was built) gets
 * nothing. Returns -1 after reporting a .grad that does not have the leaf's shape (it was
 * replaced by hand): adding into it would write past its end. */
static int accumulate(mt_node *node, const mt_tensor *grad, mt_traversal how, int depth)
{
    mt_tensor *leaf = node->variable;
    node->backward_calls++;
    if (!leaf->requires_grad) return 0;
    if (leaf->grad && (!mt_shape_equal(leaf->grad->shape, leaf->shape) ||
                       leaf->grad->numel != leaf->numel)) {
        char a[64], b[64];
        mt_error("backward: the .grad of a leaf of shape %s has shape %s",
                 mt_shape_str(leaf->shape, a, sizeof a),
                 mt_shape_str(leaf->grad->shape, b, sizeof b));
        return -1;
    }
    const mt_tensor *before = NULL;
    if (observer && leaf->grad) before = mt_detach(leaf->grad);   /* snapshot, in scratch */
    if (!leaf->grad) {
        mt_arena *prev = mt_arena_use(leaf->arena);
        leaf->grad = mt_zeros(leaf->shape);
        mt_arena_use(prev);
    }
    for (size_t i = 0; i < leaf->numel; i++) leaf->grad->data[i] += grad->data[i];
    emit((mt_event){ .kind = MT_EV_ACCUMULATE, .node = node, .tensor = leaf, .grad = grad,
                     .before = before, .after = leaf->grad, .traversal = how, .depth = depth });
    return 0;
}

/* Runs one BackwardFunction: a fresh zeroed gradient per input that needs one, filled by the
 * op's backward (which adds into it). */
static void run_node(mt_node *node, const mt_tensor *grad, mt_tensor **gin, mt_traversal how,
                     int depth)
{
    node->backward_calls++;
    for (int i = 0; i < node->nparents; i++)
        gin[i] = node->next_functions[i] ? mt_zeros(node->ctx.in_shape[i]) : NULL;
    node->op->backward(&node->ctx, grad, gin);
    emit((mt_event){ .kind = MT_EV_NODE_GRADS, .node = node, .grads = gin,
                     .ngrads = node->nparents, .traversal = how, .depth = depth });
}

/* items grown to hold at least `need` elements of `size` bytes (*cap updated), or NULL when out
 * of memory (items is then unchanged and still owned by the caller). */
static void *grow(void *items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return items;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *bigger = realloc(items, n * size);
    if (bigger) *cap = n;
    return bigger;
}

/* The handout's depth-first walk: a node computes its input gradients and hands each one
 * straight to its parent, which walks on from there before the next parent gets its gradient.
 * A node reached along k paths runs k times.
 *
 * It is the recursion
 *     visit(node, grad): report VISIT; if a leaf, accumulate; else run the node, then for each
 *                        parent i: report GRAD_PASSED, visit(parent i, gin[i]); report RETURN
 * with the call stack kept in an array instead, so a chain of a million ops cannot overflow
 * the C stack. A frame is one node whose parents are being visited, in input order (first
 * input first, or last input first). */
typedef struct dfs_frame {
    mt_node   *node;
    mt_tensor *gin[MT_MAX_INPUTS];   /* the gradients it computed, one per input */
    int        done;                 /* how many of its inputs have been handed their gradient */
} dfs_frame;

typedef struct dfs_stack {
    dfs_frame   *frames;
    size_t       top, cap;
    mt_traversal how;
} dfs_stack;

/* visit(node, grad) up to its loop over the parents: that part is left to the caller's loop
 * through the frame pushed here. A leaf's visit ends here, so it returns here too. */
static int dfs_enter(dfs_stack *st, mt_node *node, const mt_tensor *grad)
{
    int depth = (int)st->top + 1;
    emit((mt_event){ .kind = MT_EV_VISIT, .node = node, .grad = grad, .traversal = st->how,
                     .depth = depth });
    if (node->kind == MT_ACCUMULATE_GRAD) {
        int rc = accumulate(node, grad, st->how, depth);
        emit((mt_event){ .kind = MT_EV_RETURN, .node = node, .traversal = st->how,
                         .depth = depth });
        return rc;
    }
    dfs_frame *frames = grow(st->frames, &st->cap, st->top + 1, sizeof *frames);
    if (!frames) {
        mt_error("backward: out of memory for a graph %zu nodes deep", st->top + 1);
        return -1;
    }
    st->frames = frames;
    dfs_frame *f = &frames[st->top++];
    f->node = node;
    f->done = 0;
    run_node(node, grad, f->gin, st->how, depth);
    return 0;
}

static int backward_dfs(mt_node *root, const mt_tensor *seed, mt_traversal how)
{
    dfs_stack st = { NULL, 0, 0, how };
    bool last_first = how == MT_DFS_LAST_FIRST;
    int rc = dfs_enter(&st, root, seed);
    while (rc == 0 && st.top > 0) {
        dfs_frame *f = &st.frames[st.top - 1];
        mt_node *node = f->node;
        int n = node->nparents, i = -1;
        while (f->done < n) {                      /* the next input that takes a gradient */
            int k = f->done++;
            int j = last_first ? n - 1 - k : k;
            if (node->next_functions[j]) { i = j; break; }
        }
        if (i < 0) {                               /* every parent walked: return */
            emit((mt_event){ .kind = MT_EV_RETURN, .node = node, .traversal = how,
                             .depth = (int)st.top });
            st.top--;
            continue;
        }
        mt_node *p = node->next_functions[i];
        mt_tensor *g = f->gin[i];
        emit((mt_event){ .kind = MT_EV_GRAD_PASSED, .node = node, .parent = p, .input_index = i,
                         .grad = g, .traversal = how, .depth = (int)st.top });
        rc = dfs_enter(&st, p, g);                 /* may move the frames: f is stale now */
    }
    free(st.frames);
    return rc;
}

/* PyTorch's order: count, for every node reachable from the root, how many edges lead into
 * it; a node runs once, when all of them have delivered their gradient (summed). */
static int backward_topo(mt_node *root, const mt_tensor *seed)
{
    uint64_t serial = ++traversal_serial;
    size_t cap = 0, top = 0, nodes = 1;
    mt_node **stack = NULL;
    int rc = 0;

    mt_node **bigger = grow(stack, &cap, 1, sizeof *stack);
    if (!bigger) goto out_of_memory;
    stack = bigger;
    root->mark = serial; root->pending = 0; root->grad_sum = NULL;
    stack[top++] = root;
    while (top) {                                  /* pass 1: in-degrees */
        mt_node *n = stack[--top];
        for (int i = 0; i < n->nparents; i++) {
            mt_node *p = n->next_functions[i];
            if (!p) continue;
            if (p->mark != serial) {
                p->mark = serial; p->pending = 0; p->grad_sum = NULL;
                nodes++;
                if (!(bigger = grow(stack, &cap, top + 1, sizeof *stack))) goto out_of_memory;
                stack = bigger;
                stack[top++] = p;
            }
            p->pending++;
        }
    }

    /* pass 2 may hold every node at once */
    if (!(bigger = grow(stack, &cap, nodes, sizeof *stack))) goto out_of_memory;
    stack = bigger;
    root->grad_sum = (mt_tensor *)seed;
    stack[top++] = root;                           /* pass 2: nodes whose gradient is complete */
    while (top && rc == 0) {
        mt_node *n = stack[--top];
        const mt_tensor *grad = n->grad_sum;
        emit((mt_event){ .kind = MT_EV_VISIT, .node = n, .grad = grad, .traversal = MT_TOPO });
        if (n->kind == MT_ACCUMULATE_GRAD) { rc = accumulate(n, grad, MT_TOPO, 0); continue; }
        mt_tensor *gin[MT_MAX_INPUTS];
        run_node(n, grad, gin, MT_TOPO, 0);
        for (int i = 0; i < n->nparents; i++) {
            mt_node *p = n->next_functions[i];
            if (!p) continue;
            if (!p->grad_sum) p->grad_sum = gin[i];
            else
                for (size_t k = 0; k < gin[i]->numel; k++) p->grad_sum->data[k] += gin[i]->data[k];
            p->pending--;
            emit((mt_event){ .kind = MT_EV_GRAD_PASSED, .node = n, .parent = p, .input_index = i,
                             .grad = gin[i], .traversal = MT_TOPO, .pending = p->pending });
            if (p->pending == 0) {
                emit((mt_event){ .kind = MT_EV_READY, .node = p, .grad = p->grad_sum,
                                 .traversal = MT_TOPO });
                stack[top++] = p;
            }
        }
    }
    free(stack);
    return rc;

out_of_memory:
    free(stack);
    mt_error("backward: out of memory for a graph of %zu nodes", nodes);
    return -1;
}

int mt_backward_ex(mt_tensor *t, const mt_tensor *grad, mt_traversal how)
{
    if (!t) { mt_error("backward: NULL tensor"); return -1; }
    if (how != MT_DFS && how != MT_TOPO && how != MT_DFS_LAST_FIRST) {
        mt_error("backward: unknown traversal %d (MT_DFS, MT_DFS_LAST_FIRST or MT_TOPO)",
                 (int)how);
        return -1;
    }
    if (!t->requires_grad) {
        mt_error("backward: the tensor does not require grad and has no grad_fn");
        return -1;
    }
    if (grad && !mt_shape_equal(grad->shape, t->shape)) {
        char a[64], b[64];
        mt_error("backward: gradient of shape %s for a tensor of shape %s",
                 mt_shape_str(grad->shape, a, sizeof a), mt_shape_str(t->shape, b, sizeof b));
        return -1;
    }
    if (in_backward) {
        mt_error("backward: already running (called from an observer?)");
        return -1;
    }
    in_backward = true;
    if (!scratch) scratch = mt_arena_new();
    mt_arena *prev = mt_arena_use(scratch);
    bool prev_grad = mt_set_grad_enabled(false);   /* backward itself builds no graph */

    mt_tensor *seed = mt_empty(t->shape);
    if (grad) memcpy(seed->data, grad->data, t->numel * sizeof(double));
    else mt_fill(seed, 1.0);
    mt_node *root = t->grad_fn ? t->grad_fn : parent_node(t);
    emit((mt_event){ .kind = MT_EV_BACKWARD_BEGIN, .node = root, .tensor = t, .grad = seed,
                     .traversal = how });
    int rc = how == MT_TOPO ? backward_topo(root, seed) : backward_dfs(root, seed, how);
    emit((mt_event){ .kind = MT_EV_BACKWARD_END, .node = root, .tensor = t, .traversal = how,
                     .status = rc });

    /* the same way out after an error: grad mode, the current arena and the engine restored */
    mt_set_grad_enabled(prev_grad);
    mt_arena_use(prev);
    mt_arena_reset(scratch);
    in_backward = false;
    return rc;
}

int mt_backward(mt_tensor *t) { return mt_backward_ex(t, NULL, MT_DFS); }

void mt_zero_grad(mt_tensor *t)
{
    if (t && t->grad) mt_fill(t->grad, 0.0);
}

/* This thread's engine state, as it was at start-up (mt_shutdown, arena.c). */
void mt_autograd_thread_reset(void)
{
    mt_arena_free(scratch);
    scratch = NULL;
    observer = NULL;
    observer_user = NULL;
    grad_enabled = true;
}
