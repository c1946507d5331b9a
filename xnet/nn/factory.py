"""One switch for the kind of convolution a model family uses: dense, X (expander) or G (grouped).

Model definitions call :func:`conv` / :func:`linear` with ``kind`` and ``compression`` instead of
``nn.Conv2d`` / ``nn.Linear``, so dense, X- and G-versions of a family share one definition.
"""

from __future__ import annotations

from torch import nn

from .layers import XConv2d, XLinear

KINDS = ("dense", "x", "g")


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
        raise ValueError(f"kind: must be one of {', '.join(KINDS)}, got {kind!r}")
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
        raise ValueError(f"kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "x" and graph is not None:
        return XLinear(in_features, out_features, bias, graph=graph)
    if kind == "x" and (degree is not None or compression != 1):
        if degree is None:
            degree = in_features // compression
        return XLinear(
            in_features, out_features, bias, degree=degree, seed=seed, block_size=block_size, regular=regular
        )
    return nn.Linear(in_features, out_features, bias)
