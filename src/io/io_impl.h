/* io_impl.h: helpers shared by the readers and writers of src/io, not part of the public API:
 * formatting a message into the caller's buffer without truncating it silently, and quoting
 * bytes read from a file so that a message never carries terminal escape sequences. */
#ifndef MT_IO_IMPL_H
#define MT_IO_IMPL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif /* MT_IO_IMPL_H */
