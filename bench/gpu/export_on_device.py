#!/usr/bin/env python3
"""Export the benchmark models on the GPU machine itself (the carry limit leaves no room for
YOLO11s/12s ONNX files): each from its Ultralytics yaml with the seeded random weights of
tools/export_models.py (same `randomize`), as a dynamic-batch 640x640 ONNX, unsimplified,
opset 17. Prints one line per model with a checksum of its weights so runs can be compared.

    python3 bench/gpu/export_on_device.py --out /tmp/models yolo11n yolo11s yolo12s
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
    for name in a.names:
        dest = a.out / f"{name}_640_dyn.onnx"
        yolo = seeded_model(name)
        digest = weights_digest(yolo.model)
        with tempfile.TemporaryDirectory(dir=a.out, prefix=".export-") as tmp:
            cwd = os.getcwd()
            os.chdir(tmp)
            try:
                out = yolo.export(format="onnx", imgsz=640, dynamic=True, opset=a.opset,
                                  simplify=False, batch=1, device="cpu", verbose=False)
            finally:
                os.chdir(cwd)
            os.replace(Path(tmp) / out, dest)
        print(f"exported {dest} ({dest.stat().st_size / 2**20:.1f} MiB) weights sha256 {digest}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
