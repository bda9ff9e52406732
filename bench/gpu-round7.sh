#!/usr/bin/env bash
# One device call (round 7): the fused step beside PyTorch at batch 2048 (Kaggle and large
# shapes) and at 16384/65536 (Kaggle, with the op-group profile), then bench/fused-check
# with the float64 yardstick on every shape, the large one included (its Adagrad cases had
# no float64 run before). Here:
#   npx tsc -p . && ../shared/tools/device/pack.sh bench/gpu-step.ts bench/fused-check.ts
#   cp bench/torch_dlrm_step.py bench/gpu-round7.sh .device/
# There:  source .device/prelude.sh && OUT=... bash .device/gpu-round7.sh
# JSON lines to $OUT: torch.jsonl, gpu-step.jsonl, fused-check.jsonl; stderr logs beside them.
set -u
D=.device
OUT=${OUT:-/tmp/gpu-round7}
mkdir -p "$OUT"
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
s0=$(date +%s)
t() { echo "[$(( $(date +%s) - s0 )) s] $*"; }
t "device: $name"
export PYTHONUNBUFFERED=1
timeout 90 python3 $D/torch_dlrm_step.py --batch 2048 --steps 20 > "$OUT/torch.jsonl" 2> "$OUT/torch.err"
for b in 16384 65536; do timeout 90 python3 $D/torch_dlrm_step.py --batch $b --shapes kaggle --steps 6 >> "$OUT/torch.jsonl" 2>> "$OUT/torch.err"; done
t torch
timeout 120 node $D/gpu-step.mjs --device "$name" --batch 2048 --impl fused --steps 20 --profile --torch "$OUT/torch.jsonl" > "$OUT/gpu-step.jsonl" 2> "$OUT/gpu-step.err"
t step 2048
timeout 150 node $D/gpu-step.mjs --device "$name" --batch 16384,65536 --shapes kaggle --impl fused --steps 6 --warmup 2 --profile --op-profile --torch "$OUT/torch.jsonl" >> "$OUT/gpu-step.jsonl" 2>> "$OUT/gpu-step.err"
t step big batches
left=$(( 560 - ($(date +%s) - s0) ))
timeout $left node $D/fused-check.mjs --require-gpu --f64 small,kaggle,large > "$OUT/fused-check.jsonl" 2> "$OUT/fused-check.err"
t "fused-check rc $?"
node -e '
const fs = require("fs");
for (const l of fs.readFileSync(process.argv[1] + "/gpu-step.jsonl", "utf8").trim().split("\n")) {
  try { const j = JSON.parse(l); console.log([j.shape, j.kind, j.batch, j.ms_per_step, "again", j.again_ms, "gpu", j.gpu_ms, "ratio", j.ratio, j.error ?? ""].join(" ")); } catch { console.log(l.slice(0, 200)); }
}' "$OUT"
tail -n 1 "$OUT/fused-check.jsonl" | cut -c1-600
