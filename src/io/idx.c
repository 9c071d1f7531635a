/* idx.c: the IDX reader behind mt_idx_load and mt_mnist_load (include/mytorch/io.h).
 * Parses the big-endian IDX header, checks it against the bytes that follow, and returns one
 * contiguous uint8 buffer. zlib's gzread reads gzip and raw files alike, so both work. */
#include "mytorch/io.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_MAGIC_LABELS 0x00000801u /* uint8, 1 dimension */
#define IDX_MAGIC_IMAGES 0x00000803u /* uint8, 3 dimensions */
#define IDX_TYPE_UBYTE   0x08u
#define IDX_MAX_DIMS     3

/* Reads are chunked: gzread takes an unsigned length, and growing the buffer as data arrives
 * keeps a lying header (say 2^32 x 2^32 x 1) from allocating more than the file really holds. */
#define IDX_CHUNK      ((size_t)1 << 20)
#define IDX_FIRST_CAP  ((size_t)1 << 20)


/* Describes the last zlib error on f: gzerror's text, or strerror for a system error. */
static const char *gz_problem(gzFile f, int saved_errno)
{
    int errnum = Z_OK;
    const char *msg = gzerror(f, &errnum);
    if (errnum == Z_ERRNO)
        return strerror(saved_errno ? saved_errno : EIO);
    return (msg && *msg) ? msg : "read error";
}

/* Reads up to n bytes; *got is how many arrived. Returns 0 at end of data (including a gzip
 * stream that ends early, which zlib reports as end of file), -1 on a read or gzip error. */
static int read_some(gzFile f, unsigned char *buf, size_t n, size_t *got, int *saved_errno)
{
    *got = 0;
    while (*got < n) {
        size_t want = n - *got;
        if (want > IDX_CHUNK)
            want = IDX_CHUNK;
        errno = 0;
        int r = gzread(f, buf + *got, (unsigned)want);
        if (r < 0) {
            *saved_errno = errno;
            return -1;
        }
        if (r == 0)
            return 0;
        *got += (size_t)r;
    }
    return 0;
}

