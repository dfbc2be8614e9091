#!/usr/bin/env python3
"""Run an ONNX model with ONNX Runtime (CPU, default graph optimizations) on .npy inputs.

Mirrors the `fungen infer` command line, so the two can be compared file by file:

    ort_run.py --model M.onnx --input X.npy [--input name=path ...] (--output Y.npy | --output-dir D)

An --input without `name=` feeds the model's first input. With --output-dir each output is written
as `<output name>.npy`; --output writes the first output only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def parse_inputs(specs: list[str], input_names: list[str]) -> dict[str, np.ndarray]:
    feeds = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = input_names[0], spec
        if name not in input_names:
            raise SystemExit(f"ort_run.py: the model has no input '{name}' (inputs: {', '.join(input_names)})")
        feeds[name] = np.load(path)
    missing = [n for n in input_names if n not in feeds]
    if missing:
        raise SystemExit(f"ort_run.py: no value given for input(s) {', '.join(missing)}")
    return feeds


def run(model: str, feeds: dict[str, np.ndarray], threads: int = 1) -> dict[str, np.ndarray]:
    """Outputs of `model` on `feeds`, by output name, from ORT's CPU provider."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", action="append", required=True, metavar="[NAME=]PATH")
    out = ap.add_mutually_exclusive_group(required=True)
    out.add_argument("--output", type=Path, help="write the first output here")
    out.add_argument("--output-dir", type=Path, help="write every output as <name>.npy here")
    ap.add_argument("--threads", type=int, default=1, help="ORT intra-op threads (default 1)")
    args = ap.parse_args()

    import onnxruntime as ort

    probe = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    feeds = parse_inputs(args.input, [i.name for i in probe.get_inputs()])
    del probe
    outputs = run(args.model, feeds, args.threads)
    if args.output:
        np.save(args.output, next(iter(outputs.values())))
    else:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        for name, value in outputs.items():
            np.save(args.output_dir / f"{name}.npy", value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
