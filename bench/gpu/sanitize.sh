#!/usr/bin/env bash
# Issue 5: compute-sanitizer (memcheck, initcheck, racecheck, synccheck) over fungen's cuda backend
# on the models whose GPU results disagree with the CPU path. The sanitizer comes from the
# nvidia-cuda-sanitizer-api wheel (unpacked to /opt/san); fungen/fungen_unit_tests from the bundle.
# Env: SAN_TOOLS (default "memcheck initcheck racecheck synccheck"), SAN_MODELS.
set -uo pipefail
san=${SAN:-/opt/san/nvidia/cu13/compute-sanitizer/compute-sanitizer}
[ -x "$san" ] || { echo "sanitize: $san missing"; exit 0; }
python3 -c 'import numpy as np; np.save("/tmp/san_x.npy", np.random.default_rng(1).random((1, 3, 640, 640), dtype=np.float32))'
for tool in ${SAN_TOOLS:-memcheck initcheck racecheck synccheck}; do
  for spec in ${SAN_MODELS:-yolo11n:fp16 yolo12s:fp32}; do
    m=${spec%%:*} p=${spec##*:}
    echo "== $tool fungen infer $m $p"
    timeout ${SAN_TIMEOUT:-120} "$san" --tool "$tool" --print-limit 20 fungen infer -m /opt/models/${m}_640_dyn.onnx \
      -i /tmp/san_x.npy -o /tmp/san_y.npy --backend cuda --precision "$p" 2>&1 | grep -v '^=========     ' | tail -n 25
  done
  if command -v fungen_unit_tests > /dev/null; then
    echo "== $tool unit tests A2C2f yolo12s_p5 + yolo12s convs"
    timeout ${SAN_TIMEOUT:-120} "$san" --tool "$tool" --print-limit 20 fungen_unit_tests \
      --gtest_filter='A2C2f/CudaAttentionTest.A2C2fMatchesReference/yolo12s_p5*:CudaYolo12sConvs*' 2>&1 |
      grep -v '^=========     ' | grep -E '=====|OK|FAILED|rel|Failure' | head -n 30
  fi
done
