"""One switch for the kind of convolution a model family uses: dense, X (expander) or G (grouped).

- :func:`conv` / :func:`linear`: one layer of a given ``kind`` and ``compression`` instead of
  ``nn.Conv2d`` / ``nn.Linear``, so dense, X- and G-versions of a network share one definition.
- :class:`LayerFactory`: the layers of one model (the conv-layer factory a model family takes,
  timm-style): :func:`conv` / :func:`linear` with a fresh graph seed per layer, the degree clamped
  to the fan-in, block expanders where asked, and the authors' X-layers of the ``original`` variant.
"""

from __future__ import annotations

import math

from torch import nn

from ..graphs import authors_expander
from ..names import CONV_KINDS, must_be
from ..seeds import layer_seed
from .layers import XConv2d, XLinear

KINDS = CONV_KINDS  # the kinds of layer (xnet.names)


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
    seed=None,
    groups=1,
    block_size=None,
    regular=None,
    graph=None,
):
    """A convolution of the given kind.

    ``kind="x"`` gives an :class:`XConv2d` with ``degree`` (or ``in_channels // compression``),
    its random graph regular on the ``regular`` side (``"output"``, the default, ``"input"`` or
    ``"authors"``), or with a given ``graph``; ``kind="g"`` gives ``nn.Conv2d(groups=compression)``;
    ``kind="dense"`` or compression 1 gives a plain ``nn.Conv2d``.  ``groups`` passes through for
    layers that are grouped in every kind (MobileNet's depthwise convolutions); ``block_size`` to
    X-layers (a block expander).
    """
    if kind not in KINDS:
        raise ValueError(must_be("kind", kind, KINDS))
    if kind == "x" and graph is not None:
        return XConv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias, graph=graph)
    if kind == "x" and (degree is not None or compression != 1):
        if degree is None:
            degree = in_channels // compression
        return XConv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            bias=bias,
            degree=degree,
            seed=seed,
            block_size=block_size,
            regular=regular,
        )
    if kind == "g" and compression != 1:
        groups = groups * compression
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias, groups=groups)


def linear(
    kind,
    in_features,
    out_features,
    bias=True,
    *,
    compression=1,
    degree=None,
    seed=None,
    block_size=None,
    regular=None,
    graph=None,
):
    """A linear layer of the given kind (X-Linear for ``kind="x"``, ``regular`` / ``graph`` as in
    :func:`conv`; G has no linear form, so dense)."""
    if kind not in KINDS:
        raise ValueError(must_be("kind", kind, KINDS))
    if kind == "x" and graph is not None:
        return XLinear(in_features, out_features, bias, graph=graph)
    if kind == "x" and (degree is not None or compression != 1):
        if degree is None:
            degree = in_features // compression
        return XLinear(
            in_features, out_features, bias, degree=degree, seed=seed, block_size=block_size, regular=regular
        )
    return nn.Linear(in_features, out_features, bias)


class LayerFactory:
    """The layers of one model: dense, X or G by ``kind``, every X-layer on its own seeded graph.

    Every layer built through the factory takes the next graph seed, X or not: the i-th (in
    construction order) gets :func:`xnet.seeds.layer_seed` ``(seed, i)``, so every X-layer has its own
    graph and the same model seed rebuilds the same model.  With ``block_size=b`` the X-layers get
    block expanders (faster on CPU, see docs/library.md, "Backends"): each layer uses blocks of
    ``gcd(b, in, out, degree)`` channels, the largest size up to b that fits its shape, and stays
    channel-level where that is 1.
    """

    def __init__(self, seed: int = 0, block_size: int | None = None):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed: must be an integer, got {seed!r}")
        self.seed, self.index, self.block_size = seed, 0, block_size

    def __call__(self) -> int:
        """The next layer's graph seed (a layer built without the factory that keeps its place)."""
        s = layer_seed(self.seed, self.index)
        self.index += 1
        return s

    def block_for(self, num_inputs: int, num_outputs: int, degree: int) -> int | None:
        if self.block_size is None:
            return None
        b = math.gcd(math.gcd(self.block_size, num_inputs), math.gcd(num_outputs, degree))
        return b if b > 1 else None

    def conv(
        self,
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
        groups=1,
    ):
        """:func:`conv` with the next seed and ``degree`` clamped to the fan-in.

        The degree is ``in_channels // compression`` (at least 1); compression 1, kind "dense" or a
        degree that reaches ``in_channels`` gives a plain ``nn.Conv2d``.
        """
        seed = self()
        if kind == "x" and degree is None and compression != 1:
            degree = max(1, in_channels // compression)
        if kind == "x" and degree is not None and degree >= in_channels:
            kind, degree = "dense", None
        if kind == "g" and compression != 1 and (in_channels % compression or out_channels % compression):
            raise ValueError(
                f"compression: G-Conv needs groups={compression} to divide {in_channels} -> {out_channels}"
            )
        block = self.block_for(in_channels, out_channels, degree) if kind == "x" and degree else None
        return conv(
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

    def linear(self, kind, in_features, out_features, bias=True, *, compression=1, degree=None):
        """:func:`linear` with the next seed (G has no linear form: dense)."""
        seed = self()
        if kind == "x" and degree is None and compression != 1:
            degree = max(1, in_features // compression)
        if kind != "x" or degree is None or degree >= in_features:
            return linear("dense", in_features, out_features, bias)
        block = self.block_for(in_features, out_features, degree)
        return linear("x", in_features, out_features, bias, degree=degree, seed=seed, block_size=block)

    def authors_conv(self, in_channels, out_channels, kernel_size, stride=1, padding=0, *, degree, bias=False):
        """The authors' ``ExpanderConv2d`` (code/models/layers/expandergraphlayer.py:117-155): no bias, and
        the graph of :func:`xnet.graphs.authors_expander` (each output draws ``degree`` inputs when
        in > out, else each input draws ``degree`` outputs)."""
        graph = authors_expander(in_channels, out_channels, degree, seed=self())
        return XConv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias, graph=graph)

    def authors_linear(self, in_features, out_features, *, degree):
        """The authors' ``ExpanderLinear`` (expandergraphlayer.py:54-80): no bias, the authors' graph rule."""
        graph = authors_expander(in_features, out_features, degree, seed=self())
        return XLinear(in_features, out_features, bias=False, graph=graph)
