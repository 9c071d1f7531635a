/* json_impl.h (internal): what the trace's JSON writer (json_write.c), reader (json_read.c) and
 * checks (json_check.c, json_walk.c) share: which fields each kind of event has, the limits a
 * file must stay within, and the check that a trace is one the engine can have produced. Only
 * json_write.c and json_read.c see cJSON; the checks work on the structs of trace.h. */
#ifndef MT_TRACE_JSON_IMPL_H
#define MT_TRACE_JSON_IMPL_H

#include "mytorch/trace.h"

#include <stdarg.h>

#define MT_TRACE_FORMAT "mytorch-trace"        /* the "format" field of every trace file */

/* Refused before anything is allocated for them. */
#define MT_TRACE_MAX_FILE   ((size_t)256 << 20) /* bytes of JSON */
#define MT_TRACE_MAX_NODES  10000000
#define MT_TRACE_MAX_EDGES  (MT_TRACE_MAX_NODES * MT_MAX_INPUTS)
#define MT_TRACE_MAX_WALKS  1000000
#define MT_TRACE_MAX_EVENTS 10000000            /* over all walks */
/* numel of a value: 2^53, the largest count a JSON number (a double) holds exactly; also far
 * more doubles than any machine can hold, so a real tensor is never refused */
#define MT_TRACE_MAX_NUMEL  ((size_t)1 << 53)

/* The fields an event of each kind carries, besides "kind" (autograd.h says what each means).
 * One table for the writer, the reader and the checker, so that the three cannot disagree. */
enum {
    MT_EVF_NODE    = 1 << 0,
    MT_EVF_PARENT  = 1 << 1,
    MT_EVF_EDGE    = 1 << 2,
    MT_EVF_OPERAND = 1 << 3,   /* input_index */
    MT_EVF_DEPTH   = 1 << 4,   /* DFS walks only */
    MT_EVF_PENDING = 1 << 5,   /* topological walks only */
    MT_EVF_STATUS  = 1 << 6,
    MT_EVF_GRAD    = 1 << 7,
    MT_EVF_BEFORE  = 1 << 8,
    MT_EVF_AFTER   = 1 << 9,
    MT_EVF_GRADS   = 1 << 10,  /* ngrads and grads[] */
    MT_EVF_COUNT   = 11
};

/* The fields of an event of kind k in a walk of traversal how; 0 for a kind no walk holds
 * (node_created, leaf_node_created) or an unknown kind. */
unsigned    mt_trace_event_fields(mt_event_kind k, mt_traversal how);
/* The JSON name of one MT_EVF_ bit ("node", "operand", "grads", ...). */
const char *mt_trace_event_field_name(unsigned bit);

/* Checks everything about t that its types do not: ids and indices resolve, kinds are known,
 * shapes agree with data, op nodes name registered ops of the right arity, and every walk is an
 * order of events the engine produces. 0, or -1 with "<prefix>: <JSON path>: <what is wrong>"
 * in err. */
int mt_trace_check(const mt_trace *t, const char *prefix, char *err, size_t errlen);

/* Formats into err like snprintf; a message too long for err ends in "[...]". */
void mt_trace_msgv(char *err, size_t errlen, const char *fmt, va_list ap);
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void mt_trace_msg(char *err, size_t errlen, const char *fmt, ...);

/* ---- inside mt_trace_check: shared by json_check.c and json_walk.c -------------------------- */
typedef struct mt_trace_checker {
    const mt_trace *t;
    const char     *prefix;
    char           *err;
    size_t          errlen;
    int            *edge_of;   /* [node * MT_MAX_INPUTS + operand]: the edge into it, or -1 */
    /* one walk's scratch: nnodes ints each, and the open visits (DFS) */
    int            *count;     /* topological: deliveries into each node still to come */
    unsigned char  *mark;      /* topological: 1 reachable from the root, 2 visited */
    int            *stack;     /* DFS: the open visits' nodes; topological: the ready nodes */
    int            *lastop;    /* DFS: per open visit, the operand passed last */
    int            *passes;    /* DFS: per open visit, how many gradients it has passed */
} mt_trace_checker;

/* "<prefix>: <path>: <message>" into the checker's err, and "walks[wi].events[ei].field" as the
 * path (field NULL: the event itself); both return -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int mt_trace_checker_fail(mt_trace_checker *c, const char *path, const char *fmt, ...);
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
int mt_trace_checker_event_fail(mt_trace_checker *c, int wi, size_t ei, const char *field,
                                const char *fmt, ...);
/* The order of walk wi's events (json_walk.c), once each event has been checked on its own:
 * 0, or -1 with the message. c->stack, lastop, passes hold max(nevents, nnodes) ints; count and
 * mark nnodes; edge_of is filled. */
int mt_trace_check_dfs(mt_trace_checker *c, int wi);
int mt_trace_check_topo(mt_trace_checker *c, int wi);

#endif
