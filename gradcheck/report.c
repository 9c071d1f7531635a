/* report.c: the output of a run (mt_gc_run in gradcheck.h): a row per function with the details
 * of each failure, the command that re-runs it and the one that shows it in the viewer, or a
 * JSON object per line (written with cJSON, the one file of the checker that sees it), the
 * tolerances, margins and Jacobians with --verbose, a heatmap per function through the drawing
 * callback the caller gives, and the closing line. */
#include "gradcheck_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- positions and shapes as text ------------------------------------------------------------ */

char *gc_where_str(const char *name, mt_shape s, size_t flat, char *buf, size_t n)
{
    int idx[MT_MAX_DIMS];
    for (int d = s.ndim - 1; d >= 0; d--) {
        idx[d] = s.dim[d] > 0 ? (int)(flat % (size_t)s.dim[d]) : 0;
        flat /= s.dim[d] > 0 ? (size_t)s.dim[d] : 1;
    }
    size_t len = (size_t)snprintf(buf, n, "%s[", name);
    for (int d = 0; d < s.ndim && len < n; d++)
        len += (size_t)snprintf(buf + len, n - len, d ? ",%d" : "%d", idx[d]);
    if (len < n) snprintf(buf + len, n - len, "]");
    return buf;
}

char *gc_shape_compact(mt_shape s, char *buf, size_t n)
{
    if (s.ndim == 0) { snprintf(buf, n, "()"); return buf; }
    size_t len = 0;
    buf[0] = '\0';
    for (int d = 0; d < s.ndim && len < n; d++)
        len += (size_t)snprintf(buf + len, n - len, d ? "x%d" : "%d", s.dim[d]);
    return buf;
}

/* The shapes of f's inputs, "3x4 4", "-" when it has none. */
static void inputs_str(const mt_gc_func *f, char *buf, size_t n)
{
    size_t len = 0;
    snprintf(buf, n, "-");
    for (int i = 0; i < f->nin && len < n; i++) {
        char s[64];
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? " " : "",
                                gc_shape_compact(f->shape[i], s, sizeof s));
    }
}

/* ---- text that grows: commands and paths are never cut short --------------------------------- */

typedef struct text {
    char  *s;
    size_t len, cap;
    bool   oom;
} text;

static void text_addf(text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void text_addf(text *t, const char *fmt, ...)
{
    if (t->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) { t->oom = true; return; }
    if (t->len + (size_t)need + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 64;
        while (cap < t->len + (size_t)need + 1) cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) { t->oom = true; return; }
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)need;
}

/* Appends s in single quotes for a shell: each ' inside becomes '\''. */
static void text_add_quoted(text *t, const char *s)
{
    text_addf(t, "'");
    for (const char *q; (q = strchr(s, '\'')); s = q + 1)
        text_addf(t, "%.*s'\\''", (int)(q - s), s);
    text_addf(t, "%s'", s);
}

