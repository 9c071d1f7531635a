/* outputs.c: the files mytorch-viewer writes without a window (--screenshot, --svg, --frames,
 * --pdf, --export-trace). All of them are checked before anything is drawn (mt_check_outputs:
 * a missing directory, a device, two flags naming one file), and a SIGINT, SIGTERM, SIGHUP or
 * SIGQUIT while they are written removes the temporaries (mt_tmp_cleanup), names the outputs
 * not written and ends the process with the signal, as mytorch-mnist does. */
#include "viewer.h"

#include <mytorch/io.h>

#include <signal.h>

static vw_outputs *g_outputs;        /* what the signal handler reports */

int vw_outputs_check(const vw_outputs *o, char *err, size_t errlen)
{
    return mt_check_outputs(o->out, VW_NOUT, err, errlen);
}

static void put(const char *s) { mt_signal_safe_print(s); }

/* async-signal-safe: write(2), unlink(2) and rmdir(2) only */
static void on_signal(int sig)
{
    mt_tmp_cleanup();
    put("\nmytorch-viewer: interrupted by ");
    put(sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP"
        : "SIGQUIT");
    int pending = 0;
    for (int i = 0; g_outputs && i < VW_NOUT; i++) {
        if (!g_outputs->out[i].path || g_outputs->written[i]) continue;
        put(pending++ ? ", " : "; not written: ");
        put(g_outputs->out[i].flag);
        put(" ");
        put(g_outputs->out[i].path);
    }
    put(pending ? " (no temporary file is left behind)\n" : "; every output was written\n");
    signal(sig, SIG_DFL);
    raise(sig);                      /* delivered when the handler returns: the default action */
}

void vw_outputs_catch_signals(vw_outputs *o)
{
    g_outputs = o;
    mt_catch_stop_signals(on_signal);
}
