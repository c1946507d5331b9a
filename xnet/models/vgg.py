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
degrees and one linear degree) overrides the per-layer choice.  That is ``variant="paper"``.

``variant="original"`` is the authors' network (code/models/vggcifar.py, vggcifar_expander.py and
the logs vgg16_bn_codefinal_test.txt, vgg16expander_64x3_16x9_128_codefinal_test.txt): no dropout
in the classifier (vggcifar.py:22-26), conv1 always dense (vggcifar_expander.py:37), a conv is X
only when its degree is below its input channels (vggcifar_expander.py:43-46), X-layers without
bias and with the authors' graph rule, and the authors' initialisation (vggcifar.py:28-32).
X-VGG16-2 is the logged ``expandcfg['D']`` (:data:`ORIGINAL_X_VGG16_2_DEGREES`).
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

CFG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
# vggcifar_expander.py:64 expandcfg['D'] (conv2-13, conv1 hard-coded dense) and :17 ExpanderLinear degree 128;
# the log vgg16expander_64x3_16x9_128_codefinal_test.txt: 3 dense convs, 10 X-convs, one X-Linear.
ORIGINAL_X_VGG16_2_DEGREES = (None, 64, 64, 64, 16, 16, 16, 16, 16, 16, 16, 16, 16, 128)


class VGGCifar(nn.Module):
    """VGG16-BN for 32x32 inputs, dense or X (see module docstring)."""

    def __init__(
        self,
        num_classes=10,
        *,
        conv="dense",
        compression=1,
        degrees=None,
        width=1.0,
        hidden=512,
        dropout=None,
        seed=0,
        block_size=None,
        variant="original",
    ):
        super().__init__()
        kind, self.variant = check_kind(conv, ("dense", "x")), check_variant(variant)
        compression = check_compression(compression)
        factory = LayerFactory(seed, check_block_size(block_size, kind, variant))
        original = variant == "original"
        if dropout is None:
            dropout = 0.0 if original else 0.5
        n_convs = sum(1 for v in CFG16 if v != "M")
        if degrees is not None and len(degrees) != n_convs + 1:
            raise ValueError(
                f"degrees: need {n_convs + 1} values (13 convolutions and the hidden linear), got {len(degrees)}"
            )
        layers, c_in, i = [], 3, 0
        for v in CFG16:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            c_out = scaled(v, width)
            degree = None if degrees is None else degrees[i]
            make = _original_conv if original else _conv
            layers += [
                make(kind, c_in, c_out, compression, degree, i == 0, factory),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in, i = c_out, i + 1
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        h = scaled(hidden, width)
        degree = None if degrees is None else degrees[-1]
        if original and kind == "x":
            degree = degree if degree is not None else (c_in // compression if compression != 1 else None)
        if original and kind == "x" and degree is not None and degree < c_in:
            hidden_layer = factory.authors_linear(c_in, h, degree=degree)
        else:
            hidden_layer = factory.linear(kind, c_in, h, compression=compression, degree=degree)
        drop = (lambda: [nn.Dropout(dropout)]) if dropout else (lambda: [])
        self.classifier = nn.Sequential(
            *drop(), hidden_layer, nn.ReLU(inplace=True), *drop(), factory.linear("dense", h, num_classes)
        )
        if original:
            init_authors(self, dense_conv=True, batchnorm="uniform")

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))

    def extra_repr(self):
        return f"variant={self.variant!r}"


def _conv(kind, c_in, c_out, compression, degree, first, factory: LayerFactory):
    if first and degree is None:
        kind = "dense"
    return factory.conv(kind, c_in, c_out, 3, padding=1, bias=True, compression=compression, degree=degree)


def _original_conv(kind, c_in, c_out, compression, degree, first, factory: LayerFactory):
    """vggcifar_expander.py:37-46: conv1 dense; X (no bias, authors' graph) when the degree is below c_in."""
    if kind == "x" and not first and degree is None and compression != 1:
        degree = max(1, c_in // compression)
    if kind == "x" and not first and degree is not None and degree < c_in:
        return factory.authors_conv(c_in, c_out, 3, padding=1, degree=degree)
    factory()  # one seed per layer in either case, as in the paper variant
    return nn.Conv2d(c_in, c_out, 3, padding=1, bias=True)
