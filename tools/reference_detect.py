#!/usr/bin/env python3
"""Reference YOLO detection pipeline for checking `fungen detect`: ONNX Runtime + Ultralytics' own code.

Pre-processing is ultralytics.data.augment.LetterBox (cv2.resize INTER_LINEAR, 114 padding) on the
image as cv2.imread reads it, then BGR->RGB, HWC->CHW, /255 in float32, as Ultralytics' predictor
does. Post-processing is ultralytics.utils.nms.non_max_suppression (class-aware NMS via the class
offset, max_nms 30000; end-to-end heads are only filtered) and ultralytics.utils.ops.scale_boxes
(undo padding and scale, clip). The model runs in ONNX Runtime (CPU). Output: the same JSON lines as
`fungen detect --json`, detections sorted by confidence (stable).

    python=$(tools/setup_python.sh)
    "$python" tools/reference_detect.py --model yolo11n.onnx --conf 0.25 --iou 0.45 img1.png img2.png
    "$python" tools/reference_detect.py --model m.onnx --save-input DIR img.png   # letterboxed tensors as .npy
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")
os.environ.setdefault("YOLO_VERBOSE", "0")
os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(os.environ.get("FUNGEN_CACHE", Path.home() / ".cache" / "fungen")) / "ultralytics"))


def model_input_size(session, meta: dict) -> tuple[int, int]:
    shape = session.get_inputs()[0].shape
    h, w = shape[2], shape[3]
    if not isinstance(h, int) or not isinstance(w, int):
        imgsz = ast.literal_eval(meta.get("imgsz", "[640, 640]"))
        if isinstance(imgsz, int):
            imgsz = [imgsz, imgsz]
        h, w = int(imgsz[0]), int(imgsz[1])
    return h, w


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--conf", type=float, default=0.25)
    ap.add_argument("--iou", type=float, default=0.45)
    ap.add_argument("--max-det", type=int, default=300)
    ap.add_argument("--classes", default="", help="comma-separated class ids")
    ap.add_argument("--agnostic", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save-input", type=Path, help="write each letterboxed input tensor as DIR/<image stem>.npy")
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()

    import cv2
    import numpy as np
    import onnxruntime as ort
    import torch
    from ultralytics.data.augment import LetterBox
    from ultralytics.utils.nms import non_max_suppression
    from ultralytics.utils.ops import scale_boxes

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    session = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    names = ast.literal_eval(meta["names"]) if "names" in meta else {}
    if isinstance(names, list):
        names = dict(enumerate(names))
    end2end = meta.get("end2end") == "True"
    h, w = model_input_size(session, meta)
    static_batch = session.get_inputs()[0].shape[0]
    classes = [int(c) for c in args.classes.split(",")] if args.classes else None
    letterbox = LetterBox((h, w), auto=False, stride=32)

    for path in args.images:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            print(f"reference_detect: cannot read {path}", file=sys.stderr)
            return 3
        x = letterbox(image=img)
        x = np.ascontiguousarray(x[..., ::-1].transpose(2, 0, 1))[None]  # BGR->RGB, HWC->CHW
        x = torch.from_numpy(x).float() / 255  # as Ultralytics' predictor: float32 then /255
        x = x.numpy()
        if args.save_input:
            args.save_input.mkdir(parents=True, exist_ok=True)
            np.save(args.save_input / f"{Path(path).stem}.npy", x[0])
        if isinstance(static_batch, int) and static_batch > 1:
            x = np.concatenate([x] + [np.full_like(x, 114 / 255)] * (static_batch - 1))
        out = session.run(None, {session.get_inputs()[0].name: x})[0][:1]
        pred = non_max_suppression(torch.from_numpy(out), args.conf, args.iou, classes=classes,
                                   agnostic=args.agnostic, max_det=args.max_det, end2end=end2end)[0]
        pred[:, :4] = scale_boxes((h, w), pred[:, :4], img.shape[:2])
        p = pred.numpy()
        order = np.argsort(-p[:, 4], kind="stable")
        dets = [
            dict(class_id=int(r[5]), class_name=names.get(int(r[5]), f"class{int(r[5])}"), confidence=float(r[4]),
                 x1=float(r[0]), y1=float(r[1]), x2=float(r[2]), y2=float(r[3]))
            for r in p[order]
        ]
        print(json.dumps(dict(image=path, width=img.shape[1], height=img.shape[0], detections=dets)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
