/* measure.c: how large the finite-difference error of a correct op is, over many seeds
 * (mytorch-gradcheck --measure-error --seeds N). Tolerances are chosen from it: an op's
 * mt_op.tol holds an atol of at least MT_GC_MEASURE_MARGIN times the largest error measured
 * over its cases, so a check fails only on an error that many times larger than the noise of
 * the differences themselves. */
#include "gradcheck_impl.h"

#include <stdlib.h>
#include <string.h>

/* The smallest of 1, 2, 5 times a power of ten that is >= x (x > 0). */
static double round_up_125(double x)
{
    if (!(x > 0) || !isfinite(x)) return x;
    double p = pow(10.0, floor(log10(x)));
    const double steps[] = { 1, 2, 5, 10 };
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++)
        if (steps[k] * p >= x * (1 - 1e-12)) return steps[k] * p;
    return 10 * p;
}

static char *margin_text(double m, char *buf, size_t n)
{
    if (isinf(m)) snprintf(buf, n, "inf");
    else if (m >= 100 && m < 1e7) snprintf(buf, n, "%.0fx", m);
    else snprintf(buf, n, "%.3gx", m);
    return buf;
}

/* What the seeds gave for one function, and for one op over its functions. */
typedef struct tally {
    double error, margin, atol, rtol, seconds;
    int    failed;
} tally;

static void tally_init(tally *t)
{
    memset(t, 0, sizeof *t);
    t->margin = INFINITY;
}

static void tally_add(tally *t, const tally *u)
{
    if (u->error > t->error || isnan(u->error)) t->error = u->error;
    if (u->margin < t->margin) t->margin = u->margin;
    if (u->atol > t->atol) t->atol = u->atol;
    if (u->rtol > t->rtol) t->rtol = u->rtol;
    t->seconds += u->seconds;
    t->failed += u->failed;
}

int mt_gc_measure(const mt_gc_func *fs, int n, const mt_gc_options *o_in, int seeds, FILE *out)
{
    mt_gc_options o;
    if (o_in) o = *o_in; else mt_gc_options_init(&o);
    o.keep_jacobians = false;
    uint64_t seed0 = o.seed;
    int failed_functions = 0;
    fprintf(out, "finite-difference error (max |analytical - numerical|, kinks left out) over "
            "%d seed%s from %llu, h = %g\n\n", seeds, seeds == 1 ? "" : "s",
            (unsigned long long)seed0, o.eps);
    fprintf(out, "%-26s  %-22s  %9s  %9s  %9s  %9s  %s\n", "op", "case", "error", "atol",
            "rtol", "margin", "failed");
    tally *ops = calloc((size_t)(n > 0 ? n : 1), sizeof *ops);
    const char **names = calloc((size_t)(n > 0 ? n : 1), sizeof *names);
    int nops = 0;
    if (!ops || !names) {
        free(ops);
        free(names);
        fprintf(out, "out of memory\n");
        return n;
    }
    for (int k = 0; k < n; k++) {
        tally t;
        tally_init(&t);
        for (int s = 0; s < seeds; s++) {
            mt_gc_result r;
            o.seed = seed0 + (uint64_t)s;
            tally u = { .margin = INFINITY };
            u.failed = mt_gc_check(&fs[k], &o, &r) == MT_GC_FAIL;
            u.error = r.error;
            u.margin = r.margin;
            u.atol = r.atol;
            u.rtol = r.rtol;
            u.seconds = r.seconds;
            tally_add(&t, &u);
            mt_gc_result_free(&r);
        }
        char m[32];
        fprintf(out, "%-26s  %-22s  %9.2e  %9.2e  %9.2e  %9s  %d\n", fs[k].name, fs[k].case_name,
                t.error, t.atol, t.rtol, margin_text(t.margin, m, sizeof m), t.failed);
        failed_functions += t.failed > 0;
        if (nops == 0 || strcmp(names[nops - 1], fs[k].name) != 0) {
            names[nops] = fs[k].name;
            tally_init(&ops[nops++]);
        }
        tally_add(&ops[nops - 1], &t);
        fflush(out);
    }
    fprintf(out, "\nper op: the largest error over its cases, its tolerance, the margin that "
            "gives, and the atol that a margin of %gx needs (rounded up to 1, 2 or 5 times a "
            "power of ten, at least %g)\n", MT_GC_MEASURE_MARGIN, MT_GC_ATOL_FLOOR);
    fprintf(out, "%-26s  %9s  %9s  %9s  %9s  %9s  %s\n", "op", "error", "atol", "rtol", "margin",
            "atol", "seconds/seed");
    for (int k = 0; k < nops; k++) {
        char m[32];
        fprintf(out, "%-26s  %9.2e  %9.2e  %9.2e  %9s  %9.0e  %.2f ms\n", names[k], ops[k].error,
                ops[k].atol, ops[k].rtol, margin_text(ops[k].margin, m, sizeof m),
                fmax(MT_GC_ATOL_FLOOR, round_up_125(MT_GC_MEASURE_MARGIN * ops[k].error)),
                seeds ? 1e3 * ops[k].seconds / seeds : 0.0);
    }
    fprintf(out, "%d of %d functions failed at some seed\n", failed_functions, n);
    free(ops);
    free(names);
    return failed_functions;
}
