"""CIFAR-10/100 on disk: the python pickles of https://www.cs.toronto.edu/~kriz/cifar.html
(which files: :data:`xnet.data.files.CIFAR_FILES`)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from ..errors import UserError
from .files import CIFAR_FILES, cifar_not_found_message

__all__ = ["read_cifar", "ensure_cifar"]


def read_cifar(root: str | os.PathLike, name: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read the CIFAR python pickles under ``root`` into uint8 ``(N, 3, 32, 32)`` images and labels."""
    folder, train_files, test_files, label_key = CIFAR_FILES[name]
    images, labels = [], []
    for f in train_files if split == "train" else test_files:
        path = Path(root) / folder / f
        try:
            with open(path, "rb") as fh:
                entry = pickle.load(fh, encoding="bytes")
            data = torch.as_tensor(entry[b"data"]).to(torch.uint8).reshape(-1, 3, 32, 32)
            lab = torch.as_tensor(list(entry[label_key]), dtype=torch.long)
        except FileNotFoundError:
            raise UserError(f"{name}: missing file {path}") from None
        except Exception as e:  # corrupt pickle, wrong shapes
            raise UserError(f"{name}: cannot read {path}: {type(e).__name__}: {e}") from None
        if len(data) != len(lab):
            raise UserError(f"{name}: {path} has {len(data)} images but {len(lab)} labels")
        images.append(data)
        labels.append(lab)
    return torch.cat(images), torch.cat(labels)


def ensure_cifar(root: str | os.PathLike, name: str, download: bool) -> None:
    """Download CIFAR with torchvision into ``root`` if its folder is not there."""
    folder = CIFAR_FILES[name][0]
    if (Path(root) / folder).is_dir():
        return
    if not download:
        raise UserError(cifar_not_found_message(name, root))
    import torchvision

    cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    try:
        os.makedirs(root, exist_ok=True)
        cls(str(root), train=True, download=True)
    except Exception as e:
        raise UserError(
            f"{name}: not found in {root} and download failed: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}"
        ) from None
