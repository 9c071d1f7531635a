/* heatmap.h: the PNGs of mytorch-gradcheck --heatmap DIR: a checked function's numerical and
 * analytical Jacobians and their difference, side by side. Apart from gradcheck.h because it
 * draws: only the mytorch-gradcheck command links heatmap.c and the drawing libraries, and
 * mt_gc_run reaches it through mt_gc_options.heatmap, so the checker itself (linked into the
 * trainer and the tests) needs none of them. The file names are mt_gc_heatmap_path's. */
#ifndef MYTORCH_GRADCHECK_HEATMAP_H
#define MYTORCH_GRADCHECK_HEATMAP_H

#include "gradcheck.h"

/* Writes a PNG of r's Jacobians to path: numerical, analytical and their difference side by
 * side, each with a title and a colour scale, the failing entries outlined. r must hold
 * Jacobians (keep_jacobians). Returns 0, or -1 with a message naming the file in err. A
 * mt_gc_heatmap_fn, for mt_gc_options.heatmap. */
int mt_gc_heatmap_write(const char *path, const mt_gc_func *f, const mt_gc_result *r, char *err,
                        size_t errlen);

/* Drops the font and drawing caches the heatmaps filled, which would otherwise stay until
 * exit (so that valgrind shows only real leaks). Call it last, after every heatmap. */
void mt_gc_heatmap_shutdown(void);

#endif
