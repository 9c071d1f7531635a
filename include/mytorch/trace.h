/* trace.h: recording a graph and every step of its forward and backward passes, for replay.
 *
 *     mt_trace *tr = mt_trace_begin();          // records this thread's engine from here on
 *     mt_tensor *e = ... build the graph ...;   // forward: one node per op, leaf and constant
 *     mt_backward_ex(e, NULL, MT_DFS_LAST_FIRST);  // a walk: every event, in order
 *     mt_zero_grad(a); mt_zero_grad(c);
 *     mt_backward_ex(e, NULL, MT_TOPO);         // a second walk of the same graph
 *     mt_trace_end(tr);                         // stops recording
 *     mt_trace_save(tr, "seed.json", err, sizeof err);   // JSON (docs/trace-format.md)
 *     mt_trace_free(tr);
 *
 * A trace is record-then-replay: everything the engine reports is copied into memory the trace
 * owns (values and gradients included), so it outlives the arenas of the graph it recorded and
 * a viewer can step through it, backwards too, without touching the engine. Nodes are numbered
 * 0, 1, 2, ... in the order they appeared, which is the order the forward pass made them: a
 * forward step k shows nodes 0..k.
 *
 * mt_trace_load reads a saved trace back and checks all of it (see mt_trace_load); a loaded
 * trace is the same data as a recorded one. */
#ifndef MYTORCH_TRACE_H
#define MYTORCH_TRACE_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_TRACE_VERSION 1
#define MT_TRACE_VALUE_LIMIT 4096   /* default: values up to this many elements are kept whole */
#define MT_TRACE_SUMMARY_HEAD 16    /* a summarised value keeps its first this many elements */

/* A tensor's values as recorded: whole when numel <= the trace's value limit, otherwise
 * summarised (the statistics and the first MT_TRACE_SUMMARY_HEAD elements). present is false
 * where there is no value (a NODE_GRADS entry for an input that takes no gradient, the
 * `before` of a first accumulation). */
typedef struct mt_trace_value {
    bool     present;
    mt_shape shape;
    size_t   numel;
    bool     summarised;   /* data holds only the first ndata of numel elements */
    size_t   ndata;
    double  *data;         /* ndata values, owned by the trace */
    double   min, max, mean, norm;   /* over all numel elements (0 when numel is 0) */
} mt_trace_value;

typedef enum mt_trace_node_kind {
    MT_TRACE_ACCUMULATE_GRAD,    /* a leaf that requires grad, and its AccumulateGrad node */
    MT_TRACE_BACKWARD_FUNCTION,  /* an op's node and the tensor it made */
    MT_TRACE_CONSTANT            /* a tensor that requires no grad: nothing flows back to it */
} mt_trace_node_kind;

typedef struct mt_trace_node {
    int                id;             /* its index in mt_trace.nodes */
    mt_trace_node_kind kind;
    const mt_op       *op;             /* BackwardFunction: the registry's op; else NULL */
    char               op_name[32];    /* "mul"; "" for leaves and constants */
    char               backward_name[48]; /* "MulBackward0", "AccumulateGrad"; "" for constants */
    char               symbol[16];     /* "×"; "" for leaves and constants */
    char               label[MT_LABEL_MAX]; /* the tensor's label ("a", "3"); may be "" */
    mt_op_args         args;           /* BackwardFunction: the op's non-tensor arguments */
    int                ninputs;        /* BackwardFunction: the op's arity; else 0 */
    mt_trace_value     value;          /* the tensor's value when the node was made */
    bool               requires_grad, is_leaf, is_parameter;
} mt_trace_node;

/* An edge is an operand: node `from` is input `operand` of the op node `to`. a + a has two
 * edges from a, operands 0 and 1. A backward walk's gradient runs along an edge from `to`
 * back to `from`. */
typedef struct mt_trace_edge {
    int from, to, operand;
} mt_trace_edge;

/* One engine event of a walk (autograd.h says what each kind means), with the engine's
 * pointers turned into node and edge indices and its tensors into copied values. */