/* Appends a program name as is when a shell reads it as one word, quoted otherwise. */
static void text_add_word(text *t, const char *s)
{
    bool plain = *s != '\0';
    for (const char *p = s; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("/._+-,:@%", *p) != NULL;
    if (plain) text_addf(t, "%s", s);
    else text_add_quoted(t, s);
}

/* The text built, owned by the caller; NULL (and nothing to free) when memory ran out. */
static char *text_take(text *t)
{
    if (t->oom || !t->s) { free(t->s); return NULL; }
    return t->s;
}

/* Copies s into buf when it fits (returning buf), else leaves "" there and returns NULL; frees
 * s. */
static char *copy_out(char *s, char *buf, size_t n)
{
    char *rc = NULL;
    if (n) buf[0] = '\0';
    if (s && strlen(s) < n) { memcpy(buf, s, strlen(s) + 1); rc = buf; }
    free(s);
    return rc;
}

/* ---- the re-run command and the heatmap's file ----------------------------------------------- */

char *mt_gc_rerun_command_new(const mt_gc_func *f, const mt_gc_options *o)
{
    text t = { 0 };
    text_add_word(&t, o->program && *o->program ? o->program : MT_GC_PROGRAM);
    text_addf(&t, " --op ");
    text_add_quoted(&t, f->name);
    text_addf(&t, " --case ");
    text_add_quoted(&t, f->case_name);
    text_addf(&t, " --seed %llu", (unsigned long long)o->seed);
    if (o->eps != MT_GC_DEFAULT_EPS) text_addf(&t, " --eps %.17g", o->eps);
    if (o->atol == MT_GC_PYTORCH_ATOL && o->rtol == MT_GC_PYTORCH_RTOL) {
        text_addf(&t, " --pytorch-tolerances");
    } else {
        if (o->atol != MT_GC_TOL_OWN) text_addf(&t, " --atol %.17g", o->atol);
        if (o->rtol != MT_GC_TOL_OWN) text_addf(&t, " --rtol %.17g", o->rtol);
    }
    if (o->skip_local) text_addf(&t, " --no-local-grad");
    return text_take(&t);
}

/* Whether f is a case of a registered op exactly as the op declares it: its own case, each
 * input in its own slot (the viewer replays those, by op and case name). */
static bool declared_op_case(const mt_gc_func *f)
{
    if (!f->op || !mt_op_registered(f->op) || f->nin != f->op->arity) return false;
    for (int k = 0; k < f->op->arity; k++) if (f->use[k] != k) return false;
    for (int k = 0; k < f->op->ncases; k++)
        if (f->op->cases[k].name && strcmp(f->op->cases[k].name, f->case_name) == 0) return true;
    return false;
}

char *mt_gc_watch_command_new(const mt_gc_func *f, const mt_gc_options *o)
{
    if (!declared_op_case(f)) return NULL;
    const char *prog = o->program && *o->program ? o->program : MT_GC_PROGRAM;
    const char *slash = strrchr(prog, '/');
    text t = { 0 }, dir = { 0 };
    if (slash) text_addf(&dir, "%.*s", (int)(slash - prog + 1), prog);   /* the same bin/ */
    text_addf(&dir, "mytorch-viewer");
    if (dir.oom) { free(dir.s); return NULL; }
    text_add_word(&t, dir.s);
    free(dir.s);
    text_addf(&t, " --op ");
    text_add_word(&t, f->name);
    text_addf(&t, " --case ");
    text_add_word(&t, f->case_name);
    return text_take(&t);
}

char *mt_gc_rerun_command(const mt_gc_func *f, const mt_gc_options *o, char *buf, size_t n)
{
    return copy_out(mt_gc_rerun_command_new(f, o), buf, n);
}

char *mt_gc_heatmap_path_new(const char *dir, const mt_gc_func *f)
{
    char name[2 * MT_GC_NAME_MAX + 4];            /* both names fit: each is < MT_GC_NAME_MAX */
    snprintf(name, sizeof name, "%s--%s", f->name, f->case_name);
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            *p = '_';
    text t = { 0 };
    text_addf(&t, "%s/%s.png", dir, name);
    return text_take(&t);
}

char *mt_gc_heatmap_path(const char *dir, const mt_gc_func *f, char *buf, size_t n)
{
    return copy_out(mt_gc_heatmap_path_new(dir, f), buf, n);
}

/* ---- JSON lines ------------------------------------------------------------------------------ */

static const struct { unsigned bit; const char *name; } diag_names[] = {
    { MT_GC_DIAG_FORWARD, "forward" },       { MT_GC_DIAG_SHAPE, "shape" },
    { MT_GC_DIAG_ZERO, "zero" },             { MT_GC_DIAG_SIGN, "sign" },
    { MT_GC_DIAG_FACTOR, "factor" },         { MT_GC_DIAG_TRANSPOSED, "transposed" },
    { MT_GC_DIAG_BROADCAST, "broadcast" },   { MT_GC_DIAG_TERM, "forgotten_term" },
    { MT_GC_DIAG_OVERWRITE, "overwrite" },   { MT_GC_DIAG_SCALE, "scale" },
    { MT_GC_DIAG_TRAVERSAL, "traversal" },   { MT_GC_DIAG_ENGINE, "engine" },
    { MT_GC_DIAG_NO_CASES, "unchecked" },    { MT_GC_DIAG_JACOBIAN, "jacobian" },
    { MT_GC_DIAG_LOCAL, "local_grad" },      { MT_GC_DIAG_OFFSET, "offset" },
    { MT_GC_DIAG_RANGE, "input_range" },     { MT_GC_DIAG_LABELS, "labels" },
};

/* Adds v under key: the shortest decimal form that reads back as exactly v (cJSON's own
 * printing may drop the last bit), or null when v is NaN or infinite, which JSON cannot hold. */
static bool json_add_real(cJSON *obj, const char *key, double v)
{
    if (!isfinite(v)) return cJSON_AddNullToObject(obj, key) != NULL;
    char s[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(s, sizeof s, "%.*g", digits, v);
        if (strtod(s, NULL) == v) break;
    }
    return cJSON_AddRawToObject(obj, key, s) != NULL;
}

/* Appends item to array; false (item released) when either is NULL. */
static bool json_append(cJSON *array, cJSON *item)
{
    if (array && item && cJSON_AddItemToArray(array, item)) return true;
    cJSON_Delete(item);
    return false;
}

/* The object of one checked function: what it is, the errors, the status and diagnoses, the
 * worst element, the details and the re-run command. NULL when out of memory. */
static cJSON *result_json(const mt_gc_func *f, const mt_gc_result *r, const mt_gc_options *o)
{
    cJSON *j = cJSON_CreateObject();
    bool ok = j && cJSON_AddStringToObject(j, "op", f->name) &&
              cJSON_AddStringToObject(j, "case", f->case_name);
    cJSON *inputs = ok ? cJSON_AddArrayToObject(j, "inputs") : NULL;
    ok = inputs != NULL;
    for (int i = 0; i < f->nin && ok; i++) {
        cJSON *in = cJSON_CreateObject();
        ok = json_append(inputs, in) && cJSON_AddStringToObject(in, "name", f->in_name[i]);
        cJSON *shape = ok ? cJSON_AddArrayToObject(in, "shape") : NULL;
        ok = shape != NULL;
        for (int d = 0; d < f->shape[i].ndim && ok; d++)
            ok = json_append(shape, cJSON_CreateNumber(f->shape[i].dim[d]));
        ok = ok && cJSON_AddBoolToObject(in, "labels", f->domain[i].labels);
    }
    ok = ok && cJSON_AddNumberToObject(j, "elements", (double)r->elements) &&
         json_add_real(j, "max_abs_err", r->max_abs_err) &&
         json_add_real(j, "max_rel_err", r->max_rel_err) &&
         json_add_real(j, "jacobian_max_abs_err", r->jac_max_abs_err) &&
         json_add_real(j, "atol", r->atol) && json_add_real(j, "rtol", r->rtol) &&
         json_add_real(j, "margin", r->margin) &&
         json_add_real(j, "seconds", r->seconds) &&
         cJSON_AddStringToObject(j, "status", mt_gc_status_name(r->status)) &&
         cJSON_AddNumberToObject(j, "redraws", r->redraws);
    cJSON *diags = ok ? cJSON_AddArrayToObject(j, "diagnoses") : NULL;
    ok = diags != NULL;
    for (size_t k = 0; k < sizeof diag_names / sizeof diag_names[0] && ok; k++)
        if (r->diagnoses & diag_names[k].bit)
            ok = json_append(diags, cJSON_CreateString(diag_names[k].name));
    if (ok && (r->diagnoses & MT_GC_DIAG_FACTOR)) ok = json_add_real(j, "factor", r->factor);
    if (ok && r->where[0])
        ok = cJSON_AddStringToObject(j, "where", r->where) &&
             cJSON_AddStringToObject(j, "path", r->path) &&
             json_add_real(j, "numerical", r->numerical) &&
             json_add_real(j, "analytical", r->analytical);
    if (ok && r->text[0]) {
        char detail[MT_GC_TEXT_MAX];                  /* the text without its last newline */
        snprintf(detail, sizeof detail, "%s", r->text);
        size_t len = strlen(detail);
        if (len && detail[len - 1] == '\n') detail[len - 1] = '\0';
        ok = cJSON_AddStringToObject(j, "detail", detail) != NULL;
    }
    if (ok && r->status == MT_GC_FAIL) {
        char *cmd = mt_gc_rerun_command_new(f, o);
        ok = cmd && cJSON_AddStringToObject(j, "rerun", cmd);
        free(cmd);
        char *watch = ok ? mt_gc_watch_command_new(f, o) : NULL;
        if (watch) ok = cJSON_AddStringToObject(j, "watch", watch) != NULL;
        free(watch);
    }
    if (!ok) { cJSON_Delete(j); return NULL; }
    return j;
}

/* Prints r as one JSON line. 0, or -1 when out of memory (nothing printed). */
static int print_json(FILE *out, const mt_gc_func *f, const mt_gc_result *r, const mt_gc_options *o)
{
    cJSON *j = result_json(f, r, o);
    char *line = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!line) return -1;
    fputs(line, out);
    fputc('\n', out);
    cJSON_free(line);
    return 0;
}

