#!/usr/bin/env bash
# One device call for docs/gpu-step.md (issue 8, third round): our fused step beside
# PyTorch's on the same GPU (both shapes at batch 2048, the tfjs implementations beside
# them, and big batches), then end to end `train` on ROWS synthetic rows beside
# facebookresearch/dlrm's own pipeline on the same rows, with the same (DLRM Kaggle) split.
# Here:
#   npx tsc -p . && ../shared/tools/device/pack.sh bench/gpu-step.ts bench/gpu-train.ts && rm .device/*.map
#   ../shared/tools/device/fb-dlrm/prepare.sh DLRM_GIT_DIR .device/dlrm
#   mkdir -p .device/fb-dlrm && cp ../shared/tools/device/fb-dlrm/run.sh .device/fb-dlrm/
#   cp bench/torch_dlrm_step.py bench/fb_dlrm_summary.py bench/gpu-issue8.sh .device/
# There:  source .device/prelude.sh && bash .device/gpu-issue8.sh
# JSON lines go to $OUT: torch.jsonl, gpu-step.jsonl, gpu-train.jsonl, fb-dlrm.jsonl.
set -u
D=.device
OUT=${OUT:-/tmp/gpu-issue8}
ROWS=${ROWS:-5000000}
W=/tmp/e2e
mkdir -p "$OUT" /tmp/fbw
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "device: $name  rows: $ROWS  cores: $(nproc)"
s0=$(date +%s)
t() { echo "[$(( $(date +%s) - s0 )) s] $*"; }
# The rows first, so that DLRM's preprocessing (CPU only, about 75 s a million rows)
# runs beside our benches; its training runs alone on the GPU at the end.
timeout 120 node $D/gpu-train.mjs --rows "$ROWS" --work $W --only-synth 2>&1 | tail -1
t synth
( timeout 480 bash $D/fb-dlrm/run.sh $D/dlrm $W/synth.tsv 2048 0 --dataset-multiprocessing --processed-data-file=/tmp/fbw/kaggleAdDisplayChallenge_processed.npz > "$OUT/fb-prep.log" 2>&1; echo "prep rc $?" >> "$OUT/fb-prep.log" ) &
prep=$!
export PYTHONUNBUFFERED=1
timeout 60 python3 $D/torch_dlrm_step.py --batch 2048 --steps 20 > "$OUT/torch.jsonl" 2>"$OUT/torch.err"
for b in 16384 65536; do timeout 45 python3 $D/torch_dlrm_step.py --batch $b --shapes kaggle --steps 10 >> "$OUT/torch.jsonl" 2>>"$OUT/torch.err"; done
t torch
G=(node $D/gpu-step.mjs --device "$name" --torch "$OUT/torch.jsonl")
timeout 60 "${G[@]}" --impl fused --batch 2048 --steps 20 --profile --op-profile > "$OUT/gpu-step.jsonl" 2>"$OUT/gpu-step.err"
t fused 2048
timeout 70 "${G[@]}" --impl webgpu,composite --batch 2048 --steps 10 >> "$OUT/gpu-step.jsonl" 2>>"$OUT/gpu-step.err"
t tfjs 2048
# Big batches: enough steps that the pipeline's fill is a small part; the dedupe pool at
# its default size (min(4, cores - 2)) and at 8 workers.
for w in 4 8; do
  SCMA_DEDUPE_WORKERS=$w timeout 50 "${G[@]}" --impl fused --shapes kaggle --batch 16384,65536 --steps 24 --warmup 3 --profile 2>>"$OUT/gpu-step.err" | sed "s/\"impl\":\"fused\"/\"impl\":\"fused\",\"dedupe_workers\":$w/" >> "$OUT/gpu-step.jsonl"
  t big batches, $w dedupe workers
done
timeout 200 node $D/gpu-train.mjs --rows "$ROWS" --work $W --reuse --shapes kaggle --kinds full,hashnet,scma --split dlrm --device "$name" > "$OUT/gpu-train.jsonl" 2>"$OUT/gpu-train.err"
t train; tail -2 "$OUT/gpu-train.err"
wait $prep; tail -2 "$OUT/fb-prep.log"
t fb prep
timeout 100 bash $D/fb-dlrm/run.sh $D/dlrm $W/synth.tsv 2048 1 --processed-data-file=/tmp/fbw/kaggleAdDisplayChallenge_processed.npz > "$OUT/fb-run.log" 2>&1
t fb run
python3 $D/fb_dlrm_summary.py "$OUT/fb-run.log" "$name" "$ROWS" > "$OUT/fb-dlrm.jsonl"
cat "$OUT/fb-dlrm.jsonl" | cut -c1-300
node -e '
const fs = require("fs");
for (const f of ["gpu-step", "gpu-train"]) for (const l of fs.readFileSync(process.argv[1] + "/" + f + ".jsonl", "utf8").trim().split("\n")) {
  try { const j = JSON.parse(l); console.log(f === "gpu-step" ? [j.shape, j.kind, j.batch, j.impl, j.dedupe_workers ?? "", j.ms_per_step, j.samples_per_s, "ratio", j.ratio, "gpu", j.gpu_ms, "again", j.again_ms, "wait", j.wait_ms, "gc", j.gc_ms, j.error ?? ""].join(" ") : [j.kind, j.samplesPerSecond, j.trainSamplesPerSecond, "wait", j.inputWaitSeconds, "train", j.trainSeconds, "auc", j.testAuc, j.oracleAuc, JSON.stringify(j.stageSeconds)].join(" ")); } catch { console.log(l.slice(0, 300)); }
}' "$OUT"
