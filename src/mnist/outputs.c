/* outputs.c: everything mytorch-mnist writes, and how it stops without leaving half an output:
 * the checks of every output before the first step (docs/bad-inputs.md), failing, SIGINT and
 * the like (temporaries removed, unwritten outputs named), the CSV and plot, and the weights. */
#include "mnist.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- messages and paths of any length --------------------------------------------------------
 * The library writes its messages into buffers the caller sizes: g_errlen holds a message about
 * the longest argument (MT_ERRLEN, io.h), so none is ever cut. Paths are built on the heap. */
size_t g_errlen = MT_ERRLEN(0);

/* Prints "mytorch-mnist: MESSAGE" and exits with status (1: a file or the run failed; 2: the
 * command line is wrong). */
static void vfail(int status, const char *fmt, va_list ap)
{
    fputs("mytorch-mnist: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    /* _exit, not exit: the validation thread may be inside OpenBLAS, whose exit-time teardown
     * must not run under it. Every output file is written whole or not at all, so nothing is
     * left half-done by skipping the exit handlers; no temporary is live here, but removing
     * any costs nothing. */
    mt_tmp_cleanup();
    fflush(stdout);
    _exit(status);
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(1, fmt, ap);
    va_end(ap);
}

/* A command line that cannot work: exit status 2, as for a bad flag. */
void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(2, fmt, ap);
    va_end(ap);
}

char *err_new(void)
{
    char *e = calloc(1, g_errlen);
    if (!e) die("out of memory");
    return e;
}

char *path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    int sep = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + (size_t)sep + nl + 1);
    if (!p) die("out of memory");
    memcpy(p, dir, dl);
    if (sep) p[dl] = '/';
    memcpy(p + dl + sep, name, nl + 1);
    return p;
}

/* ---- interruption --------------------------------------------------------------------------
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT remove the temporary files of any output being written
 * (mt_tmp_cleanup), say where the run was and which outputs were not written, and then end the
 * process with the signal's default action. The handler runs on the main thread (others
 * forward the signal to it) and uses only async-signal-safe calls. */
volatile sig_atomic_t g_phase = PHASE_START;
volatile sig_atomic_t g_steps_done;
long g_total_steps;
static pthread_t g_main_thread;

typedef struct output {
    const char *flag, *path;
    bool step_graph;                 /* --export-graph, --export-dot: written after step 1 */
    volatile sig_atomic_t written;
} output;
static output g_outputs[5];          /* in the order they are written */
static int g_noutputs;

static void put(const char *s) { mt_signal_safe_print(s); }

static void put_long(long v)
{
    char buf[24], *p = buf + sizeof buf - 1;
    *p = '\0';
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do *--p = (char)('0' + u % 10); while ((u /= 10) != 0);
    if (v < 0) *--p = '-';
    put(p);
}

static void on_signal(int sig)
{
    if (!pthread_equal(pthread_self(), g_main_thread)) {
        pthread_kill(g_main_thread, sig);
        return;
    }
    int saved = errno;
    mt_tmp_cleanup();
    put("\nmytorch-mnist: interrupted by ");
    put(sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP"
        : "SIGQUIT");
    switch (g_phase) {
    case PHASE_START: put(" before training"); break;
    case PHASE_LOAD: put(" while loading the data"); break;
    case PHASE_TRAIN:
        put(" during training, after step ");
        put_long((long)g_steps_done);
        put(" of ");
        put_long(g_total_steps);
        break;
    default: put(" while writing the outputs"); break;
    }
    int pending = 0;
    for (int i = 0; i < g_noutputs; i++) {
        if (g_outputs[i].written) continue;
        put(pending++ ? ", " : "; not written: ");
        put(g_outputs[i].flag);
        put(" ");
        put(g_outputs[i].path);
    }
    put(pending ? " (no temporary file is left behind)\n" : "; every output was written\n");
    errno = saved;
    signal(sig, SIG_DFL);
    raise(sig);           /* delivered when this handler returns: the default action */
}

void catch_signals(void)
{
    g_main_thread = pthread_self();
    mt_catch_stop_signals(on_signal);
}

