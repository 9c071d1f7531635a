/* options.c: mytorch-mnist's command line: --help, the bounds of every number, and what is
 * wrong with an option getopt_long refuses (unknown, an ambiguous abbreviation, a missing or
 * unwanted value). A bad command line exits with status 2 before anything else happens. */
#include "mnist.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mytorch-mnist [options]\n"
        "Trains Linear(784,20) -> BatchNorm1d(20) -> ReLU -> Linear(20,10) on MNIST with\n"
        "cross-entropy and SGD, validating on the t10k set every --val-every batches.\n\n"
        "  --data DIR          MNIST IDX files, raw or .gz (default data/mnist)\n"
        "  --epochs N          passes over the training set (default 3)\n"
        "  --batch-size N      rows per step (default 100)\n"
        "  --lr X              learning rate (default 0.1)\n"
        "  --momentum X        SGD momentum (default 0)\n"
        "  --seed N            seed for initial weights and shuffling (default 0)\n"
        "  --val-every N       validate when the batch index in the epoch is a multiple of N"
        " (default 100)\n"
        "  --no-shuffle        keep the training set in file order\n"
        "  --limit N           train on the first N images only (quick runs)\n"
        "  --plot FILE         validation-accuracy PNG (default validation_accuracy.png)\n"
        "  --csv FILE          one row per validation:"
        " epoch,batch,samples_seen,train_loss,val_accuracy\n"
        "  --save-weights DIR  write the final state dict as DIR/<key>.npy (float64)\n"
        "  --load-weights DIR  start from DIR/<key>.npy (e.g. a PyTorch model's state dict)\n"
        "  --export-graph FILE record the first training step (forward, loss, backward) as a\n"
        "                      trace (JSON, docs/trace-format.md) that mytorch-viewer replays\n"
        "  --export-dot FILE   the first training step's graph as Graphviz DOT, with the\n"
        "                      gradients of its backward (dot -Tsvg FILE draws it)\n"
        "  --quiet             print only the final summary\n"
        "  --no-gradcheck      skip the finite-difference check of every op that runs first\n"
        "  --help              this text\n");
}

static long parse_long(const char *flag, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "mytorch-mnist: %s expects a whole number from %ld to %ld, got '%s'\n",
                flag, lo, hi, s);
        exit(2);
    }
    return v;
}

static double parse_double(const char *flag, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "mytorch-mnist: %s expects a number from %g to %g, got '%s'\n", flag,
                lo, hi, s);
        exit(2);
    }
    return v;
}

/* Says what was wrong with the option getopt_long just refused (argv[optind - 1]): unknown,
 * ambiguous (an abbreviation of several: "--l" is --lr, --limit or --load-weights), missing its
 * value, or given a value it does not take. Exits with status 2. */
static void bad_option(const struct option *longs, int argc, char **argv)
{
    const char *arg = optind - 1 < argc && optind >= 1 ? argv[optind - 1] : "";
    if (optopt > 0 && optopt < 256) {   /* a short option */
        fprintf(stderr, "mytorch-mnist: unknown option '-%c'\n", optopt);
    } else if (strncmp(arg, "--", 2) != 0) {
        fprintf(stderr, "mytorch-mnist: unknown option '%s'\n", arg);
    } else {
        const char *name = arg + 2;
        size_t len = strcspn(name, "=");
        int found = -1, nmatch = 0;
        for (int i = 0; longs[i].name; i++) {
            if (strncmp(longs[i].name, name, len) != 0) continue;
            if (strlen(longs[i].name) == len) { found = i; nmatch = 1; break; }
            found = nmatch++ ? found : i;
        }
        if (nmatch > 1) {
            fprintf(stderr, "mytorch-mnist: option '%.*s' is ambiguous: ", (int)len + 2, arg);
            int k = 0;
            for (int i = 0; longs[i].name; i++)
                if (strncmp(longs[i].name, name, len) == 0)
                    fprintf(stderr, "%s--%s", k++ ? ", " : "", longs[i].name);
            fputc('\n', stderr);
        } else if (nmatch == 1 && longs[found].has_arg == no_argument && name[len] == '=') {
            fprintf(stderr, "mytorch-mnist: option '--%s' takes no value, got '%s'\n",
                    longs[found].name, arg);
        } else if (nmatch == 1) {
            fprintf(stderr, "mytorch-mnist: option '--%s' needs a value\n", longs[found].name);
        } else {
            fprintf(stderr, "mytorch-mnist: unknown option '%.*s'\n", (int)len + 2, arg);
        }
    }
    fprintf(stderr, "run 'mytorch-mnist --help' for the options\n");
    exit(2);
}

