#!/usr/bin/env bash
# End-to-end detection test (CTest label `e2e`): sets up the Python venv, exports the models it
# needs if they are not cached yet, and compares `fungen detect` with tools/reference_detect.py.
#   tests/e2e/run.sh --fungen build/bin/fungen [--keep DIR]
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # nothing written into the clone
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=$("$root/tools/setup_python.sh")
exec "$python" "$root/tests/e2e/detect_vs_python.py" "$@"
