/* tensor.c: making tensors, keeping their autograd invariants, and printing them the way
 * PyTorch 1.13 does, so a student can put the two outputs side by side. */
#include "mytorch/autograd.h"
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_uint_least32_t next_tensor_id = 1;   /* shared by all threads: ids stay unique */

size_t mt_shape_numel(mt_shape s)
{
    if (s.ndim < 0 || s.ndim > MT_MAX_DIMS) return SIZE_MAX;
    for (int i = 0; i < s.ndim; i++)
        if (s.dim[i] < 0) return SIZE_MAX;
    for (int i = 0; i < s.ndim; i++)
        if (s.dim[i] == 0) return 0;          /* empty, however large the other dimensions */
    size_t n = 1;
    for (int i = 0; i < s.ndim; i++) {
        if (n > SIZE_MAX / (size_t)s.dim[i]) return SIZE_MAX;   /* would wrap */
        n *= (size_t)s.dim[i];
    }
    return n;
}

bool mt_shape_equal(mt_shape a, mt_shape b)
{
    if (a.ndim != b.ndim) return false;
    for (int i = 0; i < a.ndim && i < MT_MAX_DIMS; i++)
        if (a.dim[i] != b.dim[i]) return false;
    return true;
}

char *mt_shape_str(mt_shape s, char *buf, size_t n)
{
    size_t len = 0;
    if (n == 0) return buf;
    buf[0] = '\0';
    if (s.ndim < 0 || s.ndim > MT_MAX_DIMS) {
        snprintf(buf, n, "(invalid: %d dimensions)", s.ndim);
        return buf;
    }
    len += (size_t)snprintf(buf + len, n - len, "(");
    for (int i = 0; i < s.ndim && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, i ? ", %d" : "%d", s.dim[i]);
    if (len < n) snprintf(buf + len, n - len, s.ndim == 1 ? ",)" : ")");
    return buf;
}

bool mt_shape_check(const char *op, mt_shape s)
{
    char b[64];
    if (s.ndim < 0 || s.ndim > MT_MAX_DIMS) {
        mt_error("%s: %d dimensions (a shape has 0 to %d)", op, s.ndim, MT_MAX_DIMS);
        return false;
    }
    for (int i = 0; i < s.ndim; i++)
        if (s.dim[i] < 0) {
            mt_error("%s: negative dimension in shape %s", op, mt_shape_str(s, b, sizeof b));
            return false;
        }
    /* PTRDIFF_MAX bytes is what malloc (and pointer differences) can handle at most */
    if (mt_shape_numel(s) > (size_t)PTRDIFF_MAX / sizeof(double)) {
        mt_error("%s: shape %s has too many elements to hold", op, mt_shape_str(s, b, sizeof b));
        return false;
    }
    return true;
}

/* ---- creation ------------------------------------------------------------------------- */

/* A new leaf of shape s in the current arena, data uninitialised; op names the caller in the
 * error about a bad shape. */
static mt_tensor *tensor_new(const char *op, mt_shape s)
{
    if (!mt_shape_check(op, s)) return NULL;
    mt_arena *a = mt_arena_current();
    mt_tensor *t = mt_arena_alloc(a, sizeof *t);
    memset(t, 0, sizeof *t);
    t->shape = s;
    for (int i = s.ndim; i < MT_MAX_DIMS; i++) t->shape.dim[i] = 0;
    t->numel = mt_shape_numel(s);
    t->data = mt_arena_alloc(a, t->numel * sizeof(double));
    t->is_leaf = true;
    t->arena = a;
    t->id = (uint32_t)atomic_fetch_add_explicit(&next_tensor_id, 1, memory_order_relaxed);
    return t;
}

mt_tensor *mt_empty(mt_shape s) { return tensor_new("empty", s); }

static mt_tensor *filled(const char *op, mt_shape s, double value)
{
    mt_tensor *t = tensor_new(op, s);
    if (t) mt_fill(t, value);
    return t;
}

mt_tensor *mt_full(mt_shape s, double value) { return filled("full", s, value); }

mt_tensor *mt_zeros(mt_shape s)
{
    mt_tensor *t = tensor_new("zeros", s);
    if (t) memset(t->data, 0, t->numel * sizeof(double));
    return t;
}

mt_tensor *mt_ones(mt_shape s) { return filled("ones", s, 1.0); }
mt_tensor *mt_scalar(double value) { return filled("scalar", MT_SCALAR_SHAPE, value); }

mt_tensor *mt_from_data(mt_shape s, const double *data)
{
    if (!data && mt_shape_numel(s) != 0) {
        char b[64];
        mt_error("from_data: NULL data for shape %s", mt_shape_str(s, b, sizeof b));
        return NULL;
    }
    mt_tensor *t = tensor_new("from_data", s);
    if (t && t->numel) memcpy(t->data, data, t->numel * sizeof(double));
    return t;
}

mt_tensor *mt_zeros_like(const mt_tensor *t) { return t ? mt_zeros(t->shape) : NULL; }

mt_tensor *mt_detach(const mt_tensor *t)
{
    if (!t) return NULL;
    mt_tensor *c = mt_from_data(t->shape, t->data);
    if (c) memcpy(c->label, t->label, sizeof c->label);
    return c;
}

