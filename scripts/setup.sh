#!/usr/bin/env bash
# README command 1: install dependencies, build, and run the main job on a generated input.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
bash scripts/demo.sh
