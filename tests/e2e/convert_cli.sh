#!/usr/bin/env bash
# `fungen convert` end to end on the CPU (CTest label `e2e`): the GPU default says "no CUDA
# device:" with exit 3 when there is none; a CPU plan of a YOLO export is built, validated against
# the CPU fp32 path (generated images, then real pictures) and benchmarked; a plan from "another
# machine" is rebuilt by the next load with one log line; --dir converts a folder. Model: $FUNGEN_TEST_MODEL (scripts/test.sh sets it).
#   tests/e2e/convert_cli.sh build/bin/fungen
set -uo pipefail
fungen=$1
model=${FUNGEN_TEST_MODEL:-}
if [ -z "$model" ] || [ ! -f "$model" ]; then  # not run through scripts/test.sh: export it
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  python=$(bash "$root/tools/setup_python.sh") || { echo "convert_cli: no Python venv"; exit 1; }
  model=$("$python" "$root/tools/export_models.py" | tail -n 1)/yolo11_384x640_dyn_op12_simp.onnx
  [ -f "$model" ] || { echo "convert_cli: the export did not produce $model"; exit 1; }
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp "$model" "$work/m.onnx"
fail() { echo "convert_cli: FAIL: $*"; exit 1; }

# The default backend is cuda: on a machine with a GPU this builds a plan (exit 0).
"$fungen" convert --model "$work/m.onnx" --out "$work/gpu.engine" >"$work/out.txt" 2>&1; code=$?
if [ $code -ne 0 ]; then
  [ $code -eq 3 ] || { cat "$work/out.txt"; fail "no GPU: exit $code, expected 3"; }
  grep -q "^fungen: error: no CUDA device:" "$work/out.txt" || fail "no 'no CUDA device:' line"
fi

"$fungen" convert --model "$work/m.onnx" --backend cpu --batch-range 1:2 --validate --images 2 \
  --benchmark --iterations 1 --seconds 0 --threads 2 >"$work/out.txt" 2>&1 ||
  { code=$?; cat "$work/out.txt"; fail "cpu plan: exit $code"; }
cat "$work/out.txt"
grep -q "validation PASSED" "$work/out.txt" || fail "validation did not pass"
grep -q "^built $work/m.engine in" "$work/out.txt" || fail "no build line"
[ "$(grep -c ' batch ' "$work/out.txt")" -ge 4 ] || fail "validate/benchmark lines per batch"

# --validate-images: real pictures too (any size, letterboxed as detect does); a folder without
# pictures is one error line and a non-zero exit.
mkdir "$work/pics" "$work/empty"
ffmpeg -v error -f lavfi -i testsrc2=size=480x270 -frames:v 2 "$work/pics/p%d.png" ||
  fail "ffmpeg could not draw the test pictures"
"$fungen" convert --model "$work/m.onnx" --backend cpu --validate --images 0 --threads 2 \
  --validate-images "$work/pics" --out "$work/pics.engine" >"$work/out.txt" 2>&1 ||
  { code=$?; cat "$work/out.txt"; fail "--validate-images: exit $code"; }
grep -q "and the pictures of $work/pics" "$work/out.txt" || fail "--validate-images not named"
grep -q "validation PASSED" "$work/out.txt" || fail "--validate-images did not pass"
"$fungen" convert --model "$work/m.onnx" --backend cpu --validate --validate-images "$work/empty" \
  --out "$work/e.engine" >"$work/out.txt" 2>&1 && fail "a folder without pictures passed"
grep -q "^fungen: error: .*empty: no .png/.jpg/.jpeg images" "$work/out.txt" ||
  { cat "$work/out.txt"; fail "no error line naming the empty folder"; }

# A plan from another machine: same-length device name, checksum recomputed.
python3 - "$work/m.engine" <<'PY'
import struct, sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
key = struct.pack('<I', 6) + b'device'
i = b.index(key) + len(key); n = struct.unpack_from('<I', b, i)[0]
b[i + 4:i + 4 + n] = b'X' * n
h = 0xcbf29ce484222325
for c in memoryview(b)[:-8]:
    h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
b[-8:] = struct.pack('<Q', h); open(p, 'wb').write(b)
PY
"$fungen" bench --model "$work/m.engine" --iterations 1 --warmup 1 --threads 2 >"$work/b.txt" 2>&1 ||
  fail "bench on a stale plan: exit $?"
[ "$(grep -c 'rebuilding' "$work/b.txt")" -eq 1 ] || { cat "$work/b.txt"; fail "one rebuild line"; }
"$fungen" bench --model "$work/m.engine" --iterations 1 --warmup 1 --threads 2 >"$work/b.txt" 2>&1
grep -q rebuilding "$work/b.txt" && fail "the rewritten plan was rebuilt again"

mkdir "$work/dir" && cp "$model" "$work/dir/a.onnx" && cp "$model" "$work/dir/b.onnx"
"$fungen" convert --dir "$work/dir" --pattern 'a*.onnx' --backend cpu >"$work/d.txt" 2>&1 ||
  fail "--dir: exit $?"
[ -f "$work/dir/a.engine" ] && [ ! -f "$work/dir/b.engine" ] || fail "--dir --pattern"
echo "convert_cli: PASS"
