/* test_draw.c: Check suite for src/draw (draw.h): the colour maps at known points, text that
 * measures as it draws (ink inside the measured box, at any alignment, angle and scale, the
 * same pixels whatever the cairo context's font options), PNG files that read back and leave
 * nothing behind on failure (whatever the temporary is called: the tests count what is in the
 * directory), and a shutdown that can be called twice. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, chmod, geteuid, setrlimit */
#endif

#include "../src/draw/draw.h"

#include <cairo.h>
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEST_TMP_DIR "/tmp/mt_test_draw_XXXXXX" /* tmp_setup makes one per test case */
#include "test_util.h"

#define PI 3.14159265358979323846

/* Runs after every test that draws text, in the process that ran it: under valgrind
 * (CK_FORK=no) this also exercises shutting down and starting again between tests. */
static void release_fonts(void)
{
    mt_draw_shutdown();
}

/* ---- colour helpers ----------------------------------------------------------------------- */

static bool rgb_close(mt_draw_rgb a, mt_draw_rgb b, double tol)
{
    return fabs(a.r - b.r) <= tol && fabs(a.g - b.g) <= tol && fabs(a.b - b.b) <= tol;
}

#define ASSERT_RGB(got, want, tol)                                                              \
    do {                                                                                        \
        mt_draw_rgb g_ = (got), w_ = (want);                                                    \
        ck_assert_msg(rgb_close(g_, w_, (tol)), "%s: got (%.4f, %.4f, %.4f), want (%.4f, %.4f, " \
                      "%.4f)", #got, g_.r, g_.g, g_.b, w_.r, w_.g, w_.b);                      \
    } while (0)

static bool rgb_in_range(mt_draw_rgb c)
{
    return c.r >= 0 && c.r <= 1 && c.g >= 0 && c.g <= 1 && c.b >= 0 && c.b <= 1;
}

/* CIE L* (0 black .. 100 white) of an sRGB colour: how light it looks. */
static double lightness(mt_draw_rgb c)
{
    double ch[3] = { c.r, c.g, c.b };
    for (int i = 0; i < 3; i++)
        ch[i] = ch[i] <= 0.04045 ? ch[i] / 12.92 : pow((ch[i] + 0.055) / 1.055, 2.4);
    double y = 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
    return y > 216.0 / 24389 ? 116 * cbrt(y) - 16 : y * 24389.0 / 27;
}

static const mt_draw_rgb WHITE = { 1, 1, 1 };
static const mt_draw_rgb RED_END = { 178 / 255.0, 24 / 255.0, 43 / 255.0 };
static const mt_draw_rgb BLUE_END = { 33 / 255.0, 102 / 255.0, 172 / 255.0 };

/* ---- colour maps -------------------------------------------------------------------------- */

START_TEST(diverging_should_be_white_at_zero)
{
    mt_draw_rgb c = mt_draw_cmap_diverging(0, 1);
    ck_assert(c.r == 1 && c.g == 1 && c.b == 1);   /* exactly: a zero gradient paints nothing */
    c = mt_draw_cmap_diverging(-0.0, 3.5);
    ck_assert(c.r == 1 && c.g == 1 && c.b == 1);
    ASSERT_RGB(mt_draw_cmap_diverging(1e-12, 1), WHITE, 1e-9);
}
END_TEST

START_TEST(diverging_should_reach_its_ends_at_vmax_and_clamp_beyond)
{
    ASSERT_RGB(mt_draw_cmap_diverging(2.5, 2.5), RED_END, 1e-12);
    ASSERT_RGB(mt_draw_cmap_diverging(-2.5, 2.5), BLUE_END, 1e-12);
    ASSERT_RGB(mt_draw_cmap_diverging(1e6, 2.5), RED_END, 1e-12);
    ASSERT_RGB(mt_draw_cmap_diverging(-1e6, 2.5), BLUE_END, 1e-12);
    ASSERT_RGB(mt_draw_cmap_diverging(INFINITY, 2.5), RED_END, 1e-12);
    ASSERT_RGB(mt_draw_cmap_diverging(-INFINITY, 2.5), BLUE_END, 1e-12);
    /* Halfway is RdBu's middle red and middle blue. */
    ASSERT_RGB(mt_draw_cmap_diverging(0.5, 1),
               ((mt_draw_rgb){ 244 / 255.0, 165 / 255.0, 130 / 255.0 }), 1e-12);
    ASSERT_RGB(mt_draw_cmap_diverging(-0.5, 1),
               ((mt_draw_rgb){ 146 / 255.0, 197 / 255.0, 222 / 255.0 }), 1e-12);
}
END_TEST

START_TEST(diverging_should_be_symmetric_around_zero)
{
    double prev_l = 100;
    for (int i = 1; i <= 100; i++) {
        double v = i / 100.0 * 3.0;
        mt_draw_rgb pos = mt_draw_cmap_diverging(v, 3.0), neg = mt_draw_cmap_diverging(-v, 3.0);
        ck_assert(rgb_in_range(pos) && rgb_in_range(neg));
        /* The sign is the hue: reds above zero, blues below. */
        ck_assert_msg(pos.r > pos.b && neg.b > neg.r, "v = %g: hue does not follow the sign", v);
        /* The size is the lightness, the same for v and -v, and darker the larger |v|. */
        double lp = lightness(pos), ln = lightness(neg);
        ck_assert_msg(fabs(lp - ln) < 5, "v = %g: L* %.2f for +v but %.2f for -v", v, lp, ln);
        ck_assert_msg(lp < prev_l, "v = %g: L* %.2f not below %.2f", v, lp, prev_l);
        prev_l = lp;
    }
}
END_TEST

START_TEST(diverging_should_paint_everything_white_without_a_scale)
{
    ASSERT_RGB(mt_draw_cmap_diverging(0.7, 0), WHITE, 0);
    ASSERT_RGB(mt_draw_cmap_diverging(-0.7, -1), WHITE, 0);
    ASSERT_RGB(mt_draw_cmap_diverging(0.7, NAN), WHITE, 0);
    ASSERT_RGB(mt_draw_cmap_diverging(0.7, INFINITY), WHITE, 0);
}
END_TEST

START_TEST(colour_maps_should_give_nan_a_colour_of_its_own)
{
    mt_draw_rgb nan_rgb = MT_DRAW_NAN_RGB;
    ASSERT_RGB(mt_draw_cmap_diverging(NAN, 1), nan_rgb, 0);
    ASSERT_RGB(mt_draw_cmap_diverging(NAN, NAN), nan_rgb, 0);
    ASSERT_RGB(mt_draw_cmap_sequential(NAN), nan_rgb, 0);
    /* Neither map comes near it, so a NaN never passes for a number. */
    for (int i = 0; i <= 1000; i++) {
        double t = i / 1000.0;
        ck_assert_msg(!rgb_close(mt_draw_cmap_diverging(2 * t - 1, 1), nan_rgb, 0.15),
                      "diverging(%g) looks like the NaN colour", 2 * t - 1);
        ck_assert_msg(!rgb_close(mt_draw_cmap_sequential(t), nan_rgb, 0.15),
                      "sequential(%g) looks like the NaN colour", t);
    }
}
END_TEST

START_TEST(sequential_should_follow_viridis_from_purple_to_yellow)
{
    /* matplotlib's viridis at 0, 0.25, 0.5, 0.75 and 1 (entries 0, 64, 128, 191, 255). */
    ASSERT_RGB(mt_draw_cmap_sequential(0), ((mt_draw_rgb){ 0.267004, 0.004874, 0.329415 }), 1e-12);
    ASSERT_RGB(mt_draw_cmap_sequential(1), ((mt_draw_rgb){ 0.993248, 0.906157, 0.143936 }), 1e-12);
    ASSERT_RGB(mt_draw_cmap_sequential(64 / 255.0),
               ((mt_draw_rgb){ 0.229739, 0.322361, 0.545706 }), 6 / 255.0);
    ASSERT_RGB(mt_draw_cmap_sequential(128 / 255.0),
               ((mt_draw_rgb){ 0.127568, 0.566949, 0.550556 }), 6 / 255.0);
    ASSERT_RGB(mt_draw_cmap_sequential(191 / 255.0),
               ((mt_draw_rgb){ 0.360741, 0.785964, 0.387814 }), 6 / 255.0);
    /* Clamped outside [0, 1]. */
    ASSERT_RGB(mt_draw_cmap_sequential(-3), mt_draw_cmap_sequential(0), 0);
    ASSERT_RGB(mt_draw_cmap_sequential(7), mt_draw_cmap_sequential(1), 0);
    ASSERT_RGB(mt_draw_cmap_sequential(-INFINITY), mt_draw_cmap_sequential(0), 0);
    ASSERT_RGB(mt_draw_cmap_sequential(INFINITY), mt_draw_cmap_sequential(1), 0);
}
END_TEST

START_TEST(sequential_should_get_lighter_all_the_way)
{
    double prev = -1;
    for (int i = 0; i <= 256; i++) {
        mt_draw_rgb c = mt_draw_cmap_sequential(i / 256.0);
        ck_assert(rgb_in_range(c));
        double l = lightness(c);
        ck_assert_msg(l > prev, "t = %g: L* %.3f not above %.3f", i / 256.0, l, prev);
        prev = l;
    }
}
END_TEST

/* ---- text: measuring ---------------------------------------------------------------------- */

START_TEST(font_check_should_find_the_pinned_dejavu_faces)
{
    char err[512] = "";
    ck_assert_msg(mt_draw_font_check(err, sizeof err) == 0, "%s", err);
}
END_TEST

START_TEST(measure_should_grow_with_length_and_size)
{
    const char *s[] = { "a", "ab", "abc", "abc def", "validation accuracy (left axis)" };
    for (int f = 0; f < 4; f++) {
        double prev = 0;
        mt_draw_text_extents first = mt_draw_text_measure((mt_draw_font)f, 14, s[0]);
        for (int i = 0; i < N_OF(s); i++) {
            mt_draw_text_extents e = mt_draw_text_measure((mt_draw_font)f, 14, s[i]);
            ck_assert_msg(e.width > prev, "font %d: \"%s\" is %g wide, not more than %g", f, s[i],
                          e.width, prev);
            prev = e.width;
            /* One line: one height and one baseline whatever the letters. */
            ck_assert(e.height == first.height && e.baseline == first.baseline);
            ck_assert(e.baseline > 0.6 * e.height && e.baseline < e.height);
        }
        /* Twice the size, twice the box: unhinted metrics scale exactly (to Pango's 1/1024). */
        mt_draw_text_extents a = mt_draw_text_measure((mt_draw_font)f, 10, s[4]);
        mt_draw_text_extents b = mt_draw_text_measure((mt_draw_font)f, 20, s[4]);
        ck_assert_msg(is_close(b.width, 2 * a.width, 1e-3, 0), "font %d: %g at 20 vs %g at 10", f,
                      b.width, a.width);
        ck_assert(is_close(b.height, 2 * a.height, 1e-3, 0));
        ck_assert(is_close(b.baseline, 2 * a.baseline, 1e-3, 0));
        /* Roughly what a font of that size is: a line a little taller than the em. */
        ck_assert(a.height > 10 && a.height < 14);
    }
}
END_TEST

START_TEST(measure_should_tell_the_faces_apart)
{
    const char *s = "Validation accuracy 94.67%";
    double sans = mt_draw_text_measure(MT_DRAW_SANS, 14, s).width;
    double bold = mt_draw_text_measure(MT_DRAW_BOLD, 14, s).width;
    ck_assert_msg(bold > sans * 1.05, "bold %g is not wider than regular %g", bold, sans);

    /* Monospace: every character the same advance, so columns of numbers line up. */
    for (int f = MT_DRAW_MONO; f <= MT_DRAW_MONO_BOLD; f++) {
        double one = mt_draw_text_measure((mt_draw_font)f, 13, "0").width;
        const char *same[] = { "iiiiiiii", "MMMMMMMM", "-1.5e-07", "12345678" };
        for (int i = 0; i < N_OF(same); i++)
            ck_assert_msg(is_close(mt_draw_text_measure((mt_draw_font)f, 13, same[i]).width,
                                   8 * one, 1e-6, 1e-3),
                          "font %d: \"%s\" is not 8 advances wide", f, same[i]);
    }
    ck_assert(mt_draw_text_measure(MT_DRAW_SANS, 13, "iiii").width <
              mt_draw_text_measure(MT_DRAW_SANS, 13, "MMMM").width);
}
END_TEST

START_TEST(measure_should_handle_empty_null_multiline_and_bad_input)
{
    mt_draw_text_extents one = mt_draw_text_measure(MT_DRAW_SANS, 12, "Ag");
    mt_draw_text_extents empty = mt_draw_text_measure(MT_DRAW_SANS, 12, "");
    mt_draw_text_extents null = mt_draw_text_measure(MT_DRAW_SANS, 12, NULL);
    ck_assert(empty.width == 0 && null.width == 0);
    ck_assert(empty.height == one.height && null.height == one.height);   /* still a line */

    mt_draw_text_extents two = mt_draw_text_measure(MT_DRAW_SANS, 12, "Ag\nAg");
    ck_assert(is_close(two.height, 2 * one.height, 1e-6, 0.01));
    ck_assert(is_close(two.width, one.width, 1e-9, 0));
    ck_assert(two.baseline == one.baseline);   /* the first line's */

    /* Invalid UTF-8 is drawn with replacement characters, not refused. */
    ck_assert(mt_draw_text_measure(MT_DRAW_SANS, 12, "a\xff\xfe" "b").width > one.width);

    /* No size, no text. */
    mt_draw_text_extents zero = mt_draw_text_measure(MT_DRAW_SANS, 0, "abc");
    ck_assert(zero.width == 0 && zero.height == 0);
    zero = mt_draw_text_measure(MT_DRAW_SANS, NAN, "abc");
    ck_assert(zero.width == 0 && zero.height == 0);
}
END_TEST

/* ---- text: drawing ------------------------------------------------------------------------ */

#define W 600
#define H 240

/* A white W x H canvas, black source. The caller destroys both. */
static cairo_t *canvas(cairo_surface_t **surf)
{
    *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(*surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    return cr;
}

static uint32_t pixel(cairo_surface_t *s, int x, int y)
{
    const unsigned char *data = cairo_image_surface_get_data(s);
    const uint32_t *row =
        (const uint32_t *)(const void *)(data + (size_t)y * cairo_image_surface_get_stride(s));
    return row[x] & 0xffffff;
}

/* Where the ink is: the bounding box of every pixel that is not white, and how many are dark. */
typedef struct inkbox { int x0, y0, x1, y1, painted, dark; } inkbox;

static inkbox find_ink(cairo_surface_t *s)
{
    cairo_surface_flush(s);
    inkbox b = { W, H, -1, -1, 0, 0 };
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint32_t p = pixel(s, x, y);
            if (p == 0xffffff)
                continue;
            b.painted++;
            if ((p & 0xff) < 128)
                b.dark++;
            if (x < b.x0) b.x0 = x;
            if (y < b.y0) b.y0 = y;
            if (x > b.x1) b.x1 = x;
            if (y > b.y1) b.y1 = y;
        }
    return b;
}

/* Asserts every painted pixel lies within [x0, x1] x [y0, y1] (user units, pixel edges) with
 * one pixel of antialiasing to spare. */
#define ASSERT_INK_WITHIN(ink, bx0, by0, bx1, by1, what)                                       \
    ck_assert_msg((ink).x0 >= floor(bx0) - 1 && (ink).y0 >= floor(by0) - 1 &&                  \
                  (ink).x1 + 1 <= ceil(bx1) + 1 && (ink).y1 + 1 <= ceil(by1) + 1,              \
                  "%s: ink [%d, %d] x [%d, %d] is outside the box [%.2f, %.2f] x [%.2f, %.2f]", \
                  (what), (ink).x0, (ink).x1 + 1, (ink).y0, (ink).y1 + 1, (double)(bx0),        \
                  (double)(bx1), (double)(by0), (double)(by1))

START_TEST(drawn_text_should_put_its_ink_inside_the_measured_box)
{
    const char *s = "Validation 94.67% (left)";
    const double size = 17, x = 300, y = 120;
    static const mt_draw_halign has[] = { MT_DRAW_LEFT, MT_DRAW_CENTER, MT_DRAW_RIGHT };
    static const mt_draw_valign vas[] = { MT_DRAW_TOP, MT_DRAW_MIDDLE, MT_DRAW_BASELINE,
                                          MT_DRAW_BOTTOM };
    for (int f = 0; f < 4; f++) {
        mt_draw_text_extents e = mt_draw_text_measure((mt_draw_font)f, size, s);
        for (int h = 0; h < N_OF(has); h++) {
            for (int v = 0; v < N_OF(vas); v++) {
                cairo_surface_t *surf;
                cairo_t *cr = canvas(&surf);
                mt_draw_text(cr, (mt_draw_font)f, size, x, y, has[h], vas[v], s);
                ck_assert_int_eq(cairo_status(cr), CAIRO_STATUS_SUCCESS);
                inkbox ink = find_ink(surf);

                /* The logical box the alignment promises. */
                double left = x - e.width * (has[h] == MT_DRAW_LEFT     ? 0
                                             : has[h] == MT_DRAW_CENTER ? 0.5 : 1);
                double top = y - (vas[v] == MT_DRAW_TOP        ? 0
                                  : vas[v] == MT_DRAW_MIDDLE   ? e.height / 2
                                  : vas[v] == MT_DRAW_BASELINE ? e.baseline : e.height);
                char what[64];
                snprintf(what, sizeof what, "font %d, halign %d, valign %d", f, h, v);
                ck_assert_msg(ink.dark > 200, "%s: only %d dark pixels", what, ink.dark);
                ASSERT_INK_WITHIN(ink, left, top, left + e.width, top + e.height, what);
                /* Tighter: the ink box measured is the ink drawn, to a pixel. */
                double ix = left + e.ink_x, iy = top + e.ink_y;
                ASSERT_INK_WITHIN(ink, ix, iy, ix + e.ink_width, iy + e.ink_height, what);
                ck_assert_msg(ink.x0 <= ix + 1.5 && ink.x1 + 1 >= ix + e.ink_width - 1.5 &&
                              ink.y0 <= iy + 1.5 && ink.y1 + 1 >= iy + e.ink_height - 1.5,
                              "%s: ink [%d, %d] x [%d, %d] does not fill the measured ink box",
                              what, ink.x0, ink.x1 + 1, ink.y0, ink.y1 + 1);
                cairo_destroy(cr);
                cairo_surface_destroy(surf);
            }
        }
    }
}
END_TEST

START_TEST(rotated_text_should_stay_in_its_turned_box)
{
    const char *s = "validation accuracy (%)";
    mt_draw_text_extents e = mt_draw_text_measure(MT_DRAW_SANS, 14, s);
    for (int turn = -1; turn <= 1; turn += 2) {   /* a quarter turn either way */
        cairo_surface_t *surf;
        cairo_t *cr = canvas(&surf);
        mt_draw_text_rotated(cr, MT_DRAW_SANS, 14, 60, 120, turn * PI / 2, MT_DRAW_CENTER,
                             MT_DRAW_MIDDLE, s);
        inkbox ink = find_ink(surf);
        ck_assert_int_gt(ink.dark, 200);
        /* Centred on (60, 120): the box is e.height wide and e.width tall once turned. */
        ASSERT_INK_WITHIN(ink, 60 - e.height / 2, 120 - e.width / 2, 60 + e.height / 2,
                          120 + e.width / 2, turn < 0 ? "-pi/2" : "+pi/2");
        ck_assert(ink.y1 - ink.y0 > 4 * (ink.x1 - ink.x0));
        cairo_destroy(cr);
        cairo_surface_destroy(surf);
    }
}
END_TEST

START_TEST(text_should_scale_with_the_transform_as_measured)
{
    /* What a zooming viewer does: measure once, draw under a scale. */
    const char *s = "AddBackward0";
    mt_draw_text_extents e = mt_draw_text_measure(MT_DRAW_MONO, 11, s);
    cairo_surface_t *surf;
    cairo_t *cr = canvas(&surf);
    cairo_scale(cr, 2.5, 2.5);
    mt_draw_text(cr, MT_DRAW_MONO, 11, 10, 10, MT_DRAW_LEFT, MT_DRAW_TOP, s);
    inkbox ink = find_ink(surf);
    double ix = 2.5 * (10 + e.ink_x), iy = 2.5 * (10 + e.ink_y);
    ASSERT_INK_WITHIN(ink, ix, iy, ix + 2.5 * e.ink_width, iy + 2.5 * e.ink_height, "scaled");
    ck_assert(ink.x1 + 1 >= ix + 2.5 * e.ink_width - 2);
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
}
END_TEST

/* Renders s into a fresh canvas whose cairo context has font options opts (NULL: none). */
static cairo_surface_t *render_with_options(const cairo_font_options_t *opts, const char *s)
{
    cairo_surface_t *surf;
    cairo_t *cr = canvas(&surf);
    if (opts)
        cairo_set_font_options(cr, opts);
    mt_draw_text(cr, MT_DRAW_SANS, 13, 20, 40, MT_DRAW_LEFT, MT_DRAW_BASELINE, s);
    mt_draw_text(cr, MT_DRAW_MONO_BOLD, 9.5, 20, 80, MT_DRAW_LEFT, MT_DRAW_BASELINE, s);
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    return surf;
}

START_TEST(text_should_render_the_same_whatever_the_font_options)
{
    const char *s = "Hinting 0.123 Wavy";
    cairo_surface_t *plain = render_with_options(NULL, s);
    cairo_font_options_t *o = cairo_font_options_create();
    cairo_font_options_set_antialias(o, CAIRO_ANTIALIAS_SUBPIXEL);
    cairo_font_options_set_subpixel_order(o, CAIRO_SUBPIXEL_ORDER_BGR);
    cairo_font_options_set_hint_style(o, CAIRO_HINT_STYLE_FULL);
    cairo_font_options_set_hint_metrics(o, CAIRO_HINT_METRICS_ON);
    cairo_surface_t *hinted = render_with_options(o, s);
    cairo_font_options_destroy(o);
    cairo_surface_t *again = render_with_options(NULL, s);

    int differ = 0, differ_again = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            differ += pixel(plain, x, y) != pixel(hinted, x, y);
            differ_again += pixel(plain, x, y) != pixel(again, x, y);
        }
    ck_assert_int_eq(differ_again, 0);
    ck_assert_msg(differ == 0, "%d pixels changed with the context's font options", differ);
    cairo_surface_destroy(plain);
    cairo_surface_destroy(hinted);
    cairo_surface_destroy(again);
}
END_TEST