static void add_output(const char *flag, const char *path, bool step_graph)
{
    if (path) g_outputs[g_noutputs++] = (output){ flag, path, step_graph, 0 };
}

void add_outputs(const options *o)
{
    add_output("--export-graph", o->export_graph, true);
    add_output("--export-dot", o->export_dot, true);
    add_output("--csv", o->csv, false);
    add_output("--plot", o->plot, false);
    add_output("--save-weights", o->save_dir, false);
}

void mark_written(const char *flag)
{
    for (int i = 0; i < g_noutputs; i++)
        if (strcmp(g_outputs[i].flag, flag) == 0) g_outputs[i].written = 1;
}

void print_outputs_written(FILE *f)
{
    static const char *const first[3] = { " to ", "; the first step's graph to ",
                                          "; not written: " };
    for (int pass = 0; pass < 3; pass++) {
        int k = 0;
        for (int i = 0; i < g_noutputs; i++) {
            const output *out = &g_outputs[i];
            bool in_pass = pass == 2 ? !out->written
                         : out->written && out->step_graph == (pass == 1);
            if (in_pass) fprintf(f, "%s%s %s", k++ ? ", " : first[pass], out->flag, out->path);
        }
    }
}

/* ---- the weights ---------------------------------------------------------------------------- */

int state_dict(mt_module *m, mt_named_tensor *sd)
{
    int n = mt_module_state_dict(m, sd, MAX_ENTRIES);
    if (n > MAX_ENTRIES)
        die("the model has %d state_dict entries, more than this program handles (%d)", n,
            MAX_ENTRIES);
    return n;
}

weight_files weight_files_of(mt_module *m)
{
    mt_named_tensor sd[MAX_ENTRIES];
    weight_files w;
    w.n = state_dict(m, sd);
    for (int i = 0; i < w.n; i++) snprintf(w.name[i], sizeof w.name[i], "%s.npy", sd[i].name);
    return w;
}

/* Requires every value loaded into t from path to be finite, and a running variance's to be
 * positive; else names the file, the element (flat and multi-index) and the value. */
static void check_loaded(const char *path, const mt_named_tensor *nt)
{
    const mt_tensor *t = nt->tensor;
    size_t kl = strlen(nt->name), vl = strlen("running_var");
    bool variance = kl >= vl && strcmp(nt->name + kl - vl, "running_var") == 0;
    for (size_t k = 0; k < t->numel; k++) {
        double v = t->data[k];
        if (isfinite(v) && (!variance || v > 0)) continue;
        char index[96] = "[", shape[96] = "(";
        size_t rest = k, stride = t->numel;
        for (int d = 0; d < t->shape.ndim; d++) {
            stride /= (size_t)t->shape.dim[d];
            size_t used = strlen(index), sused = strlen(shape);
            snprintf(index + used, sizeof index - used, "%s%zu", d ? ", " : "", rest / stride);
            snprintf(shape + sused, sizeof shape - sused, "%s%d", d ? ", " : "", t->shape.dim[d]);
            rest %= stride;
        }
        strcat(index, "]");
        strcat(shape, t->shape.ndim == 1 ? ",)" : ")");
        die("--load-weights: file %s: element %zu (index %s of shape %s) is %.9g; %s", path, k,
            index, shape, v, !isfinite(v) ? "every loaded value must be finite"
            : "a running variance must be positive");
    }
}

void load_weights(mt_module *m, const char *dir)
{
    mt_named_tensor sd[MAX_ENTRIES];
    int n = state_dict(m, sd);
    weight_files files = weight_files_of(m);
    char *err = err_new();
    for (int i = 0; i < n; i++) {
        char *path = path_join(dir, files.name[i]);
        if (mt_npy_load_into(path, sd[i].tensor->data, sd[i].tensor->shape.ndim,
                             sd[i].tensor->shape.dim, err, g_errlen) != 0)
            die("--load-weights: %s", err);
        check_loaded(path, &sd[i]);
        free(path);
    }
    free(err);
}

