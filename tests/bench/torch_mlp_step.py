#!/usr/bin/python3
"""torch_mlp_step.py: PyTorch 1.13's time for the step tests/bench/bench_mlp.c times: the
handout's MLP, Linear(784, 20) -> BatchNorm1d(20) -> ReLU -> Linear(20, 10), cross-entropy on
a batch of 100, forward + backward + SGD step (momentum 0.9), one thread, float64.
Prints one number, the median microseconds over 200 steps after a warm-up."""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
torch.manual_seed(2024)

BATCH, WARMUP, STEPS = 100, 20, 200

mlp = torch.nn.Sequential(torch.nn.Linear(784, 20), torch.nn.BatchNorm1d(20), torch.nn.ReLU(),
                          torch.nn.Linear(20, 10))
opt = torch.optim.SGD(mlp.parameters(), lr=0.01, momentum=0.9)
loss_fn = torch.nn.CrossEntropyLoss()
x = torch.rand(BATCH, 784)
labels = torch.randint(0, 10, (BATCH,))

times = []
for s in range(WARMUP + STEPS):
    t0 = time.perf_counter()
    opt.zero_grad()
    loss = loss_fn(mlp(x), labels)
    loss.backward()
    opt.step()
    if s >= WARMUP:
        times.append((time.perf_counter() - t0) * 1e6)
print("%.1f" % statistics.median(times))
