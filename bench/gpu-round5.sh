#!/usr/bin/env bash
# One device call on a quiet machine (issue 8, fifth round; no peer preprocessing
# beside it, whose 16 processes slowed our host-bound step in the fourth): the fused
# step beside PyTorch at batch 2048, train end to end on ROWS rows with the input on a
# worker thread and on the main thread, then the fused step's correctness checks
# (schedule, dense Adagrad, ROBE). Here:
#   npx tsc -p . && ../shared/tools/device/pack.sh bench/gpu-step.ts bench/gpu-train.ts pipeline/train/input-worker.ts bench/fused-check.ts bench/webgpu-check.ts && rm .device/*.map
#   cp bench/torch_dlrm_step.py bench/gpu-round5.sh .device/
# There:  source .device/prelude.sh && bash .device/gpu-round5.sh
set -u
D=.device
OUT=${OUT:-/tmp/gpu-round5}
ROWS=${ROWS:-5000000}
W=/tmp/e2e
mkdir -p "$OUT"
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
s0=$(date +%s)
t() { echo "[$(( $(date +%s) - s0 )) s] $*"; }
t "device: $name  rows: $ROWS  cores: $(nproc)"
export PYTHONUNBUFFERED=1
timeout 40 python3 $D/torch_dlrm_step.py --batch 2048 --steps 20 > "$OUT/torch.jsonl" 2>"$OUT/torch.err"
t torch
timeout 40 node $D/gpu-step.mjs --device "$name" --torch "$OUT/torch.jsonl" --impl fused --batch 2048 --steps 20 --profile > "$OUT/gpu-step.jsonl" 2>"$OUT/gpu-step.err"
t step
timeout 150 node $D/gpu-train.mjs --rows "$ROWS" --work $W --shapes kaggle --kinds full,hashnet,scma --split dlrm --device "$name" > "$OUT/gpu-train.jsonl" 2>"$OUT/gpu-train.err"
t train
timeout 30 node $D/gpu-train.mjs --rows "$ROWS" --work $W --reuse --shapes kaggle --kinds hashnet --split dlrm --input-thread off --device "$name" >> "$OUT/gpu-train.jsonl" 2>>"$OUT/gpu-train.err"
t train, input on the main thread
grep -c "input worker thread is not available" "$OUT/gpu-train.err"
timeout 40 node $D/webgpu-check.mjs --require-gpu > "$OUT/webgpu-check.jsonl" 2>"$OUT/webgpu-check.err"; t webgpu-check rc $?
left=$(( 560 - ($(date +%s) - s0) ))
timeout $left node $D/fused-check.mjs --require-gpu > "$OUT/fused-check.jsonl" 2>"$OUT/fused-check.err"; t fused-check rc $?
node -e '
const fs = require("fs");
for (const f of ["gpu-step", "gpu-train"]) for (const l of fs.readFileSync(process.argv[1] + "/" + f + ".jsonl", "utf8").trim().split("\n")) {
  try { const j = JSON.parse(l); console.log(f === "gpu-step" ? [j.shape, j.kind, j.ms_per_step, j.samples_per_s, "ratio", j.ratio, "gpu", j.gpu_ms, "again", j.again_ms].join(" ") : [j.kind, j.inputThread, j.trainSamplesPerSecond, "wait", j.inputWaitSeconds, "train", j.trainSeconds, "auc", j.testAuc].join(" ")); } catch { console.log(l.slice(0, 200)); }
}' "$OUT"
tail -1 "$OUT/webgpu-check.jsonl" | cut -c1-300; tail -1 "$OUT/fused-check.jsonl" | cut -c1-600
