"""The datasets xnet trains on, and the paper's dataset each one stands for (torch-free).

=====================  ============  =======  ================  ==========
name                   input         classes  train / val        stands for
=====================  ============  =======  ================  ==========
cifar10                3x32x32       10       50000 / 10000     cifar10
cifar100               3x32x32       100      50000 / 10000     cifar100
imagenet               3x224x224     1000     ImageFolder       imagenet
synthetic-cifar10      3x32x32       10       5000 / 1000       cifar10
synthetic-cifar100     3x32x32       100      10000 / 2000      cifar100
synthetic-imagenet     3x64x64       100      6400 / 1000       imagenet
fashion-mnist          3x32x32       10       60000 / 10000     (stand-in)
=====================  ============  =======  ================  ==========

The name in the first column is the one canonical spelling: it is what ``xnet train --dataset``
takes and what a run record stores; :func:`paper_dataset` maps it to the published dataset it
stands for.  The loaders live in :mod:`xnet.data.loaders`.

``fashion-mnist`` (Xiao et al. 2017) is a *stand-in*: a real dataset that is none of the paper's.
Its 28x28 grey images are zero-padded to 32x32 and repeated on 3 channels, so every network of the
zoo takes them unchanged (the same input for dense, X- and G-models: docs/real-data.md).  A run on
a stand-in stands for the paper's dataset of its model family (CIFAR families: ``cifar10``;
ImageNet families: ``imagenet``), which places it in the tables; every verdict on it says that
the dataset differs (:func:`is_stand_in`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError

__all__ = [
    "DatasetInfo",
    "DATASETS",
    "PAPER_DATASETS",
    "dataset_info",
    "paper_dataset",
    "is_stand_in",
    "is_synthetic",
]

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SYNTH_MEAN, SYNTH_STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
# Fashion-MNIST: mean and std of the 60,000 training images as the networks see them (zero-padded
# to 32x32, in [0, 1]); the unpadded 28x28 images give 0.2860 / 0.3530.  tests/test_fashion.py
# recomputes them from the files where the dataset is installed.
FASHION_MEAN, FASHION_STD = (0.2190,) * 3, (0.3318,) * 3


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    input_size: tuple[int, int, int]
    train_size: int | None  # default size (None: whatever is on disk)
    val_size: int | None
    needs_data_dir: bool
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    style: str  # augmentation style: "cifar" (pad-crop + flip) or "imagenet" (resized crop + flip)
    stands_for: str = ""  # the paper's dataset (cifar10, cifar100, imagenet); "" for a stand-in
    synthetic: bool = False  # generated from a seed (xnet.data.synthetic), no files read


def _synthetic(stands_for, num_classes, input_size, train_size, val_size, style) -> DatasetInfo:
    """``synthetic-<stands_for>``: generated from a seed, no files (:mod:`xnet.data.synthetic`)."""
    return DatasetInfo(
        f"synthetic-{stands_for}", num_classes, input_size, train_size, val_size, False, SYNTH_MEAN, SYNTH_STD, style,
        stands_for, synthetic=True,
    )  # fmt: skip


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo("cifar10", 10, (3, 32, 32), 50000, 10000, True, CIFAR10_MEAN, CIFAR10_STD, "cifar", "cifar10"),
        DatasetInfo("cifar100", 100, (3, 32, 32), 50000, 10000, True, CIFAR100_MEAN, CIFAR100_STD, "cifar", "cifar100"),
        DatasetInfo(
            "imagenet", 1000, (3, 224, 224), None, None, True, IMAGENET_MEAN, IMAGENET_STD, "imagenet", "imagenet"
        ),
        _synthetic("cifar10", 10, (3, 32, 32), 5000, 1000, "cifar"),
        _synthetic("cifar100", 100, (3, 32, 32), 10000, 2000, "cifar"),
        _synthetic("imagenet", 100, (3, 64, 64), 6400, 1000, "imagenet"),
        DatasetInfo("fashion-mnist", 10, (3, 32, 32), 60000, 10000, False, FASHION_MEAN, FASHION_STD, "cifar", ""),
    )
}

PAPER_DATASETS = ("cifar10", "cifar100", "imagenet")


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise UserError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})") from None


def paper_dataset(name: str, family_dataset: str | None = None) -> str:
    """The published dataset a training dataset stands for: ``synthetic-cifar10`` -> ``cifar10``; a
    stand-in (``fashion-mnist``) stands for ``family_dataset``, the paper's dataset of the model family."""
    info = dataset_info(name)
    if info.stands_for:
        return info.stands_for
    if family_dataset not in PAPER_DATASETS:
        raise UserError(f"{name} is a stand-in: it needs the paper dataset of the model family, got {family_dataset!r}")
    return family_dataset


def is_synthetic(name: str) -> bool:
    """A set generated from a seed (``synthetic-*``): no files to read, check or fingerprint."""
    info = DATASETS.get(name)
    return bool(info and info.synthetic)


def is_stand_in(name: str) -> bool:
    """A real dataset that is none of the paper's (its verdicts say so: ``holds on fashion-mnist``)."""
    return not dataset_info(name).stands_for
