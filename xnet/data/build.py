"""``build_datasets``: the training and validation datasets of a run, from a dataset's name.

The names, shapes, class counts and default sizes are in :mod:`xnet.data.catalog`; where the files
are in :mod:`xnet.data.files`; one module reads each dataset (:mod:`~xnet.data.synthetic`,
:mod:`~xnet.data.cifar`, :mod:`~xnet.data.fashion`, :mod:`~xnet.data.imagenet`) and
:mod:`xnet.data.augment` wraps them with seeded augmentation.
"""

from __future__ import annotations

import math

from ..errors import UserError
from .augment import TensorImageDataset
from .catalog import DatasetInfo, is_synthetic
from .cifar import ensure_cifar, read_cifar
from .fashion import ensure_fashion, read_fashion
from .files import check_data, fashion_dir
from .imagenet import imagenet_datasets
from .synthetic import synthetic_tensors

__all__ = ["build_datasets", "available_memory"]


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``), None where it cannot be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _check_fits(label: str, n: int | None, info: DatasetInfo) -> None:
    """A synthetic set of ``n`` images is generated in memory: refuse one that cannot fit (twice its uint8
    size, the concatenation's copy) before the OOM killer ends the run without a word."""
    if n is None:
        return
    need = 2 * n * math.prod(info.input_size)
    have = available_memory()
    if have is not None and need > have:
        raise UserError(
            f"{label}: {n:,} synthetic {'x'.join(map(str, info.input_size))} images need about "
            f"{need / 2**30:.1f} GiB of memory, {have / 2**30:.1f} GiB are available; "
            f"use a smaller --{label.replace('_', '-')}"
        )


def build_datasets(
    name: str,
    data_dir=None,
    *,
    train_size: int | None = None,
    val_size: int | None = None,
    augment: bool = True,
    seed: int = 0,
    download: bool = True,
):
    """``(train_dataset, val_dataset, info)``; both datasets have ``set_epoch``.

    ``train_size`` / ``val_size``: use only the first N samples (synthetic sets: generate N).
    """
    info = check_data(name, data_dir, download)
    for label, n in (("train_size", train_size), ("val_size", val_size)):
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise UserError(f"{label}: must be a positive integer, got {n!r}")
    if name == "imagenet":
        train, val, num_classes = imagenet_datasets(data_dir, train_size, val_size, augment, seed)
        return train, val, DatasetInfo(**{**info.__dict__, "num_classes": num_classes})
    if is_synthetic(name):
        for label, n in (("train_size", train_size), ("val_size", val_size)):
            _check_fits(label, n, info)
        ti, tl = synthetic_tensors(name, "train", train_size or info.train_size)
        vi, vl = synthetic_tensors(name, "val", val_size or info.val_size)
    elif name == "fashion-mnist":
        root = fashion_dir(data_dir)
        ensure_fashion(root, download)
        ti, tl = read_fashion(root, "train")
        vi, vl = read_fashion(root, "val")
        ti, tl = ti[:train_size], tl[:train_size]
        vi, vl = vi[:val_size], vl[:val_size]
    else:
        ensure_cifar(data_dir, name, download)
        ti, tl = read_cifar(data_dir, name, "train")
        vi, vl = read_cifar(data_dir, name, "val")
        ti, tl = ti[:train_size], tl[:train_size]
        vi, vl = vi[:val_size], vl[:val_size]
        if int(max(tl.max(), vl.max())) >= info.num_classes:
            raise UserError(f"{name}: labels out of range 0..{info.num_classes - 1} in {data_dir}")
    style = info.style if augment else None
    train = TensorImageDataset(ti, tl, info.mean, info.std, augment=style, seed=seed)
    val = TensorImageDataset(vi, vl, info.mean, info.std, augment=None, seed=seed)
    return train, val, info
