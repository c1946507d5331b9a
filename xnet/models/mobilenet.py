"""MobileNet v1 for ImageNet at width 0.5 (Figure 3, Table 5 of the paper).

A 3x3 stem then 13 depthwise-separable blocks (depthwise 3x3, pointwise 1x1, each with BN-ReLU).
X-MobileNet-0.5-C / G-MobileNet-0.5-C compress every pointwise convolution except the first one
(16 -> 32 channels at width 0.5) by C: X-Conv of degree in // C, or a grouped convolution with
C groups.  Depthwise convolutions, the stem and the classifier stay as they are.  Counted at
224x224 this gives 149.5M MACs dense (paper: 150M) and 85.3 / 53.2 / 37.1 / 29.1M for
C = 2 / 4 / 8 / 16 (original README: 85.8 / 53.7 / 37.6 / 29.5M, a constant ~0.5M above).
That is ``variant="paper"``, the standard MobileNet-0.5 of the text.

``variant="original"`` is the network of the authors' code (code/models/mobilenet.py:20-74) and
log (mobilenet_imagenet_reproduction_0.5.txt): the width multiplier spares the stem (32
channels, BN-ReLU), the first block (depthwise on 32, pointwise 32 -> 32) and the last pointwise
output (512 -> 1024, classifier 1024 -> classes); the blocks use ReLU6 (mobilenet.py:51, 54).
Its X-Conv has degree out // C with the authors' graph rule (mobilenet.py:47: every input draws
out // C outputs, density 1/C), its G-Conv groups = C, in blocks 2-13.  Grouped and depthwise
convolutions start from PyTorch 0.3.1's default init, which ignores ``groups``
(:func:`~xnet.models.common.init_authors`).

``stem_stride=1`` keeps the stem at full resolution, as CIFAR ports of ImageNet networks do for
32x32 inputs (four times the MACs; the default 2 is the published network).

``block_size=b`` (the name suffix ``-b<b>``, e.g. ``X-MobileNet-0.5-4-b16``) builds the X-layers
from block expanders of up to b channels at the same density 1/C (degree in // C, each output
drawing its inputs), in either variant: in ``original`` the rest of the authors' network stays,
so the block model differs from the random-graph one in its graphs only.
"""

from __future__ import annotations

from torch import nn

from ..nn.factory import LayerFactory
from .common import (
    check_block_size,
    check_compression,
    check_kind,
    check_variant,
    init_authors,
    scaled,
)

# (output channels at width 1, stride) of the 13 depthwise-separable blocks
BLOCKS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


def _bn_relu(c, relu=nn.ReLU):
    return [nn.BatchNorm2d(c), relu(inplace=True)]


def _channels(width, variant):
    """(stem channels, [(in, out, stride)] of the 13 blocks, classifier inputs) at ``width``."""
    c0 = 32 if variant == "original" else scaled(32, width)  # mobilenet.py:58
    blocks, c = [], c0
    for i, (c_out, stride) in enumerate(BLOCKS):
        if variant == "original" and i == len(BLOCKS) - 1:  # mobilenet.py:31-33: 1024 -> 1024 keeps its output
            blocks.append((c, c_out, stride))
        else:
            blocks.append((c, scaled(c_out, width), stride))
        c = blocks[-1][1]
    return c0, blocks, c


class MobileNetV1(nn.Module):
    """MobileNet v1 at width multiplier ``width`` (0.5 in the paper), pointwise convs dense, X or G."""

    def __init__(
        self,
        num_classes=1000,
        *,
        width=0.5,
        conv="dense",
        compression=1,
        seed=0,
        block_size=None,
        variant="original",
        stem_stride=2,
    ):
        super().__init__()
        kind, compression, self.variant = check_kind(conv), check_compression(compression), check_variant(variant)
        factory = LayerFactory(seed, check_block_size(block_size, kind, variant, original_ok=True))
        original = variant == "original"
        relu = nn.ReLU6 if original else nn.ReLU
        c0, blocks, c_last = _channels(width, variant)
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride: must be 1 or 2, got {stem_stride!r}")
        layers = [nn.Conv2d(3, c0, 3, stem_stride, 1, bias=False), *_bn_relu(c0)]
        for i, (c, c_out, stride) in enumerate(blocks):
            layers += [nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False), *_bn_relu(c, relu)]
            if original and kind == "x" and compression != 1 and i > 0 and block_size is None:
                pw = factory.authors_conv(c, c_out, 1, degree=max(1, c_out // compression))
            else:
                pw_kind, pw_c = (kind, compression) if i > 0 else ("dense", 1)
                pw = factory.conv(pw_kind, c, c_out, 1, compression=pw_c)
            layers += [pw, *_bn_relu(c_out, relu)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_last, num_classes)
        if original:  # mobilenet.py has no init loop: PyTorch 0.3 defaults
            init_authors(self, dense_conv=False, batchnorm="uniform")

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))

    def extra_repr(self):
        return f"variant={self.variant!r}"
