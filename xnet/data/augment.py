"""The datasets the trainer iterates, with seeded per-sample augmentation.

Augmentation randomness does not come from the global RNG: sample ``i`` of epoch ``e`` is
augmented with a generator seeded from ``(seed, e, i)`` (:func:`xnet.seeds.sample_seed`), so data
is identical whatever the number of loader workers, processes, or restarts.  Call
``dataset.set_epoch(e)`` before each epoch.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..errors import UserError
from ..seeds import sample_seed

__all__ = ["TensorImageDataset", "SeededTransformDataset"]


class TensorImageDataset(Dataset):
    """uint8 images ``(N, C, H, W)`` and int64 labels, with seeded per-sample augmentation.

    ``augment``: ``"cifar"`` (zero-pad by H/8, random crop, horizontal flip), ``"imagenet"``
    (random resized crop with scale (0.25, 1), horizontal flip) or ``None``; then scaled to
    [0, 1] and normalized with ``mean`` / ``std``.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean, std, augment=None, seed=0):
        assert images.dtype == torch.uint8 and images.ndim == 4 and len(images) == len(labels)
        self.images, self.labels = images, labels.long()
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)
        self.augment, self.seed, self.epoch = augment, seed, 0

    def set_epoch(self, epoch: int):
        self.epoch = epoch

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        x = self.images[i]
        if self.augment:
            rng = random.Random(sample_seed(self.seed, self.epoch, i))
            _, h, w = x.shape
            if self.augment == "cifar":
                p = h // 8
                x = F.pad(x, (p, p, p, p))
                top, left = rng.randint(0, 2 * p), rng.randint(0, 2 * p)
                x = x[:, top : top + h, left : left + w]
            else:
                area = h * w
                for _ in range(10):
                    a = area * rng.uniform(0.25, 1.0)
                    r = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
                    cw, ch = int(round(math.sqrt(a * r))), int(round(math.sqrt(a / r)))
                    if 0 < cw <= w and 0 < ch <= h:
                        top, left = rng.randint(0, h - ch), rng.randint(0, w - cw)
                        break
                else:
                    ch, cw, top, left = h, w, 0, 0
                x = x[:, top : top + ch, left : left + cw].float()
                x = F.interpolate(x[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0].clamp_(
                    0, 255
                )
            if rng.random() < 0.5:
                x = x.flip(-1)
        x = x.float().div_(255).sub_(self.mean).div_(self.std)
        return x, int(self.labels[i])


class SeededTransformDataset(Dataset):
    """Applies ``transform`` to ``base[i]`` under a torch RNG seeded from (seed, epoch, i)."""

    def __init__(self, base, transform, seed=0):
        self.base, self.transform, self.seed, self.epoch = base, transform, seed, 0

    def set_epoch(self, epoch: int):
        self.epoch = epoch

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        try:
            img, y = self.base[i]
        except Exception as e:  # a corrupt or truncated image: name it (a run must not die without saying which)
            raise UserError(
                f"cannot read image {_image_path(self.base, i)}: {type(e).__name__}: "
                f"{(str(e).splitlines() or [''])[0][:200]}"
            ) from None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sample_seed(self.seed, self.epoch, i))
            x = self.transform(img)
        return x, y


def _image_path(base, i) -> str:
    """The file behind sample ``i`` of an ImageFolder (or a Subset of one)."""
    while isinstance(base, torch.utils.data.Subset):
        base, i = base.dataset, base.indices[i]
    samples = getattr(base, "samples", None)
    return str(samples[i][0]) if samples is not None else f"#{i}"
