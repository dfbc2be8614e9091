"""Emulates src/backends/cuda/attention.cu in numpy (no GPU needed): the tensor-core kernel's
grid (problem z x 64-query tiles), load_tile's index math (either operand layout: dim-major
[.., d, N] or token-major [.., N, d], walked along the contiguous axis, zero past n), the padded
shared rows (Q and K as [token][dim] rows of d + 8 halves, V as [dim][key] rows of 72), the
m16n8k16 fragments read as 32-bit words (the PTX ISA layouts, mma() shared with
tools/cuda_igemm_emulate.py), the key mask, the online softmax in base 2 (row max over the 4
threads of a quad, the correction of l and the accumulators, P rounded to fp16 as the A fragment
of P·V, l summed over the quad at the end) and the strided output stores (also [B', N, h, d]:
problem_offset with z_inner; q and k read inside a qkv Split input); the fp32 SIMT kernel's
per-row loop likewise. Checks: every output element written exactly once and equal to a direct
softmax(scale * Q Kᵀ) V in float64 (fp16 kernel: rel L2 <= 2e-3 on fp16 inputs; SIMT: 1e-6);
every fragment load of a warp touches 32 distinct banks (or one word); shared reads stay inside
the tiles. Mirror kernel changes here first.

    $(tools/setup_python.sh) tools/cuda_attention_emulate.py [seed]   # prints ALL OK or SOME FAILED
"""
import sys
import numpy as np
from cuda_igemm_emulate import mma

rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
ROWS, BK, WARPS, SIMT_ROWS, KEYS = 64, 64, 4, 128, 32
LOG2E = 1.4426950408889634
LANES = np.arange(32)
G, T = LANES >> 2, LANES & 3
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def strides(dim_major, tokens, dims):  # (z, token, dim) strides of a plain tensor
    return (tokens * dims, 1, tokens) if dim_major else (tokens * dims, dims, 1)


