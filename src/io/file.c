/* file.c: writing outputs so that they are never left half-written (include/mytorch/io.h).
 * mt_write_file_atomic writes one file through a fresh temporary name in the target's
 * directory and renames it over the target; mt_write_dir_atomic does the same for a directory
 * of files, swapping the whole directory into place. Both first make the checks of target.c
 * (which a program can also make itself, before it does any work); and every live temporary is
 * listed where a signal handler can remove it (mt_tmp_cleanup). */
#define _GNU_SOURCE /* renameat2 and RENAME_EXCHANGE (Linux): swap two directories atomically */
#include "mytorch/io.h"
#include "io_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_BASE_MAX   200   /* bytes of the target's name kept in a temporary's (NAME_MAX 255) */
#define TMP_ATTEMPTS   100   /* names tried before giving up on EEXIST */
#define TMP_SLOTS      64    /* live temporaries that mt_tmp_cleanup knows of */

/* ---- the registry of live temporaries --------------------------------------------------------
 * A fixed table of lock-free atomic slots, so that a signal handler can read it at any moment:
 * a slot holds a file's path (malloc'd by the writer, freed only after the slot is cleared), a
 * directory's tmp_dir record with its lowest address bit set (so that what and its kind change
 * together; both are at least 2-aligned), or NULL. A directory's record lists the names that
 * may be in it, so that the cleanup can empty it without reading it (opendir allocates). */
#if ATOMIC_POINTER_LOCK_FREE != 2
#error "file.c: the temporary-file registry needs lock-free atomic pointers"
#endif
static _Atomic(char *) tmp_slots[TMP_SLOTS];

/* A temporary directory: its path, and the names of the files that may be in it. */
typedef struct tmp_dir {
    char *path;
    const char *const *names;
    int n;
} tmp_dir;

/* Lists what (a file's path, or a tmp_dir when is_dir; it must stay valid until tmp_forget)
 * and returns its slot, or -1 when the table is full (the temporary is then written anyway,
 * just not cleaned up on a signal). */
static int tmp_remember(void *what, bool is_dir)
{
    char *tagged = (char *)((uintptr_t)what | (is_dir ? 1u : 0u));
    for (int i = 0; i < TMP_SLOTS; i++) {
        char *expected = NULL;
        if (atomic_compare_exchange_strong(&tmp_slots[i], &expected, tagged))
            return i;
    }
    return -1;
}

static void tmp_forget(int slot)
{
    if (slot >= 0)
        atomic_store(&tmp_slots[slot], NULL);
}

void mt_tmp_cleanup(void)
{
    /* files first, then the (by now empty) directories that held them */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < TMP_SLOTS; i++) {
            uintptr_t v = (uintptr_t)atomic_load(&tmp_slots[i]);
            bool is_dir = v & 1u;
            void *p = (void *)(v & ~(uintptr_t)1u);
            if (!p || is_dir != (pass == 1))
                continue;
            if (!is_dir) {
                unlink(p);
                continue;
            }
            const tmp_dir *d = p;
            int fd = d->n > 0 ? open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
            for (int k = 0; fd >= 0 && k < d->n; k++)
                unlinkat(fd, d->names[k], 0);
            if (fd >= 0)
                close(fd);
            rmdir(d->path);
        }
}

/* The signals a program is expected to catch to clean up (mt_catch_stop_signals): blocked
 * while a temporary is created and listed, so that none can be created without being listed. */
static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
enum { N_STOP_SIGNALS = sizeof stop_signals / sizeof stop_signals[0] };

static void stop_signal_set(sigset_t *set)
{
    sigemptyset(set);
    for (int i = 0; i < N_STOP_SIGNALS; i++)
        sigaddset(set, stop_signals[i]);
}

