/* mytorch-mnist: trains Linear(784, 20) -> BatchNorm1d(20) -> ReLU -> Linear(20, 10) on MNIST
 * with cross-entropy and SGD, validating on the 10,000 t10k images every 100 batches, and
 * writes the validation-accuracy plot (PNG) and a CSV of every validation. This file is the
 * training loop; options.c reads the command line, outputs.c checks and writes every output
 * (docs/bad-inputs.md), validate.c is the validation thread, data.c makes batches, and
 * export.c writes the first step's graph. */
#include "mnist.h"
#include "../../gradcheck/gradcheck.h"

#include <cblas.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Resident memory in MB from /proc/self/statm (Linux), or -1 where it cannot be read. */
static double resident_mb(void)
{
    long pages = -1, resident = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    int ok = fscanf(f, "%ld %ld", &pages, &resident) == 2;
    fclose(f);
    return ok ? (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0 : -1;
}

static double peak_mb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : -1;
}

/* Checks every op and module against finite differences before training, so that a broken
 * backward is caught before it is trained with. Prints failures in full, else one line. */
static void run_gradcheck(bool quiet)
{
    double t0 = now();
    int n = 0, failed = mt_gc_check_all(stderr, true, &n);
    if (failed) die("gradcheck: %d of %d cases failed; not training on a wrong backward "
                    "(--no-gradcheck skips this check)", failed, n);
    if (!quiet)
        fprintf(stderr, "gradcheck: all %d cases agree with finite differences (%.2fs)\n", n,
                now() - t0);
}

/* ---- the model ------------------------------------------------------------------------------ */

static mt_module *make_mlp(mt_rng *rng)
{
    mt_module *layers[] = {
        mt_linear_new(IMAGE_PIXELS, 20, rng),
        mt_batchnorm1d_new(20, 1e-5, 0.1),
        mt_relu_new(),
        mt_linear_new(20, CLASSES, rng),
    };
    return mt_sequential_new(4, layers);
}

/* ---- the training loop ---------------------------------------------------------------------- */

