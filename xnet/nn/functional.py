"""Compute backends of X-layers.  Every backend gives the outputs and gradients of the dense
reference (``F.conv2d`` / ``F.linear`` with ``dense_weight``); they differ only in speed and memory.
All are built from torch ops (index_select, conv2d, matmul; the sparse CSR matmul and the CPU
block-sparse matmul with an explicit backward), so gradients are exact and the code runs on CPU
and CUDA alike.

- ``masked``: scatter the compressed kernel into a dense one and run ``F.conv2d`` (the reference;
  dense cost, but always as fast as ``nn.Conv2d``).
- ``gather``: the paper's Algorithm 1: gather each output's D input channels and convolve them with
  its compressed kernel (a grouped convolution with one group per output).  The gathered tensor
  has ``out * D`` channels, so it runs in chunks of outputs to bound memory.  Exact FLOPs, but
  one-channel groups run far below peak on CPU.
- ``block``: for block graphs (``block_size`` b > 1).  k x k: gather whole input blocks and run ONE
  grouped convolution with one group per output block.  1x1 and linear on CPU: a block-sparse
  matmul that multiplies every b x b weight block with its input block in place (no gather, no
  dense weight), on CUDA a batched matmul over gathered blocks.  Cost ~1/C of dense.
- ``sparse``: 1x1 convolutions and linear layers as a CSR sparse x dense matmul (any graph).

Graphs regular on the input side (``side="input"``, see :mod:`xnet.graphs.bipartite`) come as an
``(in, D)`` table of each input's outputs, a ``(in, D, *k)`` weight and ``num_outputs``.  Every
backend but ``block`` supports them: ``gather`` convolves each input with its D kernels (a
depthwise convolution with channel multiplier D) and adds the results into their outputs;
``sparse`` multiplies by the transpose of the table's CSR matrix; ``auto`` never picks ``block``.

This module holds the public entry points (:func:`xconv2d`, :func:`xlinear`, :func:`dense_weight`,
:func:`choose_backend`, :func:`check_backend`); the backends live in :mod:`xnet.nn.sparse`,
:mod:`xnet.nn.gather`, :mod:`xnet.nn.block` and :mod:`xnet.nn.triton_block`, their shared helpers
in ``xnet.nn._shared``.  The tuning constants are re-exported here for reading; they are read
(and, in tests, patched) in the module that uses them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.modules.utils import _pair

from ..names import BACKENDS
from ._shared import _check_block_side, _check_side, check_backend
from .block import (
    BLOCK_CHUNK_BYTES,
    BLOCK_MAPS_MIN_POSITIONS_B16,
    BLOCK_MIN_GEMM_MACS_CPU,
    BLOCK_MIN_MACS_CPU,
    _conv_block,
    _linear_block,
    block_pays_on_cpu,
)
from .gather import GATHER_CHUNK_BYTES, _conv_gather, _conv_gather_input, _linear_gather, _linear_gather_input
from .sparse import _conv_sparse, _sparse_mm

__all__ = [
    "BACKENDS",
    "BLOCK_CHUNK_BYTES",
    "BLOCK_MAPS_MIN_POSITIONS_B16",
    "BLOCK_MIN_GEMM_MACS_CPU",
    "BLOCK_MIN_MACS_CPU",
    "GATHER_CHUNK_BYTES",
    "check_backend",
    "choose_backend",
    "dense_weight",
    "xconv2d",
    "xlinear",
]


def dense_weight(
    weight: torch.Tensor,
    neighbors: torch.Tensor,
    num_inputs: int,
    *,
    side: str = "output",
    num_outputs: int | None = None,
) -> torch.Tensor:
    """Scatter a compressed kernel into a dense ``(out, in, *k)`` one.

    ``side="output"``: ``weight`` is ``(out, D, *k)`` and ``neighbors[v]`` the inputs of output v.
    ``side="input"``: ``weight`` is ``(in, D, *k)`` and ``neighbors[u]`` the ``num_outputs``-side
    outputs of input u.
    """
    _check_side(side, num_outputs)
    rows, d = neighbors.shape
    cols = num_inputs if side == "output" else num_outputs
    dense = weight.new_zeros(rows, cols, *weight.shape[2:])
    index = neighbors.view(rows, d, *([1] * (weight.dim() - 2))).expand_as(weight)
    dense = dense.scatter(1, index, weight)
    return dense if side == "output" else dense.transpose(0, 1)


def choose_backend(
    x: torch.Tensor,
    weight: torch.Tensor,
    neighbors: torch.Tensor,
    block_size: int = 1,
    stride=1,
    *,
    side: str = "output",
    num_outputs: int | None = None,
) -> str:
    """Pick the fastest exact backend for this shape and device.

    The rule follows ``python -m xnet.bench layers`` and ``models`` on a 2-core CPU (see
    docs/benchmarks.md):

    - block graphs, k x k kernels: ``block`` (one grouped conv at ~1/C of the dense FLOPs) for
      blocks of >= 8 channels at C >= 2, stride 1 on every device (at stride 2, gathering the
      full-resolution input costs more than the 4x smaller convolution saves: ResNet-50's
      stride-2 layers on CPU 1.3-1.7x masked on two threads; on one, 0.7-0.9x in one run and
      1.2-1.5x in the next, so not picked);
    - block graphs, 1x1 convolutions / linear layers on CPU: ``block`` (the block-sparse matmul)
      for blocks of >= 16 channels at C >= 4 where :func:`xnet.nn.block.block_pays_on_cpu` says
      so: on NCHW maps of >= 32 pixels always on one thread, on more if each batched matmul has
      >= 4096 samples x pixels at b = 16 (256 at b = 32; the bound falls with b^4); otherwise if
      the call does >= 2^25 multiply-accumulates and each b x b GEMM >= 2^18 (blocks of 8 and
      C = 2 only tie with dense on two threads); on CUDA for blocks of >= 8 channels at C >= 4;
    - channel-level graphs of 1x1 convolutions / linear layers at compression >= 16 use ``sparse``
      on CPU (CSR matmul, about half the dense time there; at C = 8 it only breaks even);
    - everything else uses ``masked``, i.e. dense speed: per-channel gathers (Algorithm 1) run far
      below peak on CPU (3-100x the dense time), so they pay off neither in time nor in memory.
      The CUDA rule is unmeasured (no GPU was available when it was written); ``triton`` is never
      picked: its rule awaits the numbers of ``python -m xnet.bench gpu`` (docs/benchmarks.md).

    Input-regular tables (``side="input"``) follow the same rule with compression ``out / D``,
    but never get ``block`` (it supports output-regular block graphs only).
    """
    out, d = neighbors.shape
    num_inputs = x.shape[1] if weight.dim() > 2 else x.shape[-1]
    compression = num_inputs / d
    is_pointwise = weight.dim() == 2 or all(k == 1 for k in weight.shape[2:])
    cpu = x.device.type == "cpu"
    if side != "output":
        _check_side(side, num_outputs)
        compression, block_size = num_outputs / d, 1
    if block_size >= 8 and out % block_size == 0 and d % block_size == 0:
        if not is_pointwise and compression >= 2 and max(_pair(stride)) == 1:
            return "block"
        if is_pointwise and not cpu and compression >= 4:
            return "block"
        if is_pointwise and cpu and block_size >= 16 and compression >= 4:
            if block_pays_on_cpu(x, out, d, block_size, stride, conv=weight.dim() > 2):
                return "block"
    if is_pointwise and cpu and compression >= 16 and block_size == 1 and x.dtype in (torch.float32, torch.float64):
        return "sparse"
    return "masked"


def xconv2d(
    x,
    weight,
    neighbors,
    bias=None,
    stride=1,
    padding=0,
    dilation=1,
    *,
    backend="auto",
    block_size=1,
    side="output",
    num_outputs=None,
):
    """X-Conv forward: ``F.conv2d(x, dense_weight(weight, neighbors), ...)`` computed by ``backend``.

    ``side="input"``: ``neighbors`` is an input-regular ``(in, D)`` table of outputs, ``weight``
    ``(in, D, *k)``, and ``num_outputs`` the number of output channels.
    """
    _check_side(side, num_outputs)
    check_backend(backend)
    if backend == "auto":
        backend = choose_backend(x, weight, neighbors, block_size, stride, side=side, num_outputs=num_outputs)
    if backend == "masked":
        w = dense_weight(weight, neighbors, x.shape[1], side=side, num_outputs=num_outputs)
        return F.conv2d(x, w, bias, stride, padding, dilation)
    inputs = side == "input"
    if backend == "gather":
        if inputs:
            return _conv_gather_input(x, weight, neighbors, bias, stride, padding, dilation, num_outputs)
        return _conv_gather(x, weight, neighbors, bias, stride, padding, dilation)
    if backend == "block":
        _check_block_side(side)
        return _conv_block(x, weight, neighbors, bias, stride, padding, dilation, block_size)
    if backend == "sparse":
        return _conv_sparse(x, weight, neighbors, bias, stride, padding, num_outputs if inputs else None)
    if backend == "triton":  # Triton kernels that read the input through the block table (triton_block.py)
        from . import triton_block

        return triton_block.block_conv2d(x, weight, neighbors, bias, stride, padding, dilation, block_size, side=side)
    raise AssertionError(backend)  # unreachable: check_backend above


# ----------------------------------------------------------------------------------------------
# linear


def xlinear(x, weight, neighbors, bias=None, *, backend="auto", block_size=1, side="output", num_outputs=None):
    """X-Linear forward: ``F.linear(x, dense_weight(weight, neighbors), bias)`` computed by ``backend``.

    ``side="input"``: ``neighbors`` is an input-regular ``(in, D)`` table of outputs, ``weight``
    ``(in, D)``, and ``num_outputs`` the number of outputs.
    """
    _check_side(side, num_outputs)
    check_backend(backend)
    if backend == "auto":
        backend = choose_backend(x, weight, neighbors, block_size, side=side, num_outputs=num_outputs)
    num_inputs = x.shape[-1]
    if backend == "masked":
        return F.linear(x, dense_weight(weight, neighbors, num_inputs, side=side, num_outputs=num_outputs), bias)
    if backend == "triton":  # Triton kernels that read the input through the block table (triton_block.py)
        from . import triton_block

        return triton_block.block_linear(x, weight, neighbors, bias, block_size, side=side)
    out = neighbors.shape[0]
    lead = x.shape[:-1]
    x2 = x.reshape(-1, num_inputs)
    if side == "input":
        if backend == "gather":
            y = _linear_gather_input(x2, weight, neighbors, num_outputs)
        elif backend == "sparse":
            y = _sparse_mm(weight, x2.t(), neighbors, num_outputs, transpose=True).t()
        elif backend == "block":
            _check_block_side(side)
        else:
            raise AssertionError(backend)  # unreachable: check_backend above
        y = y if bias is None else y + bias
        return y.reshape(*lead, num_outputs)
    if backend == "gather":
        y = _linear_gather(x2, weight, neighbors)
    elif backend == "block":
        y = _linear_block(x2, weight, neighbors, block_size)
    elif backend == "sparse":
        y = _sparse_mm(weight, x2.t(), neighbors, num_inputs).t()
    else:
        raise AssertionError(backend)  # unreachable: check_backend above
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, out)
