#!/usr/bin/env bash
# bench/gpu/session5_test.sh — one device call that tries new kernel branches before the closing
# measurement: no FFmpeg to carry (a lean build), so one call is enough on a fresh machine.
#   Made here (ignored folder .devcarry-t, under the 64 MiB carry limit):
#     cmake -S . -B build-cuda-t -DFUNGEN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DFUNGEN_FFMPEG=OFF
#     cmake --build build-cuda-t --target fungen_unit_tests fungen_gpu_bench fungen_cli
#     B=build-cuda-t/bin; BUNDLE_TAR=.devcarry-t/fungen.tar.xz scripts/bundle.sh /tmp/bundle-t/fungen \
#       $B/fungen $B/fungen_unit_tests $B/fungen_gpu_bench
#     cp -r .devcarry-p1/wheels .devcarry-p2/models37.tgz .devcarry-t/
#   Device: OUT=$OUT S5_SCRIPTS="bench/gpu/fungen.d/a.sh ..." bash bench/gpu/session5_test.sh
# Then the CUDA unit tests of every family (S5_UNIT=0 skips them).
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
MODELS=${MODELS:-yolo11n} CARRY=${CARRY:-.devcarry-t} bash bench/gpu/device_run.sh setup export \
  > "$out/setup.txt" 2>&1
grep -E 'NVIDIA|Error|error' "$out/setup.txt" | head -n 5
site=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))')
export LD_LIBRARY_PATH=/opt/fungen/lib:$site/nvidia/cudnn/lib:$site/nvidia/cublas/lib:$site/nvidia/cu13/lib:/usr/local/cuda/lib64
export PATH=/opt/fungen/bin:$PATH FUNGEN_LOG=${FUNGEN_LOG:-warn}
[ -f "${CARRY:-.devcarry-t}/models37.tgz" ] && [ ! -d /tmp/m37 ] &&
  tar xzf "${CARRY:-.devcarry-t}/models37.tgz" -C /tmp
export FUNGEN_TEST_MODELS=/tmp/m37:/opt/models FUNGEN_TEST_YOLO11N=/opt/models/yolo11n_640_dyn.onnx
for s in ${S5_SCRIPTS:-}; do
  echo; echo "=== $s ($(date +%T)) ==="
  OUT=$out timeout "${S5_TIMEOUT:-200}" bash "$s" 2>&1 | tee "$out/$(basename "$s" .sh).txt"
done
if [ "${S5_UNIT:-1}" != 0 ]; then
  echo; echo "=== all CUDA unit tests ($(date +%T)) ==="
  timeout "${S5_UNIT_TIMEOUT:-150}" fungen_unit_tests --gtest_filter='*Cuda*:*Gpu*:*GPU*:*Stem*:*Dual*' \
    > "$out/unit_all.txt" 2>&1
  grep -E '^\[  (PASSED|FAILED) |^\[  FAILED' "$out/unit_all.txt" | head -n 20
fi
echo "=== done ($(date +%T)) ==="
