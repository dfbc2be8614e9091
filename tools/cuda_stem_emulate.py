"""Emulates src/backends/cuda/conv_stem.cu's index math in numpy (no GPU needed): each lane's
nine row segments and its left column (the previous lane's last element, or its own load on
lane 0, or padding at a row start), the per-chunk accumulation with lower_conv_direct's weight
layout, the swizzled shared-memory tile (asserts no slot is written twice) and the warp-ordered
NHWC stores with a row stride and slice offset; compares with a direct convolution (float64).
Mirror any change of the kernel's indexing here first.

    $(tools/setup_python.sh) tools/cuda_stem_emulate.py      # prints ALL OK (or asserts)
"""
import numpy as np
kPix, kWarps = 4, 4
def emulate(n, h, w, cout, out_ld, offset, kU, silu):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 3, h, w)).astype(np.float64)
    wt = rng.standard_normal((cout, 3, 3, 3))
    bias = rng.standard_normal(cout)
    oh, ow = (h - 1) // 2 + 1, w // 2
    assert w % 8 == 0 and ow % 4 == 0
    # packed weights as lower_conv_direct: w[((o/16)*27 + t)*16 + o%16]
    P = np.zeros(32 * 27); B = np.zeros(32)
    for o in range(cout):
        for t in range(27):
            P[((o // 16) * 27 + t) * 16 + o % 16] = wt[o].reshape(-1)[t]
        B[o] = bias[o]
    xf = x.reshape(-1)
    groups = n * oh * ow // kPix
    out = np.full(n * oh * ow * out_ld + offset + 64, np.nan)
    kItems = kPix * kU
    blocks = (groups + 127) // 128
    for blk in range(blocks):
        for warp in range(kWarps):
            wg0 = (blk * kWarps + warp) * 32
            segs, lefts, rows_in, info = [], [], [], []
            for lane in range(32):
                g = wg0 + lane; valid = g < groups
                p0 = g * kPix; nn = p0 // (oh * ow); r = p0 - nn * oh * ow; oy = r // ow; ox0 = r - oy * ow
                col0 = 2 * ox0
                seg = []; rin = []
                for s in range(9):
                    ci, iy = s // 3, 2 * oy - 1 + s % 3
                    ok = valid and 0 <= iy < h
                    rin.append(ok)
                    if ok:
                        base = ((nn * 3 + ci) * h + iy) * w + col0
                        assert base % 8 == 0
                        seg.append(xf[base:base + 8].copy())
                    else:
                        seg.append(np.zeros(8))
                segs.append(seg); rows_in.append(rin); info.append((nn, oy, ox0, col0))
            for lane in range(32):
                nn, oy, ox0, col0 = info[lane]
                l = []
                for s in range(9):
                    v = segs[lane - 1][s][7] if lane > 0 else segs[lane][s][7]
                    if lane == 0 and rows_in[lane][s] and ox0 > 0:
                        ci, iy = s // 3, 2 * oy - 1 + s % 3
                        v = xf[((nn * 3 + ci) * h + iy) * w + col0 - 1]
                    l.append(v if rows_in[lane][s] and ox0 > 0 else 0.0)
                lefts.append(l)
            pixels = groups * kPix; wp0 = wg0 * kPix
            for chunk in range(cout // 16):
                stage = [None] * (32 * kItems)
                for lane in range(32):
                    acc = np.tile(B[chunk * 16:chunk * 16 + 16], (kPix, 1))
                    for s in range(9):
                        v = np.concatenate([[lefts[lane][s]], segs[lane][s]])
                        for kx in range(3):
                            tap = s * 3 + kx
                            for j in range(kPix):
                                acc[j] += v[2 * j + kx] * P[(chunk * 27 + tap) * 16:(chunk * 27 + tap) * 16 + 16]
                    if silu: acc = acc / (1 + np.exp(-acc))
                    for j in range(kPix):
                        units = np.split(acc[j], kU)
                        for q in range(kU):
                            i = j * kU + q
                            idx = lane * kItems + (i ^ (lane & 7))
                            assert stage[idx] is None; stage[idx] = units[q]
                kV = 16 // kU
                for t in range(kItems):
                    for lane in range(32):
                        i = t * 32 + lane
                        pixel = wp0 + i // kU
                        u = stage[i ^ ((i // kItems) & 7)]
                        if pixel < pixels:
                            dst = offset + pixel * out_ld + chunk * 16 + (i % kU) * kV
                            out[dst:dst + kV] = u
    # reference
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros((n, oh, ow, cout))
    for oy in range(oh):
        for ox in range(ow):
            patch = xp[:, :, 2 * oy:2 * oy + 3, 2 * ox:2 * ox + 3].reshape(n, -1)
            ref[:, oy, ox, :] = patch @ wt.reshape(cout, -1).T + bias
    if silu: ref = ref / (1 + np.exp(-ref))
    got = np.stack([out[offset + p * out_ld: offset + p * out_ld + cout] for p in range(n * oh * ow)]).reshape(n, oh, ow, cout)
    err = np.abs(got - ref).max()
    print(n, h, w, cout, out_ld, offset, kU, silu, "max err", err)
    assert err < 1e-9
emulate(2, 33, 40, 32, 32, 0, 2, True)
emulate(1, 10, 16, 16, 24, 8, 4, False)
emulate(3, 9, 72, 16, 16, 0, 2, True)
print("ALL OK")
