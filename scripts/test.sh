#!/usr/bin/env bash
# README command 2: build and run the whole test suite (unit, node, conformance, e2e, fuzz,
# format). `scripts/test.sh -L unit` runs one CTest label only. FUNGEN_TRAIN=1 also trains (once,
# ~10 min, cached) the model of the trained_agreement test, which is skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
status=0
bash scripts/check-format.sh || status=1
# The exported test models (cached outside the clone): conformance exports them too, but the e2e
# and video tests must not depend on test order, so export first and name the one they use.
python=$(bash tools/setup_python.sh)
models=$("$python" tools/export_models.py | tail -n 1)
export FUNGEN_TEST_MODEL=$models/yolo11_384x640_dyn_op12_simp.onnx
[ -f "$FUNGEN_TEST_MODEL" ] || { echo "test.sh: export did not produce $FUNGEN_TEST_MODEL"; exit 1; }
# Opt-in (~10 min on 2 cores, once; then cached): train the synthetic-shapes detector that the
# trained_agreement test (bf16/int8 detection agreement) needs; without it that test is skipped.
if [ "${FUNGEN_TRAIN:-0}" = 1 ]; then
  "$python" tools/train_synthetic.py || status=1
fi
ctest --test-dir build --output-on-failure --timeout 3600 "$@" || status=1
if [ $# -eq 0 ]; then
  # The full list of ONNX node-test cases run and skipped (with reasons), then the per-op summary.
  build/bin/fungen_node_tests > build/node-tests.txt 2>&1 || status=1
  echo "ONNX node tests: every case is in build/node-tests.txt"
  grep -E '^(FAIL|SKIP)' build/node-tests.txt | grep -v 'not implemented' || true
  tail -n 1 build/node-tests.txt
  bash scripts/run_fuzz.sh || status=1
fi
exit $status
