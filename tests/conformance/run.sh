#!/usr/bin/env bash
# Conformance test entry point (CTest label `conformance`): sets up the Python venv, exports the
# models if they are not cached yet, and compares fungen with ONNX Runtime on all of them.
#   tests/conformance/run.sh --fungen build/bin/fungen [--filter REGEX] [--seed N]
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # nothing written into the clone
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=$("$root/tools/setup_python.sh")
exec "$python" "$root/tests/conformance/run_conformance.py" "$@"
