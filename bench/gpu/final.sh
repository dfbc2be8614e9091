#!/usr/bin/env bash
# bench/gpu/final.sh — issue 5's closing measurement, side by side on one GPU machine in two
# calls made back to back while it stays warm (each call is limited to 10 minutes; it was
# bench/gpu/session4_final.sh in session 4, where the YOLO11s/12s peers ran in the fungen call):
#
#   call 1 (carry .devcarry-p1: bundle, FFmpeg half 1, Ultralytics wheels):
#     CARRY=.devcarry-p1 bash bench/gpu/final.sh torch
#       setup + export YOLO11n/11s/12s from yaml (seeded weights), PyTorch peers on YOLO11n:
#       eager, torch.compile default and reduce-overhead at batches 1, 8, 32, 128; then (unless
#       FINAL_OTHER_PEERS=fungen) the peers on YOLO11s/12s: eager b1/b128, compile default b128,
#       reduce-overhead b1
#   call 2 (carry .devcarry-p2: FFmpeg half 2, trained model, weight-stripped test exports):
#     CARRY=.devcarry-p2 bash bench/gpu/final.sh fungen
#       unit tests (a kernel family whose tests fail is switched off for the rest of the run, and
#       the run says so), fungen checks against the CPU and timings on the three models, YOLO11n
#       timed again, A/B of each switch of FINAL_AB at batch 128, `fungen convert` checks (plan
#       build time, --validate, --benchmark, --compare), the trained-model detection agreement,
#       1080p frame -> detections at batch 1, and the batch-128 per-step profile.
# Output: tables on stdout, files in $OUT.
# Prepared here (ignored folders, each under the 64 MiB carry limit):
#   .devcarry-p1: B=build-cuda90/bin; BUNDLE_TAR=.devcarry-p1/fungen.tar.xz scripts/bundle.sh
#                 /tmp/bundle/fungen $B/fungen $B/fungen_unit_tests $B/fungen_gpu_bench
#                 $B/fungen_pipeline_bench; the first half of scripts/bundle_ffmpeg.sh's output as
#                 ff-1.tar.xz; `pip download ultralytics==8.4.190 ultralytics-thop --no-deps -d wheels`
#   .devcarry-p2: ff-2.tar.xz; trained/ (tools/train_synthetic.py: model.onnx, heldout/);
#                 models37.tgz (fungen_gpu_bench --strip-weights <test models> /tmp/m37, tar czf)
set -uo pipefail
part=${1:?torch or fungen}
out=${OUT:-/tmp/out}; mkdir -p "$out"
carry=${CARRY:-.devcarry-p2}
# The whole output also in one file: the device reply keeps only stdout's tail and a limited
# number of files (session 5 lost the YOLO11s/12s peers' rows and the unit families' lines).
exec > >(tee "$out/final_$part.log") 2>&1
export PYTHONPATH=/opt/site${PYTHONPATH:+:$PYTHONPATH}  # Ultralytics, from device_run.sh setup
hr() { echo; echo "=== $1 ($(date +%T)) ==="; }
other_peers() {
  hr "torch peers: YOLO11s, YOLO12s"
  for mm in yolo11s yolo12s; do
    PYTHONUNBUFFERED=1 timeout 150 python3 bench/gpu/torch_bench.py --yaml $mm.yaml --batches 1,128 \
      --modes eager 2>&1 | grep -E '^\|' | tail -n 2
    PYTHONUNBUFFERED=1 timeout 100 python3 bench/gpu/torch_bench.py --yaml $mm.yaml --batches 128 \
      --modes default 2>&1 | grep -E '^\|' | tail -n 1
    PYTHONUNBUFFERED=1 timeout 100 python3 bench/gpu/torch_bench.py --yaml $mm.yaml --batches 1 \
      --modes reduce-overhead 2>&1 | grep -E '^\|' | tail -n 1
  done
}

if [ "$part" = torch ]; then
  MODELS="yolo11n yolo11s yolo12s" CARRY=$carry bash bench/gpu/device_run.sh setup export
  MODELS=yolo11n TORCH_BATCHES=1,8,32,128 TORCH_MODES=eager,default,reduce-overhead \
    bash bench/gpu/device_run.sh torch
  [ "${FINAL_OTHER_PEERS:-torch}" = torch ] && other_peers
  exit 0
fi

CARRY=$carry bash bench/gpu/device_run.sh setup > /dev/null 2>&1
site=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))')
export LD_LIBRARY_PATH=/opt/fungen/lib:/opt/ff/lib:$site/nvidia/cudnn/lib:$site/nvidia/cublas/lib:$site/nvidia/cu13/lib:/usr/local/cuda/lib64
export PATH=/opt/fungen/bin:$PATH PYTHONPATH=/opt/site FUNGEN_LOG=${FUNGEN_LOG:-warn}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
[ -f "$carry/models37.tgz" ] && [ ! -d /tmp/m37 ] && tar xzf "$carry/models37.tgz" -C /tmp
m=/opt/models/yolo11n_640_dyn.onnx
row() { grep -E '^\| [0-9]|^\| batch|check fp(16|32) run 2|FAILED'; }

