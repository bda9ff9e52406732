#!/usr/bin/env bash
# One device call for docs/gpu-step.md (issue 8, second round): the step benches beside
# PyTorch, the fused step's diagnostics at the large shape, and end to end `train` on
# synthetic rows beside facebookresearch/dlrm's own pipeline on the same rows. Here:
#   npx tsc -p . && pack.sh bench/gpu-step.ts bench/gpu-train.ts && rm .device/*.map
#   ../shared/tools/device/fb-dlrm/prepare.sh DLRM_GIT_DIR .device/dlrm
#   mkdir -p .device/fb-dlrm && cp ../shared/tools/device/fb-dlrm/run.sh .device/fb-dlrm/
#   cp bench/torch_dlrm_step.py bench/gpu-issue8.sh .device/
# There:  source .device/prelude.sh && ROWS=1000000 bash .device/gpu-issue8.sh
# JSON lines go to $OUT: gpu-step.jsonl, gpu-train.jsonl, fb-dlrm.jsonl.
set -u
D=.device
OUT=${OUT:-/tmp/gpu-issue8}
ROWS=${ROWS:-1000000}
W=/tmp/e2e
mkdir -p "$OUT" /tmp/fbw
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "device: $name  rows: $ROWS  cores: $(nproc)"
s0=$(date +%s)
t() { echo "[$(( $(date +%s) - s0 )) s] $*"; }
# The rows first, so DLRM's preprocessing (CPU only, about 75 s a million rows) runs
# beside our GPU benches; its training runs alone at the end, on the processed file.
timeout 60 node $D/gpu-train.mjs --rows "$ROWS" --work $W --only-synth 2>&1 | tail -1
t synth
( timeout 120 bash $D/fb-dlrm/run.sh $D/dlrm $W/synth.tsv 2048 0 --processed-data-file=/tmp/fbw/kaggleAdDisplayChallenge_processed.npz > "$OUT/fb-prep.log" 2>&1; echo "prep rc $?" >> "$OUT/fb-prep.log" ) &
prep=$!
# Device time ran short: PyTorch's step lines are the earlier call's (same kind of GPU),
# TORCH=... to use others; the ratios in gpu-step.jsonl are against those.
TORCH=${TORCH:-$D/torch-step-h200-earlier.jsonl}
G=(node $D/gpu-step.mjs --device "$name" --impl fused --torch "$TORCH")
timeout 40 "${G[@]}" --batch 2048 --shapes large --steps 20 --profile --op-profile > "$OUT/gpu-step.jsonl" 2>"$OUT/gpu-step.err"
t step 2048
# The large shape with the whole-array initial upload of before, for the comparison.
SCMA_FUSED_INIT=whole timeout 25 "${G[@]}" --batch 2048 --shapes large --kinds full,scma --steps 20 --profile 2>>"$OUT/gpu-step.err" | sed 's/"impl":"fused"/"impl":"fused","init":"whole"/' >> "$OUT/gpu-step.jsonl"
t step whole-init
timeout 35 "${G[@]}" --batch 16384,65536 --shapes kaggle --steps 8 --warmup 2 --profile >> "$OUT/gpu-step.jsonl" 2>>"$OUT/gpu-step.err"
t step big
timeout 60 node $D/gpu-train.mjs --rows "$ROWS" --work $W --reuse --shapes kaggle --kinds full,hashnet,scma --device "$name" > "$OUT/gpu-train.jsonl" 2>"$OUT/gpu-train.err"
t train; tail -3 "$OUT/gpu-train.err"
wait $prep; tail -2 "$OUT/fb-prep.log"
t fb prep
timeout 60 bash $D/fb-dlrm/run.sh $D/dlrm $W/synth.tsv 2048 1 --processed-data-file=/tmp/fbw/kaggleAdDisplayChallenge_processed.npz > "$OUT/fb-run.log" 2>&1
t fb run
python3 - "$OUT/fb-run.log" "$name" "$ROWS" > "$OUT/fb-dlrm.jsonl" <<'PY'
import json, re, sys
log, name, rows = open(sys.argv[1]).read(), sys.argv[2], int(sys.argv[3])
ms = [float(x) for x in re.findall(r"([0-9.]+) ms/it", log)]
auc = re.findall(r"auc ([0-9.]+)", log)
steady = ms[1:] or ms
print(json.dumps({"device": name, "peer": "facebookresearch/dlrm", "rows": rows, "batch": 2048, "ms_per_it": ms, "samples_per_s": round(2048 * 1000 * len(steady) / sum(steady)) if steady else None, "test_auc": float(auc[-1]) if auc else None}))
PY
cat "$OUT/fb-dlrm.jsonl"
node -e '
const fs = require("fs");
for (const f of ["gpu-step", "gpu-train"]) for (const l of fs.readFileSync(process.argv[1] + "/" + f + ".jsonl", "utf8").trim().split("\n")) {
  try { const j = JSON.parse(l); console.log(f === "gpu-step" ? [j.shape, j.kind, j.batch, j.init ?? "", j.ms_per_step, j.samples_per_s, j.ratio, "gpu", j.gpu_ms, j.gpu_ms_again, "again", j.again_ms, "sync", j.sync_ms, "gc", j.gc_ms, "wait", j.wait_ms, "ops", j.gpu_ms_dense, j.gpu_ms_locate, j.gpu_ms_gather, j.gpu_ms_scatter, j.gpu_ms_apply, j.error ?? ""].join(" ") : l); } catch { console.log(l.slice(0, 300)); }
}' "$OUT"
