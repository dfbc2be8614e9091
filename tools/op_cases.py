#!/usr/bin/env python3
"""Single-op cases: one-node ONNX models with random odd shapes, fungen vs ONNX Runtime.

    python=$(tools/setup_python.sh)
    "$python" tools/op_cases.py --fungen build/bin/fungen [--op Conv] [--seed N] [--per-op 4]
    "$python" tools/op_cases.py --list

Every case is drawn afresh from the seed (printed; --seed repeats a run): shapes, attributes and
data. The ops and attribute ranges cover what docs/ops.md lists for YOLO exports, plus the neighbours
a kernel should not get wrong (dilation, ceil_mode, uneven splits, negative axes and steps...).
Pass: |fungen - ort| <= 1e-4 * max(1, |ort|) element-wise; integer outputs exactly equal.
Prints one line per case and `N passed, M failed`.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ort_run  # noqa: E402

RTOL = 1e-4
F32, I64 = TensorProto.FLOAT, TensorProto.INT64


class Case:
    """One node; `inputs` fed at run time, `consts` as initializers."""

    def __init__(self, op: str, inputs: dict, attrs: dict | None = None, consts: dict | None = None,
                 n_outputs: int = 1, opset: int = 17, input_order: list | None = None, label: str = "",
                 out_types: list | None = None):
        self.op, self.inputs, self.attrs, self.consts = op, inputs, attrs or {}, consts or {}
        self.n_outputs, self.opset, self.label = n_outputs, opset, label
        self.out_types = out_types or [F32] * n_outputs
        self.input_order = input_order or list(inputs) + list(self.consts)

    def model(self) -> onnx.ModelProto:
        names = [n if n is not None else "" for n in self.input_order]
        outs = [f"y{i}" for i in range(self.n_outputs)]
        node = helper.make_node(self.op, names, outs, **self.attrs)
        ins = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
               for k, v in self.inputs.items()]
        outs_vi = [helper.make_tensor_value_info(o, t, None) for o, t in zip(outs, self.out_types)]
        inits = [numpy_helper.from_array(v, k) for k, v in self.consts.items()]
        g = helper.make_graph([node], f"{self.op}_case", ins, outs_vi, inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = 8
        return m

    def describe(self) -> str:
        shapes = " ".join(f"{k}{list(v.shape)}" for k, v in self.inputs.items())
        attrs = " ".join(f"{k}={v}" for k, v in self.attrs.items())
        consts = " ".join(f"{k}={v.tolist() if v.size <= 8 else list(v.shape)}" for k, v in self.consts.items())
        return f"{self.op}@{self.opset} {self.label} {shapes} {attrs} {consts}".replace("  ", " ").strip()


def f32(rng, *shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def i64(*values):
    return np.array(values, dtype=np.int64)


def conv(rng):
    n, g = int(rng.integers(1, 3)), int(rng.choice([1, 1, 2, 0]))  # 0: depthwise
    k = int(rng.choice([1, 2, 3, 5, 6, 7]))
    s, d = int(rng.choice([1, 2])), int(rng.choice([1, 1, 2]))
    cin = int(rng.integers(1, 9)) * (2 if g == 2 else 1)
    if g == 0:
        g = cin
    cout = g * int(rng.integers(1, 4)) if g > 1 else int(rng.integers(1, 12))
    h, w = int(rng.integers(k * d, 24)), int(rng.integers(k * d, 24))
    pads = [int(p) for p in rng.integers(0, k, size=4)]
    consts = {"w": f32(rng, cout, cin // g, k, k)}
    if rng.random() < 0.8:
        consts["b"] = f32(rng, cout)
    return Case("Conv", {"x": f32(rng, n, cin, h, w)},
                dict(group=g, kernel_shape=[k, k], strides=[s, s], dilations=[d, d], pads=pads), consts,
                opset=int(rng.choice([12, 17])))


def pool(op):
    def make(rng):
        k = int(rng.choice([1, 2, 3, 5]))
        s = int(rng.choice([1, 2]))
        pad = [int(p) for p in rng.integers(0, (k + 1) // 2, size=4)] if k > 1 else [0, 0, 0, 0]
        attrs = dict(kernel_shape=[k, k], strides=[s, s], pads=pad, ceil_mode=int(rng.integers(0, 2)))
        if op == "AveragePool":
            attrs["count_include_pad"] = int(rng.integers(0, 2))
        x = f32(rng, int(rng.integers(1, 3)), int(rng.integers(1, 6)),
                int(rng.integers(k, 20)), int(rng.integers(k, 20)))
        return Case(op, {"x": x}, attrs, opset=int(rng.choice([12, 17])))
    return make


def resize(rng):
    x = f32(rng, int(rng.integers(1, 3)), int(rng.integers(1, 5)), int(rng.integers(1, 12)), int(rng.integers(1, 12)))
    attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    scales = np.array([1, 1, 2, 2], np.float32) if rng.random() < 0.7 else np.array([1, 1, 3, 2], np.float32)
    if rng.random() < 0.5:  # opset 12: roi given (empty)
        return Case("Resize", {"x": x}, attrs, {"roi": np.zeros(0, np.float32), "scales": scales}, opset=12)
    return Case("Resize", {"x": x}, attrs, {"scales": scales}, opset=17, input_order=["x", None, "scales"])


def matmul(rng):
    m, k, n = (int(v) for v in rng.integers(1, 40, size=3))
    batch = [int(v) for v in rng.integers(1, 4, size=int(rng.integers(0, 3)))]
    b_batch = batch if rng.random() < 0.7 else [1] * len(batch)
    return Case("MatMul", {"a": f32(rng, *batch, m, k), "b": f32(rng, *b_batch, k, n)})


def softmax(rng):
    rank = int(rng.integers(2, 5))
    x = f32(rng, *[int(v) for v in rng.integers(1, 10, size=rank)], lo=-8, hi=8)
    opset = int(rng.choice([12, 13, 17]))
    axis = int(rng.integers(-rank, rank))
    return Case("Softmax", {"x": x}, dict(axis=axis), opset=opset)


def concat(rng):
    rank = int(rng.integers(1, 5))
    shape = [int(v) for v in rng.integers(1, 8, size=rank)]
    axis = int(rng.integers(-rank, rank))
    ins = {}
    for i in range(int(rng.integers(1, 5))):
        s = list(shape)
        s[axis] = int(rng.integers(1, 6))
        ins[f"x{i}"] = f32(rng, *s)
    return Case("Concat", ins, dict(axis=axis))


def split(rng):
    rank = int(rng.integers(1, 5))
    shape = [int(v) for v in rng.integers(1, 9, size=rank)]
    axis = int(rng.integers(-rank, rank))
    parts = int(rng.integers(1, 4))
    shape[axis] = max(shape[axis], parts)
    cuts = np.sort(rng.choice(np.arange(1, shape[axis]), size=parts - 1, replace=False)) if parts > 1 else []
    sizes = np.diff([0, *cuts, shape[axis]]).astype(np.int64)
    x = f32(rng, *shape)
    if rng.random() < 0.5:
        return Case("Split", {"x": x}, dict(axis=axis, split=sizes.tolist()), n_outputs=parts, opset=12, label="attr")
    return Case("Split", {"x": x}, dict(axis=axis), {"split": sizes}, n_outputs=parts, opset=17, label="input")


def slice_(rng):
    rank = int(rng.integers(1, 5))
    shape = [int(v) for v in rng.integers(1, 12, size=rank)]
    axes = rng.permutation(rank)[: int(rng.integers(1, rank + 1))]
    starts, ends, steps = [], [], []
    for a in axes:
        d = shape[a]
        step = int(rng.choice([1, 1, 2, -1, -2]))
        s, e = int(rng.integers(-d - 2, d + 2)), int(rng.integers(-d - 2, d + 2))
        if rng.random() < 0.15:
            e = int(np.iinfo(np.int64).max if step > 0 else np.iinfo(np.int64).min)
        starts.append(s), ends.append(e), steps.append(step)
    neg = [int(a) - rank if rng.random() < 0.3 else int(a) for a in axes]
    return Case("Slice", {"x": f32(rng, *shape)}, {},
                {"starts": i64(*starts), "ends": i64(*ends), "axes": i64(*neg), "steps": i64(*steps)})


def transpose(rng):
    rank = int(rng.integers(2, 5))
    x = f32(rng, *[int(v) for v in rng.integers(1, 9, size=rank)])
    return Case("Transpose", {"x": x}, dict(perm=[int(p) for p in rng.permutation(rank)]))


def gather(rng):
    rank = int(rng.integers(1, 4))
    shape = [int(v) for v in rng.integers(1, 9, size=rank)]
    axis = int(rng.integers(-rank, rank))
    d = shape[axis]
    idx_shape = [int(v) for v in rng.integers(1, 4, size=int(rng.integers(0, 3)))]
    idx = rng.integers(-d, d, size=idx_shape).astype(np.int64)
    return Case("Gather", {"x": f32(rng, *shape)}, dict(axis=axis), {"i": idx})


def gather_elements(rng):
    rank = int(rng.integers(1, 4))
    shape = [int(v) for v in rng.integers(1, 9, size=rank)]
    axis = int(rng.integers(-rank, rank))
    ishape = list(shape)
    ishape[axis] = int(rng.integers(1, 6))
    idx = rng.integers(-shape[axis], shape[axis], size=ishape).astype(np.int64)
    return Case("GatherElements", {"x": f32(rng, *shape)}, dict(axis=axis), {"i": idx})


def binary(op):
    def make(rng):
        rank = int(rng.integers(1, 5))
        a = [int(v) for v in rng.integers(1, 7, size=rank)]
        b = [1 if rng.random() < 0.3 else v for v in a][int(rng.integers(0, rank)):]
        lo = 0.5 if op == "Div" else -2
        return Case(op, {"a": f32(rng, *a, lo=lo, hi=2), "b": f32(rng, *b, lo=lo, hi=2)})
    return make


def sigmoid(rng):
    return Case("Sigmoid", {"x": f32(rng, *[int(v) for v in rng.integers(1, 9, size=int(rng.integers(1, 5)))],
                                  lo=-20, hi=20)})


def reshape(rng):
    shape = [int(v) for v in rng.integers(1, 7, size=int(rng.integers(1, 5)))]
    total = int(np.prod(shape))
    target = [total] if rng.random() < 0.2 else [shape[0], -1] if rng.random() < 0.5 else [0, *[-1]]
    return Case("Reshape", {"x": f32(rng, *shape)}, {}, {"shape": i64(*target)})


def topk(rng):
    rank = int(rng.integers(1, 4))
    shape = [int(v) for v in rng.integers(1, 40, size=rank)]
    axis = int(rng.integers(-rank, rank))
    k = int(rng.integers(1, shape[axis] + 1))
    return Case("TopK", {"x": f32(rng, *shape)}, dict(axis=axis, largest=int(rng.integers(0, 2)), sorted=1),
                {"k": i64(k)}, n_outputs=2, opset=int(rng.choice([11, 17])), out_types=[F32, I64])


def reduce(op):
    def make(rng):
        rank = int(rng.integers(1, 5))
        x = f32(rng, *[int(v) for v in rng.integers(1, 8, size=rank)])
        axes = sorted(int(a) for a in rng.permutation(rank)[: int(rng.integers(1, rank + 1))])
        keep = int(rng.integers(0, 2))
        if op == "ReduceSum":  # axes is an input from opset 13
            return Case(op, {"x": x}, dict(keepdims=keep), {"axes": i64(*axes)}, opset=17)
        return Case(op, {"x": x}, dict(axes=axes, keepdims=keep), opset=int(rng.choice([12, 17])))
    return make


def flatten(rng):
    rank = int(rng.integers(1, 5))
    x = f32(rng, *[int(v) for v in rng.integers(1, 7, size=rank)])
    return Case("Flatten", {"x": x}, dict(axis=int(rng.integers(-rank, rank + 1))))


def expand(rng):
    shape = [1 if rng.random() < 0.5 else int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 4)))]
    target = [int(rng.integers(1, 6)) if d == 1 else d for d in shape]
    target = [int(v) for v in rng.integers(1, 4, size=int(rng.integers(0, 2)))] + target
    return Case("Expand", {"x": f32(rng, *shape)}, {}, {"shape": i64(*target)})


def pad(rng):
    rank = int(rng.integers(1, 5))
    x = f32(rng, *[int(v) for v in rng.integers(1, 7, size=rank)])
    pads = rng.integers(0, 3, size=2 * rank).astype(np.int64)
    return Case("Pad", {"x": x}, dict(mode="constant"), {"pads": pads}, opset=int(rng.choice([12, 17])))


def mod(rng):
    shape = [int(v) for v in rng.integers(1, 30, size=int(rng.integers(1, 3)))]
    x = rng.integers(0, 100000, size=shape).astype(np.int64)
    return Case("Mod", {"x": x}, dict(fmod=0), {"d": i64(int(rng.integers(1, 100)))}, out_types=[I64])


def cast(rng):
    x = rng.integers(-1000, 1000, size=[int(v) for v in rng.integers(1, 20, size=2)]).astype(np.int64)
    return Case("Cast", {"x": x}, dict(to=F32))


OPS = {
    "Conv": conv, "MaxPool": pool("MaxPool"), "AveragePool": pool("AveragePool"), "Resize": resize,
    "MatMul": matmul, "Softmax": softmax, "Concat": concat, "Split": split, "Slice": slice_,
    "Transpose": transpose, "Gather": gather, "GatherElements": gather_elements, "Add": binary("Add"),
    "Sub": binary("Sub"), "Mul": binary("Mul"), "Div": binary("Div"), "Sigmoid": sigmoid, "Reshape": reshape,
    "TopK": topk, "ReduceMax": reduce("ReduceMax"), "ReduceSum": reduce("ReduceSum"), "Flatten": flatten,
    "Expand": expand, "Pad": pad, "Mod": mod, "Cast": cast,
}


def compare(a: np.ndarray, b: np.ndarray) -> tuple[bool, float, str]:
    if a.shape != b.shape:
        return False, np.inf, f"shape {list(a.shape)} vs ORT {list(b.shape)}"
    if np.issubdtype(b.dtype, np.integer) or b.dtype == np.bool_:
        bad = int(np.count_nonzero(a != b))
        return bad == 0, float(bad), f"{bad} integer elements differ" if bad else ""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    err = np.abs(a64 - b64)
    ratio = err / (RTOL * np.maximum(1, np.abs(b64)))
    worst = float(np.max(ratio, initial=0.0)) if not np.isnan(ratio).any() else np.inf
    return worst <= 1, worst, "" if worst <= 1 else f"max error ratio {worst:.3g}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fungen", help="the fungen CLI (a command line)")
    ap.add_argument("--backend", default="auto", help="passed to fungen infer --backend (default auto)")
    ap.add_argument("--op", action="append", choices=list(OPS), help="only this op (repeatable)")
    ap.add_argument("--per-op", type=int, default=6, help="cases per op (default 6)")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--list", action="store_true", help="print the cases, run nothing")
    ap.add_argument("--keep", type=Path, help="keep models, inputs and outputs here")
    args = ap.parse_args()

    seed = args.seed if args.seed is not None else time.time_ns() % 2**32
    print(f"op_cases seed {seed}", flush=True)
    rng = np.random.default_rng(seed)
    cases = [OPS[op](rng) for op in (args.op or OPS) for _ in range(args.per_op)]
    if args.list:
        for c in cases:
            print(c.describe())
        return 0
    if not args.fungen:
        ap.error("--fungen is required unless --list")
    fungen = shlex.split(args.fungen)
    work = Path(args.keep or tempfile.mkdtemp(prefix="fungen-op-cases-"))
    passed = failed = 0
    for n, c in enumerate(cases):
        d = work / f"{n:03d}_{c.op}"
        (d / "out").mkdir(parents=True, exist_ok=True)
        model = d / "model.onnx"
        onnx.save(c.model(), str(model))
        cmd = fungen + ["infer", "--model", str(model), "--output-dir", str(d / "out"),
                        "--backend", args.backend]
        for k, v in c.inputs.items():
            np.save(d / f"{k}.npy", v)
            cmd += ["--input", f"{k}={d / f'{k}.npy'}"]
        problem = ""
        try:
            want = ort_run.run(str(model), c.inputs)
        except Exception as e:  # a case ORT rejects is a bug in this tool
            print(f"SKIP {c.describe()}: ORT: {str(e).splitlines()[0]}")
            continue
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        worst = 0.0
        if p.returncode:
            problem = f"fungen exited {p.returncode}: {(p.stdout + p.stderr).strip()[-500:]}"
        else:
            for name, b in want.items():
                path = d / "out" / f"{name}.npy"
                if not path.exists():
                    problem = f"no {path.name}"
                    break
                ok, ratio, why = compare(np.load(path), b)
                worst = max(worst, ratio)
                if not ok:
                    problem = f"{name}: {why}"
                    break
        ok = not problem
        passed, failed = passed + ok, failed + (not ok)
        print(f"{'PASS' if ok else 'FAIL'} {c.describe()} max_ratio={worst:.3g}"
              + (f"\n    {problem}" if problem else ""))
        if not ok:
            print(f"    repeat: {shlex.join(cmd)}")
    if failed:
        print(f"op_cases FAILED with seed {seed} (cases kept in {work})")
    elif not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
