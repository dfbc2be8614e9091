#!/usr/bin/env bash
# Installs every Debian package fungen builds, tests and benchmarks with (Debian 12).
# Idempotent; needs root (or sudo). Python packages for tools/ come from tools/setup_python.sh.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config git ccache patchelf
  # libraries the product links
  libfmt-dev nlohmann-json3-dev libcli11-dev libstb-dev libmsgpack-cxx-dev libdnnl-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
  # tests, fuzzing, formatting
  libgtest-dev libgmock-dev libbenchmark-dev clang clang-format libclang-rt-14-dev
  libonnx-testdata ffmpeg
  # Python for tools/ and tests: Debian's CPU-only torch (PyPI's default wheel pulls GBs of CUDA)
  python3 python3-venv python3-pip python3-torch python3-torchvision
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
