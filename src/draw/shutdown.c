/* shutdown.c: mt_draw_shutdown (draw.h), the one call a program that has drawn makes before
 * it exits, so that valgrind sees no leaks: the font caches of this module, Pango, cairo and
 * fontconfig are released in that order, each after everything that holds on to it. */
#include "draw.h"
#include "draw_internal.h"

#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>

void mt_draw_shutdown(void)
{
    /* Our layout, context and font map, with the fonts and patterns it holds. */
    int released = mt_draw_text_release();
    /* Pango's per-thread default map, in case something drew through it directly. */
    pango_cairo_font_map_set_default(NULL);
    /* Resetting caches that live objects still use would crash: better a leak report. */
    if (!released)
        return;
    cairo_debug_reset_static_data();          /* cairo's font faces and FreeType faces */
    FcFini();                                 /* fontconfig's configuration and caches */
}
