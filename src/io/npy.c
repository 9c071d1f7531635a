/* npy.c: NumPy .npy files of float64 ('<f8', C order, 0 to 4 dimensions), read and written
 * byte-compatibly with numpy.load/numpy.save, behind mt_npy_* (include/mytorch/io.h).
 * The header is a Python dict literal; this file parses exactly the subset numpy writes. */
#include "mytorch/io.h"
#include "io_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAX_DIMS 4
#define NPY_PARSE_DIMS 32                  /* parsed before rejecting, to report the real ndim */
#define NPY_MAX_HEADER ((size_t)1 << 20)   /* numpy writes < 100 bytes; larger is not a header */
#define NPY_ALIGN 64                       /* numpy pads magic + header to a multiple of this */
#define NPY_BUF_DOUBLES 512                /* conversion buffer: 4 KiB */
#define NPY_STR_MAX 32                     /* descr and keys: numpy's are < 16 bytes */
/* "(d0, d1, ...)" for NPY_PARSE_DIMS dims below 2^31: 10 digits and ", " each */
#define SHAPE_STR_MAX (NPY_PARSE_DIMS * 12 + 8)

static const char npy_magic[6] = { '\x93', 'N', 'U', 'M', 'P', 'Y' };


/* Writes a shape the way Python prints a tuple: "()", "(5,)", "(3, 4)". */
static const char *shape_str(char *buf, size_t n, int ndim, const int *shape)
{
    size_t used = 0;
    int w = snprintf(buf, n, "(");
    used = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < ndim && used < n; i++) {
        w = snprintf(buf + used, n - used, "%s%d", i ? ", " : "", shape[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    if (used < n)
        snprintf(buf + used, n - used, "%s)", ndim == 1 ? "," : "");
    return buf;
}

/* Number of elements of a shape (1 for ndim 0). Sets *ok = 0 if a dim is negative or the
 * byte count (elements * 8) does not fit in size_t. */
static size_t shape_numel(int ndim, const int *shape, int *ok)
{
    size_t n = 1;
    *ok = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            *ok = 0;
            return 0;
        }
        size_t d = (size_t)shape[i];
        if (d != 0 && n > SIZE_MAX / sizeof(double) / d) {
            *ok = 0;
            return 0;
        }
        n *= d;
    }
    return n;
}

/* Doubles travel as little-endian IEEE 754 bytes whatever the host's byte order. */
static void put_f64le(unsigned char *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(u >> (8 * i));
}

static double get_f64le(const unsigned char *b)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)b[i] << (8 * i);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* ---- header parsing --------------------------------------------------------------------- */

/* The header dict, e.g. {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), } */
typedef struct npy_header {
    char descr[NPY_STR_MAX];
    int has_descr, has_fortran, has_shape;
    int fortran_order;
    int ndim;
    int shape[NPY_PARSE_DIMS];
} npy_header;

typedef struct npy_lexer {
    const char *p, *end, *start;
    char why[256];  /* what the parser expected when it stopped */
} npy_lexer;

static void lx_ws(npy_lexer *lx)
{
    while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' ||
                               *lx->p == '\r'))
        lx->p++;
}

static int lx_fail(npy_lexer *lx, const char *what)
{
    snprintf(lx->why, sizeof lx->why, "expected %s at header offset %ld", what,
             (long)(lx->p - lx->start));
    return -1;
}

static int lx_char(npy_lexer *lx, char c, const char *what)
{
    lx_ws(lx);
    if (lx->p >= lx->end || *lx->p != c)
        return lx_fail(lx, what);
    lx->p++;
    return 0;
}

/* A quoted Python string without escapes (numpy never writes any in the header) and without
 * NUL bytes (which would end it early for strcmp: "<f8\0junk" is not "<f8"). */
static int lx_string(npy_lexer *lx, char *out, size_t outlen)
{
    lx_ws(lx);
    if (lx->p >= lx->end || (*lx->p != '\'' && *lx->p != '"'))
        return lx_fail(lx, "a quoted string");
    char q = *lx->p++;
    size_t n = 0;
    while (lx->p < lx->end && *lx->p != q) {
        if (*lx->p == '\0')
            return lx_fail(lx, "a string without NUL bytes");
        if (*lx->p == '\\' || n + 1 >= outlen)
            return lx_fail(lx, "a short string without escapes");
        out[n++] = *lx->p++;
    }
    if (lx->p >= lx->end)
        return lx_fail(lx, "a closing quote");
    lx->p++;
    out[n] = '\0';
    return 0;
}

