"""The ``gather`` backend (the paper's Algorithm 1) and the gathered grouped convolution that the
k x k ``block`` backend runs: gather each output's input channels (or input blocks) and convolve
them in ONE grouped convolution, saving the input, not the gathered copy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.modules.utils import _pair

from ._shared import _compute_dtype, _is_channels_last

# Peak extra memory (bytes) the gather backend may use for its gathered input; larger layers run
# in chunks of outputs.
GATHER_CHUNK_BYTES = 256 * 2**20


def _gather_blocks(x3, index):
    """``x3.index_select(1, index)`` for x3 of shape (N, blocks, L): whole input blocks."""
    return x3.index_select(1, index)


def _channel_index(index, b):
    return index if b == 1 else (index[:, None] * b + torch.arange(b, device=index.device)).reshape(-1)


def _gather_channels(x, index, b, count=True):
    """``x[:, channels]`` for ``index`` a flat list of input blocks of ``b`` channels (b = 1: channels),
    in x's memory format: a channels_last input is gathered along its contiguous (NHWC) last dim.
    ``count``: go through ``_gather_blocks`` (the forward; tests count its calls)."""
    if _is_channels_last(x):
        return x.permute(0, 2, 3, 1).index_select(3, _channel_index(index, b)).permute(0, 3, 1, 2)
    n, c, h, w = x.shape
    x3 = x.reshape(n, c // b, b * h * w)
    xg = _gather_blocks(x3, index) if count else x3.index_select(1, index)
    return xg.view(n, index.numel() * b, h, w)


def _scatter_channels(grad, index, b, shape, channels_last):
    """The adjoint of :func:`_gather_channels`: add ``grad`` of the gathered channels into a zero input."""
    n, c, h, w = shape
    if channels_last:
        out = grad.new_zeros(n, h, w, c)
        out.index_add_(3, _channel_index(index, b), grad.permute(0, 2, 3, 1))
        return out.permute(0, 3, 1, 2)
    g3 = grad.reshape(n, index.numel(), b * h * w)
    out = grad.new_zeros(n, c // b, b * h * w)
    # ONE op (torch 2.x's CPU index_add_ along dim 1 beats a loop of one add_ per gathered block, and
    # one parallel region instead of O*S keeps two threads busy even when another process competes)
    out.index_add_(1, index, g3)
    return out.view(n, c, h, w)


class _GatheredConv(torch.autograd.Function):
    """``F.conv2d(x[:, channels], weight, bias, stride, padding, dilation, groups)`` that saves ``x``,
    not the gathered copy (D/b times the input for ``block``, D times for ``gather``), and gathers
    again in the backward: activation memory stays that of the input."""

    @staticmethod
    def forward(ctx, x, weight, bias, index, b, groups, stride, padding, dilation):
        ctx.save_for_backward(x, weight, index)
        ctx.conf = (b, groups, stride, padding, dilation, bias is not None)
        return F.conv2d(_gather_channels(x, index, b), weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, index = ctx.saved_tensors
        b, groups, stride, padding, dilation, has_bias = ctx.conf
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], has_bias and ctx.needs_input_grad[2]]
        xg = _gather_channels(x, index, b, count=False)
        grad_xg, grad_w, grad_b = torch.ops.aten.convolution_backward(
            grad_y.to(xg.dtype),
            xg,
            weight,
            [weight.shape[0]] if has_bias else None,
            stride,
            padding,
            dilation,
            False,
            [0, 0],
            groups,
            mask,
        )
        grad_x = _scatter_channels(grad_xg, index, b, x.shape, _is_channels_last(x)) if mask[0] else None
        return grad_x, grad_w, grad_b, None, None, None, None, None, None


def _gathered_conv(x, weight, bias, index, b, groups, stride, padding, dilation):
    """Gather input blocks (or channels) and run one grouped convolution, in the compute dtype
    (autocast's: cast first, then gather the smaller tensor once)."""
    dt = _compute_dtype(x, weight)
    x, weight = x.to(dt), weight.to(dt)
    bias = None if bias is None else bias.to(dt)
    if isinstance(padding, str):  # 'same' / 'valid': the plain form (convolution_backward needs numbers)
        return F.conv2d(_gather_channels(x, index, b), weight, bias, stride, padding, dilation, groups)
    return _GatheredConv.apply(
        x, weight, bias, index, b, groups, list(_pair(stride)), list(_pair(padding)), list(_pair(dilation))
    )


def _conv_gather(x, weight, neighbors, bias, stride, padding, dilation):
    out, d = neighbors.shape
    per_output = x.shape[0] * d * x.shape[2] * x.shape[3] * x.element_size()
    step = max(1, int(GATHER_CHUNK_BYTES // max(1, per_output)))
    ys = []
    for s in range(0, out, step):
        nb = neighbors[s : s + step]
        b = None if bias is None else bias[s : s + step]
        ys.append(_gathered_conv(x, weight[s : s + step], b, nb.reshape(-1), 1, nb.shape[0], stride, padding, dilation))
    return ys[0] if len(ys) == 1 else torch.cat(ys, 1)


def _conv_gather_input(x, weight, neighbors, bias, stride, padding, dilation, num_outputs):
    """Input-regular gather: each input convolved with its D kernels (a depthwise convolution with
    channel multiplier D), the results added into their outputs; in chunks of inputs."""
    num_inputs, d = neighbors.shape
    n = x.shape[0]
    per_input = n * d * x.shape[2] * x.shape[3] * x.element_size()
    step = max(1, int(GATHER_CHUNK_BYTES // max(1, per_input)))
    y = None
    for s in range(0, num_inputs, step):
        w = weight[s : s + step]
        z = F.conv2d(
            x[:, s : s + step], w.reshape(-1, 1, *w.shape[2:]), None, stride, padding, dilation, groups=w.shape[0]
        )
        if y is None:
            y = z.new_zeros(n, num_outputs, *z.shape[2:])
        y = y.index_add(1, neighbors[s : s + step].reshape(-1), z)
    return y if bias is None else y + bias.view(1, -1, 1, 1).to(y.dtype)


def _linear_gather_input(x2, weight, neighbors, num_outputs):
    """Input-regular gather: each input times its D weights, added into its D outputs."""
    num_inputs, d = neighbors.shape
    step = max(1, int(GATHER_CHUNK_BYTES // max(1, x2.shape[0] * d * x2.element_size())))
    y = None
    for s in range(0, num_inputs, step):
        z = (x2[:, s : s + step, None] * weight[s : s + step]).reshape(x2.shape[0], -1)
        if y is None:
            y = z.new_zeros(x2.shape[0], num_outputs)
        y = y.index_add(1, neighbors[s : s + step].reshape(-1), z)
    return y


def _linear_gather(x2, weight, neighbors):
    """Output-regular gather of a linear layer: each output's D inputs times its D weights, in
    chunks of outputs."""
    out, d = neighbors.shape
    step = max(1, int(GATHER_CHUNK_BYTES // max(1, x2.shape[0] * d * x2.element_size())))
    ys = [(x2[:, neighbors[s : s + step]] * weight[s : s + step]).sum(-1) for s in range(0, out, step)]
    return torch.cat(ys, -1)
