"""MobileNet v1 for ImageNet at width 0.5 (Figure 3, Table 5 of the paper).

A 3x3 stem then 13 depthwise-separable blocks (depthwise 3x3, pointwise 1x1, each with BN-ReLU).
X-MobileNet-0.5-C / G-MobileNet-0.5-C compress every pointwise convolution except the first one
(16 -> 32 channels at width 0.5) by C: X-Conv of degree in // C, or a grouped convolution with
C groups.  Depthwise convolutions, the stem and the classifier stay as they are.  Counted at
224x224 this gives 149.5M MACs dense (paper: 150M) and 85.3 / 53.2 / 37.1 / 29.1M for
C = 2 / 4 / 8 / 16 (original README: 85.8 / 53.7 / 37.6 / 29.5M, a constant ~0.5M above).
"""
from __future__ import annotations

from torch import nn

from .common import LayerSeeds, check_block_size, check_compression, check_kind, conv, scaled

# (output channels at width 1, stride) of the 13 depthwise-separable blocks
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def _bn_relu(c):
    return [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]


class MobileNetV1(nn.Module):
    """MobileNet v1 at width multiplier ``width`` (0.5 in the paper), pointwise convs dense, X or G."""

    def __init__(self, num_classes=1000, *, width=0.5, conv="dense", compression=1, seed=0, block_size=None):
        super().__init__()
        kind, compression = check_kind(conv), check_compression(compression)
        seeds = LayerSeeds(seed, check_block_size(block_size, kind))
        c = scaled(32, width)
        layers = [nn.Conv2d(3, c, 3, 2, 1, bias=False), *_bn_relu(c)]
        for i, (c_out, stride) in enumerate(BLOCKS):
            c_out = scaled(c_out, width)
            layers += [nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False), *_bn_relu(c)]
            pw_kind, pw_c = (kind, compression) if i > 0 else ("dense", 1)
            layers += [_conv(pw_kind, c, c_out, pw_c, seeds), *_bn_relu(c_out)]
            c = c_out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


def _conv(kind, c_in, c_out, compression, seeds):
    return conv(kind, c_in, c_out, 1, compression=compression, seeds=seeds)
