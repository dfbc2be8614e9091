#!/usr/bin/env bash
# fungen's main job in one go: export a YOLO11n ONNX model (random weights, nothing downloaded),
# draw a deterministic test picture, and detect objects in it.
#
#   scripts/demo.sh                  # builds build/ if needed; prints one JSON line
#   BUILD_DIR=build-det DEMO_DIR=/tmp/demo scripts/demo.sh
#
# Needs Debian's python3-torch, python3-torchvision and python3-venv for the export (once; the
# venv and the models are cached under ${FUNGEN_CACHE:-~/.cache/fungen}).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
fungen=$build/bin/fungen
if [[ ! -x $fungen ]]; then
    cmake -S "$root" -B "$build" >&2
    cmake --build "$build" -j"$(nproc)" --target fungen_cli >&2
fi

python=$("$root/tools/setup_python.sh")
models=$("$python" "$root/tools/export_models.py" --only yolo11 | tail -n 1)
model=$models/yolo11_640x640_static_opdefault_simp.onnx

out=${DEMO_DIR:-$(mktemp -d)}
mkdir -p "$out"
"$fungen" detect --make-test-image "$out/test.png" --size 1280x720 --seed 7
echo "+ $fungen detect --model $model $out/test.png --json" >&2
"$fungen" detect --model "$model" "$out/test.png" --json
