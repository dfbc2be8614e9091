#!/usr/bin/env bash
# bench/gpu/device_run.sh — everything issue #5/#6 measure on the GPU machine, in one command that
# builds nothing. Made here:
#   scripts/bundle.sh .devcarry/fungen <binaries...> with BUNDLE_TAR=.devcarry/fungen.tar.xz
#   scripts/bundle_ffmpeg.sh (two halves, .devcarry/ff-a.tar.xz, ff-b.tar.xz)
#   pip download ultralytics wheels into .devcarry/wheels
# and carried in the device call (`carry: [".devcarry"]`). Stages (default: all but video):
#   setup   unpack the bundle to /opt/fungen and any FFmpeg half to /opt/ff (kept while warm)
#   export  YOLO11n/11s/12s ONNX from yaml with seeded weights (bench/gpu/export_on_device.py)
#   check   CUDA unit tests, fungen_gpu_bench correctness vs the CPU path, pipeline self-checks
#   fungen  fungen timings per model and batch; convert --validate --benchmark --compare
#   torch   PyTorch eager / torch.compile peers on the same models
#   video   NVDEC vs CPU decode and decode+detect (needs both FFmpeg halves unpacked)
# Environment: MODELS (exported and timed), BATCHES, NO_UNIT=1, CHECKS / FUNGEN_D (globs of the
# hook scripts to run), TORCH_BATCHES / TORCH_BATCHES_OTHER / TORCH_MODES.
# Usage: bench/gpu/device_run.sh [stage ...]; output tables also land in $OUT/*.txt.
set -uo pipefail
stages=${*:-setup export check fungen torch}
out=${OUT:-/tmp/out}; mkdir -p "$out"
carry=${CARRY:-.devcarry}
models=${MODELS:-yolo11n yolo11s yolo12s}
has() { [[ " $stages " == *" $1 "* ]]; }
stage() { echo; echo "=== $1 ($(date +%T)) ==="; }

export NCCL_NVLS_ENABLE=0
site=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))')
for d in "$site"/nvidia/cudnn/lib "$site"/nvidia/cublas/lib "$site"/nvidia/cu13/lib /usr/local/cuda/lib64; do
  [ -d "$d" ] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d
done
export LD_LIBRARY_PATH=/opt/fungen/lib:/opt/ff/lib:$LD_LIBRARY_PATH
export PATH=/opt/fungen/bin:$PATH FUNGEN_LOG=${FUNGEN_LOG:-warn}

if has setup; then
  stage setup
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
  if [ -f "$carry/fungen.tar.xz" ]; then
    rm -rf /opt/fungen && mkdir -p /opt && tar -C /opt -xJf "$carry/fungen.tar.xz" && ls /opt/fungen/bin
  fi
  for half in "$carry"/ff-*.tar.xz; do
    [ -f "$half" ] && mkdir -p /opt/ff/lib && tar -C /opt/ff/lib -xJf "$half" && echo "unpacked $half"
  done
  if ls "$carry"/wheels/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /opt/site "$carry"/wheels/*.whl
  fi
fi
export PYTHONPATH=/opt/site${PYTHONPATH:+:$PYTHONPATH}

if has export; then
  stage export
  todo=$(for m in $models; do [ -f /opt/models/${m}_640_dyn.onnx ] || echo $m; done)
  [ -z "$todo" ] || timeout 300 python3 bench/gpu/export_on_device.py --out /opt/models $todo 2>&1 | grep -v Warning | tee "$out/export.txt"
fi

if has check; then
  stage check
  [ -x /opt/fungen/bin/fungen_unit_tests ] && [ -z "${NO_UNIT:-}" ] &&
    timeout 300 /opt/fungen/bin/fungen_unit_tests --gtest_filter='*Cuda*:*Gpu*:*GPU*' 2>&1 | tail -25 | tee "$out/unit.txt"
  for f in ${CHECKS:-bench/gpu/checks.d/*.sh}; do [ -f "$f" ] && timeout 300 bash "$f" 2>&1 | tee -a "$out/check.txt"; done
fi

if has fungen; then
  stage fungen
  for m in $models; do
    timeout 240 fungen_gpu_bench --model /opt/models/${m}_640_dyn.onnx --batches ${BATCHES:-1,8,32,128} 2>&1 | tee -a "$out/fungen.txt"
  done
  for f in ${FUNGEN_D:-bench/gpu/fungen.d/*.sh}; do [ -f "$f" ] && timeout 300 bash "$f" 2>&1 | tee -a "$out/fungen.txt"; done
fi

if has torch; then
  stage torch
  for m in $models; do
    b=${TORCH_BATCHES:-1,8,32,128}; modes=${TORCH_MODES:-eager,default,reduce-overhead}
    if [ "$m" != yolo11n ]; then b=${TORCH_BATCHES_OTHER:-1,32,128}; modes=${TORCH_MODES_OTHER:-$modes}; fi
    PYTHONUNBUFFERED=1 timeout ${TORCH_TIMEOUT:-420} python3 bench/gpu/torch_bench.py --yaml $m.yaml \
      --batches $b --modes $modes 2>&1 | grep -v Warning | tee -a "$out/torch.txt"
  done
fi

if has video; then
  stage video
  for f in bench/video/gpu.d/*.sh; do [ -f "$f" ] && timeout ${VIDEO_TIMEOUT:-540} bash "$f" 2>&1 | tee -a "$out/video.txt"; done
fi
echo; echo "=== done ($(date +%T)) ==="
