#!/usr/bin/env bash
# Issue 5, branch stemfuse: the stem fused into /model.1's 3x3 stride-2 conv (conv_stemfuse.cuh:
# the stem's map computed per tile into shared memory, never written; FUNGEN_CUDA_STEMFUSE=0:
# the band kernel then tile3 / igemm / cuDNN, as before; =1 fused wherever it applies; unset:
# timed at plan build). One machine, one call, ~3-4 minutes (each command has a timeout):
#   1. unit tests: CudaStemFuseTest (fused vs unfused bit for bit, vs the reference, run() vs
#      enqueue(), odd maps, batches 1 and 3, eager / capture / replay), StemFuseGeom, the stem
#      band kernel's and tile3's tests, the GPU pipeline tests;
#   2. YOLO11n vs the CPU path at batch 1 with FUNGEN_CUDA_STEMFUSE=1 (fused forced), with the
#      plan-time choice logged (FUNGEN_LOG=info: "cuda autotune: /model.0/conv/Conv -> ...");
#   3. fungen_gpu_bench at batches 1 and 128, default (auto) and FUNGEN_CUDA_STEMFUSE=0,
#      alternating twice;
#   4. the per-step profile at batch 128 (FUNGEN_CUDA_PROFILE=1, graphs off), default: the
#      model.0 / model.1 lines ($OUT/stemfuse_profile.txt);
#   5. fungen_pipeline_bench at batch 1 (enqueue path: the fused kernel reads the fp16 input;
#      checked against Engine::run's detections).
# STEMFUSE_PARTS picks parts (default "unit check bench profile pipeline").
# Run by bench/gpu/device_run.sh's fungen stage (binaries on PATH), or by hand:
#   OUT=/tmp/out STEMFUSE_MODEL=/opt/models/yolo11n_640_dyn.onnx bash bench/gpu/fungen.d/stemfuse.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${STEMFUSE_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
parts=" ${STEMFUSE_PARTS:-unit check bench profile pipeline} "
[ -f "$m" ] || { echo "stemfuse: $m missing, skipped"; exit 0; }
if [[ $parts == *" unit "* ]] && command -v fungen_unit_tests >/dev/null; then
  echo "== stemfuse unit tests"
  timeout 100 fungen_unit_tests \
    --gtest_filter='*StemFuse*:*CudaStemTest*:*CudaTile3*:*GpuPipeline*' \
    > "$out/unit_stemfuse.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure|Expected|Which is|seed|differ' \
    "$out/unit_stemfuse.txt" | head -n 40
fi
if [[ $parts == *" check "* ]]; then
  echo "== FUNGEN_CUDA_STEMFUSE=1: YOLO11n vs the CPU path at batch 1; the default's choice"
  FUNGEN_CUDA_STEMFUSE=1 timeout 30 fungen_gpu_bench --model "$m" --batches 1 --iterations 10 \
    2>&1 | grep -E '^\||check|FAILED|error|mismatch'
  FUNGEN_LOG=info timeout 30 fungen_gpu_bench --model "$m" --no-check --batches 1,128 \
    --iterations 3 2>&1 | grep -E 'model\.0/conv/Conv ->' | head -n 4
fi
if [[ $parts == *" bench "* ]]; then
  for round in 1 2; do
    for v in default off; do
      echo "== round $round, $([ $v = off ] && echo FUNGEN_CUDA_STEMFUSE=0 || echo default): batches 1, 128"
      envs=()
      [ $v = off ] && envs=(FUNGEN_CUDA_STEMFUSE=0)
      env "${envs[@]}" timeout 25 fungen_gpu_bench --model "$m" --no-check --batches 1,128 \
        --iterations 30 2>&1 | grep -E '^\||FAILED|error'
    done
  done
fi
if [[ $parts == *" profile "* ]]; then
  echo "== profile, batch 128, default (graphs off): model.0 / model.1 steps"
  FUNGEN_CUDA_PROFILE=1 timeout 30 fungen_gpu_bench --model "$m" --no-check --batches 128 \
    --iterations 3 > "$out/stemfuse_profile.txt" 2>&1
  grep -E 'ms per run|^\|' "$out/stemfuse_profile.txt" | head -n 4
  grep -E 'model\.[01]/|stem|cast input' "$out/stemfuse_profile.txt" | head -n 10
fi
if [[ $parts == *" pipeline "* ]] && command -v fungen_pipeline_bench >/dev/null; then
  echo "== frame -> detections, batch 1 (enqueue: the fused kernel reads the fp16 input)"
  timeout 30 fungen_pipeline_bench --model "$m" --batches 1 --iterations 50 2>&1 |
    tee "$out/stemfuse_pipeline.txt" | grep -iE 'check|pass|fail|mismatch|median|img/s' | head
fi
exit 0
