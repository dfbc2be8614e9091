#!/usr/bin/env bash
# Decode-only vs decode+detect throughput at 1080p, 4K and 8K, H.264 and HEVC, on this machine.
# Clips are generated once (testsrc2 + temporal noise, so the decoder does real work) into
# $FUNGEN_BENCH_DIR (default ~/.cache/fungen/bench_videos). Prints one JSON line per mode.
#
#   bench/video/run.sh BUILD_DIR MODEL.onnx [extra fungen_video_bench flags, e.g. --decode cuda]
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR MODEL.onnx [flags]}
model=${2:?usage: run.sh BUILD_DIR MODEL.onnx [flags]}
shift 2
dir=${FUNGEN_BENCH_DIR:-$HOME/.cache/fungen/bench_videos}
mkdir -p "$dir"
frames=${FUNGEN_BENCH_FRAMES:-48}

make_clip() {  # name size codec-args [extra-filter]
  local out="$dir/$1"
  [ -s "$out" ] && return
  ffmpeg -hide_banner -loglevel error -y -f lavfi \
    -i "testsrc2=size=$2:rate=30:duration=$(awk "BEGIN{print $frames/30}")" \
    -vf "noise=alls=12:allf=t" $3 "$out.tmp.mp4"
  mv "$out.tmp.mp4" "$out"
}
x264="-c:v libx264 -preset veryfast -pix_fmt yuv420p"
x265="-c:v libx265 -preset ultrafast -pix_fmt yuv420p -tag:v hvc1 -x265-params log-level=none"
make_clip 1080p_h264.mp4 1920x1080 "$x264"
make_clip 1080p_hevc.mp4 1920x1080 "$x265"
make_clip 4k_h264.mp4 3840x2160 "$x264"
make_clip 4k_hevc.mp4 3840x2160 "$x265"
make_clip 8k_vr_FISHEYE190_LR_h264.mp4 7680x3840 "$x264"
make_clip 8k_vr_FISHEYE190_LR_hevc.mp4 7680x3840 "$x265"

for clip in 1080p_h264 1080p_hevc 4k_h264 4k_hevc 8k_vr_FISHEYE190_LR_h264 8k_vr_FISHEYE190_LR_hevc; do
  "$build/bin/fungen_video_bench" "$dir/$clip.mp4" --model "$model" "$@"
done
