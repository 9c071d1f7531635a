/* test_plot.c: Check suite for the trainer's accuracy chart (src/mnist/plot.h): the PNG it
 * writes reads back at the promised size with text and coloured curves on it, bad input is
 * refused with a message, and a failed write leaves no file behind. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */
#endif

#include "../src/mnist/plot.h"

#include <cairo.h>
#include <check.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEST_TMP_DIR "/tmp/mt_test_plot_XXXXXX" /* tmp_setup makes one per test case */
#include "test_util.h"

/* Runs after every test, in the process that ran it: drops Pango's, cairo's and fontconfig's
 * font caches, which they otherwise keep until exit, so valgrind reports only real leaks. */
static void release_fonts(void)
{
    mt_draw_shutdown();
}

/* A realistic run: 18 evaluations over 3 epochs of 60k samples. */
static void fake_run(mt_plot_point *p, int n)
{
    for (int i = 0; i < n; i++) {
        p[i].samples = 10000.0 * (i + 1);
        p[i].accuracy = 0.945 - 0.845 * exp(-i / 1.6);
        p[i].loss = 0.2 + 2.1 * exp(-i / 1.9);
    }
}

/* Pixel census of a PNG: text-dark, blue-ish (accuracy) and orange-ish (loss) pixels. */
typedef struct census { int width, height, dark, blue, orange; } census;

static census read_png(const char *path)
{
    census c = { 0, 0, 0, 0, 0 };
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    ck_assert_msg(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS, "cannot read %s: %s", path,
                  cairo_status_to_string(cairo_surface_status(s)));
    cairo_surface_flush(s);
    c.width = cairo_image_surface_get_width(s);
    c.height = cairo_image_surface_get_height(s);
    ck_assert(cairo_image_surface_get_format(s) == CAIRO_FORMAT_RGB24 ||
              cairo_image_surface_get_format(s) == CAIRO_FORMAT_ARGB32);
    const unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < c.height; y++) {
        const uint32_t *row = (const uint32_t *)(const void *)(data + (size_t)y * stride);
        for (int x = 0; x < c.width; x++) {
            int r = (row[x] >> 16) & 0xff, g = (row[x] >> 8) & 0xff, b = row[x] & 0xff;
            if (r < 80 && g < 80 && b < 80)
                c.dark++;
            if (b > r + 80 && b > g + 20)
                c.blue++;
            if (r > b + 120 && r > g + 40)
                c.orange++;
        }
    }
    cairo_surface_destroy(s);
    return c;
}

START_TEST(plot_should_write_a_readable_png)
{
    mt_plot_point p[18];
    fake_run(p, 18);
    char path[512], err[512] = "";
    TMP(path, "acc.png");
    int rc = mt_plot_accuracy(path, "MNIST validation accuracy", p, 18, err, sizeof err);
    ck_assert_msg(rc == 0, "plot failed: %s", err);
    ASSERT_NO_TMP(g_tmp);

    census c = read_png(path);
    ck_assert_int_eq(c.width, MT_PLOT_WIDTH);
    ck_assert_int_eq(c.height, MT_PLOT_HEIGHT);
    ck_assert_msg(c.dark > 2000, "only %d dark (text) pixels", c.dark);
    ck_assert_msg(c.blue > 2000, "only %d blue (accuracy) pixels", c.blue);
    ck_assert_msg(c.orange > 1000, "only %d orange (loss) pixels", c.orange);
}
END_TEST

START_TEST(plot_should_handle_a_single_point_flat_data_and_odd_losses)
{
    mt_plot_point one = { 60000, 0.9, NAN };
    mt_plot_point flat[5], zero[2] = { { 0, 0, 2.3 }, { 0, 0, 2.3 } };
    for (int i = 0; i < 5; i++)
        flat[i] = (mt_plot_point){ 1000.0 * i, 1.0, NAN };
    char path[512], err[512] = "";

    TMP(path, "one.png");
    ck_assert_msg(mt_plot_accuracy(path, NULL, &one, 1, err, sizeof err) == 0, "%s", err);
    census c = read_png(path);
    ck_assert_int_eq(c.width, MT_PLOT_WIDTH);
    ck_assert_int_gt(c.dark, 1000);
    ck_assert_int_gt(c.blue, 100);
    ck_assert_int_eq(c.orange, 0); /* no loss known: no loss curve or axis */

    TMP(path, "flat.png");
    ck_assert_msg(mt_plot_accuracy(path, "flat", flat, 5, err, sizeof err) == 0, "%s", err);
    ck_assert_int_gt(read_png(path).blue, 500);

    TMP(path, "zero.png"); /* nothing trained yet, accuracy 0: degenerate ranges */
    ck_assert_msg(mt_plot_accuracy(path, "zero", zero, 2, err, sizeof err) == 0, "%s", err);
    ck_assert_int_gt(read_png(path).orange, 50);

    /* A diverging run: infinite and absurd losses are left out, the rest still drawn. */
    mt_plot_point wild[4] = { { 100, 0.2, 2.3 }, { 200, 0.1, INFINITY }, { 300, 0.1, 1e300 },
                              { 400, 0.1, 0.5 } };
    TMP(path, "wild.png");
    ck_assert_msg(mt_plot_accuracy(path, "wild", wild, 4, err, sizeof err) == 0, "%s", err);
    ck_assert_int_gt(read_png(path).orange, 50);
}
END_TEST

