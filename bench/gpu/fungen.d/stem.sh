#!/usr/bin/env bash
# Issue 5, branch stem: the stem band kernel (conv_stem.cuh; reads the fp32 input staging under
# Engine::run, so the input cast is skipped; FUNGEN_CUDA_STEM=old: the first kernel) and the dual
# store (a value read by a Concat and by other nodes written into both by its producer, and a
# C3k2 Split half read by the bottleneck written packed by cv1 beside its concat slice;
# FUNGEN_CUDA_DUAL=0: the Concat and Split copy, as before). One machine, one call, ~4 minutes:
#   1. the unit tests of both (fresh random inputs vs the reference backend; the stem's enqueue
#      path; Concat copies counted, YOLO11n against the CPU backend) and of what they touch (the
#      kernel, igemm, several-batch, GPU pipeline tests) when fungen_unit_tests is there;
#   2. fungen_gpu_bench on YOLO11n at batches 1, 32, 128: defaults (with the check vs the CPU
#      path), then each switch off, then both off (as before this branch);
#   3. fungen_pipeline_bench (1080p frame -> detections, the enqueue path with fp16 input, checked
#      against Engine::run's detections) at batches 1 and 8;
#   4. the per-step profile at batch 128 (FUNGEN_CUDA_PROFILE=1, graphs off), defaults and both
#      switches off: the stem, input cast, Concat, Split and MaxPool lines
#      ($OUT/stem_profile_*.txt) and the count of copy pieces left.
# Run by bench/gpu/device_run.sh's fungen stage (binaries on PATH), or by hand:
#   OUT=/tmp/out STEM_MODEL=/opt/models/yolo11n_640_dyn.onnx bash bench/gpu/fungen.d/stem.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${STEM_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
[ -f "$m" ] || { echo "stem: $m missing, skipped"; exit 0; }
if command -v fungen_unit_tests >/dev/null; then
  echo "== stem + dual store unit tests"
  FUNGEN_TEST_YOLO11N="$m" timeout 150 fungen_unit_tests \
    --gtest_filter='*Stem*:*Dual*:*CudaKernelTest*:*CudaSeveralBatches*:*CudaIgemm*:*GpuPipeline*' \
    > "$out/unit_stem.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure|error|concat pieces copied' \
    "$out/unit_stem.txt" | head -n 40
fi
bench() {  # label, env assignments...
  local label=$1 check=--no-check
  shift
  [ "$label" = defaults ] && check=
  echo "== $label: batches 1, 32, 128 ${check:-(and the check vs CPU)}"
  env "$@" timeout 100 fungen_gpu_bench --model "$m" $check --batches 1,32,128 --iterations 20 \
    2>&1 | grep -E '^\||check|FAILED|error'
}
bench defaults
bench "FUNGEN_CUDA_STEM=old" FUNGEN_CUDA_STEM=old
bench "FUNGEN_CUDA_DUAL=0" FUNGEN_CUDA_DUAL=0
bench "both off (as before)" FUNGEN_CUDA_STEM=old FUNGEN_CUDA_DUAL=0
echo "== frame -> detections (GPU pipeline: the stem reads the fp16 input under enqueue; its check"
echo "   compares with the same engine's Engine::run path, where the stem reads the fp32 staging)"
timeout 60 fungen_pipeline_bench --model "$m" --batches 1,8 --iterations 50 2>&1 |
  tee "$out/stem_pipeline.txt" | grep -iE 'check|pass|fail|mismatch|median|img/s' | head -n 20
for v in on off; do
  envs=()
  [ $v = off ] && envs=(FUNGEN_CUDA_STEM=old FUNGEN_CUDA_DUAL=0)
  echo "== profile, batch 128, switches $v (graphs off): stem, cast, Concat, MaxPool steps"
  env "${envs[@]}" FUNGEN_CUDA_PROFILE=1 timeout 60 fungen_gpu_bench --model "$m" --no-check \
    --batches 128 --iterations 3 > "$out/stem_profile_$v.txt" 2>&1
  grep -E 'ms per run|^\|' "$out/stem_profile_$v.txt" | head -n 4
  grep -E 'stem|cast input|Concat|Split|MaxPool|model\.0/' "$out/stem_profile_$v.txt" | head -n 50
  echo "copy pieces: $(grep -c '(piece' "$out/stem_profile_$v.txt")"
done
