/* test_util.h: helpers the Check suites share: running a suite, catching the library's error
 * messages, comparing doubles with a tolerance, and (on request) a scratch directory per test
 * case. Everything is static inline, so a suite compiles only what it calls and nothing warns. */
#ifndef MT_TEST_UTIL_H
#define MT_TEST_UTIL_H

#include <mytorch/mytorch.h>

#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The number of elements of an array (not of a pointer), as an int for loop counters. */
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Asserts the message err contains text, quoting both when it does not. */
#define ASSERT_ERR_HAS(err, text) \
    ck_assert_msg(strstr((err), (text)) != NULL, "message \"%s\" lacks \"%s\"", (err), (text))

/* Runs s (CK_VERBOSITY=verbose lists every test) and frees it; returns main's exit status. */
static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Checked teardown: frees every arena and the library's state, so valgrind sees no leak. */
static inline void teardown(void) { mt_shutdown(); }

/* ---- error messages ----------------------------------------------------------------------- */

/* What the error handler has seen: how many errors, and the last message. */
typedef struct error_log {
    int  count;
    char last[512];
} error_log;

/* The handler capture_errors installs: counts the message and keeps it in the error_log user. */
static inline void log_error(const char *message, void *user)
{
    error_log *log = user;
    log->count++;
    snprintf(log->last, sizeof log->last, "%s", message);
}

/* Empties log and sends every later mt_error to it (the caller owns log; it must outlive use). */
static inline void capture_errors(error_log *log)
{
    memset(log, 0, sizeof *log);
    mt_set_error_handler(log_error, log);
}

/* ---- tolerances --------------------------------------------------------------------------- */

/* True when |got - want| <= abs_tol + rel_tol * |want|; a NaN on either side is never close. */
static inline bool is_close(double got, double want, double rel_tol, double abs_tol)
{
    return fabs(got - want) <= abs_tol + rel_tol * fabs(want);
}

/* Asserts got[0..n) is_close to want[0..n), naming what[i] and both values on failure. */
static inline void expect_close(const char *what, const double *got, const double *want, size_t n,
                                double rel_tol, double abs_tol)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(is_close(got[i], want[i], rel_tol, abs_tol), "%s[%zu]: got %.17g, want %.17g",
                      what, i, got[i], want[i]);
}

/* ---- a scratch directory per test case ---------------------------------------------------- */

/* A suite that writes files defines TEST_TMP_DIR as a mkdtemp template (ending in XXXXXX)
 * before including this header, and _XOPEN_SOURCE 700 before any include (for nftw). */
#ifdef TEST_TMP_DIR

#if !defined(_XOPEN_SOURCE) || _XOPEN_SOURCE < 500
#error "test_util.h: the TEST_TMP_DIR helpers need _XOPEN_SOURCE 700 defined before any #include"
#endif

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_tmp[256]; /* this test case's directory, made by tmp_setup */

/* nftw callback for tmp_teardown: removes one entry, children before their directory. */
static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Unchecked setup: makes a fresh directory from TEST_TMP_DIR into g_tmp, or aborts. */
static inline void tmp_setup(void)
{
    snprintf(g_tmp, sizeof g_tmp, "%s", TEST_TMP_DIR);
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        abort();
    }
}

/* Unchecked teardown: removes g_tmp and all it holds, even if a test left it read-only. */
static inline void tmp_teardown(void)
{
    chmod(g_tmp, 0700);
    nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes the path of name inside g_tmp into the char array buf. */
#define TMP(buf, name) snprintf((buf), sizeof(buf), "%s/%s", g_tmp, (name))

/* True when path names something that exists (a file, a directory, ...). */
static inline bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Writes n bytes to path (created or truncated), asserting that it worked. */
static inline void write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* Reads a whole file into a malloc'd buffer (the caller frees it); *n is its length. */
static inline unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    *n = len;
    return buf;
}

/* How many entries of the directory dir have a name ending in suffix (".tmp": temporaries
 * left behind); -1 when dir cannot be listed. */
static inline int count_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    size_t sl = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l >= sl && strcmp(e->d_name + l - sl, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Asserts that no temporary (a name ending in ".tmp") is left in dir. */
#define ASSERT_NO_TMP(dir) \
    ck_assert_msg(count_suffix((dir), ".tmp") == 0, "%s holds %d *.tmp entries", (dir), \
                  count_suffix((dir), ".tmp"))

#endif /* TEST_TMP_DIR */

#endif /* MT_TEST_UTIL_H */
