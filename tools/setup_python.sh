#!/usr/bin/env bash
# Creates (or reuses) the Python venv for fungen's conformance tooling and prints
# the path of its python. Idempotent and quiet on success.
#
#   python=$(tools/setup_python.sh)    # then: "$python" tools/export_models.py
#
# Venv: ${FUNGEN_CACHE:-$HOME/.cache/fungen}/venv, made from Debian's
# /usr/bin/python3 with --system-site-packages so that Debian's CPU-only torch
# (python3-torch) is used; see tools/requirements.txt for why pip runs --no-deps.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
requirements="$here/requirements.txt"
cache=${FUNGEN_CACHE:-$HOME/.cache/fungen}
venv="$cache/venv"

missing=()
for pkg in python3-torch python3-torchvision python3-venv; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "setup_python.sh: installing ${missing[*]} with apt-get" >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >&2
    else
        echo "setup_python.sh: missing Debian packages: ${missing[*]} (apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

# The venv is keyed by the requirements' content: a changed pin reinstalls.
stamp="$venv/.fungen-requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ -x "$venv/bin/python" && -f "$stamp" && $(cat "$stamp") == "$want" ]]; then
    echo "$venv/bin/python"
    exit 0
fi

mkdir -p "$cache"
if [[ ! -x "$venv/bin/python" ]]; then
    /usr/bin/python3 -m venv --system-site-packages "$venv" >&2
fi
log="$cache/pip-install.log"
if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --no-deps --no-input \
        -r "$requirements" >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup_python.sh: pip install failed (log: $log)" >&2
    exit 1
fi
# The pins must never bring a torch or CUDA wheel of their own.
if "$venv/bin/python" -m pip list --local --format=freeze 2>/dev/null | grep -Eiq '^(torch|torchvision|nvidia-)'; then
    echo "setup_python.sh: a torch/nvidia wheel got into $venv; Debian's python3-torch must be used" >&2
    exit 1
fi
if ! out=$(cd / && YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 YOLO_CONFIG_DIR="$cache/ultralytics" \
        "$venv/bin/python" -c 'import torch, onnx, onnxruntime, ultralytics' 2>&1); then
    echo "$out" >&2
    echo "setup_python.sh: the venv at $venv does not import its packages" >&2
    exit 1
fi
echo "$want" >"$stamp"
echo "$venv/bin/python"