static uint32_t be32(const unsigned char *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static const char *magic_name(uint32_t magic)
{
    return magic == IDX_MAGIC_IMAGES ? "IDX images: uint8, 3 dimensions"
         : magic == IDX_MAGIC_LABELS ? "IDX labels: uint8, 1 dimension"
         : "IDX";
}

/* The loader proper. expect_magic is 0 to accept any uint8 IDX file with 1-3 dimensions, or
 * one of IDX_MAGIC_* to require exactly that. */
static int idx_load(const char *path, uint32_t expect_magic, mt_idx *out, char *err, size_t errlen)
{
    if (!out) {
        mt_errbuf_set(err, errlen, "mt_idx_load: out is NULL");
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (!path) {
        mt_errbuf_set(err, errlen, "mt_idx_load: path is NULL");
        return -1;
    }

    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        mt_errbuf_set(err, errlen, "file %s: cannot open: %s", path,
                errno ? strerror(errno) : "out of memory");
        return -1;
    }
    gzbuffer(f, 128 * 1024); /* the default 8 KiB makes 47 MB of images needlessly slow */

    unsigned char *data = NULL;
    int saved_errno = 0;
    size_t got = 0;

    /* Header: 4-byte magic (0, 0, type, ndim), then ndim big-endian uint32 sizes. */
    unsigned char head[4 + 4 * IDX_MAX_DIMS];
    if (read_some(f, head, 4, &got, &saved_errno) < 0) {
        mt_errbuf_set(err, errlen, "file %s: cannot read: %s", path, gz_problem(f, saved_errno));
        goto fail;
    }
    if (got < 4) {
        if (got == 0)
            mt_errbuf_set(err, errlen, "file %s: empty, expected an IDX header", path);
        else
            mt_errbuf_set(err, errlen, "file %s: truncated: expected a 4-byte IDX magic number, "
                    "found %zu bytes", path, got);
        goto fail;
    }
    uint32_t magic = be32(head);
    if (expect_magic && magic != expect_magic) {
        mt_errbuf_set(err, errlen, "file %s: bad magic number 0x%08lx, expected 0x%08lx (%s)",
                path, (unsigned long)magic, (unsigned long)expect_magic, magic_name(expect_magic));
        goto fail;
    }
    if (head[0] != 0 || head[1] != 0) {
        mt_errbuf_set(err, errlen, "file %s: not an IDX file: magic number 0x%08lx, expected "
                "0x0000080N (uint8, N dimensions)", path, (unsigned long)magic);
        goto fail;
    }
    if (head[2] != IDX_TYPE_UBYTE) {
        mt_errbuf_set(err, errlen, "file %s: IDX data type 0x%02x, but only 0x08 (unsigned byte) "
                "is supported", path, head[2]);
        goto fail;
    }
    int ndim = head[3];
    if (ndim < 1 || ndim > IDX_MAX_DIMS) {
        mt_errbuf_set(err, errlen, "file %s: IDX file with %d dimensions, but only 1 to %d are "
                "supported", path, ndim, IDX_MAX_DIMS);
        goto fail;
    }

    size_t need = 4 * (size_t)ndim;
    if (read_some(f, head + 4, need, &got, &saved_errno) < 0) {
        mt_errbuf_set(err, errlen, "file %s: cannot read: %s", path, gz_problem(f, saved_errno));
        goto fail;
    }
    if (got < need) {
        mt_errbuf_set(err, errlen, "file %s: truncated: header promises %d dimension sizes "
                "(%zu bytes), found %zu bytes", path, ndim, need, got);
        goto fail;
    }

    int dims[IDX_MAX_DIMS] = { 1, 1, 1 };
    size_t total = 1;        /* bytes of data the header promises */
    size_t item_size = 1;    /* bytes per record: product of dims[1..] */
    for (int i = 0; i < ndim; i++) {
        uint32_t d = be32(head + 4 + 4 * i);
        if (d > (uint32_t)INT32_MAX) {
            mt_errbuf_set(err, errlen, "file %s: dimension %d is %lu, too large", path, i,
                    (unsigned long)d);
            goto fail;
        }
        dims[i] = (int)d;
        if (d != 0 && total > SIZE_MAX / d) {
            mt_errbuf_set(err, errlen, "file %s: header sizes overflow (dimension %d is %lu)", path,
                    i, (unsigned long)d);
            goto fail;
        }
        total *= d;
        if (i > 0)
            item_size *= d;
    }

    /* Data: grow the buffer as bytes arrive rather than trusting the header with a malloc. */
    size_t cap = total < IDX_FIRST_CAP ? total : IDX_FIRST_CAP;
    data = malloc(cap ? cap : 1);
    if (!data) {
        mt_errbuf_set(err, errlen, "file %s: out of memory for %zu bytes", path, cap);
        goto fail;
    }
    size_t have = 0;
    for (;;) {
        if (have == cap && cap < total) {
            size_t ncap = cap > total / 2 ? total : cap * 2;
            unsigned char *p = realloc(data, ncap);
            if (!p) {
                mt_errbuf_set(err, errlen, "file %s: out of memory for %zu bytes", path, ncap);
                goto fail;
            }
            data = p;
            cap = ncap;
        }
        if (have == total)
            break;
        if (read_some(f, data + have, cap - have, &got, &saved_errno) < 0) {
            mt_errbuf_set(err, errlen, "file %s: cannot read: %s", path, gz_problem(f, saved_errno));
            goto fail;
        }
        have += got;
        if (have < cap)
            break; /* end of data before the buffer filled */
    }
    if (have < total) {
        mt_errbuf_set(err, errlen, "file %s: truncated: header promises %zu bytes of data, found %zu",
                path, total, have);
        goto fail;
    }

    /* Trailing bytes mean the header and the data disagree: refuse rather than guess. This
     * read also makes zlib verify the gzip checksum at the end of the stream. */
    unsigned char extra[4096];
    size_t trailing = 0;
    for (;;) {
        if (read_some(f, extra, sizeof extra, &got, &saved_errno) < 0) {
            mt_errbuf_set(err, errlen, "file %s: cannot read: %s", path, gz_problem(f, saved_errno));
            goto fail;
        }
        trailing += got;
        if (got < sizeof extra || trailing >= ((size_t)1 << 24))
            break; /* no need to count past 16 MiB to report the problem */
    }
    int zerr = Z_OK;
    gzerror(f, &zerr);
    if (zerr == Z_BUF_ERROR) {
        /* All the data arrived but the gzip trailer (its checksum) did not. */
        mt_errbuf_set(err, errlen, "file %s: truncated: gzip stream ends before its checksum", path);
        goto fail;
    }
    if (trailing > 0) {
        mt_errbuf_set(err, errlen, "file %s: header promises %zu bytes of data, found %s%zu more "
                "after them", path, total, trailing >= ((size_t)1 << 24) ? "at least " : "",
                trailing);
        goto fail;
    }

    int rc = gzclose(f);
    f = NULL;
    if (rc != Z_OK) {
        mt_errbuf_set(err, errlen, "file %s: error closing: zlib error %d", path, rc);
        goto fail;
    }

    out->ndim = ndim;
    memcpy(out->dims, dims, sizeof dims);
    out->count = (size_t)dims[0];
    out->item_size = item_size;
    out->data = data;
    return 0;

fail:
    free(data);
    if (f)
        gzclose(f);
    memset(out, 0, sizeof *out);
    return -1;
}

int mt_idx_load(const char *path, mt_idx *out, char *err, size_t errlen)
{
    return idx_load(path, 0, out, err, errlen);
}

void mt_idx_free(mt_idx *idx)
{
    if (!idx)
        return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}

/* ---- MNIST ---------------------------------------------------------------------------------- */

/* Picks DIR/NAME.gz if it can be opened, else DIR/NAME. Returns a malloc'd path, or NULL with
 * a message when neither exists. */
static char *pick_file(const char *dir, const char *prefix, const char *suffix,
                       char *err, size_t errlen)
{
    size_t dl = strlen(dir);
    const char *sep = (dl == 0 || dir[dl - 1] == '/') ? "" : "/";
    size_t n = dl + strlen(sep) + strlen(prefix) + strlen(suffix) + 4; /* ".gz" + NUL */
    char *gz = malloc(n), *raw = malloc(n);
    if (!gz || !raw) {
        free(gz);
        free(raw);
        mt_errbuf_set(err, errlen, "mt_mnist_load: out of memory");
        return NULL;
    }
    snprintf(raw, n, "%s%s%s%s", dir, sep, prefix, suffix);
    snprintf(gz, n, "%s.gz", raw);

    errno = 0;
    FILE *f = fopen(gz, "rb");
    if (f) {
        fclose(f);
        free(raw);
        return gz;
    }
    int gz_errno = errno;
    if (gz_errno != ENOENT && gz_errno != 0) {
        /* The .gz is there but unreadable: say so rather than silently falling back. */
        mt_errbuf_set(err, errlen, "file %s: cannot open: %s", gz, strerror(gz_errno));
        free(gz);
        free(raw);
        return NULL;
    }
    errno = 0;
    f = fopen(raw, "rb");
    if (f) {
        fclose(f);
        free(gz);
        return raw;
    }
    mt_errbuf_set(err, errlen, "file %s: cannot open: %s (nor %s)", gz,
            strerror(gz_errno ? gz_errno : ENOENT), raw);
    free(gz);
    free(raw);
    return NULL;
}

int mt_mnist_load(const char *dir, const char *prefix, mt_mnist *out, char *err, size_t errlen)
{
    if (!out) {
        mt_errbuf_set(err, errlen, "mt_mnist_load: out is NULL");
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (!dir || !prefix) {
        mt_errbuf_set(err, errlen, "mt_mnist_load: %s is NULL", dir ? "prefix" : "dir");
        return -1;
    }

    char *img_path = pick_file(dir, prefix, "-images-idx3-ubyte", err, errlen);
    if (!img_path)
        return -1;
    char *lbl_path = pick_file(dir, prefix, "-labels-idx1-ubyte", err, errlen);
    if (!lbl_path) {
        free(img_path);
        return -1;
    }

    if (idx_load(img_path, IDX_MAGIC_IMAGES, &out->images, err, errlen) < 0)
        goto fail;
    if (idx_load(lbl_path, IDX_MAGIC_LABELS, &out->labels, err, errlen) < 0)
        goto fail;

    const mt_idx *im = &out->images, *lb = &out->labels;
    if (im->count == 0) {
        mt_errbuf_set(err, errlen, "file %s: holds no images", img_path);
        goto fail;
    }
    if (im->dims[1] == 0 || im->dims[2] == 0) {
        mt_errbuf_set(err, errlen, "file %s: images are %dx%d pixels, expected at least 1x1",
                img_path, im->dims[1], im->dims[2]);
        goto fail;
    }
    if (im->count != lb->count) {
        mt_errbuf_set(err, errlen, "count mismatch: file %s holds %zu images but file %s holds %zu "
                "labels", img_path, im->count, lbl_path, lb->count);
        goto fail;
    }
    for (size_t i = 0; i < lb->count; i++) {
        if (lb->data[i] > 9) {
            mt_errbuf_set(err, errlen, "file %s: label at index %zu is %d, expected 0-9", lbl_path,
                    i, lb->data[i]);
            goto fail;
        }
    }

    out->count = im->count;
    out->rows = im->dims[1];
    out->cols = im->dims[2];
    free(img_path);
    free(lbl_path);
    return 0;

fail:
    mt_mnist_free(out);
    free(img_path);
    free(lbl_path);
    return -1;
}

void mt_mnist_free(mt_mnist *m)
{
    if (!m)
        return;
    mt_idx_free(&m->images);
    mt_idx_free(&m->labels);
    memset(m, 0, sizeof *m);
}
