/* mnist.h: what the files of mytorch-mnist share: its options, a validation record, the
 * validation thread, the weight files of the model, and how the program fails. Internal to
 * src/mnist/; main.c is the training loop that ties them together. */
#ifndef MT_MNIST_MNIST_H
#define MT_MNIST_MNIST_H

#include "mytorch/mytorch.h"
#include "plot.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#define IMAGE_PIXELS 784
#define CLASSES 10
#define VAL_CHUNK 100            /* validation rows per forward: bounds memory */
#define MAX_ENTRIES 16           /* state_dict entries of the MLP: 8 */

#if defined(__GNUC__)
#define MN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MN_PRINTF(f, a)
#endif

/* ---- options.c: the command line ------------------------------------------------------------ */

typedef struct options {
    const char *data_dir, *plot, *csv, *save_dir, *load_dir;
    const char *export_graph, *export_dot;   /* the first step's trace (JSON) and DOT */
    int epochs, batch_size, val_every;
    long limit;
    double lr, momentum;
    unsigned long long seed;
    bool shuffle, quiet, gradcheck;
} options;

/* The options of argv; exits with status 2 (and a message) on a bad command line, 0 after
 * printing --help. */
options parse_options(int argc, char **argv);

/* ---- outputs.c: failing, interruption, the output files ------------------------------------ */

/* Bytes of every message buffer: enough for a message about the longest argument
 * (MT_ERRLEN, io.h), so none is ever cut. Set by main before anything is written. */
extern size_t g_errlen;
char *err_new(void);                              /* g_errlen zero bytes; free() it */
char *path_join(const char *dir, const char *name);   /* DIR/NAME, malloc'd */

/* Print "mytorch-mnist: MESSAGE" and end the process: die with status 1 (a file or the run
 * failed), usage_error with 2 (the command line cannot work). */
void die(const char *fmt, ...) MN_PRINTF(1, 2);
void usage_error(const char *fmt, ...) MN_PRINTF(1, 2);

/* Where the run is, for the message of an interrupted run. */
enum { PHASE_START, PHASE_LOAD, PHASE_TRAIN, PHASE_WRITE };
extern volatile sig_atomic_t g_phase;
extern volatile sig_atomic_t g_steps_done;        /* training steps finished */
extern long g_total_steps;

void catch_signals(void);            /* on the main thread, before any other thread starts */
void add_outputs(const options *o);  /* the outputs asked for, so an interruption can list them */
void mark_written(const char *flag);
/* " to A, B; the first step's graph to C; not written: D" after a run that stopped early. */
void print_outputs_written(FILE *f);

/* The weight files of a state dict: "<key>.npy", as numpy.save and torch_mnist.py name them. */
typedef struct weight_files { int n; char name[MAX_ENTRIES][MT_NAME_MAX + 8]; } weight_files;

int state_dict(mt_module *m, mt_named_tensor *sd);  /* sd holds MAX_ENTRIES; dies on more */
weight_files weight_files_of(mt_module *m);
void load_weights(mt_module *m, const char *dir);
void save_weights(mt_module *m, const char *dir);

/* Everything that would make an output fail after training, found before it; dies if so. */
void check_outputs(const options *o, const weight_files *files);

typedef struct record {           /* one validation */
    int epoch, batch;
    long samples;
    double loss, accuracy;
} record;

/* Writes the CSV and the plot of rec[0..nrec) (each only when asked for); pts holds nrec. */
void write_records(const options *o, const record *rec, int nrec, mt_plot_point *pts);

/* ---- export.c: the first training step's graph ---------------------------------------------- */

/* Starts recording the step when --export-graph is given (else NULL); call just before the
 * forward. export_step, after the backward and before the optimizer step and the arena reset,
 * writes --export-graph and --export-dot and frees the trace. export_abandon frees a trace
 * whose step is not finished (a loss that is not finite). */
mt_trace *export_begin(const options *o);
void export_step(const options *o, mt_trace *tr, const mt_tensor *loss);
void export_abandon(mt_trace *tr);

/* ---- data.c: batches ---------------------------------------------------------------------- */

void batch_init(void);           /* before any thread starts */
/* Rows idx[0..n) of the set as tensors in the current arena: images (n, 784) in [0, 1],
 * labels (n,) as 0-9. */
mt_tensor *batch_images(const mt_mnist *d, const size_t *idx, size_t n);
mt_tensor *batch_labels(const mt_mnist *d, const size_t *idx, size_t n);

/* ---- validate.c: the validation thread ------------------------------------------------------
 * It loads the t10k set (while main loads the training set), then validates on request: main
 * copies the model's state into `copy` (after the previous validation is done with it), bumps
 * `submitted` and goes on training; the thread writes rec[k].accuracy and bumps `done`. */
typedef struct validator {
    pthread_mutex_t lock;
    pthread_cond_t changed;    /* signalled whenever loaded, submitted, done or quit changes */
    const char *data_dir;
    mt_mnist val;              /* the t10k set, loaded by the thread */
    bool loaded, load_failed, quit;
    bool failed;               /* a validation forward failed: the message is in err */
    char *err;                 /* g_errlen bytes, from main */
    mt_module *copy;           /* the model as of the pending validation; eval mode */
    record *rec;
    int submitted, done;
} validator;

void *validator_main(void *arg);
/* Waits until the thread has loaded t10k; false (and the message in v->err) if it failed. */
bool validator_wait_loaded(validator *v);
/* Waits until at least `count` validations are done; returns how many are. */
int validator_wait_done(validator *v, int count);
/* Hands the thread the model as it is now, to be validated as record v->submitted. */
void validator_submit(validator *v, mt_module *model);
/* Prints the validations from *nprinted up to `upto` (exclusive); dies if the thread reported
 * a failure. */
void print_records(validator *v, const record *rec, int *nprinted, int upto, bool quiet,
                   bool tty);

#endif /* MT_MNIST_MNIST_H */
