#!/usr/bin/python3
"""torch_mnist.py: the MNIST protocol of build/bin/mytorch-mnist, in PyTorch 1.13 (float64, one
thread), for comparison. Needs Debian's python3-torch and python3-numpy; nothing else in the
project does.

  torch_mnist.py bench              the default protocol (shuffled); prints times and accuracy
  torch_mnist.py compare [--epochs N]
        saves a PyTorch model's initial weights as .npy, trains it without shuffling, runs
        mytorch-mnist --no-shuffle --load-weights on the same weights, and checks that every
        validation accuracy agrees to 0.1 percentage point. Exit status 0 when they do.
"""
import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
torch.set_num_threads(1)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy()


def load(data_dir):
    tx = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz")).reshape(-1, 784)
    ty = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))
    vx = read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784)
    vy = read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz"))
    return tx, ty, vx, vy


def make_model(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(784, 20), torch.nn.BatchNorm1d(20),
                               torch.nn.ReLU(), torch.nn.Linear(20, 10)).double()


def validate(model, vx, vy):
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(vx).double() / 255.0
        pred = model(x).argmax(1).numpy()
    model.train()
    return float((pred == vy).mean())


def train(model, tx, ty, vx, vy, epochs=3, batch=100, lr=0.1, shuffle=True, seed=0):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    accs = []
    n = len(tx) // batch
    for _ in range(epochs):
        order = rng.permutation(len(tx)) if shuffle else np.arange(len(tx))
        for b in range(n):
            rows = order[b * batch:(b + 1) * batch]
            x = torch.from_numpy(tx[rows]).double() / 255.0
            y = torch.from_numpy(ty[rows].astype(np.int64))
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            if b % 100 == 0:
                accs.append(validate(model, vx, vy))
    return accs


def bench(args):
    tx, ty, vx, vy = load(args.data)
    model = make_model(args.seed)
    t0 = time.perf_counter()
    accs = train(model, tx, ty, vx, vy, epochs=args.epochs)
    t1 = time.perf_counter()
    print(f"pytorch: final validation accuracy {100 * accs[-1]:.2f}%, training loop {t1 - t0:.2f}s, "
          f"whole process {t1 - T_START:.2f}s")


def compare(args):
    tx, ty, vx, vy = load(args.data)
    model = make_model(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        wdir = os.path.join(tmp, "weights")
        os.mkdir(wdir)
        for key, value in model.state_dict().items():
            if key.endswith("num_batches_tracked"):
                continue
            np.save(os.path.join(wdir, key + ".npy"), value.detach().numpy().astype(np.float64))
        csv = os.path.join(tmp, "ours.csv")
        cmd = [args.binary, "--data", args.data, "--epochs", str(args.epochs), "--no-shuffle",
               "--load-weights", wdir, "--csv", csv, "--plot", os.path.join(tmp, "p.png"),
               "--quiet", "--no-gradcheck"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        ours = [float(line.split(",")[4]) for line in open(csv).read().splitlines()[1:]]
    theirs = train(model, tx, ty, vx, vy, epochs=args.epochs, shuffle=False)
    if len(ours) != len(theirs):
        print(f"FAIL: {len(ours)} validations from mytorch-mnist, {len(theirs)} from PyTorch")
        return 1
    worst = 0.0
    print("validation   mytorch    pytorch    difference (percentage points)")
    for i, (a, b) in enumerate(zip(ours, theirs)):
        d = 100 * abs(a - b)
        worst = max(worst, d)
        print(f"{i:10d}   {100 * a:6.2f}%    {100 * b:6.2f}%    {d:.2f}")
    ok = worst <= 0.1 + 1e-9
    print(f"{'PASS' if ok else 'FAIL'}: largest difference {worst:.2f} percentage points (limit 0.1)")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["bench", "compare"])
    p.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--binary", default=os.path.join(ROOT, "build", "bin", "mytorch-mnist"))
    args = p.parse_args()
    if args.mode == "bench":
        bench(args)
        return 0
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
