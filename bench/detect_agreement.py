#!/usr/bin/env python3
"""Share of a reference run's detections that a candidate run reproduces, from two `fungen detect
--json` outputs (JSON lines, one image per line, matched by image file name): a reference detection
with confidence >= --conf is reproduced when the candidate has a detection of the same class at
IoU >= --iou (each candidate detection used once, greedily by reference confidence). For example
GPU fp16 vs CPU fp32 on the trained model's held-out images (tools/train_synthetic.py):

    dir=$("$python" tools/train_synthetic.py --cached)
    m=$dir/yolo11_shapes_640x640_dyn_opdefault_nosimp.onnx
    fungen detect --model "$m" "$dir/heldout" --json --device cpu > cpu.jsonl
    fungen detect --model "$m" "$dir/heldout" --json --device cuda:0 > gpu.jsonl  # its fp16 setting
    bench/detect_agreement.py cpu.jsonl gpu.jsonl [--min-share 0.99]

Prints one line (and per-image misses with -v); exit 1 when the share is below --min-share.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def iou(a: dict, b: dict) -> float:
    ix = max(0.0, min(a["x2"], b["x2"]) - max(a["x1"], b["x1"]))
    iy = max(0.0, min(a["y2"], b["y2"]) - max(a["y1"], b["y1"]))
    inter = ix * iy
    union = (a["x2"] - a["x1"]) * (a["y2"] - a["y1"]) + (b["x2"] - b["x1"]) * (b["y2"] - b["y1"]) - inter
    return inter / union if union > 0 else 0.0


def load(path: str) -> dict[str, list[dict]]:
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {os.path.basename(r["image"]): r["detections"] for r in rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reference")
    ap.add_argument("candidate")
    ap.add_argument("--conf", type=float, default=0.25)
    ap.add_argument("--iou", type=float, default=0.9)
    ap.add_argument("--min-share", type=float, default=0.0)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    ref, cand = load(a.reference), load(a.candidate)
    missing = sorted(set(ref) - set(cand))
    if missing:
        print(f"detect_agreement: {len(missing)} image(s) of {a.reference} are not in {a.candidate}, e.g. {missing[0]}")
        return 1
    total = reproduced = made = 0
    for name, dets in sorted(ref.items()):
        pool = [d for d in cand[name] if d["confidence"] >= a.conf]
        made += len(pool)
        for d in sorted((d for d in dets if d["confidence"] >= a.conf), key=lambda d: -d["confidence"]):
            total += 1
            best = max((c for c in pool if c["class_id"] == d["class_id"]), key=lambda c: iou(c, d), default=None)
            if best is not None and iou(best, d) >= a.iou:
                reproduced += 1
                pool.remove(best)
            elif a.verbose:
                print(f"  {name}: not reproduced: class {d['class_id']} conf {d['confidence']:.3f} "
                      f"box {d['x1']:.1f},{d['y1']:.1f},{d['x2']:.1f},{d['y2']:.1f}")
    share = reproduced / total if total else 1.0
    print(f"detect_agreement: {reproduced}/{total} reference detections reproduced ({100 * share:.2f}%; conf "
          f">= {a.conf}, same class, IoU >= {a.iou}) on {len(ref)} images; candidate made {made}")
    return 0 if share >= a.min_share else 1


if __name__ == "__main__":
    sys.exit(main())
