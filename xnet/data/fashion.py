"""Fashion-MNIST: the four IDX files, gzipped or not (where they are: :mod:`xnet.data.files`)."""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import UserError
from .files import FASHION_FILES, find_idx, missing_fashion, missing_fashion_message

__all__ = ["read_idx", "ensure_fashion", "read_fashion"]


def read_idx(path: str | os.PathLike, ndim: int) -> torch.Tensor:
    """A uint8 IDX file (gzipped or not) with ``ndim`` dimensions, as a tensor; one-line error if corrupt."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as e:
        raise UserError(f"fashion-mnist: cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    if len(raw) < 4 + 4 * ndim or raw[:2] != b"\0\0" or raw[2] != 0x08 or raw[3] != ndim:
        raise UserError(f"fashion-mnist: {path} is not a uint8 IDX file with {ndim} dimension(s)")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    start, size = 4 + 4 * ndim, math.prod(dims)
    if len(raw) - start != size:
        raise UserError(
            f"fashion-mnist: {path} is truncated or corrupt ({len(raw) - start} bytes of data, its header says {size})"
        )
    return torch.frombuffer(bytearray(raw[start:]), dtype=torch.uint8).reshape(dims)


def ensure_fashion(root: Path, download: bool) -> None:
    """Download Fashion-MNIST with torchvision into ``root`` if its files are not there."""
    missing = missing_fashion(root)
    if missing is None:
        return
    if not download:
        raise UserError(missing_fashion_message(root, missing))
    import torchvision

    try:
        root.mkdir(parents=True, exist_ok=True)
        torchvision.datasets.FashionMNIST(str(root), train=True, download=True)
        torchvision.datasets.FashionMNIST(str(root), train=False, download=True)
    except Exception as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(
            f"fashion-mnist: missing file {missing}[.gz] in {root} and the download failed: {why} "
            "(on Debian: apt-get install dataset-fashion-mnist)"
        ) from None


def read_fashion(root: str | os.PathLike, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST split ``split`` ("train": 60,000, "val": the 10,000 test images) from the IDX files
    under ``root``, as uint8 ``(N, 3, 32, 32)`` images (zero-padded by 2, the grey channel repeated on 3
    channels, a view) and labels."""
    root = Path(root)
    paths = []
    for stem in FASHION_FILES[split]:
        p = find_idx(root, stem)
        if p is None:
            raise UserError(f"fashion-mnist: missing file {stem}[.gz] in {root}")
        paths.append(p)
    images, labels = read_idx(paths[0], 3), read_idx(paths[1], 1).long()
    if len(images) != len(labels):
        raise UserError(f"fashion-mnist: {paths[0]} has {len(images)} images but {paths[1]} has {len(labels)} labels")
    if images.shape[1:] != (28, 28):
        raise UserError(f"fashion-mnist: {paths[0]} holds {tuple(images.shape[1:])} images, expected 28x28")
    if len(labels) and int(labels.max()) > 9:
        raise UserError(f"fashion-mnist: {paths[1]} has label {int(labels.max())}, expected 0..9")
    padded = F.pad(images, (2, 2, 2, 2))[:, None]  # (N, 1, 32, 32)
    return padded.expand(-1, 3, -1, -1), labels