void mt_block_stop_signals(sigset_t *old)
{
    sigset_t set;
    stop_signal_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

static void restore_signals(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ---- temporaries ---------------------------------------------------------------------------- */

/* Six characters of [A-Za-z0-9] that differ between calls, threads and processes. They only
 * make collisions rare; O_EXCL (or mkdir) is what makes the name safe. */
static void random_suffix(char out[7])
{
    static atomic_uint_fast64_t counter;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                 ((uint64_t)getpid() << 42) ^ (uint64_t)(uintptr_t)&ts ^
                 (atomic_fetch_add(&counter, 1) * 0x9E3779B97F4A7C15u);
    /* splitmix64's finaliser spreads every input bit over the output */
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9u;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBu;
    x ^= x >> 31;
    for (int i = 0; i < 6; i++, x /= 62)
        out[i] = alphabet[x % 62];
    out[6] = '\0';
}

/* Creates DIR/BASE.XXXXXX.tmp, a new file (O_EXCL, O_NOFOLLOW: an existing name, symbolic
 * link or not, is never opened; mode 0666 less the umask) or, when rec is not NULL, a new
 * directory (0777 less the umask) whose record rec (names set by the caller; path set here)
 * must stay valid until tmp_forget; and lists it in the registry. Returns the open descriptor
 * (files) or 0 (directories), *tmp (malloc'd) and *slot; or -1 with errno set. */
static int tmp_create(const char *dir, const char *base, tmp_dir *rec, char **tmp, int *slot)
{
    bool is_dir = rec != NULL;
    *tmp = NULL;
    *slot = -1;
    size_t bl = strlen(base) < TMP_BASE_MAX ? strlen(base) : TMP_BASE_MAX;
    size_t dl = strlen(dir);
    char *p = malloc(dl + 1 + bl + sizeof ".XXXXXX.tmp");
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(p, dir, dl);
    size_t off = dl;
    if (dl > 0 && dir[dl - 1] != '/')
        p[off++] = '/';
    memcpy(p + off, base, bl);
    off += bl;
    for (int attempt = 0; attempt < TMP_ATTEMPTS; attempt++) {
        char suffix[7];
        random_suffix(suffix);
        snprintf(p + off, sizeof ".XXXXXX.tmp", ".%s.tmp", suffix);
        sigset_t old;
        mt_block_stop_signals(&old);
        int fd = is_dir ? mkdir(p, 0777)
                        : open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0) {
            if (rec)
                rec->path = p;
            *slot = rec ? tmp_remember(rec, true) : tmp_remember(p, false);
            restore_signals(&old);
            *tmp = p;
            return fd;
        }
        int e = errno;
        restore_signals(&old);
        if (e != EEXIST) {
            free(p);
            errno = e;
            return -1;
        }
    }
    free(p);
    errno = EEXIST;
    return -1;
}

/* Removes a temporary (file or empty directory) and forgets it; keeps errno. */
static void tmp_discard(char *tmp, int slot, bool is_dir)
{
    int e = errno;
    if (tmp) {
        if (is_dir)
            rmdir(tmp);
        else
            unlink(tmp);
    }
    tmp_forget(slot);
    free(tmp);
    errno = e;
}

/* ---- one file ------------------------------------------------------------------------------- */

int mt_write_file_atomic(const char *path, int (*write)(FILE *f, void *user), void *user,
                         char *err, size_t errlen)
{
    if (!path || !write) {
        io_err(err, errlen, "mt_write_file_atomic: %s is NULL", !path ? "path" : "write");
        errno = EINVAL;
        return -1;
    }
    io_target t;
    if (mt_io_file_target(&t, "file", path, err, errlen) < 0)
        return -1;
    char *dir = mt_io_dir_part(t.final), *tmp = NULL;
    int slot = -1;
    if (!dir) {
        io_err(err, errlen, "file %s: out of memory", path);
        mt_io_target_free(&t);
        errno = ENOMEM;
        return -1;
    }
    int fd = tmp_create(dir, mt_io_base_part(t.final), NULL, &tmp, &slot);
    if (fd < 0) {
        int e = errno;
        io_err(err, errlen, "file %s: cannot create a temporary file in %s: %s", t.label, dir,
               strerror(e));
        free(dir);
        mt_io_target_free(&t);
        errno = e;
        return -1;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        io_err(err, errlen, "file %s: cannot write %s: %s", t.label, tmp, strerror(e));
        tmp_discard(tmp, slot, false);
        free(dir);
        mt_io_target_free(&t);
        errno = e;
        return -1;
    }

    /* Each step's errno is taken before the next call can change it. A callback that ignored
     * a failed fwrite is caught by ferror, and data still in the stream's buffer by fflush, so
     * that a full disk reads as a failed write rather than a failed close. fsync makes the
     * rename publish data that is on the disk, not a file that a crash could leave empty. */
    const char *what = NULL;   /* the step that failed */
    int saved = 0;
    errno = 0;
    if (write(f, user) != 0 || ferror(f)) {
        what = "cannot write";
        saved = errno;
    } else {
        errno = 0;
        if (fflush(f) != 0) {
            what = "cannot write";
            saved = errno;
        } else if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) {
            what = "cannot write";
            saved = errno;
        }
    }
    errno = 0;
    if (fclose(f) != 0 && !what) {
        what = "cannot close";
        saved = errno;
    }
    if (!what) {
        errno = 0;
        if (rename(tmp, t.final) == 0) {
            tmp_forget(slot);
            free(tmp);
            free(dir);
            mt_io_target_free(&t);
            return 0;
        }
        what = "cannot rename";
        saved = errno;
    }

    saved = saved ? saved : EIO;
    if (strcmp(what, "cannot rename") == 0)
        io_err(err, errlen, "file %s: cannot rename %s over it: %s", t.label, tmp,
               strerror(saved));
    else
        io_err(err, errlen, "file %s: %s %s: %s", t.label, what, tmp, strerror(saved));
    errno = saved;
    tmp_discard(tmp, slot, false);
    free(dir);
    mt_io_target_free(&t);
    errno = saved;
    return -1;
}

/* ---- a directory of files ------------------------------------------------------------------- */

