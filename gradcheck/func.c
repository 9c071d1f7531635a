/* func.c: the function under test (gradcheck.h): an op case, the same op with one tensor in
 * every slot (a tied case), or a graph a callback builds; its inputs with their names, shapes
 * and domains; and how it is evaluated, through the engine or with the op called directly. */
#include "gradcheck_impl.h"

#include <stdlib.h>
#include <string.h>

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, MT_GC_NAME_MAX, "%s", src ? src : "");
}

static void func_clear(mt_gc_func *f)
{
    memset(f, 0, sizeof *f);
    for (int k = 0; k < MT_MAX_INPUTS; k++) f->use[k] = k;
}

void mt_gc_func_op(mt_gc_func *f, const mt_op *op, const mt_case *c)
{
    func_clear(f);
    f->op = op;
    copy_name(f->name, op && op->name ? op->name : "(unnamed op)");
    copy_name(f->case_name, c ? (c->name ? c->name : "(unnamed case)") : "(none)");
    if (!op) { f->defect = "no op"; return; }
    if (op->arity < 1 || op->arity > MT_MAX_INPUTS) {
        f->defect = "the op's arity is not between 1 and MT_MAX_INPUTS";
        return;
    }
    f->nin = op->arity;
    f->tol = op->tol;
    for (int k = 0; k < op->arity; k++) {
        snprintf(f->in_name[k], MT_GC_NAME_MAX, "%c", 'a' + k);
        f->domain[k] = c && c->domain ? c->domain[k] : op->domain[k];
        if (c) f->shape[k] = c->in[k];
    }
    if (!op->forward || !op->backward) {
        f->defect = "the op has no forward or no backward";
        return;
    }
    if (!c) {
        f->defect = "the op has no gradcheck cases: give its mt_op at least one mt_case";
        return;
    }
    f->args = c->args;
}

void mt_gc_func_op_tied(mt_gc_func *f, const mt_op *op, const mt_case *c)
{
    mt_gc_func_op(f, op, c);
    if (f->defect) return;
    snprintf(f->case_name, MT_GC_NAME_MAX, "tied_%.*s", MT_GC_NAME_MAX - 6, c->name ? c->name : "");
    mt_domain d = f->domain[0];
    for (int k = 0; k < op->arity; k++) {
        mt_domain e = f->domain[k];          /* the case's, or the op's */
        if (!mt_shape_equal(c->in[k], c->in[0])) {
            f->defect = "a tied case needs every input of the same shape";
            return;
        }
        if (e.labels) { f->defect = "a tied case cannot use a labels input"; return; }
        if (e.lo > d.lo) d.lo = e.lo;
        if (e.hi < d.hi) d.hi = e.hi;
        if (e.min_abs > d.min_abs) d.min_abs = e.min_abs;
        f->use[k] = 0;
    }
    if (!(d.lo < d.hi) || (d.hi <= d.min_abs && d.lo >= -d.min_abs)) {
        f->defect = "the op's input domains have no common point for a tied case";
        return;
    }
    f->nin = 1;
    copy_name(f->in_name[0], "x");
    f->domain[0] = d;
}

void mt_gc_func_graph(mt_gc_func *f, const char *name, const char *case_name,
                      mt_gc_forward_fn forward, void *self, void (*release)(void *self))
{
    func_clear(f);
    copy_name(f->name, name);
    copy_name(f->case_name, case_name);
    f->forward = forward;
    f->self = self;
    f->release = release;
    if (!forward) f->defect = "no forward function";
}

int mt_gc_func_add_input(mt_gc_func *f, const char *name, mt_shape shape, mt_domain domain,
                      mt_tensor *bound)
{
    if (f->nin >= MT_GC_MAX_INPUTS) return -1;
    int i = f->nin++;
    copy_name(f->in_name[i], name);
    f->shape[i] = shape;
    f->domain[i] = domain;
    f->bound[i] = bound;
    return i;
}

void mt_gc_func_release(mt_gc_func *f)
{
    if (f && f->release && f->self) f->release(f->self);
    if (f) { f->self = NULL; f->release = NULL; }
}

/* ---- evaluating f ---------------------------------------------------------------------------- */

void gc_load_inputs(const mt_gc_func *f, double *const *x, const bool *diff, mt_tensor **in,
                    bool requires_grad)
{
    for (int i = 0; i < f->nin; i++) {
        if (f->bound[i]) {
            memcpy(f->bound[i]->data, x[i], f->bound[i]->numel * sizeof(double));
            in[i] = f->bound[i];
        } else {
            in[i] = mt_from_data(f->shape[i], x[i]);
            if (requires_grad && diff[i]) mt_requires_grad(in[i], true);
        }
    }
}

mt_tensor *gc_forward(const mt_gc_func *f, mt_tensor *const *in, mt_ctx *ctx, bool engine)
{
    if (!f->op) return f->forward(f->self, in);
    mt_tensor *opin[MT_MAX_INPUTS] = { 0 };
    for (int k = 0; k < f->op->arity; k++) opin[k] = in[f->use[k]];
    if (engine) return mt_apply(f->op, opin, &f->args);
    memset(ctx, 0, sizeof *ctx);
    ctx->nin = f->op->arity;
    for (int k = 0; k < f->op->arity; k++) ctx->in_shape[k] = opin[k]->shape;
    return f->op->forward(ctx, opin, &f->args);
}
