/* fuzz_entry.h: what one fuzz input does, shared by the libFuzzer targets (tests/fuzz/fuzz_*.c,
 * built with clang by `make fuzz`) and by the Check suite that replays the kept inputs
 * (tests/test_fuzz_regress.c, built by `make test` with the normal compiler).
 *
 * Each fz_<target>_one(data, size) hands the bytes to a loader through its public entry point
 * and checks what comes back: a load leaves a consistent result (and one that agrees with an
 * independent reading of the bytes where that is simple to write down), a rejection leaves a
 * NUL-terminated, printable message and nothing allocated, and a smaller error buffer gets the
 * same message cut with "[...]". It returns FZ_LOADED or FZ_REJECTED; anything else is reported
 * through FZ_FAIL, which aborts (so libFuzzer keeps the input) unless the includer defines it.
 *
 * The path-based loaders read a file in a scratch directory made once per process in /dev/shm
 * (tmpfs; $TMPDIR or /tmp when there is none) and removed at exit by the process that made it;
 * a caller that forks (Check) makes it first with fz_scratch_init, so that every child shares
 * it whether it passes or fails. */
#ifndef MT_FUZZ_ENTRY_H
#define MT_FUZZ_ENTRY_H

#include "mytorch/io.h"
#include "mytorch/trace.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#ifndef FZ_FAIL
#define FZ_FAIL(...)                                                                               \
    (fprintf(stderr, "fuzz: misbehaviour: "), fprintf(stderr, __VA_ARGS__), fputc('\n', stderr),   \
     abort())
#endif
#define FZ_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) FZ_FAIL(__VA_ARGS__);                                                         \
    } while (0)

enum { FZ_REJECTED = 0, FZ_LOADED = 1 };

/* The targets, by the name their corpus and regression directories have. */
#define FZ_TARGETS "idx", "idx_gz", "npy", "trace"

/* ---- the scratch directory ---------------------------------------------------------------- */

typedef struct fz_scratch {
    int ready;
    pid_t owner; /* the process that made it, and alone removes it (forked children share it) */
    char dir[200];
    char in_idx[240], in_gz[240], in_npy[240], out_npy[240], out_json[240], out2_json[240];
} fz_scratch;

static fz_scratch fz_g;

/* A failure of the harness itself (no space, no directory): not a finding. */
static inline void fz_harness_error(const char *what)
{
    fprintf(stderr, "fuzz harness: %s\n", what);
    abort();
}

static inline void fz_cleanup(void)
{
    if (!fz_g.ready || getpid() != fz_g.owner) return;
    const char *files[] = { fz_g.in_idx,  fz_g.in_gz,    fz_g.in_npy,
                            fz_g.out_npy, fz_g.out_json, fz_g.out2_json };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(files[i]);
    rmdir(fz_g.dir);
    fz_g.ready = 0;
}

static inline void fz_scratch_init(void)
{
    if (fz_g.ready) return;
    const char *base = "/dev/shm";
    struct stat st;
    if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode) || access(base, W_OK) != 0)
        base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(fz_g.dir, sizeof fz_g.dir, "%s/mytorch-fuzz-XXXXXX", base);
    if (!mkdtemp(fz_g.dir)) fz_harness_error("cannot make a scratch directory");
    /* a raw IDX file named .gz and a gzip one named .idx: only the bytes decide */
    snprintf(fz_g.in_idx, sizeof fz_g.in_idx, "%s/input.gz", fz_g.dir);
    snprintf(fz_g.in_gz, sizeof fz_g.in_gz, "%s/input.idx", fz_g.dir);
    snprintf(fz_g.in_npy, sizeof fz_g.in_npy, "%s/input.npy", fz_g.dir);
    snprintf(fz_g.out_npy, sizeof fz_g.out_npy, "%s/again.npy", fz_g.dir);
    snprintf(fz_g.out_json, sizeof fz_g.out_json, "%s/saved.json", fz_g.dir);
    snprintf(fz_g.out2_json, sizeof fz_g.out2_json, "%s/saved-again.json", fz_g.dir);
    fz_g.ready = 1;
    fz_g.owner = getpid();
    atexit(fz_cleanup);
}

