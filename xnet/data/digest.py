"""A short digest of the dataset files a run reads (torch-free): :func:`fingerprint`."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import UserError
from .catalog import dataset_info, is_synthetic
from .files import CIFAR_FILES, FASHION_FILES, check_data, fashion_dir, find_idx

__all__ = ["fingerprint"]

_CHUNK = 1 << 20
_LENGTH = 16  # hex digits of the sha256 kept


def fingerprint(name: str, data_dir=None) -> str | None:
    """A short, stable hex digest of the files dataset ``name`` is read from; None for the generated
    ``synthetic-*`` sets.

    The directory is the one the loaders read (Fashion-MNIST without ``data_dir``: Debian's package
    directory if installed, else ``data/fashion-mnist``), and the data must already be there (a
    missing file or folder is the loaders' one-line :class:`~xnet.errors.UserError`; nothing is
    downloaded).  What is hashed:

    - CIFAR-10/100 and Fashion-MNIST (tens of MB): each file's name, size and content, so a changed
      byte changes the digest.  The names are the files' own (``data_batch_1``,
      ``train-images-idx3-ubyte.gz``), not their folder: the same files read from Debian's flat
      layout or torchvision's ``FashionMNIST/raw`` give the same digest; gzipped and raw files differ.
    - ImageNet (an ``ImageFolder`` tree, far too big to read): the sorted relative paths and sizes of
      every file under ``train/`` and ``val/``, **not their content**: it catches added, removed,
      renamed or resized images, not an image rewritten in place with the same size.
    """
    info = dataset_info(name)
    if is_synthetic(name):
        return None
    check_data(name, data_dir, download=False)
    h = hashlib.sha256(f"xnet-data-1\0{info.name}\0".encode())
    if name == "imagenet":
        _hash_tree(h, Path(data_dir))
    else:
        for path in _files(name, data_dir):
            _hash_file(h, name, path)
    return h.hexdigest()[:_LENGTH]


def _files(name: str, data_dir) -> list[Path]:
    """The files the loader of ``name`` reads, in the order it reads them."""
    if name == "fashion-mnist":
        root = fashion_dir(data_dir)
        paths = []
        for split in ("train", "val"):
            for stem in FASHION_FILES[split]:
                path = find_idx(root, stem)
                if path is None:  # check_data has seen all four; gone since
                    raise UserError(f"fashion-mnist: missing file {stem}[.gz] in {root}")
                paths.append(path)
        return paths
    folder, train_files, val_files, _ = CIFAR_FILES[name]
    return [Path(data_dir) / folder / f for f in (*train_files, *val_files)]


def _hash_file(h, name: str, path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            h.update(f"{path.name}\0{os.fstat(fh.fileno()).st_size}\0".encode())
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    except FileNotFoundError:
        raise UserError(f"{name}: missing file {path}") from None
    except OSError as e:
        raise UserError(f"{name}: cannot read {path}: {e.strerror or e}") from None


def _hash_tree(h, root: Path) -> None:
    """Sorted relative paths and sizes of the files under ``root/train`` and ``root/val`` (no content)."""
    for split in ("train", "val"):
        entries = []
        for folder, dirs, files in os.walk(root / split, followlinks=True):  # as ImageFolder walks it
            dirs.sort()
            for f in files:
                path = Path(folder) / f
                try:
                    size = path.stat().st_size
                except OSError as e:
                    raise UserError(f"imagenet: cannot read {path}: {e.strerror or e}") from None
                entries.append((path.relative_to(root).as_posix(), size))
        for rel, size in sorted(entries):
            h.update(f"{rel}\0{size}\n".encode())