/* Swaps the directories a and b (both exist). Linux does it in one step; elsewhere b is moved
 * aside to a fresh name, a put in its place, and what was b ends up at a. */
static int swap_dirs(const char *a, const char *b, const char *parent, const char *base)
{
#ifdef RENAME_EXCHANGE
    if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -1;
#endif
    char *aside = NULL;
    int slot = -1;
    tmp_dir rec = { .n = 0 };                   /* empty, or holding b's files only briefly */
    if (tmp_create(parent, base, &rec, &aside, &slot) < 0)
        return -1;
    int rc = -1;
    if (rename(b, aside) == 0) {               /* replaces the empty directory aside */
        if (rename(a, b) == 0)
            rc = rename(aside, a);             /* a is free again: the old set goes there */
        else
            rename(aside, b);                  /* put b back */
    }
    int e = errno;
    if (rc != 0)
        rmdir(aside);
    tmp_forget(slot);
    free(aside);
    errno = e;
    return rc;
}

int mt_write_dir_atomic(const char *dir, const mt_dir_file *files, int n, char *err,
                        size_t errlen)
{
    if (n < 0 || (n > 0 && !files)) {
        io_err(err, errlen, "mt_write_dir_atomic: files is NULL");
        errno = EINVAL;
        return -1;
    }
    const char **names = malloc(((size_t)n + 1) * sizeof *names);
    char **paths = calloc((size_t)n + 1, sizeof *paths);
    if (!names || !paths) {
        free(names);
        free(paths);
        io_err(err, errlen, "directory %s: out of memory", dir ? dir : "(null)");
        errno = ENOMEM;
        return -1;
    }
    for (int i = 0; i < n; i++)
        names[i] = files[i].name;

    io_dir_target d;
    if (mt_io_dir_target_check(&d, dir, names, n, err, errlen) < 0) {
        int e = errno;
        free(names);
        free(paths);
        errno = e;
        return -1;
    }
    const char *label = d.t.label;
    char *tmp = NULL;
    int tmp_slot = -1, rc = -1, e = 0, written = 0;
    /* listed with every name, so mt_tmp_cleanup empties it whatever has been written */
    tmp_dir rec = { .names = names, .n = n };
    if (tmp_create(d.parent, d.base, &rec, &tmp, &tmp_slot) < 0) {
        e = errno;
        io_err(err, errlen, "directory %s: cannot create a temporary directory in %s: %s",
               label, d.parent, strerror(e));
        goto out;
    }

    /* Every file into the fresh directory (each listed by mt_write_file_atomic while it is
     * written, and by the directory's record once it is there). */
    for (; written < n; written++) {
        if (!files[written].write)                  /* a name of an earlier set, left out */
            continue;
        paths[written] = mt_io_path_join(tmp, files[written].name);
        if (!paths[written]) {
            e = ENOMEM;
            io_err(err, errlen, "directory %s: out of memory", label);
            goto undo;
        }
        if (mt_write_file_atomic(paths[written], files[written].write, files[written].user,
                                 err, errlen) != 0) {
            e = errno;
            goto undo;
        }
    }
    int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);   /* the names, on the disk */
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }

    /* Into place: a rename when nothing is there (or an empty directory), else a swap, after
     * which tmp holds the old files. */
    if (!d.t.exists && rename(tmp, d.t.final) == 0) {
        rc = 0;
    } else if (!d.t.exists && errno != EEXIST && errno != ENOTEMPTY) {
        e = errno;
        io_err(err, errlen, "directory %s: cannot rename %s to it: %s", label, tmp, strerror(e));
        goto undo;
    } else if (swap_dirs(tmp, d.t.final, d.parent, d.base) == 0) {
        /* the old set: only listed names were allowed in it */
        DIR *dh = opendir(tmp);
        if (dh) {
            struct dirent *de;
            while ((de = readdir(dh)) != NULL)
                if (mt_io_name_listed(de->d_name, names, n))
                    unlinkat(dirfd(dh), de->d_name, 0);
            closedir(dh);
        }
        rmdir(tmp);
        rc = 0;
    } else {
        e = errno;
        io_err(err, errlen, "directory %s: cannot swap %s into its place: %s", label, tmp,
               strerror(e));
        goto undo;
    }
    tmp_forget(tmp_slot);
    goto out;

undo:
    for (int i = 0; i < written; i++)
        if (paths[i])
            unlink(paths[i]);
    rmdir(tmp);
    tmp_forget(tmp_slot);
out:
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(names);
    free(tmp);
    mt_io_dir_target_free(&d);
    if (rc != 0)
        errno = e ? e : EIO;
    return rc;
}

/* ---- the signals that stop a program ------------------------------------------------------ */

void mt_catch_stop_signals(void (*handler)(int sig))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    stop_signal_set(&sa.sa_mask);
    for (int i = 0; i < N_STOP_SIGNALS; i++) {
        struct sigaction old;
        if (sigaction(stop_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(stop_signals[i], &sa, NULL);
    }
}

void mt_signal_safe_print(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}