/* Replaces path's contents with b[0..n). */
static inline void fz_write_file(const char *path, const void *b, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fz_harness_error("cannot create the input file");
    const unsigned char *p = b;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) fz_harness_error("cannot write the input file");
        p += w;
        n -= (size_t)w;
    }
    if (close(fd) != 0) fz_harness_error("cannot close the input file");
}

/* The whole file at path (malloc'd, *n bytes), or NULL when it cannot be read. */
static inline unsigned char *fz_read_file(const char *path, size_t *n)
{
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0, got;
    unsigned char *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    *n = len;
    return buf;
}

/* ---- error messages ----------------------------------------------------------------------- */

#define FZ_ERRLEN MT_ERRLEN(240)

/* The length of the UTF-8 sequence at s[0..n) that encodes a printable character (no C0 or C1
 * control, no DEL), or 0 when there is none: an invalid, overlong or cut sequence, a
 * surrogate, or a control character. */
static inline size_t fz_utf8_printable(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return c >= 0x20 && c != 0x7f;
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (len == 0 || len > n) return 0;
    uint32_t cp = c & (0x7fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return len;
}

/* A rejection's message: NUL-terminated within errlen and not empty. With ascii set (the I/O
 * readers, which promise it), printable ASCII only, bytes from the input escaped as \xNN;
 * otherwise (traces, whose messages may quote the registry's UTF-8 symbols) printable UTF-8:
 * no control character (an escape sequence from a file would reach the terminal) and no
 * malformed sequence (a byte from a file printed raw). */
static inline void fz_check_message_as(const char *what, const char *err, size_t errlen, int ascii)
{
    size_t n = strnlen(err, errlen);
    FZ_CHECK(n < errlen, "%s: the message fills its %zu-byte buffer without a NUL", what, errlen);
    FZ_CHECK(n > 0, "%s: rejected without a message", what);
    const unsigned char *u = (const unsigned char *)err;
    for (size_t i = 0; i < n;) {
        size_t k = ascii ? (u[i] >= 0x20 && u[i] < 0x7f) : fz_utf8_printable(u + i, n - i);
        FZ_CHECK(k > 0, "%s: byte 0x%02x at offset %zu of the message is not %s: %s", what, u[i], i,
                 ascii ? "printable ASCII" : "printable UTF-8", err);
        i += k;
    }
}

static inline void fz_check_message(const char *what, const char *err, size_t errlen)
{
    fz_check_message_as(what, err, errlen, 1);
}

/* The same message written into a buffer of small bytes: whole when it fits, else its start
 * and " [...]". */
static inline void fz_check_cut(const char *what, const char *full, const char *cut, size_t small)
{
    size_t n = strnlen(cut, small), nfull = strlen(full);
    FZ_CHECK(n < small, "%s: a %zu-byte buffer is left without a NUL", what, small);
    if (nfull < small) {
        FZ_CHECK(strcmp(cut, full) == 0,
                 "%s: with a %zu-byte buffer the message is \"%s\", not \"%s\"", what, small, cut,
                 full);
        return;
    }
    static const char mark[] = " [...]";
    size_t m = sizeof mark - 1;
    FZ_CHECK(n >= m && strcmp(cut + n - m, mark) == 0 && memcmp(cut, full, n - m) == 0,
             "%s: cut to %zu bytes the message is \"%s\", not the start of \"%s\" and \" [...]\"",
             what, small, cut, full);
}

/* Which second call a rejected input gets: a small buffer, a NULL buffer, or a 1-byte one. */
static inline int fz_variant(const uint8_t *d, size_t n)
{
    return (int)((n + (n ? d[n / 2] : 0u)) % 3);
}

#define FZ_SMALL 40

/* ---- IDX ---------------------------------------------------------------------------------- */

static inline uint32_t fz_be32(const uint8_t *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

/* An independent reading of b[0..n) as a raw IDX file: 1 when mt_idx_load must accept it
 * (magic 00 00 08 N with N in 1..3, dims below 2^31 whose product fits, exactly that many
 * bytes after the header), with *hdr the header's length; else 0. */
static inline int fz_idx_oracle(const uint8_t *b, size_t n, size_t *hdr)
{
    if (n < 4 || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] < 1 || b[3] > 3) return 0;
    size_t h = 4 + 4 * (size_t)b[3];
    if (n < h) return 0;
    size_t total = 1;
    for (int i = 0; i < b[3]; i++) {
        uint32_t d = fz_be32(b + 4 + 4 * i);
        if (d > 0x7fffffffu || (d != 0 && total > SIZE_MAX / d)) return 0;
        total *= d;
    }
    if (n - h != total) return 0;
    *hdr = h;
    return 1;
}

/* Loads the file at path; payload[0..n) is what it holds once inflated (the file itself when
 * raw) and expect what must happen: 1 load, 0 reject, -1 whatever the oracle says. */
static inline int fz_idx_check(const char *what, const char *path, const uint8_t *payload, size_t n,
                               int expect, int variant)
{
    size_t hdr = 0;
    int valid = fz_idx_oracle(payload, n, &hdr);
    if (expect >= 0) valid = valid && expect;
    char *err = malloc(FZ_ERRLEN);
    if (!err) fz_harness_error("out of memory");
    err[0] = '\0';
    mt_idx out;
    memset(&out, 0xa5, sizeof out);
    int rc = mt_idx_load(path, &out, err, FZ_ERRLEN);
    FZ_CHECK(rc == 0 || rc == -1, "%s: mt_idx_load returned %d", what, rc);
    if (rc == 0) {
        FZ_CHECK(valid, "%s: loaded a file that is not a valid IDX file", what);
        int nd = payload[3];
        FZ_CHECK(out.ndim == nd, "%s: ndim %d, the header says %d", what, out.ndim, nd);
        size_t item = 1;
        for (int i = 0; i < 3; i++) {
            uint32_t d = i < nd ? fz_be32(payload + 4 + 4 * i) : 1;
            FZ_CHECK(out.dims[i] >= 0 && (uint32_t)out.dims[i] == d,
                     "%s: dims[%d] is %d, the header says %lu", what, i, out.dims[i],
                     (unsigned long)d);
            if (i > 0) item *= d;
        }
        FZ_CHECK(out.count == (size_t)out.dims[0], "%s: count %zu, dims[0] %d", what, out.count,
                 out.dims[0]);
        FZ_CHECK(out.item_size == item, "%s: item_size %zu, expected %zu", what, out.item_size,
                 item);
        FZ_CHECK(out.count * out.item_size == n - hdr,
                 "%s: %zu records of %zu bytes, but the file holds %zu data bytes", what, out.count,
                 out.item_size, n - hdr);
        FZ_CHECK(n == hdr || (out.data && memcmp(out.data, payload + hdr, n - hdr) == 0),
                 "%s: the data differ from the file's", what);
        mt_idx_free(&out);
        FZ_CHECK(out.data == NULL && out.count == 0 && out.ndim == 0,
                 "%s: mt_idx_free did not zero the struct", what);
        mt_idx_free(&out); /* twice is allowed */
    } else {
        FZ_CHECK(!valid, "%s: rejected a valid IDX file: %s", what, err);
        FZ_CHECK(out.data == NULL && out.ndim == 0 && out.count == 0 && out.item_size == 0 &&
                     out.dims[0] == 0 && out.dims[1] == 0 && out.dims[2] == 0,
                 "%s: a failed load left *out not zeroed", what);
        fz_check_message(what, err, FZ_ERRLEN);
        mt_idx again;
        char small[FZ_SMALL];
        int rc2 = variant == 0   ? mt_idx_load(path, &again, small, sizeof small)
                  : variant == 1 ? mt_idx_load(path, &again, NULL, 0)
                                 : mt_idx_load(path, &again, small, 1);
        FZ_CHECK(rc2 == -1 && again.data == NULL,
                 "%s: a second load of the same file did not fail the same way", what);
        if (variant == 0)
            fz_check_cut(what, err, small, sizeof small);
        else if (variant == 2)
            FZ_CHECK(small[0] == '\0', "%s: a 1-byte buffer holds more than its NUL", what);
    }
    free(err);
    return rc == 0 ? FZ_LOADED : FZ_REJECTED;
}

/* The input is the file: raw IDX, or gzip when it starts with 1f 8b (the file is named .gz
 * either way, as the suffix decides nothing). Raw files are checked against fz_idx_oracle;
 * gzip ones must load consistently or be rejected cleanly. */
static inline int fz_idx_one(const uint8_t *d, size_t n)
{
    fz_scratch_init();
    fz_write_file(fz_g.in_idx, d, n);
    int gz = n >= 2 && d[0] == 0x1f && d[1] == 0x8b;
    if (!gz) return fz_idx_check("idx", fz_g.in_idx, d, n, -1, fz_variant(d, n));
    /* gzip as given: whatever it inflates to, a load must agree with that; inflate it here
     * with zlib (gzip members, concatenated) to have the payload to compare with */
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) fz_harness_error("inflateInit2");
    size_t cap = 1 << 16, len = 0;
    uint8_t *out = malloc(cap);
    int ok = out != NULL;
    zs.next_in = (Bytef *)d;
    zs.avail_in = (uInt)n;
    while (ok) {
        if (len == cap) {
            if (cap >= ((size_t)1 << 26)) {
                ok = 0;
                break;
            } /* a bomb: let the loader judge */
            uint8_t *bigger = realloc(out, cap * 2);
            if (!bigger) {
                ok = 0;
                break;
            }
            out = bigger;
            cap *= 2;
        }
        zs.next_out = out + len;
        zs.avail_out = (uInt)(cap - len);
        int rc = inflate(&zs, Z_NO_FLUSH);
        len = cap - zs.avail_out;
        if (rc == Z_STREAM_END) {
            if (zs.avail_in == 0) break; /* the whole file, every trailer checked */
            if (zs.avail_in < 2 || zs.next_in[0] != 0x1f || zs.next_in[1] != 0x8b) {
                ok = 0; /* bytes after the stream */
                break;
            }
            if (inflateReset(&zs) != Z_OK) {
                ok = 0;
                break;
            }
            continue;
        }
        if (rc == Z_OK || (rc == Z_BUF_ERROR && zs.avail_out == 0)) continue;
        ok = 0; /* corrupt or cut short */
    }
    inflateEnd(&zs);
    int r;
    if (ok)
        r = fz_idx_check("idx (gzip)", fz_g.in_idx, out, len, -1, fz_variant(d, n));
    else if (out && len < ((size_t)1 << 26))
        r = fz_idx_check("idx (bad gzip)", fz_g.in_idx, out, len, 0, fz_variant(d, n));
    else {
        /* more than 64 MiB inflated (or no memory to tell): only a clean result is required */
        char *err = malloc(FZ_ERRLEN);
        mt_idx big;
        if (!err) fz_harness_error("out of memory");
        r = mt_idx_load(fz_g.in_idx, &big, err, FZ_ERRLEN) == 0 ? FZ_LOADED : FZ_REJECTED;
        if (r == FZ_REJECTED) fz_check_message("idx (big gzip)", err, FZ_ERRLEN);
        mt_idx_free(&big);
        free(err);
    }
    free(out);
    return r;
}

