#!/usr/bin/env bash
# README command 2: build and run the whole test suite (unit, node, conformance, e2e, fuzz,
# format). `scripts/test.sh -L unit` runs one CTest label only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
bash scripts/check-format.sh
status=0
ctest --test-dir build --output-on-failure --timeout 3600 "$@" || status=1
if [ $# -eq 0 ]; then
  bash scripts/run_fuzz.sh || status=1
fi
exit $status
