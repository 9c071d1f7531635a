/* io.h: reading the MNIST IDX files and reading/writing NumPy .npy files, so the trainer can
 * load its data and exchange weights and reference values with numpy.load/numpy.save; and
 * writing any file (weights, PNG, CSV) so that it is never left half-written.
 *
 * Depends only on libc and zlib, not on the tensor types: results are plain byte and double
 * buffers. Every function returns 0 on success, or -1 with a message in err (when err is not
 * NULL) that names the file and what was wrong; nothing read from a file is trusted. */
#ifndef MYTORCH_IO_H
#define MYTORCH_IO_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- IDX files ------------------------------------------------------------------------------ */

/* IDX files (MNIST), raw or gzip-compressed: read through zlib's gzopen/gzread, which reads both.
 * Only unsigned-byte IDX files (type 0x08) with 1 to 3 dimensions are supported. */
/* Every reader and writer here reports failure by returning -1 with a message in (err, errlen).
 * mt_errbuf_set writes such a message (nothing when err is NULL or errlen is 0). */
void mt_errbuf_set(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

typedef struct mt_idx {
    int ndim;              /* 1 for labels, 3 for images */
    int dims[3];           /* e.g. {60000, 28, 28}; unused dims are 1 */
    size_t count;          /* dims[0] */
    size_t item_size;      /* product of dims[1..]: bytes per record */
    unsigned char *data;   /* count * item_size bytes; owned, released by mt_idx_free */
} mt_idx;

/* Loads the IDX file at path into *out. 0 ok; -1 and a message naming the file, what was
 * expected and what was found. On failure *out is zeroed and owns nothing. On success the
 * caller owns out->data and releases it with mt_idx_free. */
int  mt_idx_load(const char *path, mt_idx *out, char *err, size_t errlen);
/* Frees idx->data and zeroes *idx. Safe on a zeroed struct, on NULL, and when called twice. */
void mt_idx_free(mt_idx *idx);

/* ---- MNIST ---------------------------------------------------------------------------------- */

typedef struct mt_mnist {
    mt_idx images;         /* (count, rows, cols) uint8 */
    mt_idx labels;         /* (count) uint8, every value 0-9 */
    size_t count; int rows, cols;
} mt_mnist;

/* Loads DIR/PREFIX-images-idx3-ubyte[.gz] and DIR/PREFIX-labels-idx1-ubyte[.gz] (prefix "train"
 * or "t10k"); prefers the .gz when both exist. Checks the magic numbers (0x00000803 images,
 * 0x00000801 labels), the dims, that each file holds exactly the bytes its header promises
 * (fewer: "file X: truncated: header promises N bytes of data, found M"; more is an error too),
 * that the counts agree, and that every label is 0-9 (naming the index and value).
 * On failure *out is zeroed and owns nothing; on success release it with mt_mnist_free. */
int  mt_mnist_load(const char *dir, const char *prefix, mt_mnist *out, char *err, size_t errlen);
/* Frees both buffers and zeroes *m. Safe on a zeroed struct, on NULL, and when called twice. */
void mt_mnist_free(mt_mnist *m);

/* ---- .npy files ----------------------------------------------------------------------------- */

/* .npy files (NumPy format 1.0/2.0), float64 little-endian ('<f8'), C order only, so numpy.load
 * and numpy.save interoperate. Shapes have 0 to 4 dimensions; ndim 0 is a scalar (one value). */

/* Writes data (the product of shape[0..ndim-1] doubles, row-major) to path. Writes PATH.tmp
 * then renames it over PATH, so PATH is never left half-written: on failure PATH is untouched
 * and PATH.tmp is removed. ndim 0..4; shape may be NULL when ndim is 0. Does not take data. */
int mt_npy_save(const char *path, const double *data, int ndim, const int *shape,
                char *err, size_t errlen);

/* Reads path. On success *data is a malloc'd buffer of the product of shape[0..*ndim-1]
 * doubles that the caller frees with free(); shape[*ndim..3] are set to 1. On failure *data is
 * NULL and a message names the file and what was found: a dtype other than '<f8',
 * fortran_order True, a bad magic string, truncated or trailing data, or ndim > 4. */
int mt_npy_load(const char *path, double **data, int *ndim, int shape[4],
                char *err, size_t errlen);

/* Reads path into dst, which holds the product of shape[0..ndim-1] doubles, and requires the
 * file to have exactly this shape: "file X: shape (3, 4) but expected (4, 3)". dst is
 * unchanged on failure. */
int mt_npy_load_into(const char *path, double *dst, int ndim, const int *shape,
                     char *err, size_t errlen);

/* ---- writing files -------------------------------------------------------------------------- */

/* Writes PATH through PATH.tmp: calls write(f, user) on the open temporary file, then
 * flushes, closes and renames it over PATH. On any failure (write returns non-zero, a
 * short write, fclose or rename fails) the temporary is removed, PATH is left as it was,
 * and -1 is returned with "file PATH: <what failed>: <strerror>" in err, e.g.
 * "file w.npy: cannot create w.npy.tmp: Permission denied"; errno is left at that error.
 * write returns 0 or non-zero with errno set (a stream error it ignored is caught anyway);
 * it must not close f. PATH.tmp is replaced if it exists; write is not called when it cannot
 * be created. Allocates nothing that outlives the call. */
int mt_write_file_atomic(const char *path, int (*write)(FILE *f, void *user), void *user,
                         char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* MYTORCH_IO_H */
