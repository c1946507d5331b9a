"""Helpers shared by the model families: validated arguments and per-layer graph seeds."""
from __future__ import annotations

import math

from .. import nn as xnn

KINDS = xnn.KINDS


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
    return max(1, int(round(channels * width)))


def check_block_size(block_size, kind: str):
    """``block_size`` of a model: None (the paper's channel-level graphs) or blocks of b channels."""
    if block_size is None:
        return None
    check_positive_int("block_size", block_size)
    if kind != "x":
        raise ValueError(f"block_size: only X-models (conv='x') have expander graphs to build from blocks, "
                         f"got conv={kind!r}")
    return block_size


class LayerSeeds:
    """Distinct, reproducible graph seeds (and the block size) for the X-layers of one model.

    The i-th layer built (in construction order) gets ``seed * 10007 + i``, so every X-layer has
    its own graph and the same model seed rebuilds the same model.  With ``block_size=b`` the
    X-layers get block expanders (faster on CPU, see README "Backends"): each layer uses blocks of
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


def conv(kind, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=False, *, compression=1,
         degree=None, seeds: LayerSeeds | None = None, groups=1):
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
    return xnn.conv(kind, in_channels, out_channels, kernel_size, stride, padding, bias,
                    compression=compression, degree=degree, seed=seed, groups=groups, block_size=block)


def linear(kind, in_features, out_features, bias=True, *, compression=1, degree=None, seeds: LayerSeeds | None = None):
    """``xnet.nn.linear`` with a fresh seed from ``seeds`` (G has no linear form: dense)."""
    seed = seeds() if seeds is not None else None
    if kind == "x" and degree is None and compression != 1:
        degree = max(1, in_features // compression)
    if kind != "x" or degree is None or degree >= in_features:
        return xnn.linear("dense", in_features, out_features, bias)
    block = seeds.block_for(in_features, out_features, degree) if seeds else None
    return xnn.linear("x", in_features, out_features, bias, degree=degree, seed=seed, block_size=block)
