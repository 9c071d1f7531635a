/* main.c: the mytorch-gradcheck command. Parses the command line, picks the functions to check
 * from the default list (cases.c) and hands them to mt_gc_run (report.c), with the heatmap
 * writer (heatmap.c) that only this program links. Options are spelled out in full (no
 * abbreviations). Exit status: 0 every check passed, 1 some failed, 2 bad usage. */
#include "gradcheck.h"
#include "heatmap.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: mytorch-gradcheck [options]\n"
    "\n"
    "Checks the gradient of every op in the registry, at each of its shape cases, and of the\n"
    "modules (Linear, ReLU, BatchNorm1d, CrossEntropyLoss, log_softmax, a small MLP), comparing\n"
    "backward (engine DFS and TOPO, and each op's backward called directly) with central\n"
    "differences, element by element and for the whole Jacobian. Prints a row per case and\n"
    "'N passed, M failed'; a failure is explained below its row with the command that re-runs it\n"
    "and, for an op's case, the one that shows it in the viewer. Ops with a local derivative\n"
    "(local_grad) are also checked against it: backward = unbroadcast(grad_out * local_grad).\n"
    "Each op is checked with its own tolerances (its mt_op.tol, chosen from the measured error\n"
    "of its finite differences), modules with the defaults (atol 1e-6, rtol 1e-6).\n"
    "\n"
    "options:\n"
    "  --op PATTERN   only ops and modules whose name matches the glob (mul, 'nn.*', '*log*')\n"
    "  --case NAME    only cases with this name (a glob too: 'bcast_*')\n"
    "  --list         list the ops and cases (after --op and --case) and exit\n"
    "  --seed N       seed of the inputs and of R (default 0)\n"
    "  --eps X        finite-difference step h, in [1e-12, 0.1] (default 1e-6)\n"
    "  --atol X       absolute tolerance for every case, in [0, 1] (default: each op's own)\n"
    "  --rtol X       relative tolerance for every case, in [0, 1] (default: each op's own):\n"
    "                 pass when |a - n| <= atol + rtol |n|\n"
    "  --pytorch-tolerances\n"
    "                 torch.autograd.gradcheck's atol 1e-5 and rtol 1e-3 for every case, for\n"
    "                 comparison (--atol and --rtol still replace either)\n"
    "  --no-local-grad\n"
    "                 leave out the check of backward against local_grad (to see what the\n"
    "                 finite differences catch on their own)\n"
    "  --measure-error\n"
    "                 measure the finite-difference error of each case over --seeds seeds and\n"
    "                 the margin of each op's tolerance, instead of the pass/fail run\n"
    "  --seeds N      with --measure-error: how many seeds, from --seed on (default 100)\n"
    "  --json         one JSON object per case per line on stdout ('N passed, M failed' on "
    "stderr)\n"
    "  --verbose      print each case's tolerance and margin, each op's margin, and the\n"
    "                 numerical and analytical Jacobians side by side for small cases\n"
    "  --heatmap DIR  write DIR/<op>--<case>.png: the Jacobians and their difference as heatmaps\n"
    "  --help         this text\n"
    "\n"
    "exit status: 0 all passed (a KINK counts as passed), 1 some failed, 2 bad usage\n";

static int bad_usage(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mytorch-gradcheck: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(mytorch-gradcheck --help shows the options)\n");
    va_end(ap);
    return 2;
}

static bool parse_double(const char *s, double *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v)) return false;
    *out = v;
    return true;
}

/* A tolerance flag's value: a number the flag accepts (mt_gc_option_accepts). 0, or 2 after
 * saying what is wrong, naming the flag and the range it accepts. */
static int parse_option(const char *flag, const char *val, double *out)
{
    double v;
    if (!parse_double(val, &v))
        return bad_usage("%s: '%s' is not a finite number (%s accepts %s)", flag, val, flag,
                         mt_gc_option_accepts(flag, NAN));
    const char *range = mt_gc_option_accepts(flag, v);
    if (range) return bad_usage("%s: '%s' is outside the accepted range %s", flag, val, range);
    *out = v;
    return 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return false;    /* no sign, no space */
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno == ERANGE) return false;
    *out = (uint64_t)v;
    return true;
}

static void print_list(const mt_gc_func *fs, int n, FILE *out)
{
    for (int i = 0; i < n; i++) {
        fprintf(out, "%-26s %-22s", fs[i].name, fs[i].case_name);
        for (int k = 0; k < fs[i].nin; k++) {
            char s[64];
            fprintf(out, " %s%s%s", fs[i].in_name[k], mt_shape_str(fs[i].shape[k], s, sizeof s),
                    fs[i].domain[k].labels ? "[labels]" : "");
        }
        fputc('\n', out);
    }
}