static int lx_bool(npy_lexer *lx, int *out)
{
    lx_ws(lx);
    size_t left = (size_t)(lx->end - lx->p);
    if (left >= 4 && memcmp(lx->p, "True", 4) == 0) {
        lx->p += 4;
        *out = 1;
        return 0;
    }
    if (left >= 5 && memcmp(lx->p, "False", 5) == 0) {
        lx->p += 5;
        *out = 0;
        return 0;
    }
    return lx_fail(lx, "True or False");
}

/* A tuple of non-negative ints: (), (5,), (3, 4). Trailing "L" (old Python 2 longs) is allowed. */
static int lx_shape(npy_lexer *lx, npy_header *h)
{
    if (lx_char(lx, '(', "'(' to open the shape") < 0)
        return -1;
    h->ndim = 0;
    for (;;) {
        lx_ws(lx);
        if (lx->p < lx->end && *lx->p == ')') {
            lx->p++;
            return 0;
        }
        if (lx->p >= lx->end || *lx->p < '0' || *lx->p > '9')
            return lx_fail(lx, "a non-negative integer in the shape");
        long v = 0;
        while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9') {
            v = v * 10 + (*lx->p++ - '0');
            if (v > INT_MAX)
                return lx_fail(lx, "a dimension below 2^31");
        }
        if (lx->p < lx->end && *lx->p == 'L')
            lx->p++;
        if (h->ndim >= NPY_PARSE_DIMS)
            return lx_fail(lx, "at most 32 dimensions");
        h->shape[h->ndim++] = (int)v;
        lx_ws(lx);
        if (lx->p < lx->end && *lx->p == ',') {
            lx->p++;
            continue;
        }
        if (lx->p < lx->end && *lx->p == ')') {
            /* "(5)" is not a tuple in Python, but numpy never writes it; accept it as (5,). */
            lx->p++;
            return 0;
        }
        return lx_fail(lx, "',' or ')' in the shape");
    }
}

