#!/usr/bin/env bash
# One device call (issue 8, fourth round): end to end `train` on ROWS synthetic rows
# (input on a worker thread, and once on the main thread for the comparison) beside
# facebookresearch/dlrm's own pipeline on the same rows and split, plus the fused step
# beside PyTorch at batch 2048 for the step-only rate of the same call. Here:
#   npx tsc -p . && ../shared/tools/device/pack.sh bench/gpu-step.ts bench/gpu-train.ts pipeline/train/input-worker.ts && rm .device/*.map
#   ../shared/tools/device/fb-dlrm/prepare.sh DLRM_GIT_DIR .device/dlrm
#   mkdir -p .device/fb-dlrm && cp ../shared/tools/device/fb-dlrm/run.sh .device/fb-dlrm/
#   cp bench/torch_dlrm_step.py bench/fb_dlrm_summary.py bench/gpu-issue8-e2e.sh .device/
# There:  source .device/prelude.sh && bash .device/gpu-issue8-e2e.sh
# JSON lines go to $OUT: torch.jsonl, gpu-step.jsonl, gpu-train.jsonl, fb-dlrm.jsonl.
set -u
D=.device
OUT=${OUT:-/tmp/gpu-issue8-e2e}
ROWS=${ROWS:-5000000}
W=/tmp/e2e
mkdir -p "$OUT" /tmp/fbw
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
s0=$(date +%s)
t() { echo "[$(( $(date +%s) - s0 )) s] $*" | tee -a "$OUT/timeline.txt"; }
t "device: $name  rows: $ROWS  cores: $(nproc)"
timeout 120 node $D/gpu-train.mjs --rows "$ROWS" --work $W --only-synth 2>&1 | tail -1
t synth
# DLRM's preprocessing (CPU only; its own --dataset-multiprocessing) beside our runs.
( timeout 430 bash $D/fb-dlrm/run.sh $D/dlrm $W/synth.tsv 2048 0 --dataset-multiprocessing --processed-data-file=/tmp/fbw/kaggleAdDisplayChallenge_processed.npz > /tmp/fb-prep.log 2>&1; echo "prep rc $?" >> /tmp/fb-prep.log; tail -5 /tmp/fb-prep.log > "$OUT/fb-prep-tail.log" ) &
prep=$!
export PYTHONUNBUFFERED=1
timeout 40 python3 $D/torch_dlrm_step.py --batch 2048 --steps 20 > "$OUT/torch.jsonl" 2>"$OUT/torch.err"
timeout 40 node $D/gpu-step.mjs --device "$name" --torch "$OUT/torch.jsonl" --impl fused --batch 2048 --steps 20 --profile > "$OUT/gpu-step.jsonl" 2>"$OUT/gpu-step.err"
t step
timeout 150 node $D/gpu-train.mjs --rows "$ROWS" --work $W --reuse --shapes kaggle --kinds full,hashnet,scma --split dlrm --device "$name" > "$OUT/gpu-train.jsonl" 2>"$OUT/gpu-train.err"
t train
timeout 40 node $D/gpu-train.mjs --rows "$ROWS" --work $W --reuse --shapes kaggle --kinds hashnet --split dlrm --input-thread off --device "$name" >> "$OUT/gpu-train.jsonl" 2>>"$OUT/gpu-train.err"
t train, input on the main thread
grep -c "input worker thread is not available" "$OUT/gpu-train.err"
wait $prep
t fb prep: $(tail -1 /tmp/fb-prep.log)
timeout $(( 580 - ($(date +%s) - s0) )) bash $D/fb-dlrm/run.sh $D/dlrm $W/synth.tsv 2048 1 --processed-data-file=/tmp/fbw/kaggleAdDisplayChallenge_processed.npz > "$OUT/fb-run.log" 2>&1
t fb run rc $?
python3 $D/fb_dlrm_summary.py "$OUT/fb-run.log" "$name" "$ROWS" > "$OUT/fb-dlrm.jsonl"
cut -c1-300 "$OUT/fb-dlrm.jsonl"
