#!/usr/bin/env bash
# Issue 5: yolo12s (seeded weights) on the cuda backend was off by 5.8e-2 (fp32) / 8.1e-2 (fp16)
# against the CPU path while yolo11s and yolo12n (refilled weights) matched. Where it goes wrong:
#  1. the CUDA unit tests of YOLO12's A2C2f at yolo12n and yolo12s sizes and of the convolution
#     shapes only yolo12s has (tests/unit/test_backend_cuda_attention.cpp);
#  2. the CPU backend against the plain reference kernels on the very same model file (rules out
#     the CPU side and a chaotic weight draw of this machine's torch);
#  3. yolo12n exported with the same seeded weights (size vs. weights);
#  4. yolo12s fp32/fp16 check with each switch of the cuda backend: FUNGEN_CUDA_DIRECT=0
#     (depthwise/first conv on cuDNN), FUNGEN_CUDA_NHWC=0 (plain layout: no placement, no NHWC
#     transposes), FUNGEN_CUDA_CONV_ALGO=find (other cuDNN algorithms), FUNGEN_CUDA_GRAPHS=0,
#     FUNGEN_CUDA_POISON=1 (arena NaN-filled before every run).
#  5. (graphfix) the failures came and went between processes: run 0 of every check is eager
#     whatever FUNGEN_CUDA_GRAPHS says, so GRAPHS=0 passing once was luck, not the graph. Suspect:
#     weights uploaded with a plain cudaMemcpy (its DMA may land after the permute on the
#     non-blocking stream reads the staging buffer). The default (upload_and_wait) three times,
#     then FUNGEN_CUDA_UPLOAD=plain (the old upload) three times: the fix holds if the first
#     three pass and the race is shown if the plain ones fail; all three runs of each engine.
# Run by bench/gpu/device_run.sh's fungen stage (fungen_gpu_bench, fungen on PATH).
set -uo pipefail
out=${OUT:-/tmp/out}
m=${YOLO12_CHECK_MODEL:-/opt/models/yolo12s_640_dyn.onnx}
[ -f "$m" ] || { echo "yolo12_check: $m missing, skipped"; exit 0; }
check() {  # label, env...: the check lines of one gpu_bench run at batch 1
  local label=$1
  shift
  echo "== $label"
  env "$@" fungen_gpu_bench --model "$m" --batches 1 --iterations 1 2>&1 |
    grep -E '^check (fp16|fp32) run [0-2]|error|cuda:' | head -n 8
}
# The A/B first (the hook has 300 s).
for i in 1 2 3; do check "yolo12s default ($i of 3)"; done
for i in 1 2 3; do check "yolo12s FUNGEN_CUDA_UPLOAD=plain, the old upload ($i of 3)" FUNGEN_CUDA_UPLOAD=plain; done
if command -v fungen_unit_tests > /dev/null; then
  echo "== unit tests: A2C2f and yolo12s conv shapes"
  fungen_unit_tests --gtest_filter='A2C2f*:CudaAttentionBatches*:CudaYolo12sConvs*:CudaWeightUpload*' 2>&1 |
    grep -E 'OK|FAILED|Failure|Which|rel|output|diagnostic' | head -n 60
fi
if command -v fungen > /dev/null && python3 -c 'import numpy' 2> /dev/null; then
  echo "== cpu vs reference backend on $m (batch 1, uniform [0,1) input)"
  python3 -c 'import numpy as np; np.save("/tmp/y12_x.npy", np.random.default_rng(1).random((1, 3, 640, 640), dtype=np.float32))'
  fungen infer -m "$m" -i /tmp/y12_x.npy -o /tmp/y12_cpu.npy --backend cpu > /dev/null 2>&1
  fungen infer -m "$m" -i /tmp/y12_x.npy -o /tmp/y12_ref.npy --backend reference > /dev/null 2>&1
  python3 -c 'import numpy as np; a, b = np.load("/tmp/y12_cpu.npy"), np.load("/tmp/y12_ref.npy"); print("cpu vs reference rel L2 %.3e" % (np.linalg.norm(a - b) / np.linalg.norm(b)))'
fi
n=/tmp/y12/yolo12n_640_dyn.onnx
if [ ! -f "$n" ]; then
  timeout 120 python3 bench/gpu/export_on_device.py --out /tmp/y12 yolo12n 2>&1 | grep -v Warning | tail -n 1
fi
if [ -f "$n" ]; then
  echo "== yolo12n, seeded weights"
  fungen_gpu_bench --model "$n" --batches 1 --iterations 1 2>&1 | grep -E '^check (fp16|fp32) run 0'
fi
# The earlier switches (each a fresh process, so each a fresh draw of the race): YOLO12_VARIANTS=1.
if [ -n "${YOLO12_VARIANTS:-}" ]; then
  for v in FUNGEN_CUDA_DIRECT=0 FUNGEN_CUDA_NHWC=0 FUNGEN_CUDA_CONV_ALGO=find FUNGEN_CUDA_GRAPHS=0 \
    FUNGEN_CUDA_POISON=1; do
    check "yolo12s $v" "$v"
  done
fi
