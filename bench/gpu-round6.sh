#!/usr/bin/env bash
# A short device call (issue 8, sixth round): the fused step at the Kaggle shape before
# and after the schedule/dense-Adagrad/ROBE changes (gpu-step-old.mjs: a bundle of
# 9071679), alternating, and train end to end with the input thread's deeper queue
# against the main-thread input. Here: pack.sh bench/gpu-step.ts bench/gpu-train.ts
# pipeline/train/input-worker.ts, plus esbuild of 9071679's bench/gpu-step.ts into
# .device/gpu-step-old.mjs. There: source .device/prelude.sh && bash .device/gpu-round6.sh
set -u
D=.device
OUT=${OUT:-/tmp/gpu-round6}
ROWS=${ROWS:-5000000}
W=/tmp/e2e
mkdir -p "$OUT"
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
s0=$(date +%s)
t() { echo "[$(( $(date +%s) - s0 )) s] $*"; }
for r in 1 2; do
  for v in new old; do
    f=$D/gpu-step.mjs; [ $v = old ] && f=$D/gpu-step-old.mjs
    timeout 30 node $f --device "$name" --impl fused --shapes kaggle --batch 2048 --steps 30 --profile 2>/dev/null | sed "s/^{/{\"build\":\"$v\",\"round\":$r,/" >> "$OUT/gpu-step-ab.jsonl"
    t step $v $r
  done
done
timeout 100 node $D/gpu-train.mjs --rows "$ROWS" --work $W --shapes kaggle --kinds hashnet,full,scma --split dlrm --device "$name" > "$OUT/gpu-train.jsonl" 2>"$OUT/gpu-train.err"
t train
timeout 30 node $D/gpu-train.mjs --rows "$ROWS" --work $W --reuse --shapes kaggle --kinds hashnet --split dlrm --input-thread off --device "$name" >> "$OUT/gpu-train.jsonl" 2>>"$OUT/gpu-train.err"
t train, input on the main thread
node -e '
const fs = require("fs");
for (const f of ["gpu-step-ab", "gpu-train"]) for (const l of fs.readFileSync(process.argv[1] + "/" + f + ".jsonl", "utf8").trim().split("\n")) {
  try { const j = JSON.parse(l); console.log(f === "gpu-step-ab" ? [j.build, j.round, j.kind, j.ms_per_step, "gpu", j.gpu_ms, "again", j.again_ms, "wait", j.wait_ms].join(" ") : [j.kind, j.inputThread, j.trainSamplesPerSecond, "wait", j.inputWaitSeconds, "train", j.trainSeconds, "auc", j.testAuc].join(" ")); } catch { console.log(l.slice(0, 200)); }
}' "$OUT"
