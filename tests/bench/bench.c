/* bench.c: `make bench`. The engine's overhead per node on tiny tensors, matmul forward +
 * backward against bare cblas_dgemm calls of the same sizes, and one MLP training step; each
 * figure next to its baseline from the same run (and PyTorch's when python3-torch is there). */
#include "mytorch/mytorch.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void bench_mlp(void);       /* bench_mlp.c */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* A chain of `len` alternating add and mul nodes on 1-element tensors, forward + backward in
 * a per-step arena: seconds per node (median over repeats). */
static double engine_overhead(int len, int repeats, mt_traversal how)
{
    mt_arena *step = mt_arena_new();
    mt_tensor *w = mt_requires_grad(mt_scalar(0.5), true);
    double *t = malloc((size_t)repeats * sizeof *t);
    for (int r = 0; r < repeats; r++) {
        mt_arena *prev = mt_arena_use(step);
        double t0 = now();
        mt_tensor *x = mt_scalar(1.0);
        for (int i = 0; i < len; i++) x = (i & 1) ? mt_mul(x, w) : mt_add(x, w);
        mt_backward_ex(x, NULL, how);
        t[r] = (now() - t0) / len;
        mt_arena_use(prev);
        mt_arena_reset(step);
    }
    double m = median(t, repeats);
    free(t);
    mt_arena_free(step);
    return m;
}

static void fill(double *p, size_t n, mt_rng *r)
{
    for (size_t i = 0; i < n; i++) p[i] = mt_rng_uniform(r) - 0.5;
}

/* (n x k) @ (k x m), forward and backward (both inputs require grad) vs the three bare dgemm
 * calls that compute the same: C = A B, dA = G B^T, dB = A^T G. */
static void matmul_vs_dgemm(int n, int k, int m, int repeats)
{
    mt_rng rng;
    mt_rng_seed(&rng, 1);
    double *A = malloc(sizeof(double) * (size_t)n * k), *B = malloc(sizeof(double) * (size_t)k * m);
    double *C = malloc(sizeof(double) * (size_t)n * m), *G = malloc(sizeof(double) * (size_t)n * m);
    double *dA = malloc(sizeof(double) * (size_t)n * k),
           *dB = malloc(sizeof(double) * (size_t)k * m);
    fill(A, (size_t)n * k, &rng); fill(B, (size_t)k * m, &rng); fill(G, (size_t)n * m, &rng);
    double flops = 3.0 * 2.0 * n * k * m;
    double *tb = malloc((size_t)repeats * sizeof *tb), *tm = malloc((size_t)repeats * sizeof *tm);

    mt_arena *step = mt_arena_new();
    mt_tensor *a = mt_requires_grad(mt_from_data(MT_SHAPE(n, k), A), true);
    mt_tensor *b = mt_requires_grad(mt_from_data(MT_SHAPE(k, m), B), true);
    for (int r = 0; r < repeats; r++) {
        /* interleaved, so both see the same machine state */
        double t0 = now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, m, k, 1, A, k, B, m, 0, C, m);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, m, 1, G, m, B, m, 0, dA, k);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, m, n, 1, A, k, G, m, 0, dB, m);
        tb[r] = now() - t0;

        mt_arena *prev = mt_arena_use(step);
        t0 = now();
        mt_tensor *g = mt_from_data(MT_SHAPE(n, m), G);
        mt_tensor *c = mt_matmul(a, b);
        mt_backward_ex(c, g, MT_TOPO);
        tm[r] = now() - t0;
        mt_arena_use(prev);
        mt_arena_reset(step);
    }
    double bare = median(tb, repeats), ours = median(tm, repeats);
    printf("matmul (%dx%d)@(%dx%d) fwd+bwd: %.1f us, %.2f GFLOP/s | bare dgemm x3: %.1f us, "
           "%.2f GFLOP/s | ratio %.2fx (target <= 1.5x)\n",
           n, k, k, m, ours * 1e6, flops / ours * 1e-9, bare * 1e6, flops / bare * 1e-9,
           ours / bare);
    mt_arena_free(step);
    free(A); free(B); free(C); free(G); free(dA); free(dB); free(tb); free(tm);
}

int main(void)
{
    openblas_set_num_threads(1);
    printf("== engine overhead, chains of 1000 add/mul nodes on 1-element tensors\n");
    double dfs = engine_overhead(1000, 301, MT_DFS), topo = engine_overhead(1000, 301, MT_TOPO);
    double last = engine_overhead(1000, 301, MT_DFS_LAST_FIRST);
    printf("engine overhead: %.0f ns per node (DFS), %.0f ns per node (DFS, last input first), "
           "%.0f ns per node (topological), forward+backward, no observer (target <= 1000 ns)\n",
           dfs * 1e9, last * 1e9, topo * 1e9);
    /* what listening costs: a trace copying every event, against the run without one above */
    mt_trace *tr = mt_trace_begin();
    double traced = engine_overhead(1000, 31, MT_DFS);
    mt_trace_end(tr);
    printf("recording a trace: %.0f ns per node (DFS), %.1fx the run without an observer "
           "(%d nodes, %d walks recorded)\n", traced * 1e9, traced / dfs, tr->nnodes, tr->nwalks);
    mt_trace_free(tr);
    printf("== matmul\n");
    matmul_vs_dgemm(100, 784, 20, 301);
    printf("== one MLP training step\n");
    bench_mlp();
    int torch = system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
    if (torch) {
        printf("== PyTorch 1.13, one thread, float64, same cases\n");
        fflush(stdout);
        if (system("/usr/bin/python3 " MT_SOURCE_DIR "/tests/bench/torch_core.py") != 0)
            printf("(the PyTorch comparison failed to run)\n");
    } else {
        printf("(python3-torch is not installed: no PyTorch figures)\n");
    }
    mt_shutdown();
    return 0;
}
