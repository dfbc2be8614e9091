#!/usr/bin/env python3
"""Export the benchmark models on the GPU machine itself (the carry limit leaves no room for
YOLO11s/12s ONNX files): each from its Ultralytics yaml with the seeded random weights of
tools/export_models.py (same `randomize`), as a dynamic-batch 640x640 ONNX, unsimplified,
opset 17. Prints one line per model with a checksum of its weights so runs can be compared.

    python3 bench/gpu/export_on_device.py --out /tmp/models yolo11n yolo11s yolo12s
    python3 bench/gpu/export_on_device.py --out /tmp/check yolov10n:e2e yolo12n@384x640

A name may carry ':e2e' (the NMS-free one-to-one head of YOLOv10/YOLO26, exported end to end) and
'@HxW' (input size; default 640x640). Files: <stem>[_e2e]_<H>x<W>_dyn.onnx, except the plain
640x640 ones, which keep the name <stem>_640_dyn.onnx that the benchmark scripts use.
"""
import argparse
import hashlib
import os
import sys
import tempfile
import types
import zlib
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")
os.environ.setdefault("YOLO_VERBOSE", "0")
os.environ.setdefault("YOLO_CONFIG_DIR", "/tmp/ultralytics")
for missing in ("polars", "ultralytics_platform"):  # imported by parts we do not use
    try:
        __import__(missing)
    except ImportError:
        sys.modules[missing] = types.ModuleType(missing)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import export_models  # noqa: E402  (randomize, SEED)


def seeded_model(name: str):
    """The Ultralytics YOLO object of `name` (a yaml stem) with its seeded random weights; the
    same on every call and machine (torch's CPU generator), for fungen's ONNX and the PyTorch peer."""
    import torch
    from ultralytics import YOLO

    seed = export_models.SEED + 100 + zlib.crc32(name.encode()) % 1000
    torch.manual_seed(seed)
    yolo = YOLO(f"{name}.yaml")
    export_models.randomize(yolo.model, seed, (640, 640))
    return yolo


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for t in model.state_dict().values():
        digest.update(t.detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()[:16]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("/tmp/models"))
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("names", nargs="+", help="yaml stems: yolo11n yolo11s yolo12s ...")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    for spec in a.names:
        name, _, size = spec.partition("@")
        name, _, head = name.partition(":")
        h, w = (int(x) for x in size.split("x")) if size else (640, 640)
        e2e = head == "e2e"
        tag = f"{name}{'_e2e' if e2e else ''}_{h}x{w}_dyn" if e2e or (h, w) != (640, 640) else f"{name}_640_dyn"
        dest = a.out / f"{tag}.onnx"
        yolo = seeded_model(name)
        digest = weights_digest(yolo.model)
        with tempfile.TemporaryDirectory(dir=a.out, prefix=".export-") as tmp:
            cwd = os.getcwd()
            os.chdir(tmp)
            try:
                out = yolo.export(format="onnx", imgsz=[h, w], dynamic=True, opset=a.opset,
                                  simplify=False, nms=False if e2e else None, batch=1,
                                  device="cpu", verbose=False)
            finally:
                os.chdir(cwd)
            os.replace(Path(tmp) / out, dest)
        print(f"exported {dest} ({dest.stat().st_size / 2**20:.1f} MiB) weights sha256 {digest}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
