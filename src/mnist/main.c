/* mytorch-mnist: trains Linear(784, 20) -> BatchNorm1d(20) -> ReLU -> Linear(20, 10) on MNIST
 * with cross-entropy and SGD, validating on the 10,000 t10k images every 100 batches, and
 * writes the validation-accuracy plot (PNG) and a CSV of every validation.
 * Validation runs on a second thread, on a copy of the model taken at the validation point,
 * while training goes on; it gives the same accuracies as validating in place.
 * Every output is checked before the first step (docs/bad-inputs.md lists what is refused and
 * how), and SIGINT or SIGTERM removes the temporary files of outputs being written. */
#include "mytorch/mytorch.h"
#include "plot.h"
#include "../../gradcheck/gradcheck.h"

#include <cblas.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IMAGE_PIXELS 784
#define CLASSES 10
#define VAL_CHUNK 100           /* validation rows per forward: bounds memory */

typedef struct options {
    const char *data_dir, *plot, *csv, *save_dir, *load_dir;
    int epochs, batch_size, val_every;
    long limit;
    double lr, momentum;
    unsigned long long seed;
    bool shuffle, quiet, gradcheck;
} options;

typedef struct record {           /* one validation */
    int epoch, batch;
    long samples;
    double loss, accuracy;
} record;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Resident memory in MB from /proc/self/statm (Linux), or -1 where it cannot be read. */
static double resident_mb(void)
{
    long pages = -1, resident = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    int ok = fscanf(f, "%ld %ld", &pages, &resident) == 2;
    fclose(f);
    return ok ? (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0 : -1;
}

static double peak_mb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : -1;
}

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

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(1, fmt, ap);
    va_end(ap);
}

/* A command line that cannot work: exit status 2, as for a bad flag. */
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(2, fmt, ap);
    va_end(ap);
}

/* ---- messages and paths of any length --------------------------------------------------------
 * The library writes its messages into buffers the caller sizes: g_errlen holds a message about
 * the longest argument (MT_ERRLEN, io.h), so none is ever cut. Paths are built on the heap. */
static size_t g_errlen = MT_ERRLEN(0);

static char *err_new(void)
{
    char *e = calloc(1, g_errlen);
    if (!e) die("out of memory");
    return e;
}

/* DIR/NAME, malloc'd. */
static char *path_join(const char *dir, const char *name)
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
enum { PHASE_START, PHASE_LOAD, PHASE_TRAIN, PHASE_WRITE };
static volatile sig_atomic_t g_phase = PHASE_START;
static volatile sig_atomic_t g_steps_done;     /* training steps finished */
static long g_total_steps;
static pthread_t g_main_thread;

typedef struct output { const char *flag, *path; volatile sig_atomic_t written; } output;
static output g_outputs[3];                    /* --csv, --plot, --save-weights, as given */
static int g_noutputs;

static void put(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

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
    put(sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "SIGQUIT");
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

static void catch_signals(void)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&sa.sa_mask, sigs[i]);
    g_main_thread = pthread_self();
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        /* a signal ignored by whoever started us (nohup, a shell's background job) stays so */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

/* Blocks the caught signals in the calling thread (restored by unblock_signals): threads
 * started in between inherit the mask, so the handler runs on the main thread. */
static void block_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

static void add_output(const char *flag, const char *path)
{
    if (path) g_outputs[g_noutputs++] = (output){ flag, path, 0 };
}

static void mark_written(const char *flag)
{
    for (int i = 0; i < g_noutputs; i++)
        if (strcmp(g_outputs[i].flag, flag) == 0) g_outputs[i].written = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mytorch-mnist [options]\n"
        "Trains Linear(784,20) -> BatchNorm1d(20) -> ReLU -> Linear(20,10) on MNIST with\n"
        "cross-entropy and SGD, validating on the t10k set every --val-every batches.\n\n"
        "  --data DIR          MNIST IDX files, raw or .gz (default data/mnist)\n"
        "  --epochs N          passes over the training set (default 3)\n"
        "  --batch-size N      rows per step (default 100)\n"
        "  --lr X              learning rate (default 0.1)\n"
        "  --momentum X        SGD momentum (default 0)\n"
        "  --seed N            seed for initial weights and shuffling (default 0)\n"
        "  --val-every N       validate when the batch index in the epoch is a multiple of N (default 100)\n"
        "  --no-shuffle        keep the training set in file order\n"
        "  --limit N           train on the first N images only (quick runs)\n"
        "  --plot FILE         validation-accuracy PNG (default validation_accuracy.png)\n"
        "  --csv FILE          one row per validation: epoch,batch,samples_seen,train_loss,val_accuracy\n"
        "  --save-weights DIR  write the final state dict as DIR/<key>.npy (float64)\n"
        "  --load-weights DIR  start from DIR/<key>.npy (e.g. a PyTorch model's state dict)\n"
        "  --quiet             print only the final summary\n"
        "  --no-gradcheck      skip the finite-difference check of every op that runs first\n"
        "  --help              this text\n");
}

