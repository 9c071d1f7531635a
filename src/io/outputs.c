/* outputs.c: mt_check_outputs (mytorch/io.h), the check a program makes of everything it will
 * write before it does any work: each output alone (target.c), then the outputs against each
 * other, so that no output overwrites another and none lies inside a directory that is
 * replaced as a whole. mytorch-mnist and mytorch-viewer both call it. */
#include "mytorch/io.h"
#include "io_impl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Two canonical paths of the same file: the same name, or the same inode (hard links). */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* True when the canonical path `path` is dir or lies inside it. */
static bool within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strcmp(dir, "/") == 0)
        return true;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* path made absolute and normalised by its text alone ("." and ".." and repeated '/' taken
 * out; symbolic links not followed), malloc'd; NULL when out of memory or without a cwd. For
 * outputs whose directories do not exist yet, where realpath cannot help. */
static char *lexical_abs(const char *path)
{
    char *cwd = NULL;
    for (size_t size = 256; path[0] != '/'; size *= 2) {    /* a cwd of any length */
        char *grown = realloc(cwd, size);
        if (!grown) {
            free(cwd);
            return NULL;
        }
        cwd = grown;
        if (getcwd(cwd, size))
            break;
        if (errno != ERANGE) {
            free(cwd);
            return NULL;
        }
    }
    size_t n = (cwd ? strlen(cwd) : 0) + strlen(path) + 3;
    char *joined = malloc(n), *out = malloc(n);
    if (!joined || !out) {
        free(cwd);
        free(joined);
        free(out);
        return NULL;
    }
    snprintf(joined, n, "%s/%s", cwd ? cwd : "", path);
    free(cwd);
    size_t k = 0;
    char *save = NULL;
    for (char *part = strtok_r(joined, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0) {
            while (k > 0 && out[--k] != '/') {}
            continue;
        }
        out[k++] = '/';
        size_t len = strlen(part);
        memcpy(out + k, part, len);
        k += len;
    }
    if (k == 0)
        out[k++] = '/';
    out[k] = '\0';
    free(joined);
    return out;
}

/* A file output that failed its own check (its directory may not exist yet) inside a directory
 * output that is to be made: the index of that directory output, or -1. canon holds the
 * resolved paths of the outputs checked so far (NULL for the others). */
static int inside_a_dir_output(const mt_output *outs, char *const *canon, int n, int file)
{
    char *f = lexical_abs(outs[file].path);
    int found = -1;
    for (int i = 0; f && i < n && found < 0; i++) {
        if (i == file || !outs[i].names || !outs[i].path || !outs[i].path[0])
            continue;
        char *d = canon[i] ? NULL : lexical_abs(outs[i].path);
        const char *dir = canon[i] ? canon[i] : d;
        if (dir && within(f, dir))
            found = i;
        free(d);
    }
    free(f);
    return found;
}

static int inside_message(const mt_output *in, const mt_output *dir, char *err, size_t errlen)
{
    io_err(err, errlen,
           "%s %s is inside the %s directory %s, which is replaced as a whole when it is "
           "written; write it elsewhere", in->flag, in->path, dir->flag, dir->path);
    return 2;
}

/* The message of one output's own check, after its flag: "--csv: file a/: ...". */
static int check_one(const mt_output *o, char **canon, char *err, size_t errlen)
{
    size_t len = errlen > 0 ? errlen : 1;
    char *own = calloc(1, len);
    if (!own) {
        io_err(err, errlen, "%s: out of memory", o->flag);
        return -1;
    }
    int rc = o->names ? mt_check_output_dir(o->path, o->names, o->n, canon, own, len)
                      : mt_check_output_file(o->path, canon, own, len);
    if (rc != 0)
        io_err(err, errlen, "%s: %s", o->flag, own);
    free(own);
    return rc;
}

int mt_check_outputs(const mt_output *outs, int n, char *err, size_t errlen)
{
    if (n < 0 || (n > 0 && !outs)) {
        io_err(err, errlen, "mt_check_outputs: outs is NULL");
        errno = EINVAL;
        return 1;
    }
    char **canon = calloc((size_t)(n > 0 ? n : 1), sizeof *canon);
    if (!canon) {
        io_err(err, errlen, "mt_check_outputs: out of memory");
        return 1;
    }
    int status = 0;
    for (int i = 0; i < n && status == 0; i++) {
        if (!outs[i].path || check_one(&outs[i], &canon[i], err, errlen) == 0)
            continue;
        status = 1;
        int dir = outs[i].names || !outs[i].path[0] ? -1 : inside_a_dir_output(outs, canon, n, i);
        if (dir >= 0)
            status = inside_message(&outs[i], &outs[dir], err, errlen);
    }
    for (int i = 0; i < n && status == 0; i++)
        for (int j = i + 1; j < n && status == 0; j++) {
            const mt_output *a = &outs[i], *b = &outs[j];
            if (!canon[i] || !canon[j])
                continue;
            if (!a->names && !b->names && same_file(canon[i], canon[j])) {
                io_err(err, errlen,
                       "%s %s and %s %s are the same file (%s): one would overwrite the other; "
                       "give them different names", a->flag, a->path, b->flag, b->path,
                       canon[i]);
                status = 2;
                continue;
            }
            /* the one inside a directory output, and that directory */
            const mt_output *in = NULL, *dir = NULL;
            if (b->names && (within(canon[i], canon[j]) || same_file(canon[i], canon[j])))
                in = a, dir = b;
            else if (a->names && (within(canon[j], canon[i]) || same_file(canon[i], canon[j])))
                in = b, dir = a;
            if (in)
                status = inside_message(in, dir, err, errlen);
        }
    for (int i = 0; i < n; i++)
        free(canon[i]);
    free(canon);
    return status;
}