/* ---- rows ------------------------------------------------------------------------------------ */

/* Numerical and analytical Jacobians side by side, per input, for small ones. */
static void print_jacobians(FILE *out, const mt_gc_func *f, const mt_gc_result *r)
{
    const mt_gc_jacobian *J = &r->jac;
    if (!J->numerical) { fprintf(out, "    (no Jacobian kept: too large)\n"); return; }
    for (int i = 0; i < f->nin; i++) {
        if (J->col0[i] < 0) continue;
        size_t n = mt_shape_numel(f->shape[i]);
        if (J->nout > 24 || n > 8) {
            fprintf(out, "    d out / d %s: %zu x %zu, too large to print here (try --heatmap)\n",
                    f->in_name[i], J->nout, n);
            continue;
        }
        char w[128];
        fprintf(out, "    d out / d %s: numerical | analytical (* marks a failing entry)\n",
                f->in_name[i]);
        fprintf(out, "    %-12s", "");
        for (size_t j = 0; j < n; j++)
            fprintf(out, "%11s", gc_where_str(f->in_name[i], f->shape[i], j, w, sizeof w));
        fprintf(out, "   |");
        for (size_t j = 0; j < n; j++)
            fprintf(out, "%11s", gc_where_str(f->in_name[i], f->shape[i], j, w, sizeof w));
        fputc('\n', out);
        for (size_t k = 0; k < J->nout; k++) {
            fprintf(out, "    %-12s", gc_where_str("out", J->out_shape, k, w, sizeof w));
            for (size_t j = 0; j < n; j++)
                fprintf(out, " %10.4g", J->numerical[k * J->ncols + (size_t)J->col0[i] + j]);
            fprintf(out, "   |");
            for (size_t j = 0; j < n; j++) {
                size_t e = k * J->ncols + (size_t)J->col0[i] + j;
                fprintf(out, " %9.4g%c", J->analytical[e], J->bad[e] ? '*' : ' ');
            }
            fputc('\n', out);
        }
    }
}

