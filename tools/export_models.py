#!/usr/bin/env python3
"""Export every YOLO detect architecture fungen supports to ONNX, from yaml, with seeded random weights.

Nothing is downloaded: each model is built from the yaml that ships inside the ultralytics package,
its weights are the random init, its BatchNorm layers get seeded random statistics (so that folding
BN into the convolutions is not a no-op) and its head biases are spread so that the class scores are
not all ~0. Each architecture is exported in the VARIANTS below.

Output goes to a cache outside the clone:
    ${FUNGEN_CACHE:-$HOME/.cache/fungen}/models/<key>/<arch>_<HxW>_<static|dyn>_op<N|default>_<simp|nosimp>.onnx
    ${FUNGEN_CACHE:-$HOME/.cache/fungen}/models/<key>/manifest.json
where <key> hashes this script and the versions of ultralytics, torch, onnx and onnxslim. Existing
files are kept (each is written to a temporary name, then renamed), so a second run only rewrites
the manifest.

    python=$(tools/setup_python.sh)
    "$python" tools/export_models.py            # all, prints the cache directory last
    "$python" tools/export_models.py --only yolo11 --list
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import sys
import tempfile
import time
from pathlib import Path

CACHE = Path(os.environ.get("FUNGEN_CACHE", Path.home() / ".cache" / "fungen"))

# ultralytics must never reach the network, install packages, or write settings into the clone.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")
os.environ.setdefault("YOLO_VERBOSE", "0")
os.environ.setdefault("YOLO_CONFIG_DIR", str(CACHE / "ultralytics"))

# Architecture name -> ultralytics model yaml (the smallest scale of each; the 'u' of yolov5nu selects
# the anchor-free ultralytics head that all v5u exports carry).
# YOLOv10 and YOLO26 have two heads: the one-to-one head exported end to end (top-k inside the graph,
# output N x 300 x 6, no NMS needed: what `yolo export` gave by default until ultralytics made
# nms=None, i.e. the raw one-to-many head, its default) and the one-to-many head (N x 84 x A, like v8).
END_TO_END = {"yolov10", "yolo26"}
ARCHS = {
    "yolov5u": "yolov5nu.yaml",
    "yolov8": "yolov8n.yaml",
    "yolov9": "yolov9t.yaml",
    "yolov10": "yolov10n.yaml",
    "yolo11": "yolo11n.yaml",
    "yolo12": "yolo12n.yaml",
    "yolo26": "yolo26n.yaml",
}

# Export variants of every architecture. Four two-level factors:
#   batch    "static" | "dyn"   (ultralytics' dynamic=True makes batch, height and width dynamic)
#   opset    None (ultralytics' default for this torch: 17 for torch 1.13) | 12
#   simplify True (onnxslim) | False (raw torch.onnx output with its Shape/Gather/... chains)
#   imgsz    (640, 640) | (384, 640) as (height, width)
# These five rows are a covering array of strength 2: every pair of values of every two factors
# occurs in some row (row 0 is the plain `yolo export format=onnx` a user makes). The full cross
# product would be 16 rows per architecture.
# test_batch is the batch the conformance test feeds (a static export takes only its own batch, 1).
# For the END_TO_END architectures every row is exported end to end (file name ending in _e2e), plus
# RAW_HEAD_VARIANT with the one-to-many head.
VARIANTS = [
    dict(batch="static", opset=None, simplify=True, imgsz=(640, 640), test_batch=1),
    dict(batch="static", opset=12, simplify=False, imgsz=(384, 640), test_batch=1),
    dict(batch="dyn", opset=None, simplify=False, imgsz=(384, 640), test_batch=3),
    dict(batch="dyn", opset=12, simplify=True, imgsz=(384, 640), test_batch=1),
    dict(batch="dyn", opset=12, simplify=False, imgsz=(640, 640), test_batch=3),
]

RAW_HEAD_VARIANT = 0  # index into VARIANTS

BN_SCALE = (0.5, 1.5)  # BN weight ~ U(BN_SCALE)
BN_SHIFT_STD = 2.0  # BN bias ~ N(0, BN_SHIFT_STD): large shifts keep the random nets out of the chaotic regime
CLS_BIAS_MEAN = -3.0
CLS_SPREAD = 0.5
CALIB_BATCH = 8
SEED = 20240611  # base seed; each architecture's weights use SEED + its index in ARCHS


def variant_name(arch: str, v: dict) -> str:
    h, w = v["imgsz"]
    opset = f"op{v['opset']}" if v["opset"] else "opdefault"
    e2e = "_e2e" if v.get("end2end") else ""
    return f"{arch}_{h}x{w}_{v['batch']}_{opset}_{'simp' if v['simplify'] else 'nosimp'}{e2e}"


def variants(arch: str) -> list[dict]:
    if arch not in END_TO_END:
        return [dict(v, end2end=False) for v in VARIANTS]
    return [dict(v, end2end=True) for v in VARIANTS] + [dict(VARIANTS[RAW_HEAD_VARIANT], end2end=False)]


def cache_key() -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    for pkg in ("ultralytics", "torch", "onnx", "onnxslim"):
        h.update(f"{pkg}={importlib.metadata.version(pkg)};".encode())
    return h.hexdigest()[:16]


def randomize(model, seed: int, imgsz: tuple[int, int]) -> None:
    """Give a freshly built ultralytics DetectionModel non-trivial, seeded BatchNorm and head parameters.

    BN scale/shift are drawn at random (U(BN_SCALE), N(0, BN_SHIFT_STD)); then, in one eval-mode
    pass over random images, each BN's running statistics are set, just before it runs, to those of
    the input it actually gets (so activations stay O(1) through the depth of the network, and
    folding BN into the convolutions is not a no-op). The last conv of each head branch (the only
    convs with a bias, not followed by BN) is rescaled, per output channel, to a fixed spread on
    those images and gets a random bias: box branches N(0, 1) around spread 1, class branches
    N(CLS_BIAS_MEAN, 0.5) around spread CLS_SPREAD, so that even the top 300 of the A x 80 class
    scores, which the end-to-end heads select, sit where the sigmoid still has slope (not all ~1.0,
    where they would tie).

    Conditioning: with small BN shifts (std 0.3) these random nets are chaotic, float32 rounding
    grows through the depth (YOLOv9: float32 vs float64 box error ~1 px, ORT with graph optimizations
    on vs off ~30x the 1e-4 tolerance), so no two correct implementations could agree to 1e-4. Shifts
    of std 2 put most SiLUs in their near-linear or near-off ranges; then ORT on vs off agrees to
    <= 0.3x the tolerance on scores on every model (boxes: see tests/conformance/run_conformance.py).
    """
    import torch

    g = torch.Generator().manual_seed(seed + 1)
    head = model.model[-1]
    finals = {}  # last conv of a head branch -> (target spread, bias mean, bias std)
    for branch, target in (("cv2", (1.0, 0.0, 1.0)), ("one2one_cv2", (1.0, 0.0, 1.0)),
                           ("cv3", (CLS_SPREAD, CLS_BIAS_MEAN, 0.5)), ("one2one_cv3", (CLS_SPREAD, CLS_BIAS_MEAN, 0.5))):
        for seq in getattr(head, branch, None) or []:
            assert isinstance(seq[-1], torch.nn.Conv2d) and seq[-1].bias is not None, f"{branch}: {seq[-1]}"
            finals[seq[-1]] = target

    def set_bn_stats(bn, inputs):
        x = inputs[0]
        bn.running_mean.copy_(x.mean(dim=(0, 2, 3)))
        bn.running_var.copy_(x.var(dim=(0, 2, 3)))

    def scale_final(conv, inputs, output):
        spread, mean, std = finals[conv]
        per_channel = (output - conv.bias[:, None, None]).transpose(0, 1).flatten(1).std(dim=1)
        conv.weight.mul_((spread / per_channel)[:, None, None, None])
        conv.bias.copy_(torch.empty_like(conv.bias).normal_(mean, std, generator=g))

    hooks = []
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.empty(m.num_features).uniform_(*BN_SCALE, generator=g))
                m.bias.copy_(torch.empty(m.num_features).normal_(0.0, BN_SHIFT_STD, generator=g))
                hooks.append(m.register_forward_pre_hook(set_bn_stats))
        hooks += [conv.register_forward_hook(scale_final) for conv in finals]
        model.eval()
        model(torch.rand(CALIB_BATCH, 3, *imgsz, generator=g))
    for h in hooks:
        h.remove()


def build(arch: str):
    """The ultralytics YOLO object of `arch` with its seeded random weights (same on every call)."""
    import torch
    from ultralytics import YOLO

    seed = SEED + list(ARCHS).index(arch)
    torch.manual_seed(seed)
    yolo = YOLO(ARCHS[arch])
    randomize(yolo.model, seed, (640, 640))
    return yolo


def describe(path: Path) -> dict:
    import onnx

    m = onnx.load(str(path), load_external_data=False)

    def shape(vi):
        return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in vi.type.tensor_type.shape.dim]

    inits = {i.name for i in m.graph.initializer}
    return dict(
        opset=next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
        inputs=[dict(name=i.name, shape=shape(i)) for i in m.graph.input if i.name not in inits],
        outputs=[dict(name=o.name, shape=shape(o)) for o in m.graph.output],
        nodes=len(m.graph.node),
    )


def export_one(yolo, v: dict, dest: Path) -> None:
    import copy

    yolo = copy.deepcopy(yolo)  # every variant starts from the same, untouched model
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".export-") as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # ultralytics writes next to the 'weights' path, i.e. into the cwd
        try:
            out = yolo.export(
                format="onnx",
                imgsz=list(v["imgsz"]),
                dynamic=v["batch"] == "dyn",
                opset=v["opset"],
                simplify=v["simplify"],
                nms=False if v["end2end"] else None,  # False: the NMS-free one-to-one head
                batch=1,
                device="cpu",
                verbose=False,
            )
        finally:
            os.chdir(cwd)
        os.replace(Path(tmp) / out, dest)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=list(ARCHS), help="export only this architecture (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the model files (and whether cached), export nothing")
    ap.add_argument("--out", type=Path, help="output directory (default: the cache directory for this key)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = ap.parse_args()

    archs = args.only or list(ARCHS)
    out = args.out or CACHE / "models" / cache_key()
    jobs = [(a, v, out / f"{variant_name(a, v)}.onnx") for a in archs for v in variants(a)]

    if args.list:
        for a, v, p in jobs:
            print(f"{p.name:50s} {'cached' if p.exists() else 'missing'}")
        print(out)
        return 0

    import torch

    torch.set_num_threads(args.threads)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"models": []}
    entries = {e["file"]: e for e in manifest["models"]}

    total = 0.0
    built = {}  # arch -> (YOLO object, seconds to build it)
    for a, v, p in jobs:
        seconds = None
        if not p.exists():
            if a not in built:
                t0 = time.monotonic()
                built.clear()
                c0 = time.process_time()
                built[a] = build(a), time.monotonic() - t0
                print(f"built {a} ({ARCHS[a]}) with random weights in {built[a][1]:.1f} s"
                      f" ({time.process_time() - c0:.1f} s CPU)", file=sys.stderr)
                total += built[a][1]
            t0, c0 = time.monotonic(), time.process_time()
            export_one(built[a][0], v, p)
            seconds = round(time.monotonic() - t0, 2)
            total += seconds
            print(f"exported {p.name} in {seconds:.1f} s ({time.process_time() - c0:.1f} s CPU)", file=sys.stderr)
        old = entries.get(p.name, {})
        entries[p.name] = dict(
            file=p.name,
            arch=a,
            yaml=ARCHS[a],
            batch=v["batch"],
            opset_requested=v["opset"] or "default",
            simplify=v["simplify"],
            end2end=v["end2end"],
            imgsz=list(v["imgsz"]),
            test_batch=v["test_batch"],
            export_seconds=seconds if seconds is not None else old.get("export_seconds"),
            **describe(p),
        )

    manifest = dict(
        key=out.name,
        versions={k: importlib.metadata.version(k) for k in ("ultralytics", "torch", "onnx", "onnxslim")},
        models=[entries[k] for k in sorted(entries)],
    )
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, manifest_path)
    if total:
        print(f"built and exported the missing models in {total:.1f} s", file=sys.stderr)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