static long parse_long(const char *flag, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "mytorch-mnist: %s expects a whole number from %ld to %ld, got '%s'\n", flag, lo, hi, s);
        exit(2);
    }
    return v;
}

static double parse_double(const char *flag, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "mytorch-mnist: %s expects a number from %g to %g, got '%s'\n", flag, lo, hi, s);
        exit(2);
    }
    return v;
}

/* Says what was wrong with the option getopt_long just refused (argv[optind - 1]): unknown,
 * ambiguous (an abbreviation of several: "--l" is --lr, --limit or --load-weights), missing its
 * value, or given a value it does not take. Exits with status 2. */
static void bad_option(const struct option *longs, int argc, char **argv)
{
    const char *arg = optind - 1 < argc && optind >= 1 ? argv[optind - 1] : "";
    if (optopt > 0 && optopt < 256) {   /* a short option */
        fprintf(stderr, "mytorch-mnist: unknown option '-%c'\n", optopt);
    } else if (strncmp(arg, "--", 2) != 0) {
        fprintf(stderr, "mytorch-mnist: unknown option '%s'\n", arg);
    } else {
        const char *name = arg + 2;
        size_t len = strcspn(name, "=");
        int found = -1, nmatch = 0;
        for (int i = 0; longs[i].name; i++) {
            if (strncmp(longs[i].name, name, len) != 0) continue;
            if (strlen(longs[i].name) == len) { found = i; nmatch = 1; break; }
            found = nmatch++ ? found : i;
        }
        if (nmatch > 1) {
            fprintf(stderr, "mytorch-mnist: option '%.*s' is ambiguous: ", (int)len + 2, arg);
            int k = 0;
            for (int i = 0; longs[i].name; i++)
                if (strncmp(longs[i].name, name, len) == 0)
                    fprintf(stderr, "%s--%s", k++ ? ", " : "", longs[i].name);
            fputc('\n', stderr);
        } else if (nmatch == 1 && longs[found].has_arg == no_argument && name[len] == '=') {
            fprintf(stderr, "mytorch-mnist: option '--%s' takes no value, got '%s'\n",
                    longs[found].name, arg);
        } else if (nmatch == 1) {
            fprintf(stderr, "mytorch-mnist: option '--%s' needs a value\n", longs[found].name);
        } else {
            fprintf(stderr, "mytorch-mnist: unknown option '%.*s'\n", (int)len + 2, arg);
        }
    }
    fprintf(stderr, "run 'mytorch-mnist --help' for the options\n");
    exit(2);
}