/* Writes the state dict as DIR/<key>.npy, all files or none (mt_npy_save_dir swaps the whole
 * directory into place), so a failed save never leaves a mix of new and old files. */
void save_weights(mt_module *m, const char *dir)
{
    mt_named_tensor sd[MAX_ENTRIES];
    int n = state_dict(m, sd);
    weight_files files = weight_files_of(m);
    mt_npy_array arrays[MAX_ENTRIES];
    for (int i = 0; i < n; i++)
        arrays[i] = (mt_npy_array){ files.name[i], sd[i].tensor->data, sd[i].tensor->shape.ndim,
                                    sd[i].tensor->shape.dim };
    char *err = err_new();
    if (mt_npy_save_dir(dir, arrays, n, err, g_errlen) != 0) die("--save-weights: %s", err);
    free(err);
}

/* ---- checking the outputs before training --------------------------------------------------- */

/* Everything that would make the outputs fail after training, found before it
 * (mt_check_outputs): a name that is empty, names a directory or a device, lies in a missing or
 * unwritable directory; two of --plot, --csv, --export-graph and --export-dot naming one file;
 * an output inside the directory --save-weights replaces; a --save-weights directory that holds
 * other files; a --load-weights that is not a directory. */
void check_outputs(const options *o, const weight_files *files)
{
    const char *names[MAX_ENTRIES];
    for (int i = 0; i < files->n; i++) names[i] = files->name[i];
    const mt_output outs[] = {
        { .flag = "--plot", .path = o->plot },
        { .flag = "--csv", .path = o->csv },
        { .flag = "--export-graph", .path = o->export_graph },
        { .flag = "--export-dot", .path = o->export_dot },
        { .flag = "--save-weights", .path = o->save_dir, .names = names, .n = files->n },
    };
    char *err = err_new();
    int status = mt_check_outputs(outs, (int)(sizeof outs / sizeof outs[0]), err, g_errlen);
    if (status == 2) usage_error("%s", err);
    if (status != 0) die("%s", err);
    if (o->load_dir) {
        struct stat st;
        if (stat(o->load_dir, &st) != 0)
            die("--load-weights %s: %s", o->load_dir, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            die("--load-weights %s: not a directory (it should hold one <key>.npy file per "
                "state_dict entry)", o->load_dir);
    }
    free(err);
}

/* ---- the CSV and the plot ------------------------------------------------------------------- */

typedef struct csv_rows { const record *rec; int n; } csv_rows;

static int csv_write_rows(FILE *f, void *user)
{
    const csv_rows *c = user;
    fprintf(f, "epoch,batch,samples_seen,train_loss,val_accuracy\n");
    for (int i = 0; i < c->n; i++)
        fprintf(f, "%d,%d,%ld,%.6f,%.4f\n", c->rec[i].epoch, c->rec[i].batch, c->rec[i].samples,
                c->rec[i].loss, c->rec[i].accuracy);
    return ferror(f) ? -1 : 0;
}

static void write_csv(const char *path, const record *rec, int n)
{
    char *err = err_new();
    csv_rows rows = { rec, n };
    if (mt_write_file_atomic(path, csv_write_rows, &rows, err, g_errlen) != 0)
        die("--csv: %s", err);
    free(err);
}

void write_records(const options *o, const record *rec, int nrec, mt_plot_point *pts)
{
    if (o->csv) {
        write_csv(o->csv, rec, nrec);
        mark_written("--csv");
    }
    if (o->plot && nrec > 0) {
        for (int i = 0; i < nrec; i++)
            pts[i] = (mt_plot_point){ (double)rec[i].samples, rec[i].accuracy, rec[i].loss };
        char title[256], *err = err_new();
        snprintf(title, sizeof title,
                 "MyTorch MLP on MNIST: validation accuracy (lr %g, batch %d, %d epoch%s)",
                 o->lr, o->batch_size, o->epochs, o->epochs == 1 ? "" : "s");
        if (mt_plot_accuracy(o->plot, title, pts, nrec, err, g_errlen) != 0)
            die("--plot: %s", err);
        mark_written("--plot");
        free(err);
    }
}
