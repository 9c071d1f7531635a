/* plot.h: the validation-accuracy chart the MNIST trainer writes as a PNG, drawn with cairo
 * and src/draw (text, PNG file). Kept out of the core library so that only the programs that
 * draw link cairo and Pango. A program that plots calls mt_draw_shutdown() once at the end. */
#ifndef MT_MNIST_PLOT_H
#define MT_MNIST_PLOT_H

#include "../draw/draw.h"

#include <stddef.h>

#define MT_PLOT_WIDTH  1000 /* size of the PNG in pixels */
#define MT_PLOT_HEIGHT 600

/* One evaluation during training. */
typedef struct mt_plot_point {
    double samples;   /* training samples seen so far, >= 0 */
    double accuracy;  /* validation accuracy in [0,1] */
    double loss;      /* training loss at that point (NaN if unknown) */
} mt_plot_point;

/* Draws accuracy (left axis, %) and loss (right axis) against samples seen, marks the best and
 * final accuracy, and writes a MT_PLOT_WIDTH x MT_PLOT_HEIGHT PNG to path (mt_draw_png_write:
 * through a temporary file and a rename, so path is never half-written). title may be NULL.
 * Reads pts[0..n-1] and keeps nothing. 0 ok, -1 and a message in err (n < 1, a sample count
 * that is negative or not finite, an accuracy outside [0,1], or a file that cannot be written). */
int mt_plot_accuracy(const char *path, const char *title, const mt_plot_point *pts, int n,
                     char *err, size_t errlen);

#endif /* MT_MNIST_PLOT_H */
