#!/usr/bin/env bash
# `fungen convert` on the GPU machine, whole output on stdout: plan_check.sh on the device's
# seeded YOLO11n (build time, --validate / --benchmark / --compare at batches 1..64, reload,
# stale fingerprint), then trained.sh (the trained model: `fungen detect` CPU vs GPU on held-out
# pictures, and its plan validated at batches 1..64 with those pictures, --validate-images).
# Run by session5_test.sh (S5_SCRIPTS; binaries on PATH, CARRY holding trained/).
set -uo pipefail
FUNGEN=$(command -v fungen) bash bench/gpu/plan_check.sh \
  "${CONVERT_MODEL:-/opt/models/yolo11n_640_dyn.onnx}" 1:64
bash bench/gpu/fungen.d/trained.sh
