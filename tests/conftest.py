"""Fixtures and helpers shared by the test modules (pytest loads this file before any of them).

Test modules never import each other: what two of them share lives here. Keep this the suite's only
``conftest.py``: conftest files outside a package are all imported as the module ``conftest``, so a
second one (e.g. in ``tests/faults/``) would shadow ``from conftest import built``.
"""

from __future__ import annotations

import functools

import pytest


@functools.cache
def _build(name: str, overrides: tuple[tuple[str, object], ...]):
    from xnet.models import create  # imported here: collecting the torch-free tests needs no torch

    return create(name, seed=0, **dict(overrides))


def built(name: str, variant: str = "paper", **overrides):
    """The model ``xnet.models.create(name, seed=0, variant=variant, **overrides)``, built once per
    test session.  The default variant is ``paper``: most users of the cache check counts against
    the published columns, which describe that variant.

    Building the large published models takes seconds each, so the tests of models and counting
    share one instance per (name, overrides). Callers must not modify the model they get (use
    ``copy.deepcopy`` first, or ``create`` directly).
    """
    return _build(name, tuple(sorted({**overrides, "variant": variant}.items())))


@pytest.fixture
def one_thread():
    """Run a test with one torch thread (training tests: steadier on a shared 2-core machine)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def threads():
    """``threads(n)`` sets torch's CPU thread count for the rest of a test (the auto rule reads it);
    the count is restored after the test."""
    import torch

    n = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(n)


@pytest.fixture(name="built", scope="session")
def built_fixture():
    """The session-wide model cache :func:`built`, as a fixture: ``def test_x(built): built("X-VGG16-1")``."""
    return built


# ---- small on-disk datasets (the real loaders read them; shared by test_data and test_train) ----
def write_fake_cifar(root, name, n_per_file=6, seed=0):
    """CIFAR-10/100 python pickles with ``n_per_file`` random images per file, under ``root``."""
    import pickle

    import numpy as np

    from xnet.data import CIFAR_FILES

    rng = np.random.default_rng(seed)
    folder, train_files, test_files, key = CIFAR_FILES[name]
    k = 10 if name == "cifar10" else 100
    d = root / folder
    d.mkdir(parents=True)
    for f in train_files + test_files:
        entry = {
            b"data": rng.integers(0, 256, (n_per_file, 3072), dtype=np.uint8),
            key: rng.integers(0, k, n_per_file).tolist(),
            b"batch_label": f.encode(),
        }
        if name == "cifar100":
            entry[b"coarse_labels"] = rng.integers(0, 20, n_per_file).tolist()
        with open(d / f, "wb") as fh:
            pickle.dump(entry, fh)
    return d


def write_fake_imagefolder(root, classes=("n01", "n02", "n03"), per_class=(3, 2)):
    """An ImageFolder tree (train/ and val/) of random PNG / JPEG images of varied sizes."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in zip(("train", "val"), per_class):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                arr = rng.integers(0, 256, (40 + 7 * i, 50, 3), dtype=np.uint8)
                Image.fromarray(arr).save(root / split / c / f"{c}_{i}.{'JPEG' if i % 2 else 'png'}")
    return root


# ---- a tiny training run (shared by test_train and faults/test_training) ----
TINY_ARGS = {"depth": 10, "growth": 8, "conv": "x", "compression": 2}


def tiny_train_config(out, **overrides):
    """``TrainConfig`` of a tiny X-DenseNet-BC on synthetic CIFAR-10 in ``out`` (seconds on a CPU)."""
    from xnet.training.config import TrainConfig

    base = dict(
        model="densenet_bc_cifar",
        model_args=dict(TINY_ARGS),
        dataset="synthetic-cifar10",
        out=str(out),
        seed=1,
        epochs=3,
        batch_size=32,
        train_size=96,
        val_size=32,
        progress=False,
    )
    return TrainConfig(**{**base, **overrides})


def load_wfconfig():
    """``workflow/scripts/wfconfig.py`` as a module (the workflow's config checks, without Snakemake)."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "workflow" / "scripts" / "wfconfig.py"
    spec = importlib.util.spec_from_file_location("wfconfig", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("wfconfig", mod)
    spec.loader.exec_module(mod)
    return mod


def one_line_error(capsys, rc) -> str:
    """Assert exit status 2 and a single line ``xnet: error: ...`` on stderr (no traceback); return it."""
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "Traceback" not in err and "\n" not in err, err
    assert err.startswith("xnet: error: "), err
    return err
