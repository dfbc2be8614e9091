#!/usr/bin/env bash
# run_fuzz.sh — builds the libFuzzer targets with clang in build-fuzz/ and runs fuzz_onnx_import
# for a bounded time. Exits non-zero on any crash, leak, timeout or out-of-memory.
#
#   scripts/run_fuzz.sh                 # 60 s
#   FUZZ_SECONDS=600 scripts/run_fuzz.sh
#   FUZZ_BUILD_DIR=/tmp/bf scripts/run_fuzz.sh
#
# The corpus grows in $FUZZ_BUILD_DIR/fuzz/corpus (kept between runs); seeds are regenerated
# each run from tests/fuzz/make_seed_corpus.cpp plus, when Debian's libonnx-testdata is
# installed, its small node-test models. Crash inputs land in $FUZZ_BUILD_DIR/fuzz/artifacts.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-$(nproc)}

CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -DFUNGEN_FUZZ=ON -DFUNGEN_BUILD_TESTS=OFF \
  -DFUNGEN_CUDA=OFF -DFUNGEN_ONEDNN=OFF -DFUNGEN_FFMPEG=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >"$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" -j "$JOBS" --target fuzz_onnx_import fuzz_make_seed_corpus

WORK=$BUILD/fuzz
CORPUS=$WORK/corpus/onnx_import
SEEDS=$WORK/seeds/onnx_import
ARTIFACTS=$WORK/artifacts
rm -rf "$SEEDS"
mkdir -p "$CORPUS" "$SEEDS" "$ARTIFACTS"
"$BUILD/bin/fuzz_make_seed_corpus" "$SEEDS"
TESTDATA=/usr/share/libonnx-testdata/data/node
if [ -d "$TESTDATA" ]; then
  # Small real models: every attribute kind, typed and raw tensors, test inputs.
  find "$TESTDATA" \( -name model.onnx -o -name 'input_0.pb' \) -size -16k | sort >"$WORK/testdata.list"
  awk 'NR % 4 == 0' "$WORK/testdata.list" |  # every 4th: ~460 files across all ops
    while read -r f; do cp "$f" "$SEEDS/$(echo "${f#"$TESTDATA"/}" | tr / _)"; done
fi
echo "seeds: $(ls "$SEEDS" | wc -l) files; corpus: $(ls "$CORPUS" | wc -l) files; ${FUZZ_SECONDS}s"

before=$(ls "$ARTIFACTS" | wc -l)
status=0
"$BUILD/bin/fuzz_onnx_import" -max_total_time="$FUZZ_SECONDS" -timeout=5 -rss_limit_mb=2048 \
  -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/" "$CORPUS" "$SEEDS" || status=$?
after=$(ls "$ARTIFACTS" | wc -l)

echo "corpus now: $(ls "$CORPUS" | wc -l) files"
if [ "$status" -ne 0 ] || [ "$after" -ne "$before" ]; then
  echo "run_fuzz.sh: FAILED (exit $status); new artifacts in $ARTIFACTS:" >&2
  ls -t "$ARTIFACTS" | head -n $((after - before + 1)) >&2
  exit 1
fi
echo "run_fuzz.sh: no crash, leak or timeout in ${FUZZ_SECONDS}s"