START_TEST(drawing_text_should_leave_the_context_as_it_was)
{
    cairo_surface_t *surf;
    cairo_t *cr = canvas(&surf);
    cairo_translate(cr, 3, 4);
    cairo_set_source_rgb(cr, 0.2, 0.4, 0.6);
    cairo_font_options_t *fo = cairo_font_options_create(), *fo_after = cairo_font_options_create();
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_FULL);
    cairo_set_font_options(cr, fo);
    cairo_matrix_t before, after;
    cairo_get_matrix(cr, &before);
    cairo_move_to(cr, 5, 5);
    cairo_line_to(cr, 50, 50);   /* a path in progress is dropped, as documented */
    mt_draw_text_rotated(cr, MT_DRAW_BOLD, 12, 100, 100, 0.3, MT_DRAW_RIGHT, MT_DRAW_BOTTOM, "x");
    cairo_get_matrix(cr, &after);
    ck_assert(memcmp(&before, &after, sizeof before) == 0);
    cairo_get_font_options(cr, fo_after);
    ck_assert(cairo_font_options_equal(fo, fo_after));
    cairo_font_options_destroy(fo);
    cairo_font_options_destroy(fo_after);
    ck_assert(!cairo_has_current_point(cr));
    double r, g, b, a;
    ck_assert_int_eq(cairo_pattern_get_rgba(cairo_get_source(cr), &r, &g, &b, &a),
                     CAIRO_STATUS_SUCCESS);
    ck_assert(r == 0.2 && g == 0.4 && b == 0.6 && a == 1);

    /* Nothing to draw: nothing drawn, nothing broken. */
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    cr = canvas(&surf);
    mt_draw_text(cr, MT_DRAW_SANS, 0, 10, 10, MT_DRAW_LEFT, MT_DRAW_TOP, "abc");
    mt_draw_text(cr, MT_DRAW_SANS, -4, 10, 10, MT_DRAW_LEFT, MT_DRAW_TOP, "abc");
    mt_draw_text(cr, MT_DRAW_SANS, 12, 10, 10, MT_DRAW_LEFT, MT_DRAW_TOP, "");
    mt_draw_text(cr, MT_DRAW_SANS, 12, 10, 10, MT_DRAW_LEFT, MT_DRAW_TOP, NULL);
    mt_draw_text(NULL, MT_DRAW_SANS, 12, 10, 10, MT_DRAW_LEFT, MT_DRAW_TOP, "abc");
    ck_assert_int_eq(find_ink(surf).painted, 0);
    ck_assert_int_eq(cairo_status(cr), CAIRO_STATUS_SUCCESS);
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
}
END_TEST

