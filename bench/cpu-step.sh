#!/usr/bin/env bash
# The CPU training step side by side, in one command on one machine (issue 8, "the
# CPU path"): PyTorch CPU (bench/torch_dlrm_step.py, 1 and 2 threads), our CPU step
# (model/cpu/, --impl cpu-step) and the tfjs model's wasm step (--impl cpu-sparse,
# the default before the CPU step), Kaggle shape, full / hashnet / scma, per batch.
#
#   npx tsc -p . && PYTHON=/tmp/venv/bin/python bench/cpu-step.sh [batches] [> out.jsonl]
#
# batches: comma-separated (default 128,2048). PYTHON: an interpreter with torch
# (`python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch`; never the
# project's). Each batch runs PyTorch with sparse embedding gradients (the fair
# peer of our sparse update) on 1 then 2 threads, PyTorch's dense-gradient form (the
# bench's default, as the SCMA reference code) on 2, then ours; our lines carry
# torch_<n>t_samples_per_s and ratio_<n>t = our samples/s / PyTorch's (sparse), and
# ratio_dense_2t.
# STEPS_SMALL / STEPS_BIG (default 20 / 5): timed steps below / from batch 1024.
# SKIP_TFJS=1 leaves out the tfjs model's (slow) step. ENGINES (default "auto xnnpack"):
# the CPU step's matmul engines to run (CPU_STEP_MATMUL; auto is OpenBLAS where built).
# DEVICE names the machine in the lines (default: the CPU model and core count).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
BATCHES=${1:-128,2048}
DEVICE=${DEVICE:-"$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //') x$(nproc)"}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for b in ${BATCHES//,/ }; do
  if [ "$b" -ge 1024 ]; then steps=${STEPS_BIG:-5}; warm=2; else steps=${STEPS_SMALL:-20}; warm=5; fi
  : > "$tmp"
  for th in 1 2; do
    "$PYTHON" bench/torch_dlrm_step.py --shapes kaggle --batch "$b" --threads "$th" --steps "$steps" --warmup "$warm" --sparse | tee -a "$tmp"
  done
  "$PYTHON" bench/torch_dlrm_step.py --shapes kaggle --batch "$b" --threads 2 --steps "$steps" --warmup "$warm" | tee -a "$tmp"

  # Ours on 1 and 2 threads (--threads; each line says its count: compare ratio_<n>t
  # for the same n) with each matmul engine (each line says which), then the tfjs
  # model's step, which has one thread.
  for engine in ${ENGINES:-auto xnnpack}; do
    for th in 1 2; do
      CPU_STEP_MATMUL=$engine node dist/bench/gpu-step.js --backend wasm --shapes kaggle --kinds full,hashnet,scma --batch "$b" --impl cpu-step --threads "$th" \
        --steps "$steps" --warmup "$warm" --sync-steps 0 --torch "$tmp" --device "$DEVICE"
    done
  done
  if [ -z "${SKIP_TFJS:-}" ]; then
    node dist/bench/gpu-step.js --backend wasm --shapes kaggle --kinds full,hashnet,scma --batch "$b" --impl cpu-sparse \
      --steps "$steps" --warmup "$warm" --sync-steps 0 --torch "$tmp" --device "$DEVICE"
  fi
done
