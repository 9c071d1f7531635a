/* test_fuzz_regress.c: Check suite replaying every kept fuzz input through the entry points the
 * libFuzzer targets use (tests/fuzz/fuzz_entry.h), with the normal compiler and no libFuzzer:
 * the seed corpora (tests/fuzz/corpus/<target>/) and the inputs that once crashed or misbehaved
 * (tests/fuzz/regress/<target>/). Each file is one test, named by its index in the order
 * listed by CK_VERBOSITY=verbose; a failure names the file.
 *
 * Every input must load cleanly or be rejected cleanly, with every check of fuzz_entry.h
 * passing. A file whose name starts with "ok-" must load and one starting with "bad-" must be
 * rejected; other names (what libFuzzer writes) may do either. */
#include <stdarg.h>
#include <stdio.h>

/* A misbehaviour fails the test case with the file's name and what was wrong. */
static void fz_suite_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
#define FZ_FAIL(...) fz_suite_fail(__VA_ARGS__)

#include "fuzz/fuzz_entry.h"
#include "test_util.h"

#include <dirent.h>

#ifndef MT_SOURCE_DIR
#define MT_SOURCE_DIR "."
#endif
#define FUZZ_DIR MT_SOURCE_DIR "/tests/fuzz"

static const char *const targets[] = { FZ_TARGETS };
#define NTARGETS N_OF(targets)

typedef struct kept_input {
    int target; /* index into targets */
    char path[512];
    size_t name; /* where the file name starts in path */
} kept_input;

static kept_input *inputs;
static int ninputs;
static int first_of[NTARGETS + 1]; /* inputs of target t: [first_of[t], first_of[t + 1]) */
static int ncorpus[NTARGETS];      /* how many of them are seeds */
static const char *current = "";   /* the file being replayed, for messages */

static void fz_suite_fail(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ck_abort_msg("%s: %s", current, msg);
}

static const char *name_of(const kept_input *k) { return k->path + k->name; }

static int by_path(const void *a, const void *b)
{
    return strcmp(((const kept_input *)a)->path, ((const kept_input *)b)->path);
}

/* Appends the regular files of dir (skipping names starting with '.' and README files) as
 * inputs of target t; returns how many. A missing directory holds none. */
static int list_dir(const char *dir, int t)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int start = ninputs;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0) continue;
        kept_input k = { .target = t };
        int len = snprintf(k.path, sizeof k.path, "%s/%s", dir, e->d_name);
        if (len < 0 || (size_t)len >= sizeof k.path) continue;
        struct stat st;
        if (stat(k.path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        kept_input *grown = realloc(inputs, (size_t)(ninputs + 1) * sizeof *inputs);
        if (!grown) abort();
        inputs = grown;
        inputs[ninputs++] = k;
    }
    closedir(d);
    qsort(inputs + start, (size_t)(ninputs - start), sizeof *inputs, by_path);
    for (int i = start; i < ninputs; i++)
        inputs[i].name = (size_t)(strrchr(inputs[i].path, '/') + 1 - inputs[i].path);
    return ninputs - start;
}

static void list_inputs(void)
{
    char dir[512];
    for (int t = 0; t < NTARGETS; t++) {
        first_of[t] = ninputs;
        snprintf(dir, sizeof dir, "%s/corpus/%s", FUZZ_DIR, targets[t]);
        ncorpus[t] = list_dir(dir, t);
        snprintf(dir, sizeof dir, "%s/regress/%s", FUZZ_DIR, targets[t]);
        list_dir(dir, t);
    }
    first_of[NTARGETS] = ninputs;
}

static int replay(int t, const unsigned char *data, size_t n)
{
    const char *name = targets[t];
    if (strcmp(name, "idx") == 0) return fz_idx_one(data, n);
    if (strcmp(name, "idx_gz") == 0) return fz_idx_gz_one(data, n);
    if (strcmp(name, "npy") == 0) return fz_npy_one(data, n);
    if (strcmp(name, "trace") == 0) return fz_trace_one(data, n);
    ck_abort_msg("no entry point for target %s", name);
    return -1;
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* One kept input: replayed twice (the loaders keep no state between calls), then held to the
 * outcome its name promises. */
START_TEST(test_replay)
{
    const kept_input *k = &inputs[_i];
    current = k->path;
    size_t n;
    unsigned char *data = fz_read_file(k->path, &n);
    ck_assert_msg(data != NULL, "cannot read %s", k->path);
    int got = replay(k->target, data, n);
    ck_assert_msg(replay(k->target, data, n) == got, "%s: a second replay ends differently",
                  k->path);
    free(data);
    if (strncmp(name_of(k), "ok-", 3) == 0)
        ck_assert_msg(got == FZ_LOADED, "%s: expected to load, but was rejected", k->path);
    if (strncmp(name_of(k), "bad-", 4) == 0)
        ck_assert_msg(got == FZ_REJECTED, "%s: expected to be rejected, but loaded", k->path);
}
END_TEST

/* Every target has seeds, among them some that load and some that do not. */
START_TEST(test_corpora_present)
{
    for (int t = 0; t < NTARGETS; t++) {
        ck_assert_msg(ncorpus[t] > 0, "no seeds in %s/corpus/%s", FUZZ_DIR, targets[t]);
        int ok = 0, bad = 0;
        for (int i = first_of[t]; i < first_of[t + 1]; i++) {
            ok += strncmp(name_of(&inputs[i]), "ok-", 3) == 0;
            bad += strncmp(name_of(&inputs[i]), "bad-", 4) == 0;
        }
        ck_assert_msg(ok > 0 && bad > 0, "%s: %d seeds named ok-, %d named bad-", targets[t], ok,
                      bad);
    }
}
END_TEST

static Suite *fuzz_regress_suite(void)
{
    Suite *s = suite_create("fuzz_regress");
    TCase *tc = tcase_create("corpora");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_corpora_present);
    suite_add_tcase(s, tc);
    for (int t = 0; t < NTARGETS; t++) {
        tc = tcase_create(targets[t]);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 60);
        if (first_of[t + 1] > first_of[t])
            tcase_add_loop_test(tc, test_replay, first_of[t], first_of[t + 1]);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    list_inputs();
    fz_scratch_init(); /* here, so that the forked test cases share it and none leaves one */
    int rc = run_suite(fuzz_regress_suite());
    free(inputs);
    return rc;
}
