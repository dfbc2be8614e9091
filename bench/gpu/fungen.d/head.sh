#!/usr/bin/env bash
# Issue 5: YOLO's Detect head tail as one kernel (lower_head.cpp: DFL, box decode folded at plan
# time, sigmoid, concat, written into the fp32 output staging) and the head convs writing NCHW
# straight into their per-level Concat (CudaRun::placement_nchw). One machine, one call, ~3 min:
#   1. unit tests (when fungen_unit_tests is there): the synthetic heads against the reference
#      backend with FUNGEN_CUDA_HEAD unset / place / 0 and the fallbacks (*CudaHead.*), the
#      matcher and folding (*CudaHeadMatch*), the DFL cases (*Dfl*), and the exported models
#      (*CudaHeadModels*: fused vs FUNGEN_CUDA_HEAD=0 and vs the CPU, batch 1 and 3, fp16/fp32)
#      on /opt/models and, when $HEAD_MODELS_TGZ exists (default .devcarry/models37.tgz, made by
#      fungen_gpu_bench --strip-weights), the 37 test exports unpacked to /tmp/m37;
#   2. fungen_gpu_bench on $HEAD_MODEL: check vs the CPU path and timings at batches 1, 32, 128
#      with FUNGEN_CUDA_HEAD unset (all on), =place (placement only) and =0 (as before), then
#      batch 1 again unset and =0 (b1 differences are small: a second pair shows the noise);
#   3. the check (batch 1 vs the CPU) on every other /opt/models/*_640_dyn.onnx, head fused;
#   4. per-step profiles at batch 128, unset and =0 ($OUT/profile128_head.txt,
#      profile128_nohead.txt), their head steps side by side.
# Run by bench/gpu/device_run.sh's fungen stage (binaries on PATH), or by hand:
#   OUT=/tmp/out HEAD_MODEL=/opt/models/yolo11n_640_dyn.onnx bash bench/gpu/fungen.d/head.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${HEAD_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
extra=${HEAD_BENCH_ARGS:-}  # e.g. --refill-weights for weight-stripped models
tgz=${HEAD_MODELS_TGZ:-.devcarry/models37.tgz}
[ -f "$m" ] || { echo "head: $m missing, skipped"; exit 0; }
if [ -f "$tgz" ] && [ ! -d /tmp/m37 ]; then tar xzf "$tgz" -C /tmp; fi
if command -v fungen_unit_tests >/dev/null; then
  echo "== head unit tests"
  FUNGEN_TEST_MODELS=${FUNGEN_TEST_MODELS:-/tmp/m37:/opt/models} timeout 240 fungen_unit_tests \
    --gtest_filter='*CudaHead*:*CudaHeadMatch*:*Dfl*' > "$out/unit_head.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure|Which is|rel_l2|error' \
    "$out/unit_head.txt" | head -n 40
fi
for v in unset place 0; do
  echo "== FUNGEN_CUDA_HEAD=$v: check vs CPU, then timings at batches 1, 32, 128"
  if [ $v = unset ]; then
    timeout 120 fungen_gpu_bench --model "$m" $extra --batches 1,32,128 --iterations 20 2>&1 |
      grep -E '^\||check|FAILED|error'
  else
    FUNGEN_CUDA_HEAD=$v timeout 120 fungen_gpu_bench --model "$m" $extra --batches 1,32,128 \
      --iterations 20 2>&1 | grep -E '^\||check|FAILED|error'
  fi
done
for v in unset 0; do
  echo "== FUNGEN_CUDA_HEAD=$v again, batch 1 (noise)"
  if [ $v = unset ]; then
    timeout 60 fungen_gpu_bench --model "$m" $extra --no-check --batches 1 --iterations 50 2>&1 |
      grep -E '^\| 1 |error'
  else
    FUNGEN_CUDA_HEAD=0 timeout 60 fungen_gpu_bench --model "$m" $extra --no-check --batches 1 \
      --iterations 50 2>&1 | grep -E '^\| 1 |error'
  fi
done
for other in /opt/models/*_640_dyn.onnx; do
  [ -f "$other" ] && [ "$other" != "$m" ] || continue
  echo "== check, head fused: $other"
  timeout 90 fungen_gpu_bench --model "$other" --batches 1 --iterations 3 2>&1 |
    grep -E 'check|FAILED|error'
done
FUNGEN_CUDA_PROFILE=1 timeout 90 fungen_gpu_bench --model "$m" $extra --no-check --batches 128 \
  --iterations 3 > "$out/profile128_head.txt" 2>&1
FUNGEN_CUDA_HEAD=0 FUNGEN_CUDA_PROFILE=1 timeout 90 fungen_gpu_bench --model "$m" $extra \
  --no-check --batches 128 --iterations 3 > "$out/profile128_nohead.txt" 2>&1
for f in head nohead; do
  echo "== profile b128 ($f): total and the steps after the head's last convs"
  grep -E 'cuda profile:' "$out/profile128_$f.txt"
  grep -E 'detect head|Concat|Sigmoid|dfl|output |Mul_5|Div_1|Sub|Add_[78]|Slice|cv[23]\.[0-9]\.2/' \
    "$out/profile128_$f.txt" | grep -E '/model\.2[0-9]/|output ' | head -n 30
done
