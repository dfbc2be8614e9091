#!/usr/bin/env python3
"""Per own-kernel conv step of a FUNGEN_CUDA_PROFILE=1 table: its ms against its memory floor
(reading the input and the residual once, writing the output once) at the given bandwidth.

    conv_floor.py PROFILE.txt BATCH [--bw 3.0e12] [--kernel tile3|igemm]

Reads the labels "name (tile3 3x3s1 16->16 @160x160 tile ..., residual ...)" (igemm, igemm
persistent too; ", and into concat": the dual store's second write counted; "source 2x (C ch)":
C input channels read from a map of a quarter of the pixels, lower_upfuse.cpp); the input map is
taken as stride x the output map (pad 1, 3x3: exact for even sizes). Prints, per step, ms, floor
ms and their ratio, largest ms first; then the sums.
"""
import re
import sys

LINE = re.compile(r"^\s+([0-9.]+)\s+[0-9.]+%\s+(\S+) \((tile3|igemm)(?: persistent)? (\d)x(\d)s(\d) (\d+)->(\d+) "
                  r"@(\d+)x(\d+)(.*)\)$")


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    batch = int(sys.argv[2])
    bw = float(sys.argv[sys.argv.index("--bw") + 1]) if "--bw" in sys.argv else 3.0e12
    want = sys.argv[sys.argv.index("--kernel") + 1] if "--kernel" in sys.argv else None
    rows = []
    with open(sys.argv[1], errors="replace") as f:
        for line in f:
            if line.startswith("cuda profile:"):
                rows.clear()  # the last table of the file
            m = LINE.match(line)
            if not m or (want and m.group(3) != want):
                continue
            ms = float(m.group(1))
            s, cin, cout = int(m.group(6)), int(m.group(7)), int(m.group(8))
            oh, ow = int(m.group(9)), int(m.group(10))
            out_px = batch * oh * ow
            nbytes = 2 * (out_px * s * s * cin + out_px * cout)
            if ", residual" in m.group(11):
                nbytes += 2 * out_px * cout
            if ", and into concat" in m.group(11):  # the dual store writes the output twice
                nbytes += 2 * out_px * cout
            up = re.search(r"source 2x \((\d+) ch\)", m.group(11))
            if up:  # an upsampled Concat's pieces read in place: those channels at 1/4 the pixels
                nbytes -= 2 * out_px * int(up.group(1)) * 3 // 4
            floor = nbytes / bw * 1e3
            rows.append((ms, floor, m.group(2), f"{m.group(3)} {m.group(4)}x{m.group(5)}s{s} "
                         f"{cin}->{cout} @{oh}x{ow}"))
    rows.sort(key=lambda r: -r[0])
    print(f"{'ms':>8} {'floor':>8} {'x floor':>7}  node (kernel, geometry)")
    for ms, floor, node, geo in rows:
        print(f"{ms:8.4f} {floor:8.4f} {ms / floor:7.2f}  {node} ({geo})")
    if rows:
        a, b = sum(r[0] for r in rows), sum(r[1] for r in rows)
        print(f"{a:8.4f} {b:8.4f} {a / b:7.2f}  ({len(rows)} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
