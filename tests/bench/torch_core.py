#!/usr/bin/python3
"""torch_core.py: PyTorch 1.13's figures for the cases of tests/bench/bench.c (one thread,
float64): autograd overhead per node on a chain of 1000 add/mul ops on 1-element tensors, and
(100x784)@(784x20) forward + backward."""
import statistics
import time

import torch

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)


def chain(n=1000, repeats=51):
    w = torch.tensor(0.5, requires_grad=True)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        x = torch.tensor(1.0)
        for i in range(n):
            x = x * w if i & 1 else x + w
        x.backward()
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def matmul(n=100, k=784, m=20, repeats=301):
    a = torch.rand(n, k, requires_grad=True)
    b = torch.rand(k, m, requires_grad=True)
    g = torch.rand(n, m)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        c = a @ b
        c.backward(g)
        times.append(time.perf_counter() - t0)
    t = statistics.median(times)
    return t, 3 * 2 * n * k * m / t * 1e-9


node = chain()
t, gflops = matmul()
print(f"pytorch engine overhead: {node * 1e9:.0f} ns per node (forward+backward)")
print(f"pytorch matmul (100x784)@(784x20) fwd+bwd: {t * 1e6:.1f} us, {gflops:.2f} GFLOP/s")