static void progress(const options *o, int epoch, int batch, int nbatches, double loss,
                     double steps_per_s, double eta)
{
    int width = 30, filled = (int)((double)width * batch / nbatches);
    fprintf(stderr, "\repoch %d/%d [", epoch + 1, o->epochs);
    for (int i = 0; i < width; i++) fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %4d/%d  loss %.4f  %6.0f steps/s  ETA %4.1fs ", batch, nbatches, loss,
            steps_per_s, eta);
    fflush(stderr);
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv);
    size_t longest = 0;
    for (int i = 1; i < argc; i++)
        if (strlen(argv[i]) > longest) longest = strlen(argv[i]);
    g_errlen = MT_ERRLEN(longest + 2 * MT_NAME_MAX + 64);   /* + a weight or MNIST file name */
    catch_signals();
    add_outputs(&o);
    /* These matrices are small (at most 1000 x 784 by 784 x 20): OpenBLAS's threads cost more
     * than they save here (measured: 1.6x slower with 2 threads on 2 cores). */
    openblas_set_num_threads(1);
    bool tty = !o.quiet && isatty(STDERR_FILENO);
    double t_start = now();

    mt_rng rng;
    mt_rng_seed(&rng, o.seed);
    mt_module *model = make_mlp(&rng);
    if (!model) die("cannot build the model: %s", mt_last_error());
    weight_files files = weight_files_of(model);
    check_outputs(&o, &files);
    if (o.gradcheck) run_gradcheck(o.quiet);

    batch_init();

    /* the validation thread loads t10k while this one loads the training set */
    g_phase = PHASE_LOAD;
    char *err = err_new();
    validator vt = { .data_dir = o.data_dir, .err = err_new() };
    pthread_t val_thread;
    sigset_t mask;
    mt_block_stop_signals(&mask);       /* the thread inherits the mask: signals come here */
    if (pthread_mutex_init(&vt.lock, NULL) != 0 || pthread_cond_init(&vt.changed, NULL) != 0 ||
        pthread_create(&val_thread, NULL, validator_main, &vt) != 0)
        die("cannot start the validation thread");
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    mt_mnist train;
    if (mt_mnist_load(o.data_dir, "train", &train, err, g_errlen) != 0) die("%s", err);
    if (!validator_wait_loaded(&vt)) die("%s", vt.err);
    const mt_mnist *val = &vt.val;
    if (train.rows != 28 || train.cols != 28 || val->rows != 28 || val->cols != 28)
        die("expected 28x28 images, found %dx%d (train) and %dx%d (t10k)", train.rows, train.cols,
            val->rows, val->cols);
    size_t ntrain = train.count;
    if (o.limit && (size_t)o.limit < ntrain) ntrain = (size_t)o.limit;
    int nbatches = (int)(ntrain / (size_t)o.batch_size);   /* the last partial batch is dropped */
    if (nbatches < 1)
        usage_error("--batch-size %d is larger than the %zu training images", o.batch_size, ntrain);

    if (o.load_dir) load_weights(model, o.load_dir);
    mt_tensor *params[MAX_ENTRIES];
    int np = mt_module_parameters(model, params, MAX_ENTRIES);
    if (np > MAX_ENTRIES) die("the model has %d parameters, more than this program expects", np);
    mt_sgd *opt = mt_sgd_new(params, np, o.lr, o.momentum);
    if (!opt) die("cannot make the optimizer: %s", mt_last_error());
    mt_rng unused;                       /* the copy's initial weights are overwritten */
    mt_rng_seed(&unused, 0);
    vt.copy = make_mlp(&unused);
    if (!vt.copy) die("cannot build the model: %s", mt_last_error());
    mt_module_train(vt.copy, false);     /* the copy only ever validates */

    size_t *order = malloc(ntrain * sizeof *order);
    int max_records = o.epochs * (nbatches / o.val_every + 1) + 1;   /* + the model as trained */
    record *rec = calloc((size_t)max_records, sizeof *rec);
    mt_plot_point *pts = calloc((size_t)max_records, sizeof *pts);
    if (!order || !rec || !pts) die("out of memory");
    vt.rec = rec;
    for (size_t i = 0; i < ntrain; i++) order[i] = i;

    mt_arena *step = mt_arena_new();     /* one training step's graph, reset after each step */
    int nrec = 0, nprinted = 0;
    long samples = 0;
    double t_train = now(), last_loss = NAN, loss_sum = 0;
    int loss_n = 0;
    long total_steps = (long)o.epochs * nbatches, steps_done = 0;
    double rss_100 = -1;
    /* a loss that is not finite stops training: where, to say so */
    int bad_epoch = 0, bad_batch = 0;
    bool diverged = false;

    g_total_steps = total_steps;
    g_phase = PHASE_TRAIN;
    if (!o.quiet)
        fprintf(stderr,
                "training on %zu images, validating on %zu; %d epochs of %d batches of %d\n",
                ntrain, val->count, o.epochs, nbatches, o.batch_size);
    for (int epoch = 0; epoch < o.epochs && !diverged; epoch++) {
        if (o.shuffle)                                  /* Fisher-Yates, seeded */
            for (size_t i = ntrain - 1; i > 0; i--) {
                size_t j = (size_t)mt_rng_below(&rng, i + 1);
                size_t t = order[i]; order[i] = order[j]; order[j] = t;
            }
        for (int b = 0; b < nbatches; b++) {
            mt_arena *prev = mt_arena_use(step);
            const size_t *rows = order + (size_t)b * (size_t)o.batch_size;
            mt_tensor *x = batch_images(&train, rows, (size_t)o.batch_size);   /* (B, 784) */
            mt_tensor *y = batch_labels(&train, rows, (size_t)o.batch_size);   /* (B,) */
            mt_set_label(x, "x");
            mt_set_label(y, "labels");
            mt_sgd_zero_grad(opt);
            bool first = steps_done == 0;    /* the step --export-graph and --export-dot show */
            mt_trace *trace = first ? export_begin(&o) : NULL;
            mt_tensor *logits = mt_set_label(mt_module_forward(model, x), "logits");  /* (B, 10) */
            mt_tensor *loss = mt_set_label(mt_cross_entropy(logits, y), "loss");
            if (!loss) die("step %ld: forward failed: %s", steps_done + 1, mt_last_error());
            last_loss = loss->data[0];
            if (!isfinite(last_loss)) {      /* stop before this step changes the model */
                export_abandon(trace);
                mt_arena_use(prev);
                mt_arena_reset(step);
                diverged = true;
                bad_epoch = epoch + 1;
                bad_batch = b;
                break;
            }
            if (mt_backward_ex(loss, NULL, MT_TOPO) != 0)
                die("step %ld: backward failed: %s", steps_done + 1, mt_last_error());
            if (first) export_step(&o, trace, loss);   /* before the step changes the weights */
            mt_sgd_step(opt);
            mt_arena_use(prev);
            mt_arena_reset(step);
            samples += o.batch_size;
            steps_done++;
            g_steps_done = (sig_atomic_t)steps_done;
            if (steps_done == 100) rss_100 = resident_mb();
            loss_sum += last_loss;
            loss_n++;

            if (b % o.val_every == 0) {
                double mean_loss = loss_sum / loss_n;
                loss_sum = 0; loss_n = 0;
                rec[nrec] = (record){ epoch + 1, b, samples, mean_loss, NAN };
                nrec++;
                validator_submit(&vt, model);
            }
            /* print the validations that have finished since the last look */
            if (nprinted < nrec)
                print_records(&vt, rec, &nprinted, validator_wait_done(&vt, 0), o.quiet, tty);
            if (tty && (b % 10 == 0 || b == nbatches - 1)) {
                double el = now() - t_train, sps = steps_done / (el > 0 ? el : 1e-9);
                progress(&o, epoch, b + 1, nbatches, last_loss, sps,
                         (total_steps - steps_done) / sps);
            }
        }
    }
    if (diverged) {
        /* The validations made so far are of models that trained on finite losses: they are
         * written; the model that gave the bad loss is not saved. */
        validator_wait_done(&vt, nrec);
        print_records(&vt, rec, &nprinted, nrec, o.quiet, tty);
        if (tty) fputc('\n', stderr);
        g_phase = PHASE_WRITE;
        if (nrec > 0) write_records(&o, rec, nrec, pts);
        fprintf(stderr, "mytorch-mnist: step %ld (epoch %d, batch %d): the training loss is %s; "
                "stopping. Try a smaller --lr.\n", steps_done + 1, bad_epoch, bad_batch,
                isnan(last_loss) ? "nan" : last_loss > 0 ? "inf" : "-inf");
        if (nrec > 0)
            fprintf(stderr, "mytorch-mnist: the %d validation%s before it %s written", nrec,
                    nrec == 1 ? "" : "s", nrec == 1 ? "was" : "were");
        else
            fprintf(stderr, "mytorch-mnist: no validation was made before it");
        print_outputs_written(stderr);
        fputc('\n', stderr);
        fflush(stdout);
        /* as die: the validation thread is idle, but OpenBLAS's teardown is skipped */
        _exit(1);
    }
    /* The protocol validates at batches 0, 100, ..., so the last steps of the last epoch are
     * not in any of its validations: measure the model as trained (and as --save-weights
     * writes it) once more, outside the CSV and the plot. */
    rec[nrec] = (record){ o.epochs, nbatches - 1, samples, NAN, NAN };
    validator_submit(&vt, model);
    validator_wait_done(&vt, nrec + 1);
    print_records(&vt, rec, &nprinted, nrec, o.quiet, tty);
    if (tty) fputc('\n', stderr);
    double t_end_train = now(), rss_end = resident_mb();

    g_phase = PHASE_WRITE;
    write_records(&o, rec, nrec, pts);
    if (o.save_dir) {
        save_weights(model, o.save_dir);
        mark_written("--save-weights");
    }

    double best = 0;
    for (int i = 0; i < nrec; i++) if (rec[i].accuracy > best) best = rec[i].accuracy;
    printf("final validation accuracy: %.2f%% (best %.2f%%) over %d validations\n",
           nrec ? 100 * rec[nrec - 1].accuracy : 0.0, 100 * best, nrec);
    printf("the model after all %ld steps: %.2f%% on the validation set\n", steps_done,
           100 * rec[nrec].accuracy);
    printf("time: %.2fs training (%.0f steps/s), %.2fs in all\n", t_end_train - t_train,
           steps_done / (t_end_train - t_train), now() - t_start);
    if (rss_100 > 0)
        printf("memory: resident %.1f MB at step 100, %.1f MB at step %ld; peak %.1f MB\n",
               rss_100, rss_end, steps_done, peak_mb());
    if (o.plot && nrec > 0) printf("plot: %s\n", o.plot);
    if (o.csv) printf("csv: %s\n", o.csv);
    if (o.save_dir) printf("weights: %s/\n", o.save_dir);

    pthread_mutex_lock(&vt.lock);
    vt.quit = true;
    pthread_cond_broadcast(&vt.changed);
    pthread_mutex_unlock(&vt.lock);
    pthread_join(val_thread, NULL);
    pthread_mutex_destroy(&vt.lock);
    pthread_cond_destroy(&vt.changed);
    free(order); free(rec); free(pts);
    free(err); free(vt.err);
    mt_arena_free(step);
    mt_sgd_free(opt);
    mt_module_free(model);
    mt_module_free(vt.copy);
    mt_mnist_free(&train);
    mt_mnist_free(&vt.val);
    mt_shutdown();
    mt_draw_shutdown();
    return 0;
}