def zoff(st, z):  # problem_offset: (z / z_inner) * z_stride + (z % z_inner) * inner_stride
    return z * st[0] if len(st) == 3 else (z // st[3]) * st[0] + (z % st[3]) * st[4]


def vec8(st, n):  # launch_dims' vec8 (the pointer alignment aside: arena buffers are aligned)
    return st[1] == 1 and n % 8 == 0 and st[2] % 8 == 0 and st[0] % 8 == 0


def load_tile(src, st, rows, d, tok0, n, dst, ld, token_rows, threads, vec=False):
    if vec:  # load_tile_vec8: chunk c of 8 tokens of one dim, all in or all out
        for i in range(rows // 8 * d):
            c, dim = i % (rows // 8), i // (rows // 8)
            t = tok0 + c * 8
            u = src[t + dim * st[2]:t + dim * st[2] + 8] if t < n else np.zeros(8)
            check(len(u) == 8, "16-byte load past the operand")
            at = [(c * 8 + j) * ld + dim for j in range(8)] if token_rows else \
                [dim * ld + c * 8 + j for j in range(8)]
            check(token_rows or (dim * ld + c * 8) % 8 == 0, "unaligned 16-byte shared store")
            check(max(at) < dst.size, "shared store outside the tile")
            dst[at] = u
        return
    tok_fast = st[1] <= st[2]
    for i in range(rows * d):  # thread i % threads, iteration i // threads: the same elements
        tok, dim = (i % rows, i // rows) if tok_fast else (i // d, i % d)
        t = tok0 + tok
        x = src[t * st[1] + dim * st[2]] if t < n else 0.0
        at = tok * ld + dim if token_rows else dim * ld + tok
        check(0 <= at < dst.size, f"shared store {at} outside {dst.size}")
        dst[at] = x


def ld32(smem, idx, ld_words_check=True):  # per-lane half index -> two halves; bank check
    idx = np.asarray(idx)
    check(np.all(idx % 2 == 0), "unaligned 32-bit shared read")
    check(np.all(idx >= 0) and np.all(idx + 1 < smem.size), "shared read outside the tile")
    words = idx // 2
    banks = {}
    for w in words:
        banks.setdefault(w % 32, set()).add(w)
    check(all(len(s) == 1 for s in banks.values()), "bank conflict in a fragment load")
    return np.stack([smem[idx], smem[idx + 1]], axis=-1)


def mma_kernel(q, k, v, o, d, written):
    dqk, dv = d['d_qk'], d['d_v']
    ldq, ldv = dqk + 8, BK + 8
    sl2 = d['scale'] * LOG2E
    for z in range(d['z']):
        qz, kz, vz = (x[zoff(d[s], z):] for x, s in ((q, 'q'), (k, 'k'), (v, 'v')))
        for by in range((d['n_q'] + ROWS - 1) // ROWS):
            q0 = by * ROWS
            qs = np.zeros(ROWS * ldq, np.float16)
            load_tile(qz[q0 * d['q'][1]:], d['q'], ROWS, dqk, 0, d['n_q'] - q0, qs, ldq, True, 128,
                      vec8(d['q'], d['n_q']))
            for warp in range(WARPS):
                r0 = warp * 16 + G
                qa = []
                for kc in range(dqk // 16):
                    c0 = kc * 16 + 2 * T
                    qa.append(np.stack([ld32(qs, r0 * ldq + c0), ld32(qs, (r0 + 8) * ldq + c0),
                                        ld32(qs, r0 * ldq + c0 + 8),
                                        ld32(qs, (r0 + 8) * ldq + c0 + 8)], axis=1))
                m = np.full((32, 2), -np.inf); l = np.zeros((32, 2))
                acc = np.zeros((dv // 8, 32, 4))
                for k0 in range(0, d['n_k'], BK):
                    ks = np.zeros(BK * ldq, np.float16); vs = np.zeros(dv * ldv, np.float16)
                    load_tile(kz, d['k'], BK, dqk, k0, d['n_k'], ks, ldq, True, 128,
                              vec8(d['k'], d['n_k']))
                    load_tile(vz, d['v'], BK, dv, k0, d['n_k'], vs, ldv, False, 128,
                              vec8(d['v'], d['n_k']))
                    s = np.zeros((BK // 8, 32, 4))
                    for ni in range(BK // 8):
                        kr = (ni * 8 + G) * ldq + 2 * T
                        for kc in range(dqk // 16):
                            b = np.stack([ld32(ks, kr + kc * 16), ld32(ks, kr + kc * 16 + 8)], 1)
                            mma(s[ni], qa[kc].astype(np.float64), b.astype(np.float64))
                    key = k0 + np.arange(BK // 8)[:, None, None] * 8 + 2 * T[None, :, None] + \
                        (np.arange(4) & 1)[None, None, :]
                    s = np.where(key < d['n_k'], s * sl2, -np.inf)
                    mx = m.copy()
                    for h in range(2):
                        mx[:, h] = np.maximum(mx[:, h], s[:, :, 2 * h:2 * h + 2].max(axis=(0, 2)))
                        mx[:, h] = np.maximum(mx[:, h], mx[LANES ^ 1, h])  # __shfl_xor 1, 2
                        mx[:, h] = np.maximum(mx[:, h], mx[LANES ^ 2, h])
                    check(np.all(np.isfinite(mx)), "row max not finite")
                    corr = np.exp2(m - mx); m = mx
                    s = np.exp2(s - m[None, :, [0, 0, 1, 1]])
                    rs = np.stack([s[:, :, 0:2].sum((0, 2)), s[:, :, 2:4].sum((0, 2))], 1)
                    l = l * corr + rs
                    acc *= corr[None, :, [0, 0, 1, 1]]
                    sh = s.astype(np.float16).astype(np.float64)  # pack_half2
                    for kc in range(BK // 16):
                        pa = np.stack([sh[2 * kc][:, 0:2], sh[2 * kc][:, 2:4],
                                       sh[2 * kc + 1][:, 0:2], sh[2 * kc + 1][:, 2:4]], axis=1)
                        for ni in range(dv // 8):
                            vr = (ni * 8 + G) * ldv + kc * 16 + 2 * T
                            b = np.stack([ld32(vs, vr), ld32(vs, vr + 8)], 1).astype(np.float64)
                            mma(acc[ni], pa, b)
                for h in range(2):
                    l[:, h] += l[LANES ^ 1, h]
                    l[:, h] += l[LANES ^ 2, h]
                inv = 1.0 / l
                for ni in range(dv // 8):
                    for c in range(4):
                        row = q0 + r0 + (c >> 1) * 8
                        dim = ni * 8 + 2 * T + (c & 1)
                        for lane in np.nonzero(row < d['n_q'])[0]:
                            at = zoff(d['o'], z) + row[lane] * d['o'][1] + dim[lane] * d['o'][2]
                            o[at] = np.float16(acc[ni][lane, c] * inv[lane, c >> 1])
                            written[at] += 1


def simt_kernel(q, k, v, o, d, written):
    dqk, dv, sl2 = d['d_qk'], d['d_v'], d['scale'] * LOG2E
    for z in range(d['z']):
        qz, kz, vz = (x[zoff(d[s], z):] for x, s in ((q, 'q'), (k, 'k'), (v, 'v')))
        for by in range((d['n_q'] + SIMT_ROWS - 1) // SIMT_ROWS):
            rows = by * SIMT_ROWS + np.arange(SIMT_ROWS)
            live = rows < d['n_q']
            qr = np.zeros((SIMT_ROWS, dqk))
            for i in range(dqk):
                qr[live, i] = qz[rows[live] * d['q'][1] + i * d['q'][2]] * sl2
            acc = np.zeros((SIMT_ROWS, dv)); m = np.full(SIMT_ROWS, -np.inf); l = np.zeros(SIMT_ROWS)
            for k0 in range(0, d['n_k'], KEYS):
                ks = np.zeros(KEYS * dqk); vs = np.zeros(KEYS * dv)
                load_tile(kz, d['k'], KEYS, dqk, k0, d['n_k'], ks, dqk, True, SIMT_ROWS)
                load_tile(vz, d['v'], KEYS, dv, k0, d['n_k'], vs, dv, True, SIMT_ROWS)
                s = qr @ ks.reshape(KEYS, dqk).T
                s[:, k0 + np.arange(KEYS) >= d['n_k']] = -np.inf
                mx = np.maximum(m, s.max(1)); corr = np.exp2(m - mx); m = mx
                l *= corr; acc *= corr[:, None]
                p = np.exp2(s - m[:, None]); l += p.sum(1); acc += p @ vs.reshape(KEYS, dv)
            for i in range(dv):
                at = zoff(d['o'], z) + rows[live] * d['o'][1] + i * d['o'][2]
                o[at] = acc[live, i] / l[live]
                np.add.at(written, at, 1)


def test(z, n_q, n_k, dqk, dv, q_dm, k_dm, v_dm, o_dm, simt, split=0):
    d = dict(z=z, n_q=n_q, n_k=n_k, d_qk=dqk, d_v=dv, scale=dqk ** -0.5,
             q=strides(q_dm, n_q, dqk), k=strides(k_dm, n_k, dqk), v=strides(v_dm, n_k, dv),
             o=strides(o_dm, n_q, dv))
    dt = np.float64 if simt else np.float16
    Q, K, V = (rng.uniform(-2, 2, (z, n, dd)).astype(dt) for n, dd in ((n_q, dqk), (n_k, dqk), (n_k, dv)))
    flat = lambda X, dm: (X.transpose(0, 2, 1) if dm else X).reshape(-1).copy()
    o = np.full(z * n_q * dv, np.nan); written = np.zeros(o.size, int)
    q, k = flat(Q, q_dm), flat(K, k_dm)
    if split:  # lower_attention's read_in_split: q and k inside qkv [z, 2d + dv, n] (dim-major),
        assert q_dm and k_dm and n_q == n_k
        total = 2 * dqk + dv
        qkv = np.concatenate([Q, K, V], axis=2).transpose(0, 2, 1).reshape(-1).copy()
        d['q'] = d['k'] = (n_k * total, 1, n_k)
        q, k = qkv, qkv[dqk * n_k:]  # offsets before * tokens: 0 and d_qk * n
        # and the output written [z / h, n, h, dv] (the exports' Transpose absorbed), h = split
        d['o'] = (n_q * split * dv, split * dv, 1, split, dv)
    (simt_kernel if simt else mma_kernel)(q, k, flat(V, v_dm), o, d, written)
    S = np.einsum('zqd,zkd->zqk', Q.astype(np.float64), K.astype(np.float64)) * d['scale']
    P = np.exp(S - S.max(-1, keepdims=True)); P /= P.sum(-1, keepdims=True)
    want = flat(np.einsum('zqk,zkd->zqd', P, V.astype(np.float64)), o_dm)
    if split:
        want = np.einsum('zqk,zkd->zqd', P, V.astype(np.float64))
        want = want.reshape(z // split, split, n_q, dv).transpose(0, 2, 1, 3).reshape(-1)
    name = ("split " if split else "") + f"z{z} q{n_q} k{n_k} d{dqk}/{dv} dm{int(q_dm)}{int(k_dm)}{int(v_dm)}{int(o_dm)} {'simt' if simt else 'mma'}"
    check(np.all(written == 1), name + ": output elements not written exactly once")
    err = np.linalg.norm(o - want) / np.linalg.norm(want)
    tol = 1e-6 if simt else 2e-3
    check(err <= tol, f"{name}: rel L2 {err:.3g} > {tol}")
    print(f"{name}: rel L2 {err:.3g}")


for simt in (False, True):
    test(1, 1, 1, 32, 32, True, True, True, True, simt)
    test(2, 7, 7, 16, 16, True, True, True, True, simt)
    test(1, 65, 65, 64, 64, True, True, True, True, simt)
    test(1, 130, 130, 32, 32, True, True, True, True, simt)
    test(2, 24, 130, 16, 64, True, True, True, True, simt)
    test(1, 33, 70, 64, 32, False, False, False, False, simt)
    test(1, 129, 40, 32, 16, False, True, False, True, simt)
test(1, 400, 400, 32, 32, True, True, True, True, False)  # vec8 loads from here on
test(3, 240, 240, 32, 32, True, True, True, True, False)
test(2, 40, 136, 16, 64, True, True, True, True, False)
test(1, 64, 64, 32, 32, True, False, True, True, False)
test(4, 400, 400, 32, 32, True, True, True, True, False, split=2)  # split: the heads
test(3, 37, 37, 16, 64, True, True, True, True, False, split=3)
test(2, 40, 40, 32, 32, True, True, True, True, True, split=2)
print("ALL OK" if not failures else "SOME FAILED:\n  " + "\n  ".join(sorted(set(failures))[:20]))
sys.exit(1 if failures else 0)