/* "1234x", "0.5x", "8.7e+09x", or "inf" when every error was 0. */
static char *margin_str(double m, char *buf, size_t n)
{
    if (isinf(m)) snprintf(buf, n, "inf (no error at all)");
    else if (m >= 100 && m < 1e7) snprintf(buf, n, "%.0fx", m);
    else snprintf(buf, n, "%.3gx", m);
    return buf;
}

/* The tolerances f was checked with, whose they are, and the margin of its worst error. */
static void print_tolerance(FILE *out, const mt_gc_func *f, const mt_gc_result *r,
                            const mt_gc_options *o)
{
    const char *whose = o->atol == MT_GC_PYTORCH_ATOL && o->rtol == MT_GC_PYTORCH_RTOL
                      ? "PyTorch's"
                      : o->atol != MT_GC_TOL_OWN || o->rtol != MT_GC_TOL_OWN ? "given"
                      : f->tol.atol > 0 || f->tol.rtol > 0 ? "the op's own" : "the default";
    char m[48];
    fprintf(out, "    tolerance: atol %.3g, rtol %.3g (%s); largest error %.3g, margin %s\n",
            r->atol, r->rtol, whose, r->error, margin_str(r->margin, m, sizeof m));
}

/* The widths of the columns op, case and inputs (at most 40) over fs. */
typedef struct widths { int name, case_name, inputs; } widths;

