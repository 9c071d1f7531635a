/* draw.h: what every picture of the project needs, on top of cairo: PNG files written
 * atomically, text through Pango in pinned fonts (measured exactly as it is drawn), colour maps
 * for signed values and for magnitudes, rounded boxes, and one shutdown that leaves valgrind
 * clean.
 * Built as libmytorch_draw.a, apart from the core library, which needs neither cairo nor Pango.
 *
 * Units: every coordinate and font size is in cairo user units (pixels when the transform is
 * the identity). Nothing here keeps a pointer to what it is given.
 *
 * Threads: the text functions and mt_draw_shutdown share one cache (a Pango font map,
 * context and layout) without locks, so call them from one thread only (the trainer,
 * gradcheck and the viewer all draw from their main thread). The colour maps and
 * mt_draw_png_write can be called from any thread. */
#ifndef MT_DRAW_H
#define MT_DRAW_H

#include <cairo.h>
#include <stddef.h>
#include <stdio.h>

/* ---- PNG ---------------------------------------------------------------------------------- */

/* Writes surface (any cairo surface; image surfaces are encoded as they are) as a PNG to path
 * through mt_write_file_atomic (io.h): a temporary file in path's directory, renamed over path
 * once complete, so path is either the whole image or left as it was, and no temporary is left
 * behind. 0, or -1 with a message naming the file in err, as io.h's writers give (err may be
 * NULL); a NULL surface or one in an error state is refused before anything is created. The
 * caller keeps the surface. */
int mt_draw_png_write(const char *path, cairo_surface_t *surface, char *err, size_t errlen);

/* Encodes surface as a PNG into the open stream f (which it does not close): 0, or -1 with
 * errno set. The callback of mt_write_file_atomic or mt_write_dir_atomic (io.h) calls it. */
int mt_draw_png_to(FILE *f, cairo_surface_t *surface);

/* cairo's bytes onto a stdio stream, for the cairo_*_for_stream surfaces (PDF, SVG, PNG) in
 * the callback of an atomic writer: pass mt_draw_sink_write with a sink as its closure. The
 * first failed fwrite's errno is kept, because cairo may call other functions before its
 * failure comes back; mt_draw_sink_fail(sink, status) sets errno from it and returns -1. */
typedef struct mt_draw_sink {
    FILE *f;
    int err;                 /* errno of the first failed write, or 0 */
} mt_draw_sink;

cairo_status_t mt_draw_sink_write(void *closure, const unsigned char *data, unsigned int len);
int mt_draw_sink_fail(const mt_draw_sink *sink, cairo_status_t status);

/* ---- text --------------------------------------------------------------------------------- */

/* The four faces, pinned so that every machine renders the same pixels: "DejaVu Sans" and
 * "DejaVu Sans Mono" (Debian's fonts-dejavu-core), regular or bold. The values are bits:
 * MT_DRAW_BOLD | MT_DRAW_MONO is MT_DRAW_MONO_BOLD. */
typedef enum mt_draw_font {
    MT_DRAW_SANS      = 0,
    MT_DRAW_BOLD      = 1,   /* DejaVu Sans Bold */
    MT_DRAW_MONO      = 2,   /* DejaVu Sans Mono: digits and columns line up */
    MT_DRAW_MONO_BOLD = 3,
} mt_draw_font;

typedef enum mt_draw_halign {
    MT_DRAW_LEFT,            /* x is the left edge of the text's logical box */
    MT_DRAW_CENTER,          /* x is its horizontal centre */
    MT_DRAW_RIGHT,           /* x is its right edge */
} mt_draw_halign;

typedef enum mt_draw_valign {
    MT_DRAW_TOP,             /* y is the top of the logical box (the font's ascent line) */
    MT_DRAW_MIDDLE,          /* y is the middle of the logical box, whatever the string's ink */
    MT_DRAW_BASELINE,        /* y is the baseline of the first line */
    MT_DRAW_BOTTOM,          /* y is the bottom of the logical box (the font's descent line) */
} mt_draw_valign;

/* The size of a string as mt_draw_text lays it out, in user units. The logical box is what
 * to align and to size things by: its height is the font's ascent + descent (per line), the
 * same for "a" as for "Ag", so rows of labels line up. The ink box is where pixels may be
 * painted; it is inside the logical box for ordinary text, and is given relative to the
 * logical box's top-left corner. */
typedef struct mt_draw_text_extents {
    double width;            /* logical width: the advance of the whole string */
    double height;           /* logical height: lines x (ascent + descent) */
    double baseline;         /* from the top of the logical box to the first baseline */
    double ink_x, ink_y;     /* top-left of the ink box, relative to the logical box */
    double ink_width, ink_height;
} mt_draw_text_extents;