static options parse_options(int argc, char **argv)
{
    options o = { .data_dir = "data/mnist", .plot = "validation_accuracy.png", .epochs = 3,
                  .batch_size = 100, .val_every = 100, .lr = 0.1, .shuffle = true,
                  .gradcheck = true };
    enum { O_DATA = 256, O_EPOCHS, O_BATCH, O_LR, O_MOM, O_SEED, O_VAL, O_NOSHUF, O_LIMIT,
           O_PLOT, O_CSV, O_SAVE, O_LOAD, O_QUIET, O_NOGC, O_HELP };
    static const struct option longs[] = {
        { "data", required_argument, 0, O_DATA }, { "epochs", required_argument, 0, O_EPOCHS },
        { "batch-size", required_argument, 0, O_BATCH }, { "lr", required_argument, 0, O_LR },
        { "momentum", required_argument, 0, O_MOM }, { "seed", required_argument, 0, O_SEED },
        { "val-every", required_argument, 0, O_VAL }, { "no-shuffle", no_argument, 0, O_NOSHUF },
        { "limit", required_argument, 0, O_LIMIT }, { "plot", required_argument, 0, O_PLOT },
        { "csv", required_argument, 0, O_CSV }, { "save-weights", required_argument, 0, O_SAVE },
        { "load-weights", required_argument, 0, O_LOAD }, { "quiet", no_argument, 0, O_QUIET },
        { "no-gradcheck", no_argument, 0, O_NOGC },
        { "help", no_argument, 0, O_HELP }, { 0, 0, 0, 0 },
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (c == '?' || c == ':') bad_option(longs, argc, argv);
        switch (c) {
        case O_DATA: o.data_dir = optarg; break;
        case O_EPOCHS: o.epochs = (int)parse_long("--epochs", optarg, 1, 1000); break;
        case O_BATCH: o.batch_size = (int)parse_long("--batch-size", optarg, 2, 60000); break;
        case O_LR: o.lr = parse_double("--lr", optarg, 0, 1e3); break;
        case O_MOM: o.momentum = parse_double("--momentum", optarg, 0, 0.999999); break;
        case O_SEED: o.seed = (unsigned long long)parse_long("--seed", optarg, 0, 2147483647L); break;
        case O_VAL: o.val_every = (int)parse_long("--val-every", optarg, 1, 1000000); break;
        case O_NOSHUF: o.shuffle = false; break;
        case O_LIMIT: o.limit = parse_long("--limit", optarg, 2, 100000000L); break;
        case O_PLOT: o.plot = optarg; break;
        case O_CSV: o.csv = optarg; break;
        case O_SAVE: o.save_dir = optarg; break;
        case O_LOAD: o.load_dir = optarg; break;
        case O_QUIET: o.quiet = true; break;
        case O_NOGC: o.gradcheck = false; break;
        case 'h': case O_HELP: usage(stdout); exit(0);
        default: bad_option(longs, argc, argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mytorch-mnist: unexpected argument '%s' (see --help)\n", argv[optind]);
        exit(2);
    }
    return o;
}

/* Checks every op and module against finite differences before training, so that a broken
 * backward is caught before it is trained with. Prints failures in full, else one line. */
static void run_gradcheck(bool quiet)
{
    double t0 = now();
    int n = 0, failed = mt_gc_check_all(stderr, true, &n);
    if (failed) die("gradcheck: %d of %d cases failed; not training on a wrong backward "
                    "(--no-gradcheck skips this check)", failed, n);
    if (!quiet) fprintf(stderr, "gradcheck: all %d cases agree with finite differences (%.2fs)\n", n, now() - t0);
}

/* ---- the model ------------------------------------------------------------------------------ */

static mt_module *make_mlp(mt_rng *rng)
{
    mt_module *layers[] = {
        mt_linear_new(IMAGE_PIXELS, 20, rng),
        mt_batchnorm1d_new(20, 1e-5, 0.1),
        mt_relu_new(),
        mt_linear_new(20, CLASSES, rng),
    };
    return mt_sequential_new(4, layers);
}

#define MAX_ENTRIES 16           /* state_dict entries of the MLP: 8 */

static int state_dict(mt_module *m, mt_named_tensor *sd)
{
    int n = mt_module_state_dict(m, sd, MAX_ENTRIES);
    if (n > MAX_ENTRIES)
        die("the model has %d state_dict entries, more than this program handles (%d)", n, MAX_ENTRIES);
    return n;
}

/* The weight files of a state dict: "<key>.npy", as numpy.save and torch_mnist.py name them. */
typedef struct weight_files { int n; char name[MAX_ENTRIES][MT_NAME_MAX + 8]; } weight_files;

static weight_files weight_files_of(mt_module *m)
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

static void load_weights(mt_module *m, const char *dir)
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
static void save_weights(mt_module *m, const char *dir)
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

/* Two canonical paths (mt_check_output_*) of the same file: the same name, or the same inode
 * (hard links). */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0) return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* True when the canonical path file is dir or lies inside it. */
static bool inside(const char *file, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(file, dir, n) == 0 && (file[n] == '\0' || file[n] == '/');
}

/* Everything that would make the outputs fail after training, found before it: a name that is
 * empty, names a directory or a device, lies in a missing or unwritable directory; --plot and
 * --csv naming one file; an output inside the directory --save-weights replaces; a
 * --save-weights directory that holds other files; a --load-weights that is not a directory. */
static void check_outputs(const options *o, const weight_files *files)
{
    char *err = err_new(), *plot = NULL, *csv = NULL, *save = NULL;
    if (o->plot && mt_check_output_file(o->plot, &plot, err, g_errlen) != 0) die("--plot: %s", err);
    if (o->csv && mt_check_output_file(o->csv, &csv, err, g_errlen) != 0) die("--csv: %s", err);
    if (o->save_dir) {
        const char *names[MAX_ENTRIES];
        for (int i = 0; i < files->n; i++) names[i] = files->name[i];
        if (mt_check_output_dir(o->save_dir, names, files->n, &save, err, g_errlen) != 0)
            die("--save-weights: %s", err);
    }
    if (plot && csv && same_file(plot, csv))
        usage_error("--plot %s and --csv %s are the same file (%s): the plot would overwrite the "
                    "CSV; give them different names", o->plot, o->csv, plot);
    const char *flag[2] = { "--plot", "--csv" }, *given[2] = { o->plot, o->csv };
    char *canon[2] = { plot, csv };
    for (int i = 0; save && i < 2; i++)
        if (canon[i] && (inside(canon[i], save) || same_file(canon[i], save)))
            usage_error("%s %s is inside the --save-weights directory %s, which saving the "
                        "weights replaces as a whole; write it elsewhere", flag[i], given[i],
                        o->save_dir);
    if (o->load_dir) {
        struct stat st;
        if (stat(o->load_dir, &st) != 0)
            die("--load-weights %s: %s", o->load_dir, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            die("--load-weights %s: not a directory (it should hold one <key>.npy file per "
                "state_dict entry)", o->load_dir);
    }
    free(plot);
    free(csv);
    free(save);
    free(err);
}

/* byte -> byte / 255.0: a table beats a division. Filled by main before any thread starts. */
static double pixel_scale[256];

/* Rows idx[0..n) of the image set as doubles in [0, 1]: (n, 784). Only a batch is ever
 * expanded from bytes. Four pixels in five are 0, so eight zero bytes (one load) become eight
 * zeros without the table; and the next row, somewhere in 47 MB, is fetched while this one
 * is converted. */
static mt_tensor *batch_images(const mt_mnist *d, const size_t *idx, size_t n)
{
    mt_tensor *x = mt_empty(MT_SHAPE((int)n, IMAGE_PIXELS));
    for (size_t r = 0; r < n; r++) {
        const unsigned char *src = d->images.data + idx[r] * IMAGE_PIXELS;
        double *dst = x->data + r * IMAGE_PIXELS;
#ifdef __GNUC__
        if (r + 1 < n)
            for (int k = 0; k < IMAGE_PIXELS; k += 64)
                __builtin_prefetch(d->images.data + idx[r + 1] * IMAGE_PIXELS + k);
#endif
        for (int k = 0; k < IMAGE_PIXELS; k += 8) {          /* 784 = 98 * 8 */
            uint64_t word;
            memcpy(&word, src + k, sizeof word);
            if (word == 0)
                for (int j = 0; j < 8; j++) dst[k + j] = 0.0;
            else
                for (int j = 0; j < 8; j++) dst[k + j] = pixel_scale[src[k + j]];
        }
    }
    return x;
}

static mt_tensor *batch_labels(const mt_mnist *d, const size_t *idx, size_t n)
{
    mt_tensor *y = mt_empty(MT_SHAPE((int)n));
    for (size_t r = 0; r < n; r++) y->data[r] = d->labels.data[idx[r]];
    return y;
}

/* Accuracy of `model` (in eval mode) on the whole validation set, with no graph, in chunks;
 * NaN when a forward fails (the message is in mt_last_error()). */
static double validate(mt_module *model, const mt_mnist *val, mt_arena *scratch, size_t *idx)
{
    double accuracy = NAN;
    bool prev = mt_set_grad_enabled(false);
    mt_arena *prev_arena = mt_arena_use(scratch);
    size_t correct = 0;
    for (size_t start = 0; start < val->count; start += VAL_CHUNK) {
        size_t n = val->count - start < VAL_CHUNK ? val->count - start : VAL_CHUNK;
        for (size_t r = 0; r < n; r++) idx[r] = start + r;
        mt_tensor *logits = mt_module_forward(model, batch_images(val, idx, n));   /* (n, 10) */
        if (!logits) goto out;
        for (size_t r = 0; r < n; r++) {
            const double *row = logits->data + r * CLASSES;
            int best = 0;
            for (int k = 1; k < CLASSES; k++) if (row[k] > row[best]) best = k;
            correct += (best == val->labels.data[start + r]);
        }
        mt_arena_reset(scratch);
    }
    accuracy = (double)correct / (double)val->count;
out:
    mt_arena_reset(scratch);
    mt_arena_use(prev_arena);
    mt_set_grad_enabled(prev);
    return accuracy;
}

/* ---- the validation thread ------------------------------------------------------------------
 * It loads the t10k set (while main loads the training set), then validates on request: main
 * copies the model's state into `copy` (after the previous validation is done with it), bumps
 * `submitted` and goes on training; the thread writes rec[k].accuracy and bumps `done`. */
typedef struct validator {
    pthread_mutex_t lock;
    pthread_cond_t changed;             /* signalled whenever loaded, submitted, done or quit changes */
    const char *data_dir;
    mt_mnist val;              /* the t10k set, loaded by the thread */
    bool loaded, load_failed, quit;
    bool failed;               /* a validation forward failed: the message is in err */
    char *err;                 /* g_errlen bytes, from main */
    mt_module *copy;           /* the model as of the pending validation; eval mode */
    record *rec;
    int submitted, done;
} validator;

static void *validator_main(void *arg)
{
    validator *v = arg;
    char *err = calloc(1, g_errlen);
    int rc = err ? mt_mnist_load(v->data_dir, "t10k", &v->val, err, g_errlen) : -1;
    pthread_mutex_lock(&v->lock);
    v->loaded = true;
    v->load_failed = rc != 0;
    if (rc != 0) snprintf(v->err, g_errlen, "%s", err ? err : "out of memory");
    free(err);
    pthread_cond_broadcast(&v->changed);
    pthread_mutex_unlock(&v->lock);
    if (rc != 0) return NULL;

    mt_arena *scratch = mt_arena_new();
    size_t idx[VAL_CHUNK];
    for (;;) {
        pthread_mutex_lock(&v->lock);
        while (v->done == v->submitted && !v->quit) pthread_cond_wait(&v->changed, &v->lock);
        if (v->done == v->submitted) {            /* quit, and nothing left to do */
            pthread_mutex_unlock(&v->lock);
            break;
        }
        int k = v->done;
        pthread_mutex_unlock(&v->lock);
        double acc = validate(v->copy, &v->val, scratch, idx);
        pthread_mutex_lock(&v->lock);
        if (isnan(acc) && !v->failed) {
            v->failed = true;
            snprintf(v->err, g_errlen, "validation forward failed: %s", mt_last_error());
        }
        v->rec[k].accuracy = acc;
        v->done++;
        pthread_cond_broadcast(&v->changed);
        pthread_mutex_unlock(&v->lock);
    }
    mt_arena_free(scratch);
    mt_shutdown();                                 /* this thread's default arena and state */
    return NULL;
}

/* Waits until the thread has loaded t10k; false (and the message in v->err) if it failed. */
static bool validator_wait_loaded(validator *v)
{
    pthread_mutex_lock(&v->lock);
    while (!v->loaded) pthread_cond_wait(&v->changed, &v->lock);
    bool ok = !v->load_failed;
    pthread_mutex_unlock(&v->lock);
    return ok;
}

/* Waits until at least `count` validations are done; returns how many are. */
static int validator_wait_done(validator *v, int count)
{
    pthread_mutex_lock(&v->lock);
    while (v->done < count) pthread_cond_wait(&v->changed, &v->lock);
    int done = v->done;
    pthread_mutex_unlock(&v->lock);
    return done;
}

/* Hands the thread the model as it is now (parameters and running statistics), to be
 * validated as record k = v->submitted. */
static void validator_submit(validator *v, mt_module *model)
{
    validator_wait_done(v, v->submitted);          /* the copy is free again */
    mt_named_tensor from[MAX_ENTRIES], to[MAX_ENTRIES];
    int n = state_dict(model, from);
    state_dict(v->copy, to);
    for (int i = 0; i < n; i++)
        memcpy(to[i].tensor->data, from[i].tensor->data, from[i].tensor->numel * sizeof(double));
    pthread_mutex_lock(&v->lock);
    v->submitted++;
    pthread_cond_broadcast(&v->changed);
    pthread_mutex_unlock(&v->lock);
}

/* Prints the validations from *nprinted up to `upto` (exclusive); stops the program if the
 * validation thread reported a failure. */
static void print_records(validator *v, const record *rec, int *nprinted, int upto, bool quiet,
                          bool tty)
{
    pthread_mutex_lock(&v->lock);
    bool failed = v->failed;
    pthread_mutex_unlock(&v->lock);
    if (failed) die("%s", v->err);
    for (; *nprinted < upto; (*nprinted)++) {
        const record *r = &rec[*nprinted];
        if (quiet) continue;
        if (tty) fputc('\n', stderr);
        fprintf(stderr, "epoch %d batch %4d  samples %7ld  loss %.4f  val accuracy %.2f%%\n",
                r->epoch, r->batch, r->samples, r->loss, 100 * r->accuracy);
    }
}

/* ---- output files --------------------------------------------------------------------------- */

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
    if (mt_write_file_atomic(path, csv_write_rows, &rows, err, g_errlen) != 0) die("--csv: %s", err);
    free(err);
}

/* The CSV and the plot of rec[0..nrec) (both only when asked for). */
static void write_records(const options *o, const record *rec, int nrec, mt_plot_point *pts)
{
    if (o->csv) {
        write_csv(o->csv, rec, nrec);
        mark_written("--csv");
    }
    if (o->plot && nrec > 0) {
        for (int i = 0; i < nrec; i++)
            pts[i] = (mt_plot_point){ (double)rec[i].samples, rec[i].accuracy, rec[i].loss };
        char title[256], *err = err_new();
        snprintf(title, sizeof title, "MyTorch MLP on MNIST: validation accuracy (lr %g, batch %d, %d epoch%s)",
                 o->lr, o->batch_size, o->epochs, o->epochs == 1 ? "" : "s");
        if (mt_plot_accuracy(o->plot, title, pts, nrec, err, g_errlen) != 0) die("--plot: %s", err);
        mark_written("--plot");
        free(err);
    }
}

static void progress(const options *o, int epoch, int batch, int nbatches, double loss,
                     double steps_per_s, double eta)
{
    int width = 30, filled = (int)((double)width * batch / nbatches);
    fprintf(stderr, "\repoch %d/%d [", epoch + 1, o->epochs);
    for (int i = 0; i < width; i++) fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %4d/%d  loss %.4f  %6.0f steps/s  ETA %4.1fs ", batch, nbatches, loss,
            steps_per_s, eta);
    fflush(stderr);
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv);
    size_t longest = 0;
    for (int i = 1; i < argc; i++)
        if (strlen(argv[i]) > longest) longest = strlen(argv[i]);
    g_errlen = MT_ERRLEN(longest + 2 * MT_NAME_MAX + 64);   /* + a weight or MNIST file name */
    catch_signals();
    add_output("--csv", o.csv);
    if (o.plot) add_output("--plot", o.plot);
    add_output("--save-weights", o.save_dir);
    /* These matrices are small (at most 1000 x 784 by 784 x 20): OpenBLAS's threads cost more
     * than they save here (measured: 1.6x slower with 2 threads on 2 cores). */
    openblas_set_num_threads(1);
    bool tty = !o.quiet && isatty(STDERR_FILENO);
    double t_start = now();

    mt_rng rng;
    mt_rng_seed(&rng, o.seed);
    mt_module *model = make_mlp(&rng);
    if (!model) die("cannot build the model: %s", mt_last_error());
    weight_files files = weight_files_of(model);
    check_outputs(&o, &files);
    if (o.gradcheck) run_gradcheck(o.quiet);

    for (int v = 0; v < 256; v++) pixel_scale[v] = v / 255.0;

    /* the validation thread loads t10k while this one loads the training set */
    g_phase = PHASE_LOAD;
    char *err = err_new();
    validator vt = { .data_dir = o.data_dir, .err = err_new() };
    pthread_t val_thread;
    sigset_t mask;
    block_signals(&mask);                /* the thread inherits the mask: signals come here */
    if (pthread_mutex_init(&vt.lock, NULL) != 0 || pthread_cond_init(&vt.changed, NULL) != 0 ||
        pthread_create(&val_thread, NULL, validator_main, &vt) != 0)
        die("cannot start the validation thread");
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    mt_mnist train;
    if (mt_mnist_load(o.data_dir, "train", &train, err, g_errlen) != 0) die("%s", err);
    if (!validator_wait_loaded(&vt)) die("%s", vt.err);
    const mt_mnist *val = &vt.val;
    if (train.rows != 28 || train.cols != 28 || val->rows != 28 || val->cols != 28)
        die("expected 28x28 images, found %dx%d (train) and %dx%d (t10k)", train.rows, train.cols,
            val->rows, val->cols);
    size_t ntrain = train.count;
    if (o.limit && (size_t)o.limit < ntrain) ntrain = (size_t)o.limit;
    int nbatches = (int)(ntrain / (size_t)o.batch_size);   /* the last partial batch is dropped */
    if (nbatches < 1)
        usage_error("--batch-size %d is larger than the %zu training images", o.batch_size, ntrain);

    if (o.load_dir) load_weights(model, o.load_dir);
    mt_tensor *params[MAX_ENTRIES];
    int np = mt_module_parameters(model, params, MAX_ENTRIES);
    if (np > MAX_ENTRIES) die("the model has %d parameters, more than this program expects", np);
    mt_sgd *opt = mt_sgd_new(params, np, o.lr, o.momentum);
    if (!opt) die("cannot make the optimizer: %s", mt_last_error());
    mt_rng unused;                       /* the copy's initial weights are overwritten */
    mt_rng_seed(&unused, 0);
    vt.copy = make_mlp(&unused);
    if (!vt.copy) die("cannot build the model: %s", mt_last_error());
    mt_module_train(vt.copy, false);     /* the copy only ever validates */

    size_t *order = malloc(ntrain * sizeof *order);
    int max_records = o.epochs * (nbatches / o.val_every + 1) + 1;   /* + the model as trained */
    record *rec = calloc((size_t)max_records, sizeof *rec);
    mt_plot_point *pts = calloc((size_t)max_records, sizeof *pts);
    if (!order || !rec || !pts) die("out of memory");
    vt.rec = rec;
    for (size_t i = 0; i < ntrain; i++) order[i] = i;

    mt_arena *step = mt_arena_new();     /* one training step's graph, reset after each step */
    int nrec = 0, nprinted = 0;
    long samples = 0;
    double t_train = now(), last_loss = NAN, loss_sum = 0;
    int loss_n = 0;
    long total_steps = (long)o.epochs * nbatches, steps_done = 0;
    double rss_100 = -1;
    /* a loss that is not finite stops training: where, to say so */
    int bad_epoch = 0, bad_batch = 0;
    bool diverged = false;

    g_total_steps = total_steps;
    g_phase = PHASE_TRAIN;
    if (!o.quiet)
        fprintf(stderr, "training on %zu images, validating on %zu; %d epochs of %d batches of %d\n",
                ntrain, val->count, o.epochs, nbatches, o.batch_size);
    for (int epoch = 0; epoch < o.epochs && !diverged; epoch++) {
        if (o.shuffle)                                  /* Fisher-Yates, seeded */
            for (size_t i = ntrain - 1; i > 0; i--) {
                size_t j = (size_t)mt_rng_below(&rng, i + 1);
                size_t t = order[i]; order[i] = order[j]; order[j] = t;
            }
        for (int b = 0; b < nbatches; b++) {
            mt_arena *prev = mt_arena_use(step);
            const size_t *rows = order + (size_t)b * (size_t)o.batch_size;
            mt_tensor *x = batch_images(&train, rows, (size_t)o.batch_size);   /* (B, 784) */
            mt_tensor *y = batch_labels(&train, rows, (size_t)o.batch_size);   /* (B,) */
            mt_sgd_zero_grad(opt);
            mt_tensor *loss = mt_cross_entropy(mt_module_forward(model, x), y);
            if (!loss) die("step %ld: forward failed: %s", steps_done + 1, mt_last_error());
            last_loss = loss->data[0];
            if (!isfinite(last_loss)) {      /* stop before this step changes the model */
                mt_arena_use(prev);
                mt_arena_reset(step);
                diverged = true;
                bad_epoch = epoch + 1;
                bad_batch = b;
                break;
            }
            if (mt_backward_ex(loss, NULL, MT_TOPO) != 0)
                die("step %ld: backward failed: %s", steps_done + 1, mt_last_error());
            mt_sgd_step(opt);
            mt_arena_use(prev);
            mt_arena_reset(step);
            samples += o.batch_size;
            steps_done++;
            g_steps_done = (sig_atomic_t)steps_done;
            if (steps_done == 100) rss_100 = resident_mb();
            loss_sum += last_loss;
            loss_n++;

            if (b % o.val_every == 0) {
                double mean_loss = loss_sum / loss_n;
                loss_sum = 0; loss_n = 0;
                rec[nrec] = (record){ epoch + 1, b, samples, mean_loss, NAN };
                nrec++;
                validator_submit(&vt, model);
            }
            /* print the validations that have finished since the last look */
            if (nprinted < nrec)
                print_records(&vt, rec, &nprinted, validator_wait_done(&vt, 0), o.quiet, tty);
            if (tty && (b % 10 == 0 || b == nbatches - 1)) {
                double el = now() - t_train, sps = steps_done / (el > 0 ? el : 1e-9);
                progress(&o, epoch, b + 1, nbatches, last_loss, sps, (total_steps - steps_done) / sps);
            }
        }
    }
    if (diverged) {
        /* The validations made so far are of models that trained on finite losses: they are
         * written; the model that gave the bad loss is not saved. */
        validator_wait_done(&vt, nrec);
        print_records(&vt, rec, &nprinted, nrec, o.quiet, tty);
        if (tty) fputc('\n', stderr);
        g_phase = PHASE_WRITE;
        if (nrec > 0) write_records(&o, rec, nrec, pts);
        fprintf(stderr, "mytorch-mnist: step %ld (epoch %d, batch %d): the training loss is %s; "
                "stopping. Try a smaller --lr.\n", steps_done + 1, bad_epoch, bad_batch,
                isnan(last_loss) ? "nan" : last_loss > 0 ? "inf" : "-inf");
        if (nrec > 0)
            fprintf(stderr, "mytorch-mnist: the %d validation%s before it %s written", nrec,
                    nrec == 1 ? "" : "s", nrec == 1 ? "was" : "were");
        else
            fprintf(stderr, "mytorch-mnist: no validation was made before it");
        for (int pass = 0; pass < 2; pass++) {
            int k = 0;
            for (int i = 0; i < g_noutputs; i++)
                if ((bool)g_outputs[i].written == (pass == 0))
                    fprintf(stderr, "%s%s %s", k++ ? ", " : pass == 0 ? " to " : "; not written: ",
                            g_outputs[i].flag, g_outputs[i].path);
        }
        fputc('\n', stderr);
        fflush(stdout);
        _exit(1);     /* as die: the validation thread is idle, but OpenBLAS's teardown is skipped */
    }
    /* The protocol validates at batches 0, 100, ..., so the last steps of the last epoch are
     * not in any of its validations: measure the model as trained (and as --save-weights
     * writes it) once more, outside the CSV and the plot. */
    rec[nrec] = (record){ o.epochs, nbatches - 1, samples, NAN, NAN };
    validator_submit(&vt, model);
    validator_wait_done(&vt, nrec + 1);
    print_records(&vt, rec, &nprinted, nrec, o.quiet, tty);
    if (tty) fputc('\n', stderr);
    double t_end_train = now(), rss_end = resident_mb();

    g_phase = PHASE_WRITE;
    write_records(&o, rec, nrec, pts);
    if (o.save_dir) {
        save_weights(model, o.save_dir);
        mark_written("--save-weights");
    }

    double best = 0;
    for (int i = 0; i < nrec; i++) if (rec[i].accuracy > best) best = rec[i].accuracy;
    printf("final validation accuracy: %.2f%% (best %.2f%%) over %d validations\n",
           nrec ? 100 * rec[nrec - 1].accuracy : 0.0, 100 * best, nrec);
    printf("the model after all %ld steps: %.2f%% on the validation set\n", steps_done,
           100 * rec[nrec].accuracy);
    printf("time: %.2fs training (%.0f steps/s), %.2fs in all\n", t_end_train - t_train,
           steps_done / (t_end_train - t_train), now() - t_start);
    if (rss_100 > 0)
        printf("memory: resident %.1f MB at step 100, %.1f MB at step %ld; peak %.1f MB\n",
               rss_100, rss_end, steps_done, peak_mb());
    if (o.plot && nrec > 0) printf("plot: %s\n", o.plot);
    if (o.csv) printf("csv: %s\n", o.csv);
    if (o.save_dir) printf("weights: %s/\n", o.save_dir);

    pthread_mutex_lock(&vt.lock);
    vt.quit = true;
    pthread_cond_broadcast(&vt.changed);
    pthread_mutex_unlock(&vt.lock);
    pthread_join(val_thread, NULL);
    pthread_mutex_destroy(&vt.lock);
    pthread_cond_destroy(&vt.changed);
    free(order); free(rec); free(pts);
    free(err); free(vt.err);
    mt_arena_free(step);
    mt_sgd_free(opt);
    mt_module_free(model);
    mt_module_free(vt.copy);
    mt_mnist_free(&train);
    mt_mnist_free(&vt.val);
    mt_shutdown();
    mt_draw_shutdown();
    return 0;
}
