/* tensor.c: making tensors, keeping their autograd invariants, and printing them the way
 * PyTorch 1.13 does, so a student can put the two outputs side by side. */
#include "mytorch/autograd.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static uint32_t next_tensor_id = 1;

size_t mt_shape_numel(mt_shape s)
{
    size_t n = 1;
    for (int i = 0; i < s.ndim; i++) n *= (size_t)s.dim[i];
    return n;
}

bool mt_shape_equal(mt_shape a, mt_shape b)
{
    if (a.ndim != b.ndim) return false;
    for (int i = 0; i < a.ndim; i++)
        if (a.dim[i] != b.dim[i]) return false;
    return true;
}

char *mt_shape_str(mt_shape s, char *buf, size_t n)
{
    size_t len = 0;
    if (n == 0) return buf;
    buf[0] = '\0';
    len += (size_t)snprintf(buf + len, n - len, "(");
    for (int i = 0; i < s.ndim && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, i ? ", %d" : "%d", s.dim[i]);
    if (len < n) snprintf(buf + len, n - len, s.ndim == 1 ? ",)" : ")");
    return buf;
}

/* ---- creation ------------------------------------------------------------------------- */

mt_tensor *mt_empty(mt_shape s)
{
    if (s.ndim < 0 || s.ndim > MT_MAX_DIMS) {
        mt_error("empty: %d dimensions (at most %d)", s.ndim, MT_MAX_DIMS);
        return NULL;
    }
    for (int i = 0; i < s.ndim; i++)
        if (s.dim[i] < 0) {
            char b[64];
            mt_error("empty: negative dimension in shape %s", mt_shape_str(s, b, sizeof b));
            return NULL;
        }
    mt_arena *a = mt_arena_current();
    mt_tensor *t = mt_arena_alloc(a, sizeof *t);
    memset(t, 0, sizeof *t);
    t->shape = s;
    for (int i = s.ndim; i < MT_MAX_DIMS; i++) t->shape.dim[i] = 0;
    t->numel = mt_shape_numel(s);
    t->data = mt_arena_alloc(a, t->numel * sizeof(double));
    t->is_leaf = true;
    t->arena = a;
    t->id = next_tensor_id++;
    return t;
}

mt_tensor *mt_full(mt_shape s, double value)
{
    mt_tensor *t = mt_empty(s);
    if (t) mt_fill(t, value);
    return t;
}

mt_tensor *mt_zeros(mt_shape s)
{
    mt_tensor *t = mt_empty(s);
    if (t) memset(t->data, 0, t->numel * sizeof(double));
    return t;
}

mt_tensor *mt_ones(mt_shape s) { return mt_full(s, 1.0); }
mt_tensor *mt_scalar(double value) { return mt_full(MT_SCALAR_SHAPE, value); }

mt_tensor *mt_from_data(mt_shape s, const double *data)
{
    mt_tensor *t = mt_empty(s);
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
        if (!on) mt_error("requires_grad: a non-leaf tensor's requires_grad cannot be turned off; use mt_detach");
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
 * PyTorch picks one format for all elements: integers print as "3.", otherwise 4 decimals
 * ("1.5000"), or scientific ("1.0000e-05") when the magnitudes span more than 1000x or leave
 * [1e-4, 1e8); every element is padded to the widest; rows wrap at 80 columns; tensors of
 * more than 1000 elements show the first and last three entries of each dimension. */

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

typedef struct fmt { int mode; int width; } fmt;   /* mode 0: int, 1: fixed, 2: sci */

static int format_value(char *out, size_t n, double v, int mode)
{
    if (isnan(v)) return snprintf(out, n, "nan");
    if (isinf(v)) return snprintf(out, n, v > 0 ? "inf" : "-inf");
    if (mode == 0) return snprintf(out, n, "%.0f.", v);
    if (mode == 1) return snprintf(out, n, "%.4f", v);
    return snprintf(out, n, "%.4e", v);
}

static fmt choose_format(const mt_tensor *t)
{
    fmt f = { 0, 1 };
    bool all_int = true, any = false;
    double amax = 0, amin = INFINITY;
    for (size_t i = 0; i < t->numel; i++) {
        double v = t->data[i];
        if (!isfinite(v)) continue;
        if (v != floor(v)) all_int = false;
        double a = fabs(v);
        if (a > 0) { any = true; if (a > amax) amax = a; if (a < amin) amin = a; }
    }
    if (all_int) f.mode = amax > 1e8 ? 2 : 0;
    else if (any && (amax / amin > 1000.0 || amax > 1e8 || amin < 1e-4)) f.mode = 2;
    else f.mode = 1;
    char b[64];
    for (size_t i = 0; i < t->numel; i++) {
        int w = format_value(b, sizeof b, t->data[i], f.mode);
        if (w > f.width) f.width = w;
    }
    return f;
}

static void print_dim(sbuf *s, const mt_tensor *t, fmt f, int dim, size_t offset, int indent,
                      bool summarize)
{
    if (t->shape.ndim == 0) {
        char b[64];
        format_value(b, sizeof b, t->data[0], f.mode);
        sb_printf(s, "%s", b);
        return;
    }
    int n = t->shape.dim[dim];
    size_t stride = 1;
    for (int i = dim + 1; i < t->shape.ndim; i++) stride *= (size_t)t->shape.dim[i];
    bool cut = summarize && n > 6;
    sb_printf(s, "[");
    if (dim == t->shape.ndim - 1) {
        int per_line = (80 - indent) / (f.width + 2);
        if (per_line < 1) per_line = 1;
        int col = 0;
        for (int i = 0; i < n; i++) {
            if (cut && i == 3) {
                sb_printf(s, " ...,");
                i = n - 4;
                continue;
            }
            if (col == per_line) { sb_printf(s, "\n%*s", indent + 1, ""); col = 0; }
            else if (i > 0) sb_printf(s, " ");
            char b[64];
            format_value(b, sizeof b, t->data[offset + (size_t)i], f.mode);
            sb_printf(s, "%*s%s", f.width, b, i == n - 1 ? "" : ",");
            col++;
        }
    } else {
        int blank = t->shape.ndim - dim - 2;    /* blank lines between sub-blocks, as PyTorch */
        for (int i = 0; i < n; i++) {
            if (cut && i == 3) {
                sb_printf(s, "\n%*s...,", indent + 1, "");
                i = n - 4;
                sb_printf(s, "\n%*s", indent + 1, "");
                continue;
            }
            if (i > 0) {
                sb_printf(s, "\n");
                for (int k = 0; k < blank; k++) sb_printf(s, "\n");
                sb_printf(s, "%*s", indent + 1, "");
            }
            print_dim(s, t, f, dim + 1, offset + (size_t)i * stride, indent + 1, summarize);
            if (i < n - 1) sb_printf(s, ",");
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
    fmt f = choose_format(t);
    sb_printf(&s, "tensor(");
    if (t->numel == 0) sb_printf(&s, "[]");
    else print_dim(&s, t, f, 0, 0, 7, t->numel > 1000);
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
    mt_tensor *t = mt_empty(s);
    if (t)
        for (size_t i = 0; i < t->numel; i++) t->data[i] = lo + (hi - lo) * mt_rng_uniform(r);
    return t;
}

mt_tensor *mt_randn(mt_shape s, double mean, double std, mt_rng *r)
{
    if (!r) r = mt_default_rng();
    mt_tensor *t = mt_empty(s);
    if (t)
        for (size_t i = 0; i < t->numel; i++) t->data[i] = mean + std * mt_rng_normal(r);
    return t;
}
