#!/usr/bin/env bash
# Issue 5: the 3x3 halo kernel (conv_tile3.cuh; FUNGEN_CUDA_TILE3=auto makes it a candidate of the
# per-conv timing, =1 forces it on every 3x3 conv it takes, =0 leaves the choice as before), on
# one machine in one call:
# Parts (TILE3_PARTS; the default "unit check" stays under ~240 s: each command has a timeout,
# 110 + 2 x 60 s at most):
#   unit      the tile3 tests (fresh random inputs vs a host convolution / the reference
#             backend): the kernel with every tile (strided input / residual, dual store), the
#             igemm model cases with FUNGEN_CUDA_TILE3=1, Split pieces read in place by tile3,
#             the dual-store models with tile3, the autotune tests (algorithm 3, replay of the
#             c3 branch's algorithm 2);
#   check     fungen_gpu_bench check vs the CPU path (batch 1) and timings at batches 1 and 128
#             with TILE3=1 (every 3x3 conv it takes) and auto;
# optional, slower (minutes each; one device call per part):
#   unit_all  every igemm / persistent / autotune / dual test (*Igemm*:*Autotune*:*Dual*);
#   profile   per-step profiles at batch 128 with FUNGEN_CUDA_TILE3=0, =1 (FUNGEN_CUDA_IGEMM=auto
#             for the other convs) and auto, joined per conv node by bench/gpu/profile_compare.py
#             ($OUT/tile3_vs_before.txt: before = TILE3=0, new = TILE3=1), each tile3 step
#             against its memory floor at 3.0 TB/s ($OUT/tile3_floor.txt, conv_floor.py), and the
#             autotune's choices at batch 128 ("cuda autotune: node -> tile3|igemm ...|cudnn");
#   bench     timings at batches 1, 32, 128 with TILE3=0, auto and 1 (check vs CPU each).
# Run by bench/gpu/device_run.sh's fungen stage (binaries on PATH), or by hand:
#   OUT=/tmp/out TILE3_MODEL=/opt/models/yolo11n_640_dyn.onnx bash bench/gpu/fungen.d/tile3.sh
#   OUT=/tmp/out TILE3_PARTS="profile" bash bench/gpu/fungen.d/tile3.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${TILE3_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
extra=${TILE3_BENCH_ARGS:-}  # e.g. --refill-weights for weight-stripped models
here=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$m" ] || { echo "tile3: $m missing, skipped"; exit 0; }
parts=" ${TILE3_PARTS:-unit check} "
if [[ $parts == *" unit "* ]] && command -v fungen_unit_tests >/dev/null; then
  echo "== tile3 + autotune unit tests"
  timeout 110 fungen_unit_tests --gtest_filter='*Tile3*:*Autotune*:*igemmtile3*' \
    > "$out/unit_tile3.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure' "$out/unit_tile3.txt" | head -n 40
fi
if [[ $parts == *" unit_all "* ]] && command -v fungen_unit_tests >/dev/null; then
  echo "== igemm + persistent + autotune + dual unit tests (tile3 auto)"
  timeout 400 fungen_unit_tests --gtest_filter='*Igemm*:*Autotune*:*Dual*' \
    > "$out/unit_tile3_all.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure' "$out/unit_tile3_all.txt" | head -n 40
fi
if [[ $parts == *" check "* ]]; then
  for v in 1 auto; do
    echo "== FUNGEN_CUDA_TILE3=$v: check vs CPU (batch 1), timings at batches 1 and 128"
    FUNGEN_CUDA_TILE3=$v timeout 60 fungen_gpu_bench --model "$m" $extra --batches 1,128 \
      --iterations 10 2>&1 | grep -E '^\||check|FAILED|error'
  done
fi
if [[ $parts == *" profile "* ]]; then
for v in 0 1 auto; do
  FUNGEN_CUDA_TILE3=$v FUNGEN_CUDA_PROFILE=1 FUNGEN_LOG=info timeout 120 fungen_gpu_bench \
    --model "$m" $extra --no-check --batches 128 --iterations 3 > "$out/profile128_tile3_$v.txt" 2>&1
  echo "profile TILE3=$v: exit $?"
done
python3 "$here/profile_compare.py" "$out/profile128_tile3_0.txt" "$out/profile128_tile3_1.txt" \
  > "$out/tile3_vs_before.txt"
echo "== per conv at batch 128 (ms per run, graphs off): TILE3=0 (igemm/cuDNN by auto) vs TILE3=1"
head -n 60 "$out/tile3_vs_before.txt"
echo "== tile3 steps (TILE3=1) vs their memory floor (input + residual read once, output written once)"
python3 "$here/conv_floor.py" "$out/profile128_tile3_1.txt" 128 --kernel tile3 | tee "$out/tile3_floor.txt"
echo "== own-kernel steps under auto vs their floor"
python3 "$here/conv_floor.py" "$out/profile128_tile3_auto.txt" 128 | head -n 40
echo "== autotune choices at batch 128 (auto)"
grep 'cuda autotune:' "$out/profile128_tile3_auto.txt" > "$out/tile3_choices_b128.txt"
c=$out/tile3_choices_b128.txt
echo "tile3: $(grep -c -- '-> tile3' "$c"), igemm persistent: $(grep -c 'persistent, chosen' "$c")," \
  "igemm: $(grep -- '-> igemm' "$c" | grep -vc persistent), cudnn: $(grep -c -- '-> cudnn' "$c")"
grep -- '(tile3 ' "$out/tile3_choices_b128.txt" | sed -E 's/^.*cuda autotune: //' | cut -c1-230
fi
[[ $parts == *" bench "* ]] || exit 0
for v in 0 auto 1; do  # =1: every 3x3 conv on tile3, the strongest model-level check of it
  echo "== FUNGEN_CUDA_TILE3=$v: check vs CPU (batch 1), then timings at batches 1, 32, 128"
  FUNGEN_CUDA_TILE3=$v timeout 150 fungen_gpu_bench --model "$m" $extra --batches 1,32,128 \
    --iterations 20 2>&1 | grep -E '^\||check|FAILED|error'
done
