"""Emulates src/backends/cuda/conv_tile3.cu's index math in numpy (no GPU needed): the tiles
(N tile, spatial tile, image) of each CTA (per_cta of them, one pipeline of (tile, chunk) steps
across them), the halo loader (halo_col: stride 2 stores even columns first), the weight loader
over pack_tile3_weights' layout [chunk][tap][cout_pad][16] (loaded once per CTA when
w_resident), the 32-byte row swizzle, the per-lane ldmatrix addresses at the 9 shifted taps,
mma.m16n8k16 fragments (the PTX ISA layouts, shared with tools/cuda_igemm_emulate.py), the
multistage schedule and the staged epilogue with its pixel(r) map (NHWC with a row stride and an
offset, or NCHW; residual; the dual store out2). Strided input / residual (x_ld, z_ld: a Split
piece read in its Concat slice): the rows around the piece hold NaN, so a read outside it fails
the check. Checks: every output element written once and equal to a direct
convolution (float64); every tile computed once; no shared read of a slot another step wrote;
every ldmatrix phase (8 row addresses) hits 8 distinct 16-byte bank groups; loads stay inside x
and the packed weights. Mirror kernel changes here first.

    $(tools/setup_python.sh) tools/cuda_tile3_emulate.py [seed]     # prints ALL OK or SOME FAILED
"""
import sys
import numpy as np
from cuda_igemm_emulate import mma

rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
KC, ROWB, PADN, T = 16, 32, 64, 128


def swz32(row, chunk):
    return row * ROWB + ((chunk ^ ((row >> 2) & 1)) << 4)


def halo_col(S, TW, p):
    return p if S == 1 else (2 * p if p < TW + 1 else 2 * (p - (TW + 1)) + 1)


def tap_col_offset(S, TW, s):
    return s if S == 1 else (0 if s == 0 else TW + 1 if s == 1 else 1)


