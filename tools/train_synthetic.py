#!/usr/bin/env python3
"""Train a small YOLO11n on seeded synthetic shapes (tools/synthetic_shapes.py) and export it to ONNX.

The test models of tools/export_models.py have random weights: nearly every anchor passes conf 0.25
and which of them survive max_det is decided by score gaps of 1e-3, so "share of fp32 detections a
lower precision reproduces" means nothing on them. This model is trained (from the yaml, no
pretrained weights, CPU only) so that its detections are real objects, a handful per image.

Output (nothing is downloaded), cached so that a second run only prints the directory:
    ${FUNGEN_CACHE:-$HOME/.cache/fungen}/trained/<key>/
        yolo11_shapes_640x640_static_opdefault_simp.onnx   640x640, batch 1, opset 17, onnxslim
        yolo11_shapes_640x640_dyn_opdefault_nosimp.onnx    dynamic batch/height/width
        best.pt                                            the ultralytics checkpoint
        heldout/                                           held-out test images (PNG) at mixed sizes
        heldout_labels/                                    their YOLO labels
        calib/                                             images for --calibrate (like heldout/, other seeds)
        summary.json                                       mAP50 and detections per image
        results.csv                                        ultralytics' per-epoch training losses
where <key> hashes the recipe (the constants below), synthetic_shapes.py and the versions of ultralytics, torch, onnx
and onnxslim. The training time is bounded by --minutes (ultralytics' `time` mode fits the epochs
to it), so the weights depend on the machine's speed; the data do not.

    python=$(tools/setup_python.sh)
    "$python" tools/train_synthetic.py              # trains (~10 min) or reuses; prints the dir last
    "$python" tools/train_synthetic.py --cached     # prints the dir if cached, else exits 2
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import time
from pathlib import Path

CACHE = Path(os.environ.get("FUNGEN_CACHE", Path.home() / ".cache" / "fungen"))
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")
os.environ.setdefault("YOLO_VERBOSE", "0")
os.environ.setdefault("YOLO_CONFIG_DIR", str(CACHE / "ultralytics"))

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic_shapes as shapes  # noqa: E402

SEED = 20261127
TRAIN_IMAGES = 1200  # 320x320
VAL_IMAGES = 64  # 320x320, ultralytics' end-of-training validation
CALIB_IMAGES = 16  # for fungen's --calibrate: scenes drawn like the held-out ones, seeds CALIB_SEED + i
CALIB_SEED = SEED + 1_000_000
CALIB_SIZES = [(640, 640), (1280, 720), (1920, 1080), (717, 391)]
# Held-out test set: (width, height, count); seeds continue after the training ones.
HELDOUT = [(640, 640, 8), (1280, 720, 8), (1920, 1080, 8), (717, 391, 4), (480, 854, 4)]
HELDOUT_SIZES = (0.06, 0.3)  # object size relative to min(w, h): ~25-190 px after the 640 letterbox
# ultralytics' trainer settings (besides data, imgsz, time and the output folder).
TRAIN_ARGS = dict(
    epochs=100, batch=16, device="cpu", workers=0, amp=False, pretrained=False, seed=SEED, deterministic=True,
    name="run", exist_ok=True, plots=False, val=False, cache="ram", warmup_epochs=1, close_mosaic=2, patience=1000,
    verbose=False,
)
EXPORT_VERSION = 1  # bump when export() or evaluate() change what they write
STATIC = "yolo11_shapes_640x640_static_opdefault_simp.onnx"
DYNAMIC = "yolo11_shapes_640x640_dyn_opdefault_nosimp.onnx"


def cache_key(minutes: float, imgsz: int) -> str:
    """Hash of what the output depends on: the scene generator, the recipe and the package versions
    (not this file's other lines, so that its plumbing can change without a retraining)."""
    h = hashlib.sha256(Path(shapes.__file__).read_bytes())
    recipe = dict(seed=SEED, train=TRAIN_IMAGES, val=VAL_IMAGES, calib=CALIB_IMAGES, heldout=HELDOUT,
                  heldout_sizes=HELDOUT_SIZES, train_args=TRAIN_ARGS, minutes=minutes, imgsz=imgsz,
                  files=[STATIC, DYNAMIC], export=EXPORT_VERSION)
    h.update(json.dumps(recipe, sort_keys=True).encode())
    for pkg in ("ultralytics", "torch", "onnx", "onnxslim"):
        h.update(f"{pkg}={importlib.metadata.version(pkg)};".encode())
    return h.hexdigest()[:16]


def write_split(root: Path, name: str, seeds, sizes, size_range=(0.08, 0.45)) -> None:
    import cv2

    (root / "images" / name).mkdir(parents=True, exist_ok=True)
    (root / "labels" / name).mkdir(parents=True, exist_ok=True)
    for seed, (w, h) in zip(seeds, sizes):
        img, boxes = shapes.scene(seed, w, h, size_range)
        cv2.imwrite(str(root / "images" / name / f"{seed}.png"), img)
        (root / "labels" / name / f"{seed}.txt").write_text(shapes.yolo_label(boxes, w, h))


def without_plotting_deps() -> None:
    """ultralytics imports matplotlib (font check) and polars (results.csv) even with plots=False;
    neither is in tools/requirements.txt and neither is needed here."""
    import ultralytics.data.utils as data_utils
    from ultralytics.engine.trainer import BaseTrainer

    data_utils.check_font = lambda *a, **k: None
    BaseTrainer.read_results_csv = lambda self: {}


def make_data(root: Path) -> Path:
    s = SEED
    write_split(root, "train", range(s, s + TRAIN_IMAGES), [(320, 320)] * TRAIN_IMAGES)
    s += TRAIN_IMAGES
    write_split(root, "val", range(s, s + VAL_IMAGES), [(320, 320)] * VAL_IMAGES)
    s += VAL_IMAGES
    sizes = [(w, h) for w, h, n in HELDOUT for _ in range(n)]
    write_split(root, "heldout", range(s, s + len(sizes)), sizes, HELDOUT_SIZES)
    for split in ("train", "heldout"):
        yaml = root / f"{split}.yaml"
        val = "val" if split == "train" else "heldout"
        names = "".join(f"  {i}: {n}\n" for i, n in enumerate(shapes.CLASSES))
        yaml.write_text(f"path: {root}\ntrain: images/train\nval: images/{val}\nnames:\n{names}")
    return root / "train.yaml"


def make_calib(dest: Path) -> None:
    """Calibration images drawn like the held-out set (mixed sizes, the same object sizes), so that
    int8's activation ranges come from what it will see (320x320 training scenes letterboxed to 640
    are upscaled, smoother pictures). Quick, so also made on a cache hit when absent."""
    import cv2

    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for i in range(CALIB_IMAGES):
        w, h = CALIB_SIZES[i % len(CALIB_SIZES)]
        img, _ = shapes.scene(CALIB_SEED + i, w, h, HELDOUT_SIZES)
        cv2.imwrite(str(tmp / f"{CALIB_SEED + i}.png"), img)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def export(yolo, dest: Path, dynamic: bool, simplify: bool) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".export-") as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            out = yolo.export(format="onnx", imgsz=640, dynamic=dynamic, simplify=simplify, batch=1, device="cpu")
        finally:
            os.chdir(cwd)
        shutil.move(str(out), dest)


