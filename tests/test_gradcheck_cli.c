/* test_gradcheck_cli.c: the "gradcheck_cli" suite: what only the mytorch-gradcheck command does,
 * checked by running the command of this build (the Makefile gives its path): its options and
 * how it refuses bad ones, the re-run and viewer hints, the tolerances it can be given
 * (PyTorch's among them), the error measurement, the margins --verbose prints, and the heatmap
 * PNGs. What the checker itself decides is test_gradcheck.c's. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */
#endif

#include "../gradcheck/gradcheck.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_TMP_DIR "/tmp/mt_test_gradcheck_cli_XXXXXX" /* tmp_setup makes one per test case */
#include "test_util.h"

/* The mytorch-gradcheck command of this build (the Makefile gives its path). */
#ifndef MT_GC_BINARY
#define MT_GC_BINARY MT_SOURCE_DIR "/build/bin/mytorch-gradcheck"
#endif

/* ---- the command ----------------------------------------------------------------------------- */

/* Runs the shell command line fmt, ... ("$GC" is the mytorch-gradcheck of this build) and
 * returns its exit status (-1 when it could not be run), with its stdout and stderr together
 * in *out (the caller frees). */
static int run_shell(char **out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int run_shell(char **out, const char *fmt, ...)
{
    ck_assert_msg(access(MT_GC_BINARY, X_OK) == 0, "%s is not there: build it first (make)",
                  MT_GC_BINARY);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    const char *head = "GC='" MT_GC_BINARY "'; { ", *tail = "; } 2>&1";
    size_t outlen, len;
    char *cmd = malloc(strlen(head) + (size_t)n + strlen(tail) + 1);
    strcpy(cmd, head);
    va_start(ap, fmt);
    vsnprintf(cmd + strlen(head), (size_t)n + 1, fmt, ap);
    va_end(ap);
    strcat(cmd, tail);
    FILE *p = popen(cmd, "r"), *text = open_memstream(out, &outlen);
    free(cmd);
    ck_assert(p && text);
    char chunk[4096];
    while ((len = fread(chunk, 1, sizeof chunk, p)) > 0) fwrite(chunk, 1, len, text);
    fclose(text);
    int status = pclose(p);
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(command_should_refuse_a_tolerance_out_of_range_with_status_2)
{
    const char *bad[][2] = {
        { "--eps 0", "--eps: '0' is outside the accepted range [1e-12, 0.1]" },
        { "--eps=0.5", "--eps: '0.5' is outside the accepted range [1e-12, 0.1]" },
        { "--eps 1e-300", "--eps: '1e-300' is outside" },
        { "--eps nan", "--eps: 'nan' is not a finite number (--eps accepts [1e-12, 0.1]" },
        { "--atol -1", "--atol: '-1' is outside the accepted range [0, 1]" },
        { "--atol inf", "--atol: 'inf' is not a finite number" },
        { "--rtol 1e308", "--rtol: '1e308' is outside the accepted range [0, 1]" },
        { "--rtol x", "--rtol: 'x' is not a finite number" },
    };
    char *out;
    for (int k = 0; k < N_OF(bad); k++) {
        int rc = run_shell(&out, "\"$GC\" %s", bad[k][0]);
        ck_assert_msg(rc == 2, "%s: exit status %d\n%s", bad[k][0], rc, out);
        ASSERT_ERR_HAS(out, bad[k][1]);
        free(out);
    }
    ck_assert_int_eq(
        run_shell(&out, "\"$GC\" --eps 1e-5 --atol 1e-4 --rtol 0.01 --op neg --case vec_5"), 0);
    free(out);
}
END_TEST

START_TEST(command_rerun_hint_should_name_the_program_as_it_was_run)
{
    char *out;
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --op add --case same_3x4 --atol 0 --rtol 0"), 1);
    ASSERT_ERR_HAS(out, "rerun: " MT_GC_BINARY
                        " --op 'add' --case 'same_3x4' --seed 0 --atol 0 --rtol 0\n");
    free(out);
    /* found through PATH, it is named as it was typed */
    ck_assert_int_eq(run_shell(&out, "PATH=\"${GC%%/*}:$PATH\" mytorch-gradcheck --op add "
                               "--case same_3x4 --atol 0 --rtol 0"), 1);
    ASSERT_ERR_HAS(out, "\n    rerun: mytorch-gradcheck --op 'add' --case 'same_3x4' --seed 0");
    free(out);
}
END_TEST

/* Checks the PNG magic of the file at path. */
static void assert_png(const char *path)
{
    FILE *png = fopen(path, "rb");
    ck_assert_msg(png != NULL, "no PNG at its path (%zu characters)", strlen(path));
    unsigned char magic[8] = { 0 };
    ck_assert_uint_eq(fread(magic, 1, 8, png), 8);
    fclose(png);
    ck_assert_int_eq(memcmp(magic, "\x89PNG\r\n\x1a\n", 8), 0);
}

START_TEST(heatmap_should_write_a_png)
{
    /* the PNG itself comes from the command, the one program that draws (the Jacobians it
     * draws are kept by the library: test_gradcheck's keep_jacobians test) */
    mt_gc_func f;
    const mt_op *transpose = mt_op_find("transpose");
    mt_gc_func_op(&f, transpose, &transpose->cases[0]);
    char path[512], *out;
    ck_assert_ptr_nonnull(mt_gc_heatmap_path(g_tmp, &f, path, sizeof path));
    ck_assert_msg(run_shell(&out, "\"$GC\" --op transpose --case '%s' --heatmap '%s'", f.case_name,
                            g_tmp) == 0, "%s", out);
    free(out);
    assert_png(path);
}
END_TEST

START_TEST(heatmap_in_a_very_long_directory_should_be_written_whole_or_refused)
{
    /* g_tmp/aaa.../fff...: over 1,100 characters, each part short enough to exist */
    char dir[2048], far[6144], small[64], *out;
    snprintf(dir, sizeof dir, "%s", g_tmp);
    for (int k = 0; k < 6; k++) {
        size_t len = strlen(dir);
        dir[len] = '/';
        memset(dir + len + 1, 'a' + k, 180);
        dir[len + 181] = '\0';
        ck_assert_int_eq(mkdir(dir, 0700), 0);
    }
    ck_assert_uint_gt(strlen(dir), 1100);
    mt_gc_func f;
    const mt_op *transpose = mt_op_find("transpose");
    mt_gc_func_op(&f, transpose, &transpose->cases[0]);
    char *path = mt_gc_heatmap_path_new(dir, &f);
    ck_assert_ptr_null(mt_gc_heatmap_path(dir, &f, small, sizeof small));   /* never cut short */
    ck_assert_msg(run_shell(&out, "\"$GC\" --op transpose --case '%s' --heatmap '%s'", f.case_name,
                            dir) == 0, "%s", out);
    free(out);
    assert_png(path);
    free(path);

    /* past PATH_MAX the directory cannot be made: a message and a failing status */
    snprintf(far, sizeof far, "%s", dir);
    while (strlen(far) < 4500)
        strcat(far, "/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    int rc = run_shell(&out, "\"$GC\" --op transpose --case '%s' --heatmap '%s'", f.case_name, far);
    ck_assert_msg(rc == 1, "exit status %d:\n%s", rc, out);
    ASSERT_ERR_HAS(out, "cannot create the heatmap directory");
    free(out);
}
END_TEST


/* ---- tolerances, margins, the viewer hint, the measurement ----------------------------------- */

START_TEST(command_should_check_each_op_with_its_own_tolerance_unless_told_otherwise)
{
    char *out;
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --verbose --op relu --case mat_3x4"), 0);
    ASSERT_ERR_HAS(out, "    tolerance: atol 1e-08, rtol 1e-06 (the op's own); largest error ");
    ASSERT_ERR_HAS(out, "\n  relu: margin ");
    free(out);
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --verbose --op nn.ReLU"), 0);
    ASSERT_ERR_HAS(out, "    tolerance: atol 1e-06, rtol 1e-06 (the default)");
    free(out);
    ck_assert_int_eq(
        run_shell(&out, "\"$GC\" --verbose --pytorch-tolerances --op exp --case vec_5"), 0);
    ASSERT_ERR_HAS(out, "    tolerance: atol 1e-05, rtol 0.001 (PyTorch's)");
    free(out);
    /* --atol and --rtol replace either of PyTorch's, whatever their order */
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --verbose --rtol 0.5 --pytorch-tolerances --op exp "
                               "--case vec_5"), 0);
    ASSERT_ERR_HAS(out, "    tolerance: atol 1e-05, rtol 0.5 (given)");
    free(out);
}
END_TEST

