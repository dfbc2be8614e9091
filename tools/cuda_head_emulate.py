"""Emulates src/backends/cuda/detect_head.cu's split kernel (HeadKernel::kSplit) in numpy (no GPU
needed): the host's vector choice (launch_split: box anchors per thread VB = 4 bytes of the input
type when A % VB == 0, class vector V = 4 when nc * A % 4 == 0, and the pointer alignments), the
grid (box blocks, then class blocks, per image on grid.y), each box thread's loads (warp j = side
j, lane * VB anchors, bin rows i * A apart), the shared dist[4][32 * VB] it writes and the decode
of row k = warp by the same threads after the barrier, and each class thread's kClassUnroll
vectors of the image's contiguous class run. Every address is computed as the kernel computes it
(flat element offsets) and used to gather from / scatter into flat arrays, so a wrong offset
gives wrong values. Checks: every output element written exactly once and equal to the head's
formula evaluated on the logical [B, 4, bins, A] / [B, nc, A] arrays (float64, 1e-5); every
vector access aligned to its width; every load and store inside its buffer; each warp's access
of one instruction one contiguous run of 32 * width elements (full sectors: coalesced); no
shared slot read before the barrier wrote it. Mirror kernel changes here first.

    $(tools/setup_python.sh) tools/cuda_head_emulate.py [seed]     # prints ALL OK or SOME FAILED
"""
import sys

import numpy as np

rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
THREADS, SPLIT_BINS, CLASS_VEC, CLASS_UNROLL = 128, 16, 4, 4


def plan(A, nc, in_bytes, out_bytes, ptr_offsets):
    """launch_split's choice; ptr_offsets: byte offsets of box_x, cls_x, table, y from 256."""
    box_vec_w = 4 // in_bytes
    ob, oc, ot, oy = ptr_offsets
    box_vec = (A % box_vec_w == 0 and ob % (box_vec_w * in_bytes) == 0
               and ot % (box_vec_w * 4) == 0 and oy % (box_vec_w * out_bytes) == 0)
    cls_vec = ((nc * A) % CLASS_VEC == 0 and oc % (CLASS_VEC * in_bytes) == 0
               and oy % (CLASS_VEC * out_bytes) == 0)
    return (box_vec_w if box_vec else 1), (CLASS_VEC if cls_vec else 1)


def reference(box, cls, table, w, bias, m0):
    """The head's formula on logical arrays: box [B, 4, bins, A], cls [B, nc, A]."""
    B, _, bins, A = box.shape
    x = box.astype(np.float64)
    e = np.exp(x - x.max(axis=2, keepdims=True))
    dist = (e * w[None, None, :, None]).sum(2) / e.sum(2) + bias  # [B, 4, A]
    y_box = table[0][None, None, :] * np.einsum("kj,bja->bka", m0, dist) + table[1:5][None]
    y_cls = 1.0 / (1.0 + np.exp(-cls.astype(np.float64)))
    return np.concatenate([y_box, y_cls], axis=1)