def evaluate(weights: Path, root: Path) -> dict:
    """mAP50 / mAP50-95 on the held-out set at imgsz 640, and detections per image at conf 0.25."""
    from ultralytics import YOLO

    yolo = YOLO(str(weights))
    m = yolo.val(data=str(root / "heldout.yaml"), imgsz=640, batch=4, device="cpu", workers=0, plots=False, rect=False)
    counts, truths = [], []
    for p in sorted((root / "images" / "heldout").glob("*.png")):
        r = yolo.predict(str(p), imgsz=640, conf=0.25, device="cpu", verbose=False)[0]
        counts.append(len(r.boxes))
        truths.append(len((root / "labels" / "heldout" / f"{p.stem}.txt").read_text().splitlines()))
    return dict(
        map50=round(float(m.box.map50), 4),
        map50_95=round(float(m.box.map), 4),
        heldout_images=len(counts),
        detections_per_image_conf025=round(sum(counts) / len(counts), 2),
        objects_per_image=round(sum(truths) / len(truths), 2),
        detections_min_max=[min(counts), max(counts)],
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="training time budget (default 10)")
    ap.add_argument("--imgsz", type=int, default=320, help="training image size (default 320)")
    ap.add_argument("--cached", action="store_true", help="print the directory if it is cached, else exit 2 (never trains)")
    args = ap.parse_args()

    out = CACHE / "trained" / cache_key(args.minutes, args.imgsz)
    if (out / "summary.json").exists():
        if not (out / "calib").is_dir():
            make_calib(out / "calib")
        print(out)
        return 0
    if args.cached:
        print(f"train_synthetic: no trained model cached at {out} (run tools/train_synthetic.py, ~10 min)", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    t0 = time.time()
    data = make_data(work / "data")
    print(f"generated the dataset in {time.time() - t0:.1f} s", file=sys.stderr)

    import torch
    from ultralytics import YOLO

    without_plotting_deps()
    torch.manual_seed(SEED)
    yolo = YOLO("yolo11n.yaml")
    t1 = time.time()
    yolo.train(data=str(data), imgsz=args.imgsz, time=args.minutes / 60, project=str(work), **TRAIN_ARGS)
    train_s = time.time() - t1
    best = work / "run" / "weights" / "last.pt"
    shutil.copy(best, out / "best.pt")

    trained = YOLO(str(out / "best.pt"))
    export(trained, out / STATIC, dynamic=False, simplify=True)
    export(YOLO(str(out / "best.pt")), out / DYNAMIC, dynamic=True, simplify=False)

    for name, src in (("heldout", work / "data" / "images" / "heldout"), ("heldout_labels", work / "data" / "labels" / "heldout")):
        shutil.rmtree(out / name, ignore_errors=True)
        shutil.copytree(src, out / name)
    make_calib(out / "calib")

    summary = evaluate(out / "best.pt", work / "data")
    epochs = len((work / "run" / "results.csv").read_text().splitlines()) - 1  # header + one line per epoch
    summary.update(train_seconds=round(train_s), epochs=epochs, train_imgsz=args.imgsz,
                   classes=shapes.CLASSES, static=STATIC, dynamic=DYNAMIC)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    shutil.copy(work / "run" / "results.csv", out / "results.csv")
    shutil.rmtree(work)  # the training set (~300 MB); the recipe regenerates it
    print(json.dumps(summary), file=sys.stderr)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