static widths column_widths(const mt_gc_func *fs, int n)
{
    widths w = { 2, 4, 6 };
    for (int k = 0; k < n; k++) {
        char s[256];
        inputs_str(&fs[k], s, sizeof s);
        if ((int)strlen(fs[k].name) > w.name) w.name = (int)strlen(fs[k].name);
        if ((int)strlen(fs[k].case_name) > w.case_name) w.case_name = (int)strlen(fs[k].case_name);
        if ((int)strlen(s) > w.inputs) w.inputs = (int)strlen(s);
    }
    if (w.inputs > 40) w.inputs = 40;
    return w;
}

/* f's row, then each line of what went wrong, the re-run command, and with verbose the
 * redraws and the Jacobians. */
static void print_row(FILE *out, widths w, const mt_gc_func *f, const mt_gc_result *r,
                      const mt_gc_options *o)
{
    char s[256];
    inputs_str(f, s, sizeof s);
    fprintf(out, "%-*s  %-*s  %-*s  %8zu  %9.2e  %9.2e  %6.2f ms  %s\n", w.name, f->name,
            w.case_name, f->case_name, w.inputs, s, r->elements, r->max_abs_err, r->max_rel_err,
            1e3 * r->seconds, mt_gc_status_name(r->status));
    for (const char *line = r->text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        fprintf(out, "    %.*s\n", (int)len, line);
        line += len + (end ? 1 : 0);
    }
    if (r->status == MT_GC_FAIL) {
        char *cmd = mt_gc_rerun_command_new(f, o);
        fprintf(out, "    rerun: %s\n", cmd ? cmd : "(out of memory)");
        free(cmd);
        char *watch = mt_gc_watch_command_new(f, o);
        if (watch) fprintf(out, "    watch: %s\n", watch);
        free(watch);
    }
    if (o->verbose) print_tolerance(out, f, r, o);
    if (o->verbose && r->redraws)
        fprintf(out, "    (inputs redrawn %d time%s to move them off a kink)\n", r->redraws,
                r->redraws > 1 ? "s" : "");
    if (o->verbose) print_jacobians(out, f, r);
}

/* ---- heatmaps -------------------------------------------------------------------------------- */

/* Makes sure o->heatmap_dir can take the PNGs: there is something to draw them with and the
 * directory exists (made when missing). 0, or -1 with a message on stderr. */
