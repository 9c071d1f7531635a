/* bench_mlp.c: one training step of the handout's MLP, Linear(784, 20) -> BatchNorm1d(20) ->
 * ReLU -> Linear(20, 10) with cross-entropy on a batch of 100: forward, backward (topological),
 * SGD step, arena reset. The median over 200 steps after a warm-up, next to PyTorch's figure
 * for the same step (tests/bench/torch_mlp_step.py) when python3-torch is installed. */
#include "mytorch/mytorch.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BATCH 100
#define WARMUP 20
#define STEPS 200

void bench_mlp(void);

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* PyTorch's microseconds for the same step, or a negative number when it cannot be had. */
static double torch_step_us(void)
{
    if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) return -1;
    FILE *p = popen("/usr/bin/python3 " MT_SOURCE_DIR "/tests/bench/torch_mlp_step.py", "r");
    if (!p) return -1;
    double us = -1;
    if (fscanf(p, "%lf", &us) != 1) us = -1;
    if (pclose(p) != 0) us = -1;
    return us;
}

void bench_mlp(void)
{
    mt_rng rng;
    mt_rng_seed(&rng, 2024);
    mt_module *layers[4] = { mt_linear_new(784, 20, &rng), mt_batchnorm1d_new(20, 1e-5, 0.1),
                             mt_relu_new(), mt_linear_new(20, 10, &rng) };
    mt_module *mlp = mt_sequential_new(4, layers);
    mt_tensor *params[6];
    int np = mt_module_parameters(mlp, params, 6);
    mt_sgd *opt = mt_sgd_new(params, np, 0.01, 0.9);

    mt_arena *data = mt_arena_new(), *step = mt_arena_new();
    mt_arena *prev = mt_arena_use(data);
    mt_tensor *x = mt_rand(MT_SHAPE(BATCH, 784), 0.0, 1.0, &rng);   /* (100, 784) */
    mt_tensor *labels = mt_empty(MT_SHAPE(BATCH));                  /* (100,) */
    for (int i = 0; i < BATCH; i++) labels->data[i] = (double)mt_rng_below(&rng, 10);
    mt_arena_use(prev);

    static double t[STEPS];
    for (int s = 0; s < WARMUP + STEPS; s++) {
        double t0 = now_us();
        prev = mt_arena_use(step);
        mt_sgd_zero_grad(opt);
        mt_tensor *loss = mt_cross_entropy(mt_module_forward(mlp, x), labels);
        mt_backward_ex(loss, NULL, MT_TOPO);
        mt_sgd_step(opt);
        mt_arena_use(prev);
        mt_arena_reset(step);
        if (s >= WARMUP) t[s - WARMUP] = now_us() - t0;
    }
    qsort(t, STEPS, sizeof t[0], cmp_double);
    double ours = t[STEPS / 2];
    printf("mlp step (batch %d): %.1f us\n", BATCH, ours);
    fflush(stdout);

    double theirs = torch_step_us();
    if (theirs > 0)
        printf("mlp step (batch %d), PyTorch 1.13 (1 thread, float64): %.1f us | PyTorch/ours "
               "%.2fx (target >= 5x)\n",
               BATCH, theirs, theirs / ours);
    else
        printf("(no PyTorch figure for the mlp step: python3-torch missing or failed)\n");

    mt_arena_free(step);
    mt_arena_free(data);
    mt_sgd_free(opt);
    mt_module_free(mlp);
}
