/* test_mnist_cli.c: Check suite for the mytorch-mnist command line, run as a program on small
 * synthetic MNIST files: every bad input it must refuse (and the message it gives, as listed in
 * docs/bad-inputs.md), outputs checked before the first step, written through symbolic links
 * and as a set, interrupted runs, a loss that stops being finite; and the numerical edges of
 * the ops it trains with (huge logits, constant batch columns, saturated activations).
 *
 * The program is $MT_MNIST_BINARY, else bin/mytorch-mnist next to this suite's directory (as
 * make builds it: BUILD/tests/test_mnist_cli and BUILD/bin/mytorch-mnist, whatever BUILD is).
 * When it is not there the command-line tests say so and are skipped. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, realpath, symlink, kill */
#endif

#include "mytorch/io.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define TEST_TMP_DIR "/tmp/mt_test_cli_XXXXXX" /* one per TCase; each test makes its own below */
#include "test_util.h"

#define N_TRAIN 1400   /* 1,097,600 bytes of images: over 1 MiB, as the real training set */
#define N_VAL   200

static char g_bin[PATH_MAX];   /* the program; empty when it cannot be found */

/* ---- running the program ------------------------------------------------------------------ */

typedef struct run_result {
    int status;        /* exit status, or -1 when killed by a signal */
    int signal;        /* the signal that ended it, or 0 */
    char *out, *err;   /* everything it wrote (malloc'd, NUL-terminated) */
} run_result;

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Appends what is ready on fd to *buf; false at end of file. */
static bool drain(int fd, char **buf, size_t *len, size_t *cap)
{
    if (*len + 4097 > *cap) {
        *cap = (*cap + 4097) * 2;
        *buf = realloc(*buf, *cap);
        ck_assert_ptr_nonnull(*buf);
    }
    ssize_t n = read(fd, *buf + *len, 4096);
    if (n <= 0)
        return n < 0 && errno == EINTR;
    *len += (size_t)n;
    (*buf)[*len] = '\0';
    return true;
}

/* Runs the program with args (NULL-terminated, without argv[0]) in the directory cwd. When
 * sig is not 0 it is sent once the program's stderr contains when. Gives up after 120 s. */
