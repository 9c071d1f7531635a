/* idx.c: the IDX reader behind mt_idx_load and mt_mnist_load (include/mytorch/io.h).
 * Parses the big-endian IDX header, checks it against the bytes that follow, and returns one
 * contiguous uint8 buffer. A file that starts with the gzip magic is inflated with zlib, to the
 * end of its stream, so that its CRC-32 and length trailer are always checked; any other file
 * is read as raw IDX. */
#include "mytorch/io.h"
#include "io_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAGIC_LABELS 0x00000801u /* uint8, 1 dimension */
#define IDX_MAGIC_IMAGES 0x00000803u /* uint8, 3 dimensions */
#define IDX_TYPE_UBYTE   0x08u
#define IDX_MAX_DIMS     3

/* The data buffer grows as bytes arrive, from IDX_FIRST_CAP, so a lying header (say 2^32 x 2^32
 * x 1) cannot make the reader allocate more than the file really holds. */
#define IDX_FIRST_CAP    ((size_t)1 << 20)
#define IDX_IN_BUF       ((size_t)256 << 10)  /* compressed (or raw) bytes per read() */
#define IDX_MAX_OUT      ((size_t)1 << 30)    /* inflate's avail_out is an unsigned int */
#define IDX_TRAILING_CAP ((size_t)1 << 24)    /* trailing bytes are counted up to 16 MiB */

/* ---- the byte source: a raw file, or the gzip stream in it -------------------------------- */

typedef struct idx_src {
    const char *path;
    int fd;
    bool gzip;          /* the file starts with 1f 8b */
    bool eof;           /* read() has returned 0 */
    bool in_member;     /* gzip: inside a member, whose end (and trailer) has not been seen */
    bool truncated;     /* gzip: the file ended inside a member */
    bool zs_ready;      /* inflateInit2 succeeded: inflateEnd is due */
    z_stream zs;        /* next_in/avail_in also hold unread raw bytes */
    unsigned char *in;  /* IDX_IN_BUF bytes */
} idx_src;

/* read() that retries when a signal interrupts it. */
static ssize_t read_retry(int fd, void *buf, size_t n)
{
    ssize_t r;
    do
        r = read(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r;
}

/* Makes at least `need` unread bytes available in s->in unless the file ends first. 0, or -1
 * with a message. */
static int src_more(idx_src *s, size_t need, char *err, size_t errlen)
{
    while (s->zs.avail_in < need && !s->eof) {
        if (s->zs.avail_in > 0 && s->zs.next_in != s->in)
            memmove(s->in, s->zs.next_in, s->zs.avail_in);
        s->zs.next_in = s->in;
        ssize_t r = read_retry(s->fd, s->in + s->zs.avail_in, IDX_IN_BUF - s->zs.avail_in);
        if (r < 0) {
            io_err(err, errlen, "file %s: cannot read: %s", s->path, strerror(errno));
            return -1;
        }
        if (r == 0)
            s->eof = true;
        s->zs.avail_in += (uInt)r;
    }
    return 0;
}

/* Opens path and looks at its first bytes to tell gzip from raw. 0, or -1 with a message (and
 * nothing left to close). */
static int src_open(idx_src *s, const char *path, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        io_err(err, errlen, "file %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        io_err(err, errlen, "file %s: is a directory, expected an IDX file", path);
        close(s->fd);
        return -1;
    }
    s->in = malloc(IDX_IN_BUF);
    if (!s->in) {
        io_err(err, errlen, "file %s: out of memory", path);
        close(s->fd);
        return -1;
    }
    s->zs.next_in = s->in;
    if (src_more(s, 2, err, errlen) < 0)
        goto fail;
    s->gzip = s->zs.avail_in >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b;
    if (s->gzip) {
        /* 16 + 15: a gzip wrapper (checked: header, CRC-32, length) around a 32 KiB window */
        if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK) {
            io_err(err, errlen, "file %s: cannot start inflating: %s", path,
                   s->zs.msg ? s->zs.msg : "out of memory");
            goto fail;
        }
        s->zs_ready = true;
        s->in_member = true;
    }
    return 0;
fail:
    free(s->in);
    close(s->fd);
    return -1;
}