options parse_options(int argc, char **argv)
{
    options o = { .data_dir = "data/mnist", .plot = "validation_accuracy.png", .epochs = 3,
                  .batch_size = 100, .val_every = 100, .lr = 0.1, .shuffle = true,
                  .gradcheck = true };
    enum { O_DATA = 256, O_EPOCHS, O_BATCH, O_LR, O_MOM, O_SEED, O_VAL, O_NOSHUF, O_LIMIT,
           O_PLOT, O_CSV, O_SAVE, O_LOAD, O_GRAPH, O_DOT, O_QUIET, O_NOGC, O_HELP };
    /* the order of this table is the order an ambiguous abbreviation lists its options in */
    static const struct option longs[] = {
        { "data", required_argument, 0, O_DATA }, { "epochs", required_argument, 0, O_EPOCHS },
        { "batch-size", required_argument, 0, O_BATCH }, { "lr", required_argument, 0, O_LR },
        { "momentum", required_argument, 0, O_MOM }, { "seed", required_argument, 0, O_SEED },
        { "val-every", required_argument, 0, O_VAL }, { "no-shuffle", no_argument, 0, O_NOSHUF },
        { "limit", required_argument, 0, O_LIMIT }, { "plot", required_argument, 0, O_PLOT },
        { "csv", required_argument, 0, O_CSV }, { "save-weights", required_argument, 0, O_SAVE },
        { "load-weights", required_argument, 0, O_LOAD },
        { "export-graph", required_argument, 0, O_GRAPH },
        { "export-dot", required_argument, 0, O_DOT }, { "quiet", no_argument, 0, O_QUIET },
        { "no-gradcheck", no_argument, 0, O_NOGC },
        { "help", no_argument, 0, O_HELP }, { 0, 0, 0, 0 },
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (c == '?' || c == ':') bad_option(longs, argc, argv);
        switch (c) {
        case O_DATA: o.data_dir = optarg; break;
        case O_EPOCHS: o.epochs = (int)parse_long("--epochs", optarg, 1, 1000); break;
        case O_BATCH: o.batch_size = (int)parse_long("--batch-size", optarg, 2, 60000); break;
        case O_LR: o.lr = parse_double("--lr", optarg, 0, 1e3); break;
        case O_MOM: o.momentum = parse_double("--momentum", optarg, 0, 0.999999); break;
        case O_SEED:
            o.seed = (unsigned long long)parse_long("--seed", optarg, 0, 2147483647L);
            break;
        case O_VAL: o.val_every = (int)parse_long("--val-every", optarg, 1, 1000000); break;
        case O_NOSHUF: o.shuffle = false; break;
        case O_LIMIT: o.limit = parse_long("--limit", optarg, 2, 100000000L); break;
        case O_PLOT: o.plot = optarg; break;
        case O_CSV: o.csv = optarg; break;
        case O_SAVE: o.save_dir = optarg; break;
        case O_LOAD: o.load_dir = optarg; break;
        case O_GRAPH: o.export_graph = optarg; break;
        case O_DOT: o.export_dot = optarg; break;
        case O_QUIET: o.quiet = true; break;
        case O_NOGC: o.gradcheck = false; break;
        case 'h': case O_HELP: usage(stdout); exit(0);
        default: bad_option(longs, argc, argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mytorch-mnist: unexpected argument '%s' (see --help)\n", argv[optind]);
        exit(2);
    }
    return o;
}
