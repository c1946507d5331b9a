"""Which files each dataset reads, where they are, and the cheap checks that they are there (torch-free).

- CIFAR-10/100: the python pickles of https://www.cs.toronto.edu/~kriz/cifar.html under
  ``DATA_DIR/cifar-10-batches-py/`` or ``DATA_DIR/cifar-100-python/`` (:data:`CIFAR_FILES`).
- Fashion-MNIST: the four IDX files (gzipped or not) flat in a directory, as Debian's
  ``dataset-fashion-mnist`` lays them, or under torchvision's ``FashionMNIST/raw/``
  (:data:`FASHION_FILES`, :func:`fashion_dir`).
- ImageNet: an ``ImageFolder`` tree ``DATA_DIR/{train,val}/<class>/<image>``.
- The ``synthetic-*`` sets are generated: they read no file.

The readers (:mod:`xnet.data.cifar`, :mod:`xnet.data.fashion`, :mod:`xnet.data.imagenet`) and
:func:`xnet.data.fingerprint` find the files here, so a missing one is named the same way by all.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .catalog import DatasetInfo, dataset_info

__all__ = [
    "CIFAR_FILES",
    "FASHION_FILES",
    "FASHION_DEBIAN_DIR",
    "FASHION_DOWNLOAD_DIR",
    "fashion_dir",
    "find_idx",
    "missing_fashion",
    "check_imagenet_dir",
    "check_data",
]

# name -> (folder under DATA_DIR, training files, validation files, the labels' key in each pickle)
CIFAR_FILES = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], b"fine_labels"),
}

FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "val": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),  # the official 10,000 test images
}
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist
FASHION_DOWNLOAD_DIR = Path("data/fashion-mnist")  # torchvision downloads here without --data-dir


def fashion_dir(data_dir=None) -> Path:
    """Where Fashion-MNIST is read from: ``data_dir`` if given, else Debian's package directory if it
    is installed, else ``data/fashion-mnist`` (downloaded there by torchvision on first use)."""
    if data_dir is not None:
        return Path(data_dir)
    return FASHION_DEBIAN_DIR if FASHION_DEBIAN_DIR.is_dir() else FASHION_DOWNLOAD_DIR


def find_idx(root: Path, stem: str) -> Path | None:
    """``stem`` or ``stem.gz`` in ``root`` or in torchvision's ``root/FashionMNIST/raw``."""
    for folder in (root, root / "FashionMNIST" / "raw"):
        for name in (f"{stem}.gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def missing_fashion(root: Path) -> str | None:
    """The first of the four Fashion-MNIST files that ``root`` lacks (None: all there)."""
    return next((s for pair in FASHION_FILES.values() for s in pair if find_idx(root, s) is None), None)


def missing_fashion_message(root: Path, missing: str) -> str:
    return f"fashion-mnist: missing file {missing}[.gz] in {root} (drop --no-download to download it)"


def cifar_not_found_message(name: str, data_dir) -> str:
    return (
        f"{name}: not found in data directory {data_dir} (expected {CIFAR_FILES[name][0]}/; "
        "drop --no-download to download it)"
    )


def check_imagenet_dir(data_dir) -> Path:
    root = Path(data_dir)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise UserError(
                f"imagenet: data directory {root} has no {split}/ folder "
                "(expected ImageFolder layout DATA_DIR/{train,val}/<class>/<image>)"
            )
    return root


def check_data(name: str, data_dir, download: bool = True) -> DatasetInfo:
    """Cheap checks before a run starts: known name, data directory present where one is needed."""
    info = dataset_info(name)
    if info.needs_data_dir:
        if data_dir is None:
            raise UserError(f"{name}: needs --data-dir")
        if name == "imagenet":
            check_imagenet_dir(data_dir)
        elif not (Path(data_dir) / CIFAR_FILES[name][0]).is_dir() and not download:
            raise UserError(cifar_not_found_message(name, data_dir))
    if name == "fashion-mnist" and not download:
        root = fashion_dir(data_dir)
        missing = missing_fashion(root)
        if missing is not None:  # the one-line error of a missing file
            raise UserError(missing_fashion_message(root, missing))
    return info