static void src_close(idx_src *s)
{
    if (s->zs_ready)
        inflateEnd(&s->zs);
    free(s->in);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->in = NULL;
    s->zs_ready = false;
}

/* Counts the bytes left in the file (up to IDX_TRAILING_CAP), for a message. */
static size_t src_count_rest(idx_src *s)
{
    size_t n = s->zs.avail_in;
    s->zs.avail_in = 0;
    while (!s->eof && n < IDX_TRAILING_CAP) {
        ssize_t r = read_retry(s->fd, s->in, IDX_IN_BUF);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    return n;
}

/* What a Z_DATA_ERROR means, in words. */
static const char *gz_corruption(const z_stream *zs)
{
    const char *m = zs->msg ? zs->msg : "invalid compressed data";
    if (strcmp(m, "incorrect data check") == 0)
        return "CRC check failed: the data does not match the CRC-32 in its gzip trailer";
    if (strcmp(m, "incorrect length check") == 0)
        return "length check failed: the data does not match the length in its gzip trailer";
    return m;
}

/* Reads up to n bytes of data (inflated, for gzip) into buf; *got is how many arrived, fewer
 * than n only at the end of the data. 0, or -1 with a message: a read error, corrupt gzip data
 * (a failed CRC or length check included) or bytes after the gzip stream that are not another
 * gzip member. A gzip file that ends inside a member sets s->truncated and returns 0. */
static int src_read(idx_src *s, unsigned char *buf, size_t n, size_t *got, char *err,
                    size_t errlen)
{
    *got = 0;
    if (!s->gzip) {
        size_t k = s->zs.avail_in < n ? s->zs.avail_in : n;   /* bytes read at open */
        memcpy(buf, s->zs.next_in, k);
        s->zs.next_in += k;
        s->zs.avail_in -= (uInt)k;
        *got = k;
        while (*got < n && !s->eof) {
            ssize_t r = read_retry(s->fd, buf + *got, n - *got);
            if (r < 0) {
                io_err(err, errlen, "file %s: cannot read: %s", s->path, strerror(errno));
                return -1;
            }
            if (r == 0)
                s->eof = true;
            *got += (size_t)r;
        }
        return 0;
    }

    while (*got < n) {
        if (!s->in_member) {
            /* Between members: the end of the file, another member (gzip files may be
             * concatenated), or bytes that do not belong to the stream. */
            if (src_more(s, 2, err, errlen) < 0)
                return -1;
            if (s->zs.avail_in == 0)
                return 0;
            if (s->zs.avail_in < 2 || s->zs.next_in[0] != 0x1f || s->zs.next_in[1] != 0x8b) {
                size_t extra = src_count_rest(s);
                io_err(err, errlen, "file %s: %s%zu byte%s after the end of the gzip stream "
                       "(not gzip data)", s->path, extra >= IDX_TRAILING_CAP ? "at least " : "",
                       extra, extra == 1 ? "" : "s");
                return -1;
            }
            if (inflateReset(&s->zs) != Z_OK) {
                io_err(err, errlen, "file %s: zlib cannot restart inflating", s->path);
                return -1;
            }
            s->in_member = true;
        }
        if (s->zs.avail_in == 0 && src_more(s, 1, err, errlen) < 0)
            return -1;
        size_t want = n - *got < IDX_MAX_OUT ? n - *got : IDX_MAX_OUT;
        s->zs.next_out = buf + *got;
        s->zs.avail_out = (uInt)want;
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        size_t made = want - s->zs.avail_out;
        *got += made;
        if (rc == Z_STREAM_END) {   /* zlib has checked this member's CRC-32 and length */
            s->in_member = false;
            continue;
        }
        if (rc == Z_OK)
            continue;
        if (rc == Z_BUF_ERROR && s->zs.avail_in == 0) {
            if (s->eof) {
                s->truncated = true;
                return 0;
            }
            continue;
        }
        if (rc == Z_MEM_ERROR)
            io_err(err, errlen, "file %s: out of memory while inflating", s->path);
        else if (rc == Z_DATA_ERROR)
            io_err(err, errlen, "file %s: gzip stream corrupt: %s", s->path,
                   gz_corruption(&s->zs));
        else
            io_err(err, errlen, "file %s: gzip stream corrupt: zlib error %d%s%s", s->path, rc,
                   s->zs.msg ? ": " : "", s->zs.msg ? s->zs.msg : "");
        return -1;
    }
    return 0;
}

/* After the data: requires the end of the file (raw) or of the gzip stream, trailer checked.
 * total is what the header promised, for the message. 0, or -1 with a message. */
static int src_finish(idx_src *s, size_t total, char *err, size_t errlen)
{
    size_t trailing = 0, got;
    unsigned char extra[16384];
    do {
        if (src_read(s, extra, sizeof extra, &got, err, errlen) < 0)
            return -1;
        trailing += got;
    } while (got == sizeof extra && trailing < IDX_TRAILING_CAP);
    if (s->truncated) {
        io_err(err, errlen, "file %s: gzip stream truncated: the file ends before the end of "
               "the compressed data, so its CRC/length check cannot be made", s->path);
        return -1;
    }
    if (trailing > 0) {
        io_err(err, errlen, "file %s: header promises %zu bytes of data, found %s%zu more after "
               "them", s->path, total, trailing >= IDX_TRAILING_CAP ? "at least " : "", trailing);
        return -1;
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
        io_err(err, errlen, "mt_idx_load: out is NULL");
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (!path) {
        io_err(err, errlen, "mt_idx_load: path is NULL");
        return -1;
    }
    if (!*path) {
        io_err(err, errlen, "mt_idx_load: the file name is empty");
        return -1;
    }

    idx_src src;
    if (src_open(&src, path, err, errlen) < 0)
        return -1;
    const char *gz_note = src.gzip ? " (the gzip stream ends early)" : "";
    unsigned char *data = NULL;
    size_t got = 0;

    /* Header: 4-byte magic (0, 0, type, ndim), then ndim big-endian uint32 sizes. */
    unsigned char head[4 + 4 * IDX_MAX_DIMS];
    if (src_read(&src, head, 4, &got, err, errlen) < 0)
        goto fail;
    if (got < 4) {
        if (got == 0 && !src.truncated)
            io_err(err, errlen, "file %s: empty, expected an IDX header", path);
        else
            io_err(err, errlen, "file %s: truncated: expected a 4-byte IDX magic number, "
                   "found %zu bytes%s", path, got, gz_note);
        goto fail;
    }
    uint32_t magic = be32(head);
    if (expect_magic && magic != expect_magic) {
        io_err(err, errlen, "file %s: bad magic number 0x%08lx, expected 0x%08lx (%s)",
               path, (unsigned long)magic, (unsigned long)expect_magic, magic_name(expect_magic));
        goto fail;
    }
    if (head[0] != 0 || head[1] != 0) {
        io_err(err, errlen, "file %s: not an IDX file: magic number 0x%08lx, expected "
               "0x0000080N (uint8, N dimensions)", path, (unsigned long)magic);
        goto fail;
    }
    if (head[2] != IDX_TYPE_UBYTE) {
        io_err(err, errlen, "file %s: IDX data type 0x%02x, but only 0x08 (unsigned byte) "
               "is supported", path, head[2]);
        goto fail;
    }
    int ndim = head[3];
    if (ndim < 1 || ndim > IDX_MAX_DIMS) {
        io_err(err, errlen, "file %s: IDX file with %d dimensions, but only 1 to %d are "
               "supported", path, ndim, IDX_MAX_DIMS);
        goto fail;
    }

    size_t need = 4 * (size_t)ndim;
    if (src_read(&src, head + 4, need, &got, err, errlen) < 0)
        goto fail;
    if (got < need) {
        io_err(err, errlen, "file %s: truncated: header promises %d dimension sizes "
               "(%zu bytes), found %zu bytes%s", path, ndim, need, got, gz_note);
        goto fail;
    }

    int dims[IDX_MAX_DIMS] = { 1, 1, 1 };
    size_t total = 1;        /* bytes of data the header promises */
    size_t item_size = 1;    /* bytes per record: product of dims[1..] */
    for (int i = 0; i < ndim; i++) {
        uint32_t d = be32(head + 4 + 4 * i);
        if (d > (uint32_t)INT32_MAX) {
            io_err(err, errlen, "file %s: dimension %d is %lu, too large", path, i,
                   (unsigned long)d);
            goto fail;
        }
        dims[i] = (int)d;
        if (d != 0 && total > SIZE_MAX / d) {
            io_err(err, errlen, "file %s: header sizes overflow (dimension %d is %lu)", path,
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
        io_err(err, errlen, "file %s: out of memory for %zu bytes", path, cap);
        goto fail;
    }
    size_t have = 0;
    for (;;) {
        if (have == cap && cap < total) {
            size_t ncap = cap > total / 2 ? total : cap * 2;
            unsigned char *p = realloc(data, ncap);
            if (!p) {
                io_err(err, errlen, "file %s: out of memory for %zu bytes", path, ncap);
                goto fail;
            }
            data = p;
            cap = ncap;
        }
        if (have == total)
            break;
        if (src_read(&src, data + have, cap - have, &got, err, errlen) < 0)
            goto fail;
        have += got;
        if (have < cap)
            break; /* end of data before the buffer filled */
    }
    if (have < total) {
        io_err(err, errlen, "file %s: truncated: header promises %zu bytes of data, found %zu%s",
               path, total, have, src.truncated ? gz_note : "");
        goto fail;
    }

    /* Trailing bytes mean the header and the data disagree: refuse rather than guess. For
     * gzip this also reads the stream to its end, where zlib checks the CRC and length. */
    if (src_finish(&src, total, err, errlen) < 0)
        goto fail;
    src_close(&src);

    out->ndim = ndim;
    memcpy(out->dims, dims, sizeof dims);
    out->count = (size_t)dims[0];
    out->item_size = item_size;
    out->data = data;
    return 0;

fail:
    free(data);
    src_close(&src);
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
        io_err(err, errlen, "mt_mnist_load: out of memory");
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
        io_err(err, errlen, "file %s: cannot open: %s", gz, strerror(gz_errno));
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
    io_err(err, errlen, "file %s: cannot open: %s (nor %s)", gz,
            strerror(gz_errno ? gz_errno : ENOENT), raw);
    free(gz);
    free(raw);
    return NULL;
}

int mt_mnist_load(const char *dir, const char *prefix, mt_mnist *out, char *err, size_t errlen)
{
    if (!out) {
        io_err(err, errlen, "mt_mnist_load: out is NULL");
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (!dir || !prefix) {
        io_err(err, errlen, "mt_mnist_load: %s is NULL", dir ? "prefix" : "dir");
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
        io_err(err, errlen, "file %s: holds no images", img_path);
        goto fail;
    }
    if (im->dims[1] == 0 || im->dims[2] == 0) {
        io_err(err, errlen, "file %s: images are %dx%d pixels, expected at least 1x1",
                img_path, im->dims[1], im->dims[2]);
        goto fail;
    }
    if (im->count != lb->count) {
        io_err(err, errlen, "count mismatch: file %s holds %zu images but file %s holds %zu "
                "labels", img_path, im->count, lbl_path, lb->count);
        goto fail;
    }
    for (size_t i = 0; i < lb->count; i++) {
        if (lb->data[i] > 9) {
            io_err(err, errlen, "file %s: label at index %zu is %d, expected 0-9", lbl_path,
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