mt_tensor *mt_copy(const mt_tensor *t)
{
    mt_tensor *c = mt_detach(t);
    if (c) c->requires_grad = t->requires_grad;
    return c;
}

/* ---- flags ----------------------------------------------------------------------------- */

mt_tensor *mt_requires_grad(mt_tensor *t, bool on)
{
    if (!t) return NULL;
    if (!t->is_leaf) {
        if (!on)
            mt_error("requires_grad: a non-leaf tensor's requires_grad cannot be turned off; "
                     "use mt_detach");
        return t;
    }
    if (!on && t->is_parameter) {
        mt_error("requires_grad: a parameter always requires grad");
        return t;
    }
    t->requires_grad = on;
    return t;
}

mt_tensor *mt_make_parameter(mt_tensor *t)
{
    if (!t) return NULL;
    if (!t->is_leaf) {
        mt_error("make_parameter: only a leaf tensor can be a parameter");
        return t;
    }
    t->is_parameter = true;
    t->requires_grad = true;
    return t;
}

mt_tensor *mt_set_label(mt_tensor *t, const char *label)
{
    if (t) snprintf(t->label, sizeof t->label, "%s", label ? label : "");
    return t;
}

bool mt_tensor_check(const mt_tensor *t)
{
    if (!t) return false;
    if (t->is_parameter && !(t->requires_grad && t->is_leaf)) return false;
    if (!t->requires_grad && !t->is_leaf) return false;
    if (t->is_leaf && t->grad_fn) return false;
    if (!t->is_leaf && !t->grad_fn) return false;
    if (t->grad && !mt_shape_equal(t->grad->shape, t->shape)) return false;
    return t->numel == mt_shape_numel(t->shape);
}

/* ---- values ---------------------------------------------------------------------------- */

double mt_item(const mt_tensor *t)
{
    if (!t) { mt_error("item: NULL tensor"); return NAN; }
    if (t->numel != 1) {
        char b[64];
        mt_error("item: a tensor of shape %s has %zu elements, not one",
                 mt_shape_str(t->shape, b, sizeof b), t->numel);
        return NAN;
    }
    return t->data[0];
}

void mt_fill(mt_tensor *t, double value)
{
    if (!t) return;
    for (size_t i = 0; i < t->numel; i++) t->data[i] = value;
}

/* ---- printing like PyTorch ----------------------------------------------------------------
 * The rules of PyTorch 1.13's torch/_tensor_str.py, so the two outputs can be compared by eye:
 * one format for all elements, chosen from the nonzero finite values: integers print as "3.",
 * otherwise 4 decimals ("1.5000"); scientific ("1.0000e-05") when the magnitudes span more
 * than 1000x, exceed 1e8, or (non-integers) go below 1e-4. Every element is padded to the
 * widest of those values; rows wrap at 80 columns. A tensor of more than 1000 elements is
 * summarised: the first and last three entries of each dimension, around "...", and only
 * those entries decide the format. */

#define EDGE 3                          /* entries kept at each end when summarising */

typedef struct sbuf { char *buf; size_t cap, len; } sbuf;

static void sb_printf(sbuf *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->len < s->cap ? s->buf + s->len : NULL,
                      s->len < s->cap ? s->cap - s->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) s->len += (size_t)n;
}

typedef struct fmt {
    bool int_mode, sci_mode;
    int  width;
    /* statistics of the shown nonzero finite values, gathered first */
    bool any, all_int;
    double amin, amax;
} fmt;

static int format_raw(char *out, size_t n, double v, const fmt *f)
{
    if (f->sci_mode) return snprintf(out, n, "%.4e", v);
    if (f->int_mode) return snprintf(out, n, isfinite(v) ? "%.0f." : "%.0f", v);
    return snprintf(out, n, "%.4f", v);
}

/* Calls visit on every element that will be shown (all of them unless summarising). */
static void visit_shown(const mt_tensor *t, int dim, size_t offset, bool summarize,
                        void (*visit)(double v, fmt *f), fmt *f)
{
    if (t->shape.ndim == 0) { visit(t->data[0], f); return; }
    if (dim >= MT_MAX_DIMS) return;   /* never (ndim <= 4); says so to -O3's bounds warning */
    int n = t->shape.dim[dim];
    size_t stride = 1;
    for (int i = dim + 1; i < t->shape.ndim; i++) stride *= (size_t)t->shape.dim[i];
    for (int i = 0; i < n; i++) {
        if (summarize && n > 2 * EDGE && i == EDGE) i = n - EDGE;
        if (dim == t->shape.ndim - 1) visit(t->data[offset + (size_t)i], f);
        else visit_shown(t, dim + 1, offset + (size_t)i * stride, summarize, visit, f);
    }
}

static void gather_stats(double v, fmt *f)
{
    if (!isfinite(v) || v == 0) return;
    double a = fabs(v);
    if (!f->any || a < f->amin) f->amin = a;
    if (!f->any || a > f->amax) f->amax = a;
    f->any = true;
    if (v != ceil(v)) f->all_int = false;
}