static int parse_header(const char *text, size_t len, npy_header *h, char *why, size_t whylen)
{
    npy_lexer lx = { text, text + len, text, { 0 } };
    memset(h, 0, sizeof *h);
    int rc = -1;
    if (lx_char(&lx, '{', "'{' to open the header dict") < 0)
        goto done;
    for (;;) {
        lx_ws(&lx);
        if (lx.p < lx.end && *lx.p == '}') {
            lx.p++;
            break;
        }
        char key[NPY_STR_MAX];
        if (lx_string(&lx, key, sizeof key) < 0 || lx_char(&lx, ':', "':' after a key") < 0)
            goto done;
        lx_ws(&lx);
        if (strcmp(key, "descr") == 0) {
            if (lx.p < lx.end && *lx.p == '[') {
                snprintf(lx.why, sizeof lx.why, "a structured dtype, which is not supported");
                goto done;
            }
            if (lx_string(&lx, h->descr, sizeof h->descr) < 0)
                goto done;
            h->has_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (lx_bool(&lx, &h->fortran_order) < 0)
                goto done;
            h->has_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (lx_shape(&lx, h) < 0)
                goto done;
            h->has_shape = 1;
        } else {
            char esc[4 * NPY_STR_MAX];
            snprintf(lx.why, sizeof lx.why, "an unexpected key '%s'",
                     io_escape(key, strlen(key), esc, sizeof esc));
            goto done;
        }
        lx_ws(&lx);
        if (lx.p < lx.end && *lx.p == ',') {
            lx.p++;
            continue;
        }
        if (lx.p < lx.end && *lx.p == '}') {
            lx.p++;
            break;
        }
        lx_fail(&lx, "',' or '}' after a value");
        goto done;
    }
    lx_ws(&lx);
    if (lx.p != lx.end) {
        lx_fail(&lx, "only padding after the header dict");
        goto done;
    }
    if (!h->has_descr || !h->has_fortran || !h->has_shape) {
        snprintf(lx.why, sizeof lx.why, "no '%s' key", !h->has_descr ? "descr"
                 : !h->has_fortran ? "fortran_order" : "shape");
        goto done;
    }
    rc = 0;
done:
    if (rc < 0)
        snprintf(why, whylen, "%s", lx.why);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* Opens path, reads and checks the magic and header, and leaves the stream at the first data
 * byte after checking the file holds exactly the data the shape needs. On success the caller
 * owns *fp and closes it. */
static int npy_open(const char *path, FILE **fp, int *ndim, int shape[NPY_MAX_DIMS],
                    size_t *numel, char *err, size_t errlen)
{
    *fp = NULL;
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        io_err(err, errlen, "file %s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        io_err(err, errlen, "file %s: is a directory, expected a .npy file", path);
        fclose(f);
        return -1;
    }
    char *text = NULL;

    /* Preamble: 6-byte magic, major and minor version, header length (2 bytes in 1.0,
     * 4 bytes in 2.0 and 3.0), all little-endian. */
    unsigned char pre[12] = { 0 };
    size_t got = fread(pre, 1, 10, f);
    size_t cmp = got < sizeof npy_magic ? got : sizeof npy_magic;
    if (got == 0) {
        io_err(err, errlen, "file %s: empty, expected a .npy header", path);
        goto fail;
    }
    if (memcmp(pre, npy_magic, cmp) != 0) {
        io_err(err, errlen, "file %s: not a .npy file: bad magic string (expected "
                "\\x93NUMPY at the start)", path);
        goto fail;
    }
    if (got < 8) {
        io_err(err, errlen, "file %s: truncated: %zu bytes, too short for a .npy header",
                path, got);
        goto fail;
    }
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0) {
        io_err(err, errlen, "file %s: .npy format version %d.%d, but only 1.0, 2.0 and 3.0 "
                "are supported", path, major, minor);
        goto fail;
    }
    size_t hlen;
    if (major == 1) {
        if (got < 10) {
            io_err(err, errlen, "file %s: truncated: %zu bytes, too short for a .npy header",
                    path, got);
            goto fail;
        }
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    } else {
        got += fread(pre + 10, 1, 2, f);
        if (got < 12) {
            io_err(err, errlen, "file %s: truncated: %zu bytes, too short for a .npy header",
                    path, got);
            goto fail;
        }
        uint32_t l = (uint32_t)pre[8] | ((uint32_t)pre[9] << 8) | ((uint32_t)pre[10] << 16) |
                     ((uint32_t)pre[11] << 24);
        if (l > NPY_MAX_HEADER) {
            io_err(err, errlen, "file %s: .npy header length %lu is implausibly large", path,
                    (unsigned long)l);
            goto fail;
        }
        hlen = l;
    }

    text = malloc(hlen + 1);
    if (!text) {
        io_err(err, errlen, "file %s: out of memory for a %zu-byte header", path, hlen);
        goto fail;
    }
    got = fread(text, 1, hlen, f);
    if (got < hlen) {
        io_err(err, errlen, "file %s: truncated: header length is %zu bytes, found %zu",
                path, hlen, got);
        goto fail;
    }
    text[hlen] = '\0';

    npy_header h;
    char why[sizeof ((npy_lexer *)0)->why];
    if (parse_header(text, hlen, &h, why, sizeof why) < 0) {
        io_err(err, errlen, "file %s: malformed .npy header: %s", path, why);
        goto fail;
    }
    free(text);
    text = NULL;

    if (strcmp(h.descr, "<f8") != 0) {
        char esc[4 * NPY_STR_MAX];
        io_err(err, errlen, "file %s: dtype '%s', but only '<f8' (float64, little-endian) is "
                "supported", path, io_escape(h.descr, strlen(h.descr), esc, sizeof esc));
        goto fail;
    }
    if (h.fortran_order) {
        io_err(err, errlen, "file %s: fortran_order is True, but only C-order arrays are "
                "supported", path);
        goto fail;
    }
    if (h.ndim > NPY_MAX_DIMS) {
        char s[SHAPE_STR_MAX];
        io_err(err, errlen, "file %s: %d dimensions %s, but at most %d are supported", path,
                h.ndim, shape_str(s, sizeof s, h.ndim, h.shape), NPY_MAX_DIMS);
        goto fail;
    }
    int ok;
    size_t n = shape_numel(h.ndim, h.shape, &ok);
    if (!ok) {
        char s[SHAPE_STR_MAX];
        io_err(err, errlen, "file %s: shape %s is too large", path,
                shape_str(s, sizeof s, h.ndim, h.shape));
        goto fail;
    }

    /* Compare the promised data with what is on disk before allocating anything for it. The
     * check is skipped for streams that cannot seek; the read itself then finds a shortfall. */
    long here = ftell(f);
    if (here >= 0 && fseek(f, 0, SEEK_END) == 0) {
        long fend = ftell(f);
        if (fend < 0 || fseek(f, here, SEEK_SET) != 0) {
            io_err(err, errlen, "file %s: cannot seek: %s", path, strerror(errno));
            goto fail;
        }
        size_t avail = (size_t)(fend - here), need = n * sizeof(double);
        if (avail != need) {
            char s[SHAPE_STR_MAX];
            if (avail < need)
                io_err(err, errlen, "file %s: truncated: shape %s needs %zu bytes of data, "
                        "found %zu", path, shape_str(s, sizeof s, h.ndim, h.shape), need, avail);
            else
                io_err(err, errlen, "file %s: shape %s needs %zu bytes of data, found %zu "
                        "(unexpected trailing data)", path,
                        shape_str(s, sizeof s, h.ndim, h.shape), need, avail);
            goto fail;
        }
    }

    *ndim = h.ndim;
    for (int i = 0; i < NPY_MAX_DIMS; i++)
        shape[i] = i < h.ndim ? h.shape[i] : 1;
    *numel = n;
    *fp = f;
    return 0;

fail:
    free(text);
    fclose(f);
    return -1;
}

