/* data.c: turning rows of the MNIST byte arrays into the tensors of one batch. Only a batch is
 * ever expanded from bytes to doubles (all 60,000 images as doubles would be 376 MB), so this
 * runs once per step and once per validation chunk, and is written to be quick. */
#include "mnist.h"

#include <stdint.h>
#include <string.h>

/* byte -> byte / 255.0: a table beats a division. Filled by batch_init before any thread
 * starts. */
static double pixel_scale[256];

void batch_init(void)
{
    for (int v = 0; v < 256; v++) pixel_scale[v] = v / 255.0;
}

/* Four pixels in five are 0, so eight zero bytes (one load) become eight zeros without the
 * table; and the next row, somewhere in 47 MB, is fetched while this one is converted. */
mt_tensor *batch_images(const mt_mnist *d, const size_t *idx, size_t n)
{
    mt_tensor *x = mt_empty(MT_SHAPE((int)n, IMAGE_PIXELS));
    for (size_t r = 0; r < n; r++) {
        const unsigned char *src = d->images.data + idx[r] * IMAGE_PIXELS;
        double *dst = x->data + r * IMAGE_PIXELS;
#ifdef __GNUC__
        if (r + 1 < n)
            for (int k = 0; k < IMAGE_PIXELS; k += 64)
                __builtin_prefetch(d->images.data + idx[r + 1] * IMAGE_PIXELS + k);
#endif
        for (int k = 0; k < IMAGE_PIXELS; k += 8) {          /* 784 = 98 * 8 */
            uint64_t word;
            memcpy(&word, src + k, sizeof word);
            if (word == 0)
                for (int j = 0; j < 8; j++) dst[k + j] = 0.0;
            else
                for (int j = 0; j < 8; j++) dst[k + j] = pixel_scale[src[k + j]];
        }
    }
    return x;
}

mt_tensor *batch_labels(const mt_mnist *d, const size_t *idx, size_t n)
{
    mt_tensor *y = mt_empty(MT_SHAPE((int)n));
    for (size_t r = 0; r < n; r++) y->data[r] = d->labels.data[idx[r]];
    return y;
}
