"""Datasets: synthetic sets (deterministic, learnable), CIFAR pickles and ImageFolder on fake data."""

import pickle

import pytest
import torch
from torch import nn

import xnet.data as data
from xnet.recipes import UserError

from conftest import write_fake_cifar, write_fake_imagefolder


def test_synthetic_shapes_and_determinism():
    for name, (c, h, k) in {
        "synthetic-cifar10": (3, 32, 10),
        "synthetic-cifar100": (3, 32, 100),
        "synthetic-imagenet": (3, 64, 100),
    }.items():
        x, y = data.synthetic_tensors(name, "train", 600 if h == 32 else 200)
        assert x.shape == (600 if h == 32 else 200, c, h, h) and x.dtype == torch.uint8
        assert y.min() >= 0 and y.max() < k
        x2, y2 = data.synthetic_tensors(name, "train", 150)
        assert torch.equal(x[:150], x2) and torch.equal(y[:150], y2)  # a prefix whatever the size
        xv, _ = data.synthetic_tensors(name, "val", 150)
        assert not torch.equal(xv, x2)  # val differs from train
        assert x.float().std() > 20  # not a constant image
    a, _ = data.synthetic_tensors("synthetic-cifar10", "train", 50)
    b, _ = data.synthetic_tensors("synthetic-cifar100", "train", 50)
    assert not torch.equal(a, b)


def test_default_sizes_and_info():
    assert data.dataset_info("synthetic-cifar10").train_size == 5000
    assert data.dataset_info("synthetic-imagenet").input_size == (3, 64, 64)
    with pytest.raises(UserError, match="unknown dataset 'mnist'"):
        data.dataset_info("mnist")


def test_augmentation_seeded_per_sample_and_epoch():
    tr, va, info = data.build_datasets("synthetic-cifar10", train_size=40, val_size=10, seed=3)
    assert info.num_classes == 10 and len(tr) == 40 and len(va) == 10
    tr.set_epoch(0)
    a = torch.stack([tr[i][0] for i in range(40)])
    torch.manual_seed(123)  # the global RNG plays no part
    b = torch.stack([tr[i][0] for i in range(40)])
    assert torch.equal(a, b)
    tr.set_epoch(1)
    c = torch.stack([tr[i][0] for i in range(40)])
    assert not torch.equal(a, c)
    assert a.shape == (40, 3, 32, 32) and abs(float(a.mean())) < 1.5
    v1, v2 = va[3][0], va[3][0]
    assert torch.equal(v1, v2)


def test_imagenet_style_augmentation_keeps_size():
    tr, _, _ = data.build_datasets("synthetic-imagenet", train_size=8, val_size=4)
    assert tr[5][0].shape == (3, 64, 64)


def _tiny_cnn(k):
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 1, 1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, 1, 1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, 1, 1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, k),
    )


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: one thread is faster than two on a busy 2-core box
    yield
    torch.set_num_threads(n)