/* Reads n little-endian doubles from f into dst, then requires end of file. */
static int npy_read_data(FILE *f, const char *path, double *dst, size_t n, char *err,
                         size_t errlen)
{
    unsigned char buf[NPY_BUF_DOUBLES * 8];
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < NPY_BUF_DOUBLES ? n - done : NPY_BUF_DOUBLES;
        size_t got = fread(buf, 8, want, f);
        for (size_t i = 0; i < got; i++)
            dst[done + i] = get_f64le(buf + 8 * i);
        done += got;
        if (got < want) {
            if (ferror(f))
                io_err(err, errlen, "file %s: read error: %s", path, strerror(errno));
            else
                io_err(err, errlen, "file %s: truncated: needs %zu bytes of data, found %zu",
                        path, n * 8, done * 8);
            return -1;
        }
    }
    if (fgetc(f) != EOF) {
        io_err(err, errlen, "file %s: unexpected trailing data after %zu values", path, n);
        return -1;
    }
    return 0;
}

int mt_npy_load(const char *path, double **data, int *ndim, int shape[4], char *err,
                size_t errlen)
{
    if (data)
        *data = NULL;
    if (!path || !data || !ndim || !shape) {
        io_err(err, errlen, "mt_npy_load: %s is NULL", !path ? "path" : !data ? "data"
                : !ndim ? "ndim" : "shape");
        return -1;
    }
    if (!*path) {
        io_err(err, errlen, "mt_npy_load: the file name is empty");
        return -1;
    }
    FILE *f;
    int nd, sh[NPY_MAX_DIMS];
    size_t n;
    if (npy_open(path, &f, &nd, sh, &n, err, errlen) < 0)
        return -1;
    double *buf = malloc(n ? n * sizeof(double) : 1);
    if (!buf) {
        io_err(err, errlen, "file %s: out of memory for %zu values", path, n);
        fclose(f);
        return -1;
    }
    int rc = npy_read_data(f, path, buf, n, err, errlen);
    fclose(f);
    if (rc < 0) {
        free(buf);
        return -1;
    }
    *data = buf;
    *ndim = nd;
    memcpy(shape, sh, sizeof sh);
    return 0;
}

int mt_npy_load_into(const char *path, double *dst, int ndim, const int *shape, char *err,
                     size_t errlen)
{
    if (!path || (ndim > 0 && !shape)) {
        io_err(err, errlen, "mt_npy_load_into: %s is NULL", !path ? "path" : "shape");
        return -1;
    }
    if (ndim < 0 || ndim > NPY_MAX_DIMS) {
        io_err(err, errlen, "mt_npy_load_into: file %s: ndim %d, expected 0 to %d", path, ndim,
                NPY_MAX_DIMS);
        return -1;
    }
    /* Read the whole file first, so that dst stays untouched if anything fails. */
    double *tmp;
    int nd, sh[NPY_MAX_DIMS];
    if (mt_npy_load(path, &tmp, &nd, sh, err, errlen) < 0)
        return -1;
    int same = nd == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = sh[i] == shape[i];
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)sh[i];
    int rc = 0;
    if (!same) {
        char a[SHAPE_STR_MAX], b[SHAPE_STR_MAX];
        io_err(err, errlen, "file %s: shape %s but expected %s", path,
                shape_str(a, sizeof a, nd, sh), shape_str(b, sizeof b, ndim, shape));
        rc = -1;
    } else if (n > 0 && !dst) {
        io_err(err, errlen, "mt_npy_load_into: file %s: dst is NULL", path);
        rc = -1;
    } else if (n > 0) {
        memcpy(dst, tmp, n * sizeof(double));
    }
    free(tmp);
    return rc;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* What npy_write needs: the array, as mt_npy_save received it. */
