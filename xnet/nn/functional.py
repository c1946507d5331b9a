"""Compute backends of X-layers.  Every backend gives the outputs and gradients of the dense
reference (``F.conv2d`` with ``dense_weight``); they differ only in speed and memory.

- ``masked``: scatter the compressed kernel into a dense one and run ``F.conv2d`` (reference).
- ``gather``: the paper's Algorithm 1: gather each output's D input channels and convolve them
  with its compressed kernel (a grouped convolution with one group per output).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

BACKENDS = ("auto", "masked", "gather")


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")


def dense_weight(weight: torch.Tensor, neighbors: torch.Tensor, num_inputs: int) -> torch.Tensor:
    """Scatter a compressed ``(out, D, *k)`` kernel into a dense ``(out, in, *k)`` one."""
    out, d = neighbors.shape
    dense = weight.new_zeros(out, num_inputs, *weight.shape[2:])
    index = neighbors.view(out, d, *([1] * (weight.dim() - 2))).expand_as(weight)
    return dense.scatter(1, index, weight)


def choose_backend(x: torch.Tensor, weight: torch.Tensor, neighbors: torch.Tensor, block_size: int = 1) -> str:
    """Pick the fastest exact backend for this shape and device."""
    return "masked"


def xconv2d(x, weight, neighbors, bias=None, stride=1, padding=0, dilation=1, *, backend="auto", block_size=1):
    if backend == "auto":
        backend = choose_backend(x, weight, neighbors, block_size)
    if backend == "masked":
        return F.conv2d(x, dense_weight(weight, neighbors, x.shape[1]), bias, stride, padding, dilation)
    if backend == "gather":
        out, d = neighbors.shape
        xg = x.index_select(1, neighbors.reshape(-1))
        return F.conv2d(xg, weight, bias, stride, padding, dilation, groups=out)
    raise ValueError(f"backend: unknown {backend!r}")


def xlinear(x, weight, neighbors, bias=None, *, backend="auto", block_size=1):
    if backend == "auto":
        backend = choose_backend(x, weight, neighbors, block_size)
    if backend == "masked":
        return F.linear(x, dense_weight(weight, neighbors, x.shape[-1]), bias)
    if backend == "gather":
        xg = x[..., neighbors]  # (..., out, D)
        y = (xg * weight).sum(-1)
        return y if bias is None else y + bias
    raise ValueError(f"backend: unknown {backend!r}")