START_TEST(plot_should_reject_no_points)
{
    mt_plot_point p[1];
    fake_run(p, 1);
    char path[512], err[512] = "";
    TMP(path, "none.png");
    ck_assert_int_eq(mt_plot_accuracy(path, "t", p, 0, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "no points to plot (n = 0)");
    ck_assert_int_eq(mt_plot_accuracy(path, "t", NULL, 3, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "pts is NULL");
    ck_assert_int_eq(mt_plot_accuracy(NULL, "t", p, 1, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "path is NULL");
    ck_assert(!file_exists(path));
}
END_TEST

START_TEST(plot_should_reject_bad_values)
{
    mt_plot_point p[3];
    fake_run(p, 3);
    char path[512], err[512] = "";
    TMP(path, "bad.png");
    p[1].accuracy = 94.5; /* a percentage where a fraction belongs */
    ck_assert_int_eq(mt_plot_accuracy(path, "t", p, 3, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "point 1: accuracy is 94.5, expected a value in [0, 1]");
    p[1].accuracy = NAN;
    ck_assert_int_eq(mt_plot_accuracy(path, "t", p, 3, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "point 1: accuracy is nan");
    p[1].accuracy = 0.5;
    p[2].samples = -1;
    ck_assert_int_eq(mt_plot_accuracy(path, "t", p, 3, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "point 2: samples seen is -1");
    ck_assert(!file_exists(path));
}
END_TEST

START_TEST(plot_should_leave_no_file_when_the_path_is_unwritable)
{
    mt_plot_point p[4];
    fake_run(p, 4);
    char path[512], err[512] = "";
    TMP(path, "missing/dir/acc.png");
    ck_assert_int_eq(mt_plot_accuracy(path, "t", p, 4, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "missing/dir");
    ASSERT_ERR_HAS(err, "No such file or directory");
    ck_assert(!file_exists(path));
    ASSERT_NO_TMP(g_tmp);

    /* A directory where the PNG should go is refused, not replaced. */
    TMP(path, "adir.png");
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(mt_plot_accuracy(path, "t", p, 4, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "is a directory, not a regular file");
    rmdir(path);

    /* The new PNG cannot be written whole (files may not grow past 100 bytes): the old PNG
     * stays as it was, and no temporary is left behind. */
    TMP(path, "keep.png");
    ck_assert_int_eq(mt_plot_accuracy(path, "old", p, 4, err, sizeof err), 0);
    struct stat before, after;
    ck_assert_int_eq(stat(path, &before), 0);
    struct rlimit old, small;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 100;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    int limited = setrlimit(RLIMIT_FSIZE, &small);  /* no assertion until the limit is lifted:
                                                      Check writes its own file on each one */
    int rc = mt_plot_accuracy(path, "new title", p, 2, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    ck_assert_int_eq(limited, 0);
    ck_assert_int_eq(rc, -1);
    ASSERT_ERR_HAS(err, path);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_int_eq(before.st_size, after.st_size);
    ck_assert_int_eq(before.st_ino, after.st_ino);
    ASSERT_NO_TMP(g_tmp);
}
END_TEST

static Suite *plot_suite(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("png");
    tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_checked_fixture(tc, NULL, release_fonts);
    tcase_set_timeout(tc, 120); /* font loading is slow under valgrind */
    tcase_add_test(tc, plot_should_write_a_readable_png);
    tcase_add_test(tc, plot_should_handle_a_single_point_flat_data_and_odd_losses);
    tcase_add_test(tc, plot_should_reject_no_points);
    tcase_add_test(tc, plot_should_reject_bad_values);
    tcase_add_test(tc, plot_should_leave_no_file_when_the_path_is_unwritable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(plot_suite()); }
