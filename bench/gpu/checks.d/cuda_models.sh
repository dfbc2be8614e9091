#!/usr/bin/env bash
# Issue 5 (cuda backend speed): every test model at batch 1 and 2 (batch 2 where the batch is
# dynamic), cuda fp16 (tol 1e-2) and fp32 (tol 1e-4) against the CPU path, one line each, all of
# them in $OUT/check_all.txt. The 37 models travel without their convolution weights (see
# bench/gpu/model_weights.h); made here by
#   build-cuda/bin/fungen_gpu_bench --strip-weights ~/.cache/fungen/models/<key> /tmp/m37
#   tar czf .devcarry/models37.tgz -C /tmp m37
# Run by bench/gpu/device_run.sh's check stage (fungen_gpu_bench on PATH).
set -uo pipefail
tgz=${CARRY:-.devcarry}/models37.tgz
out=${OUT:-/tmp/out}
if [ ! -f "$tgz" ]; then
  echo "cuda_models: $tgz not carried, skipped"
  exit 0
fi
rm -rf /tmp/m37 && tar -C /tmp -xzf "$tgz"
fungen_gpu_bench --check-all /tmp/m37 --refill-weights > "$out/check_all.txt" 2>&1
rc=$?
grep -E 'FAIL|check-all' "$out/check_all.txt" | tail -n 60
exit $rc
