#!/usr/bin/env bash
# One device call: facebookresearch/dlrm's own pipeline (its Kaggle preprocessing, loader
# and dlrm_s_pytorch.py) on the same 5M synthetic rows and DLRM split as bench/gpu-train,
# run to the end of its epoch so that its test AUC is reached (round 4 ran out of time
# before it). Here:
#   ../shared/tools/device/pack.sh bench/gpu-train.ts pipeline/train/input-worker.ts
#   ../shared/tools/device/fb-dlrm/prepare.sh DLRM_GIT_DIR .device/dlrm
#   mkdir -p .device/fb-dlrm && cp ../shared/tools/device/fb-dlrm/run.sh .device/fb-dlrm/
#   cp bench/fb_dlrm_summary.py bench/gpu-peer-auc.sh .device/
# There:  source .device/prelude.sh && OUT=... bash .device/gpu-peer-auc.sh
set -u
D=.device
OUT=${OUT:-/tmp/gpu-peer}
ROWS=${ROWS:-5000000}
W=/tmp/e2e
mkdir -p "$OUT" /tmp/fbw
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
s0=$(date +%s)
t() { echo "[$(( $(date +%s) - s0 )) s] $*" | tee -a "$OUT/timeline.txt"; }
t "device: $name  rows: $ROWS  cores: $(nproc)"
timeout 120 node $D/gpu-train.mjs --rows "$ROWS" --work $W --only-synth 2>&1 | tail -1
t synth
timeout 430 bash $D/fb-dlrm/run.sh $D/dlrm $W/synth.tsv 2048 0 --dataset-multiprocessing --processed-data-file=/tmp/fbw/kaggleAdDisplayChallenge_processed.npz > "$OUT/fb-prep.log" 2>&1
t "fb prep rc $?"
export PYTHONUNBUFFERED=1
timeout $(( 575 - ($(date +%s) - s0) )) bash $D/fb-dlrm/run.sh $D/dlrm $W/synth.tsv 2048 1 --processed-data-file=/tmp/fbw/kaggleAdDisplayChallenge_processed.npz > "$OUT/fb-run.log" 2>&1
t "fb run rc $?"
python3 $D/fb_dlrm_summary.py "$OUT/fb-run.log" "$name" "$ROWS" > "$OUT/fb-dlrm.jsonl"
cut -c1-400 "$OUT/fb-dlrm.jsonl"
tail -n 3 "$OUT/fb-run.log"
