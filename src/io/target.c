/* target.c: where an output will really be written, and whether it can be (mytorch/io.h): its
 * symbolic links followed, what is there and its directory checked. mt_check_output_file and
 * mt_check_output_dir, which a program calls before any work, and the writers of file.c use it. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath */
#endif
#include "mytorch/io.h"
#include "io_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SYMLINKS   40    /* as the kernel: more hops than this is a loop */

/* ---- paths ---------------------------------------------------------------------------------- */

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *mt_io_path_join(const char *dir, const char *name)
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

char *mt_io_dir_part(const char *path)
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

const char *mt_io_base_part(const char *path)
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

void mt_io_target_free(io_target *t)
{
    free(t->final);
    free(t->label);
    t->final = t->label = NULL;
}

/* Follows path's symbolic links (the last component only: the kernel follows the others) to
 * the name that will really be written. 0, or -1 with a message; t is then freed. */
static int target_resolve(io_target *t, const char *path, const char *what, char *err,
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
            char *d = mt_io_dir_part(cur);
            next = d ? mt_io_path_join(strcmp(d, ".") == 0 ? "" : d, link) : NULL;
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
    mt_io_target_free(t);
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
    char *p = mt_io_path_join(real, base);
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

int mt_io_file_target(io_target *t, const char *what, const char *path, char *err,
                      size_t errlen)
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
        mt_io_target_free(t);
        errno = S_ISDIR(t->st.st_mode) ? EISDIR : EINVAL;
        return -1;
    }
    return 0;
}

int mt_check_output_file(const char *path, char **canonical, char *err, size_t errlen)
{
    if (canonical)
        *canonical = NULL;
    io_target t;
    if (mt_io_file_target(&t, "file", path, err, errlen) < 0)
        return -1;
    char *dir = mt_io_dir_part(t.final);
    int rc = dir ? check_dir_writable("file", t.label, dir, err, errlen) : -1;
    if (!dir)
        io_err(err, errlen, "file %s: out of memory", path);
    if (rc == 0 && canonical) {
        *canonical = canonical_in(dir, mt_io_base_part(t.final));
        if (!*canonical) {
            io_err(err, errlen, "file %s: cannot resolve the directory %s: %s", t.label, dir,
                   strerror(errno));
            rc = -1;
        }
    }
    free(dir);
    mt_io_target_free(&t);
    return rc;
}

/* ---- a directory ----------------------------------------------------------------------------- */

bool mt_io_name_listed(const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

void mt_io_dir_target_free(io_dir_target *d)
{
    mt_io_target_free(&d->t);
    free(d->canon);
    free(d->parent);
    d->canon = d->parent = NULL;
}

int mt_io_dir_target_check(io_dir_target *d, const char *dir, const char *const *names, int n,
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
            bool listed = mt_io_name_listed(e->d_name, names, n);
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
        d->parent = mt_io_dir_part(d->canon);
        if (!d->parent)
            goto oom;
    } else {
        char *p = mt_io_dir_part(d->t.final);
        if (!p)
            goto oom;
        if (check_dir_writable(what, label, p, err, errlen) < 0) {
            free(p);
            goto fail;
        }
        d->canon = canonical_in(p, mt_io_base_part(d->t.final));
        free(p);
        if (!d->canon) {
            io_err(err, errlen, "directory %s: cannot resolve its parent: %s", label,
                   strerror(errno));
            goto fail;
        }
        d->parent = mt_io_dir_part(d->canon);
        if (!d->parent)
            goto oom;
    }
    d->base = mt_io_base_part(d->canon);
    if (check_dir_writable(what, label, d->parent, err, errlen) < 0)
        goto fail;
    return 0;
oom:
    io_err(err, errlen, "directory %s: out of memory", dir);
    errno = ENOMEM;
fail:;
    int e = errno;
    mt_io_dir_target_free(d);
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
    io_dir_target d;
    if (mt_io_dir_target_check(&d, dir, names, n, err, errlen) < 0)
        return -1;
    if (canonical) {
        *canonical = d.canon;
        d.canon = NULL;
    }
    mt_io_dir_target_free(&d);
    return 0;
}