/* Appends one gzip member holding p[0..n) to buf (capacity *cap, length *len). level 0-9,
 * strategy one of zlib's; with_header adds a name, a comment, an extra field and a header CRC.
 * Returns 0, or -1 when zlib refuses. */
static inline int fz_gzip_member(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *p,
                                 size_t n, int level, int strategy, int with_header)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, strategy) != Z_OK) return -1;
    static unsigned char name[] = "input", comment[] = "fuzz", extra[] = "xy\002\000ab";
    gz_header h;
    memset(&h, 0, sizeof h);
    if (with_header) {
        h.name = name;
        h.comment = comment;
        h.extra = extra;
        h.extra_len = sizeof extra - 1;
        h.hcrc = 1;
        h.os = 3;
        deflateSetHeader(&zs, &h);
    }
    size_t need = *len + deflateBound(&zs, (uLong)n) + 64;
    if (need > *cap) {
        uint8_t *bigger = realloc(*buf, need);
        if (!bigger) {
            deflateEnd(&zs);
            return -1;
        }
        *buf = bigger;
        *cap = need;
    }
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)n;
    zs.next_out = *buf + *len;
    zs.avail_out = (uInt)(*cap - *len);
    int rc = deflate(&zs, Z_FINISH);
    *len += zs.total_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? 0 : -1;
}

