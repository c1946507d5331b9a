"""AlexNet for ImageNet (Table 3 of the paper), torchvision's single-tower layout (61.1M parameters).

X-AlexNet (``conv="x"``) replaces the three fully connected layers, where 58.6M of the 61.1M
parameters sit, by X-Linear layers; the five convolutions stay dense.  The paper prints only the
totals, so the per-layer degrees (fc6, fc7, fc8) are chosen to reproduce them:

- **X-AlexNet-1**: degrees (768, 384, 384), i.e. fc6 compressed 12x, fc7 and fc8 ~10.7x:
  7.58M parameters (published 7.6M).
- **X-AlexNet-2**: degrees (1152, 512, 512), i.e. every classifier layer compressed 8x:
  9.81M parameters (published 9.7M).

``compression=C`` instead gives degree = in // C in all three layers.  That is ``variant="paper"``.

``variant="original"``: dense AlexNet is the authors' alexnet.py (torchvision's, as above); X-AlexNet
is alexnetexpander1.py (alexnetexpander2.py is the same file): batch norm after every convolution
(:18-33) and after fc6 / fc7 (:40, :44), no dropout (:38, :42 commented out), X-Linear layers
without bias, the authors' graph rule and degrees 256 / 256 / 512 (:39-46,
:data:`ORIGINAL_X_ALEXNET_DEGREES`) for both X-AlexNet-1 and -2 (no log; the released code
matches neither published total, see xnet/published/CONVENTIONS.md).
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

X_ALEXNET_DEGREES = {1: (768, 384, 384), 2: (1152, 512, 512)}
ORIGINAL_X_ALEXNET_DEGREES = (256, 256, 512)  # alexnetexpander1.py:39-46


class AlexNet(nn.Module):
    """AlexNet, dense or with an X-Linear classifier; adaptive pooling lets small inputs (64x64) run."""

    def __init__(
        self,
        num_classes=1000,
        *,
        conv="dense",
        compression=1,
        degrees=None,
        width=1.0,
        dropout=None,
        seed=0,
        block_size=None,
        variant="original",
    ):
        super().__init__()
        kind, self.variant = check_kind(conv, ("dense", "x")), check_variant(variant)
        compression = check_compression(compression)
        if degrees is not None and len(degrees) != 3:
            raise ValueError(f"degrees: need 3 values (fc6, fc7, fc8), got {len(degrees)}")
        factory = LayerFactory(seed, check_block_size(block_size, kind, variant))
        authors_x = variant == "original" and kind == "x"  # alexnetexpander1.py
        if dropout is None:
            dropout = 0.0 if authors_x else 0.5
        c = [scaled(v, width) for v in (64, 192, 384, 256, 256)]

        def conv_block(c_in, c_out, *args, **kwargs):
            bn = [nn.BatchNorm2d(c_out)] if authors_x else []
            return [nn.Conv2d(c_in, c_out, *args, **kwargs), *bn, nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *conv_block(3, c[0], 11, 4, 2),
            nn.MaxPool2d(3, 2),
            *conv_block(c[0], c[1], 5, padding=2),
            nn.MaxPool2d(3, 2),
            *conv_block(c[1], c[2], 3, padding=1),
            *conv_block(c[2], c[3], 3, padding=1),
            *conv_block(c[3], c[4], 3, padding=1),
            nn.MaxPool2d(3, 2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        hidden = scaled(4096, width)
        d = degrees or (None, None, None)

        def fc(c_in, c_out, degree):
            if authors_x:
                degree = degree or (c_in // compression if compression != 1 else None)
                if degree is not None and degree < c_in:
                    return factory.authors_linear(c_in, c_out, degree=degree)
            return factory.linear(kind, c_in, c_out, compression=compression, degree=degree)

        def hidden_block(c_in, degree):
            drop = [nn.Dropout(dropout)] if dropout else []
            bn = [nn.BatchNorm1d(hidden)] if authors_x else []
            return [*drop, fc(c_in, hidden, degree), *bn, nn.ReLU(inplace=True)]

        self.classifier = nn.Sequential(
            *hidden_block(c[4] * 36, d[0]), *hidden_block(hidden, d[1]), fc(hidden, num_classes, d[2])
        )
        if authors_x:  # no init loop in alexnetexpander1.py: PyTorch 0.3 defaults (BN weight uniform)
            init_authors(self, dense_conv=False, batchnorm="uniform")

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))

    def extra_repr(self):
        return f"variant={self.variant!r}"
