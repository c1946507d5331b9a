"""DenseNet-BC for CIFAR (Figures 4 and 6, Table 4) and ImageNet (Table 1), one dense layer for both.

A dense layer is BN-ReLU-Conv1x1 (to ``bn_size * growth``) then BN-ReLU-Conv3x3 (to ``growth``);
a transition is BN-ReLU-Conv1x1 (to ``floor(reduction * channels)``) then 2x2 average pooling.

Which convolutions the X-versions compress (by C, degree = in // C) follows the original models:

- CIFAR X-DenseNet-BC-depth-growth-C: every convolution of the dense layers; the stem stays
  dense.  ``variant="paper"`` compresses the transitions too (the counted MACs then match the
  original README's 1.44 / 3.24 / 5.75 / 8.98 e8).  ``variant="original"`` follows each training
  log: transitions dense for 40-24, 40-36, every 58-60 and 70-60-16, X otherwise
  (:data:`DENSE_TRANSITION_RUNS`, see xnet/published/CONVENTIONS.md).
- ImageNet X-DenseNet-BC-C-depth: the two convolutions of each dense layer; stem, transitions
  and classifier stay dense (densenetexpander_imagenet.py:82-87, 110-111).

``variant="original"`` also uses the authors' graph rule and X-layers without bias
(:meth:`~xnet.nn.factory.LayerFactory.authors_conv`) and their initialisation
(densenet_cifar.py:101-109 for CIFAR; PyTorch 0.3 defaults for ImageNet).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..nn.factory import LayerFactory
from .common import (
    check_block_size,
    check_compression,
    check_kind,
    check_positive_int,
    check_variant,
    init_authors,
)

IMAGENET = {
    121: (32, (6, 12, 24, 16), 64),
    169: (32, (6, 12, 32, 32), 64),
    201: (32, (6, 12, 48, 32), 64),
    161: (48, (6, 12, 36, 24), 96),
}

# CIFAR X-DenseNet-BC runs whose logs print dense transitions, as (depth, growth) or (depth, growth, C);
# every other logged X-run prints X transitions (xnet/published/original_architectures.json).
DENSE_TRANSITION_RUNS = {(40, 24), (40, 36), (58, 60), (70, 60, 16)}


def original_x_transitions(depth: int, growth: int, compression: int) -> bool:
    """Whether the authors' CIFAR X-DenseNet-BC-depth-growth-C had X transitions (per its log)."""
    return (depth, growth) not in DENSE_TRANSITION_RUNS and (depth, growth, compression) not in DENSE_TRANSITION_RUNS


class DenseLayer(nn.Module):
    """BN-ReLU-Conv1x1-BN-ReLU-Conv3x3, concatenated to its input (torchvision's parameter names)."""

    def __init__(self, c_in, growth, bn_size, make_conv):
        super().__init__()
        self.norm1, self.relu1 = nn.BatchNorm2d(c_in), nn.ReLU(inplace=True)
        self.conv1 = make_conv(c_in, bn_size * growth, 1, 0)
        self.norm2, self.relu2 = nn.BatchNorm2d(bn_size * growth), nn.ReLU(inplace=True)
        self.conv2 = make_conv(bn_size * growth, growth, 3, 1)

    def forward(self, x):
        out = self.conv1(self.relu1(self.norm1(x)))
        out = self.conv2(self.relu2(self.norm2(out)))
        return torch.cat([x, out], 1)


class Transition(nn.Sequential):
    def __init__(self, c_in, c_out, make_conv):
        super().__init__()
        self.norm, self.relu = nn.BatchNorm2d(c_in), nn.ReLU(inplace=True)
        self.conv = make_conv(c_in, c_out, 1, 0)
        self.pool = nn.AvgPool2d(2, 2)


class _DenseNetBC(nn.Module):
    """Stem, dense blocks separated by transitions, BN-ReLU, global average pooling, linear."""

    def _build(self, stem, c, blocks, growth, bn_size, reduction, layer_conv, transition_conv, num_classes):
        check_positive_int("bn_size", bn_size)
        if isinstance(reduction, bool) or not isinstance(reduction, (int, float)) or not 0 < reduction <= 1:
            raise ValueError(f"reduction: must be in (0, 1], got {reduction!r}")
        layers = list(stem)
        for i, n in enumerate(blocks):
            for j in range(n):
                layers.append((f"denseblock{i + 1}_layer{j + 1}", DenseLayer(c, growth, bn_size, layer_conv)))
                c += growth
            if i != len(blocks) - 1:
                c_out = int(c * reduction)
                layers.append((f"transition{i + 1}", Transition(c, c_out, transition_conv)))
                c = c_out
        layers += [("norm5", nn.BatchNorm2d(c)), ("relu5", nn.ReLU(inplace=True))]
        self.features = nn.Sequential(OrderedDict(layers))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)
        self.num_features = c

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))

    def extra_repr(self):
        return f"variant={self.variant!r}"