static void gather_width(double v, fmt *f)
{
    if (!isfinite(v) || v == 0) return;
    char b[64];
    int w = format_raw(b, sizeof b, v, f);
    if (w > f->width) f->width = w;
}

static fmt choose_format(const mt_tensor *t, bool summarize)
{
    fmt f = { .int_mode = true, .width = 1, .all_int = true };
    visit_shown(t, 0, 0, summarize, gather_stats, &f);
    if (!f.any) return f;
    f.int_mode = f.all_int;
    if (f.amax / f.amin > 1000.0 || f.amax > 1e8 || (!f.int_mode && f.amin < 1e-4))
        f.sci_mode = true;
    visit_shown(t, 0, 0, summarize, gather_width, &f);
    return f;
}

static void print_value(sbuf *s, double v, const fmt *f)
{
    char b[64];
    int w = format_raw(b, sizeof b, v, f);
    sb_printf(s, "%*s%s", w < f->width ? f->width - w : 0, "", b);
}

static void print_dim(sbuf *s, const mt_tensor *t, const fmt *f, int dim, size_t offset,
                      int indent, bool summarize)
{
    int n = t->shape.dim[dim];
    size_t stride = 1;
    for (int i = dim + 1; i < t->shape.ndim; i++) stride *= (size_t)t->shape.dim[i];
    bool cut = summarize && n > 2 * EDGE;
    sb_printf(s, "[");
    if (dim == t->shape.ndim - 1) {
        /* "..." counts as one element when wrapping, as in PyTorch */
        int per_line = (80 - indent) / (f->width + 2);
        if (per_line < 1) per_line = 1;
        int shown = 0;
        for (int i = 0; i < n; i++) {
            if (shown > 0) sb_printf(s, shown % per_line ? ", " : ",\n%*s", indent + 1, "");
            if (cut && i == EDGE) {
                sb_printf(s, " ...");
                i = n - EDGE - 1;
            } else {
                print_value(s, t->data[offset + (size_t)i], f);
            }
            shown++;
        }
    } else {
        int newlines = t->shape.ndim - dim - 1;      /* 1 between rows, 2 between matrices... */
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                sb_printf(s, ",");
                for (int k = 0; k < newlines; k++) sb_printf(s, "\n");
                sb_printf(s, "%*s", indent + 1, "");
            }
            if (cut && i == EDGE) {
                sb_printf(s, "...");
                i = n - EDGE - 1;
                continue;
            }
            print_dim(s, t, f, dim + 1, offset + (size_t)i * stride, indent + 1, summarize);
        }
    }
    sb_printf(s, "]");
}

size_t mt_format(const mt_tensor *t, char *buf, size_t n)
{
    sbuf s = { buf, n, 0 };
    if (n) buf[0] = '\0';
    if (!t) {
        sb_printf(&s, "tensor(NULL: %s)", mt_last_error()[0] ? mt_last_error() : "no tensor");
        return s.len;
    }
    bool summarize = t->numel > 1000;
    fmt f = choose_format(t, summarize);
    sb_printf(&s, "tensor(");
    if (t->numel == 0) {
        sb_printf(&s, "[]");
        if (t->shape.ndim != 1) {                   /* as PyTorch: the shape, unless it is (0,) */
            char b[64];
            sb_printf(&s, ", size=%s", mt_shape_str(t->shape, b, sizeof b));
        }
    }
    else if (t->shape.ndim == 0) print_value(&s, t->data[0], &f);
    else print_dim(&s, t, &f, 0, 0, 7, summarize);
    if (t->grad_fn && t->grad_fn->op)
        sb_printf(&s, ", grad_fn=<%s>", t->grad_fn->op->backward_name);
    else if (t->requires_grad)
        sb_printf(&s, ", requires_grad=True");
    sb_printf(&s, ")");
    if (n && s.len >= n) buf[n - 1] = '\0';
    return s.len;
}

void mt_fprint(FILE *f, const mt_tensor *t)
{
    char small[1024];
    size_t len = mt_format(t, small, sizeof small);
    if (len < sizeof small) { fprintf(f, "%s\n", small); return; }
    char *big = malloc(len + 1);
    if (!big) { fprintf(f, "%s...\n", small); return; }
    mt_format(t, big, len + 1);
    fprintf(f, "%s\n", big);
    free(big);
}

void mt_print(const mt_tensor *t) { mt_fprint(stdout, t); }

/* ---- random tensors ---------------------------------------------------------------------- */

mt_tensor *mt_rand(mt_shape s, double lo, double hi, mt_rng *r)
{
    if (!r) r = mt_default_rng();
    mt_tensor *t = tensor_new("rand", s);
    if (t)
        for (size_t i = 0; i < t->numel; i++) t->data[i] = lo + (hi - lo) * mt_rng_uniform(r);
    return t;
}

mt_tensor *mt_randn(mt_shape s, double mean, double std, mt_rng *r)
{
    if (!r) r = mt_default_rng();
    mt_tensor *t = tensor_new("randn", s);
    if (t)
        for (size_t i = 0; i < t->numel; i++) t->data[i] = mean + std * mt_rng_normal(r);
    return t;
}
