/* trace_impl.h (internal): building an mt_trace piece by piece, shared by the recorder
 * (record.c) and the reader (json_read.c). Every array grows as needed; running out of memory
 * aborts with a message, as mt_arena_alloc does. */
#ifndef MT_TRACE_IMPL_H
#define MT_TRACE_IMPL_H

#include "mytorch/trace.h"

mt_trace       *mt_trace_new(void);                  /* empty, version set, output -1 */
mt_trace_node  *mt_trace_add_node(mt_trace *t);      /* zeroed, id set; valid until the next add */
mt_trace_edge  *mt_trace_add_edge(mt_trace *t);
mt_trace_walk  *mt_trace_add_walk(mt_trace *t);
/* an event at the end of walk w of t: zeroed but node, parent and edge -1 */
mt_trace_event *mt_trace_add_event(mt_trace *t, mt_trace_walk *w);

/* v = the values data[0..numel) of shape s, whole when numel <= limit, else summarised.
 * Replaces what v held. */
void mt_trace_value_set(mt_trace_value *v, mt_shape s, const double *data, size_t numel,
                        size_t limit);
void mt_trace_value_clear(mt_trace_value *v);        /* frees data; v is then absent */
void *mt_trace_xalloc(void *p, size_t n, size_t size);  /* realloc of n * size, or abort */

#endif
