/* file.c: mt_write_file_atomic (include/mytorch/io.h), the one place that writes a file through
 * PATH.tmp and renames it over PATH, so that every writer (.npy, PNG, CSV) leaves either the old
 * file or the complete new one, never a half-written one, and reports failures the same way. */
#include "mytorch/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mt_write_file_atomic(const char *path, int (*write)(FILE *f, void *user), void *user,
                         char *err, size_t errlen)
{
    if (!path || !write) {
        mt_errbuf_set(err, errlen, "mt_write_file_atomic: %s is NULL", !path ? "path" : "write");
        errno = EINVAL;
        return -1;
    }
    size_t pl = strlen(path);
    char *tmp = malloc(pl + sizeof ".tmp");
    if (!tmp) {
        mt_errbuf_set(err, errlen, "file %s: out of memory", path);
        errno = ENOMEM;
        return -1;
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", sizeof ".tmp");

    errno = 0;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int saved = errno ? errno : EIO;
        mt_errbuf_set(err, errlen, "file %s: cannot create %s: %s", path, tmp, strerror(saved));
        free(tmp);
        errno = saved;
        return -1;
    }

    /* Each step's errno is taken before the next call (fclose, remove) can change it. A
     * callback that ignored a failed fwrite is caught by ferror, and data still in the stream's
     * buffer by fflush, so that a full disk reads as a failed write rather than a failed close. */
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
        }
    }
    errno = 0;
    if (fclose(f) != 0 && !what) {
        what = "cannot close";
        saved = errno;
    }
    if (!what) {
        errno = 0;
        if (rename(tmp, path) == 0) {
            free(tmp);
            return 0;
        }
        what = "cannot rename";
        saved = errno;
    }

    saved = saved ? saved : EIO;
    mt_errbuf_set(err, errlen, "file %s: %s %s%s: %s", path, what, tmp,
                  strcmp(what, "cannot rename") == 0 ? " over it" : "", strerror(saved));
    remove(tmp);
    free(tmp);
    errno = saved;
    return -1;
}