START_TEST(command_failure_should_say_how_to_watch_an_op_case_in_the_viewer)
{
    char *out;
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --op add --case same_3x4 --atol 0 --rtol 0"), 1);
    char *dir = strdup(MT_GC_BINARY);
    *strrchr(dir, '/') = '\0';
    char want[1024];
    snprintf(want, sizeof want, "\n    watch: %s/mytorch-viewer --op add --case same_3x4\n", dir);
    ASSERT_ERR_HAS(out, want);
    free(dir);
    free(out);
    /* a tied case and a module are not the viewer's: the re-run hint only */
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --op mul --case tied_same_3x4 --atol 0 --rtol 0"), 1);
    ASSERT_ERR_HAS(out, "rerun: ");
    ck_assert_msg(strstr(out, "watch:") == NULL, "%s", out);
    free(out);
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --op nn.Linear --atol 0 --rtol 0"), 1);
    ck_assert_msg(strstr(out, "watch:") == NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(command_should_measure_the_error_over_seeds_and_suggest_an_atol)
{
    char *out;
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --measure-error --seeds 3 --op sigmoid"), 0);
    ASSERT_ERR_HAS(out, "over 3 seeds from 0, h = 1e-06");
    ASSERT_ERR_HAS(out, "\nsigmoid                     vec_5 ");
    ASSERT_ERR_HAS(out, "\nper op: ");
    ASSERT_ERR_HAS(out, "\n0 of 3 functions failed at some seed\n");
    free(out);
    /* the options the measurement takes, and those it refuses */
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --seeds 3"), 2);
    ASSERT_ERR_HAS(out, "--seeds goes with --measure-error");
    free(out);
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --measure-error --seeds 0"), 2);
    ASSERT_ERR_HAS(out, "--seeds: '0' is not a whole number from 1 to 100000");
    free(out);
    ck_assert_int_eq(run_shell(&out, "\"$GC\" --help"), 0);
    ASSERT_ERR_HAS(out, "--measure-error");
    ASSERT_ERR_HAS(out, "--pytorch-tolerances");
    ASSERT_ERR_HAS(out, "--no-local-grad");
    free(out);
}
END_TEST

START_TEST(command_without_the_chain_rule_check_should_still_pass_the_registry)
{
    char *out;
    int rc = run_shell(&out, "\"$GC\" --no-local-grad");
    ck_assert_msg(rc == 0, "exit status %d\n%s", rc, out);
    free(out);
}
END_TEST

static Suite *gradcheck_cli_suite(void)
{
    Suite *s = suite_create("gradcheck_cli");
    TCase *tc = tcase_create("command");
    tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, command_should_refuse_a_tolerance_out_of_range_with_status_2);
    tcase_add_test(tc, command_rerun_hint_should_name_the_program_as_it_was_run);
    tcase_add_test(tc, heatmap_should_write_a_png);
    tcase_add_test(tc, heatmap_in_a_very_long_directory_should_be_written_whole_or_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("tolerances_and_hints");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, command_should_check_each_op_with_its_own_tolerance_unless_told_otherwise);
    tcase_add_test(tc, command_failure_should_say_how_to_watch_an_op_case_in_the_viewer);
    tcase_add_test(tc, command_should_measure_the_error_over_seeds_and_suggest_an_atol);
    tcase_add_test(tc, command_without_the_chain_rule_check_should_still_pass_the_registry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(gradcheck_cli_suite()); }
