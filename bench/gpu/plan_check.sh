#!/usr/bin/env bash
# bench/gpu/plan_check.sh — `fungen convert` on the GPU machine, self-checking: the build time of
# the yolo11n plan (target <= 10 s), --validate (exit 6 on failure) with --benchmark and
# --compare, a reload that must take every cuDNN algorithm from the plan and not rebuild, and a
# plan whose fingerprint names another GPU, which must be rebuilt with one log line. Prints
# PASS/FAIL per step. Expects the bundle made here by a lean build (no FFmpeg, no oneDNN: the
# bundle stays ~10 MB instead of ~200 MB; --validate then compares with the reference kernels,
# fp32, ~0.5 s per 640x640 image):
#   cmake -S . -B build-cuda-lean -DFUNGEN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
#     -DFUNGEN_FFMPEG=OFF -DFUNGEN_ONEDNN=OFF -DFUNGEN_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-cuda-lean -j2 --target fungen_cli
#   scripts/bundle.sh bundle build-cuda-lean/bin/fungen
#   mkdir -p bundle/models && cp ~/.cache/fungen/models/<key>/yolo11_640x640_dyn_op12_nosimp.onnx bundle/models/
# Usage (on the device): bench/gpu/plan_check.sh [model.onnx] [batch range]
set -uo pipefail
model=${1:-bundle/models/yolo11_640x640_dyn_op12_nosimp.onnx}; range=${2:-1:64}
out=${OUT:-/tmp/out}; mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
site=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' 2>/dev/null)
for d in "$site"/nvidia/cudnn/lib "$site"/nvidia/cublas/lib "$site"/nvidia/cu13/lib /usr/local/cuda/lib64; do
  [ -d "$d" ] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d
done
export LD_LIBRARY_PATH=$PWD/bundle/lib:${LD_LIBRARY_PATH:-}
fungen=${FUNGEN:-bundle/bin/fungen}; w=/tmp/fungen_plans; mkdir -p "$w"; cp "$model" "$w/yolo11n.onnx"  # plans stay off $OUT
fails=0
step() { if [ "$1" -eq 0 ]; then echo "PASS: $2"; else echo "FAIL: $2"; fails=$((fails + 1)); fi; }

echo "== 1. build time, batch 1 (target <= 10 s)"
$fungen convert --model "$w/yolo11n.onnx" --batch 1 --out "$w/b1.engine" | tee "$out/plan_b1.txt"
step "${PIPESTATUS[0]}" "convert --batch 1"
echo "== 2. fp16, batch range $range: validate, benchmark, compare"
/usr/bin/time -f "convert wall time %e s" $fungen convert --model "$w/yolo11n.onnx" \
  --precision fp16 --batch-range "$range" --validate --benchmark --compare \
  --out "$w/yolo11n.engine" 2>&1 | tee "$out/plan_fp16.txt"
step "${PIPESTATUS[0]}" "convert fp16 --validate (exit 6 = validation failed)"
echo "== 2b. which part of an fp16 plan is off (step 2's --compare also validated the ONNX engine)"
# Decision table: fp16 b1 fails -> not about several batches; fp32 1:4 fails -> not about fp16;
# FUNGEN_PLAN_FP16_WEIGHTS=0 passes -> the fp16 weight storage; step 2's "ONNX fp16 without a
# plan" FAILED too -> the backend at several batches in one engine, not the plan.
$fungen convert --model "$w/yolo11n.onnx" --precision fp16 --batch 1 --validate --images 4 \
  --out "$w/fp16_b1.engine" 2>&1 | tee "$out/plan_fp16_b1.txt"
step "${PIPESTATUS[0]}" "convert fp16 --batch 1 --validate"
FUNGEN_PLAN_FP16_WEIGHTS=0 $fungen convert --model "$w/yolo11n.onnx" --precision fp16 \
  --batch-range 1:4 --validate --images 4 --out "$w/fp16_w32.engine" 2>&1 |
  tee "$out/plan_fp16_w32.txt"
step "${PIPESTATUS[0]}" "convert fp16 --batch-range 1:4 --validate, weights stored fp32"
$fungen convert --model "$w/yolo11n.onnx" --precision fp32 --batch-range 1:4 --validate \
  --images 4 --out "$w/fp32_range.engine" 2>&1 | tee "$out/plan_fp32_range.txt"
step "${PIPESTATUS[0]}" "convert fp32 --batch-range 1:4 --validate"
echo "== 3. fp32, batch 8: validate (rel L2 <= 1e-4)"
$fungen convert --model "$w/yolo11n.onnx" --precision fp32 --batch 8 --validate \
  --out "$w/fp32.engine" 2>&1 | tee "$out/plan_fp32.txt"
step "${PIPESTATUS[0]}" "convert fp32 --validate"
echo "== 4. reload: every algorithm from the plan, no rebuild"
$fungen convert --model "$w/yolo11n.onnx" --batch 8 --benchmark --iterations 5 --seconds 0 \
  --out "$w/reload.engine" 2>&1 | tee "$out/plan_reload.txt"
grep -Eq "tuned algorithms: [1-9][0-9]* from the plan, 0 measured again" "$out/plan_reload.txt"
step $? "reload takes every tuned cuDNN algorithm from the plan (none measured again)"
FUNGEN_LOG=info $fungen bench --model "$w/reload.engine" --batch 8 --iterations 5 2>&1 | tee "$out/plan_bench.txt"
! grep -q rebuilding "$out/plan_bench.txt"
step $? "an up-to-date plan is not rebuilt"
echo "== 5. a plan from another GPU is rebuilt with one log line"
python3 - "$w/reload.engine" <<'PY'
import struct, sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
key = struct.pack('<I', 6) + b'device'
i = b.index(key) + len(key); n = struct.unpack_from('<I', b, i)[0]
b[i + 4:i + 4 + n] = b'X' * n  # same length, another name
h = 0xcbf29ce484222325
for c in memoryview(b)[:-8]:
    h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
b[-8:] = struct.pack('<Q', h); open(p, 'wb').write(b)
PY
$fungen bench --model "$w/reload.engine" --batch 8 --iterations 5 2>&1 | tee "$out/plan_rebuild.txt"
[ "$(grep -c 'rebuilding' "$out/plan_rebuild.txt")" -eq 1 ] && grep -q "device 'XXXX" "$out/plan_rebuild.txt"
step $? "stale fingerprint: one 'rebuilding' line naming the device"
$fungen bench --model "$w/reload.engine" --batch 8 --iterations 5 2>&1 | tee "$out/plan_rebuilt.txt"
! grep -q rebuilding "$out/plan_rebuilt.txt"
step $? "the rewritten plan loads without rebuilding"
echo "plan_check: $fails failure(s)"
exit $((fails > 0))
