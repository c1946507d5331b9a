"""The published models: every name the paper and the authors' README print, one entry each.

An entry says what its name builds: the family (:data:`xnet.models.registry.FAMILIES`) and the
constructor arguments of the ``paper`` variant, the ``original`` variant's arguments where the
authors trained a different network (``original=``), where the name is printed (``source``) and a
note on its published count (``note``, shown by ``python -m xnet.profile``).  Adding a published
model is one line here; :func:`xnet.models.resolve` looks a name up in this table first and parses
the general forms (:data:`xnet.models.NAME_FORMS`) otherwise, and :func:`xnet.models.list_models`
lists it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .alexnet import ORIGINAL_X_ALEXNET_DEGREES, X_ALEXNET_DEGREES
from .vgg import ORIGINAL_X_VGG16_2_DEGREES

__all__ = ["PublishedModel", "PUBLISHED", "key"]


@dataclass(frozen=True)
class PublishedModel:
    """A published name and what it builds (``kwargs``: the ``paper`` variant's constructor arguments)."""

    name: str
    family: str
    source: str
    kwargs: dict = field(default_factory=dict)
    original: dict | None = None  # the ``original`` variant's arguments where they differ
    note: str = ""  # on its published count

    def kwargs_for(self, variant: str) -> dict:
        return dict(self.kwargs if variant == "paper" or self.original is None else self.original)


def key(name: str) -> str:
    """How names are compared: case, spaces and ``_`` / ``-`` do not matter."""
    return name.strip().lower().replace("_", "-").replace(" ", "")


def _M(name, family, source, *, original=None, note="", **kwargs) -> PublishedModel:
    return PublishedModel(name, family, source, kwargs, original, note)


_TABLE = (
    _M("ResNet-34", "resnet_imagenet", "Table 1", depth=34),
    _M("ResNet-50", "resnet_imagenet", "Table 1", depth=50),
    _M("ResNet-101", "resnet_imagenet", "Table 1", depth=101),
    _M("X-ResNet-2-34", "resnet_imagenet", "Table 1", depth=34, conv="x", compression=2),
    _M("X-ResNet-2-50", "resnet_imagenet", "Table 1", depth=50, conv="x", compression=2),
    _M("X-ResNet-2-101", "resnet_imagenet", "Table 1", depth=101, conv="x", compression=2),
    _M("DenseNet-BC-121", "densenet_bc_imagenet", "Table 1", depth=121),
    _M(
        "DenseNet-BC-161",
        "densenet_bc_imagenet",
        "Table 1",
        depth=161,
        note="published 110 does not follow 2 x MACs (misprint, see CONVENTIONS.md)",
    ),
    _M("DenseNet-BC-169", "densenet_bc_imagenet", "Table 1", depth=169),
    _M("DenseNet-BC-201", "densenet_bc_imagenet", "Table 1", depth=201),
    _M("X-DenseNet-BC-2-121", "densenet_bc_imagenet", "Table 1", depth=121, conv="x", compression=2),
    _M(
        "X-DenseNet-BC-2-161",
        "densenet_bc_imagenet",
        "Table 1",
        depth=161,
        conv="x",
        compression=2,
        note="published 55 is half of the misprinted dense 110",
    ),
    _M("X-DenseNet-BC-2-169", "densenet_bc_imagenet", "Table 1", depth=169, conv="x", compression=2),
    _M("X-DenseNet-BC-2-201", "densenet_bc_imagenet", "Table 1", depth=201, conv="x", compression=2),
    _M("DenseNet-BC-40-24", "densenet_bc_cifar", "Figure 4", depth=40, growth=24),
    _M("DenseNet-BC-40-36", "densenet_bc_cifar", "Figure 4", depth=40, growth=36),
    _M("DenseNet-BC-40-48", "densenet_bc_cifar", "Figure 4", depth=40, growth=48),
    _M("DenseNet-BC-40-60", "densenet_bc_cifar", "Figure 4, Figure 6", depth=40, growth=60),
    _M("DenseNet-BC-40-100", "densenet_bc_cifar", "Figure 6", depth=40, growth=100),
    _M("DenseNet-BC-40-200", "densenet_bc_cifar", "Figure 6", depth=40, growth=200),
    _M("DenseNet-BC-58-60", "densenet_bc_cifar", "Figure 6", depth=58, growth=60),
    _M("DenseNet-BC-70-60", "densenet_bc_cifar", "Figure 6", depth=70, growth=60),
    _M("DenseNet-BC-100-12", "densenet_bc_cifar", "Figure 4", depth=100, growth=12),
    _M("DenseNet-BC-100-24", "densenet_bc_cifar", "Figure 4", depth=100, growth=24),
    _M(
        "X-DenseNet-BC-40-24-2",
        "densenet_bc_cifar",
        "Figure 4, README",
        depth=40,
        growth=24,
        conv="x",
        compression=2,
        note="published params rounded to 0.1M; original: dense transitions (its logs)",
    ),
    _M(
        "X-DenseNet-BC-40-36-2",
        "densenet_bc_cifar",
        "Figure 4, README",
        depth=40,
        growth=36,
        conv="x",
        compression=2,
        note="original: dense transitions (its logs)",
    ),
    _M("X-DenseNet-BC-40-48-2", "densenet_bc_cifar", "Figure 4, README", depth=40, growth=48, conv="x", compression=2),
    _M(
        "X-DenseNet-BC-40-60-2",
        "densenet_bc_cifar",
        "Figure 4, Figure 6, README",
        depth=40,
        growth=60,
        conv="x",
        compression=2,
    ),
    _M("X-DenseNet-BC-40-100-4", "densenet_bc_cifar", "Figure 6", depth=40, growth=100, conv="x", compression=4),
    _M("X-DenseNet-BC-40-100-8", "densenet_bc_cifar", "Figure 6", depth=40, growth=100, conv="x", compression=8),
    _M("X-DenseNet-BC-40-100-16", "densenet_bc_cifar", "Figure 6", depth=40, growth=100, conv="x", compression=16),
    _M("X-DenseNet-BC-40-200-4", "densenet_bc_cifar", "Figure 6", depth=40, growth=200, conv="x", compression=4),
    _M("X-DenseNet-BC-40-200-10", "densenet_bc_cifar", "Figure 6", depth=40, growth=200, conv="x", compression=10),
    _M("X-DenseNet-BC-40-200-20", "densenet_bc_cifar", "Figure 6", depth=40, growth=200, conv="x", compression=20),
    _M(
        "X-DenseNet-BC-40-200-30",
        "densenet_bc_cifar",
        "Figure 6",
        depth=40,
        growth=200,
        conv="x",
        compression=30,
        note="paper text rounds (0.6B FLOPs)",
    ),
    _M("X-DenseNet-BC-40-200-50", "densenet_bc_cifar", "Figure 6", depth=40, growth=200, conv="x", compression=50),
    _M("X-DenseNet-BC-40-200-80", "densenet_bc_cifar", "Figure 6", depth=40, growth=200, conv="x", compression=80),
    _M("X-DenseNet-BC-58-60-2", "densenet_bc_cifar", "Figure 6", depth=58, growth=60, conv="x", compression=2),
    _M("X-DenseNet-BC-58-60-4", "densenet_bc_cifar", "Figure 6", depth=58, growth=60, conv="x", compression=4),
    _M("X-DenseNet-BC-58-60-8", "densenet_bc_cifar", "Figure 6", depth=58, growth=60, conv="x", compression=8),
    _M("X-DenseNet-BC-58-60-16", "densenet_bc_cifar", "Figure 6", depth=58, growth=60, conv="x", compression=16),
    _M("X-DenseNet-BC-70-60-2", "densenet_bc_cifar", "Figure 6", depth=70, growth=60, conv="x", compression=2),
    _M("X-DenseNet-BC-70-60-4", "densenet_bc_cifar", "Figure 6", depth=70, growth=60, conv="x", compression=4),
    _M("X-DenseNet-BC-70-60-8", "densenet_bc_cifar", "Figure 6", depth=70, growth=60, conv="x", compression=8),
    _M("X-DenseNet-BC-70-60-16", "densenet_bc_cifar", "Figure 6", depth=70, growth=60, conv="x", compression=16),
    _M("XDNetBC-40-24", "densenet_bc_cifar", "Table 4", depth=40, growth=24, conv="x", compression=2),
    _M("XDNetBC-40-36", "densenet_bc_cifar", "Table 4", depth=40, growth=36, conv="x", compression=2),
    _M("XDNetBC-40-48", "densenet_bc_cifar", "Table 4", depth=40, growth=48, conv="x", compression=2),
    _M("XDNetBC-40-60", "densenet_bc_cifar", "Table 4", depth=40, growth=60, conv="x", compression=2),
    _M("VGG", "vgg16_cifar", "Table 4"),
    _M("VGG16", "vgg16_cifar", "Table 2"),
    _M("VGG16-Orig", "vgg16_cifar", "Table 2"),
    _M(
        "X-VGG16-1",
        "vgg16_cifar",
        "Table 2",
        conv="x",
        compression=9,
        note="paper: compression 9 chosen to hit the total; original: no log (CONVENTIONS.md)",
    ),
    _M(
        "X-VGG16-2",
        "vgg16_cifar",
        "Table 2",
        conv="x",
        compression=13,
        original=dict(conv="x", degrees=ORIGINAL_X_VGG16_2_DEGREES),
        note="paper: compression 13 chosen to hit the total; original: the logged expandcfg 'D'",
    ),
    _M("X-VGG-1", "vgg16_cifar", "Table 4", conv="x", compression=9),
    _M(
        "X-VGG-2",
        "vgg16_cifar",
        "Table 4",
        conv="x",
        compression=13,
        original=dict(conv="x", degrees=ORIGINAL_X_VGG16_2_DEGREES),
    ),
    _M("AlexNet", "alexnet_imagenet", "Table 3"),
    _M("AlexNet-Orig", "alexnet_imagenet", "Table 3"),
    _M(
        "X-AlexNet-1",
        "alexnet_imagenet",
        "Table 3",
        conv="x",
        degrees=X_ALEXNET_DEGREES[1],
        original=dict(conv="x", degrees=ORIGINAL_X_ALEXNET_DEGREES),
        note="paper: fc degrees (768, 384, 384) chosen to hit the total; original: released code",
    ),
    _M(
        "X-AlexNet-2",
        "alexnet_imagenet",
        "Table 3",
        conv="x",
        degrees=X_ALEXNET_DEGREES[2],
        original=dict(conv="x", degrees=ORIGINAL_X_ALEXNET_DEGREES),
        note="paper: fc degrees (1152, 512, 512) chosen to hit the total; original: released code",
    ),
    _M("G-MobileNet-0.5-2", "mobilenet05_imagenet", "Table 5", conv="g", compression=2),
    _M("G-MobileNet-0.5-4", "mobilenet05_imagenet", "Table 5", conv="g", compression=4),
    _M("G-MobileNet-0.5-8", "mobilenet05_imagenet", "Table 5", conv="g", compression=8),
    _M("G-MobileNet-0.5-16", "mobilenet05_imagenet", "Table 5", conv="g", compression=16),
    _M(
        "MobileNet-0.5",
        "mobilenet05_imagenet",
        "Table 5",
        note="original: 32-channel stem, 32 -> 32 first and 512 -> 1024 last pointwise",
    ),
    _M("X-Mobilenet0.5-2", "mobilenet05_imagenet", "README", conv="x", compression=2),
    _M("X-Mobilenet0.5-4", "mobilenet05_imagenet", "README", conv="x", compression=4),
    _M("X-Mobilenet0.5-8", "mobilenet05_imagenet", "README", conv="x", compression=8),
    _M("X-Mobilenet0.5-16", "mobilenet05_imagenet", "README", conv="x", compression=16),
    _M("X-MobileNet-0.5-2", "mobilenet05_imagenet", "Table 5", conv="x", compression=2),
    _M("X-MobileNet-0.5-4", "mobilenet05_imagenet", "Table 5", conv="x", compression=4),
    _M("X-MobileNet-0.5-8", "mobilenet05_imagenet", "Table 5", conv="x", compression=8),
    _M("X-MobileNet-0.5-16", "mobilenet05_imagenet", "Table 5", conv="x", compression=16),
)

PUBLISHED: dict[str, PublishedModel] = {key(m.name): m for m in _TABLE}
assert len(PUBLISHED) == len(_TABLE), "a published name twice"
