"""Launches of the ``triton`` backend's kernels (:mod:`xnet.nn.triton_kernels`): tile sizes,
strides and grids of the forward, input-gradient and weight-gradient kernels, at the library's
launch parameters.  :mod:`xnet.nn.triton_block` wraps them in torch custom ops."""

from __future__ import annotations

import torch

try:
    import triton
except ImportError:  # pragma: no cover - torch's CUDA wheels ship Triton
    raise ImportError("backend: 'triton' needs the triton package (pip install triton)") from None

from .triton_kernels import dgrad_kernel, fwd_kernel, wgrad_kernel

# Whether the kernels were built for Triton's CPU interpreter (Triton decides when they are
# defined, from TRITON_INTERPRET).
INTERPRETED = type(fwd_kernel).__name__ == "InterpretedFunction"
DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _pow2_at_least(v: int, lo: int = 16, hi: int = 64) -> int:
    return min(hi, max(lo, triton.next_power_of_2(v)))


def _ieee(dtype) -> bool:
    """fp32 inputs: full fp32 products unless convolutions may use TF32 (as cuDNN's)."""
    return dtype == torch.float32 and not torch.backends.cudnn.allow_tf32


def _channels_last(x: torch.Tensor) -> bool:
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def _empty(shape, like: torch.Tensor, channels_last: bool, dtype=None):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return torch.empty(shape, dtype=dtype or like.dtype, device=like.device, memory_format=fmt)


def _out_size(size, k, stride, pad, dil):
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


def _launch_fwd(x, weight, table, bias, stride, padding, dilation, b):
    nb, _, h, w = x.shape
    out, d, kh, kw = weight.shape
    oh, ow = (
        _out_size(h, kh, stride[0], padding[0], dilation[0]),
        _out_size(w, kw, stride[1], padding[1], dilation[1]),
    )
    y = _empty((nb, out, oh, ow), x, _channels_last(x))
    if y.numel() == 0:
        return y
    pow2 = b & -b  # largest power of two dividing b
    contig = pow2 >= 16
    block_k = min(pow2, 64 if x.element_size() == 2 else 32) if contig else 32
    block_m, block_n = 64, _pow2_at_least(b)
    grid = (triton.cdiv(nb * oh * ow, block_m), (out // b) * triton.cdiv(b, block_n))
    fwd_kernel[grid](
        x,
        weight,
        table,
        bias if bias is not None else weight,
        y,
        nb,
        h,
        w,
        oh,
        ow,
        d,
        d // b,
        *x.stride(),
        *weight.stride(),
        *y.stride(),
        stride[0],
        stride[1],
        padding[0],
        padding[1],
        dilation[0],
        dilation[1],
        B=b,
        KH=kh,
        KW=kw,
        HAS_BIAS=bias is not None,
        CONTIG_K=contig,
        IEEE=_ieee(x.dtype),
        BLOCK_M=block_m,
        BLOCK_N=block_n,
        BLOCK_K=block_k,
    )
    return y


def _launch_dgrad(gy, weight, table_t, counts, input_size, channels_last, stride, padding, dilation, b):
    nb, c, h, w = input_size
    _, d, kh, kw = weight.shape
    gx = _empty((nb, c, h, w), gy, channels_last)
    if gx.numel() == 0:
        return gx
    if gy.numel() == 0:
        return gx.zero_()
    block_m, block_n = 64, _pow2_at_least(b)
    block_k = _pow2_at_least(b, hi=64 if gy.element_size() == 2 else 32)
    grid = (triton.cdiv(nb * h * w, block_m), (c // b) * triton.cdiv(b, block_n))
    dgrad_kernel[grid](
        gy,
        weight,
        table_t,
        counts,
        gx,
        nb,
        h,
        w,
        gy.shape[2],
        gy.shape[3],
        table_t.shape[1],
        d // b,
        *gy.stride(),
        *weight.stride(),
        *gx.stride(),
        stride[0],
        stride[1],
        padding[0],
        padding[1],
        dilation[0],
        dilation[1],
        B=b,
        KH=kh,
        KW=kw,
        IEEE=_ieee(gy.dtype),
        BLOCK_M=block_m,
        BLOCK_N=block_n,
        BLOCK_K=block_k,
    )
    return gx


def _launch_wgrad(gy, x, table, weight_size, stride, padding, dilation, b):
    out, d, kh, kw = weight_size
    nb, _, h, w = x.shape
    oh, ow = gy.shape[2], gy.shape[3]
    pixels = nb * oh * ow
    if pixels == 0:
        return x.new_zeros(weight_size)
    block = _pow2_at_least(b)
    block_k = 64 if x.element_size() == 2 else 32
    tiles = triton.cdiv(b, block) ** 2
    programs = (out // b) * (d // b) * kh * kw * tiles
    want = 1024 if x.is_cuda else 2  # enough programs to fill a GPU; the interpreter runs them in turn
    splits = max(1, min(triton.cdiv(want, programs), triton.cdiv(pixels, 8 * block_k)))
    chunk = triton.cdiv(triton.cdiv(pixels, splits), block_k) * block_k
    splits = triton.cdiv(pixels, chunk)
    part = torch.empty((splits, out, d, kh, kw), dtype=torch.float32, device=x.device)
    grid = ((out // b) * (d // b) * kh * kw, tiles, splits)
    wgrad_kernel[grid](
        gy,
        x,
        table,
        part,
        nb,
        h,
        w,
        oh,
        ow,
        d,
        d // b,
        chunk,
        out * d * kh * kw,
        *gy.stride(),
        *x.stride(),
        stride[0],
        stride[1],
        padding[0],
        padding[1],
        dilation[0],
        dilation[1],
        B=b,
        KH=kh,
        KW=kw,
        IEEE=_ieee(x.dtype),
        BLOCK_M=block,
        BLOCK_N=block,
        BLOCK_K=block_k,
    )
    return part.sum(0).to(x.dtype)