def emulate(B, nc, A, bins, in_bytes, out_bytes, ptr_offsets=(0, 0, 0, 0)):
    VB, V = plan(A, nc, in_bytes, out_bytes, ptr_offsets)
    ok = True
    box = rng.uniform(-4, 4, (B, 4, bins, A)).astype(np.float32)
    cls = rng.uniform(-6, 6, (B, nc, A)).astype(np.float32)
    table = rng.uniform(0.5, 2, (5, A)).astype(np.float32)
    w = np.arange(bins, dtype=np.float64)
    bias, m0 = 0.0, rng.uniform(-1, 1, (4, 4))
    box_flat, cls_flat, tab_flat = box.ravel(), cls.ravel(), table.ravel()
    y = np.full(B * (4 + nc) * A, np.nan)
    writes = np.zeros(y.size, dtype=np.int64)
    box_blocks = (A + 32 * VB - 1) // (32 * VB)
    n = nc * A // V
    class_blocks = (n + THREADS * CLASS_UNROLL - 1) // (THREADS * CLASS_UNROLL)
    t = np.arange(THREADS)

    def check_access(all_idx, width, size, what, lanes_active):
        nonlocal ok
        idx = all_idx[lanes_active]
        if np.any(idx % width != 0):
            print(f"  FAIL {what}: vector access not aligned to {width} elements")
            ok = False
        if np.any(idx < 0) or np.any(idx + width > size):
            print(f"  FAIL {what}: access outside the buffer")
            ok = False
        # per warp (32 lanes of one instruction): one contiguous run when all lanes are active
        for wp in range(0, len(all_idx), 32):
            lane_idx, act = all_idx[wp:wp + 32], lanes_active[wp:wp + 32]
            if act.all() and np.any(np.diff(lane_idx) != width):
                print(f"  FAIL {what}: warp access not contiguous")
                ok = False
                return

    for b in range(B):
        for bx in range(box_blocks + class_blocks):
            if bx < box_blocks:
                side, lane = t >> 5, t & 31
                a = bx * 32 * VB + lane * VB
                act = a < A
                dist = np.full((4, 32 * VB), np.nan)
                xj = b * 4 * bins * A + side * bins * A + a
                raw = np.zeros((THREADS, SPLIT_BINS, VB))
                for i in range(min(bins, SPLIT_BINS)):
                    idx = xj + i * A
                    check_access(idx, VB, box_flat.size, "box load", act)
                    for q in range(VB):
                        raw[act, i, q] = box_flat[idx[act] + q]
                for q in range(VB):
                    r = raw[:, :bins, q].astype(np.float64)
                    e = np.exp(r - r.max(axis=1, keepdims=True))
                    val = (e * w[None, :]).sum(1) / e.sum(1) + bias
                    dist[side[act], lane[act] * VB + q] = val[act]
                # barrier; then warp k decodes row k
                k = side
                s_idx, c_idx = a, (1 + k) * A + a
                check_access(s_idx, VB, tab_flat.size, "table s", act)
                check_access(c_idx, VB, tab_flat.size, "table c", act)
                o_idx = (b * (4 + nc) + k) * A + a
                check_access(o_idx, VB, y.size, "box store", act)
                for q in range(VB):
                    dj = dist[:, lane * VB + q]  # [4, THREADS]
                    if np.any(np.isnan(dj[:, act])):
                        print("  FAIL: shared dist read before it was written")
                        ok = False
                    v = np.einsum("tj,jt->t", m0[k], dj)
                    out = tab_flat[s_idx[act] + q] * v[act] + tab_flat[c_idx[act] + q]
                    y[o_idx[act] + q] = out
                    np.add.at(writes, o_idx[act] + q, 1)
            else:
                v0 = (bx - box_blocks) * THREADS * CLASS_UNROLL
                xb, yb = b * nc * A, (b * (4 + nc) + 4) * A
                for u in range(CLASS_UNROLL):
                    i = v0 + t + u * THREADS
                    act = i < n
                    li, so = xb + i * V, yb + i * V
                    check_access(li, V, cls_flat.size, "class load", act)
                    check_access(so, V, y.size, "class store", act)
                    for q in range(V):
                        y[so[act] + q] = 1.0 / (1.0 + np.exp(-cls_flat[li[act] + q].astype(np.float64)))
                        np.add.at(writes, so[act] + q, 1)
    if np.any(writes != 1):
        print(f"  FAIL: {np.sum(writes == 0)} outputs unwritten, {np.sum(writes > 1)} written twice")
        ok = False
    want = reference(box, cls, table, w, bias, m0).ravel()
    err = np.max(np.abs(y - want) / (1 + np.abs(want)))
    if not err <= 1e-5:
        print(f"  FAIL: max error {err}")
        ok = False
    print(f"{'ok  ' if ok else 'FAIL'} B={B} nc={nc} A={A} bins={bins} in={in_bytes}B out={out_bytes}B "
          f"ptr offsets {ptr_offsets}: VB={VB} V={V}, {box_blocks}+{class_blocks} blocks per image")
    return ok


CASES = [
    (1, 80, 8400, 16, 2, 4),             # yolo11n 640x640, fp16 into the fp32 staging
    (3, 80, 5040, 16, 2, 4),             # 384x640
    (2, 80, 3549, 16, 2, 4),             # 416x416: odd A, box rows scalar, classes vectors
    (1, 5, 304, 16, 2, 4),               # nc * A % 4 == 0 with nc 5
    (2, 5, 221 + 63 + 17, 16, 2, 2),     # odd A, nc 5: both scalar; fp16 out (TopK form)
    (3, 3, 87, 16, 4, 4),                # fp32, odd everything
    (1, 16, 6 * 10 + 3 * 5 + 2 * 3, 16, 4, 4),
    (2, 80, 8400, 8, 2, 4),              # fewer bins
    (1, 80, 8400, 16, 2, 2),             # fp16 out
]


def main():
    all_ok = True
    for c in CASES:
        all_ok &= emulate(*c)
    # misaligned pointers: the host falls back to scalar accesses
    all_ok &= emulate(1, 80, 8400, 16, 2, 4, (2, 0, 0, 0))
    all_ok &= emulate(1, 80, 8400, 16, 2, 4, (0, 4, 0, 0))
    all_ok &= emulate(1, 80, 8400, 16, 2, 4, (0, 0, 4, 8))
    print("ALL OK" if all_ok else "SOME FAILED")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
