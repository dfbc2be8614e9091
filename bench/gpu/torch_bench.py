#!/usr/bin/env python3
"""PyTorch peers for bench/gpu: the same architecture built from the Ultralytics yaml (random
weights; timing does not depend on them), BatchNorm folded, fp16, channels_last,
cudnn.benchmark. Modes: eager, torch.compile default, torch.compile reduce-overhead (CUDA graphs).
Model-only time: the input is already on the GPU; median of CUDA-event timings around one call
(synced each time, so Python's launch cost counts), and `pipelined`: 50 calls back to back between
two events, per call (the GPU-bound rate when Python keeps ahead of the GPU). fungen_gpu_bench's
`call ms` and `pipelined ms` columns time fungen the same two ways.

    python3 bench/gpu/torch_bench.py --yaml yolo11n.yaml --batches 1,8,32,128 --modes eager,default,reduce-overhead
"""
import argparse
import os
import sys
import time
import types

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")
os.environ.setdefault("YOLO_VERBOSE", "0")
os.environ.setdefault("YOLO_CONFIG_DIR", "/tmp/ultralytics")
for missing in ("polars", "ultralytics_platform"):  # imported by parts we do not use
    try:
        __import__(missing)
    except ImportError:
        sys.modules[missing] = types.ModuleType(missing)

import torch  # noqa: E402


def build(yaml):
    """The model of bench/gpu/export_on_device.py (same seeded weights as the ONNX fungen runs),
    BatchNorm folded, fp16, channels_last."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from export_on_device import seeded_model, weights_digest

    model = seeded_model(os.path.splitext(os.path.basename(yaml))[0]).model
    print(f"weights sha256 {weights_digest(model)}")
    m = model.fuse(verbose=False).eval().cuda().half()
    return m.to(memory_format=torch.channels_last)


def time_model(fn, x, iters):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    ts = []
    for _ in range(iters):
        start.record()
        fn(x)
        end.record()
        end.synchronize()
        ts.append(start.elapsed_time(end))
    ts.sort()
    return ts[len(ts) // 2]


def time_pipelined(fn, x, calls=50):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(calls):
        fn(x)
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / calls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--yaml", default="yolo11n.yaml")
    ap.add_argument("--batches", default="1,8,32,128")
    ap.add_argument("--modes", default="eager,default,reduce-overhead")
    ap.add_argument("--iters", type=int, default=50)
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, {a.yaml}")
    print("| model | mode | batch | ms (median) | img/s | peak MiB (allocator) | compile s | pipelined ms |")
    print("|---|---|---|---|---|---|---|---|")
    base = build(a.yaml)
    for mode in a.modes.split(","):
        for b in [int(x) for x in a.batches.split(",")]:
            torch._dynamo.reset()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            x = torch.rand(b, 3, 640, 640, device="cuda", dtype=torch.half).to(memory_format=torch.channels_last)
            fn = base if mode == "eager" else torch.compile(base, mode=mode, dynamic=False)
            t0 = time.time()
            with torch.inference_mode():
                for _ in range(3):
                    fn(x)
                torch.cuda.synchronize()
                compile_s = time.time() - t0
                ms = time_model(fn, x, a.iters)
                piped = time_pipelined(fn, x)
            peak = torch.cuda.max_memory_allocated() / 2**20
            print(f"| {os.path.basename(a.yaml)} | {mode} | {b} | {ms:.3f} | {1000 * b / ms:.0f} | {peak:.0f} | {compile_s:.1f} | {piped:.3f} |", flush=True)


if __name__ == "__main__":
    main()
