"""ImageNet as an ``ImageFolder`` tree ``DATA_DIR/{train,val}/<class>/<image>``: its transforms and datasets."""

from __future__ import annotations

import torch

from ..errors import UserError
from .augment import SeededTransformDataset
from .catalog import IMAGENET_MEAN, IMAGENET_STD
from .files import check_imagenet_dir

__all__ = ["imagenet_transforms", "imagenet_datasets"]


def imagenet_transforms(train: bool, size: int = 224, augment: bool = True):
    from torchvision import transforms as T

    norm = [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if train and augment:
        return T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), *norm])
    return T.Compose([T.Resize(round(size * 256 / 224)), T.CenterCrop(size), *norm])


def imagenet_datasets(data_dir, train_size: int | None, val_size: int | None, augment: bool, seed: int):
    """``(train, val, num_classes)`` of the ImageFolder tree under ``data_dir`` (the first N images of
    each split where a size is given), each with its seeded transform."""
    from torchvision.datasets import ImageFolder

    root = check_imagenet_dir(data_dir)
    try:
        tr, va = ImageFolder(str(root / "train")), ImageFolder(str(root / "val"))
    except Exception as e:
        raise UserError(f"imagenet: cannot read {root}: {str(e).splitlines()[0]}") from None
    if tr.classes != va.classes:
        raise UserError(f"imagenet: {root}/train and {root}/val have different class folders")
    num_classes = len(tr.classes)
    if train_size is not None:
        tr = torch.utils.data.Subset(tr, range(min(train_size, len(tr))))
    if val_size is not None:
        va = torch.utils.data.Subset(va, range(min(val_size, len(va))))
    train = SeededTransformDataset(tr, imagenet_transforms(True, augment=augment), seed)
    val = SeededTransformDataset(va, imagenet_transforms(False), seed)
    return train, val, num_classes
