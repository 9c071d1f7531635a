/* text.c: text for every picture (draw.h) through Pango on cairo, in the pinned DejaVu faces.
 * One context with fixed font options (greyscale antialiasing, no hinting, unrounded glyph
 * positions) lays out every string, so a string measures the same wherever it is drawn. */
#include "draw.h"
#include "draw_internal.h"

#include "mytorch/io.h"

#include <math.h>
#include <pango/pangocairo.h>
#include <string.h>

static const char *const families[2] = { "DejaVu Sans", "DejaVu Sans Mono" };

/* What is kept between calls. Single-threaded by design (draw.h): a layout and its context
 * may only be used by one thread at a time. The layout is reused, and keeps the last string,
 * so that measuring a string and then drawing it lays it out once. The font map is this
 * module's own rather than Pango's per-thread default, so that releasing it is up to us. */
typedef struct text_cache {
    PangoFontMap *map;                 /* one reference, ours */
    PangoContext *ctx;                 /* holds another reference to map */
    PangoLayout *layout;
    PangoFontDescription *desc[4];     /* by mt_draw_font; the size is set per call */
    char *text;                        /* the string layout holds (g_malloc'd), or NULL */
    mt_draw_font font;
    double size;
} text_cache;

static text_cache cache;

int mt_draw_text_release(void)
{
    if (cache.layout)
        g_object_unref(cache.layout);
    if (cache.ctx)
        g_object_unref(cache.ctx);
    for (int i = 0; i < 4; i++)
        if (cache.desc[i])
            pango_font_description_free(cache.desc[i]);
    g_free(cache.text);
    int released = 1;
    if (cache.map) {
        /* Pango matches fonts on a fontconfig thread of the map's, and each job it queues
         * holds a reference to the map until the job is done, which can be a moment after the
         * answer has been handed over. Wait for those (up to 10 s: valgrind is slow), so that
         * the map, its fonts and their cairo faces are freed here, on this thread, before
         * cairo's and fontconfig's caches go. */
        GObject *obj = G_OBJECT(cache.map);
        for (int ms = 0; g_atomic_int_get(&obj->ref_count) > 1 && ms < 10000; ms++)
            g_usleep(1000);
        released = g_atomic_int_get(&obj->ref_count) == 1;
        if (released)
            g_object_unref(cache.map);
        /* else: a job never finished; the map is left alive (leaked) rather than freed under
         * it, and the caller must not reset the caches it uses. */
    }
    memset(&cache, 0, sizeof cache);
    return released;
}

static void cache_open(void)
{
    if (cache.layout)
        return;
    cache.map = pango_cairo_font_map_new();
    cache.ctx = pango_font_map_create_context(cache.map);

    /* Every option set, so that neither the surface drawn on nor the machine's fontconfig
     * (hinting, subpixel order) changes a pixel or a metric. */
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_font_options_set_subpixel_order(fo, CAIRO_SUBPIXEL_ORDER_DEFAULT);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    pango_cairo_context_set_font_options(cache.ctx, fo);   /* copies fo */
    cairo_font_options_destroy(fo);
    pango_context_set_round_glyph_positions(cache.ctx, FALSE);
    /* Not the locale's language: it would change font fallback from one machine to another. */
    pango_context_set_language(cache.ctx, pango_language_from_string("en-us"));
    pango_context_set_base_dir(cache.ctx, PANGO_DIRECTION_LTR);

    for (int i = 0; i < 4; i++) {
        cache.desc[i] = pango_font_description_new();
        pango_font_description_set_family_static(cache.desc[i],
                                                 families[(i & MT_DRAW_MONO) ? 1 : 0]);
        pango_font_description_set_style(cache.desc[i], PANGO_STYLE_NORMAL);
        pango_font_description_set_stretch(cache.desc[i], PANGO_STRETCH_NORMAL);
        pango_font_description_set_weight(cache.desc[i], (i & MT_DRAW_BOLD) ? PANGO_WEIGHT_BOLD
                                                                             : PANGO_WEIGHT_NORMAL);
    }
    cache.layout = pango_layout_new(cache.ctx);
    cache.size = -1;
}

/* The cached layout holding text in font at size (em size in user units), or NULL when there
 * is nothing to lay out (size not a positive finite number). */