/* The largest IDX file fz_idx_generate makes: 4 MiB, four times the loader's first buffer. */
#define FZ_GEN_MAX ((size_t)4 << 20)

/* From an IDX header at p[0..n) and the bytes after it (a pattern), a whole IDX file: the
 * header, then as many data bytes as it promises, the pattern over and over (zeros when there
 * is none). NULL when p does not start with a uint8 header of 1-3 dimensions or promises more
 * than FZ_GEN_MAX bytes; else a malloc'd buffer of *len bytes. */
static inline uint8_t *fz_idx_generate(const uint8_t *p, size_t n, size_t *len)
{
    if (n < 4 || p[0] != 0 || p[1] != 0 || p[2] != 0x08 || p[3] < 1 || p[3] > 3) return NULL;
    size_t h = 4 + 4 * (size_t)p[3];
    if (n < h) return NULL;
    size_t total = 1;
    for (int i = 0; i < p[3]; i++) {
        uint32_t dim = fz_be32(p + 4 + 4 * i);
        if (dim != 0 && total > FZ_GEN_MAX / dim) return NULL;
        total *= dim;
    }
    uint8_t *out = malloc(h + total + 1);
    if (!out) fz_harness_error("out of memory");
    memcpy(out, p, h);
    size_t plen = n - h;
    for (size_t i = 0; i < total; i++) out[h + i] = plen ? p[h + i % plen] : 0;
    *len = h + total;
    return out;
}

