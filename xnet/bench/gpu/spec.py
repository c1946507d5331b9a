"""What the GPU check is made of (:mod:`xnet.bench.gpu`): its parts and their budget shares, the
flat files of its output folder and their size limits, the layer / model / training cases and the
tolerances; and the two helpers every module of the check uses."""

from __future__ import annotations

from pathlib import Path

import torch

from ..layers import QUICK_MODEL_CASES

# name: (share of the budget, runs in a subprocess); in the order they run
PARTS = {
    "correctness": (0.17, False),
    "kernels": (0.24, True),
    "train": (0.15, True),
    "layers": (0.17, False),
    "models": (0.13, False),
    "projection": (0.14, False),
}
REPO = Path(__file__).resolve().parents[3]
# the flat files of DIR: table -> file (layers and models share timings.csv, a column `table` tells them apart)
FLAT_TABLES = {
    "correctness": "correctness.csv",
    "kernels": "kernels.csv",
    "triton_configs": "triton_configs.csv",
    "train": "train.csv",
    "layers": "timings.csv",
    "models": "timings.csv",
}
OUT_FILES = ("summary.md", "status.json", *dict.fromkeys(FLAT_TABLES.values()), "scratch.tar.gz")
MAX_FILE_BYTES = 900_000  # each flat file (the device tool brings back a few small files)
MAX_TAR_BYTES = 5_000_000
WATCHDOG_GRACE_S = 45.0
LAYER_SHAPES = [(1, 256, 56), (1, 512, 28), (1, 1024, 14), (3, 256, 28), (3, 512, 14), (3, 1024, 7)]
MODEL_CASES = tuple(
    (
        f"{title}, C=4",
        (3, 224, 224),
        128,
        [
            ("dense", dense, {}),
            ("G", g, {}),
            ("X", x, {}),
            ("X block16", x, {"block_size": 16}),
            ("X block16 triton", x, {"block_size": 16, "backend": "triton"}),
        ],
    )
    for title, dense, g, x in (
        ("ResNet-50", "ResNet-50", "G-ResNet-4-50", "X-ResNet-4-50"),
        ("MobileNet-0.5", "MobileNet-0.5", "G-MobileNet-0.5-4", "X-MobileNet-0.5-4"),
    )
)
TINY_MODEL_CASES = tuple(
    (title, size, batch, [v for v in variants if v[0] in ("dense", "X block8")])
    for title, size, batch, variants in QUICK_MODEL_CASES
)
TOL = {"bfloat16": 3e-2, "float16": 5e-3, "float32": 1e-4}
DTYPE_ORDER = (torch.bfloat16, torch.float16, torch.float32)  # the ones only a GPU checks first
TRAIN_ARGS = dict(model="X-ResNet-4-50", block_size=16, steps=30, batch=32, size=128, classes=100, dtype="float16")
TINY_TRAIN_ARGS = dict(model="tiny", block_size=8, steps=3, batch=2, size=8, classes=10, dtype="float16")


class CudaBroken(RuntimeError):
    """The CUDA context no longer works (a sticky error): the in-process parts end."""


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:400]


def _interpreted():
    try:
        from ...nn import triton_block
    except ImportError:
        return False
    return triton_block.INTERPRETED