static PangoLayout *layout_for(mt_draw_font font, double size, const char *text)
{
    if (!(size > 0) || !isfinite(size))
        return NULL;
    cache_open();
    font = (mt_draw_font)((unsigned)font & 3u);
    if (!text)
        text = "";
    if (font != cache.font || size != cache.size) {
        /* Absolute size: size user units per em, as cairo_set_font_size, whatever the
         * resolution; pango_layout_set_font_description copies the description. */
        pango_font_description_set_absolute_size(cache.desc[font], size * PANGO_SCALE);
        pango_layout_set_font_description(cache.layout, cache.desc[font]);
        cache.font = font;
        cache.size = size;
    }
    if (!cache.text || strcmp(cache.text, text) != 0) {
        g_free(cache.text);
        /* Invalid UTF-8 would make Pango warn on stderr; its bytes become U+FFFD instead. */
        cache.text = g_utf8_validate(text, -1, NULL) ? g_strdup(text) : g_utf8_make_valid(text, -1);
        pango_layout_set_text(cache.layout, cache.text, -1);
        if (strcmp(cache.text, text) != 0) {   /* keep the caller's bytes as the cache key */
            g_free(cache.text);
            cache.text = NULL;
        }
    }
    return cache.layout;
}

/* Extents of the layout in user units; *logical gets the layout's logical rectangle (Pango
 * units) for positioning. */
static mt_draw_text_extents extents_of(PangoLayout *layout, PangoRectangle *logical)
{
    PangoRectangle ink;
    pango_layout_get_extents(layout, &ink, logical);
    const double s = PANGO_SCALE;
    mt_draw_text_extents e;
    e.width = logical->width / s;
    e.height = logical->height / s;
    e.baseline = (pango_layout_get_baseline(layout) - logical->y) / s;
    e.ink_x = (ink.x - logical->x) / s;
    e.ink_y = (ink.y - logical->y) / s;
    e.ink_width = ink.width / s;
    e.ink_height = ink.height / s;
    return e;
}

mt_draw_text_extents mt_draw_text_measure(mt_draw_font font, double size, const char *text)
{
    PangoLayout *layout = layout_for(font, size, text);
    if (!layout)
        return (mt_draw_text_extents){ 0, 0, 0, 0, 0, 0, 0 };
    PangoRectangle logical;
    return extents_of(layout, &logical);
}

void mt_draw_text_rotated(cairo_t *cr, mt_draw_font font, double size, double x, double y,
                          double angle, mt_draw_halign ha, mt_draw_valign va, const char *text)
{
    if (!cr)
        return;
    cairo_new_path(cr);
    PangoLayout *layout = layout_for(font, size, text);
    if (!layout)
        return;
    PangoRectangle logical;
    mt_draw_text_extents e = extents_of(layout, &logical);
    double dx = ha == MT_DRAW_CENTER ? -e.width / 2 : ha == MT_DRAW_RIGHT ? -e.width : 0;
    double dy = va == MT_DRAW_MIDDLE ? -e.height / 2 : va == MT_DRAW_BASELINE ? -e.baseline
              : va == MT_DRAW_BOTTOM ? -e.height : 0;

    /* The layout was made for an identity transform and is drawn under cr's: with hinting off
     * and positions unrounded, glyphs land where the measurement says, at any scale or angle. */
    cairo_save(cr);
    cairo_translate(cr, x, y);
    if (angle != 0)
        cairo_rotate(cr, angle);
    cairo_move_to(cr, dx - logical.x / (double)PANGO_SCALE, dy - logical.y / (double)PANGO_SCALE);
    pango_cairo_show_layout(cr, layout);
    cairo_restore(cr);
    cairo_new_path(cr);
}

void mt_draw_text(cairo_t *cr, mt_draw_font font, double size, double x, double y,
                  mt_draw_halign ha, mt_draw_valign va, const char *text)
{
    mt_draw_text_rotated(cr, font, size, x, y, 0, ha, va, text);
}

int mt_draw_font_check(char *err, size_t errlen)
{
    cache_open();
    PangoFontMap *map = cache.map;
    for (int i = 0; i < 4; i++) {
        /* Changing the size here is harmless: layout_for sets it before each use. */
        pango_font_description_set_absolute_size(cache.desc[i], 12 * PANGO_SCALE);
        PangoFont *f = pango_font_map_load_font(map, cache.ctx, cache.desc[i]);
        PangoFontDescription *got = f ? pango_font_describe(f) : NULL;
        const char *family = got ? pango_font_description_get_family(got) : NULL;
        int ok = family && g_ascii_strcasecmp(family, families[(i & MT_DRAW_MONO) ? 1 : 0]) == 0 &&
                 ((i & MT_DRAW_BOLD) ? pango_font_description_get_weight(got) >= PANGO_WEIGHT_BOLD
                                     : pango_font_description_get_weight(got) < PANGO_WEIGHT_BOLD);
        if (!ok)
            mt_errbuf_set(err, errlen, "draw: font \"%s%s\" is not installed (fontconfig gives "
                          "\"%s\" instead); install the Debian package fonts-dejavu-core",
                          families[(i & MT_DRAW_MONO) ? 1 : 0], (i & MT_DRAW_BOLD) ? " Bold" : "",
                          family ? family : "no font at all");
        if (got)
            pango_font_description_free(got);
        if (f)
            g_object_unref(f);
        if (!ok)
            return -1;
    }
    return 0;
}
