#!/usr/bin/env bash
# bench/gpu/device_run.sh `fungen` stage: CPU fp32 vs GPU fp16 detections on a TRAINED model
# (tools/train_synthetic.py: YOLO11n on synthetic shapes, real detections) over held-out images:
# the share of CPU detections (conf 0.25, IoU >= 0.9, same class) the GPU reproduces, through
# `fungen detect` (held-out images) and `fungen convert --validate` (a batch 1..64 plan; its own 8
# images and the held-out pictures).
# Carried as $CARRY/trained/{model.onnx,heldout/}.
set -uo pipefail
out=${OUT:-/tmp/out}; t=${CARRY:-.devcarry}/trained
[ -f "$t/model.onnx" ] || { echo "trained: $t/model.onnx not carried, skipped"; exit 0; }
fungen detect --model "$t/model.onnx" "$t/heldout" --json --device cpu > "$out/trained_cpu.jsonl" 2> "$out/trained_cpu.err"
fungen detect --model "$t/model.onnx" "$t/heldout" --json --device cuda:0 > "$out/trained_gpu.jsonl" 2> "$out/trained_gpu.err"
python3 bench/detect_agreement.py "$out/trained_cpu.jsonl" "$out/trained_gpu.jsonl" --min-share 0.99 -v 2>&1 | tail -n 15
fungen convert --model "$t/model.onnx" --precision fp16 --batch-range 1:64 --validate --images 8 \
  --validate-images "$t/heldout" --compare --out /tmp/trained.engine 2>&1 |
  grep -vE '^fungen (warning|info)'
