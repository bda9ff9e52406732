#!/usr/bin/env bash
# One short device call (round 8): the chunked embedding scatter (SCATTER_CHUNK lookups
# per thread instead of one thread per pair). Checks first, on the GPU: the tfjs WebGPU
# layer against the composite one (webgpu-check), the fused step's SGD cases against
# the tfjs model (fused-check); then the step at the Kaggle shape, 2048 and 65536 rows,
# with the op-group profile (gpu_ms_scatter), beside round 7's PyTorch lines. Here:
#   npx tsc -p . && ../shared/tools/device/pack.sh bench/gpu-step.ts bench/fused-check.ts bench/webgpu-check.ts
#   cp bench/gpu-round8.sh bench/results/torch-step-h200-round7.jsonl .device/
# There:  source .device/prelude.sh && OUT=... bash .device/gpu-round8.sh
set -u
D=.device
OUT=${OUT:-/tmp/gpu-round8}
mkdir -p "$OUT"
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
s0=$(date +%s)
t() { echo "[$(( $(date +%s) - s0 )) s] $*"; }
t "device: $name"
timeout 40 node $D/webgpu-check.mjs --require-gpu > "$OUT/webgpu-check.jsonl" 2> "$OUT/webgpu-check.err"
t "webgpu-check rc $?"; tail -n 1 "$OUT/webgpu-check.jsonl" | cut -c1-300
timeout 70 node $D/fused-check.mjs --require-gpu --shapes small,kaggle --only sgd --f64 none > "$OUT/fused-check.jsonl" 2> "$OUT/fused-check.err"
t "fused-check rc $?"; tail -n 1 "$OUT/fused-check.jsonl" | cut -c1-300
timeout 70 node $D/gpu-step.mjs --device "$name" --batch 2048,65536 --shapes kaggle --impl fused --steps 10 --warmup 2 --profile --op-profile --torch $D/torch-step-h200-round7.jsonl > "$OUT/gpu-step.jsonl" 2> "$OUT/gpu-step.err"
t "step rc $?"
node -e '
for (const l of require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")) {
  try { const j = JSON.parse(l); console.log([j.kind, j.batch, j.ms_per_step, "again", j.again_ms, "gpu", j.gpu_ms, "scatter", j.gpu_ms_scatter, "dense", j.gpu_ms_dense, "ratio", j.ratio_dense_16t, j.error ?? ""].join(" ")); } catch { console.log(l.slice(0, 200)); }
}' "$OUT/gpu-step.jsonl"