def cfg(S, TH, TW, BN):
    c = dict(BM=TH * TW, WM=TH * TW // 4, HH=(TH - 1) * S + 3, HW=(TW - 1) * S + 3)
    c['MI'], c['NI'] = c['WM'] // 16, BN // 8
    c['halo_rows'] = c['HH'] * c['HW']
    c['halo_bytes'] = (c['halo_rows'] * ROWB + 127) // 128 * 128
    c['stage_bytes'] = c['halo_bytes'] + 9 * BN * ROWB
    c['stages'] = 3 if c['stage_bytes'] * 3 <= 96 * 1024 else 2
    return c


def pack(wt, cin, cout):
    chunks = (cin + KC - 1) // KC
    cpad = (cout + PADN - 1) // PADN * PADN
    out = np.zeros(chunks * 9 * cpad * KC)
    for o in range(cout):
        for c in range(cin):
            for t in range(9):
                out[((c // KC * 9 + t) * cpad + o) * KC + c % KC] = wt[o, c, t // 3, t % 3]
    return out, chunks, cpad


def check_phases(addrs):
    for j in range(4):
        groups = {(a // 16) % 8 for a in addrs[8 * j:8 * j + 8]}
        assert len(groups) == 8, f"ldmatrix bank conflict: {addrs[8 * j:8 * j + 8]}"


def run(d, S, TH, TW, BN, x, wpk, chunks, cpad, bias, z, out, offset, per_cta, out2=None, offset2=0):
    # x, z: flat, from the kernel's pointer (the piece's first channel) on, rows of x_ld / z_ld.
    c = cfg(S, TH, TW, BN)
    BM, WM, HW, MI, NI, stages = c['BM'], c['WM'], c['HW'], c['MI'], c['NI'], c['stages']
    n_tiles = (d['cout'] + BN - 1) // BN
    tiles_x, tiles_y = (d['ow'] + TW - 1) // TW, (d['oh'] + TH - 1) // TH
    tiles = d['n'] * tiles_y * tiles_x * n_tiles
    blocks = (tiles + per_cta - 1) // per_cta
    w_resident = chunks == 1 and (n_tiles == 1 or blocks % n_tiles == 0)
    alloc = min(chunks * per_cta, stages)  # stages in the dynamic shared memory
    stage_bytes = c['halo_bytes'] if w_resident else c['stage_bytes']
    w_bytes = alloc * c['halo_bytes'] if w_resident else 0
    used = alloc * stage_bytes + (9 * BN * ROWB if w_resident else 0)
    xf, written_out, written_out2 = x.reshape(-1), set(), set()
    zf = z.reshape(-1) if z is not None else None
    ohw = d['oh'] * d['ow']

    def tile_of(t):
        nt = t % n_tiles; t //= n_tiles
        tx = t % tiles_x; t //= tiles_x
        return nt * BN, (t % tiles_y) * TH, tx * TW, t // tiles_y  # n0, oy0, ox0, img

    seen_tiles = set()
    for first in range(blocks):  # blockIdx.x; gridDim.x = blocks
        stride = blocks
        cnt = (tiles - first + stride - 1) // stride
        my_tiles = cnt if cnt < per_cta else per_cta
        assert my_tiles >= 1
        steps = my_tiles * chunks
        smem = np.full(used // 2, np.nan)
        gen = np.full(used // 2, -1)  # step that wrote the slot

        def cp(dst, vals, step):
            assert dst % 16 == 0 and dst + 16 <= used
            i = dst // 2
            assert (gen[i:i + 8] != step).all(), "slot written twice in one step"
            smem[i:i + 8] = vals; gen[i:i + 8] = step

        def load(stage, step):
            ti = step // chunks; kc = step - ti * chunks
            n0, oy0, ox0, img = tile_of(first + ti * stride)
            iy0, ix0 = oy0 * S - d['ph'], ox0 * S - d['pw']
            ximg = img * d['h'] * d['w'] * d['x_ld']
            assert stage < alloc
            sh = stage * stage_bytes
            for tid in range(T):
                for i in range(tid, c['halo_rows'] * 2, T):
                    hp, ch = i >> 1, i & 1
                    hr = hp // HW
                    col = halo_col(S, TW, hp - hr * HW)
                    iy, ix, cc = iy0 + hr, ix0 + col, kc * KC + ch * 8
                    ok = 0 <= iy < d['h'] and 0 <= ix < d['w'] and cc < d['cin']
                    if ok:
                        off = ximg + (iy * d['w'] + ix) * d['x_ld'] + cc
                        assert off + 8 <= xf.size
                        vals = xf[off:off + 8]
                    else:
                        vals = np.zeros(8)
                    assert swz32(hp, ch) + 16 <= c['halo_bytes']
                    cp(sh + swz32(hp, ch), vals, step)
                if w_resident and step > 0: continue
                sb = w_bytes if w_resident else sh + c['halo_bytes']
                for i in range(tid, 9 * BN * 2, T):
                    row, ch = i >> 1, i & 1
                    tap, n = row // BN, row - (row // BN) * BN
                    off = ((kc * 9 + tap) * cpad + n0 + n) * KC + ch * 8
                    assert off + 8 <= wpk.size
                    cp(sb + swz32(row, ch), wpk[off:off + 8], step)

        acc = np.zeros((4, MI, NI, 32, 4))

        def ldm(addrs, step):
            check_phases(addrs)
            r = np.zeros((32, 4, 2))
            for j in range(4):
                for lane in range(32):
                    a = addrs[8 * j + lane // 4] // 2 + 2 * (lane % 4)
                    assert (gen[a:a + 2] == step).all(), "read of a slot another step wrote"
                    r[lane, j] = smem[a:a + 2]
            return r

        def compute(stage, step):
            sa = stage * stage_bytes
            sb = w_bytes if w_resident else sa + c['halo_bytes']
            for warp in range(4):
                abase = []
                for mi in range(MI):
                    row = []
                    for lane in range(32):
                        pl = warp * WM + mi * 16 + (lane & 15)
                        py, px = pl // TW, pl % TW
                        row.append(py * S * HW + px)
                    abase.append(row)
                for r in range(3):
                    for s in range(3):
                        shift = r * HW + tap_col_offset(S, TW, s)
                        A = []
                        for mi in range(MI):
                            rows = [abase[mi][l] + shift for l in range(32)]
                            assert max(rows) < c['halo_rows']
                            A.append(ldm([sa + swz32(rows[l], l >> 4) for l in range(32)], step))
                        B = [None] * NI
                        for nj in range(NI // 2):
                            t = ldm([sb + swz32((r * 3 + s) * BN + nj * 16 + (l & 7) + ((l >> 4) << 3),
                                                (l >> 3) & 1) for l in range(32)],
                                    0 if w_resident else step)
                            B[2 * nj] = t[:, 0:2]; B[2 * nj + 1] = t[:, 2:4]
                        for mi in range(MI):
                            for ni in range(NI):
                                mma(acc[warp, mi, ni], A[mi], B[ni])

        for s_ in range(stages - 1):
            if s_ < steps: load(s_, s_)
        kc = ti = 0
        for step in range(steps):
            nxt = step + stages - 1
            if nxt < steps:
                assert nxt % stages != step % stages
                load(nxt % stages, nxt)
            compute(step % stages, step)
            kc += 1
            if kc < chunks: continue
            kc = 0
            n0, oy0, ox0, img = tile_of(first + ti * stride)
            assert (first + ti * stride) not in seen_tiles
            seen_tiles.add(first + ti * stride)
            ti += 1
            # epilogue 1 (conv_mma.cuh stage_accumulators), rows warp * WM + ..., columns 0..BN-1
            tile = np.full((BM, BN), np.nan)
            for warp in range(4):
                for lane in range(32):
                    g, t4 = lane >> 2, lane & 3
                    for ni in range(NI):
                        cl = ni * 8 + t4 * 2; cc = n0 + cl
                        bb = (bias[cc], bias[cc + 1]) if bias is not None and cc < d['cout'] else (0.0, 0.0)
                        for mi in range(MI):
                            for hf in range(2):
                                r = warp * WM + mi * 16 + g + hf * 8
                                for q in range(2):
                                    v = acc[warp, mi, ni, lane, hf * 2 + q] + bb[q]
                                    if d['silu']: v = v / (1 + np.exp(-v))
                                    assert np.isnan(tile[r, cl + q]), "staged twice"
                                    tile[r, cl + q] = v
            assert not np.isnan(tile).any()
            acc[:] = 0.0

            # epilogue 2 (store_tile) with the kernel's pixel(r)
            def pixel(r):
                oy, ox = oy0 + r // TW, ox0 + r % TW
                return img * ohw + oy * d['ow'] + ox if oy < d['oh'] and ox < d['ow'] else -1
            for r in range(BM):
                m = pixel(r)
                if m < 0: continue
                for cl in range(BN):
                    cc = n0 + cl
                    if cc >= d['cout']: continue
                    v = tile[r, cl] + (zf[m * d['z_ld'] + cc] if zf is not None else 0.0)
                    if d['nchw']:
                        im, pix = m // ohw, m % ohw
                        at = (im * d['cout'] + cc) * ohw + pix
                    else:
                        at = m * d['ld'] + offset + cc
                    assert at not in written_out, "written twice"
                    written_out.add(at)
                    out[at] = v
                    if out2 is not None:  # dual store: NHWC only
                        assert not d['nchw']
                        at2 = m * d['out2_ld'] + offset2 + cc
                        assert at2 not in written_out2, "written twice (out2)"
                        written_out2.add(at2)
                        out2[at2] = v
        assert kc == 0 and ti == my_tiles
    assert len(seen_tiles) == tiles
    return written_out, written_out2


def test(n, cin, h, w, cout, S, tile, silu=True, use_bias=True, use_z=False, nchw=False, ld_extra=0,
         offset=0, per_cta=1, x_ld=0, x_off=0, z_ld=0, z_off=0, out2_ld=0, offset2=0):
    TH, TW, BN = tile
    oh, ow = (h - 1) // S + 1, (w - 1) // S + 1
    ld = cout + ld_extra
    d = dict(n=n, cin=cin, h=h, w=w, cout=cout, oh=oh, ow=ow, ph=1, pw=1, silu=silu, nchw=nchw,
             ld=ld, x_ld=x_ld or cin, z_ld=z_ld or cout, out2_ld=out2_ld)
    x = rng.standard_normal((n, h, w, cin))
    wt = rng.standard_normal((cout, cin, 3, 3))
    bias = rng.standard_normal(cout) if use_bias else None
    z = rng.standard_normal((n, oh, ow, cout)) if use_z else None
    wpk, chunks, cpad = pack(wt, cin, cout)
    size = n * oh * ow * (cout if nchw else ld)
    out = np.full(size, np.nan)
    # Strided: the values inside rows of x_ld / z_ld at x_off / z_off, NaN around them.
    xs = np.full((n, h, w, d['x_ld']), np.nan)
    xs[..., x_off:x_off + cin] = x
    zs = None
    if z is not None:
        zs = np.full((n, oh, ow, d['z_ld']), np.nan)
        zs[..., z_off:z_off + cout] = z
        zs = zs.reshape(-1)[z_off:]
    out2 = np.full(n * oh * ow * out2_ld, np.nan) if out2_ld else None
    written, written2 = run(d, S, TH, TW, BN, xs.reshape(-1)[x_off:], wpk, chunks, cpad, bias, zs,
                            out, offset, per_cta, out2, offset2)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    ref = np.zeros((n, oh, ow, cout))
    for r in range(3):
        for s in range(3):
            patch = xp[:, r:r + S * (oh - 1) + 1:S, s:s + S * (ow - 1) + 1:S, :]
            ref += patch @ wt[:, :, r, s].T
    if use_bias: ref += bias
    if silu: ref = ref / (1 + np.exp(-ref))
    if use_z: ref += z
    if nchw:
        expect = ref.reshape(n, oh * ow, cout).transpose(0, 2, 1).reshape(-1)
        idx = np.arange(size)
    else:
        full = np.full((n * oh * ow, ld), np.nan)
        full[:, offset:offset + cout] = ref.reshape(-1, cout)
        expect = full.reshape(-1)
        idx = np.nonzero(~np.isnan(expect))[0]
    ok = len(written) == idx.size and set(idx.tolist()) == written
    err = np.abs(out[idx] - expect[idx]).max()
    if out2_ld:  # the same values at the second slice, nothing else written there
        full2 = np.full((n * oh * ow, out2_ld), np.nan)
        full2[:, offset2:offset2 + cout] = ref.reshape(-1, cout)
        expect2 = full2.reshape(-1)
        idx2 = np.nonzero(~np.isnan(expect2))[0]
        ok = ok and len(written2) == idx2.size and set(idx2.tolist()) == written2
        err = max(err, np.abs(out2[idx2] - expect2[idx2]).max())
    ok = ok and err < 1e-9
    print(f"n{n} cin{cin} {h}x{w} cout{cout} s{S} tile {TH}x{TW}x{BN}"
          f"{' nchw' if nchw else ''}{' ld+' + str(ld_extra) if ld_extra else ''}"
          f"{' per_cta ' + str(per_cta) if per_cta > 1 else ''}"
          f"{f' x_ld{x_ld}+{x_off}' if x_ld else ''}{f' z_ld{z_ld}+{z_off}' if z_ld else ''}"
          f"{f' out2 ld{out2_ld}+{offset2}' if out2_ld else ''}: "
          f"max err {err:.2e}", "OK" if ok else "FAIL")
    return ok


def main():
    ok = True
    ok &= test(1, 16, 9, 19, 16, 1, (8, 16, 16), use_z=True)            # partial tiles, C_in 16
    ok &= test(2, 40, 8, 8, 48, 1, (8, 8, 32), ld_extra=16, offset=8)   # C_in 40: 3 chunks, last half
    ok &= test(1, 8, 11, 21, 24, 2, (8, 8, 16), nchw=True, use_bias=False)  # C_in 8, stride 2
    ok &= test(1, 32, 17, 33, 64, 2, (8, 16, 64), use_z=True)           # 2 chunks, stride 2
    ok &= test(3, 16, 7, 9, 80, 1, (8, 8, 64), nchw=True, silu=False)   # C_out 80 on 64-wide tiles
    ok &= test(1, 64, 10, 12, 32, 2, (8, 16, 32), use_z=True, ld_extra=8)  # 4 chunks > 3 stages
    ok &= test(1, 48, 9, 17, 16, 1, (8, 16, 16))                        # 3 chunks
    # Several tiles per CTA (the pipeline runs across tiles), uneven last CTAs.
    ok &= test(2, 16, 19, 21, 24, 1, (8, 8, 16), use_z=True, per_cta=4)  # 1 chunk, 30 tiles x 2 N
    ok &= test(1, 16, 17, 33, 32, 1, (8, 16, 32), per_cta=4)             # weights resident
    ok &= test(1, 8, 33, 20, 32, 2, (8, 8, 16), per_cta=3)               # resident, 2 N tiles
    ok &= test(1, 32, 17, 35, 32, 2, (8, 16, 32), nchw=True, per_cta=2)  # 2 chunks, stride 2
    ok &= test(1, 40, 9, 9, 16, 1, (8, 8, 16), ld_extra=8, offset=8, per_cta=3)  # 3 chunks
    # Strided input / residual (Split pieces in their Concat slice) and the dual store.
    ok &= test(1, 16, 9, 11, 16, 1, (8, 8, 16), use_z=True, x_ld=48, x_off=16, z_ld=48, z_off=16)
    ok &= test(2, 24, 7, 13, 32, 2, (8, 16, 32), x_ld=40, x_off=8, out2_ld=48, offset2=16)
    ok &= test(1, 16, 11, 19, 16, 1, (8, 16, 16), use_z=True, x_ld=32, x_off=16, z_ld=32, z_off=0,
               ld_extra=16, offset=8, out2_ld=24, offset2=8, per_cta=3)
    print("ALL OK" if ok else "SOME FAILED")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
