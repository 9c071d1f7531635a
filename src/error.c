/* error.c: how misuse of the API is reported. The message is kept (mt_last_error) and handed
 * to the handler; the failing op returns NULL and the caller decides what to do. */
#include "mytorch/error.h"
#include "mytorch/io.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Per thread, like errno: a failing op in one thread does not overwrite another's message. */
static _Thread_local char last_error[512];
static _Thread_local mt_error_fn handler;
static _Thread_local void *handler_user;

void mt_set_error_handler(mt_error_fn fn, void *user) { handler = fn; handler_user = user; }

void mt_get_error_handler(mt_error_fn *fn, void **user)
{
    if (fn) *fn = handler;
    if (user) *user = handler_user;
}
const char *mt_last_error(void) { return last_error; }
void mt_clear_error(void) { last_error[0] = '\0'; }

void mt_error(const char *fmt, ...)
{
    /* Formatted apart first: an argument may be mt_last_error() itself, and vsnprintf must not
     * read the buffer it writes. */
    char message[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    memcpy(last_error, message, sizeof last_error);
    if (handler) handler(last_error, handler_user);
    else fprintf(stderr, "mytorch: %s\n", last_error);
}

void mt_errbuf_set(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
