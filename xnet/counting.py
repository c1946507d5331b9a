"""Parameter and MAC counts that see only the real connections of X-layers.

MACs are the multiply-accumulates of the convolution and linear layers (the convention of the
paper's CIFAR and MobileNet "FLOPs"; Table 1's "FLOPs" are about 2 x MACs), biases, BN, ReLU and
pooling excluded, per sample.  An X-Conv with E channel connections (edges) and a k x k kernel
costs ``out_pixels * E * k * k`` (E = out * D for the paper's output-regular graph of degree D,
in * D for an input-regular one, whose output degrees vary); a G-Conv
``out_elements * (in / groups) * k * k``.  Parameters are the model's trainable tensors, in which
X-layers store only their edges.

Three independent counters, which agree (the tests check it):

- ``method="hooks"`` (default): forward hooks on Conv2d / Linear / XConv2d / XLinear.
- ``method="thop"``: ``thop.profile`` with custom rules for X-layers and zero for BN / ReLU / pooling.
- ``method="flop_counter"``: ``torch.utils.flop_counter`` on the ATen ops, with X-layers run as
  the gather algorithm (a grouped convolution / batched matmul over the D neighbours) so that the
  counted ops are the real ones; FLOPs / 2.
"""

from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn

from .nn import XConv2d, XLinear

METHODS = ("hooks", "thop", "flop_counter")


def _input_shape(input_size) -> tuple:
    if isinstance(input_size, int):
        return (1, 3, input_size, input_size)
    shape = tuple(int(s) for s in input_size)
    if len(shape) == 3:
        return (1, *shape)
    if len(shape) == 4:
        return shape
    raise ValueError(f"input_size: expected (C, H, W), (N, C, H, W) or an int, got {input_size!r}")


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (X-layers hold only their edges)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _macs_of(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    if isinstance(m, XConv2d):  # out pixels x edges x kernel, whichever side the graph is regular on
        return y.numel() // m.out_channels * m.num_edges * m.weight.shape[2] * m.weight.shape[3]
    if isinstance(m, XLinear):
        return y.numel() // m.out_features * m.num_edges
    if isinstance(m, nn.Conv2d):
        return y.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, nn.Linear):
        return y.numel() * m.in_features
    return 0


def _macs_hooks(model, x) -> int:
    """Count on a shape-only (meta) copy when possible: exact, and free of compute."""
    try:
        meta = copy.deepcopy(model).to("meta")
        return _run_hooks(meta, torch.empty(x.shape, device="meta", dtype=x.dtype))
    except Exception:  # an op without a meta kernel: count on the real model
        return _run_hooks(model, x)


def _run_hooks(model, x) -> int:
    total = [0]

    def hook(m, inputs, output):
        total[0] += _macs_of(m, inputs[0], output)

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (XConv2d, XLinear, nn.Conv2d, nn.Linear))
    ]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return total[0]


def _macs_thop(model, x) -> int:
    import thop

    def x_rule(m, inputs, output):
        m.total_ops += torch.DoubleTensor([_macs_of(m, inputs[0], output)])

    def zero(m, inputs, output):
        m.total_ops += torch.DoubleTensor([0.0])

    zero_types = (
        nn.BatchNorm1d,
        nn.BatchNorm2d,
        nn.ReLU,
        nn.ReLU6,
        nn.MaxPool2d,
        nn.AvgPool2d,
        nn.AdaptiveAvgPool2d,
        nn.Dropout,
        nn.Identity,
    )
    custom = {XConv2d: x_rule, XLinear: x_rule, **{t: zero for t in zero_types}}
    with contextlib.redirect_stdout(None):
        ops, _ = thop.profile(model, inputs=(x,), custom_ops=custom, verbose=False)
    return int(round(ops))


def _xlinear_gather(m):
    def forward(x):
        if m.side == "input":  # each input times its D weights (a counted bmm), added into its outputs
            z = torch.bmm(x.t().unsqueeze(-1), m.weight.unsqueeze(1))  # (in, B, D)
            y = x.new_zeros(x.shape[0], m.out_features).index_add(
                1, m.neighbors.reshape(-1), z.transpose(0, 1).reshape(x.shape[0], -1)
            )
        else:
            y = torch.einsum("bod,od->bo", x[:, m.neighbors], m.weight)
        return y if m.bias is None else y + m.bias

    return forward


def _macs_flop_counter(model, x) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    saved = []
    for m in model.modules():
        if isinstance(m, XConv2d):
            saved.append((m, "backend", m.backend))
            m.backend = "gather"
        elif isinstance(m, XLinear):
            saved.append((m, "forward", None))
            m.forward = _xlinear_gather(m)
    try:
        with FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        for m, attr, value in saved:
            if attr == "forward":
                del m.forward
            else:
                m.backend = value
    return counter.get_total_flops() // 2


def profile(model: nn.Module, input_size=(3, 224, 224), *, method: str = "hooks") -> dict:
    """``{"params": int, "macs": int}`` of ``model`` for one sample of ``input_size`` (C, H, W).

    Counts only the real connections of X-layers; see the module docstring for the conventions.
    The model runs once in eval mode without gradients; its mode is restored.
    """
    if method not in METHODS:
        raise ValueError(f"method: must be one of {', '.join(METHODS)}, got {method!r}")
    shape = _input_shape(input_size)
    try:
        p = next(model.parameters())
        device, dtype = p.device, p.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    x = torch.zeros(shape, device=device, dtype=dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if method == "hooks":
                macs = _macs_hooks(model, x)
            elif method == "thop":
                macs = _macs_thop(model, x)
            else:
                macs = _macs_flop_counter(model, x)
    finally:
        model.train(was_training)
    return {"params": count_params(model), "macs": int(macs) // shape[0]}
