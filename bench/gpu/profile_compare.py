#!/usr/bin/env python3
"""Joins two FUNGEN_CUDA_PROFILE=1 step tables per ONNX node (the label up to " (").

    profile_compare.py BASE.txt NEW.txt [--all]

BASE/NEW are the stderr of `FUNGEN_CUDA_PROFILE=1 fungen_gpu_bench ...` (lines "  ms share%  label").
Prints, per node whose kernel differs between the two (e.g. cuDNN conv + epilogue vs igemm), both
ms, the ratio and both kernels, largest base time first; then the totals of those nodes and of all
steps. --all lists every node. Steps of one node in one table (conv + "to NHWC" ...) are summed.
"""
import re
import sys
from collections import OrderedDict

LINE = re.compile(r"^\s+([0-9.]+)\s+([0-9.]+)%\s+(.*)$")


def read(path):
    steps = OrderedDict()
    total = None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("cuda profile:"):
                m = re.search(r"([0-9.]+) ms per run", line)
                total = float(m.group(1)) if m else None
                steps.clear()  # the last table of the file (the largest batch when several)
                continue
            m = LINE.match(line)
            if not m:
                continue
            label = m.group(3)
            node, _, kernel = label.partition(" (")
            ms, kern = steps.get(node, (0.0, []))
            steps[node] = (ms + float(m.group(1)), kern + [kernel.rstrip(")")])
    return steps, total


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    base, base_total = read(sys.argv[1])
    new, new_total = read(sys.argv[2])
    show_all = "--all" in sys.argv[3:]
    rows = []
    for node, (bms, bk) in base.items():
        nms, nk = new.get(node, (0.0, []))
        if show_all or bk != nk:
            rows.append((bms, nms, node, "; ".join(bk), "; ".join(nk)))
    for node, (nms, nk) in new.items():
        if node not in base:
            rows.append((0.0, nms, node, "-", "; ".join(nk)))
    rows.sort(key=lambda r: -r[0])
    print(f"{'base ms':>9} {'new ms':>9} {'new/base':>8}  node: base kernel | new kernel")
    for bms, nms, node, bk, nk in rows:
        ratio = f"{nms / bms:8.2f}" if bms > 0 else "       -"
        print(f"{bms:9.4f} {nms:9.4f} {ratio}  {node}: {bk} | {nk}")
    sb = sum(r[0] for r in rows)
    sn = sum(r[1] for r in rows)
    print(f"{sb:9.4f} {sn:9.4f} {sn / sb if sb else 0:8.2f}  (the {len(rows)} nodes above)")
    if base_total is not None and new_total is not None:
        print(f"{base_total:9.4f} {new_total:9.4f} {new_total / base_total:8.2f}  (all steps, ms per run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
