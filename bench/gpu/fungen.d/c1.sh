#!/usr/bin/env bash
# Issue 5, branch c1: Split pieces read in their Concat slice (FUNGEN_CUDA_STRIDED_IN, default on:
# the "(piece of the concat)" copies go) and the persistent 1x1 kernel (FUNGEN_CUDA_PERSIST=auto
# by default: timed beside the igemm tiles; 1 only it for the 1x1s it takes; 0 never).
# One machine; stages (C1_STAGES, default "unit bench profile"), each well under 10 minutes:
#   unit    the kernel, model and autotune tests (*Igemm*:*Autotune*: strided input, persistent
#           kernel with every tile, C2f/C3k blocks without Split copies), then every other cuda
#           test with FUNGEN_CUDA_IGEMM=1 FUNGEN_CUDA_PERSIST=1;
#   bench   fungen_gpu_bench at batches 1, 32, 128 for each switch setting (check vs the CPU path
#           on all but the baseline), table rows and check lines;
#   profile batch 128 profiles (graphs off) of base, strided and default, joined per node
#           ($OUT/c1_vs_base.txt; $OUT/c1_persist_vs_strided.txt: the persistent kernel alone),
#           the Split copies left in each, the autotune choices of the default
#           ($OUT/c1_choices_b128.txt: "persistent" = the new kernel won).
# The three stages together may pass 10 minutes: one device call per stage then.
# By hand (binaries on PATH):
#   OUT=/tmp/out C1_STAGES="unit bench profile" bash bench/gpu/fungen.d/c1.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${C1_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
extra=${C1_BENCH_ARGS:-}  # e.g. --refill-weights for weight-stripped models
stages=${C1_STAGES:-unit bench profile}
here=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$m" ] || { echo "c1: $m missing, skipped"; exit 0; }
has() { [[ " $stages " == *" $1 "* ]]; }

if has unit && command -v fungen_unit_tests >/dev/null; then
  echo "== unit: igemm, persistent 1x1, strided input, autotune"
  timeout 300 fungen_unit_tests --gtest_filter='*Igemm*:*Autotune*' > "$out/c1_unit.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure' "$out/c1_unit.txt" | head -n 40
  echo "== unit: every other cuda test with FUNGEN_CUDA_IGEMM=1 FUNGEN_CUDA_PERSIST=1"
  FUNGEN_CUDA_IGEMM=1 FUNGEN_CUDA_PERSIST=1 timeout 200 fungen_unit_tests \
    --gtest_filter='*Cuda*:-*Igemm*:*Autotune*' > "$out/c1_unit_persist.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran' "$out/c1_unit_persist.txt" | tail -n 25
fi

# name:environment (comma-separated assignments)
variants=(
  "base:FUNGEN_CUDA_STRIDED_IN=0,FUNGEN_CUDA_PERSIST=0"
  "strided:FUNGEN_CUDA_STRIDED_IN=1,FUNGEN_CUDA_PERSIST=0"
  "persist-auto:FUNGEN_CUDA_STRIDED_IN=0,FUNGEN_CUDA_PERSIST=auto"
  "default:FUNGEN_CUDA_STRIDED_IN=1,FUNGEN_CUDA_PERSIST=auto"
  "persist-only:FUNGEN_CUDA_STRIDED_IN=1,FUNGEN_CUDA_PERSIST=1"
)
envs_of() { tr ',' ' ' <<< "${1#*:}"; }

if has bench; then
  for v in "${variants[@]}"; do
    name=${v%%:*}
    check=
    [ "$name" = base ] && check=--no-check
    echo "== bench $name ($(envs_of "$v")) batches 1, 32, 128 ${check:-with the check vs CPU}"
    # shellcheck disable=SC2046
    env $(envs_of "$v") timeout 240 fungen_gpu_bench --model "$m" $extra $check \
      --batches 1,32,128 --iterations 20 > "$out/c1_bench_$name.txt" 2>&1
    echo "exit $?"
    grep -E '^\||check|FAILED|error' "$out/c1_bench_$name.txt" | sed "s/^/[$name] /"
  done
fi

if has profile; then
  for v in "${variants[0]}" "${variants[1]}" "${variants[3]}"; do
    name=${v%%:*}
    # shellcheck disable=SC2046
    env $(envs_of "$v") FUNGEN_LOG=info FUNGEN_CUDA_PROFILE=1 timeout 200 fungen_gpu_bench \
      --model "$m" $extra --no-check --batches 128 --iterations 3 > "$out/c1_profile128_$name.txt" 2>&1
    echo "== profile b128 $name: exit $?, $(grep -c 'piece of the concat' \
      "$out/c1_profile128_$name.txt") Split copy steps," \
      "$(grep -c 'igemm persistent' "$out/c1_profile128_$name.txt") persistent convs"
    grep -E 'cuda profile:' "$out/c1_profile128_$name.txt"
  done
  grep 'cuda autotune:' "$out/c1_profile128_default.txt" > "$out/c1_choices_b128.txt"
  echo "autotune (default): persistent $(grep -c 'persistent, chosen' "$out/c1_choices_b128.txt")," \
    "igemm $(grep -- '-> igemm' "$out/c1_choices_b128.txt" | grep -vc persistent)," \
    "cudnn $(grep -c -- '-> cudnn' "$out/c1_choices_b128.txt")"
  grep -E 'persistent|xld=|strided' "$out/c1_choices_b128.txt" | sed -E 's/^.*cuda autotune: //' |
    cut -c1-200 | head -n 40
  python3 "$here/profile_compare.py" "$out/c1_profile128_base.txt" \
    "$out/c1_profile128_default.txt" > "$out/c1_vs_base.txt"
  python3 "$here/profile_compare.py" "$out/c1_profile128_strided.txt" \
    "$out/c1_profile128_default.txt" > "$out/c1_persist_vs_strided.txt"
  echo "== per step at batch 128 (ms per run, graphs off): base vs default"
  head -n 60 "$out/c1_vs_base.txt"
  echo "== the persistent kernel alone: strided (PERSIST=0) vs default"
  head -n 40 "$out/c1_persist_vs_strided.txt"
fi