/* Input: two control bytes, then the IDX bytes, which this gzips before writing (so the fuzzer
 * works on IDX headers inside valid gzip streams). d[0] & 7 picks what is done to the stream;
 * d[0] >> 3 is that mode's parameter; d[1] & 0x7f picks the level and strategy, and with
 * d[1] & 0x80 the IDX bytes are only a header and a pattern: the data is the pattern repeated to
 * the length the header promises (up to FZ_GEN_MAX), so that large files (whose buffer grows as
 * they inflate) are tried too. The modes:
 *   0 one member                         -> as the oracle says
 *   1 two members, split at a point      -> as the oracle says
 *   2 the last 1-32 bytes cut off        -> rejected (truncated)
 *   3 1-32 zero bytes after the stream   -> rejected (trailing bytes)
 *   4 a bit of the CRC-32 flipped        -> rejected
 *   5 a bit of the length flipped        -> rejected
 *   6 an empty member after it           -> as the oracle says
 *   7 one member with a name, comment, extra field and header CRC -> as the oracle says */
static inline int fz_idx_gz_one(const uint8_t *d, size_t n)
{
    fz_scratch_init();
    if (n < 2) return fz_idx_one(d, n);
    int mode = d[0] & 7, param = d[0] >> 3;
    int level = (d[1] & 0x7f) % 10;
    static const int strategies[] = { Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE,
                                      Z_FIXED };
    int strategy = strategies[((d[1] & 0x7f) / 10) % 5];
    const uint8_t *p = d + 2;
    size_t pn = n - 2;
    uint8_t *gen = (d[1] & 0x80) ? fz_idx_generate(p, pn, &pn) : NULL;
    if (gen) p = gen;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int bad = 0, rc;
    if (mode == 1) {
        size_t cut = pn * (size_t)param / 31;
        rc = fz_gzip_member(&buf, &len, &cap, p, cut, level, strategy, 0);
        if (rc == 0) rc = fz_gzip_member(&buf, &len, &cap, p + cut, pn - cut, level, strategy, 0);
    } else {
        rc = fz_gzip_member(&buf, &len, &cap, p, pn, level, strategy, mode == 7);
    }
    if (rc == 0 && mode == 6) rc = fz_gzip_member(&buf, &len, &cap, p, 0, level, strategy, 0);
    if (rc != 0) fz_harness_error("zlib cannot compress the input");
    size_t k = 1 + (size_t)param;
    switch (mode) {
    case 2:
        len = k < len ? len - k : 0;
        bad = 1;
        break;
    case 3:
        if (len + k > cap) {
            uint8_t *bigger = realloc(buf, len + k);
            if (!bigger) fz_harness_error("out of memory");
            buf = bigger;
            cap = len + k;
        }
        memset(buf + len, 0, k);
        len += k;
        bad = 1;
        break;
    case 4:
        buf[len - 8 + (param & 3)] ^= (uint8_t)(1u << (param >> 2));
        bad = 1;
        break;
    case 5:
        buf[len - 4 + (param & 3)] ^= (uint8_t)(1u << (param >> 2));
        bad = 1;
        break;
    }
    fz_write_file(fz_g.in_gz, buf, len);
    free(buf);
    char what[64];
    snprintf(what, sizeof what, "idx_gz (mode %d, level %d, strategy %d%s)", mode, level, strategy,
             gen ? ", generated" : "");
    int r = fz_idx_check(what, fz_g.in_gz, p, pn, bad ? 0 : -1, fz_variant(d, n));
    free(gen);
    return r;
}