START_TEST(shutdown_should_be_safe_twice_and_text_should_work_after_it)
{
    mt_draw_text_extents before = mt_draw_text_measure(MT_DRAW_SANS, 15, "again and again");
    mt_draw_shutdown();
    mt_draw_shutdown();
    mt_draw_text_extents after = mt_draw_text_measure(MT_DRAW_SANS, 15, "again and again");
    ck_assert(memcmp(&before, &after, sizeof before) == 0);

    cairo_surface_t *surf;
    cairo_t *cr = canvas(&surf);
    mt_draw_text(cr, MT_DRAW_SANS, 15, 10, 10, MT_DRAW_LEFT, MT_DRAW_TOP, "again and again");
    ck_assert_int_gt(find_ink(surf).dark, 50);
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    mt_draw_shutdown();
    mt_draw_shutdown();
}
END_TEST

/* ---- PNG ---------------------------------------------------------------------------------- */

/* A 37 x 23 image with a different colour in every pixel (the caller destroys it). */
static cairo_surface_t *test_image(void)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 37, 23);
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    for (int y = 0; y < 23; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * cairo_image_surface_get_stride(s));
        for (int x = 0; x < 37; x++)
            row[x] = (uint32_t)(x * 7) << 16 | (uint32_t)(y * 11) << 8 | (uint32_t)((x * y) & 0xff);
    }
    cairo_surface_mark_dirty(s);
    return s;
}

