/* colormap.c: the two colour maps of draw.h, as small tables interpolated linearly in sRGB:
 * ColorBrewer's RdBu (white at the centre) for signed values such as gradients, and viridis
 * for magnitudes. Pure functions, safe from any thread. */
#include "draw.h"

#include <math.h>

/* RdBu's nine-class scheme, from its blue end (-1) to its red end (+1), its centre (0.97 grey)
 * replaced by pure white so that a zero reads as nothing at all. */
static const mt_draw_rgb diverging_table[9] = {
    { 33 / 255.0, 102 / 255.0, 172 / 255.0 },   /* -1: #2166ac */
    { 67 / 255.0, 147 / 255.0, 195 / 255.0 },   /* #4393c3 */
    { 146 / 255.0, 197 / 255.0, 222 / 255.0 },  /* #92c5de */
    { 209 / 255.0, 229 / 255.0, 240 / 255.0 },  /* #d1e5f0 */
    { 1.0, 1.0, 1.0 },                          /*  0: white */
    { 253 / 255.0, 219 / 255.0, 199 / 255.0 },  /* #fddbc7 */
    { 244 / 255.0, 165 / 255.0, 130 / 255.0 },  /* #f4a582 */
    { 214 / 255.0, 96 / 255.0, 77 / 255.0 },    /* #d6604d */
    { 178 / 255.0, 24 / 255.0, 43 / 255.0 },    /* +1: #b2182b */
};

/* Viridis (matplotlib's default map, public domain) at t = 0, 1/16, ..., 1: within 6/255 of
 * the full 256-entry table everywhere once interpolated. */
static const mt_draw_rgb sequential_table[17] = {
    { 0.267004, 0.004874, 0.329415 }, { 0.282302, 0.094624, 0.417024 },
    { 0.278919, 0.174879, 0.482972 }, { 0.259266, 0.250672, 0.524378 },
    { 0.230223, 0.321297, 0.545488 }, { 0.199995, 0.386377, 0.554533 },
    { 0.173302, 0.447386, 0.557850 }, { 0.149668, 0.506440, 0.557329 },
    { 0.128148, 0.565107, 0.550893 }, { 0.120325, 0.623765, 0.534308 },
    { 0.155378, 0.681539, 0.503240 }, { 0.241467, 0.736626, 0.454543 },
    { 0.362859, 0.786695, 0.386589 }, { 0.508094, 0.829231, 0.299221 },
    { 0.669358, 0.862217, 0.195444 }, { 0.835913, 0.886110, 0.102462 },
    { 0.993248, 0.906157, 0.143936 },
};

/* The colour at u in [0, 1] of a table of n colours spread evenly over [0, 1]. */
static mt_draw_rgb lerp_table(const mt_draw_rgb *table, int n, double u)
{
    double p = u * (n - 1);
    int i = (int)floor(p);
    if (i < 0)
        return table[0];
    if (i >= n - 1)
        return table[n - 1];
    double f = p - i;
    const mt_draw_rgb *a = &table[i], *b = &table[i + 1];
    return (mt_draw_rgb){ a->r + (b->r - a->r) * f, a->g + (b->g - a->g) * f,
                          a->b + (b->b - a->b) * f };
}

mt_draw_rgb mt_draw_cmap_diverging(double v, double vmax)
{
    if (isnan(v))
        return MT_DRAW_NAN_RGB;
    double t;   /* v / vmax, in [-1, 1] */
    if (isinf(v))
        t = v > 0 ? 1 : -1;
    else if (!(vmax > 0) || isinf(vmax))
        t = 0;
    else
        t = fmax(-1.0, fmin(1.0, v / vmax));
    if (t == 0)
        return diverging_table[4];   /* exactly white, not white up to rounding */
    return lerp_table(diverging_table, 9, (t + 1) / 2);
}

mt_draw_rgb mt_draw_cmap_sequential(double t)
{
    if (isnan(t))
        return MT_DRAW_NAN_RGB;
    return lerp_table(sequential_table, 17, fmax(0.0, fmin(1.0, t)));
}

void mt_draw_set_source(cairo_t *cr, mt_draw_rgb c)
{
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
}
