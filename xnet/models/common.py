"""Model-level helpers shared by the families: validated arguments, width scaling, and the authors'
initialisation used by the ``original`` variant.

The layers themselves (dense / X / G by one switch, a graph seed per layer, the authors' X-layers)
come from the one conv-layer factory, :class:`xnet.nn.factory.LayerFactory`."""

from __future__ import annotations

import math

from torch import nn

from .. import nn as xnn
from ..names import CONV_KINDS, VARIANTS, must_be


def check_variant(variant: str) -> str:
    """``original``: the network the authors trained (their code and logs); ``paper``: what the text
    and the published count columns describe (see xnet/published/CONVENTIONS.md)."""
    if variant not in VARIANTS:
        raise ValueError(must_be("variant", variant, VARIANTS))
    return variant


def check_kind(conv: str, allowed=CONV_KINDS) -> str:
    if conv not in allowed:
        raise ValueError(must_be("conv", conv, allowed))
    return conv


def check_compression(compression) -> int:
    if isinstance(compression, bool) or not isinstance(compression, int) or compression < 1:
        raise ValueError(f"compression: must be an integer >= 1, got {compression!r}")
    return compression


def check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")
    return value


def scaled(channels: int, width: float) -> int:
    """Channels times a width multiplier, at least 1 (for tiny test variants)."""
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width < math.inf:
        raise ValueError(f"width: must be a positive finite number, got {width!r}")
    return max(1, int(round(channels * width)))


def check_block_size(block_size, kind: str, variant: str = "paper", original_ok: bool = False):
    """``block_size`` of a model: None (the paper's channel-level graphs) or blocks of b channels.

    ``original_ok``: the family's ``original`` variant takes block expanders too (MobileNet: the
    authors' network with its X-layers' graphs replaced by block expanders of the same density)."""
    if block_size is None:
        return None
    check_positive_int("block_size", block_size)
    if kind != "x":
        raise ValueError(
            f"block_size: only X-models (conv='x') have expander graphs to build from blocks, got conv={kind!r}"
        )
    if variant != "paper" and not original_ok:
        raise ValueError(
            "block_size: block expanders replace the paper's graph; the original variant keeps the "
            "authors' graphs (pass variant='paper')"
        )
    return block_size


def init_authors(model: nn.Module, *, dense_conv: bool, batchnorm: str, linear_bias_zero: bool = False) -> None:
    """Re-initialise ``model`` as the authors' code (PyTorch 0.3.1, expander_env.txt) did.

    X-Conv: Kaiming normal, fan-out of the dense shape, std sqrt(2 / (out * k * k))
    (expandergraphlayer.py:135); X-Linear: Kaiming normal, fan-in of all inputs, std sqrt(2 / in)
    (expandergraphlayer.py:75).  ``dense_conv``: dense convolutions normal(0, sqrt(2 / (k*k*out)))
    with zero bias (the init loops of densenet_cifar.py:101-109, vggcifar.py:28-32,
    resnet_imagenet.py:113-119); otherwise PyTorch 0.3.1's default, uniform(+-1 / sqrt(in * k * k))
    over *all* input channels, ``groups`` ignored: the same as today's default for ungrouped
    convolutions, but sqrt(in / groups) times narrower for grouped ones (G-Conv: sqrt(C); depthwise:
    sqrt(channels)), so grouped and depthwise convolutions are re-drawn.  ``batchnorm``: "ones"
    (weight 1, bias 0, where the authors' loop sets it) or "uniform" (weight uniform(0, 1), bias 0:
    PyTorch <= 1.1's default, which models without a loop got).
    ``linear_bias_zero``: dense linear biases zeroed (densenet_cifar.py:108-109).
    """
    for m in model.modules():
        if isinstance(m, xnn.XConv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / (k * m.out_channels)))
        elif isinstance(m, xnn.XLinear):
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / m.in_features))
        elif isinstance(m, nn.Conv2d) and dense_conv:
            fan_out = math.prod(m.kernel_size) * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d) and m.groups > 1:  # torch 0.3.1 _ConvNd.reset_parameters: groups ignored
            bound = 1.0 / math.sqrt(m.in_channels * math.prod(m.kernel_size))
            nn.init.uniform_(m.weight, -bound, bound)
            if m.bias is not None:
                nn.init.uniform_(m.bias, -bound, bound)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if batchnorm == "uniform":
                nn.init.uniform_(m.weight)
            else:
                nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear_bias_zero and m.bias is not None:
            nn.init.zeros_(m.bias)