int main(int argc, char **argv)
{
    mt_gc_options o;
    mt_gc_options_init(&o);
    const char *op_pattern = NULL, *case_pattern = NULL;
    bool list = false, measure = false, pytorch = false, seeds_given = false;
    double atol = MT_GC_TOL_OWN, rtol = MT_GC_TOL_OWN;
    uint64_t seeds = 100;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        char flag[32];
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq && (size_t)(eq - a) < sizeof flag) {   /* --op=mul */
            memcpy(flag, a, (size_t)(eq - a));
            flag[eq - a] = '\0';
            a = flag;
            val = eq + 1;
        }
        bool takes = !strcmp(a, "--op") || !strcmp(a, "--case") || !strcmp(a, "--seed") ||
                     !strcmp(a, "--eps") || !strcmp(a, "--atol") || !strcmp(a, "--rtol") ||
                     !strcmp(a, "--heatmap") || !strcmp(a, "--seeds");
        if (takes && !val) {
            if (i + 1 >= argc) return bad_usage("%s needs a value", a);
            val = argv[++i];
        } else if (!takes && val) {
            return bad_usage("%s takes no value", a);
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage, stdout); return 0; }
        else if (!strcmp(a, "--list")) list = true;
        else if (!strcmp(a, "--json")) o.json = true;
        else if (!strcmp(a, "--verbose")) o.verbose = true;
        else if (!strcmp(a, "--pytorch-tolerances")) pytorch = true;
        else if (!strcmp(a, "--measure-error")) measure = true;
        else if (!strcmp(a, "--no-local-grad")) o.skip_local = true;
        else if (!strcmp(a, "--seeds")) {
            if (!parse_u64(val, &seeds) || seeds < 1 || seeds > 100000)
                return bad_usage("--seeds: '%s' is not a whole number from 1 to 100000", val);
            seeds_given = true;
        }
        else if (!strcmp(a, "--op")) op_pattern = val;
        else if (!strcmp(a, "--case")) case_pattern = val;
        else if (!strcmp(a, "--heatmap")) {
            if (!*val) return bad_usage("--heatmap needs a directory");
            o.heatmap_dir = val;
        } else if (!strcmp(a, "--seed")) {
            if (!parse_u64(val, &o.seed))
                return bad_usage("--seed: '%s' is not a non-negative integer", val);
        } else if (!strcmp(a, "--eps")) {
            if (parse_option(a, val, &o.eps)) return 2;
        } else if (!strcmp(a, "--atol")) {
            if (parse_option(a, val, &atol)) return 2;
        } else if (!strcmp(a, "--rtol")) {
            if (parse_option(a, val, &rtol)) return 2;
        } else {
            return bad_usage("unknown option '%s'", argv[i]);
        }
    }
    if (seeds_given && !measure) return bad_usage("--seeds goes with --measure-error");
    if (pytorch) {
        o.atol = MT_GC_PYTORCH_ATOL;
        o.rtol = MT_GC_PYTORCH_RTOL;
    }
    if (atol != MT_GC_TOL_OWN) o.atol = atol;
    if (rtol != MT_GC_TOL_OWN) o.rtol = rtol;
    if (argv[0] && *argv[0]) o.program = argv[0];   /* the re-run hint names us as we were run */
    o.heatmap = mt_gc_heatmap_write;

    mt_gc_func *all = NULL;
    int n = mt_gc_cases_default(&all);
    if (n < 0) {
        fprintf(stderr, "mytorch-gradcheck: could not build the list of cases\n");
        mt_shutdown();
        return 1;
    }
    /* select: keep the matching ones at the front, release the rest */
    int kept = 0, op_matches = 0;
    for (int i = 0; i < n; i++) {
        bool op_ok = !op_pattern || fnmatch(op_pattern, all[i].name, 0) == 0;
        op_matches += op_ok;
        bool ok = op_ok && (!case_pattern || fnmatch(case_pattern, all[i].case_name, 0) == 0);
        if (ok) {
            mt_gc_func tmp = all[kept];
            all[kept++] = all[i];
            all[i] = tmp;
        }
    }
    int rc = 0;
    if (op_pattern && op_matches == 0) {
        rc = bad_usage("no op or module matches --op '%s' (--list shows them all)", op_pattern);
    } else if (kept == 0) {
        fprintf(stderr, "mytorch-gradcheck: no case named '%s'%s%s%s (--list shows them all)\n",
                case_pattern ? case_pattern : "", op_pattern ? " for --op '" : "",
                op_pattern ? op_pattern : "", op_pattern ? "'" : "");
        rc = 2;
    } else if (list) {
        print_list(all, kept, stdout);
    } else if (measure) {
        rc = mt_gc_measure(all, kept, &o, (int)seeds, stdout) ? 1 : 0;
    } else {
        rc = mt_gc_run(all, kept, &o, stdout) ? 1 : 0;
    }
    mt_gc_cases_free(all, n);
    if (o.heatmap_dir) mt_gc_heatmap_shutdown();
    mt_shutdown();
    return rc;
}
