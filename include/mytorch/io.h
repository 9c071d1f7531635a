/* io.h: reading the MNIST IDX files and reading/writing NumPy .npy files, so the trainer can
 * load its data and exchange weights and reference values with numpy.load/numpy.save; and
 * writing any file (weights, PNG, CSV) so that it is never left half-written.
 *
 * Depends only on libc and zlib, not on the tensor types: results are plain byte and double
 * buffers. Every function returns 0 on success, or -1 with a message in err (when err is not
 * NULL) that names the file and what was wrong; nothing read from a file is trusted, and bytes
 * from a file that appear in a message (a dtype, a header key, a file name) are printed with
 * every non-printable byte as \xNN.
 *
 * Messages quote the paths they concern (at most three times) and what a symbolic link leads
 * to (shorter than PATH_MAX, escaped, and a temporary name beside it): an err of
 * MT_ERRLEN(strlen(path)) bytes always holds the whole message. One that does not fit a smaller
 * buffer ends in "[...]". */
#ifndef MYTORCH_IO_H
#define MYTORCH_IO_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

/* Bytes of err that hold any message about a path of pathlen bytes (see above). */
#define MT_ERRLEN(pathlen) (3 * (size_t)(pathlen) + 6 * 4096 + 1024)

#ifdef __cplusplus
extern "C" {
#endif

/* ---- IDX files ------------------------------------------------------------------------------ */

/* IDX files (MNIST), raw or gzip-compressed: a file that starts with the gzip magic (1f 8b) is
 * inflated to the end of its stream, so its CRC-32 and length are always checked ("gzip stream
 * corrupt: CRC check failed ...", "gzip stream truncated: the file ends before the end of the
 * compressed data ..."), and bytes after the stream that are not another gzip member are
 * refused as raw files' trailing bytes are. Only unsigned-byte IDX files (type 0x08) with 1 to
 * 3 dimensions are supported. */
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

/* Writes data (the product of shape[0..ndim-1] doubles, row-major) to path, through
 * mt_write_file_atomic: PATH is never left half-written, and on failure it is untouched and no
 * temporary is left. ndim 0..4; shape may be NULL when ndim is 0. Does not take data. */
int mt_npy_save(const char *path, const double *data, int ndim, const int *shape,
                char *err, size_t errlen);

/* Reads path. On success *data is a malloc'd buffer of the product of shape[0..*ndim-1]
 * doubles that the caller frees with free(); shape[*ndim..3] are set to 1. On failure *data is
 * NULL and a message names the file and what was found: a dtype other than '<f8',
 * fortran_order True, a bad magic string, truncated or trailing data, ndim > 4, a header string
 * with a NUL byte in it, or a directory ("is a directory"). */
int mt_npy_load(const char *path, double **data, int *ndim, int shape[4],
                char *err, size_t errlen);

/* Reads path into dst, which holds the product of shape[0..ndim-1] doubles, and requires the
 * file to have exactly this shape: "file X: shape (3, 4) but expected (4, 3)". dst is
 * unchanged on failure. */
int mt_npy_load_into(const char *path, double *dst, int ndim, const int *shape,
                     char *err, size_t errlen);

/* One array of a set written by mt_npy_save_dir. */
typedef struct mt_npy_array {
    const char *name;      /* the file's name in the directory, e.g. "0.weight.npy" */
    const double *data;    /* as for mt_npy_save */
    int ndim;
    const int *shape;
} mt_npy_array;

/* Writes arrays[0..n) as the .npy files of the directory dir, as one set, through
 * mt_write_dir_atomic: afterwards dir holds either all of the new files or, when anything
 * failed, exactly what it held before; never some new and some old files. The set is a plain
 * directory of .npy files (numpy.load reads each; nothing else is written), so a set made by
 * any other program loads the same way. */
int mt_npy_save_dir(const char *dir, const mt_npy_array *arrays, int n, char *err,
                    size_t errlen);

/* ---- writing files -------------------------------------------------------------------------- */

/* Writes PATH whole or not at all: creates a new temporary file DIR/NAME.XXXXXX.tmp (a fresh
 * random name, O_CREAT | O_EXCL | O_NOFOLLOW, so nothing that exists is ever opened, symbolic
 * link or not; mode 0666 less the umask) in the directory of the file that will be replaced,
 * calls write(f, user) on it, then flushes, fsyncs, closes and renames it over the target. On
 * any failure (write returns non-zero, a short write, fsync, fclose or rename fails) the
 * temporary is removed, the target is left as it was, and -1 is returned with the message in
 * err, e.g. "file out/w.npy: cannot create a temporary file in out: Permission denied"; errno is
 * left at that error. write returns 0 or non-zero with errno set (a stream error it ignored is
 * caught anyway); it must not close f. Allocates nothing that outlives the call.
 *
 * The target: when PATH is a symbolic link (or a chain of them) the file it leads to is
 * written, and the link stays a link ("file out.csv (a symbolic link to runs/1.csv): ...").
 * Refused before anything is written: an empty name, a name ending in '/', and a target that
 * exists and is not a regular file ("file /dev/null: is a character device, not a regular
 * file; refusing to replace it"; directories, FIFOs, sockets and block devices alike). While
 * it exists the temporary is listed for mt_tmp_cleanup. */
int mt_write_file_atomic(const char *path, int (*write)(FILE *f, void *user), void *user,
                         char *err, size_t errlen);

/* The checks mt_write_file_atomic makes before it writes, and that the directory the
 * temporary goes in exists and is writable (access(2): the real user's permissions), so a
 * program can find out before it starts working that its output cannot be written. On success
 * *canonical (when canonical is not NULL) is the target as an absolute path without symbolic
 * links (malloc'd; the caller frees it): two names of the same file give the same string
 * (hard links aside: compare st_dev and st_ino when both exist). */
int mt_check_output_file(const char *path, char **canonical, char *err, size_t errlen);

/* One file of a set written by mt_write_dir_atomic: DIR/name, written by write(f, user) as
 * for mt_write_file_atomic. With write NULL, name is a file that DIR may hold from an earlier
 * set and that the new set leaves out: it is not written, and goes with the old set. */
typedef struct mt_dir_file {
    const char *name;      /* a file name: not empty, no '/', not "." or ".." */
    int (*write)(FILE *f, void *user);   /* NULL: allowed in DIR before, not in the new set */
    void *user;
} mt_dir_file;

/* Writes the directory DIR holding exactly files[0..n), as a set: every file goes into a new
 * temporary directory DIR.XXXXXX.tmp next to DIR, which then takes DIR's place in one rename
 * (when DIR does not exist) or one atomic swap (renameat2 RENAME_EXCHANGE on Linux; elsewhere
 * two renames), after which the old files are removed. So DIR holds the complete old set or the
 * complete new one, never a mix. As it replaces DIR as a whole it refuses, before writing, a DIR
 * that holds anything but files of the names in the set ("directory w: holds 'notes.txt',
 * which is not one of the files saved there; ..."), a DIR that is not a directory, and a parent
 * directory it cannot write in. A symbolic link at DIR is followed, and stays a link. The
 * temporary directory and its files are listed for mt_tmp_cleanup. */
int mt_write_dir_atomic(const char *dir, const mt_dir_file *files, int n, char *err,
                        size_t errlen);

/* The checks mt_write_dir_atomic makes before writing the set names[0..n) into dir; on success
 * *canonical (when not NULL) is dir as an absolute path without symbolic links (malloc'd). */
int mt_check_output_dir(const char *dir, const char *const *names, int n, char **canonical,
                        char *err, size_t errlen);

/* One output a program will write: a file (names NULL), written by mt_write_file_atomic, or a
 * directory holding exactly names[0..n), written by mt_write_dir_atomic. */
typedef struct mt_output {
    const char *flag;            /* how the command line asks for it ("--csv"); starts messages */
    const char *path;            /* NULL: not asked for this time, and skipped */
    const char *const *names;    /* a directory's files; NULL for a file */
    int n;
} mt_output;

/* Everything a program will write, checked before it does any work, so that nothing fails
 * after minutes of it: each output as mt_check_output_file or mt_check_output_dir check it
 * (in the order given), then the outputs against each other. Returns 0; 1 when an output
 * cannot be written ("--csv: file missing/a.csv: the directory missing does not exist"); 2
 * when two outputs collide, which is the command line's mistake: two names of one file
 * ("--plot a.csv and --csv ./a.csv are the same file (/home/u/a.csv): one would overwrite the
 * other; give them different names"), or an output inside a directory output ("--csv w/a.csv
 * is inside the --save-weights directory w, which is replaced as a whole when it is written;
 * write it elsewhere"). Size err with MT_ERRLEN of the longest path. */
int mt_check_outputs(const mt_output *outs, int n, char *err, size_t errlen);

/* Removes every temporary file and directory the writers above have created and not yet
 * renamed into place or removed (a directory of mt_write_dir_atomic with every file of its set,
 * however many). Async-signal-safe (it only reads a table of lock-free atomic slots and calls
 * unlink, open, unlinkat, close and rmdir), so a SIGINT or SIGTERM handler can call it before it
 * re-raises the signal. The writers block SIGINT, SIGTERM, SIGHUP and SIGQUIT while they create
 * and list a temporary; a program that writes from several threads should take these signals
 * on a writing thread (mytorch-mnist blocks them in its validation thread). */
void mt_tmp_cleanup(void);

/* Installs handler for SIGINT, SIGTERM, SIGHUP and SIGQUIT, each blocking all four while it
 * runs; a signal the process was started with ignored (nohup, a shell's background job) stays
 * ignored. The handler typically calls mt_tmp_cleanup, says what was not written with
 * mt_signal_safe_print, restores SIG_DFL and re-raises the signal. */
void mt_catch_stop_signals(void (*handler)(int sig));

/* Blocks those four signals in the calling thread; *old gets the mask before, which
 * pthread_sigmask(SIG_SETMASK, old, NULL) restores. Threads started meanwhile inherit the
 * block, so the signals are delivered to the threads that did not block them. */
void mt_block_stop_signals(sigset_t *old);

/* Writes s to standard error with write(2) alone, so a signal handler may call it. */
void mt_signal_safe_print(const char *s);

#ifdef __cplusplus
}
#endif

#endif /* MYTORCH_IO_H */
