#!/usr/bin/env bash
# The GPU step benchmarks of docs/gpu-step.md in one device call. Here:
#   npx tsc -p . && ../shared/tools/device/pack.sh bench/gpu-step.ts bench/fused-check.ts bench/backend-agreement.ts
#   cp bench/torch_dlrm_step.py bench/gpu-bench.sh .device/
# There, from the project root:  source .device/prelude.sh && bash .device/gpu-bench.sh
# Writes JSON lines to $OUT (or /tmp/gpu-bench): fused-check.jsonl, torch.jsonl, gpu-step.jsonl.
set -u
D=.device
OUT=${OUT:-/tmp/gpu-bench}
mkdir -p "$OUT"
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "device: $name"
# Correctness first: the fused step against the tfjs oracle; the default model on webgpu against the cpu backend.
timeout 150 node $D/fused-check.mjs --require-gpu 2>"$OUT/check.err" | tee "$OUT/fused-check.jsonl" | tail -1
timeout 40 node $D/backend-agreement.mjs --backend webgpu 2>/dev/null | tee -a "$OUT/fused-check.jsonl"
# PyTorch on the same shapes and batches; its lines give gpu-step's ratios.
export PYTHONUNBUFFERED=1
timeout 90 python3 $D/torch_dlrm_step.py --batch 2048 --steps 20 > "$OUT/torch.jsonl"
for b in 16384 65536; do timeout 90 python3 $D/torch_dlrm_step.py --batch $b --steps 6 >> "$OUT/torch.jsonl"; done
timeout 200 node $D/gpu-step.mjs --device "$name" --batch 2048 --impl fused,webgpu,composite --steps 10 --profile --torch "$OUT/torch.jsonl" 2>"$OUT/gpu-step.err" > "$OUT/gpu-step.jsonl"
timeout 150 node $D/gpu-step.mjs --device "$name" --batch 16384,65536 --impl fused --steps 6 --warmup 2 --profile --torch "$OUT/torch.jsonl" 2>>"$OUT/gpu-step.err" >> "$OUT/gpu-step.jsonl"
# The short table last (the reply carries the end of the output).
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
for (const l of lines) console.log([l.shape, l.kind, l.batch, l.impl, l.ms_per_step, l.samples_per_s, l.ratio ?? "", l.gpu_ms ?? "", l.dedupe_ms ?? "", l.error ?? ""].join(" "));
' "$OUT/gpu-step.jsonl"
