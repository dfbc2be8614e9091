"""Emulates src/backends/cuda/conv_stemfuse.cu in numpy (no GPU needed), CTA by CTA and thread
by thread: the tile decomposition (N tile, spatial tile, image), the shared-memory map (A halo
per chunk, B's weights per chunk at kWOffset, the input copy at kInOffset, reused for the staged
output tile), the weight loader over pack_tile3_weights' layout, the batched input copy (whole
vectors of 4 fp32 / 8 fp16 from column 4 ox0 - 8, zero outside the image), the stem on the halo
(in_row / in_col taps, zero outside the stem's map, tile3's halo_col order and 32-byte swizzle),
tile3's ldmatrix addresses at the 9 taps and the mma.m16n8k16 fragments, and the epilogue (bias,
SiLU, Concat slice with a row stride and offset, the dual store). Compared in float64 with the
stem then the 3x3 stride-2 conv computed directly; every output element written once; every
shared read inside its region and of a written slot; every ldmatrix phase conflict-free. Mirror
kernel changes here first. The mma variant's stem (stem_mma, FUNGEN_CUDA_STEMFUSE=mma) too: the
host packing of the stem's B fragments (pack_stemfuse_mma_weights: [chunk][lane][ks][ni][reg]
words, then the biases), each warp's m tiles over the halo, the lanes' A registers gathered from
the input copy by half loads (taps >= 27 masked), mma.m16n8k16, bias, SiLU, and each lane's
32-bit stores into the swizzled halo (every halo slot written exactly once). Exact arithmetic in
float64 (the fp16 rounding of the kernel is not modelled).

    $(tools/setup_python.sh) tools/cuda_stemfuse_emulate.py [seed]     # prints ALL OK
"""
import sys
import numpy as np
from cuda_igemm_emulate import mma
from cuda_tile3_emulate import swz32, halo_col, tap_col_offset, check_phases, pack

rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
T, TH, ROWB = 128, 8, 32


