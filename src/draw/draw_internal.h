/* draw_internal.h: what the files of src/draw share and nothing else sees: the text cache's
 * release, which mt_draw_shutdown calls before the libraries' caches go. */
#ifndef MT_DRAW_INTERNAL_H
#define MT_DRAW_INTERNAL_H

/* Frees the layout, context, font descriptions and font map text.c keeps between calls
 * (nothing if it keeps none); the next text call builds them again. 1 when everything was
 * freed, 0 when the font map is still in use elsewhere (then it is left alive, and cairo's
 * and fontconfig's caches must not be reset under it). */
int mt_draw_text_release(void);

#endif /* MT_DRAW_INTERNAL_H */
