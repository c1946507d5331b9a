"""VGG16 with batch norm for CIFAR (Table 2 and Table 4 of the paper).

Features are torchvision's ``vgg16_bn`` layout (13 3x3 convolutions with bias, BN, ReLU, five
max-pools); the classifier is Dropout - Linear(512, 512) - ReLU - Dropout - Linear(512, classes),
which puts the dense model at 15.0M parameters, the published VGG16-Orig figure.

X-VGG16 (``conv="x"``) compresses convolutions 2-13 and the hidden 512 -> 512 linear layer by the
same factor C (degree = in // C); the first convolution (3 input channels) and the output layer
stay dense.  The paper prints only the totals of its two X-VGG16 models, so:

- **X-VGG16-1** = compression 9: 1.66M parameters (published 1.65M, "9x").
- **X-VGG16-2** = compression 13: 1.15M parameters (published 1.15M, "13x").

The ratios 9x and 13x are the compression column of Table 2 itself.  ``degrees`` (13 conv
degrees and one linear degree) overrides the per-layer choice.
"""
from __future__ import annotations

from torch import nn

from .common import LayerSeeds, check_block_size, check_compression, check_kind, conv, linear, scaled

CFG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class VGGCifar(nn.Module):
    """VGG16-BN for 32x32 inputs, dense or X (see module docstring)."""

    def __init__(self, num_classes=10, *, conv="dense", compression=1, degrees=None, width=1.0,
                 hidden=512, dropout=0.5, seed=0, block_size=None):
        super().__init__()
        kind = check_kind(conv, ("dense", "x"))
        compression = check_compression(compression)
        seeds = LayerSeeds(seed, check_block_size(block_size, kind))
        n_convs = sum(1 for v in CFG16 if v != "M")
        if degrees is not None and len(degrees) != n_convs + 1:
            raise ValueError(f"degrees: need {n_convs + 1} values (13 convolutions and the hidden linear), "
                             f"got {len(degrees)}")
        layers, c_in, i = [], 3, 0
        for v in CFG16:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            c_out = scaled(v, width)
            first = i == 0
            layers += [_conv(kind, c_in, c_out, compression, None if degrees is None else degrees[i], first, seeds),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in, i = c_out, i + 1
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        h = scaled(hidden, width)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            linear(kind, c_in, h, compression=compression, degree=None if degrees is None else degrees[-1],
                   seeds=seeds),
            nn.ReLU(inplace=True), nn.Dropout(dropout),
            linear("dense", h, num_classes, seeds=seeds))

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


def _conv(kind, c_in, c_out, compression, degree, first, seeds):
    if first and degree is None:
        kind = "dense"
    return conv(kind, c_in, c_out, 3, padding=1, bias=True, compression=compression, degree=degree, seeds=seeds)