def cfg(TW, BN, ch):
    c = dict(BM=TH * TW, WM=TH * TW // 4, HH=2 * TH + 1, HW=2 * TW + 1, IH=4 * TH + 3, IW=4 * TW + 8)
    c['MI'], c['NI'] = c['WM'] // 16, BN // 8
    c['halo_rows'] = c['HH'] * c['HW']
    c['halo_bytes'] = (c['halo_rows'] * ROWB + 127) // 128 * 128
    c['b_bytes'] = 9 * BN * ROWB
    c['in_bytes'] = 3 * c['IH'] * c['IW'] * 2
    c['ldc'] = BN + 8
    tail = max(c['in_bytes'], c['BM'] * c['ldc'] * 2)
    c['w_off'] = ch * c['halo_bytes']
    c['in_off'] = c['w_off'] + ch * c['b_bytes']
    c['smem'] = c['in_off'] + tail
    assert c['smem'] <= 99 * 1024 and c['in_off'] % 16 == 0
    return c


def silu(v):
    return v / (1 + np.exp(-v))


def pack_stem_mma(wa, ba):
    """pack_stemfuse_mma_weights: per chunk, lane, (ks, ni, reg) word the two halves (K rows
    ks*16 + 2t + 8reg + h, N column ni*8 + g; taps >= 27 zero), then 16 fp32 biases."""
    ca = wa.shape[0]
    wk = wa.reshape(ca, 27)  # tap k = plane*9 + ky*3 + kx (the band order)
    words = np.zeros((ca // 16, 32, 8, 2))
    for q in range(ca // 16):
        for lane in range(32):
            g, t = lane >> 2, lane & 3
            for ks in range(2):
                for ni in range(2):
                    for reg in range(2):
                        for h in range(2):
                            k = ks * 16 + 2 * t + 8 * reg + h
                            if k < 27:
                                word = ks * 4 + ni * 2 + reg
                                words[q, lane, word, h] = wk[16 * q + ni * 8 + g, k]
    return words, ba.reshape(ca // 16, 16)


def stem_mma(c, smem, put, in_at, TW, ch, oy0, ox0, ah, aw, a_silu, mw, mb):
    HW, rows = c['HW'], c['halo_rows']
    mt_count = (rows + 15) // 16
    stored = set()
    for warp in range(4):
        for mt in range(warp, mt_count, 4):
            a = np.zeros((2, 32, 4, 2))  # [ks][lane][reg][half]
            hps, keep = np.zeros((32, 2), int), np.zeros((32, 2), bool)
            for lane in range(32):
                g, t = lane >> 2, lane & 3
                base = []
                for i in range(2):
                    hp = mt * 16 + g + 8 * i
                    hc = min(hp, rows - 1)
                    hr = hc // HW
                    col = halo_col(2, TW, hc - hr * HW)
                    ay, ax = 2 * oy0 - 1 + hr, 2 * ox0 - 1 + col
                    hps[lane, i], keep[lane, i] = hp, hp < rows and 0 <= ay < ah and 0 <= ax < aw
                    base.append(2 * hr * c['IW'] + 2 * col + 5)  # mma_pixel_offset
                for ks in range(2):
                    for reg in range(4):
                        for h in range(2):
                            k = ks * 16 + 2 * t + 8 * (reg >> 1) + h
                            if k >= 27: continue  # masked to 0
                            tap = ((k // 9) * c['IH'] + (k // 3) % 3) * c['IW'] + k % 3
                            off = base[reg & 1] + tap
                            assert 0 <= off < 3 * c['IH'] * c['IW']
                            v = smem[in_at // 2 + off]
                            assert not np.isnan(v), "stem_mma read an unwritten copy slot"
                            a[ks, lane, reg, h] = v
            for q in range(ch):
                for ni in range(2):
                    acc = np.zeros((32, 4))
                    for lane in range(32):
                        t = lane & 3
                        acc[lane] = [mb[q, ni * 8 + 2 * t + (i & 1)] for i in range(4)]
                    for ks in range(2):
                        b = np.stack([mw[q, :, ks * 4 + ni * 2 + reg] for reg in range(2)], axis=1)
                        mma(acc, a[ks], b)
                    for lane in range(32):
                        t = lane & 3
                        for i in range(2):
                            hp = hps[lane, i]
                            if hp >= rows: continue
                            v = acc[lane, 2 * i:2 * i + 2]
                            v = (silu(v) if a_silu else v) if keep[lane, i] else np.zeros(2)
                            dst = q * c['halo_bytes'] + swz32(hp, ni) + 4 * t
                            assert dst not in stored
                            stored.add(dst)
                            put(dst, v, q * c['halo_bytes'], (q + 1) * c['halo_bytes'])
    assert len(stored) == ch * rows * 8  # every halo slot (16 channels = 8 words a row) once


def run(x, wa, ba, a_silu, wpk, cpad, bias, b_silu, cb, TW, BN, vec, out, ld, off, out2, ld2, off2,
        variant='exact'):
    n, _, h, w = x.shape
    ca = wa.shape[0]
    ch = ca // 16
    ah, aw = (h - 1) // 2 + 1, w // 2
    oh, ow = (ah - 1) // 2 + 1, (aw - 1) // 2 + 1
    c = cfg(TW, BN, ch)
    HW, MI, NI, WM, BM = c['HW'], c['MI'], c['NI'], c['WM'], c['BM']
    n_tiles, tiles_x, tiles_y = (cb + BN - 1) // BN, (ow + TW - 1) // TW, (oh + TH - 1) // TH
    xf = x.reshape(-1)
    mw, mb = pack_stem_mma(wa, ba)
    written, written2 = set(), set()
    for blk in range(n * tiles_y * tiles_x * n_tiles):
        t = blk
        n0 = (t % n_tiles) * BN; t //= n_tiles
        ox0 = (t % tiles_x) * TW; t //= tiles_x
        oy0 = (t % tiles_y) * TH; img = t // tiles_y
        smem = np.full(c['smem'] // 2, np.nan)

        def put(dst, vals, lo, hi):
            assert dst % 2 == 0 and lo <= dst and dst + 2 * len(vals) <= hi
            smem[dst // 2:dst // 2 + len(vals)] = vals

        # 1. weights
        for tid in range(T):
            for i in range(tid, ch * 9 * BN * 2, T):
                row, cc = i >> 1, i & 1
                kt = row // BN; nn = row - kt * BN
                dst = c['w_off'] + (kt // 9) * c['b_bytes'] + swz32(row - (kt // 9) * 9 * BN, cc)
                src = (kt * cpad + n0 + nn) * 16 + cc * 8
                assert src + 8 <= wpk.size and dst % 16 == 0
                put(dst, wpk[src:src + 8], c['w_off'], c['in_off'])
        # 2. the input copy, batches of 8 per thread
        vecs = c['IW'] // vec
        total = 3 * c['IH'] * vecs
        per = (total + T - 1) // T
        iy0, ix0 = 4 * oy0 - 3, 4 * ox0 - 8
        for tid in range(T):
            for k0 in range(0, per, 8):
                for j in range(8):
                    i = tid + (k0 + j) * T
                    if i >= total: continue
                    row, v = i // vecs, i % vecs
                    plane, iy, ix = row // c['IH'], iy0 + row % c['IH'], ix0 + v * vec
                    ok = 0 <= iy < h and 0 <= ix < w
                    assert not ok or ix + vec <= w  # whole vectors inside
                    at = ((img * 3 + plane) * h + iy) * w + ix
                    assert not ok or at % vec == 0  # aligned vector loads
                    vals = xf[at:at + vec] if ok else np.zeros(vec)
                    dst = c['in_off'] + (row * c['IW'] + v * vec) * 2
                    assert dst % (2 * vec) == 0
                    put(dst, vals, c['in_off'], c['in_off'] + c['in_bytes'])
        # 3. the stem on the halo
        if variant == 'mma':
            stem_mma(c, smem, put, c['in_off'], TW, ch, oy0, ox0, ah, aw, a_silu, mw, mb)
        for hp in range(c['halo_rows'] if variant == 'exact' else 0):
            hr = hp // HW
            col = halo_col(2, TW, hp - hr * HW)
            ay, ax = 2 * oy0 - 1 + hr, 2 * ox0 - 1 + col
            for q in range(ch):
                vals = np.zeros(16)
                if 0 <= ay < ah and 0 <= ax < aw:
                    acc = ba[16 * q:16 * q + 16].copy()
                    for s in range(9):
                        plane, ky = s // 3, s % 3
                        for kx in range(3):
                            r, cl = 2 * hr + ky, 2 * col + kx + 5
                            assert 0 <= r < c['IH'] and 0 <= cl < c['IW']
                            v = smem[(c['in_off'] + ((plane * c['IH'] + r) * c['IW'] + cl) * 2) // 2]
                            assert not np.isnan(v)
                            acc += v * wa[16 * q:16 * q + 16, plane, ky, kx]
                    vals = silu(acc) if a_silu else acc
                for cc in range(2):
                    put(q * c['halo_bytes'] + swz32(hp, cc), vals[8 * cc:8 * cc + 8],
                        q * c['halo_bytes'], (q + 1) * c['halo_bytes'])
        # 4. tile3's main loop
        acc = np.zeros((4, MI, NI, 32, 4))

        def ldm(addrs, lo, hi):
            check_phases(addrs)
            r = np.zeros((32, 4, 2))
            for j in range(4):
                for lane in range(32):
                    a = addrs[8 * j + lane // 4] + 4 * (lane % 4)
                    assert lo <= a and a + 4 <= hi
                    r[lane, j] = smem[a // 2:a // 2 + 2]
                    assert not np.isnan(r[lane, j]).any(), "read of an unwritten slot"
            return r

        for warp in range(4):
            abase = []
            for mi in range(MI):
                rows = []
                for lane in range(32):
                    pl = warp * WM + mi * 16 + (lane & 15)
                    rows.append((pl // TW) * 2 * HW + pl % TW)
                abase.append(rows)
            for kc in range(ch):
                sa, sb = kc * c['halo_bytes'], c['w_off'] + kc * c['b_bytes']
                for r in range(3):
                    for s in range(3):
                        shift = r * HW + tap_col_offset(2, TW, s)
                        A = [ldm([sa + swz32(abase[mi][l] + shift, l >> 4) for l in range(32)], sa,
                                 sa + c['halo_bytes']) for mi in range(MI)]
                        B = [None] * NI
                        for nj in range(NI // 2):
                            tt = ldm([sb + swz32((r * 3 + s) * BN + nj * 16 + (l & 7) + ((l >> 4) << 3),
                                                 (l >> 3) & 1) for l in range(32)], sb, sb + c['b_bytes'])
                            B[2 * nj], B[2 * nj + 1] = tt[:, 0:2], tt[:, 2:4]
                        for mi in range(MI):
                            for ni in range(NI):
                                mma(acc[warp, mi, ni], A[mi], B[ni])
        # epilogue: staged over the input copy, then NHWC rows (and the dual store)
        tile = np.full((BM, c['ldc']), np.nan)
        for warp in range(4):
            for lane in range(32):
                g, t4 = lane >> 2, lane & 3
                for ni in range(NI):
                    cl = ni * 8 + t4 * 2; cc = n0 + cl
                    bb = (bias[cc], bias[cc + 1]) if bias is not None and cc < cb else (0.0, 0.0)
                    for mi in range(MI):
                        for hf in range(2):
                            rr = warp * WM + mi * 16 + g + hf * 8
                            for q in range(2):
                                v = acc[warp, mi, ni, lane, hf * 2 + q] + bb[q]
                                assert np.isnan(tile[rr, cl + q])
                                tile[rr, cl + q] = silu(v) if b_silu else v
        for rr in range(BM):
            oy, ox = oy0 + rr // TW, ox0 + rr % TW
            if oy >= oh or ox >= ow: continue
            m = (img * oh + oy) * ow + ox
            for cl in range(BN):
                cc = n0 + cl
                if cc >= cb: continue
                at = m * ld + off + cc
                assert at not in written
                written.add(at)
                out[at] = tile[rr, cl]
                if out2 is not None:
                    at2 = m * ld2 + off2 + cc
                    assert at2 not in written2
                    written2.add(at2)
                    out2[at2] = tile[rr, cl]
    return written, written2, (oh, ow)


def test(n, h, w, ca, cb, TW, BN, vec, act=True, ld_extra=0, off=0, ld2=0, off2=0, variant='exact'):
    x = rng.standard_normal((n, 3, h, w))
    wa = rng.standard_normal((ca, 3, 3, 3)) * 0.5
    ba = rng.standard_normal(ca) if act else np.zeros(ca)
    wb = rng.standard_normal((cb, ca, 3, 3)) * 0.2
    bias = rng.standard_normal(cb) if act else None
    wpk, _, cpad = pack(wb, ca, cb)
    ah, aw = (h - 1) // 2 + 1, w // 2
    oh, ow = (ah - 1) // 2 + 1, (aw - 1) // 2 + 1
    ld = cb + ld_extra
    out = np.full(n * oh * ow * ld, np.nan)
    out2 = np.full(n * oh * ow * ld2, np.nan) if ld2 else None
    written, written2, _ = run(x, wa, ba, act, wpk, cpad, bias, act, cb, TW, BN, vec, out, ld, off,
                               out2, ld2, off2, variant)
    # Direct: the stem (zero padding), then the conv on its map (zero padding).
    xp = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (1, 1), (1, 1), (0, 0)))
    a = np.zeros((n, ah, aw, ca))
    for r in range(3):
        for s in range(3):
            a += xp[:, r:r + 2 * (ah - 1) + 1:2, s:s + 2 * (aw - 1) + 1:2, :] @ wa[:, :, r, s].T
    a += ba
    if act: a = silu(a)
    ap = np.pad(a, ((0, 0), (1, 1), (1, 1), (0, 0)))
    ref = np.zeros((n, oh, ow, cb))
    for r in range(3):
        for s in range(3):
            ref += ap[:, r:r + 2 * (oh - 1) + 1:2, s:s + 2 * (ow - 1) + 1:2, :] @ wb[:, :, r, s].T
    if act: ref = silu(ref + bias)
    ok, err = True, 0.0
    for o, wr, l, of in ((out, written, ld, off), (out2, written2, ld2, off2)):
        if o is None: continue
        full = np.full((n * oh * ow, l), np.nan)
        full[:, of:of + cb] = ref.reshape(-1, cb)
        expect = full.reshape(-1)
        idx = np.nonzero(~np.isnan(expect))[0]
        ok = ok and len(wr) == idx.size and set(idx.tolist()) == wr
        err = max(err, np.abs(o[idx] - expect[idx]).max())
    ok = ok and err < 1e-9
    print(f"{variant} n{n} {h}x{w} 3->{ca}->{cb} tile 8x{TW}x{BN} vec {vec}"
          f"{' ld+' + str(ld_extra) + ' off ' + str(off) if ld_extra else ''}"
          f"{f' out2 ld{ld2}+{off2}' if ld2 else ''}: max err {err:.2e}", "OK" if ok else "FAIL")
    return ok


def main():
    ok = True
    ok &= test(1, 33, 40, 16, 32, 16, 32, 4)                   # odd height, partial tiles, fp32 in
    ok &= test(2, 19, 24, 32, 64, 8, 64, 8)                    # two chunks, fp16 in, 2 images
    ok &= test(1, 21, 48, 32, 64, 16, 32, 4)                   # two chunks, two N tiles
    ok &= test(1, 35, 72, 16, 16, 8, 16, 8, act=False, ld_extra=32, off=16, ld2=24, off2=8)
    ok &= test(1, 70, 136, 16, 32, 16, 32, 4)                  # several tiles both ways
    ok &= test(1, 33, 40, 16, 32, 16, 32, 4, variant='mma')    # the mma stem: 8x16 tiles
    ok &= test(2, 19, 24, 32, 64, 8, 64, 8, variant='mma')     # two chunks, 8x8 tiles
    ok &= test(1, 35, 72, 16, 16, 8, 16, 8, act=False, ld_extra=32, off=16, ld2=24, off2=8,
               variant='mma')
    print("ALL OK" if ok else "SOME FAILED")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
