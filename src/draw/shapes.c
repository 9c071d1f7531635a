/* shapes.c: paths that the pictures share (draw.h). */
#include "draw.h"

#include <math.h>

void mt_draw_rounded_rect(cairo_t *cr, double x, double y, double w, double h, double radius)
{
    const double pi = 3.14159265358979323846;
    double k = fmin(radius, fmin(w, h) / 2);     /* never more than half the shorter side */
    cairo_new_sub_path(cr);
    cairo_arc(cr, x + w - k, y + k, k, -pi / 2, 0);
    cairo_arc(cr, x + w - k, y + h - k, k, 0, pi / 2);
    cairo_arc(cr, x + k, y + h - k, k, pi / 2, pi);
    cairo_arc(cr, x + k, y + k, k, pi, 3 * pi / 2);
    cairo_close_path(cr);
}