/* ---- .npy --------------------------------------------------------------------------------- */

static inline double fz_f64le(const uint8_t *b)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u |= (uint64_t)b[i] << (8 * i);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* The input is the .npy file. A load must match the bytes (the values are the file's last
 * 8 * numel bytes, after the preamble and header, little-endian), survive a save and a reload
 * bit for bit, and load the same through mt_npy_load_into, which must refuse another shape
 * without touching its destination. */
static inline int fz_npy_one(const uint8_t *d, size_t n)
{
    fz_scratch_init();
    fz_write_file(fz_g.in_npy, d, n);
    char *err = malloc(FZ_ERRLEN);
    if (!err) fz_harness_error("out of memory");
    err[0] = '\0';
    double *data = (double *)(uintptr_t)1;
    int ndim = -7, shape[4] = { -7, -7, -7, -7 };
    int rc = mt_npy_load(fz_g.in_npy, &data, &ndim, shape, err, FZ_ERRLEN);
    FZ_CHECK(rc == 0 || rc == -1, "npy: mt_npy_load returned %d", rc);
    if (rc != 0) {
        FZ_CHECK(data == NULL, "npy: a failed load left *data set");
        fz_check_message("npy", err, FZ_ERRLEN);
        int v = fz_variant(d, n);
        char small[FZ_SMALL];
        double *again = NULL;
        int rc2 = v == 0   ? mt_npy_load(fz_g.in_npy, &again, &ndim, shape, small, sizeof small)
                  : v == 1 ? mt_npy_load(fz_g.in_npy, &again, &ndim, shape, NULL, 0)
                           : mt_npy_load(fz_g.in_npy, &again, &ndim, shape, small, 1);
        FZ_CHECK(rc2 == -1 && again == NULL, "npy: a second load did not fail the same way");
        if (v == 0) fz_check_cut("npy", err, small, sizeof small);
        free(err);
        return FZ_REJECTED;
    }

    FZ_CHECK(data != NULL, "npy: loaded, but *data is NULL");
    FZ_CHECK(ndim >= 0 && ndim <= 4, "npy: ndim %d", ndim);
    size_t numel = 1;
    for (int i = 0; i < 4; i++) {
        FZ_CHECK(i < ndim ? shape[i] >= 0 : shape[i] == 1, "npy: shape[%d] is %d (ndim %d)", i,
                 shape[i], ndim);
        numel *= (size_t)shape[i];
    }
    /* the layout numpy writes: magic, version, header length, header, data */
    FZ_CHECK(n >= 10 && memcmp(d, "\x93NUMPY", 6) == 0 && d[6] >= 1 && d[6] <= 3 && d[7] == 0,
             "npy: loaded a file without the magic string and a known version");
    size_t off =
        d[6] == 1
            ? 10 + ((size_t)d[8] | (size_t)d[9] << 8)
            : 12 + ((size_t)d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 | (size_t)d[11] << 24);
    FZ_CHECK(off <= n && n - off == 8 * numel,
             "npy: %zu values loaded, but the file holds %zu bytes after its %zu-byte header",
             numel, off <= n ? n - off : 0, off);
    for (size_t i = 0; i < numel; i++) {
        double want = fz_f64le(d + off + 8 * i);
        FZ_CHECK(memcmp(&data[i], &want, sizeof want) == 0,
                 "npy: value %zu differs from the file's bytes", i);
    }

    /* save, reload: the same shape and bits */
    FZ_CHECK(mt_npy_save(fz_g.out_npy, data, ndim, shape, err, FZ_ERRLEN) == 0,
             "npy: cannot save what was loaded: %s", err);
    double *back = NULL;
    int bnd = -1, bsh[4];
    FZ_CHECK(mt_npy_load(fz_g.out_npy, &back, &bnd, bsh, err, FZ_ERRLEN) == 0,
             "npy: cannot reload what was saved: %s", err);
    FZ_CHECK(bnd == ndim && memcmp(bsh, shape, sizeof bsh) == 0, "npy: the reloaded shape differs");
    FZ_CHECK(numel == 0 || memcmp(back, data, numel * sizeof *data) == 0,
             "npy: the reloaded values differ");
    free(back);

    /* load_into: the same shape works; another is refused and dst stays as it was */
    double *dst = malloc((numel + 1) * sizeof *dst);
    if (!dst) fz_harness_error("out of memory");
    FZ_CHECK(mt_npy_load_into(fz_g.in_npy, dst, ndim, shape, err, FZ_ERRLEN) == 0,
             "npy: mt_npy_load_into refused the file's own shape: %s", err);
    FZ_CHECK(numel == 0 || memcmp(dst, data, numel * sizeof *dst) == 0,
             "npy: mt_npy_load_into read other values");
    int other[4];
    memcpy(other, shape, sizeof other);
    int ond = ndim;
    if (ndim > 0 && shape[0] < 0x7fffffff)
        other[0] = shape[0] + 1;
    else if (ndim < 4)
        other[ond++] = 2;
    else
        ond = 3;
    size_t on = 1;
    for (int i = 0; i < ond; i++) on *= (size_t)other[i];
    if (on <= numel + 1) { /* dst holds numel + 1 doubles */
        memset(dst, 0x5a, (numel + 1) * sizeof *dst);
        FZ_CHECK(mt_npy_load_into(fz_g.in_npy, dst, ond, other, err, FZ_ERRLEN) == -1,
                 "npy: mt_npy_load_into accepted a shape the file does not have");
        fz_check_message("npy load_into", err, FZ_ERRLEN);
        for (size_t i = 0; i < (numel + 1) * sizeof *dst; i++)
            FZ_CHECK(((unsigned char *)dst)[i] == 0x5a, "npy: a refused load_into wrote to dst");
    }
    free(dst);
    free(data);
    free(err);
    return FZ_LOADED;
}

