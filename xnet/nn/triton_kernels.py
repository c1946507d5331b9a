"""Triton kernels of the ``triton`` backend (block X-layers); launched by :mod:`xnet.nn.triton_block`.

Implicit GEMMs over output pixels (M) x channels of one block (N), reduction (K) over the block
edges, kernel taps and channels of a block, every tile of the input loaded through the block
table; fp32 accumulators.  Tensors are addressed by their strides (NCHW or channels_last alike).
"""

import triton
import triton.language as tl


# sizes are not specialised on (one compiled kernel per layer kind, not per feature-map size)
@triton.jit(do_not_specialize=["NB", "H", "W", "OH", "OW", "D", "S"])
def fwd_kernel(
    x,
    w,
    tbl,
    bias,
    y,
    NB,
    H,
    W,
    OH,
    OW,
    D,
    S,
    sxn,
    sxc,
    sxh,
    sxw,
    swo,
    swd,
    swh,
    sww,
    syn,
    syc,
    syh,
    syw,
    SH,
    SW,
    PH,
    PW,
    DH,
    DW,
    B: tl.constexpr,
    KH: tl.constexpr,
    KW: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    CONTIG_K: tl.constexpr,
    IEEE: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    tiles_n = tl.cdiv(B, BLOCK_N)
    o = pid_n // tiles_n
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = rm < NB * OH * OW
    n = rm // (OH * OW)
    p = rm % (OH * OW)
    oh = p // OW
    ow = p % OW
    rj = (pid_n % tiles_n) * BLOCK_N + tl.arange(0, BLOCK_N)
    j_ok = rj < B
    co = o * B + rj
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for r in range(KH * KW):
        kh = r // KW
        kw = r % KW
        ih = oh * SH - PH + kh * DH
        iw = ow * SW - PW + kw * DW
        p_ok = m_ok & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
        xrow = x + n * sxn + ih * sxh + iw * sxw
        for d0 in range(0, D, BLOCK_K):
            d = d0 + rk
            d_ok = d < D
            if CONTIG_K:  # the chunk lies in one input block: contiguous channels
                c = tl.load(tbl + o * S + d0 // B) * B + d0 % B + rk
            else:
                c = tl.load(tbl + o * S + d // B, mask=d_ok, other=0) * B + d % B
            a = tl.load(xrow[:, None] + c[None, :] * sxc, mask=p_ok[:, None] & d_ok[None, :], other=0.0)
            wt = tl.load(
                w + co[None, :] * swo + d[:, None] * swd + kh * swh + kw * sww,
                mask=d_ok[:, None] & j_ok[None, :],
                other=0.0,
            )
            if IEEE:
                acc += tl.dot(a, wt, input_precision="ieee")
            else:
                acc += tl.dot(a, wt)
    if HAS_BIAS:
        acc += tl.load(bias + co, mask=j_ok, other=0.0).to(tl.float32)[None, :]
    out = y + (n * syn + oh * syh + ow * syw)[:, None] + co[None, :] * syc
    tl.store(out, acc.to(y.dtype.element_ty), mask=m_ok[:, None] & j_ok[None, :])


@triton.jit(do_not_specialize=["NB", "H", "W", "OH", "OW", "E", "S"])
def dgrad_kernel(
    gy,
    w,
    tbl_t,
    cnt,
    gx,
    NB,
    H,
    W,
    OH,
    OW,
    E,
    S,
    sgn,
    sgc,
    sgh,
    sgw,
    swo,
    swd,
    swh,
    sww,
    sxn,
    sxc,
    sxh,
    sxw,
    SH,
    SW,
    PH,
    PW,
    DH,
    DW,
    B: tl.constexpr,
    KH: tl.constexpr,
    KW: tl.constexpr,
    IEEE: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    tiles_n = tl.cdiv(B, BLOCK_N)
    u = pid_n // tiles_n
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = rm < NB * H * W
    n = rm // (H * W)
    p = rm % (H * W)
    ih = p // W
    iw = p % W
    rk = (pid_n % tiles_n) * BLOCK_N + tl.arange(0, BLOCK_N)  # channels of input block u
    k_ok = rk < B
    rj = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for e in range(tl.load(cnt + u)):  # the edges into input block u (rows of table_t end in -1 padding)
        edge = tl.load(tbl_t + u * E + e)
        o = edge // S
        s = edge % S
        for r in range(KH * KW):
            kh = r // KW
            kw = r % KW
            th = ih + PH - kh * DH
            tw = iw + PW - kw * DW
            oh = tl.maximum(th, 0) // SH
            ow = tl.maximum(tw, 0) // SW
            p_ok = m_ok & (th >= 0) & (tw >= 0) & (th % SH == 0) & (tw % SW == 0) & (oh < OH) & (ow < OW)
            grow = gy + n * sgn + oh * sgh + ow * sgw
            for j0 in range(0, B, BLOCK_K):
                j = j0 + rj
                j_ok = j < B
                a = tl.load(grow[:, None] + (o * B + j)[None, :] * sgc, mask=p_ok[:, None] & j_ok[None, :], other=0.0)
                wt = tl.load(
                    w + (o * B + j)[:, None] * swo + (s * B + rk)[None, :] * swd + kh * swh + kw * sww,
                    mask=j_ok[:, None] & k_ok[None, :],
                    other=0.0,
                )
                if IEEE:
                    acc += tl.dot(a, wt, input_precision="ieee")
                else:
                    acc += tl.dot(a, wt)
    out = gx + (n * sxn + ih * sxh + iw * sxw)[:, None] + (u * B + rk)[None, :] * sxc
    tl.store(out, acc.to(gx.dtype.element_ty), mask=m_ok[:, None] & k_ok[None, :])


@triton.jit(do_not_specialize=["NB", "H", "W", "OH", "OW", "D", "S", "CHUNK", "PART"])
def wgrad_kernel(
    gy,
    x,
    tbl,
    part,
    NB,
    H,
    W,
    OH,
    OW,
    D,
    S,
    CHUNK,
    PART,
    sgn,
    sgc,
    sgh,
    sgw,
    sxn,
    sxc,
    sxh,
    sxw,
    SH,
    SW,
    PH,
    PW,
    DH,
    DW,
    B: tl.constexpr,
    KH: tl.constexpr,
    KW: tl.constexpr,
    IEEE: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    pid_e = tl.program_id(0)  # (o, s, kernel tap)
    pid_t = tl.program_id(1)  # (j tile, k tile)
    pid_s = tl.program_id(2)  # chunk of pixels
    r = pid_e % (KH * KW)
    os_ = pid_e // (KH * KW)
    o = os_ // S
    s = os_ % S
    kh = r // KW
    kw = r % KW
    tiles_k = tl.cdiv(B, BLOCK_N)
    rj = (pid_t // tiles_k) * BLOCK_M + tl.arange(0, BLOCK_M)
    rk = (pid_t % tiles_k) * BLOCK_N + tl.arange(0, BLOCK_N)
    j_ok = rj < B
    k_ok = rk < B
    cin = tl.load(tbl + os_) * B + rk
    rp = tl.arange(0, BLOCK_K)
    M = NB * OH * OW
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for m0 in range(pid_s * CHUNK, tl.minimum(pid_s * CHUNK + CHUNK, M), BLOCK_K):
        m = m0 + rp
        m_ok = m < M
        n = m // (OH * OW)
        p = m % (OH * OW)
        oh = p // OW
        ow = p % OW
        ih = oh * SH - PH + kh * DH
        iw = ow * SW - PW + kw * DW
        x_ok = m_ok & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
        a = tl.load(
            gy + (o * B + rj)[:, None] * sgc + (n * sgn + oh * sgh + ow * sgw)[None, :],
            mask=j_ok[:, None] & m_ok[None, :],
            other=0.0,
        )
        bt = tl.load(
            x + (n * sxn + ih * sxh + iw * sxw)[:, None] + cin[None, :] * sxc,
            mask=x_ok[:, None] & k_ok[None, :],
            other=0.0,
        )
        if IEEE:
            acc += tl.dot(a, bt, input_precision="ieee")
        else:
            acc += tl.dot(a, bt)
    # part: (splits, out, D, KH, KW) fp32, contiguous; PART = out * D * KH * KW
    out = part + pid_s * PART + (o * B + rj)[:, None] * (D * KH * KW) + (s * B + rk)[None, :] * (KH * KW) + r
    tl.store(out, acc, mask=j_ok[:, None] & k_ok[None, :])
