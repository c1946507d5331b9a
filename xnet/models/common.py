"""Helpers shared by the model families: validated arguments, per-layer graph seeds, and the
authors' X-layers and initialisation used by the ``original`` variant."""

from __future__ import annotations

import math

from torch import nn

from .. import nn as xnn

KINDS = xnn.KINDS
VARIANTS = ("original", "paper")


def check_variant(variant: str) -> str:
    """``original``: the network the authors trained (their code and logs); ``paper``: what the text
    and the published count columns describe (see xnet/published/CONVENTIONS.md)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: must be one of {', '.join(VARIANTS)}, got {variant!r}")
    return variant


def check_kind(conv: str, allowed=KINDS) -> str:
    if conv not in allowed:
        raise ValueError(f"conv: must be one of {', '.join(allowed)}, got {conv!r}")
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


class LayerSeeds:
    """Distinct, reproducible graph seeds (and the block size) for the X-layers of one model.

    The i-th layer built (in construction order) gets ``seed * 10007 + i``, so every X-layer has
    its own graph and the same model seed rebuilds the same model.  With ``block_size=b`` the
    X-layers get block expanders (faster on CPU, see docs/library.md, "Backends"): each layer uses blocks of
    ``gcd(b, in, out, degree)`` channels, the largest size up to b that fits its shape, and stays
    channel-level where that is 1.
    """

    def __init__(self, seed: int = 0, block_size: int | None = None):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed: must be an integer, got {seed!r}")
        self.seed, self.index, self.block_size = seed, 0, block_size

    def __call__(self) -> int:
        s = self.seed * 10007 + self.index
        self.index += 1
        return s

    def block_for(self, num_inputs: int, num_outputs: int, degree: int) -> int | None:
        if self.block_size is None:
            return None
        b = math.gcd(math.gcd(self.block_size, num_inputs), math.gcd(num_outputs, degree))
        return b if b > 1 else None


def conv(
    kind,
    in_channels,
    out_channels,
    kernel_size,
    stride=1,
    padding=0,
    bias=False,
    *,
    compression=1,
    degree=None,
    seeds: LayerSeeds | None = None,
    groups=1,
):
    """``xnet.nn.conv`` with a fresh seed from ``seeds`` and ``degree`` clamped to the fan-in.

    The degree is ``in_channels // compression`` (at least 1); compression 1 or kind "dense"
    gives a plain ``nn.Conv2d``.
    """
    seed = seeds() if seeds is not None else None
    if kind == "x" and degree is None and compression != 1:
        degree = max(1, in_channels // compression)
    if kind == "x" and degree is not None and degree >= in_channels:
        kind, degree = "dense", None
    if kind == "g" and compression != 1 and (in_channels % compression or out_channels % compression):
        raise ValueError(f"compression: G-Conv needs groups={compression} to divide {in_channels} -> {out_channels}")
    block = seeds.block_for(in_channels, out_channels, degree) if kind == "x" and seeds and degree else None
    return xnn.conv(
        kind,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        bias,
        compression=compression,
        degree=degree,
        seed=seed,
        groups=groups,
        block_size=block,
    )


def linear(kind, in_features, out_features, bias=True, *, compression=1, degree=None, seeds: LayerSeeds | None = None):
    """``xnet.nn.linear`` with a fresh seed from ``seeds`` (G has no linear form: dense)."""
    seed = seeds() if seeds is not None else None
    if kind == "x" and degree is None and compression != 1:
        degree = max(1, in_features // compression)
    if kind != "x" or degree is None or degree >= in_features:
        return xnn.linear("dense", in_features, out_features, bias)
    block = seeds.block_for(in_features, out_features, degree) if seeds else None
    return xnn.linear("x", in_features, out_features, bias, degree=degree, seed=seed, block_size=block)


def authors_conv(in_channels, out_channels, kernel_size, stride=1, padding=0, *, degree, seeds: LayerSeeds, bias=False):
    """The authors' ``ExpanderConv2d`` (code/models/layers/expandergraphlayer.py:117-155): no bias, and
    the graph of :func:`xnet.graphs.authors_expander` (each output draws ``degree`` inputs when
    in > out, else each input draws ``degree`` outputs)."""
    from ..graphs import authors_expander

    graph = authors_expander(in_channels, out_channels, degree, seed=seeds())
    return xnn.XConv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias, graph=graph)


def authors_linear(in_features, out_features, *, degree, seeds: LayerSeeds):
    """The authors' ``ExpanderLinear`` (expandergraphlayer.py:54-80): no bias, the authors' graph rule."""
    from ..graphs import authors_expander

    graph = authors_expander(in_features, out_features, degree, seed=seeds())
    return xnn.XLinear(in_features, out_features, bias=False, graph=graph)


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