/* ---- traces ------------------------------------------------------------------------------- */

static inline void fz_check_value(const mt_trace_value *v, const char *what)
{
    if (!v->present) return;
    FZ_CHECK(v->ndata <= v->numel, "trace: %s: %zu values of %zu", what, v->ndata, v->numel);
    FZ_CHECK(v->summarised || v->ndata == v->numel, "trace: %s: a whole value with %zu of %zu",
             what, v->ndata, v->numel);
    FZ_CHECK(v->ndata == 0 || v->data != NULL, "trace: %s: values but no data", what);
    volatile double sink = 0;
    for (size_t i = 0; i < v->ndata; i++)
        sink += v->data[i]; /* every element is readable (ASan checks the bounds) */
    (void)sink;
}

/* What every loaded trace must satisfy, cheaply: every index resolves. */
static inline void fz_check_trace(const mt_trace *t)
{
    FZ_CHECK(t->version == MT_TRACE_VERSION, "trace: version %d", t->version);
    FZ_CHECK(t->nnodes >= 0 && t->nedges >= 0 && t->nwalks >= 0, "trace: negative counts");
    FZ_CHECK(t->output >= -1 && t->output < t->nnodes, "trace: output %d of %d nodes", t->output,
             t->nnodes);
    FZ_CHECK(memchr(t->title, '\0', sizeof t->title) != NULL, "trace: title without a NUL");
    for (int i = 0; i < t->nnodes; i++) {
        const mt_trace_node *nd = &t->nodes[i];
        FZ_CHECK(nd->id == i, "trace: nodes[%d].id is %d", i, nd->id);
        FZ_CHECK(nd->ninputs >= 0 && nd->ninputs <= MT_MAX_INPUTS, "trace: nodes[%d].ninputs %d", i,
                 nd->ninputs);
        FZ_CHECK((nd->kind == MT_TRACE_BACKWARD_FUNCTION) == (nd->op != NULL),
                 "trace: nodes[%d]: an op exactly when it is a BackwardFunction", i);
        fz_check_value(&nd->value, "a node's value");
    }
    for (int i = 0; i < t->nedges; i++) {
        const mt_trace_edge *e = &t->edges[i];
        FZ_CHECK(e->from >= 0 && e->from < t->nnodes && e->to >= 0 && e->to < t->nnodes &&
                     e->operand >= 0 && e->operand < t->nodes[e->to].ninputs,
                 "trace: edges[%d] (%d -> %d, operand %d) does not resolve", i, e->from, e->to,
                 e->operand);
    }
    for (int w = 0; w < t->nwalks; w++) {
        const mt_trace_walk *wk = &t->walks[w];
        FZ_CHECK(wk->root >= 0 && wk->root < t->nnodes, "trace: walks[%d].root %d", w, wk->root);
        FZ_CHECK(wk->nevents >= 2, "trace: walks[%d] has %zu events", w, wk->nevents);
        for (size_t k = 0; k < wk->nevents; k++) {
            const mt_trace_event *ev = &wk->events[k];
            FZ_CHECK(ev->node >= -1 && ev->node < t->nnodes && ev->parent >= -1 &&
                         ev->parent < t->nnodes && ev->edge >= -1 && ev->edge < t->nedges,
                     "trace: walks[%d].events[%zu] does not resolve", w, k);
            FZ_CHECK(ev->ngrads >= 0 && ev->ngrads <= MT_MAX_INPUTS,
                     "trace: walks[%d].events[%zu].ngrads %d", w, k, ev->ngrads);
            fz_check_value(&ev->grad, "an event's grad");
            fz_check_value(&ev->before, "an event's before");
            fz_check_value(&ev->after, "an event's after");
            for (int g = 0; g < ev->ngrads; g++)
                fz_check_value(&ev->grads[g], "an event's grads[]");
        }
    }
}

