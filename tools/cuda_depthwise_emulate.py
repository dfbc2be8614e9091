"""Emulates src/backends/cuda/conv_depthwise.cu in numpy (no GPU needed): the host's run-length
choice (depthwise_run_length), the RowsDesc fields, each thread's 32-bit index math (channel
vector fastest, then the run along the output row, then the row), the per-kernel-row weight
vectors of lower_conv_direct's [kh][kw][C] layout, the sliding input columns (padding rows and
columns skipped), and the epilogue (bias, SiLU, residual z, stores into a Concat slice of row
out_ld at a channel offset). All threads of a launch are emulated at once, as numpy arrays.
Compares with a direct depthwise convolution in float64, checks that every output element is
written exactly once and nothing outside its slice. Mirror any change of the kernel here first.

    $(tools/setup_python.sh) tools/cuda_depthwise_emulate.py      # prints ALL OK (or asserts)
"""
import numpy as np

kRowThreads = 128
U32 = np.uint32


def shape_taken(k, s):
    return (k == 3 and s in (1, 2)) or (k == 5 and s in (1, 2)) or (k == 7 and s == 1)


def run_length(n, c, h, w, oh, ow, k, s, out_ld, vec, sms, env=None):
    """depthwise_run_length (kh == kw, sh == sw, cin == cout)."""
    if env == "old":
        return 0
    if not shape_taken(k, s) or c % vec or out_ld % vec or n * oh * ow == 0:
        return 0
    lim = 1 << 31
    pixels = n * oh * ow
    if pixels * out_ld >= lim or pixels * c >= lim or n * h * w * c >= lim or h >= 1 << 30 \
            or w >= 1 << 30 or ow >= 1 << 28:
        return 0
    groups = c // vec
    items = lambda r: n * oh * (-(-ow // r)) * groups
    if items(2) + kRowThreads >= lim:
        return 0
    if env in ("8", "4", "2"):
        return int(env)
    for r in (8, 4, 2):
        used = ow / ((-(-ow // r)) * r)
        if used >= 0.85 and items(r) >= 2 * kRowThreads * sms:
            return r
    return 0


def emulate(n, c, h, w, k, s, kR, vec, silu, residual, out_ld, offset, seed=1):
    rng = np.random.default_rng(seed)
    p = k // 2
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    x = rng.standard_normal((n, h, w, c))  # NHWC
    wt = rng.standard_normal((c, 1, k, k))  # ONNX [C][1][kh][kw]
    bias = rng.standard_normal(c)
    z = rng.standard_normal((n, oh, ow, c)) if residual else None
    # lower_conv_direct: host[r * C + o] = w[o][0][r], r = ky * kw + kx
    W = np.zeros(k * k * c)
    for o in range(c):
        for r in range(k * k):
            W[r * c + o] = wt[o, 0].reshape(-1)[r]
    xf, zf = x.reshape(-1), (z.reshape(-1) if residual else None)
    # RowsDesc
    groups = c // vec
    runs = -(-ow // kR)
    items = n * oh * runs * groups
    assert items < 1 << 31
    blocks = (items + kRowThreads - 1) // kRowThreads
    i = np.arange(blocks * kRowThreads, dtype=np.uint64).astype(U32)  # blockIdx * 128 + tid
    i = i[i < U32(items)]
    row = i // U32(groups)
    cc = (i - row * U32(groups)) * U32(vec)
    line = row // U32(runs)
    ox0 = (row - line * U32(runs)) * U32(kR)
    nn = line // U32(oh)
    oy = line - nn * U32(oh)
    kv = np.arange(vec, dtype=U32)
    acc = np.repeat(bias[(cc[:, None] + kv)][:, None, :], kR, axis=1)  # [thread][j][k]
    ix0 = ox0.astype(np.int64) * s - p
    cols = (kR - 1) * s + k
    for ky in range(k):
        iy = oy.astype(np.int64) * s - p + ky
        row_in = (iy >= 0) & (iy < h)  # the unsigned compare of the kernel
        wk = np.stack([W[((ky * k + kx) * c + cc)[:, None] + kv] for kx in range(k)], 1)
        row_base = ((nn.astype(np.int64) * h + iy) * w).astype(np.int64)
        for t in range(cols):
            ix = ix0 + t
            ok = row_in & (ix >= 0) & (ix < w)
            idx = (row_base + ix) * c + cc
            assert np.all(idx[ok] < 1 << 31) and np.all(idx[ok] % vec == 0)
            v = np.zeros((len(i), vec))
            v[ok] = xf[idx[ok][:, None] + kv]
            for j in range(kR):
                kx = t - j * s
                if 0 <= kx < k:
                    acc[:, j, :] += v * wk[:, kx, :]
    out = np.full(n * oh * ow * out_ld + 64, np.nan)
    writes = np.zeros(out.shape, dtype=np.int64)
    p0 = line.astype(np.int64) * ow + ox0
    for j in range(kR):
        live = ox0.astype(np.int64) + j < ow
        a = acc[live, j, :]
        if silu:
            a = a / (1.0 + np.exp(-a))
        pj = p0[live] + j
        if residual:
            a = a + zf[(pj * c + cc[live])[:, None] + kv]
        dst = offset + pj * out_ld + cc[live]
        assert np.all(dst % vec == offset % vec)
        np.add.at(writes, dst[:, None] + kv, 1)
        out[dst[:, None] + kv] = a
    # direct depthwise convolution
    xp = np.zeros((n, h + 2 * p, w + 2 * p, c))
    xp[:, p:p + h, p:p + w, :] = x
    ref = np.zeros((n, oh, ow, c)) + bias
    for ky in range(k):
        for kx in range(k):
            ref += xp[:, ky:ky + s * (oh - 1) + 1:s, kx:kx + s * (ow - 1) + 1:s, :] * \
                wt[:, 0, ky, kx]
    if silu:
        ref = ref / (1.0 + np.exp(-ref))
    if residual:
        ref = ref + z
    want = np.full(out.shape, np.nan)
    slot = offset + (np.arange(n * oh * ow)[:, None] * out_ld + np.arange(c)).reshape(-1)
    want[slot] = ref.reshape(-1)
    inside = np.zeros(out.shape, bool)
    inside[slot] = True
    assert np.all(writes[inside] == 1), "an output element written twice or never"
    assert np.all(writes[~inside] == 0), "a write outside the output slice"
    err = np.max(np.abs(out[inside] - want[inside]))
    assert err < 1e-9, err
    return err


def main():
    cases = [  # n, c, h, w, k, s, silu, residual, concat
        (1, 8, 80, 80, 3, 1, True, True, False),
        (3, 64, 20, 20, 3, 1, True, False, False),
        (2, 80, 16, 80, 3, 1, True, False, True),
        (3, 128, 13, 21, 3, 1, True, True, True),
        (1, 40, 10, 37, 3, 1, False, False, False),
        (3, 24, 9, 11, 3, 2, True, False, False),
        (1, 16, 17, 19, 5, 2, True, False, True),
        (3, 32, 15, 23, 5, 1, False, True, False),
        (1, 16, 12, 13, 7, 1, True, False, True),
        (2, 8, 1, 1, 3, 1, True, True, False),
        (1, 8, 2, 3, 7, 1, True, False, False),
    ]
    for (n, c, h, w, k, s, silu, res, cat) in cases:
        for vec in (8, 4):
            for kR in (8, 4, 2):
                out_ld, offset = (c + 8, 8) if cat else (c, 0)
                emulate(n, c, h, w, k, s, kR, vec, silu, res, out_ld, offset)
        print(f"ok n{n} c{c} {h}x{w} k{k} s{s} silu={silu} res={res} concat={cat}")
    # The choice on an H100 (132 SMs), fp16: YOLO11n's head at batches 1 and 128.
    for n in (1, 128):
        for (c, hw) in ((64, 80), (80, 80), (64, 40), (80, 40), (64, 20), (80, 20)):
            r = run_length(n, c, hw, hw, hw, hw, 3, 1, c, 8, 132)
            print(f"batch {n:3d} C {c:3d} {hw}x{hw}: run {r or 'none (first kernel)'}")
    assert run_length(128, 80, 80, 80, 80, 80, 3, 1, 80, 8, 132) == 8
    assert run_length(128, 80, 20, 20, 20, 20, 3, 1, 80, 8, 132) == 4
    assert run_length(1, 80, 20, 20, 20, 20, 3, 1, 80, 8, 132) == 0
    assert run_length(1, 5, 9, 9, 9, 9, 3, 1, 5, 8, 132, "8") == 0  # C not a whole vector
    assert run_length(1, 8, 9, 9, 9, 9, 3, 1, 8, 8, 132, "8") == 8
    assert run_length(1, 8, 9, 9, 9, 9, 3, 1, 8, 8, 132, "old") == 0
    assert run_length(1, 8, 9, 9, 5, 5, 3, 2, 8, 8, 132, "4") == 4
    assert run_length(1, 8, 9, 9, 9, 9, 7, 2, 8, 8, 132, "4") == 0  # 7x7 stride 2 not taken
    print("ALL OK")


if __name__ == "__main__":
    main()
