/* file.c: writing outputs so that they are never left half-written (include/mytorch/io.h).
 * mt_write_file_atomic writes one file through a fresh temporary name in the target's
 * directory and renames it over the target; mt_write_dir_atomic does the same for a directory
 * of files, swapping the whole directory into place. The checks that a target can be written
 * (mt_check_output_file, mt_check_output_dir) run before, so a program can make them before
 * it does any work; and every live temporary is listed where a signal handler can remove it
 * (mt_tmp_cleanup). */
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

#define MAX_SYMLINKS   40    /* as the kernel: more hops than this is a loop */
#define TMP_BASE_MAX   200   /* bytes of the target's name kept in a temporary's (NAME_MAX 255) */
#define TMP_ATTEMPTS   100   /* names tried before giving up on EEXIST */
#define TMP_SLOTS      64    /* live temporaries that mt_tmp_cleanup knows of */

/* ---- the registry of live temporaries --------------------------------------------------------
 * A fixed table of lock-free atomic slots, so that a signal handler can read it at any moment:
 * a slot holds a path (malloc'd by the writer, freed only after the slot is cleared) or NULL.
 * A directory's path is stored with its lowest address bit set (char pointers need no
 * alignment, and malloc's are aligned), so that path and kind change together. */
#if ATOMIC_POINTER_LOCK_FREE != 2
#error "file.c: the temporary-file registry needs lock-free atomic pointers"
#endif
static _Atomic(char *) tmp_slots[TMP_SLOTS];

/* Lists path (which must stay valid until tmp_forget) and returns its slot, or -1 when the
 * table is full (the temporary is then written anyway, just not cleaned up on a signal). */
static int tmp_remember(char *path, bool is_dir)
{
    char *tagged = (char *)((uintptr_t)path | (is_dir ? 1u : 0u));
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
            char *p = (char *)(v & ~(uintptr_t)1u);
            if (!p || is_dir != (pass == 1))
                continue;
            if (is_dir)
                rmdir(p);
            else
                unlink(p);
        }
}

/* The signals a program is expected to catch to clean up: blocked while a temporary is created
 * and listed, so that none can be created without being listed. */
static void block_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

static void restore_signals(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ---- paths ---------------------------------------------------------------------------------- */

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* DIR/NAME (DIR may be "" or end in '/'), malloc'd; NULL when out of memory. */
static char *path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    bool sep = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + sep + nl + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    if (sep)
        p[dl] = '/';
    memcpy(p + dl + sep, name, nl + 1);
    return p;
}

