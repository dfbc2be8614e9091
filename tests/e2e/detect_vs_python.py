#!/usr/bin/env python3
"""`fungen detect --json` must equal tools/reference_detect.py (ONNX Runtime + Ultralytics code).

On deterministic synthetic images (fungen detect --make-test-image) at 640x640, 1920x1080, 717x391
and 480x854 (portrait), for a raw-head model at 640x640, the same architecture exported dynamic at
384x640 (non-square input) and an end-to-end model, it requires:
  - the letterboxed input tensors to be equal bit for bit (fungen --save-input vs the reference's);
  - per image: the same number of detections (and at least one), the same classes in the same
    order, boxes within 0.5 px, confidences within 1e-4.
Random-weight models can saturate scores at 1.0: detections whose confidences tie (within 1e-5)
may come in either order (the engine's TopK and ORT's break ties differently), so within a run of
tied confidences they are matched as a set. The end-to-end model is YOLO26, not YOLOv10: with the
export tool's random weights YOLOv10n scores far more than 300 boxes at exactly 1.0, so which 300
the in-graph TopK keeps is a tie-break, not a property of the pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
IMAGES = [("square", "640x640", 1), ("fullhd", "1920x1080", 2), ("odd", "717x391", 3), ("portrait", "480x854", 4)]
MODELS = [  # (file, conf)
    ("yolo11_640x640_static_opdefault_simp.onnx", 0.5),
    ("yolo11_384x640_dyn_op12_simp.onnx", 0.5),
    ("yolo26_640x640_static_opdefault_simp_e2e.onnx", 0.6),
    ("yolo26_384x640_dyn_op12_simp_e2e.onnx", 0.6),
]
BOX_TOL = 0.5
CONF_TOL = 1e-4
TIE_TOL = 1e-5


def run(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAILED ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return r.stdout


def export_models() -> Path:
    out = run([sys.executable, str(ROOT / "tools/export_models.py"), "--only", "yolo11", "--only", "yolo26"])
    return Path(out.strip().splitlines()[-1])


def same_det(a: dict, b: dict) -> bool:
    return a["class_id"] == b["class_id"] and all(abs(a[k] - b[k]) <= BOX_TOL for k in ("x1", "y1", "x2", "y2")) \
        and abs(a["confidence"] - b["confidence"]) <= CONF_TOL


def compare(got: list[dict], want: list[dict]) -> str | None:
    if len(got) != len(want):
        return f"{len(got)} detections, reference has {len(want)}"
    i = 0
    while i < len(want):
        j = i + 1
        while j < len(want) and abs(want[j]["confidence"] - want[i]["confidence"]) <= TIE_TOL:
            j += 1
        if j - i == 1:
            if not same_det(got[i], want[i]):
                return f"detection {i}: {got[i]} vs reference {want[i]}"
        else:  # a run of tied confidences: match as a set
            unused = list(range(i, j))
            for k in range(i, j):
                m = next((u for u in unused if same_det(got[u], want[k])), None)
                if m is None:
                    return f"detection {k} (tied run {i}..{j - 1}): no match for reference {want[k]}"
                unused.remove(m)
        i = j
    return None


def check_cli_behaviour(fungen: str, model: Path, image: str, work: Path) -> int:
    """A bad image is reported, the others still processed, exit 3; --out writes the same lines."""
    bad = work / "not_an_image.png"
    bad.write_bytes(b"this is not a PNG")
    out = work / "out.jsonl"
    r = subprocess.run([fungen, "detect", "--model", str(model), "--conf", "0.5", "--json", "--out", str(out),
                        str(bad), image], capture_output=True, text=True)
    problems = []
    if r.returncode != 3:
        problems.append(f"exit code {r.returncode}, want 3")
    if "not_an_image.png" not in r.stderr or r.stderr.count("fungen: error:") != 1:
        problems.append(f"want one error line naming the bad file, got: {r.stderr!r}")
    lines = r.stdout.splitlines()
    if len(lines) != 1 or json.loads(lines[0])["image"] != image:
        problems.append(f"want one JSON line for {image}, got {len(lines)}")
    if not out.exists() or out.read_text() != r.stdout:
        problems.append("--out FILE does not hold the same JSON lines as stdout")
    print(f"{'ok' if not problems else 'FAIL':4s} CLI: bad image reported, others processed, --out")
    for p in problems:
        print(f"     {p}")
    return int(bool(problems))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fungen", required=True)
    ap.add_argument("--models", type=Path, help="model directory (default: export into the cache)")
    ap.add_argument("--keep", type=Path, help="keep images and outputs here")
    args = ap.parse_args()
    models = args.models or export_models()
    work = args.keep or Path(tempfile.mkdtemp(prefix="fungen-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    images = []
    for name, size, seed in IMAGES:
        p = work / f"{name}_{size}.png"
        run([args.fungen, "detect", "--make-test-image", str(p), "--size", size, "--seed", str(seed)])
        images.append(str(p))

    failures = 0
    for model_file, conf in MODELS:
        model = models / model_file
        common = ["--conf", str(conf), "--iou", "0.45", "--max-det", "300"]
        d_fungen, d_ref = work / f"{model.stem}.fungen", work / f"{model.stem}.ref"
        got = [json.loads(l) for l in run([args.fungen, "detect", "--model", str(model), "--json", "--threads", "2",
                                           "--save-input", str(d_fungen), *common, *images]).splitlines()]
        want = [json.loads(l) for l in run([sys.executable, str(ROOT / "tools/reference_detect.py"), "--model",
                                            str(model), "--save-input", str(d_ref), *common, *images]).splitlines()]
        assert len(got) == len(want) == len(images), (len(got), len(want))
        for g, w, img in zip(got, want, images):
            label = f"{model_file} {Path(img).name}"
            problems = []
            a, b = np.load(d_fungen / f"{Path(img).stem}.npy"), np.load(d_ref / f"{Path(img).stem}.npy")
            if a.shape != b.shape:
                problems.append(f"input shape {a.shape} vs reference {b.shape}")
            elif not np.array_equal(a, b):
                diff = np.abs(a - b)
                problems.append(f"letterboxed input differs at {int((diff > 0).sum())} values (max {diff.max() * 255:.2f} grey levels)")
            if (g["width"], g["height"]) != (w["width"], w["height"]):
                problems.append(f"size {g['width']}x{g['height']} vs {w['width']}x{w['height']}")
            if not w["detections"]:
                problems.append("the reference found nothing: lower conf so the test compares something")
            why = compare(g["detections"], w["detections"])
            if why:
                problems.append(why)
            status = "ok" if not problems else "FAIL"
            print(f"{status:4s} {label}: {len(g['detections'])} detections (reference {len(w['detections'])})")
            for p in problems:
                print(f"     {p}")
            failures += bool(problems)
    failures += check_cli_behaviour(args.fungen, models / MODELS[0][0], images[0], work)
    print(f"{failures} failure(s); images and outputs in {work}" if failures or args.keep else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
