"""The ``triton`` backend of block X-layers: convolutions that read the input through the graph.

A block graph (``block_size`` b > 1, see :func:`xnet.graphs.block_graph`) joins output block ``o``
(channels ``o*b .. o*b+b-1``) to the S = D/b input blocks ``table[o, s]``, every edge a dense
b x b kernel block.  The kernels (:mod:`xnet.nn.triton_kernels`) are implicit GEMMs whose reduction
loop loads input blocks through that table, so nothing is gathered or copied:

- forward: ``y[:, o*b + j] = sum_{s, k, kernel taps} W[o*b + j, s*b + k] x[:, table[o, s]*b + k]``,
  one program per tile of (output pixels x channels of one output block);
- input gradient: the same loop over the *transposed* table (``table_t[u, e]``: the e-th edge
  ``o*S + s`` into input block ``u``, padded with -1 to the largest input degree), so every
  program owns its tile of the input gradient and no atomics are needed.  Graphs balanced on the
  input side (:func:`xnet.graphs.block_expander` with ``balanced=True``) have no padding;
- weight gradient: one program per (edge, kernel tap, tile), the pixel reduction split into
  chunks whose fp32 partial sums are added by torch (deterministic, no atomics).

All three accumulate in fp32, take fp32 / fp16 / bf16 tensors of any strides (NCHW and
channels_last alike: outputs and input gradients keep the input's memory format), and handle
stride, zero padding and dilation; 1x1 convolutions and linear layers are the 1x1 case.  They are
registered as torch custom ops (``xnet::block_conv2d`` and its two gradients) with autograd and
fake (meta) kernels, so autograd and ``torch.compile`` treat them as single ops; autocast is
applied by :func:`block_conv2d`, which casts inputs to the autocast dtype *before* the kernel.

Runs on CUDA; on CPU only through Triton's interpreter (``TRITON_INTERPRET=1`` set before this
module is first imported, i.e. before the first ``backend="triton"`` call), slowly, for tests.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch.nn.modules.utils import _pair

from ._shared import _cached_on, _compute_dtype
from .triton_launch import (
    DTYPES,
    INTERPRETED,
    _channels_last,
    _empty,
    _launch_dgrad,
    _launch_fwd,
    _launch_wgrad,
    _out_size,
)

__all__ = ["DTYPES", "INTERPRETED", "block_conv2d", "block_conv2d_op", "block_linear", "block_tables"]


# ----------------------------------------------------------------------------------------------
# block tables


def block_tables(neighbors: torch.Tensor, b: int, num_inputs: int):
    """``(table, table_t, counts)`` of an output-regular block graph's ``(out, D)`` table, int32 on
    its device (cached on the ``neighbors`` buffer).

    ``table[o, s]``: the input block of output block o's s-th block edge.  ``table_t[u, e]``: the
    e-th edge ``o*S + s`` into input block u (``e < counts[u]``), rows padded with -1 to the
    largest input degree.  The input-gradient programs of block u loop over its ``counts[u]``
    edges: graphs balanced on the input side give every program the same work.
    """

    def compute():
        table = (neighbors[::b, ::b] // b).cpu()
        flat = table.reshape(-1)
        if int(flat.max()) >= num_inputs // b:
            raise ValueError(f"input: {num_inputs} channels, but the graph reads input channel {int(flat.max()) * b}")
        counts = torch.bincount(flat, minlength=num_inputs // b)
        order = torch.argsort(flat, stable=True)  # edges o*S + s grouped by input block
        starts = torch.cumsum(counts, 0) - counts
        slot = torch.arange(flat.numel()) - starts[flat[order]]
        table_t = torch.full((num_inputs // b, max(1, int(counts.max()))), -1, dtype=torch.long)
        table_t[flat[order], slot] = order
        dev = neighbors.device
        return tuple(t.to(dev, torch.int32).contiguous() for t in (table, table_t, counts))

    return _cached_on(neighbors, "_xnet_triton_tables", (b, num_inputs), compute)


# ----------------------------------------------------------------------------------------------
# custom ops: forward, input gradient, weight gradient.  They take the layer's ``neighbors`` and
# build (and cache) the block tables inside, where torch.compile does not trace.


@torch.library.custom_op("xnet::block_conv2d", mutates_args=())
def block_conv2d_op(
    x: torch.Tensor,
    weight: torch.Tensor,
    neighbors: torch.Tensor,
    bias: Optional[torch.Tensor],  # noqa: UP045 - the op's schema is read from these annotations
    stride: list[int],
    padding: list[int],
    dilation: list[int],
    block_size: int,
) -> torch.Tensor:
    """Block X-Conv ``(N, C, H, W) -> (N, out, OH, OW)``; ``weight`` ``(out, D, kh, kw)`` and
    ``neighbors`` ``(out, D)`` of a block graph with blocks of ``block_size`` channels."""
    table = block_tables(neighbors, block_size, x.shape[1])[0]
    return _launch_fwd(x, weight, table, bias, stride, padding, dilation, block_size)


@block_conv2d_op.register_fake
def _(x, weight, neighbors, bias, stride, padding, dilation, block_size):
    nb, _, h, w = x.shape
    out, _, kh, kw = weight.shape
    oh, ow = (
        _out_size(h, kh, stride[0], padding[0], dilation[0]),
        _out_size(w, kw, stride[1], padding[1], dilation[1]),
    )
    return _empty((nb, out, oh, ow), x, _channels_last(x))


@torch.library.custom_op("xnet::block_conv2d_dgrad", mutates_args=())
def block_conv2d_dgrad_op(
    grad_y: torch.Tensor,
    weight: torch.Tensor,
    neighbors: torch.Tensor,
    input_size: list[int],
    channels_last: bool,
    stride: list[int],
    padding: list[int],
    dilation: list[int],
    block_size: int,
) -> torch.Tensor:
    """Input gradient of :func:`block_conv2d_op`, atomics-free through the transposed table."""
    _, table_t, counts = block_tables(neighbors, block_size, input_size[1])
    return _launch_dgrad(
        grad_y, weight, table_t, counts, input_size, channels_last, stride, padding, dilation, block_size
    )


@block_conv2d_dgrad_op.register_fake
def _(grad_y, weight, neighbors, input_size, channels_last, stride, padding, dilation, block_size):
    return _empty(tuple(input_size), grad_y, channels_last)


@torch.library.custom_op("xnet::block_conv2d_wgrad", mutates_args=())
def block_conv2d_wgrad_op(
    grad_y: torch.Tensor,
    x: torch.Tensor,
    neighbors: torch.Tensor,
    weight_size: list[int],
    stride: list[int],
    padding: list[int],
    dilation: list[int],
    block_size: int,
) -> torch.Tensor:
    """Weight gradient of :func:`block_conv2d_op` (fp32 partial sums over chunks of pixels)."""
    table = block_tables(neighbors, block_size, x.shape[1])[0]
    return _launch_wgrad(grad_y, x, table, weight_size, stride, padding, dilation, block_size)


@block_conv2d_wgrad_op.register_fake
def _(grad_y, x, neighbors, weight_size, stride, padding, dilation, block_size):
    return x.new_empty(weight_size)


def _setup_context(ctx, inputs, output):
    x, weight, neighbors, bias, stride, padding, dilation, block_size = inputs
    ctx.save_for_backward(x, weight, neighbors)  # the input itself, never a gathered copy
    ctx.conf = (list(stride), list(padding), list(dilation), block_size)
    ctx.has_bias = bias is not None


def _backward(ctx, grad_y):
    x, weight, neighbors = ctx.saved_tensors
    stride, padding, dilation, b = ctx.conf
    grad_x = grad_w = grad_b = None
    grad_y = grad_y.to(x.dtype)
    if ctx.needs_input_grad[0]:
        grad_x = block_conv2d_dgrad_op(
            grad_y, weight, neighbors, list(x.shape), _channels_last(x), stride, padding, dilation, b
        )
    if ctx.needs_input_grad[1]:
        grad_w = block_conv2d_wgrad_op(grad_y, x, neighbors, list(weight.shape), stride, padding, dilation, b)
    if ctx.has_bias and ctx.needs_input_grad[3]:
        grad_b = grad_y.sum((0, 2, 3))
    return grad_x, grad_w, None, grad_b, None, None, None, None


block_conv2d_op.register_autograd(_backward, setup_context=_setup_context)


# ----------------------------------------------------------------------------------------------
# entry points of the "triton" backend


def _check_device(x):
    if x.device.type != "cuda" and not INTERPRETED:
        raise ValueError(
            f"backend: 'triton' runs on CUDA, got a {x.device.type} tensor (on CPU, set "
            "TRITON_INTERPRET=1 before the first 'triton' call to use Triton's interpreter)"
        )


def _padding(padding, kernel, stride, dilation):
    if isinstance(padding, str):
        if padding == "valid":
            return [0, 0]
        if padding != "same":
            raise ValueError(f"padding: unknown {padding!r}")
        total = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
        if any(t % 2 for t in total) or any(s != 1 for s in stride):
            raise ValueError(
                "padding: 'same' with backend 'triton' needs stride 1 and a symmetric padding "
                f"(odd kernel), got kernel {tuple(kernel)}"
            )
        return [t // 2 for t in total]
    return list(_pair(padding))


def _prepare(x, weight, neighbors, bias, block_size, side):
    if side != "output":
        raise ValueError(
            "backend: 'triton' supports output-regular block graphs only, this graph is input-regular "
            "(use 'masked', 'gather' or 'sparse')"
        )
    out, d = neighbors.shape
    b = block_size
    if b < 2 or out % b or d % b:
        raise ValueError(f"backend: 'triton' needs a block graph (block_size > 1), got block_size={block_size}")
    _check_device(x)
    dt = _compute_dtype(x, weight)
    if dt not in DTYPES:
        raise ValueError(f"backend: 'triton' computes in float32, float16 or bfloat16, got {dt}")
    if x.shape[1] % b:
        raise ValueError(f"input: {x.shape[1]} channels are not a multiple of block_size={b}")
    # cast first (autocast order): the kernel reads the input once, in the compute dtype
    return x.to(dt), weight.to(dt), None if bias is None else bias.to(dt), neighbors.to(x.device)


def block_conv2d(x, weight, neighbors, bias=None, stride=1, padding=0, dilation=1, block_size=1, *, side="output"):
    """``F.conv2d(x, dense_weight(weight, neighbors), bias, stride, padding, dilation)`` for a block graph."""
    if x.dim() != 4:
        raise ValueError(f"input: backend 'triton' expects a 4-d (N, C, H, W) input, got shape {tuple(x.shape)}")
    stride, dilation = list(_pair(stride)), list(_pair(dilation))
    padding = _padding(padding, weight.shape[2:], stride, dilation)
    x, weight, bias, neighbors = _prepare(x, weight, neighbors, bias, block_size, side)
    return block_conv2d_op(x, weight, neighbors, bias, stride, padding, dilation, block_size)


def block_linear(x, weight, neighbors, bias=None, block_size=1, *, side="output"):
    """``F.linear(x, dense_weight(weight, neighbors), bias)`` for a block graph (the 1x1 kernel)."""
    num_in, out = x.shape[-1], neighbors.shape[0]
    lead = x.shape[:-1]
    x4 = x.reshape(-1, num_in, 1, 1)
    x4, w4, bias, neighbors = _prepare(x4, weight.reshape(out, -1, 1, 1), neighbors, bias, block_size, side)
    y = block_conv2d_op(x4, w4, neighbors, bias, [1, 1], [0, 0], [1, 1], block_size)
    return y.reshape(*lead, out)
