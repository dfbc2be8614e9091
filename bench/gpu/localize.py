#!/usr/bin/env python3
"""Where a backend first departs from another, node by node (issue 5: fp32 errors on the GPU).

    bench/gpu/localize.py --model M.onnx [--backends cuda,cpu,reference] [--seed 1] [--first 12]

Makes a copy of the model whose every float node output is also a graph output, runs it with
`fungen infer --output-dir` on each backend (fp32) on one seeded uniform [0, 1) input, and prints,
in graph order, the relative L2 error of every backend against the last one (the plain reference
kernels by default), then the first --first values where the first backend is off by more than
1e-4 (--precision fp16: 1e-2) while the second is not. Extra graph outputs keep some fusions from happening (a value that is
an output is materialized), so a bug that lives only inside a fusion can hide: the end-to-end row
(the model's own outputs, run unmodified) is printed too.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, shape_inference


def sanitize(name: str) -> str:
    s = re.sub(r"[/\\:\0]", "_", name)
    return "output" if s in ("", ".", "..") else s


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    if a.shape != b.shape:
        return float("nan")
    d = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / d) if d > 0 else float(np.linalg.norm(a - b))


def infer(fungen: str, model: str, x: str, out_dir: str, backend: str,
          precision: str = "fp32") -> bool:
    os.makedirs(out_dir, exist_ok=True)
    r = subprocess.run([fungen, "infer", "-m", model, "-i", x, "--output-dir", out_dir,
                        "--backend", backend, "--precision", precision],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{backend}: fungen infer failed: {r.stderr.strip()[-400:]}")
    return r.returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--backends", default="cuda,cpu,reference")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--first", type=int, default=12)
    ap.add_argument("--fungen", default="fungen")
    ap.add_argument("--precision", default="fp32", help="of the first backend (fp16: cuda)")
    a = ap.parse_args()
    backends = a.backends.split(",")

    m = shape_inference.infer_shapes(onnx.load(a.model))
    types = {v.name: v.type.tensor_type.elem_type for v in
             list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
    inp = m.graph.input[0]
    dims = [d.dim_value if d.dim_value > 0 else dflt
            for d, dflt in zip(inp.type.tensor_type.shape.dim, (1, 3, 640, 640))]
    tmp = tempfile.mkdtemp(prefix="localize_")
    x = os.path.join(tmp, "x.npy")
    np.save(x, np.random.default_rng(a.seed).random(dims, dtype=np.float32))

    # End to end, unmodified model.
    prec = {b: (a.precision if i == 0 else "fp32") for i, b in enumerate(backends)}
    for b in backends:
        infer(a.fungen, a.model, x, os.path.join(tmp, "e2e_" + b), b, prec[b])
    ref = backends[-1]
    for o in m.graph.output:
        f = sanitize(o.name) + ".npy"
        want = np.load(os.path.join(tmp, "e2e_" + ref, f))
        row = " ".join(f"{b} {rel_l2(np.load(os.path.join(tmp, 'e2e_' + b, f)), want):.3e}"
                       for b in backends[:-1] if os.path.exists(os.path.join(tmp, "e2e_" + b, f)))
        print(f"end to end {o.name} vs {ref}: {row}")

    # Every float node output as a graph output.
    have = {o.name for o in m.graph.output}
    order = []
    for n in m.graph.node:
        for o in n.output:
            if o and o not in have and types.get(o) == TensorProto.FLOAT:
                m.graph.output.append(helper.make_tensor_value_info(o, TensorProto.FLOAT, None))
                have.add(o)
                order.append((n.name, n.op_type, o))
    all_model = os.path.join(tmp, "all.onnx")
    onnx.save(m, all_model)
    ok = {b: infer(a.fungen, all_model, x, os.path.join(tmp, "all_" + b), b, prec[b])
          for b in backends}
    if not all(ok.values()):
        return 1
    shown = 0
    worst = []
    for name, op, o in order:
        f = sanitize(o) + ".npy"
        paths = {b: os.path.join(tmp, "all_" + b, f) for b in backends}
        if not all(os.path.exists(p) for p in paths.values()):
            continue
        want = np.load(paths[ref])
        errs = [rel_l2(np.load(paths[b]), want) for b in backends[:-1]]
        worst.append((errs[0], name, op))
        tol = 1e-2 if a.precision == "fp16" else 1e-4
        if errs[0] > tol and all(e <= 1e-4 for e in errs[1:]) and shown < a.first:
            mx = float(np.abs(want).max()) if want.size else 0.0
            print(f"off: {op:10s} {name}  " +
                  " ".join(f"{b} {e:.3e}" for b, e in zip(backends[:-1], errs)) +
                  f"  shape {list(want.shape)} max|ref| {mx:.3g}")
            shown += 1
    worst.sort(reverse=True)
    print(f"{len(order)} values compared; first backend's largest errors:")
    for e, name, op in worst[:5]:
        print(f"  {e:.3e} {op} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