/* The number of entries of directory dir (without . and ..): what a writer left there. */
static int entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Makes the directory name in this test case's scratch directory; its path goes into buf. */
#define SUBDIR(buf, name)                         \
    do {                                          \
        TMP(buf, name);                           \
        ck_assert_int_eq(mkdir((buf), 0700), 0);  \
    } while (0)

START_TEST(png_write_should_write_a_png_that_reads_back)
{
    char dir[512], path[600], err[2048] = "";
    SUBDIR(dir, "ok");
    snprintf(path, sizeof path, "%s/img.png", dir);
    cairo_surface_t *img = test_image();
    ck_assert_msg(mt_draw_png_write(path, img, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(entries_in(dir), 1);   /* the PNG, and no temporary beside it */

    FILE *f = fopen(path, "rb");
    ck_assert(f != NULL);
    unsigned char sig[8];
    ck_assert_int_eq(fread(sig, 1, 8, f), 8);
    fclose(f);
    ck_assert(memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0);

    cairo_surface_t *back = cairo_image_surface_create_from_png(path);
    ck_assert_msg(cairo_surface_status(back) == CAIRO_STATUS_SUCCESS, "cannot read %s back: %s",
                  path, cairo_status_to_string(cairo_surface_status(back)));
    ck_assert_int_eq(cairo_image_surface_get_width(back), 37);
    ck_assert_int_eq(cairo_image_surface_get_height(back), 23);
    for (int y = 0; y < 23; y++)
        for (int x = 0; x < 37; x++) {
            const unsigned char *a = cairo_image_surface_get_data(img) +
                                     (size_t)y * cairo_image_surface_get_stride(img);
            const unsigned char *b = cairo_image_surface_get_data(back) +
                                     (size_t)y * cairo_image_surface_get_stride(back);
            uint32_t pa = ((const uint32_t *)(const void *)a)[x] & 0xffffff;
            uint32_t pb = ((const uint32_t *)(const void *)b)[x] & 0xffffff;
            ck_assert_msg(pa == pb, "pixel (%d, %d): wrote %06x, read %06x", x, y, pa, pb);
        }
    cairo_surface_destroy(back);

    /* Writing again replaces the file; err may be NULL. */
    ck_assert_int_eq(mt_draw_png_write(path, img, NULL, 0), 0);
    ck_assert_int_eq(entries_in(dir), 1);
    cairo_surface_destroy(img);
}
END_TEST

START_TEST(png_write_should_leave_no_file_when_the_directory_is_unwritable)
{
    char dir[512], path[600], err[2048] = "";
    cairo_surface_t *img = test_image();

    SUBDIR(dir, "parent");
    snprintf(path, sizeof path, "%s/missing/img.png", dir);
    ck_assert_int_eq(mt_draw_png_write(path, img, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "No such file or directory");
    ck_assert_int_eq(entries_in(dir), 0);

    if (geteuid() != 0) {   /* root writes anywhere: this case needs an ordinary user */
        SUBDIR(dir, "ro");
        ck_assert_int_eq(chmod(dir, 0500), 0);
        snprintf(path, sizeof path, "%s/img.png", dir);
        ck_assert_int_eq(mt_draw_png_write(path, img, err, sizeof err), -1);
        ASSERT_ERR_HAS(err, path);
        ASSERT_ERR_HAS(err, "Permission denied");
        ck_assert_int_eq(entries_in(dir), 0);
    }
    cairo_surface_destroy(img);
}
END_TEST

START_TEST(png_write_should_keep_the_old_file_when_writing_fails)
{
    char dir[512], path[600], err[2048] = "";
    SUBDIR(dir, "keep");
    snprintf(path, sizeof path, "%s/keep.png", dir);
    cairo_surface_t *small = test_image();
    ck_assert_int_eq(mt_draw_png_write(path, small, err, sizeof err), 0);
    struct stat before, after;
    ck_assert_int_eq(stat(path, &before), 0);

    /* The disk fills up halfway (files may not grow past 200 bytes): an image that
     * compresses badly fails in the middle of the PNG stream, as root too. */
    cairo_surface_t *big = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 200, 200);
    cairo_surface_flush(big);
    unsigned char *data = cairo_image_surface_get_data(big);
    uint32_t seed = 12345;
    for (int i = 0; i < cairo_image_surface_get_stride(big) * 200; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (unsigned char)(seed >> 16);
    }
    cairo_surface_mark_dirty(big);
    struct rlimit old, tiny;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    tiny = old;
    tiny.rlim_cur = 200;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &tiny), 0);
    int rc = mt_draw_png_write(path, big, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    ck_assert_int_eq(rc, -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "File too large");
    ck_assert_int_eq(entries_in(dir), 1);   /* the old PNG, and no temporary */
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_int_eq(before.st_size, after.st_size);
    ck_assert_int_eq(before.st_ino, after.st_ino);

    /* A directory where the PNG should go is not replaced. */
    char sub[700];
    snprintf(sub, sizeof sub, "%s/sub.png", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(mt_draw_png_write(sub, small, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, sub);
    ck_assert_int_eq(entries_in(dir), 2);
    ck_assert_int_eq(entries_in(sub), 0);
    cairo_surface_destroy(big);
    cairo_surface_destroy(small);
}
END_TEST

START_TEST(png_write_should_refuse_a_missing_or_broken_surface)
{
    char dir[512], path[600], err[2048] = "";
    SUBDIR(dir, "none");
    snprintf(path, sizeof path, "%s/none.png", dir);
    ck_assert_int_eq(mt_draw_png_write(path, NULL, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "surface is NULL");

    cairo_surface_t *broken = cairo_image_surface_create(CAIRO_FORMAT_RGB24, -5, 10);
    ck_assert(cairo_surface_status(broken) != CAIRO_STATUS_SUCCESS);
    ck_assert_int_eq(mt_draw_png_write(path, broken, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "in error");
    cairo_surface_destroy(broken);
    ck_assert_int_eq(entries_in(dir), 0);

    cairo_surface_t *img = test_image();
    ck_assert_int_eq(mt_draw_png_write(NULL, img, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "path");
    cairo_surface_destroy(img);
}
END_TEST

static Suite *draw_suite(void)
{
    Suite *s = suite_create("draw");

    TCase *cm = tcase_create("colormap");
    tcase_add_test(cm, diverging_should_be_white_at_zero);
    tcase_add_test(cm, diverging_should_reach_its_ends_at_vmax_and_clamp_beyond);
    tcase_add_test(cm, diverging_should_be_symmetric_around_zero);
    tcase_add_test(cm, diverging_should_paint_everything_white_without_a_scale);
    tcase_add_test(cm, colour_maps_should_give_nan_a_colour_of_its_own);
    tcase_add_test(cm, sequential_should_follow_viridis_from_purple_to_yellow);
    tcase_add_test(cm, sequential_should_get_lighter_all_the_way);
    suite_add_tcase(s, cm);

    TCase *text = tcase_create("text");
    tcase_add_checked_fixture(text, NULL, release_fonts);
    tcase_set_timeout(text, 120); /* font loading is slow under valgrind */
    tcase_add_test(text, font_check_should_find_the_pinned_dejavu_faces);
    tcase_add_test(text, measure_should_grow_with_length_and_size);
    tcase_add_test(text, measure_should_tell_the_faces_apart);
    tcase_add_test(text, measure_should_handle_empty_null_multiline_and_bad_input);
    tcase_add_test(text, drawn_text_should_put_its_ink_inside_the_measured_box);
    tcase_add_test(text, rotated_text_should_stay_in_its_turned_box);
    tcase_add_test(text, text_should_scale_with_the_transform_as_measured);
    tcase_add_test(text, text_should_render_the_same_whatever_the_font_options);
    tcase_add_test(text, drawing_text_should_leave_the_context_as_it_was);
    tcase_add_test(text, shutdown_should_be_safe_twice_and_text_should_work_after_it);
    suite_add_tcase(s, text);

    TCase *png = tcase_create("png");
    tcase_add_unchecked_fixture(png, tmp_setup, tmp_teardown);
    tcase_add_checked_fixture(png, NULL, release_fonts);
    tcase_add_test(png, png_write_should_write_a_png_that_reads_back);
    tcase_add_test(png, png_write_should_leave_no_file_when_the_directory_is_unwritable);
    tcase_add_test(png, png_write_should_keep_the_old_file_when_writing_fails);
    tcase_add_test(png, png_write_should_refuse_a_missing_or_broken_surface);
    suite_add_tcase(s, png);
    return s;
}

int main(void) { return run_suite(draw_suite()); }
