/* io_impl.h: helpers shared by the readers and writers of src/io, not part of the public API:
 * formatting a message into the caller's buffer without truncating it silently, quoting bytes
 * read from a file so that a message never carries terminal escape sequences, and the output
 * targets that target.c resolves and checks for the atomic writers of file.c. */
#ifndef MT_IO_IMPL_H
#define MT_IO_IMPL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Like mt_errbuf_set, but a message that does not fit in err ends in "[...]" so that a cut is
 * never mistaken for the whole message. Callers size err for the paths they pass (see io.h). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline void io_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    static const char mark[] = " [...]";
    if (n >= 0 && (size_t)n >= errlen && errlen > sizeof mark)
        memcpy(err + errlen - sizeof mark, mark, sizeof mark);
}

/* The bytes s[0..n) as text fit for a message: printable ASCII as is, every other byte
 * (control characters, DEL, bytes >= 0x80, NUL) and the backslash as \xNN. Writes into out
 * (outlen >= 4 * n + 1 always suffices) and returns out. */
static inline const char *io_escape(const void *s, size_t n, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = s;
    size_t k = 0;
    if (outlen == 0)
        return out;
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            if (k + 1 >= outlen)
                break;
            out[k++] = (char)c;
        } else {
            if (k + 4 >= outlen)
                break;
            out[k++] = '\\';
            out[k++] = 'x';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        }
    }
    out[k] = '\0';
    return out;
}

/* io_escape into a malloc'd buffer (the caller frees it); NULL when out of memory. */
static inline char *io_escape_dup(const void *s, size_t n)
{
    char *out = malloc(4 * n + 1);
    if (out)
        io_escape(s, n, out, 4 * n + 1);
    return out;
}

/* ---- output targets (target.c), for the writers of file.c ---------------------------------- */

/* DIR/NAME (DIR may be "" or end in '/'), malloc'd; NULL when out of memory. */
char *mt_io_path_join(const char *dir, const char *name);
/* The directory part of path ("." when there is none, "/" for "/name"), malloc'd. */
char *mt_io_dir_part(const char *path);
/* What follows path's last '/' (all of path when it has none): a pointer into path. */
const char *mt_io_base_part(const char *path);

/* A target: the path as given, what its symbolic links (if any) lead to, and what is there. */
typedef struct io_target {
    const char *path;    /* as the caller gave it */
    char *final;         /* the last symbolic link followed, or a copy of path; malloc'd */
    char *label;         /* for messages: "PATH" or "PATH (a symbolic link to FINAL)" */
    bool exists;         /* final exists (then st describes it) */
    struct stat st;
} io_target;

void mt_io_target_free(io_target *t);
/* Resolves a file target and requires it to be a regular file or nothing yet: 0, or -1 with a
 * message and nothing left to free. */
int mt_io_file_target(io_target *t, const char *what, const char *path, char *err,
                      size_t errlen);

/* Whether name is one of names[0..n). */
bool mt_io_name_listed(const char *name, const char *const *names, int n);

/* A directory target, resolved: canon is where it is (absolute, no symbolic links), parent and
 * base the two halves of canon; exists says whether it is there already. */
typedef struct io_dir_target {
    io_target t;
    char *canon, *parent;
    const char *base;
} io_dir_target;

/* Resolves dir and checks that it can be replaced by a directory holding exactly names[0..n):
 * nothing is there yet, or a directory that holds only (some of) those names, none of them a
 * directory; and its parent is writable. 0, or -1 with a message (d is then freed). */
int mt_io_dir_target_check(io_dir_target *d, const char *dir, const char *const *names, int n,
                           char *err, size_t errlen);
void mt_io_dir_target_free(io_dir_target *d);

#endif /* MT_IO_IMPL_H */