hr "unit tests"
# FINAL_FAMILIES: NAME:SWITCH=VALUE[:GTEST_FILTER] per kernel family (the filter defaults by name).
for fam in ${FINAL_FAMILIES:-HeadRows:FUNGEN_CUDA_HEAD=nchw:*CudaHead*:*HeadRows* StemFuse:FUNGEN_CUDA_STEMFUSE=0:*StemFuse* Upfuse:FUNGEN_CUDA_UPFUSE=0:*Upfuse* Attn:FUNGEN_CUDA_ATTN=0:*CudaAttn*:*CudaAttention*}; do
  name=${fam%%:*}; rest=${fam#*:}; off=${rest%%:*}; filter=${rest#"$off"}; filter=${filter#:}
  [ -n "$filter" ] || filter=$(case $name in DW) echo '*Depthwise*:*depthwise*';; HeadKernel) echo '*CudaHead*';; esac)
  FUNGEN_TEST_MODELS=/tmp/m37:/opt/models timeout 120 fungen_unit_tests --gtest_filter="$filter" \
    > "$out/unit_$name.txt" 2>&1
  if grep -q '^\[  PASSED' "$out/unit_$name.txt" && ! grep -q '^\[  FAILED' "$out/unit_$name.txt"; then
    echo "$name: $(grep '^\[  PASSED' "$out/unit_$name.txt")"
  else
    echo "$name: tests FAILED -> $off for the rest of this run"; export "${off?}"
    grep -E '^\[  FAILED|Failure|Which is|Expected' "$out/unit_$name.txt" | head -n 12
  fi
done
if [ -z "${FINAL_SKIP_UNIT_ALL:-}" ]; then
  FUNGEN_TEST_MODELS=/tmp/m37:/opt/models FUNGEN_TEST_YOLO11N=$m timeout 240 fungen_unit_tests \
    --gtest_filter='*Cuda*:*Gpu*:*GPU*:*Stem*:*Dual*' > "$out/unit_all.txt" 2>&1
  grep -E '^\[  (PASSED|FAILED) |^\[  FAILED' "$out/unit_all.txt" | head -n 12
fi

hr "fungen: checks against the CPU and timings"
timeout 150 fungen_gpu_bench --model $m --batches 1,8,32,128 --iterations 50 2>&1 | tee "$out/fungen_11n.txt" | row
for mm in yolo11s yolo12s; do
  echo "-- $mm"
  timeout 150 fungen_gpu_bench --model /opt/models/${mm}_640_dyn.onnx --batches 1,32,128 \
    --iterations 30 2>&1 | tee "$out/fungen_$mm.txt" | row
done

[ "${FINAL_OTHER_PEERS:-torch}" = fungen ] && other_peers

hr "fungen YOLO11n again, after the peers"
timeout 90 fungen_gpu_bench --model $m --no-check --batches 1,128 --iterations 50 2>&1 | row
for v in ${FINAL_AB:-FUNGEN_CUDA_HEAD=nchw FUNGEN_CUDA_UPFUSE=0 FUNGEN_CUDA_STEMFUSE=0}; do
  echo "-- $v, then defaults (batch 128)"
  env $v timeout 60 fungen_gpu_bench --model $m --no-check --batches 128 --iterations 30 2>&1 | row
  timeout 60 fungen_gpu_bench --model $m --no-check --batches 128 --iterations 30 2>&1 | row
done

hr "fungen convert: plan build, --validate, --benchmark, --compare"
# Whole outputs from here on: they land in final_<part>.log (session 6 lost plan_check's steps
# 3-5 and the trained plan's validation to a head/tail cut).
FUNGEN=/opt/fungen/bin/fungen timeout 200 bash bench/gpu/plan_check.sh $m 1:64 2>&1

hr "trained model: CPU vs GPU detections"
CARRY=$carry timeout 150 bash bench/gpu/fungen.d/trained.sh 2>&1

hr "1080p frame -> detections, batch 1"
timeout 60 fungen_pipeline_bench --model $m --batches 1 2>&1 | tee "$out/pipeline_final.txt" |
  grep -E '^ +(upload|letterbox|model|detections|download|sum)|FAIL|PASS pipeline' | head -n 8

[ -n "${FINAL_SKIP_PROFILE:-}" ] && { hr done; exit 0; }
hr "profile, batch 128 (graphs off)"
FUNGEN_CUDA_PROFILE=1 timeout 60 fungen_gpu_bench --model $m --no-check --batches 128 \
  --iterations 3 > "$out/profile128_final.txt" 2>&1
grep -E 'cuda profile|^ +[0-9]' "$out/profile128_final.txt" | head -n 16 | cut -c1-150
hr done