static run_result run_in(const char *cwd, const char *const *args, int sig, const char *when)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = g_bin;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    int po[2], pe[2];
    ck_assert_int_eq(pipe(po), 0);
    ck_assert_int_eq(pipe(pe), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* a clean start: default signal actions and mask, whatever started this suite */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        dup2(po[1], STDOUT_FILENO);
        dup2(pe[1], STDERR_FILENO);
        close(po[0]);
        close(pe[0]);
        close(po[1]);
        close(pe[1]);
        if (chdir(cwd) != 0)
            _exit(126);
        execv(g_bin, (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    run_result r = { 0, 0, calloc(1, 1), calloc(1, 1) };
    size_t ol = 0, oc = 1, el = 0, ec = 1;
    bool open_o = true, open_e = true, sent = false;
    time_t start = time(NULL);
    while (open_o || open_e) {
        struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
        int k = poll(p, 2, 1000);
        if (k < 0 && errno != EINTR)
            break;
        if (open_o && (p[0].revents & (POLLIN | POLLHUP)))
            open_o = drain(po[0], &r.out, &ol, &oc);
        if (open_e && (p[1].revents & (POLLIN | POLLHUP)))
            open_e = drain(pe[0], &r.err, &el, &ec);
        if (sig && !sent && strstr(r.err, when)) {
            kill(pid, sig);
            sent = true;
        }
        if (time(NULL) - start > 120) {
            kill(pid, SIGKILL);
            ck_abort_msg("mytorch-mnist ran for more than 120 s; stderr so far: %s", r.err);
        }
    }
    close(po[0]);
    close(pe[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return r;
}

#define RUN(cwd, ...) run_in((cwd), (const char *const[]){ __VA_ARGS__, NULL }, 0, NULL)

/* Asserts the run ended with status st. */
#define ASSERT_STATUS(r, st) \
    ck_assert_msg((r).status == (st), "exit status %d (signal %d), want %d; stderr: %s", \
                  (r).status, (r).signal, (st), (r).err)

/* Asserts the run ended with status st and that its stderr holds text. */
#define ASSERT_RUN(r, st, text) \
    do { \
        ASSERT_STATUS(r, st); \
        ASSERT_ERR_HAS((r).err, (text)); \
    } while (0)

/* Skips a command-line test when the program is not there. */
#define NEED_BINARY() \
    do { if (!g_bin[0]) return; } while (0)

/* ---- synthetic MNIST ------------------------------------------------------------------------ */

static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* An IDX file in memory: header for ndim dims, then the bytes of data; *n is its length. */
static unsigned char *idx_bytes(uint32_t magic, int ndim, const uint32_t *dims,
                                const unsigned char *data, size_t datalen, size_t *n)
{
    unsigned char *b = malloc(4 + 4 * (size_t)ndim + datalen);
    ck_assert_ptr_nonnull(b);
    put_be32(b, magic);
    for (int i = 0; i < ndim; i++)
        put_be32(b + 4 + 4 * i, dims[i]);
    memcpy(b + 4 + 4 * ndim, data, datalen);
    *n = 4 + 4 * (size_t)ndim + datalen;
    return b;
}

static void write_gz_file(const char *path, const unsigned char *b, size_t n)
{
    gzFile f = gzopen(path, "wb1");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_int_eq(gzwrite(f, b, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(f), Z_OK);
}

/* Writes DIR/PREFIX-images-idx3-ubyte.gz (count 28x28 images: sparse noise, as digits are
 * mostly background) and DIR/PREFIX-labels-idx1-ubyte.gz (i % 10, label_at_bad when >= 0
 * set to bad). */
static void write_mnist(const char *dir, const char *prefix, uint32_t count, long label_at,
                        unsigned char bad)
{
    size_t np = (size_t)count * 784, n;
    unsigned char *px = malloc(np), *lb = malloc(count);
    uint32_t s = 12345u + count;
    for (size_t i = 0; i < np; i++) {
        s = s * 1664525u + 1013904223u;
        px[i] = (s >> 28) < 4 ? (unsigned char)(s >> 20) : 0;
    }
    for (uint32_t i = 0; i < count; i++)
        lb[i] = (unsigned char)(i % 10);
    if (label_at >= 0)
        lb[label_at] = bad;
    char path[PATH_MAX + 64];
    uint32_t idims[3] = { count, 28, 28 }, ldims[1] = { count };
    unsigned char *b = idx_bytes(0x803, 3, idims, px, np, &n);
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    write_gz_file(path, b, n);
    free(b);
    b = idx_bytes(0x801, 1, ldims, lb, count, &n);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    write_gz_file(path, b, n);
    free(b);
    free(px);
    free(lb);
}

/* A fresh directory g_tmp/name (the TCase's directory is shared) with a data/ of synthetic
 * MNIST files in it. */
static void fresh_dir(char *buf, size_t n, const char *name, bool with_data)
{
    snprintf(buf, n, "%s/%s", g_tmp, name);
    ck_assert_int_eq(mkdir(buf, 0700), 0);
    if (with_data) {
        char data[PATH_MAX + 16];
        snprintf(data, sizeof data, "%s/data", buf);
        ck_assert_int_eq(mkdir(data, 0700), 0);
        write_mnist(data, "train", N_TRAIN, -1, 0);
        write_mnist(data, "t10k", N_VAL, -1, 0);
    }
}

#define FRESH(d, name) \
    char d[PATH_MAX]; \
    fresh_dir(d, sizeof d, (name), true)

/* The options of a quick run (one epoch of 14 batches, validating every 5). */
#define QUICK "--no-gradcheck", "--data", "data", "--epochs", "1", "--val-every", "5"

static char *in_dir(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ---- the command line ----------------------------------------------------------------------- */

START_TEST(cli_should_train_and_write_every_output)
{
    NEED_BINARY();
    FRESH(d, "train");
    run_result r = RUN(d, QUICK, "--quiet", "--csv", "a.csv", "--plot", "a.png", "--save-weights",
                       "w");
    ASSERT_STATUS(r, 0);
    ASSERT_ERR_HAS(r.out, "final validation accuracy");
    char *csv = in_dir(d, "a.csv"), *png = in_dir(d, "a.png"), *w = in_dir(d, "w");
    size_t n;
    unsigned char *text = read_bytes(csv, &n);
    ck_assert(n > 40
              && memcmp(text, "epoch,batch,samples_seen,train_loss,val_accuracy\n", 49) == 0);
    free(text);
    ck_assert(file_exists(png));
    ck_assert_int_eq(count_suffix(w, ".npy"), 8);
    ASSERT_NO_TMP(d);
    free(csv);
    free(png);
    free(w);
    run_free(&r);
}
END_TEST

START_TEST(cli_should_reject_a_gzip_file_that_fails_its_checks)
{
    NEED_BINARY();
    FRESH(d, "gzip");
    char *path = in_dir(d, "data/train-images-idx3-ubyte.gz");
    size_t n;
    unsigned char *gz = read_bytes(path, &n);
    write_bytes(path, gz, n - 8);                            /* no CRC, no length */
    run_result r = RUN(d, QUICK, "--csv", "a.csv");
    ASSERT_RUN(r, 1, "mytorch-mnist: file data/train-images-idx3-ubyte.gz: gzip stream "
                     "truncated: the file ends before the end of the compressed data, so its "
                     "CRC/length check cannot be made");
    ck_assert(strstr(r.err, "training on") == NULL);
    ck_assert_int_eq(count_suffix(d, ".csv"), 0);
    run_free(&r);

    unsigned char *junk = malloc(n + 3);
    memcpy(junk, gz, n);
    memcpy(junk + n, "abc", 3);
    write_bytes(path, junk, n + 3);                          /* bytes after the stream */
    r = RUN(d, QUICK);
    ASSERT_RUN(r, 1, "3 bytes after the end of the gzip stream (not gzip data)");
    run_free(&r);

    junk[n - 8] ^= 0x01;                                     /* a CRC that does not match */
    write_bytes(path, junk, n);
    r = RUN(d, QUICK);
    ASSERT_RUN(r, 1, "gzip stream corrupt: CRC check failed");
    run_free(&r);
    free(junk);
    free(gz);
    free(path);
}
END_TEST

START_TEST(cli_should_reject_bad_numbers_naming_the_flag_and_its_range)
{
    NEED_BINARY();
    FRESH(d, "numbers");
    static const char *const cases[][3] = {
        { "--epochs", "-1", "--epochs expects a whole number from 1 to 1000, got '-1'" },
        { "--epochs", "0", "--epochs expects a whole number from 1 to 1000, got '0'" },
        { "--lr", "nan", "--lr expects a number from 0 to 1000, got 'nan'" },
        { "--lr", "inf", "--lr expects a number from 0 to 1000, got 'inf'" },
        { "--lr", "0.1x", "--lr expects a number from 0 to 1000, got '0.1x'" },
        { "--batch-size", "0", "--batch-size expects a whole number from 2 to 60000, got '0'" },
        { "--batch-size", "1", "--batch-size expects a whole number from 2 to 60000, got '1'" },
        { "--momentum", "1", "--momentum expects a number from 0 to 0.999999, got '1'" },
        { "--val-every", "0", "--val-every expects a whole number from 1 to 1000000, got '0'" },
        { "--limit", "99999999999999999999", "--limit expects a whole number from 2 to 100000000" },
        { "--seed", "-5", "--seed expects a whole number from 0 to 2147483647, got '-5'" },
    };
    for (int i = 0; i < N_OF(cases); i++) {
        run_result r = RUN(d, QUICK, cases[i][0], cases[i][1]);
        ASSERT_RUN(r, 2, cases[i][2]);
        ck_assert(strstr(r.err, "training on") == NULL);
        run_free(&r);
    }
    /* more batches than images: a command line that cannot work, found after the data */
    run_result r = RUN(d, QUICK, "--batch-size", "2000");
    ASSERT_RUN(r, 2, "--batch-size 2000 is larger than the 1400 training images");
    run_free(&r);
}
END_TEST

START_TEST(cli_should_call_an_ambiguous_abbreviation_ambiguous)
{
    NEED_BINARY();
    FRESH(d, "options");
    run_result r = RUN(d, "--l", "3");
    ASSERT_RUN(r, 2, "option '--l' is ambiguous: --lr, --limit, --load-weights");
    run_free(&r);
    r = RUN(d, "--no");
    ASSERT_RUN(r, 2, "option '--no' is ambiguous: --no-shuffle, --no-gradcheck");
    run_free(&r);
    r = RUN(d, "--bogus");
    ASSERT_RUN(r, 2, "unknown option '--bogus'");
    run_free(&r);
    r = RUN(d, "--lr");
    ASSERT_RUN(r, 2, "option '--lr' needs a value");
    run_free(&r);
    r = RUN(d, "--quiet=1");
    ASSERT_RUN(r, 2, "option '--quiet' takes no value, got '--quiet=1'");
    run_free(&r);
    r = RUN(d, "-x");
    ASSERT_RUN(r, 2, "unknown option '-x'");
    run_free(&r);
    r = RUN(d, "--he");                      /* a unique abbreviation still works */
    ASSERT_STATUS(r, 0);
    ASSERT_ERR_HAS(r.out, "usage: mytorch-mnist");
    run_free(&r);
}
END_TEST

START_TEST(cli_should_check_every_output_before_training)
{
    NEED_BINARY();
    FRESH(d, "outputs");
    char *file = in_dir(d, "plain"), *sub = in_dir(d, "sub"), *w = in_dir(d, "w");
    char *notes = in_dir(d, "w/notes.txt"), *link = in_dir(d, "a-link.csv");
    char *dot_tmp = in_dir(d, ".tmp");
    write_bytes(file, "x", 1);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(symlink("a.csv", link), 0);
    struct { const char *a, *b, *c, *d; int status; const char *want; } cases[] = {
        { "--save-weights", "plain", NULL, NULL, 1,
          "--save-weights: directory plain: is a regular file, not a directory" },
        { "--save-weights", "missing/w", NULL, NULL, 1,
          "--save-weights: directory missing/w: the directory missing does not exist" },
        { "--plot", "sub", NULL, NULL, 1,
          "--plot: file sub: is a directory, not a regular file; refusing to replace it" },
        { "--csv", "sub", NULL, NULL, 1,
          "--csv: file sub: is a directory, not a regular file; refusing to replace it" },
        { "--csv", "", NULL, NULL, 1, "--csv: the file name is empty" },
        { "--plot", "", NULL, NULL, 1, "--plot: the file name is empty" },
        { "--csv", "missing/a.csv", NULL, NULL, 1,
          "--csv: file missing/a.csv: the directory missing does not exist" },
        { "--csv", "plain/a.csv", NULL, NULL, 1, "--csv: file plain/a.csv: Not a directory" },
        { "--csv", "/dev/null", NULL, NULL, 1,
          "--csv: file /dev/null: is a character device, not a regular file; refusing to "
          "replace it" },
        { "--plot", "a.csv", "--csv", "./a.csv", 2,
          "--plot a.csv and --csv ./a.csv are the same file" },
        { "--plot", "a-link.csv", "--csv", "a.csv", 2,
          "--plot a-link.csv and --csv a.csv are the same file" },
        { "--save-weights", "sub", "--csv", "sub/a.csv", 2,
          "--csv sub/a.csv is inside the --save-weights directory sub, which is replaced as a "
          "whole" },
        { "--load-weights", "missing", NULL, NULL, 1,
          "--load-weights missing: No such file or directory" },
        { "--load-weights", "plain", NULL, NULL, 1, "--load-weights plain: not a directory" },
    };
    for (int i = 0; i < N_OF(cases); i++) {
        run_result r = cases[i].c
            ? RUN(d, QUICK, cases[i].a, cases[i].b, cases[i].c, cases[i].d)
            : RUN(d, QUICK, cases[i].a, cases[i].b);
        ASSERT_RUN(r, cases[i].status, cases[i].want);
        ck_assert_msg(strstr(r.err, "training on") == NULL, "case %d trained first", i);
        run_free(&r);
    }
    /* a --save-weights directory that holds something else */
    ck_assert_int_eq(mkdir(w, 0700), 0);
    write_bytes(notes, "mine", 4);
    run_result r = RUN(d, QUICK, "--save-weights", "w");
    ASSERT_RUN(r, 1, "--save-weights: directory w: holds 'notes.txt', which is not one of the "
                     "files saved there");
    ck_assert(strstr(r.err, "training on") == NULL);
    run_free(&r);
    ck_assert(file_exists(notes));
    if (geteuid() != 0) {
        chmod(sub, 0500);
        r = RUN(d, QUICK, "--csv", "sub/a.csv");
        ASSERT_RUN(r, 1, "--csv: file sub/a.csv: cannot write in the directory sub: Permission "
                         "denied");
        run_free(&r);
        chmod(sub, 0700);
    }
    /* none of this left a file behind: no "./.tmp" from --csv "", no temporaries */
    ck_assert(!file_exists(dot_tmp));
    ASSERT_NO_TMP(d);
    ck_assert_int_eq(count_suffix(d, ".csv"), 1);          /* a-link.csv only */
    free(file);
    free(sub);
    free(w);
    free(notes);
    free(link);
    free(dot_tmp);
}
END_TEST

START_TEST(cli_should_write_through_a_symlink_and_keep_it)
{
    NEED_BINARY();
    FRESH(d, "symlink");
    char *runs = in_dir(d, "runs"), *target = in_dir(d, "runs/1.csv"), *link = in_dir(d, "out.csv");
    ck_assert_int_eq(mkdir(runs, 0700), 0);
    write_bytes(target, "old", 3);
    ck_assert_int_eq(symlink("runs/1.csv", link), 0);
    run_result r = RUN(d, QUICK, "--quiet", "--csv", "out.csv", "--plot", "runs/p.png");
    ASSERT_STATUS(r, 0);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    size_t n;
    unsigned char *text = read_bytes(target, &n);
    ck_assert(n > 49 && memcmp(text, "epoch,", 6) == 0);
    free(text);
    ASSERT_NO_TMP(d);
    ASSERT_NO_TMP(runs);
    run_free(&r);
    free(runs);
    free(target);
    free(link);
}
END_TEST

/* Sets element k of the array in path to v (through the library's own .npy reader/writer). */
static void poke_npy(const char *path, size_t k, double v)
{
    double *data;
    int nd, sh[4];
    char err[2048];
    ck_assert_msg(mt_npy_load(path, &data, &nd, sh, err, sizeof err) == 0, "%s", err);
    data[k] = v;
    ck_assert_msg(mt_npy_save(path, data, nd, sh, err, sizeof err) == 0, "%s", err);
    free(data);
}

/* Saves a trained set as d/w and copies it to d/bad (the weights the next run loads). */
static void make_weights(const char *d)
{
    run_result r = RUN(d, QUICK, "--quiet", "--save-weights", "w");
    ASSERT_STATUS(r, 0);
    run_free(&r);
    char *bad = in_dir(d, "bad");
    ck_assert_int_eq(mkdir(bad, 0700), 0);
    static const char *const keys[] = { "0.weight", "0.bias", "1.weight", "1.bias",
                                        "1.running_mean", "1.running_var", "3.weight", "3.bias" };
    for (int i = 0; i < N_OF(keys); i++) {
        char from[PATH_MAX + 64], to[PATH_MAX + 64];
        snprintf(from, sizeof from, "%s/w/%s.npy", d, keys[i]);
        snprintf(to, sizeof to, "%s/bad/%s.npy", d, keys[i]);
        size_t n;
        unsigned char *b = read_bytes(from, &n);
        write_bytes(to, b, n);
        free(b);
    }
    free(bad);
}

START_TEST(cli_should_save_weights_as_a_set_and_load_them)
{
    NEED_BINARY();
    FRESH(d, "set");
    make_weights(d);                                 /* a first save: w is new */
    char *w = in_dir(d, "w"), *f = in_dir(d, "w/0.weight.npy");
    struct stat before, after;
    ck_assert_int_eq(stat(f, &before), 0);
    run_result r = RUN(d, QUICK, "--quiet", "--seed", "4", "--save-weights", "w");
    ASSERT_STATUS(r, 0);                            /* a second: w replaced whole */
    run_free(&r);
    ck_assert_int_eq(stat(f, &after), 0);
    ck_assert(before.st_ino != after.st_ino);
    ck_assert_int_eq(count_suffix(w, ""), 10);       /* ".", "..", 8 weight files */
    ASSERT_NO_TMP(d);
    r = RUN(d, QUICK, "--quiet", "--load-weights", "w", "--save-weights", "w");
    ASSERT_STATUS(r, 0);
    run_free(&r);
    free(w);
    free(f);
}
END_TEST

START_TEST(cli_should_reject_loaded_weights_that_are_not_finite)
{
    NEED_BINARY();
    FRESH(d, "loaded");
    make_weights(d);
    struct { const char *key; size_t k; double v; const char *want; } cases[] = {
        { "0.weight", 2 * 784 + 17, NAN,
          "bad/0.weight.npy: element 1585 (index [2, 17] of shape (20, 784)) is nan; every "
          "loaded value must be finite" },
        { "3.bias", 9, -INFINITY,
          "bad/3.bias.npy: element 9 (index [9] of shape (10,)) is -inf; every loaded value "
          "must be finite" },
        { "1.running_mean", 0, INFINITY, "bad/1.running_mean.npy: element 0 (index [0] of "
          "shape (20,)) is inf" },
        { "1.running_var", 3, -0.5,
          "bad/1.running_var.npy: element 3 (index [3] of shape (20,)) is -0.5; a running "
          "variance must be positive" },
        { "1.running_var", 4, 0.0, "element 4 (index [4] of shape (20,)) is 0; a running "
          "variance must be positive" },
    };
    for (int i = 0; i < N_OF(cases); i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/bad/%s.npy", d, cases[i].key);
        size_t n;
        unsigned char *keep = read_bytes(path, &n);
        poke_npy(path, cases[i].k, cases[i].v);
        run_result r = RUN(d, QUICK, "--load-weights", "bad");
        ASSERT_RUN(r, 1, cases[i].want);
        ASSERT_ERR_HAS(r.err, "mytorch-mnist: --load-weights: file bad/");
        ck_assert(strstr(r.err, "training on") == NULL);
        ck_assert(strstr(r.err, "--lr") == NULL);      /* not blamed on the learning rate */
        run_free(&r);
        write_bytes(path, keep, n);
        free(keep);
    }
}
END_TEST

START_TEST(cli_should_name_a_missing_or_misshapen_weight_file)
{
    NEED_BINARY();
    FRESH(d, "misshapen");
    make_weights(d);
    char *bias = in_dir(d, "bad/3.bias.npy"), *other = in_dir(d, "w/1.bias.npy");
    ck_assert_int_eq(remove(bias), 0);
    run_result r = RUN(d, QUICK, "--load-weights", "bad");
    ASSERT_RUN(r, 1, "mytorch-mnist: --load-weights: file bad/3.bias.npy: cannot open: No such "
                     "file or directory");
    run_free(&r);
    size_t n;
    unsigned char *b = read_bytes(other, &n);               /* (20,) where (10,) belongs */
    write_bytes(bias, b, n);
    free(b);
    r = RUN(d, QUICK, "--load-weights", "bad");
    ASSERT_RUN(r, 1, "mytorch-mnist: --load-weights: file bad/3.bias.npy: shape (20,) but "
                     "expected (10,)");
    run_free(&r);
    free(bias);
    free(other);
}
END_TEST

/* Reads a text file into a NUL-terminated malloc'd string. */
static char *read_text(const char *path)
{
    size_t n;
    char *t = (char *)read_bytes(path, &n);
    t = realloc(t, n + 1);
    t[n] = '\0';
    return t;
}

START_TEST(cli_should_stop_on_a_loss_that_is_not_finite_and_keep_the_good_outputs)
{
    NEED_BINARY();
    FRESH(d, "nan");
    make_weights(d);
    /* BatchNorm's scale at 1e305: the first step's loss is finite, and the step it takes at
     * lr 1000 makes the next loss overflow */
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/bad/1.weight.npy", d);
    for (size_t k = 0; k < 20; k++)
        poke_npy(path, k, 1e305);
    char *old = in_dir(d, "w/0.weight.npy"), *csv = in_dir(d, "a.csv");
    size_t n0;
    unsigned char *before = read_bytes(old, &n0);
    run_result r = RUN(d, QUICK, "--load-weights", "bad", "--val-every", "1", "--lr", "1000",
                       "--csv", "a.csv", "--plot", "a.png", "--save-weights", "w");
    ASSERT_RUN(r, 1, "mytorch-mnist: step 2 (epoch 1, batch 1): the training loss is nan; "
                     "stopping. Try a smaller --lr.");
    ASSERT_ERR_HAS(r.err, "mytorch-mnist: the 1 validation before it was written to --csv a.csv, "
                          "--plot a.png; not written: --save-weights w");
    run_free(&r);
    /* the CSV holds the one good validation; the weights saved before are still there */
    char *text = read_text(csv);
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    ck_assert_msg(strncmp(text, "epoch,batch,samples_seen,train_loss,val_accuracy\n1,0,100,", 57)
                  == 0 && lines == 2, "CSV: %s", text);
    ck_assert(strstr(text, "nan") == NULL && strstr(text, "inf") == NULL);
    size_t n1;
    unsigned char *after = read_bytes(old, &n1);
    ck_assert(n0 == n1 && memcmp(before, after, n0) == 0);
    ASSERT_NO_TMP(d);

    /* a loss that is infinite from the first step: nothing good to write, nothing replaced */
    for (size_t k = 0; k < 20; k++)
        poke_npy(path, k, 1e307);
    r = RUN(d, QUICK, "--load-weights", "bad", "--csv", "a.csv", "--plot", "a.png");
    ASSERT_RUN(r, 1, "mytorch-mnist: step 1 (epoch 1, batch 0): the training loss is inf; "
                     "stopping.");
    ASSERT_ERR_HAS(r.err, "no validation was made before it; not written: --csv a.csv, --plot "
                          "a.png");
    char *again = read_text(csv);
    ck_assert_str_eq(again, text);
    free(again);
    free(text);
    free(csv);
    free(before);
    free(after);
    free(old);
    run_free(&r);
}
END_TEST

START_TEST(cli_should_clean_up_and_say_so_when_interrupted)
{
    NEED_BINARY();
    FRESH(d, "signal");
    static const int sigs[2] = { SIGTERM, SIGINT };
    static const char *const names[2] = { "SIGTERM", "SIGINT" };
    for (int i = 0; i < 2; i++) {
        run_result r = run_in(d, (const char *const[]){ "--no-gradcheck", "--data", "data",
                                                        "--epochs", "1000", "--csv", "a.csv",
                                                        "--plot", "a.png", "--save-weights", "w",
                                                        NULL },
                              sigs[i], "training on");
        ck_assert_msg(r.signal == sigs[i], "ended with status %d signal %d; stderr: %s", r.status,
                      r.signal, r.err);
        char want[200];
        snprintf(want, sizeof want, "mytorch-mnist: interrupted by %s during training, after "
                 "step ", names[i]);
        ASSERT_ERR_HAS(r.err, want);
        ASSERT_ERR_HAS(r.err, " of 14000; not written: --csv a.csv, --plot a.png, --save-weights "
                              "w (no temporary file is left behind)");
        ck_assert_int_eq(count_suffix(d, ".csv"), 0);
        ck_assert_int_eq(count_suffix(d, ".png"), 0);
        ASSERT_NO_TMP(d);
        run_free(&r);
    }
}
END_TEST

START_TEST(cli_should_handle_paths_of_any_length)
{
    NEED_BINARY();
    FRESH(d, "long");
    /* four directory levels of 240 bytes: ~1,000 bytes of path, as deep as messages go */
    size_t cap = 4 * 256 + PATH_MAX;
    char *deep = malloc(cap);
    snprintf(deep, cap, "%s", d);
    for (int level = 0; level < 4; level++) {
        size_t l = strlen(deep);
        deep[l] = '/';
        memset(deep + l + 1, 'p' + level, 240);
        deep[l + 241] = '\0';
        ck_assert_int_eq(mkdir(deep, 0700), 0);
    }
    write_mnist(deep, "train", N_TRAIN, -1, 0);
    write_mnist(deep, "t10k", N_VAL, -1, 0);
    char *csv = in_dir(deep, "a.csv"), *w = in_dir(deep, "w"), *missing = in_dir(deep, "nothere");
    char *png = in_dir(deep, "a.png");
    run_result r = RUN(d, "--no-gradcheck", "--quiet", "--epochs", "1", "--data", deep, "--csv",
                       csv, "--plot", png, "--save-weights", w);
    ASSERT_STATUS(r, 0);
    ck_assert(file_exists(csv));
    ck_assert_int_eq(count_suffix(w, ".npy"), 8);
    run_free(&r);
    r = RUN(d, "--no-gradcheck", "--data", deep, "--load-weights", missing);
    ASSERT_RUN(r, 1, missing);                       /* the whole path, not a cut one */
    run_free(&r);
    char *lw = in_dir(deep, "w/0.weight.npy");
    poke_npy(lw, 0, NAN);
    r = RUN(d, "--no-gradcheck", "--data", deep, "--load-weights", w);
    ASSERT_RUN(r, 1, lw);
    ASSERT_ERR_HAS(r.err, "is nan; every loaded value must be finite");
    run_free(&r);
    r = RUN(d, "--no-gradcheck", "--data", missing);
    ASSERT_RUN(r, 1, "nothere/train-images-idx3-ubyte.gz: cannot open: No such file or directory");
    ASSERT_ERR_HAS(r.err, missing);
    run_free(&r);
    free(lw);
    free(png);
    free(csv);
    free(w);
    free(missing);
    free(deep);
}
END_TEST

START_TEST(cli_should_reject_bad_data_files)
{
    NEED_BINARY();
    FRESH(d, "data");
    char data[PATH_MAX + 16];
    snprintf(data, sizeof data, "%s/data", d);
    write_mnist(data, "t10k", N_VAL, 17, 10);                 /* a label of 10 */
    run_result r = RUN(d, QUICK);
    ASSERT_RUN(r, 1, "t10k-labels-idx1-ubyte.gz: label at index 17 is 10, expected 0-9");
    run_free(&r);
    write_mnist(data, "t10k", N_VAL, -1, 0);
    char *labels = in_dir(data, "train-labels-idx1-ubyte.gz");
    uint32_t dims[1] = { N_TRAIN - 1 };
    unsigned char lb[N_TRAIN] = { 0 };
    size_t n;
    unsigned char *b = idx_bytes(0x801, 1, dims, lb, N_TRAIN - 1, &n);
    write_gz_file(labels, b, n);                              /* one label short */
    free(b);
    r = RUN(d, QUICK);
    ASSERT_RUN(r, 1, "count mismatch: file data/train-images-idx3-ubyte.gz holds 1400 images but "
                     "file data/train-labels-idx1-ubyte.gz holds 1399 labels");
    run_free(&r);
    b = idx_bytes(0x803, 1, dims, lb, N_TRAIN - 1, &n);      /* images' magic on labels */
    write_gz_file(labels, b, n);
    free(b);
    r = RUN(d, QUICK);
    ASSERT_RUN(r, 1, "data/train-labels-idx1-ubyte.gz: bad magic number 0x00000803, expected "
                     "0x00000801 (IDX labels: uint8, 1 dimension)");
    run_free(&r);
    free(labels);
}
END_TEST

/* ---- the first step's graph: --export-graph, --export-dot ----------------------------------- */

/* The node of tr labelled label, or -1. */
static int node_labelled(const mt_trace *tr, const char *label)
{
    for (int i = 0; i < tr->nnodes; i++)
        if (strcmp(tr->nodes[i].label, label) == 0)
            return i;
    return -1;
}

START_TEST(cli_should_export_the_first_step_as_a_trace_that_loads)
{
    NEED_BINARY();
    FRESH(d, "trace");
    run_result r = RUN(d, QUICK, "--quiet", "--export-graph", "g.json");
    ASSERT_STATUS(r, 0);
    ASSERT_ERR_HAS(r.out, "final validation accuracy");       /* it trained on after it */
    run_free(&r);
    char *path = in_dir(d, "g.json"), err[4096];
    mt_trace *tr = mt_trace_load(path, err, sizeof err);
    ck_assert_msg(tr != NULL, "%s", err);
    ck_assert_str_eq(tr->title, "mnist-step");
    /* Linear(x, W, b) -> BatchNorm1d(., gamma, beta) -> ReLU -> Linear(., W, b) ->
     * cross_entropy(., labels): 5 ops, 6 parameters, 2 constants (x and the labels); 12 edges
     * (3 + 3 + 1 + 3 + 2 operands) */
    int kinds[3] = { 0, 0, 0 };
    for (int i = 0; i < tr->nnodes; i++)
        kinds[tr->nodes[i].kind]++;
    ck_assert_int_eq(tr->nnodes, 13);
    ck_assert_int_eq(kinds[MT_TRACE_BACKWARD_FUNCTION], 5);
    ck_assert_int_eq(kinds[MT_TRACE_ACCUMULATE_GRAD], 6);
    ck_assert_int_eq(kinds[MT_TRACE_CONSTANT], 2);
    ck_assert_int_eq(tr->nedges, 12);
    /* one backward, the trainer's: topological, from the loss, without an error */
    ck_assert_int_eq(tr->nwalks, 1);
    ck_assert_int_eq(tr->walks[0].traversal, MT_TOPO);
    ck_assert_int_eq(tr->walks[0].status, 0);
    int x = node_labelled(tr, "x"), labels = node_labelled(tr, "labels");
    int logits = node_labelled(tr, "logits"), loss = node_labelled(tr, "loss");
    ck_assert(x >= 0 && labels >= 0 && logits >= 0 && loss >= 0);
    ck_assert_int_eq(tr->nodes[x].kind, MT_TRACE_CONSTANT);
    ck_assert_int_eq(tr->nodes[x].value.shape.ndim, 2);        /* the batch: (100, 784) */
    ck_assert_int_eq(tr->nodes[x].value.shape.dim[0], 100);
    ck_assert_int_eq(tr->nodes[x].value.shape.dim[1], 784);
    ck_assert_int_eq(tr->nodes[labels].kind, MT_TRACE_CONSTANT);
    ck_assert_str_eq(tr->nodes[logits].op_name, "linear");
    ck_assert_str_eq(tr->nodes[loss].op_name, "cross_entropy");
    ck_assert_int_eq(tr->output, loss);
    ck_assert_int_eq(tr->walks[0].root, loss);
    static const char *const keys[] = { "0.weight", "0.bias", "1.weight", "1.bias", "3.weight",
                                        "3.bias" };
    for (int i = 0; i < N_OF(keys); i++) {
        int k = node_labelled(tr, keys[i]);
        ck_assert_msg(k >= 0 && tr->nodes[k].is_parameter, "no parameter node %s", keys[i]);
    }
    mt_trace_free(tr);
    ASSERT_NO_TMP(d);
    free(path);
}
END_TEST

/* True when name is an executable in a directory of $PATH. */
static bool on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char full[PATH_MAX + 64];
        snprintf(full, sizeof full, "%s/%s", *dir ? dir : ".", name);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}

START_TEST(cli_should_export_the_first_step_as_dot_that_graphviz_reads)
{
    NEED_BINARY();
    FRESH(d, "dot");
    run_result r = RUN(d, QUICK, "--quiet", "--export-dot", "g.dot");
    ASSERT_STATUS(r, 0);
    run_free(&r);
    char *dot = in_dir(d, "g.dot"), *svg = in_dir(d, "g.svg");
    char *text = read_text(dot);
    ck_assert_msg(strncmp(text, "digraph", 7) == 0, "DOT: %.200s", text);
    ASSERT_ERR_HAS(text, "loss = ");
    ASSERT_ERR_HAS(text, "logits = ");
    ASSERT_ERR_HAS(text, "0.weight");
    free(text);
    ASSERT_NO_TMP(d);
    if (on_path("dot")) {
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            execlp("dot", "dot", "-Tsvg", "-o", svg, dot, (char *)NULL);
            _exit(127);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "dot -Tsvg %s failed", dot);
        char *image = read_text(svg);
        ASSERT_ERR_HAS(image, "<svg");
        free(image);
    } else {
        fprintf(stderr, "test_mnist_cli: dot is not on PATH: %s is not drawn\n", dot);
    }
    free(dot);
    free(svg);
}
END_TEST

START_TEST(cli_should_train_the_same_when_exporting_the_graph)
{
    NEED_BINARY();
    FRESH(d, "same");
    run_result r = RUN(d, QUICK, "--quiet", "--csv", "a.csv", "--save-weights", "wa");
    ASSERT_STATUS(r, 0);
    run_free(&r);
    r = RUN(d, QUICK, "--quiet", "--csv", "b.csv", "--save-weights", "wb", "--export-graph",
            "g.json", "--export-dot", "g.dot");
    ASSERT_STATUS(r, 0);
    run_free(&r);
    static const char *const pairs[][2] = { { "a.csv", "b.csv" },
                                            { "wa/0.weight.npy", "wb/0.weight.npy" },
                                            { "wa/1.running_var.npy", "wb/1.running_var.npy" },
                                            { "wa/3.bias.npy", "wb/3.bias.npy" } };
    for (int i = 0; i < N_OF(pairs); i++) {
        char *a = in_dir(d, pairs[i][0]), *b = in_dir(d, pairs[i][1]);
        size_t na, nb;
        unsigned char *ba = read_bytes(a, &na), *bb = read_bytes(b, &nb);
        ck_assert_msg(na == nb && memcmp(ba, bb, na) == 0, "%s and %s differ", a, b);
        free(ba);
        free(bb);
        free(a);
        free(b);
    }
}
END_TEST

START_TEST(cli_should_check_the_graph_exports_before_training)
{
    NEED_BINARY();
    FRESH(d, "exports");
    char *sub = in_dir(d, "sub");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    struct { const char *a, *b, *c, *d; int status; const char *want; } cases[] = {
        { "--export-graph", "sub", NULL, NULL, 1,
          "--export-graph: file sub: is a directory, not a regular file; refusing to replace it" },
        { "--export-dot", "sub", NULL, NULL, 1,
          "--export-dot: file sub: is a directory, not a regular file; refusing to replace it" },
        { "--export-graph", "missing/g.json", NULL, NULL, 1,
          "--export-graph: file missing/g.json: the directory missing does not exist" },
        { "--export-dot", "missing/g.dot", NULL, NULL, 1,
          "--export-dot: file missing/g.dot: the directory missing does not exist" },
        { "--export-graph", "", NULL, NULL, 1, "--export-graph: the file name is empty" },
        { "--export-dot", "/dev/null", NULL, NULL, 1,
          "--export-dot: file /dev/null: is a character device, not a regular file" },
        { "--export-graph", "a.csv", "--csv", "./a.csv", 2,
          "--csv ./a.csv and --export-graph a.csv are the same file" },
        { "--export-dot", "g", "--export-graph", "./g", 2,
          "--export-graph ./g and --export-dot g are the same file" },
        { "--export-dot", "p.png", "--plot", "p.png", 2,
          "--plot p.png and --export-dot p.png are the same file" },
        { "--save-weights", "sub", "--export-graph", "sub/g.json", 2,
          "--export-graph sub/g.json is inside the --save-weights directory sub" },
    };
    for (int i = 0; i < N_OF(cases); i++) {
        run_result r = cases[i].c
            ? RUN(d, QUICK, cases[i].a, cases[i].b, cases[i].c, cases[i].d)
            : RUN(d, QUICK, cases[i].a, cases[i].b);
        ASSERT_RUN(r, cases[i].status, cases[i].want);
        ck_assert_msg(strstr(r.err, "training on") == NULL, "case %d trained first", i);
        run_free(&r);
    }
    ASSERT_NO_TMP(d);
    ASSERT_NO_TMP(sub);
    ck_assert_int_eq(count_suffix(d, ".csv") + count_suffix(d, ".json"), 0);
    free(sub);
}
END_TEST

START_TEST(cli_should_list_the_graph_exports_in_help_and_abbreviations)
{
    NEED_BINARY();
    FRESH(d, "help");
    run_result r = RUN(d, "--help");
    ASSERT_STATUS(r, 0);
    ASSERT_ERR_HAS(r.out, "  --export-graph FILE ");
    ASSERT_ERR_HAS(r.out, "  --export-dot FILE ");
    run_free(&r);
    r = RUN(d, "--export");
    ASSERT_RUN(r, 2, "option '--export' is ambiguous: --export-graph, --export-dot");
    run_free(&r);
    r = RUN(d, "--export-graph");
    ASSERT_RUN(r, 2, "option '--export-graph' needs a value");
    run_free(&r);
}
END_TEST

START_TEST(cli_should_count_the_graph_exports_as_outputs_when_stopped)
{
    NEED_BINARY();
    FRESH(d, "stopped");
    /* interrupted once the first validation (after step 1) is printed: both are written */
    run_result r = run_in(d, (const char *const[]){ "--no-gradcheck", "--data", "data",
                                                    "--epochs", "1000", "--csv", "a.csv",
                                                    "--plot", "a.png", "--export-graph", "g.json",
                                                    "--export-dot", "g.dot", NULL },
                          SIGTERM, "epoch 1 batch    0");
    ck_assert_msg(r.signal == SIGTERM, "ended with status %d signal %d; stderr: %s", r.status,
                  r.signal, r.err);
    ASSERT_ERR_HAS(r.err, "; not written: --csv a.csv, --plot a.png (no temporary file is left "
                          "behind)");
    char *g = in_dir(d, "g.json"), *dot = in_dir(d, "g.dot");
    ck_assert(file_exists(g) && file_exists(dot));
    run_free(&r);
    remove(g);
    remove(dot);

    /* a loss that is not finite: from step 2 the graph of step 1 is written, from step 1 not */
    make_weights(d);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/bad/1.weight.npy", d);
    for (size_t k = 0; k < 20; k++)
        poke_npy(path, k, 1e305);
    r = RUN(d, QUICK, "--load-weights", "bad", "--val-every", "1", "--lr", "1000", "--csv",
            "a.csv", "--plot", "a.png", "--export-graph", "g.json", "--export-dot", "g.dot");
    ASSERT_RUN(r, 1, "mytorch-mnist: the 1 validation before it was written to --csv a.csv, "
                     "--plot a.png; the first step's graph to --export-graph g.json, "
                     "--export-dot g.dot\n");
    ck_assert(file_exists(g) && file_exists(dot));
    run_free(&r);
    remove(g);
    remove(dot);
    for (size_t k = 0; k < 20; k++)
        poke_npy(path, k, 1e307);
    r = RUN(d, QUICK, "--load-weights", "bad", "--csv", "a.csv", "--export-graph", "g.json",
            "--export-dot", "g.dot");
    ASSERT_RUN(r, 1, "no validation was made before it; not written: --export-graph g.json, "
                     "--export-dot g.dot, --csv a.csv, --plot validation_accuracy.png\n");
    ck_assert(!file_exists(g) && !file_exists(dot));
    ASSERT_NO_TMP(d);
    run_free(&r);
    free(g);
    free(dot);
}
END_TEST

/* ---- the ops at their numerical edges -------------------------------------------------------- */

#define GRAD(t) mt_requires_grad((t), true)

static void assert_all_finite(const char *what, const mt_tensor *t)
{
    ck_assert_ptr_nonnull(t);
    for (size_t i = 0; i < t->numel; i++)
        ck_assert_msg(isfinite(t->data[i]), "%s[%zu] = %g", what, i, t->data[i]);
}

START_TEST(log_softmax_and_cross_entropy_should_stay_finite_for_huge_logits)
{
    /* LogSumExp subtracts the row maximum, so 1e300 neither overflows exp nor loses the rest */
    double v[6] = { 1e300, -1e300, 0, 1000, 1001, 999 };
    mt_tensor *x = GRAD(mt_from_data(MT_SHAPE(2, 3), v));
    mt_tensor *ls = mt_log_softmax(x, 1);
    assert_all_finite("log_softmax", ls);
    ck_assert_double_eq(ls->data[0], 0.0);
    ck_assert_double_eq(ls->data[1], -2e300);
    ck_assert_double_eq(ls->data[2], -1e300);
    ck_assert(is_close(ls->data[4], -0.40760596444437596, 1e-12, 0));
    ck_assert_int_eq(mt_backward(mt_sum(ls)), 0);
    assert_all_finite("grad", x->grad);
    ck_assert_double_eq(x->grad->data[0], -2.0);        /* 1 - 3 * softmax */

    mt_tensor *y = GRAD(mt_from_data(MT_SHAPE(2, 3), v));
    mt_tensor *ce = mt_cross_entropy(y, mt_from_data(MT_SHAPE(2), (double[]){ 1, 2 }));
    assert_all_finite("cross_entropy", ce);
    ck_assert(is_close(ce->data[0], (2e300 + 2.4076059644443806) / 2, 1e-15, 0));
    ck_assert_int_eq(mt_backward(ce), 0);
    assert_all_finite("cross_entropy grad", y->grad);
    ck_assert_double_eq(y->grad->data[0], 0.5);
    ck_assert_double_eq(y->grad->data[1], -0.5);

    /* a -inf logit is a class of probability 0, not a NaN */
    mt_tensor *z = GRAD(mt_from_data(MT_SHAPE(1, 3), (double[]){ -INFINITY, 0, 1 }));
    mt_tensor *lz = mt_log_softmax(z, 1);
    ck_assert(isinf(lz->data[0]) && lz->data[0] < 0);
    ck_assert(is_close(lz->data[2], -0.31326168751822286, 1e-12, 0));
    ck_assert_int_eq(mt_backward(mt_sum(lz)), 0);
    assert_all_finite("grad with a -inf logit", z->grad);
}
END_TEST

START_TEST(batch_norm_should_normalise_constant_and_offset_columns)
{
    /* column 0 is constant (variance 0: eps keeps it finite), column 1 sits on 1e12, where
     * E[x^2] - E[x]^2 would cancel to nothing */
    double v[8] = { 3, 1e12 + 1, 3, 1e12 + 2, 3, 1e12 + 3, 3, 1e12 + 4 };
    mt_tensor *x = GRAD(mt_from_data(MT_SHAPE(4, 2), v));
    mt_tensor *g = GRAD(mt_ones(MT_SHAPE(2))), *b = GRAD(mt_zeros(MT_SHAPE(2)));
    mt_tensor *y = mt_batch_norm(x, g, b, 1e-5);
    assert_all_finite("batch_norm", y);
    static const double want[4] = { -1.3416354, -0.44721181, 0.44721181, 1.3416354 };
    for (int i = 0; i < 4; i++) {
        ck_assert_double_eq(y->data[2 * i], 0.0);
        ck_assert_msg(is_close(y->data[2 * i + 1], want[i], 1e-6, 0), "row %d: %.9g", i,
                      y->data[2 * i + 1]);
    }
    ck_assert_int_eq(mt_backward(mt_sum(mt_mul(y, y))), 0);
    assert_all_finite("batch_norm grad x", x->grad);
    assert_all_finite("batch_norm grad gamma", g->grad);
}
END_TEST

START_TEST(sigmoid_and_tanh_should_saturate_without_nan)
{
    double v[5] = { -1000, -40, 0, 40, 1000 };
    mt_tensor *a = GRAD(mt_from_data(MT_SHAPE(5), v)), *b = GRAD(mt_from_data(MT_SHAPE(5), v));
    mt_tensor *s = mt_sigmoid(a), *t = mt_tanh(b);
    assert_all_finite("sigmoid", s);
    assert_all_finite("tanh", t);
    ck_assert_double_eq(s->data[0], 0.0);
    ck_assert_double_eq(s->data[4], 1.0);
    ck_assert_double_eq(t->data[0], -1.0);
    ck_assert_double_eq(t->data[4], 1.0);
    ck_assert_int_eq(mt_backward(mt_sum(s)), 0);
    ck_assert_int_eq(mt_backward(mt_sum(t)), 0);
    assert_all_finite("sigmoid grad", a->grad);
    assert_all_finite("tanh grad", b->grad);
    ck_assert_double_eq(a->grad->data[2], 0.25);
    ck_assert_double_eq(b->grad->data[2], 1.0);
}
END_TEST

START_TEST(elementwise_ops_should_give_the_ieee_results_pytorch_gives_at_their_edges)
{
    /* not errors: the values IEEE arithmetic (and PyTorch) give, so a model that reaches them
     * shows a non-finite loss, which the trainer stops on */
    mt_tensor *e = mt_exp(mt_from_data(MT_SHAPE(2), (double[]){ 1000, -1000 }));
    ck_assert(isinf(e->data[0]) && e->data[1] == 0.0);
    mt_tensor *x = GRAD(mt_from_data(MT_SHAPE(2), (double[]){ 0, 1 }));
    mt_tensor *l = mt_log(x);
    ck_assert(isinf(l->data[0]) && l->data[0] < 0);
    ck_assert_int_eq(mt_backward(mt_sum(l)), 0);
    ck_assert(isinf(x->grad->data[0]));
    mt_tensor *q = GRAD(mt_from_data(MT_SHAPE(2), (double[]){ 0, 4 }));
    ck_assert_int_eq(mt_backward(mt_sum(mt_sqrt(q))), 0);
    ck_assert(isinf(q->grad->data[0]));
    ck_assert_double_eq(q->grad->data[1], 0.25);
    mt_tensor *dv = mt_div(mt_from_data(MT_SHAPE(3), (double[]){ 1, 0, -1 }),
                           mt_zeros(MT_SHAPE(3)));
    ck_assert(isinf(dv->data[0]) && isnan(dv->data[1]) && isinf(dv->data[2]));
    mt_tensor *p = mt_pow(mt_from_data(MT_SHAPE(2), (double[]){ -2, 4 }), 0.5);
    ck_assert(isnan(p->data[0]));
    ck_assert_double_eq(p->data[1], 2.0);
    mt_tensor *m = mt_mean(mt_zeros(MT_SHAPE(0)));
    ck_assert(isnan(m->data[0]));                    /* the mean of nothing, as torch.mean */
}
END_TEST

/* ---- runner ------------------------------------------------------------------------------ */

/* Finds the program (see the top of this file) and puts its absolute path in g_bin. */
static void find_binary(const char *argv0)
{
    const char *env = getenv("MT_MNIST_BINARY");
    char self[PATH_MAX], guess[PATH_MAX + 32];
    if (env && *env) {
        snprintf(guess, sizeof guess, "%s", env);
    } else {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0)
            self[n] = '\0';
        else
            snprintf(self, sizeof self, "%s", argv0);
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(self, sizeof self, ".");
        snprintf(guess, sizeof guess, "%s/../bin/mytorch-mnist", self);
    }
    if (!realpath(guess, g_bin) || access(g_bin, X_OK) != 0) {
        fprintf(stderr, "test_mnist_cli: %s is not there (make _test builds it; or set "
                "MT_MNIST_BINARY): the command-line tests are skipped\n", guess);
        g_bin[0] = '\0';
    }
}

static Suite *cli_suite(void)
{
    Suite *s = suite_create("mnist_cli");
    TCase *cli = tcase_create("cli");
    tcase_add_unchecked_fixture(cli, tmp_setup, tmp_teardown);
    tcase_set_timeout(cli, 600);
    tcase_add_test(cli, cli_should_train_and_write_every_output);
    tcase_add_test(cli, cli_should_reject_a_gzip_file_that_fails_its_checks);
    tcase_add_test(cli, cli_should_reject_bad_numbers_naming_the_flag_and_its_range);
    tcase_add_test(cli, cli_should_call_an_ambiguous_abbreviation_ambiguous);
    tcase_add_test(cli, cli_should_check_every_output_before_training);
    tcase_add_test(cli, cli_should_write_through_a_symlink_and_keep_it);
    tcase_add_test(cli, cli_should_save_weights_as_a_set_and_load_them);
    tcase_add_test(cli, cli_should_reject_loaded_weights_that_are_not_finite);
    tcase_add_test(cli, cli_should_name_a_missing_or_misshapen_weight_file);
    tcase_add_test(cli, cli_should_stop_on_a_loss_that_is_not_finite_and_keep_the_good_outputs);
    tcase_add_test(cli, cli_should_clean_up_and_say_so_when_interrupted);
    tcase_add_test(cli, cli_should_handle_paths_of_any_length);
    tcase_add_test(cli, cli_should_reject_bad_data_files);
    tcase_add_test(cli, cli_should_export_the_first_step_as_a_trace_that_loads);
    tcase_add_test(cli, cli_should_export_the_first_step_as_dot_that_graphviz_reads);
    tcase_add_test(cli, cli_should_train_the_same_when_exporting_the_graph);
    tcase_add_test(cli, cli_should_check_the_graph_exports_before_training);
    tcase_add_test(cli, cli_should_list_the_graph_exports_in_help_and_abbreviations);
    tcase_add_test(cli, cli_should_count_the_graph_exports_as_outputs_when_stopped);
    suite_add_tcase(s, cli);

    TCase *num = tcase_create("numerics");
    tcase_add_checked_fixture(num, NULL, teardown);
    tcase_add_test(num, log_softmax_and_cross_entropy_should_stay_finite_for_huge_logits);
    tcase_add_test(num, batch_norm_should_normalise_constant_and_offset_columns);
    tcase_add_test(num, sigmoid_and_tanh_should_saturate_without_nan);
    tcase_add_test(num, elementwise_ops_should_give_the_ieee_results_pytorch_gives_at_their_edges);
    suite_add_tcase(s, num);
    return s;
}

int main(int argc, char **argv)
{
    (void)argc;
    find_binary(argv[0]);
    return run_suite(cli_suite());
}
