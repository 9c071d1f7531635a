/* error.h: how MyTorch reports misuse of its API.
 *
 * Misuse (a shape mismatch, a NULL input, backward on a tensor without a graph) is reported
 * through the error handler and the failing function returns NULL (or -1); an op given a NULL
 * input returns NULL without a second report, so the first error of an expression is the one
 * you see. The default handler prints "mytorch: <message>" to stderr. Nothing is left half-built:
 * the arena only holds a few unreachable bytes until its next reset. The message and the handler
 * are per thread, like errno. */
#ifndef MYTORCH_ERROR_H
#define MYTORCH_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*mt_error_fn)(const char *message, void *user);
void        mt_set_error_handler(mt_error_fn fn, void *user);  /* NULL: back to the default */
void        mt_get_error_handler(mt_error_fn *fn, void **user); /* to restore it later */
void        mt_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
const char *mt_last_error(void);   /* "" when none since mt_clear_error */
void        mt_clear_error(void);

#ifdef __cplusplus
}
#endif

#endif
