#!/usr/bin/env bash
# bench/gpu/run.sh — one call on the GPU machine: fungen's cuda backend checked against the CPU
# path, then timed per batch; then the PyTorch peers on the same architecture. Builds nothing:
# it expects the bundle made here by
#   scripts/bundle.sh bundle build-cuda/bin/fungen_gpu_bench build-cuda/bin/fungen_pipeline_bench
#   cp ~/.cache/fungen/models/<key>/yolo11_640x640_dyn_op12_nosimp.onnx bundle/models/
#   pip download ultralytics==8.4.190 ultralytics-thop==2.2.3 --no-deps -d bundle/wheels
# Usage (on the device): bench/gpu/run.sh [fungen|pipeline|torch|all] [batches] [torch modes]
set -uo pipefail
what=${1:-all}; batches=${2:-1,8,32,128}; modes=${3:-eager,default,reduce-overhead}
out=${OUT:-/tmp/out}; mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
# cuDNN and cuBLAS: the CUDA 13 wheels PyTorch brings (the bundle leaves them out).
site=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))')
for d in "$site"/nvidia/cudnn/lib "$site"/nvidia/cublas/lib "$site"/nvidia/cu13/lib /usr/local/cuda/lib64; do
  [ -d "$d" ] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d
done
export LD_LIBRARY_PATH=$PWD/bundle/lib:$LD_LIBRARY_PATH
if [[ $what == fungen || $what == all ]]; then
  for m in bundle/models/*.onnx; do
    FUNGEN_LOG=${FUNGEN_LOG:-warn} bundle/bin/fungen_gpu_bench --model "$m" --batches "$batches" 2>&1 | tee -a "$out/fungen.txt"
  done
fi
if [[ $what == pipeline || $what == all ]] && [[ -x bundle/bin/fungen_pipeline_bench ]]; then
  # GPU pre/post-processing vs the CPU path, then frame (1080p BGR in host memory) → detections.
  for m in bundle/models/*.onnx; do
    FUNGEN_LOG=${FUNGEN_LOG:-warn} bundle/bin/fungen_pipeline_bench --model "$m" --batches "${PIPELINE_BATCHES:-1,8,32}" 2>&1 | tee -a "$out/pipeline.txt"
  done
fi
if [[ $what == torch || $what == all ]]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site bundle/wheels/*.whl && export PYTHONPATH=/tmp/site
  PYTHONUNBUFFERED=1 python3 bench/gpu/torch_bench.py --yaml yolo11n.yaml --batches "$batches" --modes "$modes" 2>&1 | tee -a "$out/torch.txt"
fi
