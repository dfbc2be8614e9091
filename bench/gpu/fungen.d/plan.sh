#!/usr/bin/env bash
# bench/gpu/device_run.sh `fungen` stage: `fungen convert` self-checks (bench/gpu/plan_check.sh)
# on the exported YOLO11n.
[ -x /opt/fungen/bin/fungen ] || { echo "plan: no fungen CLI in the bundle, skipped"; exit 0; }
FUNGEN=/opt/fungen/bin/fungen bash bench/gpu/plan_check.sh /opt/models/yolo11n_640_dyn.onnx "${PLAN_RANGE:-1:64}"