/* The input is the JSON text, parsed in memory (mt_trace_parse). A trace that loads must pass
 * fz_check_trace, save, load back from the saved file, and save again to the same bytes. */
static inline int fz_trace_one(const uint8_t *d, size_t n)
{
    fz_scratch_init();
    char *err = malloc(FZ_ERRLEN);
    if (!err) fz_harness_error("out of memory");
    err[0] = '\0';
    mt_trace *t = mt_trace_parse((const char *)d, n, "fuzz.json", err, FZ_ERRLEN);
    if (!t) {
        fz_check_message_as("trace", err, FZ_ERRLEN, 0);
        int v = fz_variant(d, n);
        char small[FZ_SMALL];
        mt_trace *again = v == 0
                              ? mt_trace_parse((const char *)d, n, "fuzz.json", small, sizeof small)
                          : v == 1 ? mt_trace_parse((const char *)d, n, "fuzz.json", NULL, 0)
                                   : mt_trace_parse((const char *)d, n, "fuzz.json", small, 1);
        FZ_CHECK(again == NULL, "trace: a second parse of the same text succeeded");
        if (v == 0) fz_check_cut("trace", err, small, sizeof small);
        free(err);
        return FZ_REJECTED;
    }
    fz_check_trace(t);
    FZ_CHECK(mt_trace_save(t, fz_g.out_json, err, FZ_ERRLEN) == 0,
             "trace: a loaded trace does not save: %s", err);
    mt_trace *back = mt_trace_load(fz_g.out_json, err, FZ_ERRLEN);
    FZ_CHECK(back != NULL, "trace: a saved trace does not load: %s", err);
    fz_check_trace(back);
    FZ_CHECK(back->nnodes == t->nnodes && back->nedges == t->nedges && back->nwalks == t->nwalks &&
                 back->output == t->output && back->value_limit == t->value_limit &&
                 strcmp(back->title, t->title) == 0,
             "trace: the reloaded trace differs");
    for (int w = 0; w < t->nwalks; w++)
        FZ_CHECK(back->walks[w].nevents == t->walks[w].nevents &&
                     back->walks[w].traversal == t->walks[w].traversal,
                 "trace: walks[%d] differs once reloaded", w);
    FZ_CHECK(mt_trace_save(back, fz_g.out2_json, err, FZ_ERRLEN) == 0,
             "trace: a reloaded trace does not save: %s", err);
    size_t na, nb;
    unsigned char *a = fz_read_file(fz_g.out_json, &na), *b = fz_read_file(fz_g.out2_json, &nb);
    if (!a || !b) fz_harness_error("cannot read a saved trace back");
    FZ_CHECK(na == nb && memcmp(a, b, na) == 0,
             "trace: saving the reloaded trace gives other bytes (%zu and %zu)", na, nb);
    free(a);
    free(b);
    mt_trace_free(back);
    mt_trace_free(t);
    free(err);
    return FZ_LOADED;
}

#endif