def _make_conv(kind, compression, factory: LayerFactory, variant):
    """The convolution factory of the dense layers: paper (output-regular X) or authors' X-Conv."""

    def make(c_in, c_out, k, padding):
        if variant == "original" and kind == "x" and compression != 1:
            return factory.authors_conv(c_in, c_out, k, 1, padding, degree=max(1, c_in // compression))
        return factory.conv(kind, c_in, c_out, k, 1, padding, compression=compression)

    return make


class DenseNetBCCifar(_DenseNetBC):
    """DenseNet-BC-depth-growth for 32x32 inputs: three blocks of (depth - 4) / 6 dense layers.

    ``x_transitions``: whether an X-model compresses its two transitions too (None: always in the
    paper variant; per the authors' log in the original one, see :func:`original_x_transitions`).
    """

    def __init__(
        self,
        depth=40,
        growth=24,
        num_classes=10,
        *,
        conv="dense",
        compression=1,
        reduction=0.5,
        bn_size=4,
        x_transitions=None,
        seed=0,
        block_size=None,
        variant="original",
    ):
        super().__init__()
        check_positive_int("growth", growth)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
            raise ValueError(f"depth: DenseNet-BC needs depth = 6n + 4 (n >= 1), got {depth!r}")
        kind, compression, self.variant = check_kind(conv), check_compression(compression), check_variant(variant)
        if x_transitions is None:
            x_transitions = variant == "paper" or original_x_transitions(depth, growth, compression)
        factory = LayerFactory(seed, check_block_size(block_size, kind, variant))
        make_conv = _make_conv(kind, compression, factory, variant)
        transition_conv = make_conv if x_transitions else _make_conv("dense", 1, factory, variant)

        n = (depth - 4) // 6
        c = 2 * growth
        stem = [("conv0", nn.Conv2d(3, c, 3, padding=1, bias=False))]
        self._build(stem, c, (n, n, n), growth, bn_size, reduction, make_conv, transition_conv, num_classes)
        if variant == "original":  # densenet_cifar.py:101-109
            init_authors(self, dense_conv=True, batchnorm="ones", linear_bias_zero=True)


class DenseNetBCImageNet(_DenseNetBC):
    """DenseNet-BC-121/169/201/161 (torchvision's layout); ``growth``/``blocks`` override for tiny variants."""

    def __init__(
        self,
        depth=121,
        num_classes=1000,
        *,
        conv="dense",
        compression=1,
        growth=None,
        blocks=None,
        init_features=None,
        bn_size=4,
        reduction=0.5,
        seed=0,
        block_size=None,
        variant="original",
    ):
        super().__init__()
        if blocks is None and depth not in IMAGENET:
            raise ValueError(f"depth: must be one of {sorted(IMAGENET)} (or give blocks=...), got {depth!r}")
        g0, b0, f0 = IMAGENET.get(depth, (32, None, 64))
        growth, blocks = growth or g0, tuple(blocks or b0)
        init_features = init_features or (f0 if growth == g0 else 2 * growth)
        kind, compression, self.variant = check_kind(conv), check_compression(compression), check_variant(variant)
        factory = LayerFactory(seed, check_block_size(block_size, kind, variant))
        layer_conv = _make_conv(kind, compression, factory, variant)
        transition_conv = _make_conv("dense", 1, factory, variant)

        stem = [
            ("conv0", nn.Conv2d(3, init_features, 7, 2, 3, bias=False)),
            ("norm0", nn.BatchNorm2d(init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(3, 2, 1)),
        ]
        self._build(stem, init_features, blocks, growth, bn_size, reduction, layer_conv, transition_conv, num_classes)
        if variant == "original":  # densenet_imagenet.py has no init loop: PyTorch 0.3 defaults
            init_authors(self, dense_conv=False, batchnorm="uniform")
