"""The synthetic sets: deterministic, learnable, generated in memory (no file read).

A generator seeded from the dataset name (independent of the run's seed) draws each class as a
smooth random colour pattern; a sample is its class pattern, circularly shifted, with random
contrast and brightness, blended with a distractor pattern of another class, plus pixel noise.
:func:`synthetic_tensors` takes the first N samples (the same N samples whatever N is larger
than), so tests can use tiny sets.
"""

from __future__ import annotations

import math
import zlib

import torch
import torch.nn.functional as F

from .catalog import dataset_info

__all__ = ["synthetic_tensors"]

_CHUNK = 500


def _name_seed(name: str) -> int:
    return zlib.crc32(name.encode())


def _prototypes(name: str, num_classes: int, size: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(_name_seed(name))
    grid = torch.randn(num_classes, 3, 4, 4, generator=g)
    fine = 0.35 * torch.randn(num_classes, 3, 8, 8, generator=g)
    up = lambda t: F.interpolate(t, size=(size, size), mode="bicubic", align_corners=False)
    return up(grid) + up(fine)


def _synthetic_chunk(name: str, split: str, chunk: int, protos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    k, c, h, w = protos.shape
    g = torch.Generator().manual_seed(_name_seed(f"{name}/{split}/{chunk}"))
    n = _CHUNK
    labels = torch.randint(k, (n,), generator=g)
    distract = (labels + torch.randint(1, k, (n,), generator=g)) % k
    s = h // 8
    dy = torch.randint(-s, s + 1, (n,), generator=g)
    dx = torch.randint(-s, s + 1, (n,), generator=g)
    rows = (torch.arange(h)[None, :] - dy[:, None]) % h
    cols = (torch.arange(w)[None, :] - dx[:, None]) % w
    x = protos[labels][
        torch.arange(n)[:, None, None, None],
        torch.arange(c)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
    contrast = 0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=g)
    bright = 0.3 * torch.randn(n, 3, 1, 1, generator=g)
    x = contrast * x + 0.45 * protos[distract].roll(s, dims=-1) + bright
    x = x + 0.6 * torch.randn(x.shape, generator=g)
    img = (128 + 48 * x).round_().clamp_(0, 255).to(torch.uint8)
    return img, labels


def synthetic_tensors(name: str, split: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``size`` samples of synthetic split ``split`` ("train"/"val") of dataset ``name``."""
    info = dataset_info(name)
    protos = _prototypes(name, info.num_classes, info.input_size[1])
    chunks = [_synthetic_chunk(name, split, i, protos) for i in range(math.ceil(size / _CHUNK))]
    images = torch.cat([c[0] for c in chunks])[:size]
    labels = torch.cat([c[1] for c in chunks])[:size]
    return images.contiguous(), labels
