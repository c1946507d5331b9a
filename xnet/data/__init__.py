"""The datasets: what each is, where its files are, how it is read and augmented.

Torch-free, imported with the package:

- :mod:`xnet.data.catalog`: the names (what ``--dataset`` takes, what a run record stores), shapes,
  class counts, normalisation, and the paper's dataset each one stands for.
- :mod:`xnet.data.files`: which files each dataset reads, where, and :func:`check_data`.
- :mod:`xnet.data.digest`: :func:`fingerprint`, a short digest of those files for the run identity.

Imported on first use of one of their names (they import torch), so ``import xnet.data`` loads no
torch while ``xnet.data.build_datasets`` still works:

- :mod:`xnet.data.synthetic`: the generated ``synthetic-*`` sets.
- :mod:`xnet.data.cifar`, :mod:`xnet.data.fashion`, :mod:`xnet.data.imagenet`: the readers.
- :mod:`xnet.data.augment`: the datasets with seeded per-sample augmentation.
- :mod:`xnet.data.build`: :func:`build_datasets`, what the trainer calls.

Adding a dataset: its row in ``catalog.DATASETS``, its files in ``files``, a reader module, and
its branch in ``build.build_datasets`` (and in ``digest`` if it reads files).
"""

from __future__ import annotations

import importlib

from .catalog import *  # noqa: F403
from .catalog import __all__ as _catalog_all
from .digest import fingerprint
from .files import *  # noqa: F403
from .files import __all__ as _files_all

# module -> the names it exports through this package (its __all__; tests/test_data.py checks)
_LAZY_MODULES = {
    "synthetic": ("synthetic_tensors",),
    "cifar": ("read_cifar", "ensure_cifar"),
    "fashion": ("read_idx", "ensure_fashion", "read_fashion"),
    "imagenet": ("imagenet_transforms", "imagenet_datasets"),
    "augment": ("TensorImageDataset", "SeededTransformDataset"),
    "build": ("build_datasets", "available_memory"),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'xnet.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})


__all__ = [*_catalog_all, *_files_all, "fingerprint"]
