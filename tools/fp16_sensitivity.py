#!/usr/bin/env python3
"""How much of a model's fp16 error is rounding: the output error of an fp16-storage emulation.

Runs a model with onnxruntime on the CPU twice: as it is (fp32), and with every float activation
rounded to fp16 after its node and the convolution weights rounded to fp16, computing in fp32 —
what the cuda backend's fp16 mode does when every kernel is right (fp16 storage, fp32
accumulation). The relative L2 between the two is what fp16 costs this model on correct kernels;
a cuda fp16 error far above it is a bug, not rounding. With --refill the conv weights are first
replaced like `fungen_gpu_bench --check-all --refill-weights` does (uniform, variance 1/fan_in),
and --perturb EPS also reports the output change for a relative input perturbation EPS in fp32
(a chaotic model amplifies it). Input: uniform [0,1), seeded.

    python=$(tools/setup_python.sh)
    "$python" tools/fp16_sensitivity.py MODEL.onnx --hw 384x640 [--refill] [--seed 1] [--perturb 1e-7]

Measured on the test models of tools/export_models.py (27 Nov 2026): yolo11_384x640 refilled
3.8e-4..4.4e-4 (4 models/seeds) where cuda fp16 gave 1.1e-2..3.8e-2 in the v3 check-all: a bug;
yolo12_640 refilled 8.3e-2 (chaotic: --perturb 1e-7 gives 7e-3), with its export weights 8.6e-4.
"""
import argparse

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def refill(model, rng):
    for i, t in enumerate(model.graph.initializer):
        a = numpy_helper.to_array(t)
        if a.ndim == 4 and a.shape[0] > 1 and a.dtype == np.float32:
            lim = np.sqrt(3.0 / (a.shape[1] * a.shape[2] * a.shape[3]))
            a = rng.uniform(-lim, lim, a.shape).astype(np.float32)
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(a, t.name))


def session(model):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def float_outputs(model, feed):
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for node in probe.graph.node:
        for o in node.output:
            probe.graph.output.append(onnx.ValueInfoProto(name=o))
    s = session(probe)
    values = s.run(None, feed)
    return {o.name for o, v in zip(s.get_outputs(), values)
            if isinstance(v, np.ndarray) and v.dtype == np.float32}


def emulate_fp16(model, floats):
    for i, t in enumerate(model.graph.initializer):
        a = numpy_helper.to_array(t)
        if a.ndim == 4 and a.dtype == np.float32:
            a = a.astype(np.float16).astype(np.float32)
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(a, t.name))
    nodes = []
    for node in model.graph.node:
        rounded = []
        for k, o in enumerate(node.output):
            if o in floats and node.op_type not in ("Shape", "Constant"):
                node.output[k] = o + "__fp32"
                rounded.append(o)
        nodes.append(node)
        for o in rounded:
            nodes.append(helper.make_node("Cast", [o + "__fp32"], [o + "__fp16"],
                                          to=TensorProto.FLOAT16))
            nodes.append(helper.make_node("Cast", [o + "__fp16"], [o], to=TensorProto.FLOAT))
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def rel_l2(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--hw", default="640x640", help="input HxW (default 640x640)")
    ap.add_argument("--refill", action="store_true", help="conv weights as --refill-weights")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--perturb", type=float, default=0.0, help="relative input perturbation")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    model = onnx.load(args.model)
    if args.refill:
        refill(model, rng)
    h, w = (int(v) for v in args.hw.split("x"))
    x = rng.random((1, 3, h, w), dtype=np.float32)
    s32 = session(model)
    name = s32.get_inputs()[0].name
    y32 = s32.run(None, {name: x})[0]
    if args.perturb > 0:
        xp = (x * (1 + args.perturb * rng.standard_normal(x.shape))).astype(np.float32)
        print(f"fp32, input perturbed by {args.perturb:g}: output rel L2 "
              f"{rel_l2(s32.run(None, {name: xp})[0], y32):.3e}")
    floats = float_outputs(model, {name: x})
    emulate_fp16(model, floats)
    y16 = session(model).run(None, {name: x.astype(np.float16).astype(np.float32)})[0]
    print(f"fp16 storage emulation: output rel L2 {rel_l2(y16, y32):.3e}, "
          f"finite {bool(np.isfinite(y16).all())}")


if __name__ == "__main__":
    main()
