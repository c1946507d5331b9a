"""Model registry: published names and the structured form, both resolved to a :class:`ModelSpec`.

``create("X-DenseNet-BC-40-24-2")`` and ``create("densenet_bc_cifar", depth=40, growth=24,
conv="x", compression=2)`` build the same model.  Names are matched case-insensitively.

Every name builds in two variants: ``variant="original"`` (the default), the network the authors
trained (their released code and training logs), and ``variant="paper"``, the network the text
and the published count columns describe.  xnet/published/CONVENTIONS.md lists every difference
and every decision taken where the code and logs are silent.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from torch import nn

from ..names import CONV_KINDS, must_be
from .alexnet import AlexNet
from .common import check_variant
from .densenet import IMAGENET as DENSENET_IMAGENET
from .densenet import DenseNetBCCifar, DenseNetBCImageNet
from .mobilenet import MobileNetV1
from .resnet import DEPTHS as RESNET_DEPTHS
from .resnet import ResNet
from .vgg import VGGCifar
from .zoo import PUBLISHED, key


@dataclass(frozen=True)
class Family:
    name: str
    cls: type
    default_dataset: str
    input_size: tuple
    defaults: dict
    doc: str


FAMILIES = {
    f.name: f
    for f in (
        Family("vgg16_cifar", VGGCifar, "cifar10", (3, 32, 32), {}, "VGG16-BN for CIFAR (Table 2, 4)"),
        Family("alexnet_imagenet", AlexNet, "imagenet", (3, 224, 224), {}, "AlexNet, X-Linear classifier (Table 3)"),
        Family("resnet_imagenet", ResNet, "imagenet", (3, 224, 224), {"depth": 50}, "ResNet-18..152 (Table 1)"),
        Family(
            "densenet_bc_cifar",
            DenseNetBCCifar,
            "cifar10",
            (3, 32, 32),
            {"depth": 40, "growth": 24},
            "DenseNet-BC-depth-growth for CIFAR (Figures 4, 6; Table 4)",
        ),
        Family(
            "densenet_bc_imagenet",
            DenseNetBCImageNet,
            "imagenet",
            (3, 224, 224),
            {"depth": 121},
            "DenseNet-BC-121/169/201/161 (Table 1)",
        ),
        Family(
            "mobilenet05_imagenet",
            MobileNetV1,
            "imagenet",
            (3, 224, 224),
            {"width": 0.5},
            "MobileNet v1, width 0.5, X/G pointwise (Figure 3, Table 5)",
        ),
    )
}

NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet": 1000}

NAME_FORMS = (
    "ResNet-<depth>, X-ResNet-<C>-<depth>, G-ResNet-<C>-<depth>  (depth 18/34/50/101/152)",
    "DenseNet-BC-<depth>, X-DenseNet-BC-<C>-<depth>  (ImageNet, depth 121/169/201/161)",
    "DenseNet-BC-<depth>-<growth>, X-DenseNet-BC-<depth>-<growth>-<C>, XDNetBC-<depth>-<growth> (CIFAR, C=2)",
    "VGG16-Orig, VGG16, VGG, X-VGG16-1, X-VGG16-2, X-VGG-1, X-VGG-2",
    "AlexNet-Orig, AlexNet, X-AlexNet-1, X-AlexNet-2",
    "MobileNet-0.5, X-MobileNet-0.5-<C>, G-MobileNet-0.5-<C> (also X-Mobilenet0.5-<C>)",
    "any X-model name + -b<size>: its X-layers from block expanders (X-MobileNet-0.5-4-b16)",
    "or a family name with keyword overrides: " + ", ".join(FAMILIES),
)


# Depth named by a family that has no depth argument (VGG16); widths of families without one are 1.
_NOMINAL_DEPTH = {"vgg16_cifar": 16}


@dataclass(frozen=True)
class ModelSpec:
    """What to build: ``family`` (a recipe family of recipes.csv), constructor ``kwargs``, the
    ``variant`` ("original" or "paper"), the paper's dataset (``default_dataset``) and input size
    ``(C, H, W)``.  :meth:`facts` gives the model facts a run record stores."""

    name: str
    family: str
    kwargs: dict = field(default_factory=dict)
    default_dataset: str = "imagenet"
    input_size: tuple = (3, 224, 224)
    variant: str = "original"

    @property
    def conv(self) -> str:
        """Kind of the compressed layers: "dense", "x" or "g"."""
        return self.kwargs.get("conv", "dense")

    @property
    def compression(self) -> int | None:
        """C of the name (1 for dense); None where explicit per-layer ``degrees`` define the model."""
        if self.conv == "dense":
            return 1
        return None if self.kwargs.get("degrees") is not None else self.kwargs.get("compression", 1)

    @property
    def depth(self) -> int | None:
        return self.kwargs.get("depth", _NOMINAL_DEPTH.get(self.family))

    @property
    def growth(self) -> int | None:
        g = self.kwargs.get("growth")
        if g is None and self.family == "densenet_bc_imagenet" and self.depth in DENSENET_IMAGENET:
            g = DENSENET_IMAGENET[self.depth][0]
        return g

    @property
    def width(self) -> float:
        return float(self.kwargs.get("width", 1.0))

    def facts(self, dataset: str | None = None) -> dict:
        """Plain (JSON-ready, torch-free) facts of the model: name, family, variant, conv, compression,
        depth, growth, width, dataset (``dataset`` or the paper's), input_size."""
        return {
            "name": self.name,
            "family": self.family,
            "variant": self.variant,
            "conv": self.conv,
            "compression": self.compression,
            "depth": self.depth,
            "growth": self.growth,
            "width": self.width,
            "dataset": dataset or self.default_dataset,
            "input_size": list(self.input_size),
        }

    def build(self, num_classes=None, seed=0) -> nn.Module:
        if num_classes is None:
            num_classes = NUM_CLASSES[self.default_dataset]
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes: must be a positive integer, got {num_classes!r}")
        return FAMILIES[self.family].cls(num_classes=num_classes, seed=seed, variant=self.variant, **self.kwargs)


def _int(s):
    return int(s)


def _parse(name: str, variant: str):
    """Return (family, kwargs) for a model name in ``variant``, or None: a published name from the
    table of :mod:`xnet.models.zoo`, else one of the general forms of :data:`NAME_FORMS`.

    An X-model name with the suffix ``-b<size>`` (``X-MobileNet-0.5-4-b16``) is that model with its
    X-layers built from block expanders of up to ``size`` channels (the ``block_size`` argument)."""
    n = key(name)
    if (m := re.fullmatch(r"(x.+)-b(\d+)", n)) and (parsed := _parse(m[1], variant)) is not None:
        return parsed[0], {**parsed[1], "block_size": _int(m[2])}
    if (published := PUBLISHED.get(n)) is not None:
        return published.family, published.kwargs_for(variant)
    return _general_form(name, n)


def _general_form(name: str, n: str):
    """(family, kwargs) of the general form that ``n`` (``name`` normalised by :func:`key`) follows, or None."""
    if m := re.fullmatch(r"resnet-?(\d+)", n):
        return "resnet_imagenet", {"depth": _int(m[1])}
    if m := re.fullmatch(r"([xg])-resnet-(\d+)-(\d+)", n):
        return "resnet_imagenet", {"depth": _int(m[3]), "conv": m[1], "compression": _int(m[2])}
    if m := re.fullmatch(r"densenet-bc-(\d+)", n):
        return "densenet_bc_imagenet", {"depth": _int(m[1])}
    if m := re.fullmatch(r"densenet-bc-(\d+)-(\d+)", n):
        return "densenet_bc_cifar", {"depth": _int(m[1]), "growth": _int(m[2])}
    if m := re.fullmatch(r"([xg])-densenet-bc-(\d+)-(\d+)", n):
        if _int(m[3]) not in DENSENET_IMAGENET:
            raise ValueError(
                f"{name!r}: X-DenseNet-BC-<C>-<depth> is the ImageNet form (depth "
                f"{sorted(DENSENET_IMAGENET)}); for CIFAR write X-DenseNet-BC-<depth>-<growth>-<C>"
            )
        return "densenet_bc_imagenet", {"depth": _int(m[3]), "conv": m[1], "compression": _int(m[2])}
    if m := re.fullmatch(r"([xg])-densenet-bc-(\d+)-(\d+)-(\d+)", n):
        return "densenet_bc_cifar", {"depth": _int(m[2]), "growth": _int(m[3]), "conv": m[1], "compression": _int(m[4])}
    if m := re.fullmatch(r"xdnetbc-(\d+)-(\d+)", n):
        return "densenet_bc_cifar", {"depth": _int(m[1]), "growth": _int(m[2]), "conv": "x", "compression": 2}
    if re.fullmatch(r"vgg(16)?(-bn)?(-orig)?", n):
        return "vgg16_cifar", {}
    if re.fullmatch(r"alexnet(-orig)?", n):
        return "alexnet_imagenet", {}
    if m := re.fullmatch(r"x-(vgg16|vgg|alexnet)-(\d+)", n):  # X-VGG16-1 / -2, X-AlexNet-1 / -2: in the table
        label, family = ("X-VGG16", "vgg16_cifar") if m[1].startswith("vgg") else ("X-AlexNet", "alexnet_imagenet")
        raise ValueError(
            f"{name!r}: the paper has {label}-1 and {label}-2 only; use "
            f"create('{family}', conv='x', compression=C) for others"
        )
    if re.fullmatch(r"mobilenet-?0\.5", n):
        return "mobilenet05_imagenet", {}
    if m := re.fullmatch(r"([xg])-mobilenet-?0\.5-(\d+)", n):
        return "mobilenet05_imagenet", {"conv": m[1], "compression": _int(m[2])}
    return None


def _check_kwargs(family: Family, kwargs: dict) -> None:
    params = inspect.signature(family.cls).parameters
    allowed = [p for p in params if p not in ("self", "num_classes", "seed", "variant")]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"{family.name}: unknown argument(s) {', '.join(unknown)}; accepted: {', '.join(allowed)}")
    if "depth" in kwargs:
        d = kwargs["depth"]
        if family.name == "resnet_imagenet" and d not in RESNET_DEPTHS:
            raise ValueError(f"depth: ResNet depth must be one of {sorted(RESNET_DEPTHS)}, got {d!r}")
        if family.name == "densenet_bc_imagenet" and d not in DENSENET_IMAGENET and "blocks" not in kwargs:
            raise ValueError(f"depth: ImageNet DenseNet-BC depth must be one of {sorted(DENSENET_IMAGENET)}, got {d!r}")
        if family.name == "densenet_bc_cifar" and (not isinstance(d, int) or d < 10 or (d - 4) % 6):
            raise ValueError(f"depth: CIFAR DenseNet-BC depth must be 6n + 4 (n >= 1), got {d!r}")
    c = kwargs.get("compression", 1)
    if isinstance(c, bool) or not isinstance(c, int) or c < 1:
        raise ValueError(f"compression: must be an integer >= 1, got {c!r}")
    if kwargs.get("conv", "dense") not in ("dense", "x", "g"):
        raise ValueError(must_be("conv", kwargs["conv"], CONV_KINDS))


