"""Emulates src/backends/cuda/conv_igemm.cu's index math in numpy (no GPU needed): the A/B
cp.async loaders and their K walk, the XOR swizzle, ldmatrix.x4 and mma.m16n8k16 fragment
layouts (as the PTX ISA defines them), the multistage schedule, the staged NHWC epilogue; checks
every output element is written once and equals a direct convolution (float64). Asserts on any
read of shared memory no load wrote. Strided input / residual (x_ld, z_ld: a Split piece read in
its Concat slice): the rows around the slice hold NaN, so a read outside it fails the check. Mirror any change of the kernel's indexing here first.
run_persist does the same for the persistent 1x1 kernel (conv_igemm_1x1.cu): its loaders, the
CTA -> (N tile, M tiles) walk and the stage rotation.

    $(tools/setup_python.sh) tools/cuda_igemm_emulate.py [seed]     # prints ALL OK or SOME FAILED
"""
import numpy as np, itertools, sys
from functools import partial
rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
BK = 32; ROWB = 64

def swz(row, chunk): return row * ROWB + ((chunk ^ ((row >> 1) & 3)) << 4)

def run(d, BM, BN, WM, WN, x, wpk, bias, z, out_nchw, out_ld, kpad):
    WMn, WNn = BM // WM, BN // WN
    T = WMn * WNn * 32
    stage_bytes = (BM + BN) * ROWB
    stages = 4 if stage_bytes * 4 <= 48 * 1024 else 3
    assert stages * stage_bytes <= 48 * 1024
    arows = BM * 4 // T; rowstep = T // 4
    MI, NI = WM // 16, WN // 8
    M = d['n'] * d['oh'] * d['ow']; ohw = d['oh'] * d['ow']
    ktiles = kpad // BK
    xf = x.reshape(-1)
    out = np.zeros_like(out_nchw) if out_nchw is not None else None
    res = {}
    n_tiles = (d['cout'] + BN - 1) // BN
    for blk in range((M + BM - 1) // BM * n_tiles):  # 1-D grid, N tiles of one M tile together
        mt = blk // n_tiles
        m0, n0 = mt * BM, (blk - mt * n_tiles) * BN
        smem = np.full(stages * stage_bytes // 2, np.nan, dtype=np.float64)  # half slots
        written = np.zeros(stages * stage_bytes // 2, dtype=bool)
        # per-thread loader state
        st = []
        for tid in range(T):
            achunk, arow0 = tid & 3, tid >> 2
            rows = []
            for i in range(arows):
                m = m0 + arow0 + i * rowstep
                if m < M:
                    img = m // ohw; rem = m - img * ohw; oy = rem // d['ow']; ox = rem - oy * d['ow']
                    rows.append((img * d['h'] * d['w'] * d['x_ld'], oy * d['sh'] - d['ph'], ox * d['sw'] - d['pw']))
                else:
                    rows.append((0, -(1 << 30), 0))
            s = dict(kc=achunk * 8, kr=0, ks=0, rows=rows, achunk=achunk, arow0=arow0)
            norm(s, d); st.append(s)
        def cp(dst_byte, vals):
            assert dst_byte % 16 == 0
            i = dst_byte // 2
            smem[i:i + 8] = vals; written[i:i + 8] = True
        def load_a(stage):
            base = stage * stage_bytes
            for tid in range(T):
                s = st[tid]; kvalid = s['kr'] < d['kh']
                for i in range(arows):
                    b0, ih0, iw0 = s['rows'][i]
                    ih, iw = ih0 + s['kr'], iw0 + s['ks']
                    ok = kvalid and 0 <= ih < d['h'] and 0 <= iw < d['w']
                    if ok:
                        off = d['x_off'] + b0 + (ih * d['w'] + iw) * d['x_ld'] + s['kc']
                        assert off + 8 <= xf.size
                        vals = xf[off:off + 8]
                    else:
                        vals = np.zeros(8)
                    cp(base + swz(s['arow0'] + i * rowstep, s['achunk']), vals)
                s['kc'] += BK; norm(s, d)
        def load_b(stage, kt):
            base = stage * stage_bytes + BM * ROWB
            for tid in range(T):
                for i in range(tid, BN * 4, T):
                    row, ch = i >> 2, i & 3
                    off = (n0 + row) * kpad + kt * BK + ch * 8
                    assert off + 8 <= wpk.size
                    cp(base + swz(row, ch), wpk.reshape(-1)[off:off + 8])
        acc = np.zeros((T // 32, MI, NI, 32, 4))
        def ldm(addrs):  # 32 byte addresses -> regs[32][4] each 2 values
            r = np.zeros((32, 4, 2))
            for j in range(4):
                for lane in range(32):
                    row = lane // 4; col = 2 * (lane % 4)
                    a = addrs[8 * j + row] // 2 + col
                    assert written[a] and written[a + 1], "unwritten smem read"
                    r[lane, j] = smem[a:a + 2]
            return r
        def compute(stage):
            sa = stage * stage_bytes; sb = sa + BM * ROWB
            for warp in range(T // 32):
                wm, wn = warp % WMn, warp // WMn
                for kk in range(BK // 16):
                    A = [ldm([sa + swz(wm * WM + mi * 16 + (l & 15), kk * 2 + (l >> 4)) for l in range(32)]) for mi in range(MI)]
                    B = [None] * NI
                    for nj in range(NI // 2):
                        t = ldm([sb + swz(wn * WN + nj * 16 + (l & 7) + ((l >> 4) << 3), kk * 2 + ((l >> 3) & 1)) for l in range(32)])
                        B[2 * nj] = t[:, 0:2]; B[2 * nj + 1] = t[:, 2:4]
                    for mi in range(MI):
                        for ni in range(NI):
                            mma(acc[warp, mi, ni], A[mi], B[ni])
        for s_ in range(stages - 1):
            if s_ < ktiles: load_a(s_); load_b(s_, s_)
        for kt in range(ktiles):
            nxt = kt + stages - 1
            # compute first on a snapshot isn't needed: kernel syncs before loading into the freed stage
            if nxt < ktiles: load_a(nxt % stages); load_b(nxt % stages, nxt)
            assert (nxt % stages) != (kt % stages)
            compute(kt % stages)
        # epilogue 1: act(acc + bias) into the staged tile [BM][BN] (each cell exactly once)
        tile = np.full((BM, BN), np.nan)
        for warp in range(T // 32):
            wm, wn = warp % WMn, warp // WMn
            for lane in range(32):
                g, t4 = lane >> 2, lane & 3
                for ni in range(NI):
                    cl = wn * WN + ni * 8 + t4 * 2; c = n0 + cl
                    b = (bias[c], bias[c + 1]) if bias is not None and c < d['cout'] else (0.0, 0.0)
                    for mi in range(MI):
                        for hf in range(2):
                            r = wm * WM + mi * 16 + g + hf * 8
                            for q in range(2):
                                v = acc[warp, mi, ni, lane, hf * 2 + q] + b[q]
                                if d['silu']: v = v / (1 + np.exp(-v))
                                assert np.isnan(tile[r, cl + q]), "staged twice"
                                tile[r, cl + q] = v
        assert not np.isnan(tile).any(), "tile cell not staged"
        # epilogue 2: NHWC 8-channel chunks (+ residual)
        chunks = BN // 8
        for tid in range(T):
            for i in range(tid, BM * chunks, T):
                r = i // chunks; cl = (i - r * chunks) * 8
                m = m0 + r; c = n0 + cl
                if m >= M or c >= d['cout']: continue
                assert c + 8 <= d['cout']
                for q in range(8):
                    v = tile[r, cl + q]
                    if z is not None: v += z.reshape(-1)[d['z_off'] + m * d['z_ld'] + c + q]
                    key = (m, c + q)
                    assert key not in res, "written twice"
                    res[key] = v
    return res

def run_persist(d, BM, BN, WM, WN, x, wpk, bias, z, out_nchw, out_ld, kpad, walkers=None, stages=2):
    """src/backends/cuda/conv_igemm_1x1.cu: B slice loaded once, A stages of whole tile_m x K
    blocks ([kt][BM][64 B] each), CTA blk takes N tile blk % n_tiles and M tiles
    blk // n_tiles + j * walkers; the stage a load goes to is never the one being computed."""
    assert d['kh'] == d['kw'] == 1 and d['sh'] == d['sw'] == 1 and d['ph'] == d['pw'] == 0
    WMn, WNn = BM // WM, BN // WN
    T = WMn * WNn * 32
    MI, NI = WM // 16, WN // 8
    M = d['n'] * d['oh'] * d['ow']
    ktiles = kpad // BK; kt4 = ktiles * 4
    m_tiles = (M + BM - 1) // BM; n_tiles = (d['cout'] + BN - 1) // BN
    walkers = max(1, min(m_tiles, walkers or 3))
    xf = x.reshape(-1); wf = wpk.reshape(-1)
    b_bytes = ktiles * BN * ROWB; a_stage = ktiles * BM * ROWB
    res = {}
    for blk in range(walkers * n_tiles):
        n0 = blk % n_tiles * BN; first = blk // n_tiles
        my = (m_tiles - 1 - first) // walkers + 1 if first < m_tiles else 0
        smem = np.full((b_bytes + stages * a_stage) // 2, np.nan)
        written = np.zeros(smem.size, dtype=bool)
        holds = [None] * stages
        def cp(dst, vals):
            assert dst % 16 == 0
            smem[dst // 2:dst // 2 + 8] = vals; written[dst // 2:dst // 2 + 8] = True
        for tid in range(T):
            for i in range(tid, BN * kt4, T):
                row = i // kt4; rem = i - row * kt4; kt = rem >> 2; ch = rem & 3
                off = (n0 + row) * kpad + kt * BK + ch * 8
                assert off + 8 <= wf.size
                cp(kt * BN * ROWB + swz(row, ch), wf[off:off + 8])
        def load_a(stage, j):
            m0 = (first + j * walkers) * BM
            for tid in range(T):
                for i in range(tid, BM * kt4, T):
                    row = i // kt4; rem = i - row * kt4; kt = rem >> 2; ch = rem & 3
                    m = m0 + row; k = kt * BK + ch * 8
                    if m < M and k < d['cin']:
                        off = d['x_off'] + m * d['x_ld'] + k
                        assert off + 8 <= xf.size
                        vals = xf[off:off + 8]
                    else:
                        vals = np.zeros(8)
                    cp(b_bytes + stage * a_stage + kt * BM * ROWB + swz(row, ch), vals)
            holds[stage] = j
        def ldm(addrs):
            r = np.zeros((32, 4, 2))
            for q in range(4):
                for lane in range(32):
                    a = addrs[8 * q + lane // 4] // 2 + 2 * (lane % 4)
                    assert written[a] and written[a + 1], "unwritten smem read"
                    r[lane, q] = smem[a:a + 2]
            return r
        for s_ in range(stages - 1):
            if s_ < my: load_a(s_, s_)
        for j in range(my):
            nxt = j + stages - 1
            if nxt < my:
                assert nxt % stages != j % stages
                load_a(nxt % stages, nxt)
            assert holds[j % stages] == j, "computing a stage that holds another tile"
            acc = np.zeros((T // 32, MI, NI, 32, 4))
            for kt in range(ktiles):
                sa = b_bytes + (j % stages) * a_stage + kt * BM * ROWB; sb = kt * BN * ROWB
                for warp in range(T // 32):
                    wm, wn = warp % WMn, warp // WMn
                    for kk in range(BK // 16):
                        A = [ldm([sa + swz(wm * WM + mi * 16 + (l & 15), kk * 2 + (l >> 4)) for l in range(32)]) for mi in range(MI)]
                        B = [None] * NI
                        for nj in range(NI // 2):
                            t = ldm([sb + swz(wn * WN + nj * 16 + (l & 7) + ((l >> 4) << 3), kk * 2 + ((l >> 3) & 1)) for l in range(32)])
                            B[2 * nj] = t[:, 0:2]; B[2 * nj + 1] = t[:, 2:4]
                        for mi in range(MI):
                            for ni in range(NI):
                                mma(acc[warp, mi, ni], A[mi], B[ni])
            tile = np.full((BM, BN), np.nan)
            for warp in range(T // 32):
                wm, wn = warp % WMn, warp // WMn
                for lane in range(32):
                    g, t4 = lane >> 2, lane & 3
                    for ni in range(NI):
                        cl = wn * WN + ni * 8 + t4 * 2; c = n0 + cl
                        b = (bias[c], bias[c + 1]) if bias is not None and c < d['cout'] else (0.0, 0.0)
                        for mi in range(MI):
                            for hf in range(2):
                                r = wm * WM + mi * 16 + g + hf * 8
                                for q in range(2):
                                    v = acc[warp, mi, ni, lane, hf * 2 + q] + b[q]
                                    if d['silu']: v = v / (1 + np.exp(-v))
                                    assert np.isnan(tile[r, cl + q]), "staged twice"
                                    tile[r, cl + q] = v
            assert not np.isnan(tile).any(), "tile cell not staged"
            m0 = (first + j * walkers) * BM
            for tid in range(T):
                for i in range(tid, BM * (BN // 8), T):
                    r = i // (BN // 8); cl = (i - r * (BN // 8)) * 8
                    m = m0 + r; c = n0 + cl
                    if m >= M or c >= d['cout']: continue
                    assert c + 8 <= d['cout']
                    for q in range(8):
                        v = tile[r, cl + q]
                        if z is not None: v += z.reshape(-1)[d['z_off'] + m * d['z_ld'] + c + q]
                        assert (m, c + q) not in res, "written twice"
                        res[(m, c + q)] = v
    return res

def mma(c, a, b):  # c[32][4], a[32][4][2], b[32][2][2]
    A = np.zeros((16, 16)); Bm = np.zeros((16, 8))
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        A[g, 2*t:2*t+2] = a[lane, 0]; A[g+8, 2*t:2*t+2] = a[lane, 1]
        A[g, 2*t+8:2*t+10] = a[lane, 2]; A[g+8, 2*t+8:2*t+10] = a[lane, 3]
        Bm[2*t:2*t+2, g] = b[lane, 0]; Bm[2*t+8:2*t+10, g] = b[lane, 1]
    C = A @ Bm
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        c[lane, 0:2] += C[g, 2*t:2*t+2]; c[lane, 2:4] += C[g+8, 2*t:2*t+2]

def norm(s, d):
    while s['kc'] >= d['cin']:
        s['kc'] -= d['cin']; s['ks'] += 1
        if s['ks'] == d['kw']: s['ks'] = 0; s['kr'] += 1

def strided(dense, ld, off):  # dense [..., C] -> rows of ld holding it at channel off, NaN around
    c = dense.shape[-1]
    assert ld % 8 == 0 and off % 8 == 0 and off + c <= ld
    buf = np.full(dense.shape[:-1] + (ld,), np.nan)
    buf[..., off:off + c] = dense
    return buf

def test(n, cin, h, w, cout, k, stride, cfg, silu=True, use_bias=True, use_z=False, x_ld=0,
         x_off=0, z_ld=0, z_off=0, runner=None):
    p = k // 2
    oh = (h + 2*p - k) // stride + 1; ow = (w + 2*p - k) // stride + 1
    d = dict(n=n, cin=cin, h=h, w=w, cout=cout, oh=oh, ow=ow, kh=k, kw=k, sh=stride, sw=stride, ph=p, pw=p, silu=silu,
             x_ld=x_ld or cin, x_off=x_off, z_ld=z_ld or cout, z_off=z_off)
    x = rng.standard_normal((n, h, w, cin))
    wt = rng.standard_normal((cout, cin, k, k))
    bias = rng.standard_normal(cout) if use_bias else None
    z = rng.standard_normal((n, oh, ow, cout)) if use_z else None
    xs = strided(x, d['x_ld'], x_off)
    zs = strided(z, d['z_ld'], z_off) if use_z else None
    K = k*k*cin; kpad = (K + 31)//32*32; cpad = (cout + 127)//128*128
    wpk = np.zeros((cpad, kpad))
    for o in range(cout):
        for c in range(cin):
            for r in range(k):
                for s in range(k):
                    wpk[o, (r*k + s)*cin + c] = wt[o, c, r, s]
    res = (runner or run)(d, *cfg, xs, wpk, bias, zs, None, cout, kpad)
    xp = np.pad(x, ((0,0),(p,p),(p,p),(0,0)))
    ref = np.zeros((n, oh, ow, cout))
    for r in range(k):
        for s in range(k):
            patch = xp[:, r:r + stride*(oh-1)+1:stride, s:s + stride*(ow-1)+1:stride, :]
            ref += patch @ wt[:, :, r, s].T
    if use_bias: ref += bias
    if silu: ref = ref / (1 + np.exp(-ref))
    if use_z: ref += z
    ref = ref.reshape(-1, cout)
    assert len(res) == ref.size, (len(res), ref.size)
    got = np.zeros_like(ref)
    for (m, c), v in res.items(): got[m, c] = v
    err = np.abs(got - ref).max()
    tag = f" x_ld{x_ld}+{x_off} z_ld{z_ld}+{z_off}" if x_ld or z_ld else ""
    print(f"n{n} cin{cin} {h}x{w} cout{cout} k{k}s{stride} cfg{cfg}{tag}: max err {err:.2e}", "OK" if err < 1e-9 else "FAIL")
    return err < 1e-9

def main():
    ok = True
    ok &= test(1, 16, 5, 7, 24, 3, 2, (64, 32, 32, 16), use_z=True)
    ok &= test(2, 8, 5, 6, 16, 3, 1, (64, 16, 16, 16))
    ok &= test(1, 48, 4, 5, 40, 1, 1, (64, 64, 32, 32), silu=False, use_bias=False)
    ok &= test(1, 16, 9, 9, 136, 3, 1, (128, 128, 64, 32))
    ok &= test(1, 32, 11, 13, 72, 3, 2, (128, 64, 32, 32), use_z=True)
    ok &= test(1, 24, 12, 12, 32, 3, 1, (128, 32, 32, 16))
    ok &= test(1, 8, 12, 11, 16, 1, 1, (128, 16, 16, 16))
    ok &= test(1, 64, 6, 6, 128, 3, 2, (64, 128, 32, 32))
    ok &= test(3, 32, 10, 10, 200, 3, 1, (64, 64, 32, 32), use_z=True)
    ok &= test(2, 16, 9, 11, 48, 3, 2, (128, 64, 32, 32))
    # C_out-sized tiles (C_out a multiple of tile_n): four warps along M, each the whole tile_n.
    ok &= test(1, 16, 7, 9, 96, 3, 1, (64, 48, 16, 48), use_z=True)
    ok &= test(1, 24, 9, 8, 80, 1, 1, (64, 80, 16, 80))
    ok &= test(1, 16, 9, 7, 96, 3, 2, (64, 96, 16, 96), silu=False)
    ok &= test(1, 16, 11, 13, 48, 3, 1, (128, 48, 32, 48))
    ok &= test(2, 40, 9, 9, 160, 1, 1, (128, 80, 32, 80), use_z=True)
    ok &= test(1, 16, 12, 12, 96, 3, 1, (128, 96, 32, 96), use_bias=False)
    # Strided input and residual: a Split piece in its Concat slice (C2f's bottleneck, C3k's 1x1s).
    ok &= test(1, 16, 9, 11, 16, 3, 1, (64, 16, 16, 16), use_z=True, x_ld=48, x_off=16, z_ld=48, z_off=16)
    ok &= test(2, 16, 7, 9, 32, 3, 2, (128, 32, 32, 16), x_ld=40, x_off=8)
    ok &= test(1, 32, 6, 7, 32, 1, 1, (64, 32, 32, 16), x_ld=64, x_off=32)
    ok &= test(1, 24, 5, 9, 80, 1, 1, (64, 80, 16, 80), use_z=True, x_ld=48, x_off=0, z_ld=96, z_off=8)
    # The persistent 1x1 kernel: walkers 1..5 (uneven shares of M tiles), 2 and 3 stages, K 1..3
    # tiles, strided input / residual, M and N tails.
    P = lambda w, s: partial(run_persist, walkers=w, stages=s)
    ok &= test(1, 16, 16, 20, 24, 1, 1, (64, 32, 32, 16), use_z=True, runner=P(3, 2))
    ok &= test(2, 40, 9, 10, 64, 1, 1, (64, 64, 32, 32), runner=P(2, 3))
    ok &= test(1, 72, 20, 20, 80, 1, 1, (128, 80, 32, 80), use_z=True, runner=P(1, 2))
    ok &= test(1, 32, 13, 20, 48, 1, 1, (64, 48, 16, 48), x_ld=64, x_off=16, use_z=True, z_ld=64, z_off=8, runner=P(2, 3))
    ok &= test(1, 16, 6, 7, 16, 1, 1, (64, 16, 16, 16), x_ld=48, x_off=16, runner=P(2, 2))
    print("ALL OK" if ok else "SOME FAILED")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