def test_synthetic_cifar10_is_learnable(one_thread):
    torch.manual_seed(0)
    tr, va, info = data.build_datasets("synthetic-cifar10", train_size=1200, val_size=400)
    model = _tiny_cnn(info.num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    for epoch in range(2):
        tr.set_epoch(epoch)
        for x, y in torch.utils.data.DataLoader(tr, batch_size=32, shuffle=True):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = sum(
            (model(x).argmax(1) == y).sum().item() for x, y in torch.utils.data.DataLoader(va, batch_size=200)
        ) / len(va)
    assert acc > 0.45, acc  # chance is 0.10


# ---- CIFAR python pickles ------------------------------------------------------------------
@pytest.mark.parametrize("name,n_train", [("cifar10", 30), ("cifar100", 6)])
def test_cifar_pickles(tmp_path, name, n_train):
    d = write_fake_cifar(tmp_path, name)
    tr, va, info = data.build_datasets(name, tmp_path, download=False, seed=0)
    assert len(tr) == n_train and len(va) == 6 and info.num_classes == (10 if name == "cifar10" else 100)
    x, y = va[0]
    assert x.shape == (3, 32, 32)
    raw = pickle.load(open(d / data.CIFAR_FILES[name][2][0], "rb"), encoding="bytes")
    expect = torch.as_tensor(raw[b"data"][0]).reshape(3, 32, 32).float() / 255
    mean, std = torch.tensor(info.mean).view(3, 1, 1), torch.tensor(info.std).view(3, 1, 1)
    assert torch.allclose(x, (expect - mean) / std, atol=1e-6)  # channel-major layout, normalized
    assert y == raw[data.CIFAR_FILES[name][3]][0]
    tr2, _, _ = data.build_datasets(name, tmp_path, train_size=4, val_size=2, download=False)
    assert len(tr2) == 4


def test_cifar_errors(tmp_path):
    with pytest.raises(UserError, match="cifar10: not found in data directory"):
        data.build_datasets("cifar10", tmp_path / "nowhere", download=False)
    with pytest.raises(UserError, match="needs --data-dir"):
        data.build_datasets("cifar100", None)
    d = write_fake_cifar(tmp_path, "cifar10")
    (d / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(UserError, match="cannot read .*data_batch_3"):
        data.build_datasets("cifar10", tmp_path, download=False)
    (d / "data_batch_3").unlink()
    with pytest.raises(UserError, match="missing file .*data_batch_3"):
        data.build_datasets("cifar10", tmp_path, download=False)


# ---- ImageFolder ---------------------------------------------------------------------------
def test_imagefolder(tmp_path):
    root = write_fake_imagefolder(tmp_path / "imnet")
    tr, va, info = data.build_datasets("imagenet", root, seed=1)
    assert info.num_classes == 3 and len(tr) == 9 and len(va) == 6
    x, y = tr[4]
    assert x.shape == (3, 224, 224) and y == 1
    tr.set_epoch(0)
    a = tr[4][0]
    torch.manual_seed(99)
    assert torch.equal(a, tr[4][0])  # random crop seeded per sample, not by the global RNG
    tr.set_epoch(1)
    assert not torch.equal(a, tr[4][0])
    assert torch.equal(va[2][0], va[2][0]) and va[2][0].shape == (3, 224, 224)
    tr2, va2, _ = data.build_datasets("imagenet", root, train_size=2, val_size=1)
    assert len(tr2) == 2 and len(va2) == 1


def test_imagefolder_errors(tmp_path):
    with pytest.raises(UserError, match="has no train/ folder"):
        data.build_datasets("imagenet", tmp_path / "missing")
    (tmp_path / "only" / "train").mkdir(parents=True)
    with pytest.raises(UserError, match="has no val/ folder"):
        data.build_datasets("imagenet", tmp_path / "only")


# ---- fingerprint and the package's lazy names ----------------------------------------------
def test_fingerprint_hashes_the_files_a_run_reads(tmp_path):
    assert data.fingerprint("synthetic-cifar10") is None  # generated: no file
    d = write_fake_cifar(tmp_path, "cifar10")
    fp = data.fingerprint("cifar10", tmp_path)
    assert fp == data.fingerprint("cifar10", tmp_path) and len(fp) == 16 and int(fp, 16) >= 0
    raw = bytearray((d / "test_batch").read_bytes())
    raw[-20] ^= 1  # one bit of content, same size
    (d / "test_batch").write_bytes(bytes(raw))
    assert data.fingerprint("cifar10", tmp_path) != fp
    (d / "data_batch_2").unlink()
    with pytest.raises(UserError, match="cifar10: missing file .*data_batch_2"):
        data.fingerprint("cifar10", tmp_path)
    with pytest.raises(UserError, match="cifar100: not found in data directory"):  # the loaders' message
        data.fingerprint("cifar100", tmp_path)
    root = write_fake_imagefolder(tmp_path / "imnet")
    fp = data.fingerprint("imagenet", root)
    assert fp == data.fingerprint("imagenet", root)
    (root / "val" / "n01" / "extra.png").write_bytes(b"x")
    assert data.fingerprint("imagenet", root) != fp  # the file list and sizes, not the content


def test_lazy_names_are_each_modules_exports():
    import importlib

    for module, names in data._LAZY_MODULES.items():
        assert tuple(importlib.import_module(f"xnet.data.{module}").__all__) == names
    assert data.build_datasets is importlib.import_module("xnet.data.build").build_datasets
