"""Datasets and transforms for training.

The names, shapes, class counts and default sizes of the datasets are in :mod:`xnet.datasets`
(torch-free); this module loads them.

The synthetic sets are deterministic (a generator seeded from the dataset name, independent of the
run's seed) and learnable: each class is a smooth random colour pattern; a sample is its class
pattern, circularly shifted, with random contrast and brightness, blended with a distractor
pattern of another class, plus pixel noise.  ``train_size`` / ``val_size`` take the first N
samples (the same N samples whatever N is larger than), so tests can use tiny sets.

Augmentation randomness does not come from the global RNG: sample ``i`` of epoch ``e`` is
augmented with a generator seeded from ``(seed, e, i)``, so data is identical whatever the number
of loader workers, processes, or restarts.  Call ``dataset.set_epoch(e)`` before each epoch.
"""

from __future__ import annotations

import math
import os
import pickle
import random
import zlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .datasets import (  # noqa: F401
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    CIFAR100_STD,
    DATASETS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    SYNTH_MEAN,
    SYNTH_STD,
    DatasetInfo,
    dataset_info,
    paper_dataset,
)
from .errors import UserError


def _sample_key(seed: int, epoch: int, index: int) -> int:
    return ((seed * 1_000_003 + epoch) * 2_147_483_647 + index) & 0xFFFF_FFFF_FFFF


# --------------------------------------------------------------------------------------------
# In-memory uint8 image tensors (CIFAR, synthetic)
# --------------------------------------------------------------------------------------------
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
            rng = random.Random(_sample_key(self.seed, self.epoch, i))
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


# --------------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# CIFAR on disk (the python pickles of https://www.cs.toronto.edu/~kriz/cifar.html)
# --------------------------------------------------------------------------------------------
_CIFAR_FILES = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], b"fine_labels"),
}


def read_cifar(root: str | os.PathLike, name: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read the CIFAR python pickles under ``root`` into uint8 ``(N, 3, 32, 32)`` images and labels."""
    folder, train_files, test_files, label_key = _CIFAR_FILES[name]
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
    folder = _CIFAR_FILES[name][0]
    if (Path(root) / folder).is_dir():
        return
    if not download:
        raise UserError(
            f"{name}: not found in data directory {root} (expected {folder}/; drop --no-download to download it)"
        )
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


# --------------------------------------------------------------------------------------------
# Fashion-MNIST (the four IDX files, gzipped or not; Debian's dataset-fashion-mnist lays them flat)
# --------------------------------------------------------------------------------------------
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


def _find_idx(root: Path, stem: str) -> Path | None:
    """``stem`` or ``stem.gz`` in ``root`` or in torchvision's ``root/FashionMNIST/raw``."""
    for folder in (root, root / "FashionMNIST" / "raw"):
        for name in (f"{stem}.gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def _missing_fashion(root: Path) -> str | None:
    """The first of the four Fashion-MNIST files that ``root`` lacks (None: all there)."""
    return next((s for pair in FASHION_FILES.values() for s in pair if _find_idx(root, s) is None), None)


def read_idx(path: str | os.PathLike, ndim: int) -> torch.Tensor:
    """A uint8 IDX file (gzipped or not) with ``ndim`` dimensions, as a tensor; one-line error if corrupt."""
    import gzip

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
    missing = _missing_fashion(root)
    if missing is None:
        return
    if not download:
        raise UserError(f"fashion-mnist: missing file {missing}[.gz] in {root} (drop --no-download to download it)")
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
        p = _find_idx(root, stem)
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


# --------------------------------------------------------------------------------------------
# ImageFolder (ImageNet)
# --------------------------------------------------------------------------------------------
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
            torch.manual_seed(_sample_key(self.seed, self.epoch, i))
            x = self.transform(img)
        return x, y


def _image_path(base, i) -> str:
    """The file behind sample ``i`` of an ImageFolder (or a Subset of one)."""
    while isinstance(base, torch.utils.data.Subset):
        base, i = base.dataset, base.indices[i]
    samples = getattr(base, "samples", None)
    return str(samples[i][0]) if samples is not None else f"#{i}"


def imagenet_transforms(train: bool, size: int = 224, augment: bool = True):
    from torchvision import transforms as T

    norm = [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if train and augment:
        return T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), *norm])
    return T.Compose([T.Resize(round(size * 256 / 224)), T.CenterCrop(size), *norm])


def check_imagenet_dir(data_dir) -> Path:
    root = Path(data_dir)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise UserError(
                f"imagenet: data directory {root} has no {split}/ folder "
                "(expected ImageFolder layout DATA_DIR/{train,val}/<class>/<image>)"
            )
    return root


# --------------------------------------------------------------------------------------------
def check_data(name: str, data_dir, download: bool = True) -> DatasetInfo:
    """Cheap checks before a run starts: known name, data directory present where one is needed."""
    info = dataset_info(name)
    if info.needs_data_dir:
        if data_dir is None:
            raise UserError(f"{name}: needs --data-dir")
        if name == "imagenet":
            check_imagenet_dir(data_dir)
        elif not (Path(data_dir) / _CIFAR_FILES[name][0]).is_dir() and not download:
            raise UserError(
                f"{name}: not found in data directory {data_dir} (expected "
                f"{_CIFAR_FILES[name][0]}/; drop --no-download to download it)"
            )
    if name == "fashion-mnist" and not download:
        ensure_fashion(fashion_dir(data_dir), download=False)  # the one-line error of a missing file
    return info


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
        info = DatasetInfo(**{**info.__dict__, "num_classes": num_classes})
        return train, val, info
    if name.startswith("synthetic-"):
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