static int heatmap_dir_ready(const mt_gc_options *o)
{
    if (!o->heatmap) {
        fprintf(stderr, "mytorch-gradcheck: no heatmaps in %s: this program cannot draw them "
                "(mytorch-gradcheck --heatmap DIR can)\n", o->heatmap_dir);
        return -1;
    }
    if (mkdir(o->heatmap_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "mytorch-gradcheck: cannot create the heatmap directory %s: %s\n",
                o->heatmap_dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* f's PNG in o->heatmap_dir. 0, or -1 with a message on stderr. */
static int write_heatmap(const mt_gc_func *f, const mt_gc_result *r, const mt_gc_options *o)
{
    char *path = mt_gc_heatmap_path_new(o->heatmap_dir, f);
    size_t errlen = path ? 2 * strlen(path) + 512 : 0;    /* room for messages naming it twice */
    char *err = path ? malloc(errlen) : NULL;
    int rc = -1;
    if (!err) {
        fprintf(stderr, "mytorch-gradcheck: out of memory for the heatmap of %s %s\n", f->name,
                f->case_name);
    } else {
        err[0] = '\0';
        rc = o->heatmap(path, f, r, err, errlen);
        if (rc < 0) fprintf(stderr, "mytorch-gradcheck: %s\n", err);
    }
    free(err);
    free(path);
    return rc;
}

/* ---- a whole run ----------------------------------------------------------------------------- */

int mt_gc_run(const mt_gc_func *fs, int n, const mt_gc_options *o_in, FILE *out)
{
    mt_gc_options o;
    if (o_in) o = *o_in; else mt_gc_options_init(&o);
    o.keep_jacobians |= o.verbose || o.heatmap_dir;
    int passed = 0, failed = 0, errors = 0;
    widths w = column_widths(fs, n);
    if (o.heatmap_dir && heatmap_dir_ready(&o) < 0) {
        errors++;
        o.heatmap_dir = NULL;
    }
    if (!o.json)
        fprintf(out, "%-*s  %-*s  %-*s  %8s  %9s  %9s  %9s  %s\n", w.name, "op", w.case_name,
                "case", w.inputs, "inputs", "elements", "max abs", "max rel", "time", "status");
    /* with verbose: the smallest margin of each op (consecutive functions of one name) */
    double op_margin = INFINITY, op_error = 0;
    for (int k = 0; k < n; k++) {
        const mt_gc_func *f = &fs[k];
        mt_gc_result r;
        mt_gc_check(f, &o, &r);
        if (r.margin < op_margin) op_margin = r.margin;
        if (r.error > op_error) op_error = r.error;
        if (!o.json) {
            print_row(out, w, f, &r, &o);
        } else if (print_json(out, f, &r, &o) < 0) {
            fprintf(stderr, "mytorch-gradcheck: out of memory writing the JSON line of %s %s\n",
                    f->name, f->case_name);
            errors++;
        }
        if (o.heatmap_dir && r.jac.numerical && write_heatmap(f, &r, &o) < 0) errors++;
        if (r.status == MT_GC_FAIL) failed++;
        else passed++;
        mt_gc_result_free(&r);
        if (o.verbose && !o.json && (k + 1 == n || strcmp(fs[k + 1].name, f->name) != 0)) {
            char m[48];
            fprintf(out, "  %s: margin %s over its cases (largest error %.3g)\n", f->name,
                    margin_str(op_margin, m, sizeof m), op_error);
            op_margin = INFINITY;
            op_error = 0;
        }
        fflush(out);
    }
    fprintf(o.summary ? o.summary : o.json ? stderr : out, "%d passed, %d failed\n", passed,
            failed);
    return failed + errors;
}

int mt_gc_check_all(FILE *out, bool quiet, int *ncases)
{
    mt_gc_func *fs = NULL;
    int n = mt_gc_cases_default(&fs);
    if (ncases) *ncases = n;
    if (n < 0) { fprintf(out, "gradcheck: out of memory\n"); return 1; }
    mt_gc_options o;
    mt_gc_options_init(&o);
    int failed = 0;
    if (!quiet) failed = mt_gc_run(fs, n, &o, out);
    else
        for (int i = 0; i < n; i++) {
            mt_gc_result r;
            if (mt_gc_check(&fs[i], &o, &r) == MT_GC_FAIL) {
                char *cmd = mt_gc_rerun_command_new(&fs[i], &o);
                char *watch = mt_gc_watch_command_new(&fs[i], &o);
                failed++;
                fprintf(out, "gradcheck FAIL: %s [%s]\n%s  re-run: %s\n", fs[i].name,
                        fs[i].case_name, r.text, cmd ? cmd : "(out of memory)");
                if (watch) fprintf(out, "  watch: %s\n", watch);
                free(cmd);
                free(watch);
            }
            mt_gc_result_free(&r);
        }
    mt_gc_cases_free(fs, n);
    return failed;
}
