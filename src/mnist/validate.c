/* validate.c: the validation thread. It loads the t10k set while the main thread loads the
 * training set, then measures the accuracy of copies of the model handed to it while training
 * goes on; it gives the same accuracies as validating in place (mnist.h: validator). */
#include "mnist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Accuracy of `model` (in eval mode) on the whole validation set, with no graph, in chunks;
 * NaN when a forward fails (the message is in mt_last_error()). */
static double validate(mt_module *model, const mt_mnist *val, mt_arena *scratch, size_t *idx)
{
    double accuracy = NAN;
    bool prev = mt_set_grad_enabled(false);
    mt_arena *prev_arena = mt_arena_use(scratch);
    size_t correct = 0;
    for (size_t start = 0; start < val->count; start += VAL_CHUNK) {
        size_t n = val->count - start < VAL_CHUNK ? val->count - start : VAL_CHUNK;
        for (size_t r = 0; r < n; r++) idx[r] = start + r;
        mt_tensor *logits = mt_module_forward(model, batch_images(val, idx, n));   /* (n, 10) */
        if (!logits) goto out;
        for (size_t r = 0; r < n; r++) {
            const double *row = logits->data + r * CLASSES;
            int best = 0;
            for (int k = 1; k < CLASSES; k++) if (row[k] > row[best]) best = k;
            correct += (best == val->labels.data[start + r]);
        }
        mt_arena_reset(scratch);
    }
    accuracy = (double)correct / (double)val->count;
out:
    mt_arena_reset(scratch);
    mt_arena_use(prev_arena);
    mt_set_grad_enabled(prev);
    return accuracy;
}

void *validator_main(void *arg)
{
    validator *v = arg;
    char *err = calloc(1, g_errlen);
    int rc = err ? mt_mnist_load(v->data_dir, "t10k", &v->val, err, g_errlen) : -1;
    pthread_mutex_lock(&v->lock);
    v->loaded = true;
    v->load_failed = rc != 0;
    if (rc != 0) snprintf(v->err, g_errlen, "%s", err ? err : "out of memory");
    free(err);
    pthread_cond_broadcast(&v->changed);
    pthread_mutex_unlock(&v->lock);
    if (rc != 0) return NULL;

    mt_arena *scratch = mt_arena_new();
    size_t idx[VAL_CHUNK];
    for (;;) {
        pthread_mutex_lock(&v->lock);
        while (v->done == v->submitted && !v->quit) pthread_cond_wait(&v->changed, &v->lock);
        if (v->done == v->submitted) {            /* quit, and nothing left to do */
            pthread_mutex_unlock(&v->lock);
            break;
        }
        int k = v->done;
        pthread_mutex_unlock(&v->lock);
        double acc = validate(v->copy, &v->val, scratch, idx);
        pthread_mutex_lock(&v->lock);
        if (isnan(acc) && !v->failed) {
            v->failed = true;
            snprintf(v->err, g_errlen, "validation forward failed: %s", mt_last_error());
        }
        v->rec[k].accuracy = acc;
        v->done++;
        pthread_cond_broadcast(&v->changed);
        pthread_mutex_unlock(&v->lock);
    }
    mt_arena_free(scratch);
    mt_shutdown();                                 /* this thread's default arena and state */
    return NULL;
}

bool validator_wait_loaded(validator *v)
{
    pthread_mutex_lock(&v->lock);
    while (!v->loaded) pthread_cond_wait(&v->changed, &v->lock);
    bool ok = !v->load_failed;
    pthread_mutex_unlock(&v->lock);
    return ok;
}

int validator_wait_done(validator *v, int count)
{
    pthread_mutex_lock(&v->lock);
    while (v->done < count) pthread_cond_wait(&v->changed, &v->lock);
    int done = v->done;
    pthread_mutex_unlock(&v->lock);
    return done;
}

/* The copy takes the parameters and the running statistics: the whole state dict. */
void validator_submit(validator *v, mt_module *model)
{
    validator_wait_done(v, v->submitted);          /* the copy is free again */
    mt_named_tensor from[MAX_ENTRIES], to[MAX_ENTRIES];
    int n = state_dict(model, from);
    state_dict(v->copy, to);
    for (int i = 0; i < n; i++)
        memcpy(to[i].tensor->data, from[i].tensor->data, from[i].tensor->numel * sizeof(double));
    pthread_mutex_lock(&v->lock);
    v->submitted++;
    pthread_cond_broadcast(&v->changed);
    pthread_mutex_unlock(&v->lock);
}

void print_records(validator *v, const record *rec, int *nprinted, int upto, bool quiet,
                   bool tty)
{
    pthread_mutex_lock(&v->lock);
    bool failed = v->failed;
    pthread_mutex_unlock(&v->lock);
    if (failed) die("%s", v->err);
    for (; *nprinted < upto; (*nprinted)++) {
        const record *r = &rec[*nprinted];
        if (quiet) continue;
        if (tty) fputc('\n', stderr);
        fprintf(stderr, "epoch %d batch %4d  samples %7ld  loss %.4f  val accuracy %.2f%%\n",
                r->epoch, r->batch, r->samples, r->loss, 100 * r->accuracy);
    }
}