typedef struct npy_array {
    const double *data;
    size_t n;          /* number of doubles */
    int ndim;
    const int *shape;
} npy_array;

/* Writes the whole file to an open stream, for mt_write_file_atomic: 0, or -1 with errno set
 * (by the failing fwrite). */
static int npy_write(FILE *f, void *user)
{
    const npy_array *a = user;
    char shp[96], dict[160];
    shape_str(shp, sizeof shp, a->ndim, a->shape);
    int dl = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, "
                      "'shape': %s, }", shp);
    if (dl < 0 || (size_t)dl >= sizeof dict) {
        errno = EOVERFLOW;
        return -1;
    }

    /* Pad with spaces and end with '\n' so magic (6) + version (2) + length (2) + header is a
     * multiple of 64, as numpy does: the data then starts aligned. */
    size_t total = 10 + (size_t)dl + 1;
    size_t padded = (total + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    size_t hlen = padded - 10;
    unsigned char pre[10];
    memcpy(pre, npy_magic, sizeof npy_magic);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);
    if (fwrite(pre, 1, sizeof pre, f) != sizeof pre || fwrite(dict, 1, (size_t)dl, f) != (size_t)dl)
        return -1;
    for (size_t i = (size_t)dl; i + 1 < hlen; i++)
        if (fputc(' ', f) == EOF)
            return -1;
    if (fputc('\n', f) == EOF)
        return -1;

    unsigned char buf[NPY_BUF_DOUBLES * 8];
    for (size_t done = 0; done < a->n;) {
        size_t k = a->n - done < NPY_BUF_DOUBLES ? a->n - done : NPY_BUF_DOUBLES;
        for (size_t i = 0; i < k; i++)
            put_f64le(buf + 8 * i, a->data[done + i]);
        if (fwrite(buf, 8, k, f) != k)
            return -1;
        done += k;
    }
    return 0;
}

/* Checks what mt_npy_save is given and fills *arr; 0, or -1 with a message. */
static int npy_array_of(const char *path, const double *data, int ndim, const int *shape,
                        npy_array *arr, char *err, size_t errlen)
{
    if (ndim < 0 || ndim > NPY_MAX_DIMS) {
        io_err(err, errlen, "mt_npy_save: file %s: ndim %d, expected 0 to %d", path, ndim,
                NPY_MAX_DIMS);
        return -1;
    }
    if (ndim > 0 && !shape) {
        io_err(err, errlen, "mt_npy_save: file %s: shape is NULL", path);
        return -1;
    }
    int ok;
    size_t n = shape_numel(ndim, shape, &ok);
    if (!ok) {
        char s[SHAPE_STR_MAX];
        io_err(err, errlen, "mt_npy_save: file %s: invalid shape %s", path,
                shape_str(s, sizeof s, ndim, shape));
        return -1;
    }
    if (n > 0 && !data) {
        io_err(err, errlen, "mt_npy_save: file %s: data is NULL", path);
        return -1;
    }
    *arr = (npy_array){ data, n, ndim, shape };
    return 0;
}

int mt_npy_save(const char *path, const double *data, int ndim, const int *shape, char *err,
                size_t errlen)
{
    if (!path) {
        io_err(err, errlen, "mt_npy_save: path is NULL");
        return -1;
    }
    npy_array arr;
    if (npy_array_of(path, data, ndim, shape, &arr, err, errlen) < 0)
        return -1;
    return mt_write_file_atomic(path, npy_write, &arr, err, errlen);
}

int mt_npy_save_dir(const char *dir, const mt_npy_array *arrays, int n, char *err,
                    size_t errlen)
{
    if (!dir || n < 0 || (n > 0 && !arrays)) {
        io_err(err, errlen, "mt_npy_save_dir: %s is NULL", !dir ? "dir" : "arrays");
        return -1;
    }
    npy_array *arr = malloc(((size_t)n + 1) * sizeof *arr);
    mt_dir_file *files = malloc(((size_t)n + 1) * sizeof *files);
    int rc = -1;
    if (!arr || !files) {
        io_err(err, errlen, "directory %s: out of memory", dir);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const char *name = arrays[i].name ? arrays[i].name : "(null)";
        if (npy_array_of(name, arrays[i].data, arrays[i].ndim, arrays[i].shape, &arr[i], err,
                         errlen) < 0)
            goto out;
        files[i] = (mt_dir_file){ arrays[i].name, npy_write, &arr[i] };
    }
    rc = mt_write_dir_atomic(dir, files, n, err, errlen);
out:
    free(arr);
    free(files);
    return rc;
}
