/* test_io.c: Check suite for include/mytorch/io.h: the IDX/MNIST loader against the committed
 * data and hand-made broken files (gzip streams cut, corrupted or followed by junk included),
 * and the .npy reader/writer against files written by numpy (tests/fixtures/npy, made by
 * tests/fixtures/gen_npy.py) and against itself; and writing through a fresh temporary name
 * (mt_write_file_atomic, mt_write_dir_atomic) with failures, symbolic links, odd targets and
 * signals injected at each step. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, chmod, geteuid, setrlimit, symlink, mkfifo */
#endif

#include "mytorch/io.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#ifndef MT_SOURCE_DIR
#define MT_SOURCE_DIR "."
#endif

#define MNIST_DIR MT_SOURCE_DIR "/data/mnist"
#define NPY_DIR   MT_SOURCE_DIR "/tests/fixtures/npy"

/* ---- helpers ------------------------------------------------------------------------------ */

#define TEST_TMP_DIR "/tmp/mt_test_io_XXXXXX" /* tmp_setup makes one per test case */
#include "test_util.h"

static void write_gz(const char *path, const void *bytes, size_t n)
{
    gzFile f = gzopen(path, "wb9");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_int_eq(gzwrite(f, bytes, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(f), Z_OK);
}

static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* Builds an IDX file image in buf: magic, dims, then datalen bytes of data (i * 7 % 256, or
 * the bytes of data when not NULL). Returns the total length. */
static size_t make_idx(unsigned char *buf, uint32_t magic, int ndim, const uint32_t *dims,
                       const unsigned char *data, size_t datalen)
{
    put_be32(buf, magic);
    for (int i = 0; i < ndim; i++)
        put_be32(buf + 4 + 4 * i, dims[i]);
    size_t off = 4 + 4 * (size_t)ndim;
    for (size_t i = 0; i < datalen; i++)
        buf[off + i] = data ? data[i] : (unsigned char)(i * 7 % 256);
    return off + datalen;
}

/* A tiny valid MNIST pair in g_tmp: 3 images of 2x2 and labels {4, 0, 9}, raw files. */
static void write_tiny_mnist(const char *prefix)
{
    unsigned char buf[256];
    char path[512], name[128];
    static const uint32_t idims[3] = { 3, 2, 2 }, ldims[1] = { 3 };
    static const unsigned char labels[3] = { 4, 0, 9 };
    size_t n = make_idx(buf, 0x803, 3, idims, NULL, 12);
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    TMP(path, name);
    write_bytes(path, buf, n);
    n = make_idx(buf, 0x801, 1, ldims, labels, 3);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    TMP(path, name);
    write_bytes(path, buf, n);
}

/* ---- IDX / MNIST ------------------------------------------------------------------------ */

START_TEST(mnist_load_should_read_the_t10k_files)
{
    static const int published[10] = { 980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009 };
    mt_mnist m;
    char err[512] = "";
    int rc = mt_mnist_load(MNIST_DIR, "t10k", &m, err, sizeof err);
    ck_assert_msg(rc == 0, "load failed: %s", err);
    ck_assert_uint_eq(m.count, 10000);
    ck_assert_int_eq(m.rows, 28);
    ck_assert_int_eq(m.cols, 28);
    ck_assert_int_eq(m.images.ndim, 3);
    ck_assert_uint_eq(m.images.item_size, 784);
    ck_assert_int_eq(m.labels.ndim, 1);
    ck_assert_uint_eq(m.labels.item_size, 1);

    int counts[10] = { 0 };
    for (size_t i = 0; i < m.count; i++)
        counts[m.labels.data[i]]++;
    for (int d = 0; d < 10; d++)
        ck_assert_msg(counts[d] == published[d], "digit %d: %d labels, published %d", d,
                      counts[d], published[d]);
    ck_assert_int_eq(m.labels.data[0], 7); /* the first test digit is a 7 */

    /* Pixels use the full 0-255 range and the border of a digit image is background. */
    int maxpix = 0;
    for (size_t i = 0; i < 784; i++)
        if (m.images.data[i] > maxpix)
            maxpix = m.images.data[i];
    ck_assert_int_eq(maxpix, 255);
    ck_assert_int_eq(m.images.data[0], 0);

    mt_mnist_free(&m);
    ck_assert_ptr_null(m.images.data);
    mt_mnist_free(&m); /* twice is safe */
}
END_TEST

START_TEST(idx_load_should_read_the_train_labels)
{
    static const int published[10] = { 5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851,
                                       5949 };
    mt_idx idx;
    char err[512] = "";
    int rc = mt_idx_load(MNIST_DIR "/train-labels-idx1-ubyte.gz", &idx, err, sizeof err);
    ck_assert_msg(rc == 0, "load failed: %s", err);
    ck_assert_int_eq(idx.ndim, 1);
    ck_assert_int_eq(idx.dims[0], 60000);
    ck_assert_int_eq(idx.dims[1], 1);
    ck_assert_uint_eq(idx.count, 60000);
    int counts[10] = { 0 };
    for (size_t i = 0; i < idx.count; i++) {
        ck_assert_int_le(idx.data[i], 9);
        counts[idx.data[i]]++;
    }
    for (int d = 0; d < 10; d++)
        ck_assert_int_eq(counts[d], published[d]);
    mt_idx_free(&idx);
}
END_TEST

START_TEST(mnist_load_should_read_raw_uncompressed_files)
{
    write_tiny_mnist("tiny");
    mt_mnist m;
    char err[512] = "";
    int rc = mt_mnist_load(g_tmp, "tiny", &m, err, sizeof err);
    ck_assert_msg(rc == 0, "load failed: %s", err);
    ck_assert_uint_eq(m.count, 3);
    ck_assert_int_eq(m.rows, 2);
    ck_assert_int_eq(m.cols, 2);
    ck_assert_uint_eq(m.images.item_size, 4);
    for (int i = 0; i < 12; i++)
        ck_assert_int_eq(m.images.data[i], i * 7 % 256);
    ck_assert_int_eq(m.labels.data[0], 4);
    ck_assert_int_eq(m.labels.data[1], 0);
    ck_assert_int_eq(m.labels.data[2], 9);
    mt_mnist_free(&m);
}
END_TEST

START_TEST(mnist_load_should_prefer_the_gz_when_both_exist)
{
    write_tiny_mnist("both");
    unsigned char buf[64];
    char path[512];
    static const uint32_t ldims[1] = { 3 };
    static const unsigned char labels[3] = { 1, 2, 3 };
    size_t n = make_idx(buf, 0x801, 1, ldims, labels, 3);
    TMP(path, "both-labels-idx1-ubyte.gz");
    write_gz(path, buf, n);

    mt_mnist m;
    char err[512] = "";
    ck_assert_msg(mt_mnist_load(g_tmp, "both", &m, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(m.labels.data[0], 1); /* the raw file says 4 */
    ck_assert_int_eq(m.labels.data[2], 3);
    mt_mnist_free(&m);
}
END_TEST

START_TEST(idx_load_should_reject_truncated_file)
{
    unsigned char buf[64];
    char path[512], err[512] = "";
    static const uint32_t dims[3] = { 3, 2, 2 };
    size_t n = make_idx(buf, 0x803, 3, dims, NULL, 12);
    TMP(path, "short-images-idx3-ubyte");
    write_bytes(path, buf, n - 5);

    mt_idx idx;
    memset(&idx, 0xAB, sizeof idx);
    ck_assert_int_eq(mt_idx_load(path, &idx, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "truncated: header promises 12 bytes of data, found 7");
    ck_assert_ptr_null(idx.data); /* zeroed on failure */
    mt_idx_free(&idx);
}
END_TEST

START_TEST(idx_load_should_reject_truncated_header)
{
    unsigned char buf[64];
    char path[512], err[512] = "";
    static const uint32_t dims[3] = { 3, 2, 2 };
    make_idx(buf, 0x803, 3, dims, NULL, 12);
    TMP(path, "hdr");
    mt_idx idx;

    write_bytes(path, buf, 0);
    ck_assert_int_eq(mt_idx_load(path, &idx, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "empty");

    write_bytes(path, buf, 2);
    ck_assert_int_eq(mt_idx_load(path, &idx, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "truncated");

    write_bytes(path, buf, 9);
    ck_assert_int_eq(mt_idx_load(path, &idx, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "truncated: header promises 3 dimension sizes");
}
END_TEST

START_TEST(idx_load_should_reject_truncated_gzip_file)
{
    size_t n;
    unsigned char *gz = read_bytes(MNIST_DIR "/t10k-labels-idx1-ubyte.gz", &n);
    char path[512], err[512] = "";
    TMP(path, "cut-labels-idx1-ubyte.gz");
    write_bytes(path, gz, n / 2);
    free(gz);

    mt_idx idx;
    ck_assert_int_eq(mt_idx_load(path, &idx, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "truncated: header promises 10000 bytes of data, found ");
}
END_TEST

START_TEST(idx_load_should_reject_trailing_data)
{
    unsigned char buf[64];
    char path[512], err[512] = "";
    static const uint32_t dims[1] = { 3 };
    static const unsigned char data[6] = { 1, 2, 3, 4, 5, 6 };
    size_t n = make_idx(buf, 0x801, 1, dims, data, 6); /* header says 3, file has 6 */
    TMP(path, "long-labels-idx1-ubyte");
    write_bytes(path, buf, n);

    mt_idx idx;
    ck_assert_int_eq(mt_idx_load(path, &idx, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "header promises 3 bytes of data, found 3 more after them");
}
END_TEST

START_TEST(idx_load_should_reject_bad_magic)
{
    char path[512], err[512] = "";
    TMP(path, "picture.gif");
    static const char gif[] = "GIF89a\x01\x00\x01\x00\x00\x00";
    write_bytes(path, gif, sizeof gif - 1);
    mt_idx idx;
    ck_assert_int_eq(mt_idx_load(path, &idx, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "not an IDX file: magic number 0x47494638");

    /* A float IDX file (type 0x0D) is valid IDX but not something we read. */
    unsigned char buf[64];
    static const uint32_t dims[1] = { 2 };
    size_t n = make_idx(buf, 0x0D01, 1, dims, NULL, 8);
    TMP(path, "floats");
    write_bytes(path, buf, n);
    ck_assert_int_eq(mt_idx_load(path, &idx, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "IDX data type 0x0d");
}
END_TEST

START_TEST(mnist_load_should_reject_labels_in_place_of_images)
{
    write_tiny_mnist("swap");
    unsigned char buf[64];
    char path[512], err[512] = "";
    static const uint32_t dims[1] = { 3 };
    size_t n = make_idx(buf, 0x801, 1, dims, NULL, 3);
    TMP(path, "swap-images-idx3-ubyte");
    write_bytes(path, buf, n);

    mt_mnist m;
    ck_assert_int_eq(mt_mnist_load(g_tmp, "swap", &m, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "bad magic number 0x00000801, expected 0x00000803");
    ck_assert_ptr_null(m.images.data);
    ck_assert_ptr_null(m.labels.data);
}
END_TEST

START_TEST(mnist_load_should_reject_label_out_of_range)
{
    write_tiny_mnist("badlabel");
    unsigned char buf[64];
    char path[512], err[512] = "";
    static const uint32_t dims[1] = { 3 };
    static const unsigned char labels[3] = { 1, 2, 10 };
    size_t n = make_idx(buf, 0x801, 1, dims, labels, 3);
    TMP(path, "badlabel-labels-idx1-ubyte");
    write_bytes(path, buf, n);

    mt_mnist m;
    ck_assert_int_eq(mt_mnist_load(g_tmp, "badlabel", &m, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "label at index 2 is 10, expected 0-9");
}
END_TEST

START_TEST(mnist_load_should_reject_count_mismatch)
{
    write_tiny_mnist("mismatch");
    unsigned char buf[64];
    char path[512], err[512] = "";
    static const uint32_t dims[1] = { 2 };
    static const unsigned char labels[2] = { 1, 2 };
    size_t n = make_idx(buf, 0x801, 1, dims, labels, 2);
    TMP(path, "mismatch-labels-idx1-ubyte");
    write_bytes(path, buf, n);

    mt_mnist m;
    ck_assert_int_eq(mt_mnist_load(g_tmp, "mismatch", &m, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "count mismatch");
    ASSERT_ERR_HAS(err, "mismatch-images-idx3-ubyte holds 3 images");
    ASSERT_ERR_HAS(err, "mismatch-labels-idx1-ubyte holds 2 labels");
}
END_TEST

START_TEST(mnist_load_should_reject_missing_files)
{
    char err[512] = "";
    mt_mnist m;
    ck_assert_int_eq(mt_mnist_load(g_tmp, "nothere", &m, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, g_tmp);
    ASSERT_ERR_HAS(err, "nothere-images-idx3-ubyte.gz: cannot open: No such file or directory");

    /* Images present, labels missing: the message names the labels file. */
    write_tiny_mnist("halfthere");
    char path[512];
    TMP(path, "halfthere-labels-idx1-ubyte");
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(mt_mnist_load(g_tmp, "halfthere", &m, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "halfthere-labels-idx1-ubyte.gz: cannot open");

    ck_assert_int_eq(mt_idx_load(MT_SOURCE_DIR "/no/such/file", &m.images, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "/no/such/file: cannot open: No such file or directory");
    ck_assert_int_eq(mt_idx_load(g_tmp, &m.images, err, sizeof err), -1); /* a directory */
    ASSERT_ERR_HAS(err, g_tmp);
}
END_TEST

START_TEST(idx_load_should_reject_null_arguments)
{
    char err[128] = "";
    mt_idx idx;
    ck_assert_int_eq(mt_idx_load(NULL, &idx, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "path is NULL");
    ck_assert_int_eq(mt_idx_load("x", NULL, err, sizeof err), -1);
    ck_assert_int_eq(mt_idx_load(NULL, &idx, NULL, 0), -1); /* no message buffer: no crash */
    mt_mnist m;
    ck_assert_int_eq(mt_mnist_load(NULL, "t10k", &m, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "dir is NULL");
}
END_TEST

START_TEST(idx_free_should_be_safe_on_zeroed_struct_and_twice)
{
    mt_idx idx = { 0 };
    mt_idx_free(&idx);
    mt_idx_free(&idx);
    mt_idx_free(NULL);
    mt_mnist m = { 0 };
    mt_mnist_free(&m);
    mt_mnist_free(&m);
    mt_mnist_free(NULL);
}
END_TEST

/* Every prefix and every single-byte corruption of a valid file: never a crash, and any
 * failure comes with a message naming the file (valgrind runs check the reads too). */
START_TEST(idx_load_should_survive_every_truncation_and_corruption)
{
    unsigned char buf[64], bad[64];
    char path[512], err[512];
    static const uint32_t dims[3] = { 2, 3, 2 };
    size_t n = make_idx(buf, 0x803, 3, dims, NULL, 12);
    TMP(path, "fuzz");
    mt_idx idx;
    for (size_t len = 0; len < n; len++) {
        write_bytes(path, buf, len);
        err[0] = '\0';
        ck_assert_int_eq(mt_idx_load(path, &idx, err, sizeof err), -1);
        ASSERT_ERR_HAS(err, path);
    }
    static const unsigned char flips[] = { 0x01, 0x80, 0xFF };
    for (size_t pos = 0; pos < n; pos++) {
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(bad, buf, n);
            bad[pos] ^= flips[k];
            write_bytes(path, bad, n);
            err[0] = '\0';
            if (mt_idx_load(path, &idx, err, sizeof err) == 0)
                mt_idx_free(&idx);
            else
                ASSERT_ERR_HAS(err, path);
        }
    }
    /* The gzip form of the same file, cut at every length. */
    TMP(path, "fuzz.gz");
    write_gz(path, buf, n);
    size_t gzn;
    unsigned char *gz = read_bytes(path, &gzn);
    for (size_t len = 0; len < gzn; len++) {
        write_bytes(path, gz, len);
        err[0] = '\0';
        ck_assert_int_eq(mt_idx_load(path, &idx, err, sizeof err), -1);
        ASSERT_ERR_HAS(err, path);
    }
    free(gz);
}
END_TEST

/* ---- .npy ----------------------------------------------------------------------------------- */

/* Writes a .npy 1.0 file with the given header dict and raw data bytes. */
static void write_npy_raw(const char *path, const char *dict, const void *data, size_t n)
{
    size_t dl = strlen(dict), total = (10 + dl + 1 + 63) / 64 * 64, hl = total - 10;
    unsigned char *buf = malloc(total + n);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hl & 0xff);
    buf[9] = (unsigned char)(hl >> 8);
    memset(buf + 10, ' ', hl);
    memcpy(buf + 10, dict, dl);
    buf[total - 1] = '\n';
    if (n)
        memcpy(buf + total, data, n);
    write_bytes(path, buf, total + n);
    free(buf);
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

START_TEST(npy_should_round_trip_0d_to_4d)
{
    static const int shapes[6][4] = { { 0 }, { 5 }, { 3, 4 }, { 2, 3, 4 }, { 2, 1, 3, 2 },
                                      { 0, 3 } };
    static const int ndims[6] = { 0, 1, 2, 3, 4, 2 };
    char path[512], err[512] = "";
    for (int t = 0; t < 6; t++) {
        size_t n = 1;
        for (int i = 0; i < ndims[t]; i++)
            n *= (size_t)shapes[t][i];
        double src[48];
        for (size_t i = 0; i < n; i++)
            src[i] = i == 1 ? -0.0 : i == 2 ? INFINITY : i == 3 ? 5e-324
                   : (double)i * 1.125 - 3.0 + 1e-13;
        TMP(path, "rt.npy");
        int rc = mt_npy_save(path, src, ndims[t], shapes[t], err, sizeof err);
        ck_assert_msg(rc == 0, "save failed: %s", err);

        double *got = NULL;
        int nd = -1, sh[4];
        rc = mt_npy_load(path, &got, &nd, sh, err, sizeof err);
        ck_assert_msg(rc == 0, "load failed: %s", err);
        ck_assert_ptr_nonnull(got);
        ck_assert_int_eq(nd, ndims[t]);
        for (int i = 0; i < 4; i++)
            ck_assert_int_eq(sh[i], i < nd ? shapes[t][i] : 1);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(same_bits(got[i], src[i]), "case %d, element %zu: %.17g != %.17g", t,
                          i, got[i], src[i]);
        free(got);
    }

    /* NaN keeps its bits too. */
    double nan_in = NAN, *nan_out = NULL;
    int nd, sh[4];
    TMP(path, "nan.npy");
    ck_assert_int_eq(mt_npy_save(path, &nan_in, 0, NULL, err, sizeof err), 0);
    ck_assert_int_eq(mt_npy_load(path, &nan_out, &nd, sh, err, sizeof err), 0);
    ck_assert(isnan(nan_out[0]));
    free(nan_out);
}
END_TEST

START_TEST(npy_save_should_write_the_same_bytes_as_numpy)
{
    double a[12];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            a[i * 4 + j] = 10.0 * i + j + (j % 2 ? -0.25 : 0.25);
    char path[512], err[512] = "";
    TMP(path, "a_3x4.npy");
    ck_assert_int_eq(mt_npy_save(path, a, 2, (int[]){ 3, 4 }, err, sizeof err), 0);
    size_t n1, n2;
    unsigned char *ours = read_bytes(path, &n1);
    unsigned char *numpys = read_bytes(NPY_DIR "/a_3x4.npy", &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_msg(memcmp(ours, numpys, n1) == 0, "bytes differ from numpy.save");
    free(ours);
    free(numpys);
}
END_TEST

START_TEST(npy_load_should_read_files_written_by_numpy)
{
    char err[512] = "";
    double *d = NULL;
    int nd, sh[4];

    /* a[i, j] = 10*i + j + 0.25*(-1)^j, shape (3, 4) */
    ck_assert_msg(mt_npy_load(NPY_DIR "/a_3x4.npy", &d, &nd, sh, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(nd, 2);
    ck_assert_int_eq(sh[0], 3);
    ck_assert_int_eq(sh[1], 4);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            ck_assert_double_eq(d[i * 4 + j], 10.0 * i + j + (j % 2 ? -0.25 : 0.25));
    free(d);

    ck_assert_int_eq(mt_npy_load(NPY_DIR "/scalar.npy", &d, &nd, sh, err, sizeof err), 0);
    ck_assert_int_eq(nd, 0);
    ck_assert_double_eq(d[0], -2.5);
    free(d);

    ck_assert_int_eq(mt_npy_load(NPY_DIR "/vec_5.npy", &d, &nd, sh, err, sizeof err), 0);
    ck_assert_int_eq(nd, 1);
    ck_assert_int_eq(sh[0], 5);
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq(d[i], i / 8.0);
    free(d);

    ck_assert_int_eq(mt_npy_load(NPY_DIR "/b_2x3x2x2.npy", &d, &nd, sh, err, sizeof err), 0);
    ck_assert_int_eq(nd, 4);
    ck_assert_int_eq(sh[0] * 1000 + sh[1] * 100 + sh[2] * 10 + sh[3], 2322);
    for (int i = 0; i < 24; i++)
        ck_assert_double_eq(d[i], i - 11.5);
    free(d);

    ck_assert_int_eq(mt_npy_load(NPY_DIR "/empty_0x3.npy", &d, &nd, sh, err, sizeof err), 0);
    ck_assert_int_eq(nd, 2);
    ck_assert_int_eq(sh[0], 0);
    ck_assert_int_eq(sh[1], 3);
    ck_assert_ptr_nonnull(d);
    free(d);

    ck_assert_int_eq(mt_npy_load(NPY_DIR "/special_4.npy", &d, &nd, sh, err, sizeof err), 0);
    ck_assert(isinf(d[0]) && d[0] > 0);
    ck_assert(isinf(d[1]) && d[1] < 0);
    ck_assert(d[2] == 0.0 && signbit(d[2]));
    ck_assert_double_eq(d[3], 1e-310);
    free(d);

    /* Format version 2.0 (4-byte header length). */
    double v2[4];
    ck_assert_msg(mt_npy_load_into(NPY_DIR "/v2_2x2.npy", v2, 2, (int[]){ 2, 2 }, err,
                                   sizeof err) == 0, "%s", err);
    ck_assert_double_eq(v2[0], 0.25);
    ck_assert_double_eq(v2[1], 0.75);
    ck_assert_double_eq(v2[2], 10.25);
    ck_assert_double_eq(v2[3], 10.75);
}
END_TEST

START_TEST(npy_load_should_reject_other_dtypes)
{
    char err[512] = "";
    double *d = (double *)1;
    int nd, sh[4];
    ck_assert_int_eq(mt_npy_load(NPY_DIR "/f32_2x2.npy", &d, &nd, sh, err, sizeof err), -1);
    ck_assert_ptr_null(d);
    ASSERT_ERR_HAS(err, "f32_2x2.npy");
    ASSERT_ERR_HAS(err, "dtype '<f4', but only '<f8' (float64, little-endian) is supported");
    ck_assert_int_eq(mt_npy_load(NPY_DIR "/be_f8_2x2.npy", &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "dtype '>f8'");
    ck_assert_int_eq(mt_npy_load(NPY_DIR "/i64_3.npy", &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "dtype '<i8'");
}
END_TEST

START_TEST(npy_load_should_reject_fortran_order)
{
    char err[512] = "";
    double *d, buf[6];
    int nd, sh[4];
    ck_assert_int_eq(mt_npy_load(NPY_DIR "/fortran_3x2.npy", &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "fortran_3x2.npy: fortran_order is True");
    ck_assert_int_eq(mt_npy_load_into(NPY_DIR "/fortran_3x2.npy", buf, 2, (int[]){ 3, 2 }, err,
                                      sizeof err), -1);
    ASSERT_ERR_HAS(err, "fortran_order is True");
}
END_TEST

START_TEST(npy_load_should_reject_more_than_4_dims)
{
    char err[512] = "";
    double *d;
    int nd, sh[4];
    ck_assert_int_eq(mt_npy_load(NPY_DIR "/d5_1x1x1x1x2.npy", &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "d5_1x1x1x1x2.npy: 5 dimensions (1, 1, 1, 1, 2), but at most 4");
}
END_TEST

START_TEST(npy_load_should_reject_truncated_and_trailing_data)
{
    double a[12] = { 0 };
    char path[512], err[512] = "";
    TMP(path, "cut.npy");
    ck_assert_int_eq(mt_npy_save(path, a, 2, (int[]){ 3, 4 }, err, sizeof err), 0);
    size_t n;
    unsigned char *bytes = read_bytes(path, &n);
    write_bytes(path, bytes, n - 8);

    double *d;
    int nd, sh[4];
    ck_assert_int_eq(mt_npy_load(path, &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "truncated: shape (3, 4) needs 96 bytes of data, found 88");

    unsigned char *longer = malloc(n + 3);
    memcpy(longer, bytes, n);
    memset(longer + n, 0, 3);
    write_bytes(path, longer, n + 3);
    ck_assert_int_eq(mt_npy_load(path, &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "needs 96 bytes of data, found 99 (unexpected trailing data)");

    write_bytes(path, bytes, 40); /* cut inside the header */
    ck_assert_int_eq(mt_npy_load(path, &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "truncated: header length is 118 bytes, found 30");
    free(longer);
    free(bytes);
}
END_TEST

START_TEST(npy_load_should_reject_bad_magic_and_malformed_headers)
{
    char path[512], err[512] = "";
    double *d, zero[2] = { 0, 0 };
    int nd, sh[4];
    TMP(path, "bad.npy");

    static const char zip[] = "PK\x03\x04 this is a zip";
    write_bytes(path, zip, sizeof zip - 1);
    ck_assert_int_eq(mt_npy_load(path, &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "not a .npy file: bad magic string");

    write_bytes(path, "", 0);
    ck_assert_int_eq(mt_npy_load(path, &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "empty");

    static const char v7[] = "\x93NUMPY\x07\x00\x10\x00";
    write_bytes(path, v7, sizeof v7 - 1);
    ck_assert_int_eq(mt_npy_load(path, &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "format version 7.0");

    write_npy_raw(path, "{'descr': '<f8', 'shape': (2,), }", zero, 16);
    ck_assert_int_eq(mt_npy_load(path, &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "malformed .npy header: no 'fortran_order' key");

    write_npy_raw(path, "{'descr': [('x', '<f8')], 'fortran_order': False, 'shape': (2,), }",
                  zero, 16);
    ck_assert_int_eq(mt_npy_load(path, &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "structured dtype");

    write_npy_raw(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, -1), }", zero, 16);
    ck_assert_int_eq(mt_npy_load(path, &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "malformed .npy header");

    write_npy_raw(path, "{'descr': '<f8', 'fortran_order': False, 'shape': "
                  "(99999999999, 99999), }", zero, 16);
    ck_assert_int_eq(mt_npy_load(path, &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "malformed .npy header");

    write_npy_raw(path, "{'descr': '<f8', 'fortran_order': False, 'shape': "
                  "(2147483647, 2147483647, 2147483647), }", zero, 16);
    ck_assert_int_eq(mt_npy_load(path, &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "too large");

    /* Key order is free and double quotes are fine: numpy's header is a Python literal. */
    write_npy_raw(path, "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f8\"}", zero,
                  16);
    ck_assert_msg(mt_npy_load(path, &d, &nd, sh, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(sh[0], 2);
    free(d);
}
END_TEST

START_TEST(npy_load_into_should_fill_dst_with_exact_shape)
{
    char err[512] = "";
    double dst[12];
    ck_assert_msg(mt_npy_load_into(NPY_DIR "/a_3x4.npy", dst, 2, (int[]){ 3, 4 }, err,
                                   sizeof err) == 0, "%s", err);
    ck_assert_double_eq(dst[5], 10.0 + 1 - 0.25);
    double s;
    ck_assert_int_eq(mt_npy_load_into(NPY_DIR "/scalar.npy", &s, 0, NULL, err, sizeof err), 0);
    ck_assert_double_eq(s, -2.5);
}
END_TEST

START_TEST(npy_load_into_should_reject_shape_mismatch)
{
    char err[512] = "", want[600];
    double dst[12];
    for (int i = 0; i < 12; i++)
        dst[i] = 42;
    ck_assert_int_eq(mt_npy_load_into(NPY_DIR "/a_3x4.npy", dst, 2, (int[]){ 4, 3 }, err,
                                      sizeof err), -1);
    snprintf(want, sizeof want, "file %s: shape (3, 4) but expected (4, 3)", NPY_DIR "/a_3x4.npy");
    ck_assert_str_eq(err, want);
    for (int i = 0; i < 12; i++)
        ck_assert_double_eq(dst[i], 42); /* untouched */

    ck_assert_int_eq(mt_npy_load_into(NPY_DIR "/a_3x4.npy", dst, 1, (int[]){ 12 }, err,
                                      sizeof err), -1);
    ASSERT_ERR_HAS(err, "shape (3, 4) but expected (12,)");
    ck_assert_int_eq(mt_npy_load_into(NPY_DIR "/scalar.npy", dst, 1, (int[]){ 1 }, err,
                                      sizeof err), -1);
    ASSERT_ERR_HAS(err, "shape () but expected (1,)");
}
END_TEST

START_TEST(npy_save_should_leave_no_tmp_file)
{
    char path[512], tmp[520], err[512] = "";
    double v[3] = { 1, 2, 3 };
    TMP(path, "w.npy");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_int_eq(mt_npy_save(path, v, 1, (int[]){ 3 }, err, sizeof err), 0);
    ck_assert(file_exists(path));
    ck_assert(!file_exists(tmp));
    /* Saving again replaces the file. */
    v[0] = 7;
    ck_assert_int_eq(mt_npy_save(path, v, 1, (int[]){ 3 }, err, sizeof err), 0);
    ck_assert(!file_exists(tmp));
    double back[3];
    ck_assert_int_eq(mt_npy_load_into(path, back, 1, (int[]){ 3 }, err, sizeof err), 0);
    ck_assert_double_eq(back[0], 7);
}
END_TEST

START_TEST(npy_save_should_not_leave_a_file_when_the_directory_is_missing)
{
    char path[512], tmp[520], err[512] = "";
    double v[2] = { 1, 2 };
    TMP(path, "missing/dir/w.npy");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_int_eq(mt_npy_save(path, v, 1, (int[]){ 2 }, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "No such file or directory");
    ck_assert(!file_exists(path));
    ck_assert(!file_exists(tmp));

    /* A parent that is a regular file is unwritable even for root. */
    char parent[512];
    TMP(parent, "plainfile");
    write_bytes(parent, "x", 1);
    TMP(path, "plainfile/w.npy");
    ck_assert_int_eq(mt_npy_save(path, v, 1, (int[]){ 2 }, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "Not a directory");
}
END_TEST

START_TEST(npy_save_should_keep_the_old_file_when_it_fails)
{
    char path[512], tmp[520], err[512] = "";
    double v[2] = { 1, 2 }, w[2] = { 3, 4 }, back[2];
    TMP(path, "keep.npy");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_int_eq(mt_npy_save(path, v, 1, (int[]){ 2 }, err, sizeof err), 0);
    /* files may not grow past 100 bytes: the new file cannot be written whole */
    struct rlimit old, small;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 100;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    int limited = setrlimit(RLIMIT_FSIZE, &small);  /* no assertion until the limit is lifted:
                                                      Check writes its own file on each one */
    int rc = mt_npy_save(path, w, 1, (int[]){ 2 }, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    ck_assert_int_eq(limited, 0);
    ck_assert_int_eq(rc, -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "File too large");
    ck_assert_int_eq(mt_npy_load_into(path, back, 1, (int[]){ 2 }, err, sizeof err), 0);
    ck_assert_double_eq(back[0], 1);
    ck_assert_double_eq(back[1], 2);
    ASSERT_NO_TMP(g_tmp);

    /* A read-only directory (only meaningful when not root: root may write anywhere). */
    if (geteuid() != 0) {
        char dir[512];
        TMP(dir, "ro");
        ck_assert_int_eq(mkdir(dir, 0500), 0);
        TMP(path, "ro/w.npy");
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        ck_assert_int_eq(mt_npy_save(path, v, 1, (int[]){ 2 }, err, sizeof err), -1);
        ASSERT_ERR_HAS(err, "Permission denied");
        ck_assert(!file_exists(path));
        ASSERT_NO_TMP(dir);
        chmod(dir, 0700);
    }
}
END_TEST

START_TEST(npy_save_should_reject_bad_arguments)
{
    char path[512], err[512] = "";
    double v[2] = { 1, 2 };
    TMP(path, "args.npy");
    ck_assert_int_eq(mt_npy_save(path, v, 5, (int[]){ 1, 1, 1, 1, 2 }, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "ndim 5");
    ck_assert_int_eq(mt_npy_save(path, v, 2, (int[]){ 2, -1 }, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "invalid shape (2, -1)");
    ck_assert_int_eq(mt_npy_save(path, NULL, 1, (int[]){ 2 }, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "data is NULL");
    ck_assert_int_eq(mt_npy_save(path, v, 1, NULL, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "shape is NULL");
    ck_assert_int_eq(mt_npy_save(NULL, v, 0, NULL, err, sizeof err), -1);
    ck_assert(!file_exists(path));
    /* An empty array needs no data. */
    ck_assert_int_eq(mt_npy_save(path, NULL, 1, (int[]){ 0 }, err, sizeof err), 0);
}
END_TEST

START_TEST(npy_load_should_survive_every_truncation_and_corruption)
{
    char path[512], err[512];
    double v[3] = { 1.5, -2, 3 };
    TMP(path, "fuzz.npy");
    ck_assert_int_eq(mt_npy_save(path, v, 1, (int[]){ 3 }, err, sizeof err), 0);
    size_t n;
    unsigned char *good = read_bytes(path, &n);
    unsigned char *bad = malloc(n);
    double *d;
    int nd, sh[4];
    for (size_t len = 0; len < n; len++) {
        write_bytes(path, good, len);
        err[0] = '\0';
        ck_assert_int_eq(mt_npy_load(path, &d, &nd, sh, err, sizeof err), -1);
        ASSERT_ERR_HAS(err, path);
    }
    static const unsigned char flips[] = { 0x01, 0x20, 0x80, 0xFF };
    for (size_t pos = 0; pos < n; pos++) {
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(bad, good, n);
            bad[pos] ^= flips[k];
            write_bytes(path, bad, n);
            err[0] = '\0';
            if (mt_npy_load(path, &d, &nd, sh, err, sizeof err) == 0)
                free(d);
            else
                ASSERT_ERR_HAS(err, path);
        }
    }
    free(bad);
    free(good);
}
END_TEST

/* ---- writing files through PATH.tmp -------------------------------------------------------- */

static int g_writes; /* calls of the write callbacks below */

/* Writes the string user. */
static int write_text(FILE *f, void *user)
{
    g_writes++;
    return fputs(user, f) == EOF ? -1 : 0;
}

/* Writes the string user to the disk, then fails the way a full disk does. */
static int write_then_fail(FILE *f, void *user)
{
    g_writes++;
    fputs(user, f);
    fflush(f);
    errno = ENOSPC;
    return -1;
}

/* Writes 4 KiB, ignores whether that worked, and claims success. */
static int write_ignoring_errors(FILE *f, void *user)
{
    static const char block[4096];
    (void)user;
    g_writes++;
    fwrite(block, 1, sizeof block, f);
    return 0;
}

static void assert_file_is(const char *path, const char *text)
{
    size_t n;
    unsigned char *got = read_bytes(path, &n);
    ck_assert_msg(n == strlen(text) && memcmp(got, text, n) == 0, "%s does not hold \"%s\"", path,
                  text);
    free(got);
}

START_TEST(write_file_atomic_should_write_the_file_and_leave_no_tmp)
{
    char path[512], tmp[520], err[512] = "";
    TMP(path, "a.txt");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    g_writes = 0;
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "hello\n", err, sizeof err), 0);
    ck_assert_int_eq(g_writes, 1);
    assert_file_is(path, "hello\n");
    ASSERT_NO_TMP(g_tmp);

    /* An existing file is replaced; a file named PATH.tmp is someone else's: left as it is. */
    write_bytes(tmp, "stale bytes from an earlier run", 31);
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "bye", err, sizeof err), 0);
    assert_file_is(path, "bye");
    assert_file_is(tmp, "stale bytes from an earlier run");
    ck_assert_int_eq(count_suffix(g_tmp, ".tmp"), 1);
    ck_assert_int_eq(remove(tmp), 0);

    /* An empty file is a file. */
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "", err, sizeof err), 0);
    assert_file_is(path, "");
}
END_TEST

/* Asserts err is "file PATH: cannot write PATH.XXXXXX.tmp: No space left on device". */
static void assert_cannot_write(const char *err, const char *path)
{
    char head[600];
    snprintf(head, sizeof head, "file %s: cannot write %s.", path, path);
    static const char tail[] = ".tmp: No space left on device";
    size_t hl = strlen(head), el = strlen(err);
    ck_assert_msg(strncmp(err, head, hl) == 0 && el == hl + 6 + strlen(tail) &&
                  strcmp(err + hl + 6, tail) == 0, "unexpected message \"%s\"", err);
}

START_TEST(write_file_atomic_should_keep_the_old_file_when_the_write_fails)
{
    char path[512], tmp[520], err[512] = "";
    TMP(path, "b.txt");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    /* No PATH before: none after, and no temporary. */
    errno = 0;
    ck_assert_int_eq(mt_write_file_atomic(path, write_then_fail, "partial", err, sizeof err), -1);
    ck_assert_int_eq(errno, ENOSPC);
    assert_cannot_write(err, path);
    ck_assert(!file_exists(path));
    ASSERT_NO_TMP(g_tmp);

    /* An existing PATH stays exactly as it was. */
    write_bytes(path, "old\n", 4);
    ck_assert_int_eq(mt_write_file_atomic(path, write_then_fail, "partial", err, sizeof err), -1);
    assert_cannot_write(err, path);
    assert_file_is(path, "old\n");
    ASSERT_NO_TMP(g_tmp);

    /* A short write the callback did not notice is caught: files may not grow past 16 bytes. */
    struct rlimit old, small;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 16;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    int rc = mt_write_file_atomic(path, write_ignoring_errors, NULL, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    ck_assert_int_eq(rc, -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "File too large");
    assert_file_is(path, "old\n");
    ASSERT_NO_TMP(g_tmp);
}
END_TEST

START_TEST(write_file_atomic_should_fail_cleanly_in_an_unwritable_directory)
{
    char path[512], dir[512], err[512] = "", want[1200];
    TMP(path, "missing/c.txt");
    TMP(dir, "missing");
    g_writes = 0;
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "x", err, sizeof err), -1);
    snprintf(want, sizeof want, "file %s: cannot create a temporary file in %s: No such file or "
             "directory", path, dir);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(g_writes, 0);
    ck_assert(!file_exists(path));

    /* A parent that is a regular file is unwritable even for root. */
    char parent[512];
    TMP(parent, "plain");
    write_bytes(parent, "x", 1);
    TMP(path, "plain/c.txt");
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "x", err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "Not a directory");

    /* A read-only directory (only meaningful when not root: root may write anywhere). */
    if (geteuid() != 0) {
        TMP(dir, "ro");
        ck_assert_int_eq(mkdir(dir, 0500), 0);
        TMP(path, "ro/c.txt");
        ck_assert_int_eq(mt_write_file_atomic(path, write_text, "x", err, sizeof err), -1);
        ASSERT_ERR_HAS(err, "Permission denied");
        ck_assert(!file_exists(path));
        ASSERT_NO_TMP(dir);
        chmod(dir, 0700);
    }
    ck_assert_int_eq(g_writes, 0);
}
END_TEST

/* Writes "x", then puts a non-empty directory where the file is to go (user: its path), as
 * another program might while the file is being written: the rename must then fail. */
static int write_then_block_the_target(FILE *f, void *user)
{
    const char *path = user;
    char inside[600];
    g_writes++;
    fputs("x", f);
    remove(path);
    if (mkdir(path, 0700) != 0)
        return -1;
    snprintf(inside, sizeof inside, "%s/keep", path);
    write_bytes(inside, "k", 1);
    return 0;
}

START_TEST(write_file_atomic_should_remove_the_tmp_when_the_rename_fails)
{
    char path[512], inside[600], err[512] = "";
    TMP(path, "adir");
    snprintf(inside, sizeof inside, "%s/keep", path);
    errno = 0;
    ck_assert_int_eq(mt_write_file_atomic(path, write_then_block_the_target, path, err,
                                          sizeof err), -1);
    ck_assert_int_eq(errno, EISDIR);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "cannot rename");
    ASSERT_ERR_HAS(err, "Is a directory");
    ASSERT_NO_TMP(g_tmp);
    assert_file_is(inside, "k");
}
END_TEST

START_TEST(write_file_atomic_should_reject_null_arguments)
{
    char path[512], err[512] = "";
    TMP(path, "d.txt");
    ck_assert_int_eq(mt_write_file_atomic(NULL, write_text, "x", err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "path is NULL");
    ck_assert_int_eq(mt_write_file_atomic(path, NULL, NULL, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "write is NULL");
    ck_assert(!file_exists(path));
    /* err may be NULL: the failure is still reported by the return value. */
    ck_assert_int_eq(mt_write_file_atomic(path, write_then_fail, "x", NULL, 0), -1);
    ck_assert(!file_exists(path));
}
END_TEST

/* ---- gzip streams checked to their end ---------------------------------------------------- */

/* The tests below share their TCase's directory: each works in a directory of its own. */
#define FRESH_DIR(buf, name) \
    do { TMP(buf, name); ck_assert_int_eq(mkdir(buf, 0700), 0); } while (0)
#define IN(buf, dir, name) snprintf((buf), sizeof(buf), "%s/%s", (dir), (name))

/* n bytes of data that deflate cannot shrink much (so that the compressed stream spans many
 * reads), from a fixed seed. */
static unsigned char *noise(size_t n, uint32_t seed)
{
    unsigned char *b = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        b[i] = (unsigned char)(seed >> 24);
    }
    return b;
}

/* data[0..n) as one gzip member in a malloc'd buffer; *out_n is its length. The last 8 bytes
 * are the trailer: CRC-32, then the length mod 2^32, both little-endian. */
static unsigned char *gzip_bytes(const unsigned char *data, size_t n, size_t *out_n)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert_int_eq(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    unsigned char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    zs.next_in = (unsigned char *)data;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_n = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

/* A synthetic IDX images file of count 28x28 images (784 * count bytes of noise), in memory. */
static unsigned char *big_idx(size_t count, size_t *n)
{
    size_t data = count * 784;
    unsigned char *buf = malloc(16 + data);
    ck_assert_ptr_nonnull(buf);
    unsigned char *px = noise(data, 7);
    uint32_t dims[3] = { (uint32_t)count, 28, 28 };
    *n = make_idx(buf, 0x803, 3, dims, px, data);
    free(px);
    return buf;
}

/* Loads path as IDX expecting failure, and asserts the message names the file and says what. */
static void expect_idx_error(const char *path, const char *what)
{
    char err[2048] = "";
    mt_idx idx;
    ck_assert_int_eq(mt_idx_load(path, &idx, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, what);
    ck_assert_ptr_null(idx.data);
}

START_TEST(idx_load_should_reject_the_train_images_without_their_gzip_trailer)
{
    char d[320];
    FRESH_DIR(d, "idx_load_should_reject_the_train_images_");
    size_t n;
    unsigned char *gz = read_bytes(MNIST_DIR "/train-images-idx3-ubyte.gz", &n);
    char path[512];
    IN(path, d, "train-images-idx3-ubyte.gz");
    write_bytes(path, gz, n - 8);          /* the CRC-32 and the length: gone */
    free(gz);
    expect_idx_error(path, "gzip stream truncated: the file ends before the end of the "
                           "compressed data, so its CRC/length check cannot be made");
}
END_TEST

START_TEST(idx_load_should_check_the_gzip_trailer_of_files_over_1_mib)
{
    char d[320];
    FRESH_DIR(d, "idx_load_should_check_the_gzip_trailer_o");
    size_t n, gn, gn2;
    unsigned char *idx = big_idx(2000, &n);          /* 1.5 MiB of images */
    unsigned char *gz = gzip_bytes(idx, n, &gn);
    char path[512], err[2048] = "";
    IN(path, d, "big-images-idx3-ubyte.gz");

    write_bytes(path, gz, gn);                        /* intact: loads, bytes as written */
    mt_idx m;
    ck_assert_msg(mt_idx_load(path, &m, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(m.count, 2000);
    ck_assert(memcmp(m.data, idx + 16, 2000 * 784) == 0);
    mt_idx_free(&m);

    for (size_t cut = 1; cut <= 8; cut++) {           /* any part of the trailer missing */
        write_bytes(path, gz, gn - cut);
        expect_idx_error(path, "gzip stream truncated");
    }

    /* A pixel changed and the trailer removed: no check could catch it, so it must fail. */
    idx[16 + 123456] ^= 0x40;
    unsigned char *gz2 = gzip_bytes(idx, n, &gn2);
    write_bytes(path, gz2, gn2 - 8);
    expect_idx_error(path, "gzip stream truncated");

    /* The same with the trailer of the original data: the CRC no longer matches. */
    memcpy(gz2 + gn2 - 8, gz + gn - 8, 8);
    write_bytes(path, gz2, gn2);
    expect_idx_error(path, "gzip stream corrupt: CRC check failed");

    /* A length in the trailer that is not the data's. */
    memcpy(gz2, gz, gn);
    gz2[gn - 1] ^= 0x01;
    write_bytes(path, gz2, gn);
    expect_idx_error(path, "gzip stream corrupt: length check failed");

    /* Corrupt compressed data in the middle of the stream. */
    memcpy(gz2, gz, gn);
    for (size_t i = gn / 2; i < gn / 2 + 64; i++)
        gz2[i] ^= 0xA5;
    write_bytes(path, gz2, gn);
    expect_idx_error(path, "gzip stream corrupt");
    free(gz);
    free(gz2);
    free(idx);
}
END_TEST

START_TEST(idx_load_should_reject_bytes_after_the_gzip_stream)
{
    char d[320];
    FRESH_DIR(d, "idx_load_should_reject_bytes_after_the_g");
    unsigned char buf[64];
    static const uint32_t dims[1] = { 3 };
    static const unsigned char labels[3] = { 1, 2, 3 };
    size_t n = make_idx(buf, 0x801, 1, dims, labels, 3), gn;
    unsigned char *gz = gzip_bytes(buf, n, &gn);
    unsigned char *junk = malloc(gn + 5);
    memcpy(junk, gz, gn);
    memcpy(junk + gn, "JUNK\n", 5);
    char path[512];
    IN(path, d, "junk-labels-idx1-ubyte.gz");
    write_bytes(path, junk, gn + 5);
    expect_idx_error(path, "5 bytes after the end of the gzip stream (not gzip data)");
    write_bytes(path, junk, gn + 1);
    expect_idx_error(path, "1 byte after the end of the gzip stream");
    memset(junk + gn, 0, 5);                                   /* zero padding is junk too */
    write_bytes(path, junk, gn + 5);
    expect_idx_error(path, "5 bytes after the end of the gzip stream");
    free(junk);
    free(gz);
}
END_TEST

START_TEST(idx_load_should_read_concatenated_gzip_members)
{
    char d[320];
    FRESH_DIR(d, "idx_load_should_read_concatenated_gzip_m");
    /* gzip -c a >f; gzip -c b >>f is one valid stream: the data is the concatenation. */
    size_t n, g1, g2;
    unsigned char *idx = big_idx(500, &n);
    size_t half = n / 3;
    unsigned char *a = gzip_bytes(idx, half, &g1), *b = gzip_bytes(idx + half, n - half, &g2);
    unsigned char *both = malloc(g1 + g2);
    memcpy(both, a, g1);
    memcpy(both + g1, b, g2);
    char path[512], err[2048] = "";
    IN(path, d, "two-members.gz");
    write_bytes(path, both, g1 + g2);
    mt_idx m;
    ck_assert_msg(mt_idx_load(path, &m, err, sizeof err) == 0, "%s", err);
    ck_assert(memcmp(m.data, idx + 16, 500 * 784) == 0);
    mt_idx_free(&m);
    /* ... and a second member cut short is a truncated stream. */
    write_bytes(path, both, g1 + g2 - 3);
    expect_idx_error(path, "gzip stream truncated");
    free(a);
    free(b);
    free(both);
    free(idx);
}
END_TEST

START_TEST(idx_and_npy_load_should_say_a_directory_is_a_directory)
{
    char dir[512], err[1024] = "";
    TMP(dir, "t10k-labels-idx1-ubyte.gz");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    expect_idx_error(dir, "is a directory, expected an IDX file");

    /* mt_mnist_load picks the .gz name, and says what it is rather than "empty" */
    write_tiny_mnist("t10k");
    mt_mnist m;
    ck_assert_int_eq(mt_mnist_load(g_tmp, "t10k", &m, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, dir);
    ASSERT_ERR_HAS(err, "is a directory");

    double *d;
    int nd, sh[4];
    ck_assert_int_eq(mt_npy_load(g_tmp, &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, g_tmp);
    ASSERT_ERR_HAS(err, "is a directory, expected a .npy file");
    ck_assert_int_eq(mt_npy_load("", &d, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "the file name is empty");
    mt_idx idx;
    ck_assert_int_eq(mt_idx_load("", &idx, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "the file name is empty");
}
END_TEST

/* ---- .npy header strings ------------------------------------------------------------------- */

START_TEST(npy_load_should_reject_nul_bytes_in_header_strings)
{
    char d[320];
    FRESH_DIR(d, "npy_load_should_reject_nul_bytes_in_head");
    char path[512], err[1024] = "";
    double v[2] = { 1, 2 }, dst[2];
    IN(path, d, "nul.npy");
    /* the dicts hold a NUL: built by hand, as strlen would stop at it */
    static const char descr[] = "{'descr': '<f8\0junk', 'fortran_order': False, 'shape': (2,), }";
    static const char key[] = "{'descr': '<f8', 'fortran_order': False, 'shape\0x': (2,), }";
    const char *dicts[2] = { descr, key };
    size_t lens[2] = { sizeof descr - 1, sizeof key - 1 };
    for (int k = 0; k < 2; k++) {
        size_t total = (10 + lens[k] + 1 + 63) / 64 * 64, hl = total - 10;
        unsigned char buf[256];
        memcpy(buf, "\x93NUMPY\x01\x00", 8);
        buf[8] = (unsigned char)hl;
        buf[9] = 0;
        memset(buf + 10, ' ', hl);
        memcpy(buf + 10, dicts[k], lens[k]);
        buf[total - 1] = '\n';
        memcpy(buf + total, v, sizeof v);
        write_bytes(path, buf, total + sizeof v);
        ck_assert_int_eq(mt_npy_load_into(path, dst, 1, (int[]){ 2 }, err, sizeof err), -1);
        ASSERT_ERR_HAS(err, path);
        ASSERT_ERR_HAS(err, "malformed .npy header: expected a string without NUL bytes");
    }
}
END_TEST

START_TEST(npy_load_should_escape_non_printable_header_bytes)
{
    char d[320];
    FRESH_DIR(d, "npy_load_should_escape_non_printable_hea");
    char path[512], err[1024] = "";
    double *data;
    int nd, sh[4];
    IN(path, d, "esc.npy");
    write_npy_raw(path, "{'descr': '\x1b[2J\x07\xff', 'fortran_order': False, 'shape': (), }",
                  "\0\0\0\0\0\0\0\0", 8);
    ck_assert_int_eq(mt_npy_load(path, &data, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "dtype '\\x1b[2J\\x07\\xff', but only '<f8'");
    for (const char *p = err; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
                      "raw byte 0x%02x in the message", (unsigned char)*p);
    write_npy_raw(path, "{'descr': '<f8', '\x1b]0;owned\x07': 1, 'shape': (), }", NULL, 0);
    ck_assert_int_eq(mt_npy_load(path, &data, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "an unexpected key '\\x1b]0;owned\\x07'");
}
END_TEST

START_TEST(npy_load_should_report_a_long_shape_in_full)
{
    char d[320];
    FRESH_DIR(d, "npy_load_should_report_a_long_shape_in_f");
    char path[512], err[2048] = "", dict[700], want[600] = "(";
    double *data;
    int nd, sh[4];
    snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < 32; i++) {
        strcat(dict, "2147483647, ");
        strcat(want, i ? ", 2147483647" : "2147483647");
    }
    strcat(dict, "), }");
    strcat(want, ")");
    IN(path, d, "deep.npy");
    write_npy_raw(path, dict, NULL, 0);
    ck_assert_int_eq(mt_npy_load(path, &data, &nd, sh, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "32 dimensions (");
    ASSERT_ERR_HAS(err, want);
    ASSERT_ERR_HAS(err, "but at most 4 are supported");
}
END_TEST

/* ---- writing: targets, names, links --------------------------------------------------------- */

START_TEST(write_file_atomic_should_refuse_empty_names_and_targets_that_are_not_files)
{
    char d[320];
    FRESH_DIR(d, "write_file_atomic_should_refuse_empty_na");
    char path[512], err[1024] = "";
    g_writes = 0;
    ck_assert_int_eq(mt_write_file_atomic("", write_text, "x", err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "the file name is empty");
    ck_assert(!file_exists(".tmp"));

    IN(path, d, "adir");
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "x", err, sizeof err), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "is a directory, not a regular file; refusing to replace it");
    IN(path, d, "adir/");
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "x", err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "ends in '/', which names a directory, not a file");

    IN(path, d, "fifo");
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "x", err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "is a FIFO (named pipe), not a regular file");

    /* a device, through a symbolic link too: refused before anything is created */
    ck_assert_int_eq(mt_write_file_atomic("/dev/null", write_text, "x", err, sizeof err), -1);
    ck_assert_str_eq(err, "file /dev/null: is a character device, not a regular file; refusing "
                          "to replace it");
    IN(path, d, "null-link");
    ck_assert_int_eq(symlink("/dev/null", path), 0);
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "x", err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "(a symbolic link to /dev/null): is a character device");
    struct stat st;
    ck_assert_int_eq(stat("/dev/null", &st), 0);
    ck_assert(S_ISCHR(st.st_mode));
    ck_assert_int_eq(g_writes, 0);
    ASSERT_NO_TMP(d);

    /* a loop of links */
    char a[512], b[512];
    IN(a, d, "loop-a");
    IN(b, d, "loop-b");
    ck_assert_int_eq(symlink(b, a), 0);
    ck_assert_int_eq(symlink(a, b), 0);
    ck_assert_int_eq(mt_write_file_atomic(a, write_text, "x", err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "Too many levels of symbolic links");
}
END_TEST

START_TEST(write_file_atomic_should_write_through_a_symlink_and_keep_it)
{
    char d[320];
    FRESH_DIR(d, "write_file_atomic_should_write_through_a");
    char dir[512], target[512], link[512], link2[512], err[2048] = "";
    IN(dir, d, "runs");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    IN(target, d, "runs/1.csv");
    IN(link, d, "out.csv");
    IN(link2, d, "latest.csv");
    write_bytes(target, "old", 3);
    ck_assert_int_eq(symlink("runs/1.csv", link), 0);   /* relative, to a file in another dir */
    ck_assert_int_eq(symlink("out.csv", link2), 0);     /* a chain: latest -> out -> runs/1 */

    ck_assert_msg(mt_write_file_atomic(link2, write_text, "new", err, sizeof err) == 0, "%s", err);
    assert_file_is(target, "new");
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(lstat(link2, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ASSERT_NO_TMP(d);
    ASSERT_NO_TMP(dir);

    /* a link to a file not there yet: the file is created where the link points */
    char dangling[512], made[512];
    IN(dangling, d, "next.csv");
    IN(made, d, "runs/2.csv");
    ck_assert_int_eq(symlink("runs/2.csv", dangling), 0);
    ck_assert_msg(mt_write_file_atomic(dangling, write_text, "two", err, sizeof err) == 0, "%s",
                  err);
    assert_file_is(made, "two");
    ck_assert_int_eq(lstat(dangling, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));

    /* failures name the link and where it leads */
    char broken[512];
    IN(broken, d, "broken.csv");
    ck_assert_int_eq(symlink("nowhere/x.csv", broken), 0);
    ck_assert_int_eq(mt_write_file_atomic(broken, write_text, "x", err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "broken.csv (a symbolic link to ");
    ASSERT_ERR_HAS(err, "nowhere/x.csv): cannot create a temporary file in ");
    ASSERT_ERR_HAS(err, "No such file or directory");
}
END_TEST

START_TEST(write_file_atomic_should_not_follow_a_symlink_planted_at_a_temporary_name)
{
    char d[320];
    FRESH_DIR(d, "write_file_atomic_should_not_follow_a_sy");
    /* The old fixed name PATH.tmp, and every name of the new pattern one could guess, may be
     * a link to a victim: none is opened, and the victim is untouched. */
    char path[512], victim[512], plant[600], err[1024] = "";
    IN(path, d, "w.npy");
    IN(victim, d, "victim");
    write_bytes(victim, "precious", 8);
    snprintf(plant, sizeof plant, "%s.tmp", path);
    ck_assert_int_eq(symlink(victim, plant), 0);
    for (int i = 0; i < 20; i++)
        ck_assert_msg(mt_write_file_atomic(path, write_text, "data", err, sizeof err) == 0, "%s",
                      err);
    assert_file_is(victim, "precious");
    assert_file_is(path, "data");
    struct stat st;
    ck_assert_int_eq(lstat(plant, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
}
END_TEST

static const char *g_dir; /* the directory the helpers below look in or write to */

/* Records the names of the temporaries in g_dir while a write runs (user: a char[2][256]). */
static int write_and_look(FILE *f, void *user)
{
    char (*seen)[256] = user;
    DIR *d = opendir(g_dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp"))
            snprintf(seen[seen[0][0] ? 1 : 0], 256, "%s", e->d_name);
    if (d)
        closedir(d);
    return fputs("x", f) == EOF ? -1 : 0;
}

START_TEST(write_file_atomic_should_use_a_fresh_name_and_the_usual_mode)
{
    char d[320];
    FRESH_DIR(d, "write_file_atomic_should_use_a_fresh_nam");
    char path[512], err[1024] = "", seen[2][256] = { "", "" };
    IN(path, d, "m.csv");
    g_dir = d;
    ck_assert_int_eq(mt_write_file_atomic(path, write_and_look, seen, err, sizeof err), 0);
    ck_assert_int_eq(mt_write_file_atomic(path, write_and_look, seen, err, sizeof err), 0);
    /* m.csv.XXXXXX.tmp, a different XXXXXX each time, in the target's directory */
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(strlen(seen[i]) == strlen("m.csv.XXXXXX.tmp") &&
                      strncmp(seen[i], "m.csv.", 6) == 0, "temporary named '%s'", seen[i]);
    }
    ck_assert_str_ne(seen[0], seen[1]);

    /* 0666 less the umask, as a file made by fopen */
    mode_t old = umask(027);
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "x", err, sizeof err), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    umask(0);
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "x", err, sizeof err), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0666);
    umask(old);
}
END_TEST

START_TEST(write_file_atomic_should_handle_long_names_and_long_paths)
{
    char d[320];
    FRESH_DIR(d, "write_file_atomic_should_handle_long_nam");
    /* A name of 250 bytes (the temporary's is cut to fit NAME_MAX) in a directory ~1,000 bytes
     * deep; the message about it is whole when err is MT_ERRLEN bytes. */
    char name[251];
    memset(name, 'n', 250);
    name[250] = '\0';
    size_t cap = 4096;
    char *dir = malloc(cap), *path = malloc(cap);
    snprintf(dir, cap, "%s", d);
    for (int level = 0; level < 4; level++) {
        size_t l = strlen(dir);
        dir[l] = '/';
        memset(dir + l + 1, 'a' + level, 240);
        dir[l + 241] = '\0';
        ck_assert_int_eq(mkdir(dir, 0700), 0);
    }
    snprintf(path, cap, "%s/%s", dir, name);
    size_t errlen = MT_ERRLEN(strlen(path));
    char *err = malloc(errlen);
    ck_assert_msg(mt_write_file_atomic(path, write_text, "long", err, errlen) == 0, "%s", err);
    assert_file_is(path, "long");
    ASSERT_NO_TMP(dir);

    snprintf(path, cap, "%s/missing/%s", dir, name);
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "x", err, errlen), -1);
    ASSERT_ERR_HAS(err, path);
    ASSERT_ERR_HAS(err, "No such file or directory");
    ck_assert(strstr(err, "[...]") == NULL);

    /* a buffer too small for the message: cut, and marked as cut */
    char small[64];
    ck_assert_int_eq(mt_write_file_atomic(path, write_text, "x", small, sizeof small), -1);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    ck_assert_str_eq(small + sizeof small - 7, " [...]");
    free(err);
    free(path);
    free(dir);
}
END_TEST

START_TEST(check_output_file_should_find_problems_before_anything_is_written)
{
    char d[320];
    FRESH_DIR(d, "check_output_file_should_find_problems_b");
    char path[512], other[512], err[1024] = "", *canon = NULL, *canon2 = NULL;
    IN(path, d, "a.csv");
    ck_assert_msg(mt_check_output_file(path, &canon, err, sizeof err) == 0, "%s", err);
    ck_assert(!file_exists(path));                         /* checking writes nothing */
    ck_assert_ptr_nonnull(canon);
    ck_assert(canon[0] == '/');
    ck_assert(strstr(canon, "/a.csv") != NULL);

    /* two spellings of one place give one canonical name */
    snprintf(other, sizeof other, "%s/./sub/../a.csv", d);
    char sub[512];
    IN(sub, d, "sub");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(mt_check_output_file(other, &canon2, err, sizeof err), 0);
    ck_assert_str_eq(canon, canon2);
    free(canon2);
    IN(other, d, "link.csv");
    ck_assert_int_eq(symlink("a.csv", other), 0);
    ck_assert_int_eq(mt_check_output_file(other, &canon2, err, sizeof err), 0);
    ck_assert_str_eq(canon, canon2);
    free(canon2);
    free(canon);

    IN(path, d, "missing/a.csv");
    ck_assert_int_eq(mt_check_output_file(path, NULL, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "the directory ");
    ASSERT_ERR_HAS(err, "/missing does not exist");
    IN(other, d, "plain");
    write_bytes(other, "x", 1);
    IN(path, d, "plain/a.csv");
    ck_assert_int_eq(mt_check_output_file(path, NULL, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "Not a directory");
    ck_assert_int_eq(mt_check_output_file(d, NULL, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "is a directory, not a regular file");
    ck_assert_int_eq(mt_check_output_file("", NULL, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "the file name is empty");
    if (geteuid() != 0) {
        char ro[512];
        IN(ro, d, "ro");
        ck_assert_int_eq(mkdir(ro, 0500), 0);
        IN(path, d, "ro/a.csv");
        ck_assert_int_eq(mt_check_output_file(path, NULL, err, sizeof err), -1);
        ASSERT_ERR_HAS(err, "cannot write in the directory");
        ASSERT_ERR_HAS(err, "Permission denied");
        chmod(ro, 0700);
    }
}
END_TEST

/* ---- writing a directory as a set ------------------------------------------------------------ */

static const int shape2[1] = { 2 };

/* Writes the set {a.npy = {v, v+1}, b.npy = {-v}} to dir. */
static int save_set(const char *dir, double v, char *err, size_t errlen)
{
    double a[2] = { v, v + 1 }, b[1] = { -v };
    mt_npy_array arr[2] = { { "a.npy", a, 1, shape2 }, { "b.npy", b, 1, (const int[]){ 1 } } };
    return mt_npy_save_dir(dir, arr, 2, err, errlen);
}

static void assert_set_is(const char *dir, double v)
{
    char path[600], err[1024] = "";
    double a[2], b[1];
    snprintf(path, sizeof path, "%s/a.npy", dir);
    ck_assert_msg(mt_npy_load_into(path, a, 1, shape2, err, sizeof err) == 0, "%s", err);
    snprintf(path, sizeof path, "%s/b.npy", dir);
    ck_assert_msg(mt_npy_load_into(path, b, 1, (const int[]){ 1 }, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_double_eq(a[0], v);
    ck_assert_double_eq(a[1], v + 1);
    ck_assert_double_eq(b[0], -v);
    ck_assert_int_eq(count_suffix(dir, ".npy"), 2);
}

START_TEST(npy_save_dir_should_write_a_set_and_replace_it_whole)
{
    char d[320];
    FRESH_DIR(d, "npy_save_dir_should_write_a_set_and_repl");
    char dir[512], err[1024] = "";
    IN(dir, d, "weights");
    ck_assert_msg(save_set(dir, 1, err, sizeof err) == 0, "%s", err);   /* new directory */
    assert_set_is(dir, 1);
    ck_assert_msg(save_set(dir, 2, err, sizeof err) == 0, "%s", err);   /* replaced */
    assert_set_is(dir, 2);
    ASSERT_NO_TMP(d);
    ck_assert_int_eq(count_suffix(d, ""), 3);   /* ".", "..", weights: nothing else */

    /* an empty directory, and a symbolic link to the set (which stays a link) */
    char empty[512], link[512];
    IN(empty, d, "empty");
    ck_assert_int_eq(mkdir(empty, 0700), 0);
    ck_assert_msg(save_set(empty, 3, err, sizeof err) == 0, "%s", err);
    assert_set_is(empty, 3);
    IN(link, d, "current");
    ck_assert_int_eq(symlink("weights", link), 0);
    ck_assert_msg(save_set(link, 4, err, sizeof err) == 0, "%s", err);
    assert_set_is(dir, 4);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ASSERT_NO_TMP(d);
}
END_TEST

static int g_fail_at; /* write_set_file fails on the file of this index */

/* Writes the text user; fails (ENOSPC) when it is the g_fail_at'th file of a set. */
static int write_set_file(FILE *f, void *user)
{
    if (g_writes++ == g_fail_at) {
        errno = ENOSPC;
        return -1;
    }
    return fputs(user, f) == EOF ? -1 : 0;
}

START_TEST(write_dir_atomic_should_leave_the_old_set_when_a_file_fails)
{
    char d[320];
    FRESH_DIR(d, "write_dir_atomic_should_leave_the_old_se");
    char dir[512], err[1024] = "";
    IN(dir, d, "set");
    mt_dir_file files[3] = { { "x", write_set_file, "new x" }, { "y", write_set_file, "new y" },
                             { "z", write_set_file, "new z" } };
    g_writes = 0;
    g_fail_at = -1;
    ck_assert_msg(mt_write_dir_atomic(dir, files, 3, err, sizeof err) == 0, "%s", err);
    char x[600], z[600];
    snprintf(x, sizeof x, "%s/x", dir);
    snprintf(z, sizeof z, "%s/z", dir);
    assert_file_is(x, "new x");

    /* the next save fails at its third file: the first two must not replace anything */
    files[0].user = "newer x";
    files[1].user = "newer y";
    g_writes = 0;
    g_fail_at = 2;
    ck_assert_int_eq(mt_write_dir_atomic(dir, files, 3, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "No space left on device");
    assert_file_is(x, "new x");
    assert_file_is(z, "new z");
    ASSERT_NO_TMP(d);
    ck_assert_int_eq(count_suffix(dir, ""), 5);   /* ".", "..", x, y, z */
}
END_TEST

START_TEST(write_dir_atomic_should_drop_names_an_earlier_set_had_and_this_one_leaves_out)
{
    char d[320];
    FRESH_DIR(d, "write_dir_atomic_should_drop_names_an_ea");
    char dir[512], path[600], err[1024] = "";
    IN(dir, d, "frames");
    mt_dir_file three[3] = { { "1", write_set_file, "one" }, { "2", write_set_file, "two" },
                             { "3", write_set_file, "three" } };
    g_writes = 0;
    g_fail_at = -1;
    ck_assert_msg(mt_write_dir_atomic(dir, three, 3, err, sizeof err) == 0, "%s", err);
    /* a shorter set: "3" is not in it, so the directory would hold a stranger */
    ck_assert_int_eq(mt_write_dir_atomic(dir, three, 2, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "holds '3', which is not one of the files saved there");
    /* named with no write function, "3" is allowed there and goes with the old set */
    mt_dir_file two[3] = { { "1", write_set_file, "new one" }, { "2", write_set_file, "new two" },
                           { "3", NULL, NULL } };
    ck_assert_msg(mt_write_dir_atomic(dir, two, 3, err, sizeof err) == 0, "%s", err);
    snprintf(path, sizeof path, "%s/1", dir);
    assert_file_is(path, "new one");
    snprintf(path, sizeof path, "%s/3", dir);
    ck_assert(!file_exists(path));
    ck_assert_int_eq(count_suffix(dir, ""), 4);   /* ".", "..", 1, 2 */
    ASSERT_NO_TMP(d);
}
END_TEST

START_TEST(check_outputs_should_find_outputs_that_collide)
{
    char d[320];
    FRESH_DIR(d, "check_outputs_should_find_outputs_that_c");
    char a[512], a2[600], sub[512], in_sub[600], missing[512], in_missing[600];
    char err[MT_ERRLEN(600)] = "";
    static const char *const names[1] = { "w.npy" };
    IN(a, d, "a.csv");
    snprintf(a2, sizeof a2, "%s/./a.csv", d);
    IN(sub, d, "w");
    snprintf(in_sub, sizeof in_sub, "%s/x.png", sub);
    IN(missing, d, "frames");
    snprintf(in_missing, sizeof in_missing, "%s/h.pdf", missing);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    const mt_output fine[] = { { .flag = "--csv", .path = a },
                               { .flag = "--plot", .path = NULL },
                               { .flag = "--save", .path = sub, .names = names, .n = 1 } };
    ck_assert_msg(mt_check_outputs(fine, 3, err, sizeof err) == 0, "%s", err);
    const mt_output same[] = { { .flag = "--csv", .path = a }, { .flag = "--plot", .path = a2 } };
    ck_assert_int_eq(mt_check_outputs(same, 2, err, sizeof err), 2);
    ASSERT_ERR_HAS(err, "--csv ");
    ASSERT_ERR_HAS(err, "are the same file");
    const mt_output inside[] = { { .flag = "--plot", .path = in_sub },
                                 { .flag = "--save", .path = sub, .names = names, .n = 1 } };
    ck_assert_int_eq(mt_check_outputs(inside, 2, err, sizeof err), 2);
    ASSERT_ERR_HAS(err, "is inside the --save directory");
    /* the directory does not exist yet: still a collision, not "does not exist" */
    const mt_output later[] = { { .flag = "--frames", .path = missing, .names = names, .n = 1 },
                                { .flag = "--pdf", .path = in_missing } };
    ck_assert_int_eq(mt_check_outputs(later, 2, err, sizeof err), 2);
    ASSERT_ERR_HAS(err, "--pdf ");
    ASSERT_ERR_HAS(err, "is inside the --frames directory");
    /* an empty directory name is not the current directory: no false collision */
    const mt_output empty[] = { { .flag = "--pdf", .path = in_missing },
                                { .flag = "--frames", .path = "", .names = names, .n = 1 } };
    ck_assert_int_eq(mt_check_outputs(empty, 2, err, sizeof err), 1);
    ASSERT_ERR_HAS(err, "does not exist");
    const mt_output bad[] = { { .flag = "--pdf", .path = in_missing } };
    ck_assert_int_eq(mt_check_outputs(bad, 1, err, sizeof err), 1);
    ASSERT_ERR_HAS(err, "--pdf: file ");
    ASSERT_ERR_HAS(err, "does not exist");
    ASSERT_NO_TMP(d);
}
END_TEST

START_TEST(write_dir_atomic_should_refuse_what_it_cannot_replace_whole)
{
    char d[320];
    FRESH_DIR(d, "write_dir_atomic_should_refuse_what_it_c");
    char dir[512], path[600], err[1024] = "";
    static const char *const names[2] = { "a.npy", "b.npy" };
    IN(dir, d, "mixed");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    write_bytes(path, "mine", 4);
    ck_assert_int_eq(mt_check_output_dir(dir, names, 2, NULL, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "holds 'notes.txt', which is not one of the files saved there");
    ck_assert_int_eq(save_set(dir, 1, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "holds 'notes.txt'");
    assert_file_is(path, "mine");
    ck_assert_int_eq(remove(path), 0);
    snprintf(path, sizeof path, "%s/a.npy", dir);         /* a listed name that is a directory */
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(save_set(dir, 1, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "holds the directory 'a.npy'");
    rmdir(path);

    IN(path, d, "file");
    write_bytes(path, "x", 1);
    ck_assert_int_eq(save_set(path, 1, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "is a regular file, not a directory");
    IN(path, d, "missing/w");
    ck_assert_int_eq(save_set(path, 1, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "/missing does not exist");
    ck_assert_int_eq(save_set("", 1, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "the directory name is empty");
    ck_assert_int_eq(save_set("/", 1, err, sizeof err), -1);
    ASSERT_ERR_HAS(err, "the root directory");
    ASSERT_NO_TMP(d);
}
END_TEST

/* ---- interrupted writes ---------------------------------------------------------------------- */

/* What a program's SIGTERM handler does: remove the temporaries, then die of the signal. */
static void cleanup_and_die(int sig)
{
    mt_tmp_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Writes a little, then is interrupted by SIGTERM in the middle of the write. */
static int write_then_get_killed(FILE *f, void *user)
{
    (void)user;
    fputs("half", f);
    fflush(f);
    if (g_writes++ == g_fail_at)
        raise(SIGTERM);
    return 0;
}

/* Runs fn in a child process with cleanup_and_die as its SIGTERM handler; asserts it died of
 * SIGTERM. */
static void run_killed(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGTERM, cleanup_and_die);
        fn();
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "child status 0x%x",
                  status);
}

static void killed_file_write(void)
{
    char path[512], err[256];
    IN(path, g_dir, "k.png");
    g_writes = 0;
    g_fail_at = 0;
    mt_write_file_atomic(path, write_then_get_killed, NULL, err, sizeof err);
}

static void killed_dir_write(void)
{
    char dir[512], err[256];
    IN(dir, g_dir, "kw");
    mt_dir_file files[4] = { { "a", write_then_get_killed, NULL },
                             { "b", write_then_get_killed, NULL },
                             { "c", write_then_get_killed, NULL },
                             { "d", write_then_get_killed, NULL } };
    g_writes = 0;
    g_fail_at = 2;
    mt_write_dir_atomic(dir, files, 4, err, sizeof err);
}

/* more files than there are slots for temporaries: the directory's record covers them all */
static void killed_big_dir_write(void)
{
    enum { N = 300 };
    char dir[512], err[256];
    static char names[N][16];
    static mt_dir_file files[N];
    IN(dir, g_dir, "frames");
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "step-%04d.png", i + 1);
        files[i] = (mt_dir_file){ names[i], write_then_get_killed, NULL };
    }
    g_writes = 0;
    g_fail_at = 250;
    mt_write_dir_atomic(dir, files, N, err, sizeof err);
}

START_TEST(tmp_cleanup_should_remove_the_temporaries_of_an_interrupted_write)
{
    char d[320];
    FRESH_DIR(d, "tmp_cleanup_should_remove_the_temporarie");
    char path[512];
    g_dir = d;
    run_killed(killed_file_write);
    IN(path, d, "k.png");
    ck_assert(!file_exists(path));
    ASSERT_NO_TMP(d);

    run_killed(killed_dir_write);          /* killed while the third file is being written */
    IN(path, d, "kw");
    ck_assert(!file_exists(path));
    ASSERT_NO_TMP(d);
    ck_assert_int_eq(count_suffix(d, ""), 2);   /* only "." and ".." */

    run_killed(killed_big_dir_write);      /* killed at the 251st of 300 files */
    ASSERT_NO_TMP(d);
    ck_assert_int_eq(count_suffix(d, ""), 2);
    mt_tmp_cleanup();                      /* nothing live here: a no-op */
}
END_TEST

/* ---- runner ------------------------------------------------------------------------------ */

static Suite *io_suite(void)
{
    Suite *s = suite_create("io");

    TCase *idx = tcase_create("idx");
    tcase_add_unchecked_fixture(idx, tmp_setup, tmp_teardown);
    tcase_set_timeout(idx, 300); /* inflating the real files under valgrind takes a while */
    tcase_add_test(idx, mnist_load_should_read_the_t10k_files);
    tcase_add_test(idx, idx_load_should_read_the_train_labels);
    tcase_add_test(idx, mnist_load_should_read_raw_uncompressed_files);
    tcase_add_test(idx, mnist_load_should_prefer_the_gz_when_both_exist);
    tcase_add_test(idx, idx_load_should_reject_truncated_file);
    tcase_add_test(idx, idx_load_should_reject_truncated_header);
    tcase_add_test(idx, idx_load_should_reject_truncated_gzip_file);
    tcase_add_test(idx, idx_load_should_reject_trailing_data);
    tcase_add_test(idx, idx_load_should_reject_bad_magic);
    tcase_add_test(idx, mnist_load_should_reject_labels_in_place_of_images);
    tcase_add_test(idx, mnist_load_should_reject_label_out_of_range);
    tcase_add_test(idx, mnist_load_should_reject_count_mismatch);
    tcase_add_test(idx, mnist_load_should_reject_missing_files);
    tcase_add_test(idx, idx_load_should_reject_null_arguments);
    tcase_add_test(idx, idx_free_should_be_safe_on_zeroed_struct_and_twice);
    tcase_add_test(idx, idx_load_should_survive_every_truncation_and_corruption);
    tcase_add_test(idx, idx_load_should_reject_the_train_images_without_their_gzip_trailer);
    tcase_add_test(idx, idx_load_should_check_the_gzip_trailer_of_files_over_1_mib);
    tcase_add_test(idx, idx_load_should_reject_bytes_after_the_gzip_stream);
    tcase_add_test(idx, idx_load_should_read_concatenated_gzip_members);
    tcase_add_test(idx, idx_and_npy_load_should_say_a_directory_is_a_directory);
    suite_add_tcase(s, idx);

    TCase *npy = tcase_create("npy");
    tcase_add_unchecked_fixture(npy, tmp_setup, tmp_teardown);
    tcase_set_timeout(npy, 300);
    tcase_add_test(npy, npy_should_round_trip_0d_to_4d);
    tcase_add_test(npy, npy_save_should_write_the_same_bytes_as_numpy);
    tcase_add_test(npy, npy_load_should_read_files_written_by_numpy);
    tcase_add_test(npy, npy_load_should_reject_other_dtypes);
    tcase_add_test(npy, npy_load_should_reject_fortran_order);
    tcase_add_test(npy, npy_load_should_reject_more_than_4_dims);
    tcase_add_test(npy, npy_load_should_reject_truncated_and_trailing_data);
    tcase_add_test(npy, npy_load_should_reject_bad_magic_and_malformed_headers);
    tcase_add_test(npy, npy_load_into_should_fill_dst_with_exact_shape);
    tcase_add_test(npy, npy_load_into_should_reject_shape_mismatch);
    tcase_add_test(npy, npy_save_should_leave_no_tmp_file);
    tcase_add_test(npy, npy_save_should_not_leave_a_file_when_the_directory_is_missing);
    tcase_add_test(npy, npy_save_should_keep_the_old_file_when_it_fails);
    tcase_add_test(npy, npy_save_should_reject_bad_arguments);
    tcase_add_test(npy, npy_load_should_survive_every_truncation_and_corruption);
    tcase_add_test(npy, npy_load_should_reject_nul_bytes_in_header_strings);
    tcase_add_test(npy, npy_load_should_escape_non_printable_header_bytes);
    tcase_add_test(npy, npy_load_should_report_a_long_shape_in_full);
    suite_add_tcase(s, npy);

    TCase *atomic = tcase_create("write_file_atomic");
    tcase_add_unchecked_fixture(atomic, tmp_setup, tmp_teardown);
    tcase_add_test(atomic, write_file_atomic_should_write_the_file_and_leave_no_tmp);
    tcase_add_test(atomic, write_file_atomic_should_keep_the_old_file_when_the_write_fails);
    tcase_add_test(atomic, write_file_atomic_should_fail_cleanly_in_an_unwritable_directory);
    tcase_add_test(atomic, write_file_atomic_should_remove_the_tmp_when_the_rename_fails);
    tcase_add_test(atomic, write_file_atomic_should_reject_null_arguments);
    tcase_add_test(atomic,
                   write_file_atomic_should_refuse_empty_names_and_targets_that_are_not_files);
    tcase_add_test(atomic, write_file_atomic_should_write_through_a_symlink_and_keep_it);
    tcase_add_test(atomic,
                   write_file_atomic_should_not_follow_a_symlink_planted_at_a_temporary_name);
    tcase_add_test(atomic, write_file_atomic_should_use_a_fresh_name_and_the_usual_mode);
    tcase_add_test(atomic, write_file_atomic_should_handle_long_names_and_long_paths);
    tcase_add_test(atomic, check_output_file_should_find_problems_before_anything_is_written);
    tcase_add_test(atomic, tmp_cleanup_should_remove_the_temporaries_of_an_interrupted_write);
    suite_add_tcase(s, atomic);

    TCase *set = tcase_create("write_dir_atomic");
    tcase_add_unchecked_fixture(set, tmp_setup, tmp_teardown);
    tcase_add_test(set, npy_save_dir_should_write_a_set_and_replace_it_whole);
    tcase_add_test(set, write_dir_atomic_should_leave_the_old_set_when_a_file_fails);
    tcase_add_test(set,
                   write_dir_atomic_should_drop_names_an_earlier_set_had_and_this_one_leaves_out);
    tcase_add_test(set, check_outputs_should_find_outputs_that_collide);
    tcase_add_test(set, write_dir_atomic_should_refuse_what_it_cannot_replace_whole);
    suite_add_tcase(s, set);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(io_suite());
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY=verbose lists every test */
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
