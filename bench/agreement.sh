#!/usr/bin/env bash
# bf16 and int8 vs fp32 on a TRAINED detector (tools/train_synthetic.py: YOLO11n on synthetic
# shapes), whose detections are real objects, a handful per image. (The random-weight test models
# put nearly every anchor above conf 0.25, so their detection shares measure score near-ties.)
# Trains and caches the model first if it is missing (~10 min on 2 cores; then instant).
#
#   bench/agreement.sh [--fungen build/bin/fungen] [--threads N] [--cached]
#
# --cached: never train; exit 77 with one line if the model is not cached.
# Prints, per precision, the `fungen compare-precision --json` line and a one-line summary.
# Timing and agreement together on the same model and images:
#   dir=$("$python" tools/train_synthetic.py)
#   "$python" bench/cpu_vs_ort --model "$dir/yolo11_shapes_640x640_static_opdefault_simp.onnx" \
#     --precision int8 --calibrate "$dir/calib" --images "$dir/heldout"
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fungen=$root/build/bin/fungen
threads=0
cached=()
while [ $# -gt 0 ]; do
  case $1 in
    --fungen) fungen=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --cached) cached=(--cached); shift ;;
    *) echo "agreement.sh: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ -x "$fungen" ] || { echo "agreement.sh: no fungen at $fungen (build it: scripts/build.sh, or pass --fungen)" >&2; exit 2; }
python=$(bash "$root/tools/setup_python.sh")
set +e
if [ ${#cached[@]} -gt 0 ]; then
  dir=$("$python" "$root/tools/train_synthetic.py" --cached 2>/dev/null | tail -n 1)
else
  dir=$("$python" "$root/tools/train_synthetic.py" | tail -n 1)
fi
rc=$?
set -e
if [ $rc -eq 2 ] && [ ${#cached[@]} -gt 0 ]; then
  echo "agreement.sh: SKIP: the trained model is not cached (run tools/train_synthetic.py, ~10 min)"
  exit 77
fi
[ $rc -eq 0 ] && [ -d "$dir" ] || { echo "agreement.sh: tools/train_synthetic.py failed (exit $rc)" >&2; exit 1; }

model_src=$dir/$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["static"])' "$dir/summary.json")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$work/shapes.onnx  # a copy: int8 writes its calibration next to the model
cp "$model_src" "$model"
echo "model: $model_src"
echo "trained: $(cat "$dir/summary.json" | tr -d '\n ')"

share() {  # JSON line -> one summary line
  "$python" -c '
import json, sys
j = json.loads(sys.stdin.read())
d = j["detections"][0]
p, r, n, m, c = j["precision"], d["reproduced"], d["fp32_detections"], d["detections"], d["conf"]
a, k = d.get("fp32_anchors", 0), d.get("anchors_kept", 0)
print(f"{p}: {r}/{n} fp32 detections reproduced ({100 * r / max(n, 1):.2f}%) at conf {c}, {p} made {m}; "
      f"before NMS {k}/{a} fp32 candidate anchors kept")
'
}

for precision in bf16 int8; do
  extra=()
  [ "$precision" = int8 ] && extra=(--calibrate "$dir/calib" --calibration "$work/shapes.int8.json")
  out=$("$fungen" compare-precision --model "$model" --precision "$precision" --images "$dir/heldout" \
    --threads "$threads" --json "${extra[@]}")
  echo "$out"
  echo "$out" | share
done