/* The directory part of path ("." when there is none, "/" for "/name"), malloc'd. */
static char *dir_part(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return str_dup(".");
    while (slash > path && slash[-1] == '/')
        slash--;
    if (slash == path)
        return str_dup("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

static const char *base_part(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* readlink into a malloc'd, NUL-terminated buffer, grown until the target fits. */
static char *read_link(const char *path)
{
    for (size_t cap = 256;; cap *= 2) {
        char *buf = malloc(cap);
        if (!buf)
            return NULL;
        ssize_t n = readlink(path, buf, cap);
        if (n < 0) {
            free(buf);
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
        if (cap > ((size_t)1 << 20)) {
            errno = ENAMETOOLONG;
            return NULL;
        }
    }
}

/* What a file of this mode is, for "is a directory, not a regular file". */
static const char *kind_of(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISFIFO(m) ? "a FIFO (named pipe)"
         : S_ISSOCK(m) ? "a socket" : S_ISREG(m) ? "a regular file" : "not a regular file";
}

/* A target: the path as given, what its symbolic links (if any) lead to, and what is there. */
typedef struct target {
    const char *path;    /* as the caller gave it */
    char *final;         /* the last symbolic link followed, or a copy of path; malloc'd */
    char *label;         /* for messages: "PATH" or "PATH (a symbolic link to FINAL)" */
    bool exists;         /* final exists (then st describes it) */
    struct stat st;
} target;

static void target_free(target *t)
{
    free(t->final);
    free(t->label);
    t->final = t->label = NULL;
}

/* Follows path's symbolic links (the last component only: the kernel follows the others) to
 * the name that will really be written. 0, or -1 with a message; t is then freed. */
static int target_resolve(target *t, const char *path, const char *what, char *err,
                          size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->path = path;
    char *cur = str_dup(path);
    if (!cur)
        goto oom;
    for (int hops = 0;; hops++) {
        if (lstat(cur, &t->st) != 0) {
            if (errno != ENOENT) {
                int e = errno;
                if (strcmp(cur, path) == 0)
                    io_err(err, errlen, "%s %s: %s", what, path, strerror(e));
                else
                    io_err(err, errlen, "%s %s: cannot look up %s: %s", what, path, cur,
                           strerror(e));
                free(cur);
                errno = e;
                return -1;
            }
            t->exists = false;
            break;
        }
        if (!S_ISLNK(t->st.st_mode)) {
            t->exists = true;
            break;
        }
        if (hops == MAX_SYMLINKS) {
            io_err(err, errlen, "%s %s: %s", what, path, strerror(ELOOP));
            free(cur);
            errno = ELOOP;
            return -1;
        }
        char *link = read_link(cur);
        if (!link) {
            int e = errno;
            io_err(err, errlen, "%s %s: cannot read the symbolic link %s: %s", what, path, cur,
                   strerror(e));
            free(cur);
            errno = e;
            return -1;
        }
        char *next;
        if (link[0] == '/') {
            next = link;
        } else {
            char *d = dir_part(cur);
            next = d ? path_join(strcmp(d, ".") == 0 ? "" : d, link) : NULL;
            free(d);
            free(link);
        }
        free(cur);
        cur = next;
        if (!cur)
            goto oom;
    }
    t->final = cur;
    if (strcmp(cur, path) == 0) {
        t->label = str_dup(path);
    } else {
        char *esc = io_escape_dup(cur, strlen(cur));   /* a link's target comes from the disk */
        size_t n = strlen(path) + (esc ? strlen(esc) : 0) + 40;
        t->label = malloc(n);
        if (t->label)
            snprintf(t->label, n, "%s (a symbolic link to %s)", path, esc ? esc : "?");
        free(esc);
    }
    if (!t->label)
        goto oom;
    return 0;
oom:
    io_err(err, errlen, "%s %s: out of memory", what, path);
    target_free(t);
    errno = ENOMEM;
    return -1;
}

/* The directory dir must exist and be one this process may create files in. */
static int check_dir_writable(const char *what, const char *label, const char *dir, char *err,
                              size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        int e = errno;
        if (e == ENOENT)
            io_err(err, errlen, "%s %s: the directory %s does not exist", what, label, dir);
        else
            io_err(err, errlen, "%s %s: cannot use the directory %s: %s", what, label, dir,
                   strerror(e));
        errno = e;
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        io_err(err, errlen, "%s %s: %s is %s, not a directory", what, label, dir,
               kind_of(st.st_mode));
        errno = ENOTDIR;
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        int e = errno;
        io_err(err, errlen, "%s %s: cannot write in the directory %s: %s", what, label, dir,
               strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

/* DIR/BASE with DIR made absolute and free of symbolic links (realpath), so that two names
 * of the same place compare equal; NULL with errno set when DIR cannot be resolved. */
static char *canonical_in(const char *dir, const char *base)
{
    char *real = realpath(dir, NULL);
    if (!real)
        return NULL;
    char *p = path_join(real, base);
    free(real);
    return p;
}

/* A target must have a name: not NULL, not empty. */
static int check_name(const char *what, const char *path, char *err, size_t errlen)
{
    if (!path) {
        io_err(err, errlen, "the %s name is NULL", what);
        errno = EINVAL;
        return -1;
    }
    if (!*path) {
        io_err(err, errlen, "the %s name is empty", what);
        errno = ENOENT;
        return -1;
    }
    return 0;
}

/* Resolves a file target and requires it to be a regular file or nothing yet. */
static int file_target(target *t, const char *what, const char *path, char *err, size_t errlen)
{
    if (check_name(what, path, err, errlen) < 0)
        return -1;
    if (path[strlen(path) - 1] == '/') {
        io_err(err, errlen, "%s %s: ends in '/', which names a directory, not a file", what, path);
        errno = EISDIR;
        return -1;
    }
    if (target_resolve(t, path, what, err, errlen) < 0)
        return -1;
    if (t->exists && !S_ISREG(t->st.st_mode)) {
        io_err(err, errlen, "%s %s: is %s, not a regular file; refusing to replace it", what,
               t->label, kind_of(t->st.st_mode));
        target_free(t);
        errno = S_ISDIR(t->st.st_mode) ? EISDIR : EINVAL;
        return -1;
    }
    return 0;
}

int mt_check_output_file(const char *path, char **canonical, char *err, size_t errlen)
{
    if (canonical)
        *canonical = NULL;
    target t;
    if (file_target(&t, "file", path, err, errlen) < 0)
        return -1;
    char *dir = dir_part(t.final);
    int rc = dir ? check_dir_writable("file", t.label, dir, err, errlen) : -1;
    if (!dir)
        io_err(err, errlen, "file %s: out of memory", path);
    if (rc == 0 && canonical) {
        *canonical = canonical_in(dir, base_part(t.final));
        if (!*canonical) {
            io_err(err, errlen, "file %s: cannot resolve the directory %s: %s", t.label, dir,
                   strerror(errno));
            rc = -1;
        }
    }
    free(dir);
    target_free(&t);
    return rc;
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
 * link or not, is never opened; mode 0666 less the umask) or, when is_dir, a new directory
 * (0777 less the umask), and lists it in the registry. Returns the open descriptor (files) or 0
 * (directories), *tmp (malloc'd) and *slot; or -1 with errno set. */
static int tmp_create(const char *dir, const char *base, bool is_dir, char **tmp, int *slot)
{
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
        block_signals(&old);
        int fd = is_dir ? mkdir(p, 0777)
                        : open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *slot = tmp_remember(p, is_dir);
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
    target t;
    if (file_target(&t, "file", path, err, errlen) < 0)
        return -1;
    char *dir = dir_part(t.final), *tmp = NULL;
    int slot = -1;
    if (!dir) {
        io_err(err, errlen, "file %s: out of memory", path);
        target_free(&t);
        errno = ENOMEM;
        return -1;
    }
    int fd = tmp_create(dir, base_part(t.final), false, &tmp, &slot);
    if (fd < 0) {
        int e = errno;
        io_err(err, errlen, "file %s: cannot create a temporary file in %s: %s", t.label, dir,
               strerror(e));
        free(dir);
        target_free(&t);
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
        target_free(&t);
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
            target_free(&t);
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
    target_free(&t);
    errno = saved;
    return -1;
}

/* ---- a directory of files ------------------------------------------------------------------- */

static bool name_listed(const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

/* A directory target, resolved: canon is where it is (absolute, no symbolic links), parent and
 * base the two halves of canon; exists says whether it is there already. */
typedef struct dir_target {
    target t;
    char *canon, *parent;
    const char *base;
} dir_target;

static void dir_target_free(dir_target *d)
{
    target_free(&d->t);
    free(d->canon);
    free(d->parent);
    d->canon = d->parent = NULL;
}

/* Resolves dir and checks that it can be replaced by a directory holding exactly names[0..n):
 * nothing is there yet, or a directory that holds only (some of) those names, none of them a
 * directory; and its parent is writable. 0, or -1 with a message (d is then freed). */
static int dir_target_check(dir_target *d, const char *dir, const char *const *names, int n,
                            char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    static const char what[] = "directory";
    if (check_name(what, dir, err, errlen) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (!names[i] || !*names[i] || strchr(names[i], '/') || strcmp(names[i], ".") == 0 ||
            strcmp(names[i], "..") == 0) {
            io_err(err, errlen, "directory %s: file %d has no usable name", dir, i);
            errno = EINVAL;
            return -1;
        }
    }
    /* "w/" and "w" are the same directory; the root is not something to replace */
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    char *trimmed = malloc(len + 1);
    if (!trimmed) {
        io_err(err, errlen, "directory %s: out of memory", dir);
        errno = ENOMEM;
        return -1;
    }
    memcpy(trimmed, dir, len);
    trimmed[len] = '\0';
    int rc = target_resolve(&d->t, trimmed, what, err, errlen);
    if (rc == 0 && strcmp(d->t.label, trimmed) == 0) {   /* keep the caller's spelling */
        free(d->t.label);
        d->t.label = str_dup(dir);
    }
    free(trimmed);
    if (rc < 0)
        return -1;
    d->t.path = dir;
    const char *label = d->t.label ? d->t.label : dir;

    if (d->t.exists) {
        if (!S_ISDIR(d->t.st.st_mode)) {
            io_err(err, errlen, "directory %s: is %s, not a directory", label,
                   kind_of(d->t.st.st_mode));
            errno = ENOTDIR;
            goto fail;
        }
        d->canon = realpath(d->t.final, NULL);
        if (!d->canon) {
            io_err(err, errlen, "directory %s: cannot resolve it: %s", label, strerror(errno));
            goto fail;
        }
        if (strcmp(d->canon, "/") == 0) {
            io_err(err, errlen, "directory %s: is the root directory, which cannot be replaced",
                   label);
            errno = EBUSY;
            goto fail;
        }
        DIR *dh = opendir(d->t.final);
        if (!dh) {
            io_err(err, errlen, "directory %s: cannot list it: %s", label, strerror(errno));
            goto fail;
        }
        struct dirent *e;
        int bad = 0;
        errno = 0;
        while ((e = readdir(dh)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            struct stat st;
            bool listed = name_listed(e->d_name, names, n);
            bool is_dir = fstatat(dirfd(dh), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                          S_ISDIR(st.st_mode);
            if (listed && !is_dir)
                continue;
            char *esc = io_escape_dup(e->d_name, strlen(e->d_name));
            io_err(err, errlen, "directory %s: holds %s'%s', which is not one of the files "
                   "saved there; the directory is replaced as a whole, so name a new or empty "
                   "directory, or one written by an earlier save", label,
                   is_dir ? "the directory " : "", esc ? esc : "?");
            free(esc);
            bad = 1;
            break;
        }
        int e_read = errno;
        closedir(dh);
        if (bad) {
            errno = ENOTEMPTY;
            goto fail;
        }
        if (e_read) {
            io_err(err, errlen, "directory %s: cannot list it: %s", label, strerror(e_read));
            errno = e_read;
            goto fail;
        }
        d->parent = dir_part(d->canon);
        if (!d->parent)
            goto oom;
    } else {
        char *p = dir_part(d->t.final);
        if (!p)
            goto oom;
        if (check_dir_writable(what, label, p, err, errlen) < 0) {
            free(p);
            goto fail;
        }
        d->canon = canonical_in(p, base_part(d->t.final));
        free(p);
        if (!d->canon) {
            io_err(err, errlen, "directory %s: cannot resolve its parent: %s", label,
                   strerror(errno));
            goto fail;
        }
        d->parent = dir_part(d->canon);
        if (!d->parent)
            goto oom;
    }
    d->base = base_part(d->canon);
    if (check_dir_writable(what, label, d->parent, err, errlen) < 0)
        goto fail;
    return 0;
oom:
    io_err(err, errlen, "directory %s: out of memory", dir);
    errno = ENOMEM;
fail:;
    int e = errno;
    dir_target_free(d);
    errno = e;
    return -1;
}

int mt_check_output_dir(const char *dir, const char *const *names, int n, char **canonical,
                        char *err, size_t errlen)
{
    if (canonical)
        *canonical = NULL;
    if (n < 0 || (n > 0 && !names)) {
        io_err(err, errlen, "mt_check_output_dir: names is NULL");
        errno = EINVAL;
        return -1;
    }
    dir_target d;
    if (dir_target_check(&d, dir, names, n, err, errlen) < 0)
        return -1;
    if (canonical) {
        *canonical = d.canon;
        d.canon = NULL;
    }
    dir_target_free(&d);
    return 0;
}

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
    if (tmp_create(parent, base, true, &aside, &slot) < 0)
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
    int *slots = malloc(((size_t)n + 1) * sizeof *slots);
    if (!names || !paths || !slots) {
        free(names);
        free(paths);
        free(slots);
        io_err(err, errlen, "directory %s: out of memory", dir ? dir : "(null)");
        errno = ENOMEM;
        return -1;
    }
    for (int i = 0; i < n; i++) {
        names[i] = files[i].name;
        slots[i] = -1;
        if (!files[i].write) {
            io_err(err, errlen, "mt_write_dir_atomic: file %d has no write function", i);
            free(names);
            free(paths);
            free(slots);
            errno = EINVAL;
            return -1;
        }
    }

    dir_target d;
    if (dir_target_check(&d, dir, names, n, err, errlen) < 0) {
        int e = errno;
        free(names);
        free(paths);
        free(slots);
        errno = e;
        return -1;
    }
    const char *label = d.t.label;
    char *tmp = NULL;
    int tmp_slot = -1, rc = -1, e = 0, written = 0;
    if (tmp_create(d.parent, d.base, true, &tmp, &tmp_slot) < 0) {
        e = errno;
        io_err(err, errlen, "directory %s: cannot create a temporary directory in %s: %s",
               label, d.parent, strerror(e));
        goto out;
    }

    /* Every file into the fresh directory, each listed for mt_tmp_cleanup once it is there. */
    for (; written < n; written++) {
        paths[written] = path_join(tmp, files[written].name);
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
        slots[written] = tmp_remember(paths[written], false);
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
                if (name_listed(de->d_name, names, n))
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
    for (int i = 0; i < written; i++)
        tmp_forget(slots[i]);
    tmp_forget(tmp_slot);
    goto out;

undo:
    for (int i = 0; i < written; i++) {
        unlink(paths[i]);
        tmp_forget(slots[i]);
    }
    rmdir(tmp);
    tmp_forget(tmp_slot);
out:
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(slots);
    free(names);
    free(tmp);
    dir_target_free(&d);
    if (rc != 0)
        errno = e ? e : EIO;
    return rc;
}