def resolve(name: str, variant: str = "original", **overrides) -> ModelSpec:
    """Resolve a published model name (or a family name) plus keyword overrides to a ModelSpec.

    ``variant``: "original" (default, the network the authors trained) or "paper" (the network of
    the text and the published count columns).  Raises ``ValueError`` listing the accepted forms
    for an unknown or malformed name.
    """
    if not isinstance(name, str):
        raise ValueError(f"name: must be a string, got {type(name).__name__}")
    check_variant(variant)
    key = name.strip().lower()
    if key in FAMILIES:
        family, kwargs = key, {}
    else:
        parsed = _parse(name, variant)
        if parsed is None:
            raise ValueError(f"unknown model {name!r}; accepted names:\n  " + "\n  ".join(NAME_FORMS))
        family, kwargs = parsed
    fam = FAMILIES[family]
    kwargs = {**fam.defaults, **kwargs, **overrides}
    _check_kwargs(fam, kwargs)
    return ModelSpec(
        name=name,
        family=family,
        kwargs=kwargs,
        default_dataset=fam.default_dataset,
        input_size=fam.input_size,
        variant=variant,
    )


def create(
    name: str, num_classes: int | None = None, seed: int = 0, variant: str = "original", **overrides
) -> nn.Module:
    """Build a model by published name or family name (see :func:`resolve`).

    ``num_classes`` defaults to the paper's dataset (10 for CIFAR families, 1000 for ImageNet);
    ``seed`` seeds the expander graphs (X-layer i gets ``seed * 10007 + i``), not the weights;
    ``variant`` is "original" (default: the network the authors trained) or "paper".
    """
    return resolve(name, variant=variant, **overrides).build(num_classes=num_classes, seed=seed)


def _natural(name: str) -> list:
    """Sort key: numbers by value (``X-DenseNet-BC-40-24-2`` before ``X-DenseNet-BC-40-100-4``), case ignored."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name.lower())]


def list_models(pattern: str | Iterable[str] | None = None) -> list[str]:
    """Every published name (:mod:`xnet.models.zoo`) and every family name (:data:`FAMILIES`, the
    structured form's first argument), sorted; with ``pattern`` (an ``fnmatch`` pattern, or several),
    only the names that match one, case ignored: ``list_models("X-MobileNet*")``.

    Every listed name builds with :func:`create`; the general forms (``X-ResNet-4-50``, a ``-b16``
    suffix) build too without being listed.
    """
    names = [m.name for m in PUBLISHED.values()] + list(FAMILIES)
    if pattern is not None:
        patterns = [pattern] if isinstance(pattern, str) else list(pattern)
        names = [n for n in names if any(fnmatch.fnmatchcase(n.lower(), p.lower()) for p in patterns)]
    return sorted(names, key=_natural)