/* Measures text (UTF-8, plain: no markup; '\n' starts a new line; NULL is ""; bytes that are
 * not UTF-8 become U+FFFD) in font at size (the em size in user units, as cairo_set_font_size
 * takes it; one that is not a positive finite number measures all zeros and draws nothing).
 * The result does not depend on the surface or transform text is later drawn with, and equals
 * what mt_draw_text draws: hinting is off and glyph positions are not rounded, so text scales
 * and rotates exactly. Measuring a string and then drawing it lays it out once. */
mt_draw_text_extents mt_draw_text_measure(mt_draw_font font, double size, const char *text);

/* Draws text in the current source of cr, with its logical box aligned to (x, y) by ha and
 * va. cr's path and current point are cleared; its transform, source, font options and the
 * rest of its state are untouched (cr NULL: nothing happens). Antialiasing is greyscale and
 * hinting off, whatever cr's font options or the machine's fontconfig say (except a fontconfig
 * that turns antialiasing off altogether). */
void mt_draw_text(cairo_t *cr, mt_draw_font font, double size, double x, double y,
                  mt_draw_halign ha, mt_draw_valign va, const char *text);

/* As mt_draw_text, but turned by angle radians around (x, y) (cairo's convention: positive
 * turns clockwise on screen, so -pi/2 reads bottom-to-top, as a y-axis title does). ha and va
 * align the text in its own, turned frame. */
void mt_draw_text_rotated(cairo_t *cr, mt_draw_font font, double size, double x, double y,
                          double angle, mt_draw_halign ha, mt_draw_valign va, const char *text);

/* 0 when fontconfig resolves all four pinned faces to themselves; otherwise -1 and a message
 * naming the missing family, what was found instead and the Debian package to install (text
 * is still drawn, in the substitute, so rendering never fails over a font). */
int mt_draw_font_check(char *err, size_t errlen);

/* ---- colour maps -------------------------------------------------------------------------- */

typedef struct mt_draw_rgb { double r, g, b; } mt_draw_rgb;   /* each in [0, 1] */

/* The colour of a value that is NaN, in both maps: a mid grey (0.5, 0.5, 0.5), which neither
 * map passes through. */
#define MT_DRAW_NAN_RGB ((mt_draw_rgb){ 0.5, 0.5, 0.5 })

/* Signed values such as gradients: white at 0, through light to strong red for positive
 * values and the same steps of blue for negative ones (ColorBrewer's RdBu), reaching the ends,
 * red (0.70, 0.09, 0.17) and blue (0.13, 0.40, 0.67), at +-vmax and clamped beyond; linear
 * between RdBu's nine colours, with pure white at 0. v and -v get colours of about the same
 * lightness (within 5 units of CIE L*), so neither sign looks larger. +-infinity are the ends;
 * NaN is MT_DRAW_NAN_RGB; a vmax that is not > 0 (or not finite) makes every finite value
 * white. */
mt_draw_rgb mt_draw_cmap_diverging(double v, double vmax);

/* Magnitudes: t in [0, 1] (clamped) along viridis, from dark purple (0.267, 0.005, 0.329) at 0
 * to yellow (0.993, 0.906, 0.144) at 1, lightness rising steadily so it reads in grey too;
 * interpolated from a table of 17 of its colours. NaN is MT_DRAW_NAN_RGB. */
mt_draw_rgb mt_draw_cmap_sequential(double t);

/* cairo_set_source_rgb with c. */
void mt_draw_set_source(cairo_t *cr, mt_draw_rgb c);

/* ---- shapes ------------------------------------------------------------------------------- */

/* Adds to cr's path the rectangle x, y, w, h with its corners rounded by radius (at most half
 * the shorter side), as a closed sub-path of its own; fill or stroke it as usual. */
void mt_draw_rounded_rect(cairo_t *cr, double x, double y, double w, double h, double radius);

/* ---- shutdown ----------------------------------------------------------------------------- */

/* Releases this module's cache and cairo's, Pango's and fontconfig's static caches (font maps,
 * font faces, patterns), so that a program that has drawn shows no leaks under valgrind. Call
 * it once, after the last drawing, from the thread that drew, when every cairo object has been
 * destroyed; calling it again is harmless, and drawing after it works (the caches are
 * rebuilt). It may wait a moment for Pango's font-matching thread to let go of the fonts. */
void mt_draw_shutdown(void);

#endif /* MT_DRAW_H */
