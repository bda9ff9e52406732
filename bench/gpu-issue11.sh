#!/usr/bin/env bash
# One device call for issue 11's remaining measurements at the H200 experiment's size:
#  1. the K/P ablations at 1/64 with the shared-memory init `train` uses (max-ln), three
#     seeds in three processes on one GPU, as the main grid in bench/results/quality-h200-init-maxln.*;
#  2. the embedding movement per frequency band at the experiment's model and batch
#     (ours: full/hashnet/scma on webgpu), and PyTorch with full tables on the same rows,
#     order and initial weights (bench/torch_dlrm_movement.py, on the CPU there).
# Here:
#   npx tsc -p . && ../shared/tools/device/pack.sh bench/quality.ts bench/movement.ts && rm -f .device/*.map
#   cp bench/gpu-issue11.sh bench/torch_dlrm_movement.py .device/
# There:  source .device/prelude.sh && bash .device/gpu-issue11.sh
# JSON lines and markdown go to $OUT: quality-h200-ablations-maxln.{jsonl,md},
# movement-h200-ours.jsonl, movement-h200-torch.jsonl, and the logs.
# Q, M, PY and BACKEND override the commands (a CPU dry run: Q="node dist/bench/quality.js"
# M="node dist/bench/movement.js" BACKEND=wasm ROWS=20000 SHAPE="--d 8 --bottom 13-32-8 --top 64-1").
set -u
D=.device
OUT=${OUT:-/tmp/gpu-issue11}
ROWS=${ROWS:-1000000}
BACKEND=${BACKEND:-webgpu}
Q=${Q:-node $D/quality.mjs}
M=${M:-node $D/movement.mjs}
PY=${PY:-python3}
TORCH_PY=${TORCH_PY:-$D/torch_dlrm_movement.py}
[ -f "$TORCH_PY" ] || TORCH_PY=bench/torch_dlrm_movement.py
SHAPE=${SHAPE:---d 16 --bottom 13-512-256-64-16 --top 512-256-1}
COMMON="--batch 2048 --optimizer adagrad --lr 0.05 --epochs 1 --backend $BACKEND $SHAPE"
mkdir -p "$OUT"
s0=$(date +%s)
t() { echo "[$(( $(date +%s) - s0 )) s] $*"; }
# 1. Ablations: K in {1, 4} and P in {12.5k, 1.25M} (K = 2, P = 125k is the main grid's scma).
for seed in 1 2 3; do
  timeout 400 $Q --datasets latent --rows "$ROWS" --kinds scma --compressions 1/64 --ablations --no-main --no-sharing \
    --seeds 1 --first-seed $seed --init max-ln $COMMON --out "$OUT/abl-$seed/q" --docs "$OUT/abl-$seed/docs" > "$OUT/abl-$seed.log" 2>&1 &
done
wait
t ablations; tail -n 4 "$OUT"/abl-*.log
$Q --merge "$OUT/abl-1/q.jsonl,$OUT/abl-2/q.jsonl,$OUT/abl-3/q.jsonl" --out "$OUT/quality-h200-ablations-maxln" --docs "$OUT/abl-docs"
t merged; cat "$OUT/quality-h200-ablations-maxln.md"
# 2. Movement per frequency band, ours then PyTorch on the exported rows and weights.
timeout 300 $M --rows "$ROWS" --kinds full,hashnet,scma --compression 1/16 --seed 1 $COMMON \
  --export /tmp/movement-export --out "$OUT/movement-h200-ours.jsonl" > /dev/null 2> "$OUT/movement-ours.log"
t movement ours; cat "$OUT/movement-ours.log"
timeout 300 $PY "$TORCH_PY" --data /tmp/movement-export --threads "$(( $(nproc) / 2 ))" --out "$OUT/movement-h200-torch.jsonl" > /dev/null 2> "$OUT/movement-torch.log"
t movement torch; tail -n 3 "$OUT/movement-torch.log"; grep -h '"type": "run"\|agreement' "$OUT/movement-h200-torch.jsonl" | cut -c1-300
