"""ResNet for ImageNet (Table 1 of the paper), torchvision's layout (v1.5: stride in the 3x3).

X-ResNet-C-D (``conv="x", compression=C``) compresses every convolution inside the residual
blocks by C (degree = in // C); the stem, the shortcut (downsample) 1x1 convolutions and the
classifier stay dense, as in the original X-ResNets (resnetexpander_imagenet.py:20-23, 63-68, 125-129).
``variant="original"`` draws those X-layers with the authors' rule and without bias
(:meth:`~xnet.nn.factory.LayerFactory.authors_conv`; e.g. a bottleneck's conv3, 64 -> 256 at C = 2, keeps
1/8 of the connections) and initialises as resnetexpander_imagenet.py:114-120 (BN weight 1).
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

DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in, planes, stride, downsample, make_conv):
        super().__init__()
        self.conv1, self.bn1 = make_conv(c_in, planes, 3, stride, 1), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = make_conv(planes, planes, 3, 1, 1), nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in, planes, stride, downsample, make_conv):
        super().__init__()
        self.conv1, self.bn1 = make_conv(c_in, planes, 1, 1, 0), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = make_conv(planes, planes, 3, stride, 1), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = make_conv(planes, planes * 4, 1, 1, 0), nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(nn.Module):
    """ResNet-``depth`` (18/34/50/101/152), dense, X or G in the residual blocks."""

    def __init__(
        self,
        depth=50,
        num_classes=1000,
        *,
        conv="dense",
        compression=1,
        width=1.0,
        seed=0,
        block_size=None,
        variant="original",
    ):
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"depth: must be one of {sorted(DEPTHS)}, got {depth!r}")
        kind, compression, self.variant = check_kind(conv), check_compression(compression), check_variant(variant)
        factory = LayerFactory(seed, check_block_size(block_size, kind, variant))
        block_type, counts = DEPTHS[depth]
        block = BasicBlock if block_type == "basic" else Bottleneck

        def make_conv(c_in, c_out, k, stride, padding):
            if variant == "original" and kind == "x" and compression != 1:
                return factory.authors_conv(c_in, c_out, k, stride, padding, degree=max(1, c_in // compression))
            return factory.conv(kind, c_in, c_out, k, stride, padding, compression=compression)

        c = scaled(64, width)
        self.conv1 = nn.Conv2d(3, c, 7, 2, 3, bias=False)
        self.bn1, self.relu, self.maxpool = nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)
        stages = []
        for i, n in enumerate(counts):
            planes, stride = scaled(64 * 2**i, width), 1 if i == 0 else 2
            blocks = []
            for j in range(n):
                s = stride if j == 0 else 1
                down = None
                if j == 0 and (s != 1 or c != planes * block.expansion):
                    down = nn.Sequential(
                        nn.Conv2d(c, planes * block.expansion, 1, s, bias=False),
                        nn.BatchNorm2d(planes * block.expansion),
                    )
                blocks.append(block(c, planes, s, down, make_conv))
                c = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        if variant == "original":  # resnetexpander_imagenet.py:114-120, expandergraphlayer.py:135
            init_authors(self, dense_conv=True, batchnorm="ones")
        else:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))

    def extra_repr(self):
        return f"variant={self.variant!r}"
