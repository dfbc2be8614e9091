#!/usr/bin/env bash
# gpu.d/10_zero_copy.sh — bench/gpu/device_run.sh's video stage: NVDEC frames straight to the GPU
# detector (zero copy) checked against CPU decode + GPU detect (PASS/FAIL per clip), then
# decode-only vs decode+detect on short clips (bench/video/run_gpu.sh, binaries from PATH, i.e.
# /opt/fungen/bin). The full-length benchmark is bench/video/run_gpu.sh itself.
# Env: ZC_CLIPS (default 1080p_h264,4k_hevc,8k_vr_hevc), ZC_FRAMES (frames per clip, default 90),
#      MODEL (default /opt/models/yolo11n_640_dyn.onnx), FUNGEN_VIDEO_BATCH (default 16).
set -uo pipefail
cd "$(dirname "$0")/../../.."
export MODEL=${MODEL:-/opt/models/yolo11n_640_dyn.onnx}
export FUNGEN_CLIP_FRAMES=${ZC_FRAMES:-90}
export FUNGEN_BENCH_DIR=${ZC_DIR:-/tmp/fungen_clips_zc_${FUNGEN_CLIP_FRAMES}}
export OUT=${OUT:-/tmp/out}/video_zero_copy
echo "=== zero-copy video check and bench ($(date +%T)): $MODEL, $FUNGEN_CLIP_FRAMES frames per clip"
bash bench/video/run_gpu.sh "${ZC_CLIPS:-1080p_h264,4k_hevc,8k_vr_hevc}" 1,4,8
echo "--- PASS/FAIL"
grep -h -E 'PASS|FAIL|bit-identical|flipped' "$OUT"/decode_check.txt "$OUT"/zero_copy_check.txt 2>/dev/null
