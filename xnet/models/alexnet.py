"""AlexNet for ImageNet (Table 3 of the paper), torchvision's single-tower layout (61.1M parameters).

X-AlexNet (``conv="x"``) replaces the three fully connected layers, where 58.6M of the 61.1M
parameters sit, by X-Linear layers; the five convolutions stay dense.  The paper prints only the
totals, so the per-layer degrees (fc6, fc7, fc8) are chosen to reproduce them:

- **X-AlexNet-1**: degrees (768, 384, 384), i.e. fc6 compressed 12x, fc7 and fc8 ~10.7x:
  7.58M parameters (published 7.6M).
- **X-AlexNet-2**: degrees (1152, 512, 512), i.e. every classifier layer compressed 8x:
  9.81M parameters (published 9.7M).

``compression=C`` instead gives degree = in // C in all three layers.
"""
from __future__ import annotations

from torch import nn

from .common import LayerSeeds, check_block_size, check_compression, check_kind, linear, scaled

X_ALEXNET_DEGREES = {1: (768, 384, 384), 2: (1152, 512, 512)}


class AlexNet(nn.Module):
    """AlexNet, dense or with an X-Linear classifier; adaptive pooling lets small inputs (64x64) run."""

    def __init__(self, num_classes=1000, *, conv="dense", compression=1, degrees=None, width=1.0, dropout=0.5,
                 seed=0, block_size=None):
        super().__init__()
        kind = check_kind(conv, ("dense", "x"))
        compression = check_compression(compression)
        if degrees is not None and len(degrees) != 3:
            raise ValueError(f"degrees: need 3 values (fc6, fc7, fc8), got {len(degrees)}")
        seeds = LayerSeeds(seed, check_block_size(block_size, kind))
        c = [scaled(v, width) for v in (64, 192, 384, 256, 256)]
        self.features = nn.Sequential(
            nn.Conv2d(3, c[0], 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(c[0], c[1], 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[2], c[3], 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[3], c[4], 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        hidden = scaled(4096, width)
        d = degrees or (None, None, None)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), linear(kind, c[4] * 36, hidden, compression=compression, degree=d[0], seeds=seeds),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout), linear(kind, hidden, hidden, compression=compression, degree=d[1], seeds=seeds),
            nn.ReLU(inplace=True),
            linear(kind, hidden, num_classes, compression=compression, degree=d[2], seeds=seeds))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))