typedef struct mt_trace_event {
    mt_event_kind  kind;
    int            node;          /* the node the event is about; -1 for none */
    int            parent;        /* GRAD_PASSED: the node receiving the gradient; else -1 */
    int            edge;          /* GRAD_PASSED: the edge it travels along; else -1 */
    int            input_index;   /* GRAD_PASSED: the operand */
    int            depth;         /* DFS: the call stack's height; else 0 */
    int            pending;       /* topological GRAD_PASSED: edges into parent still to come */
    int            status;        /* BACKWARD_END */
    mt_trace_value grad;          /* BEGIN (the seed), VISIT, GRAD_PASSED, ACCUMULATE, READY */
    mt_trace_value before, after; /* ACCUMULATE: the leaf's .grad before (absent on the first
                                     time) and after */
    int            ngrads;        /* NODE_GRADS: the node's arity */
    mt_trace_value grads[MT_MAX_INPUTS]; /* NODE_GRADS: what it computed for each input */
} mt_trace_event;

/* One backward pass: from BACKWARD_BEGIN to BACKWARD_END inclusive. */
typedef struct mt_trace_walk {
    mt_traversal    traversal;
    int             root;         /* the node backward started at */
    int             status;       /* 0, or -1 when backward reported an error */
    size_t          nevents;
    mt_trace_event *events;
} mt_trace_walk;

typedef struct mt_trace {
    int            version;       /* MT_TRACE_VERSION */
    size_t         value_limit;
    int            nnodes;
    mt_trace_node *nodes;
    int            nedges;
    mt_trace_edge *edges;
    int            nwalks;
    mt_trace_walk *walks;
    int            output;        /* the node of the last op made: the graph's output (-1: none) */
    char           title[64];     /* what was recorded ("seed"); may be "" */
} mt_trace;

/* ---- recording ------------------------------------------------------------------------------
 * mt_trace_begin starts recording on the calling thread (it sets the thread's observer, and
 * mt_trace_end puts back the one that was there). One trace records at a time per thread: a
 * second begin before the end is refused (NULL and an error). Ops made before begin that feed
 * recorded ones appear as nodes when first used, with the value they have then.
 * Owned by the caller: release with mt_trace_free. */
mt_trace *mt_trace_begin(void);
void      mt_trace_set_value_limit(mt_trace *t, size_t limit);   /* before the values it affects */
void      mt_trace_end(mt_trace *t);
void      mt_trace_free(mt_trace *t);                            /* NULL is fine */
void      mt_trace_set_title(mt_trace *t, const char *title);

/* The node recorded for tensor x (its op node, its leaf node, or the constant), or -1. Valid
 * while recording and after, as long as x itself is. */
int mt_trace_node_of(const mt_trace *t, const mt_tensor *x);

/* ---- saving and loading (src/trace/json_write.c, json_read.c; the format is
 * docs/trace-format.md) ------------------------------------------------------------------------
 * Both return 0 / a trace, or -1 / NULL with a message in err naming the file and the first
 * thing wrong, and where (a JSON path such as walks[1].events[7].node). Save runs load's checks
 * first (so every saved file loads; a walk still being recorded is not saved), then writes
 * through a temporary file and a rename: a failed save leaves no file behind. Doubles are
 * written so that they read back exactly; NaN and the infinities as "nan", "inf", "-inf".
 * Load checks the version; that every id and index resolves (nodes, edges, operands, roots);
 * that node kinds, event kinds and traversals are known; that shapes agree with data lengths;
 * that each walk's events are in an order the engine can produce (it starts with BEGIN and ends
 * with END, VISIT/RETURN nest in DFS, a GRAD_PASSED runs along an edge into its node, ...). */
int       mt_trace_save(const mt_trace *t, const char *path, char *err, size_t errlen);
mt_trace *mt_trace_load(const char *path, char *err, size_t errlen);
/* The same from text in memory (len bytes, no NUL needed); `name` stands for the file in
 * messages. */
mt_trace *mt_trace_parse(const char *text, size_t len, const char *name, char *err, size_t errlen);
/* "AccumulateGrad", "BackwardFunction", "constant"; the JSON names of event kinds */
const char *mt_trace_node_kind_name(mt_trace_node_kind k);
const char *mt_event_kind_name(mt_event_kind k);

/* ---- Graphviz DOT (src/trace/dot.c) -----------------------------------------------------------
 * The live graph behind root, from root back to its leaves, as DOT on f, left to right: op nodes
 * labelled with their symbol, label, shape and value, leaves with their value and .grad,
 * constants, parameters and leaves that require grad styled apart, edges from inputs to ops
 * labelled with the operand when the op has more than one. A graph keeps no pointer to its
 * constants, so each constant operand is a small stub showing only its shape (a trace keeps
 * their values). Returns 0, or -1 after reporting an error (a NULL root, a write error). */
int mt_graph_write_dot(const mt_tensor *root, FILE *f);

#ifdef __cplusplus
}
#endif

#endif
