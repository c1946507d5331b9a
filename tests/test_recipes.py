"""Recipes: the code's recipes match xnet/published/recipes.csv; schedules scale; overrides are type-checked."""

import re
from pathlib import Path

import pandas as pd
import pytest
import torch

import xnet
import xnet.recipes
from xnet.recipes import RECIPES, UserError, parse_overrides, resolve_recipe
from xnet.training.optim import FlooredMultiStepLR, build_optimizer, build_scheduler

CSV = Path(xnet.__file__).parent / "published" / "recipes.csv"


def _parse_schedule(text):
    """The CSV's words -> (milestones or step size, gamma)."""
    if m := re.fullmatch(r"divide by 10 at epochs (\d+) and (\d+)", text):
        return ("multistep", (int(m[1]), int(m[2])), 0.1)
    if m := re.fullmatch(r"halve every (\d+) epochs", text):
        return ("step", int(m[1]), 0.5)
    if m := re.fullmatch(r"divide by 10 every (\d+) epochs", text):
        return ("step", int(m[1]), 0.1)
    if m := re.fullmatch(r"multiply by ([\d.]+) every (\d+) epochs", text):
        return ("step", int(m[2]), float(m[1]))
    raise AssertionError(f"unparsed schedule {text!r}")


def test_recipes_match_published_csv():
    df = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    assert set(df.family) == set(RECIPES)
    for row in df.itertuples():
        r = RECIPES[row.family]
        if not row.epochs:  # alexnet: not published
            assert r.source.startswith("not published")
            assert (r.lr, r.momentum, r.weight_decay, r.gamma, r.step_size, r.epochs, r.batch_size) == (
                0.01,
                0.9,
                5e-4,
                0.1,
                30,
                90,
                256,
            )
            continue
        assert r.epochs == int(row.epochs) and r.batch_size == int(row.batch_size)
        assert r.optimizer == row.optimizer and r.momentum == float(row.momentum)
        assert r.nesterov == (row.nesterov == "yes")
        assert r.lr == float(row.lr) and r.lr_floor == float(row.lr_floor)
        assert r.weight_decay == float(row.weight_decay)
        assert r.dataset == row.dataset and r.source == row.source
        kind, what, gamma = _parse_schedule(row.lr_schedule)
        assert r.schedule == kind and r.gamma == pytest.approx(gamma)
        assert (r.milestones if kind == "multistep" else r.step_size) == what


def test_schedule_values_and_floor():
    d = RECIPES["densenet_bc_cifar"]
    assert d.lr_at(0) == 0.1 and d.lr_at(149) == 0.1
    assert d.lr_at(150) == pytest.approx(0.01) and d.lr_at(225) == pytest.approx(0.001)
    v = RECIPES["vgg16_cifar"]  # halving every 30 from 0.05 reaches the 5e-4 floor
    assert v.lr_at(30) == pytest.approx(0.025)
    assert v.lr_at(299) == 5e-4 and v.lr_at(180) == pytest.approx(0.05 / 64)
    m = RECIPES["mobilenet05_imagenet"]
    assert m.lr_at(15) == pytest.approx(0.0316227766) and m.lr_at(149) == 5e-5


@pytest.mark.parametrize("family", sorted(RECIPES))
def test_scaled_schedule_keeps_shape(family):
    r = RECIPES[family]
    # at a fifth of the length every milestone lands on an epoch: the same curve, subsampled
    short = r.epochs // 5
    full = [r.lr_at(e) for e in range(r.epochs)]
    scaled = [r.lr_at(e, short) for e in range(short)]
    for e in range(short):
        assert scaled[e] == pytest.approx(full[e * 5], rel=1e-9), (family, e)
    # any length: as many decays as the recipe, at about the same fraction of the run
    for epochs in (7, 13, 45, 100):
        ms = r.scaled_milestones(epochs)
        assert len(ms) == len(r.full_milestones()), (family, epochs, ms)
        for m, full_m in zip(ms, r.full_milestones()):
            assert abs(m / epochs - full_m / r.epochs) <= 0.5 / epochs + 1e-9


def test_scheduler_follows_lr_at():
    r = resolve_recipe("vgg16_cifar", {"step_size": 2})
    model = torch.nn.Linear(2, 2)
    opt = build_optimizer(r, model)
    sched = build_scheduler(r, opt, 20)
    assert isinstance(sched, FlooredMultiStepLR)
    seen = []
    for _ in range(20):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([r.lr_at(e, 20) for e in range(20)])
    assert seen[-1] == 5e-4 and seen[0] == 0.05
    assert opt.param_groups[0]["nesterov"] and opt.param_groups[0]["weight_decay"] == 5e-4


def test_short_runs_milestones():
    d = RECIPES["densenet_bc_cifar"]
    assert d.scaled_milestones(300) == [150, 225]
    assert d.scaled_milestones(40) == [20, 30]
    assert d.scaled_milestones(4) == [2, 3]
    assert d.scaled_milestones(2) == [1]  # 225 * 2 / 300 = 1.5 -> 2 = the end: dropped
    assert RECIPES["mobilenet05_imagenet"].scaled_milestones(15) == [2, 3, 5, 6, 8, 9, 11, 12, 14]
    assert RECIPES["resnet_imagenet"].scaled_milestones(9) == [3, 6]


def test_overrides_typed():
    o = parse_overrides(["lr=0.05", "weight-decay=1e-4", "nesterov=no", "milestones=10,20", "epochs=30"])
    assert o == {"lr": 0.05, "weight_decay": 1e-4, "nesterov": False, "milestones": (10, 20), "epochs": 30}
    r = resolve_recipe("densenet_bc_cifar", o)
    assert (r.lr, r.nesterov, r.milestones, r.schedule) == (0.05, False, (10, 20), "multistep")
    assert resolve_recipe("densenet_bc_cifar", {"step_size": 5}).schedule == "step"


@pytest.mark.parametrize(
    "item,fragment",
    [
        ("lr=abc", "recipe field lr: expected a number"),
        ("epochs=1.5", "recipe field epochs: expected an integer"),
        ("nesterov=maybe", "recipe field nesterov: expected a boolean"),
        ("milestones=a,b", "recipe field milestones"),
        ("learning_rate=0.1", "unknown recipe field 'learning_rate'"),
        ("lr", "expected field=value"),
        ("family=vgg16_cifar", "cannot be overridden"),
    ],
)
def test_bad_overrides(item, fragment):
    with pytest.raises(UserError, match=re.escape(fragment)):
        parse_overrides([item])


@pytest.mark.parametrize(
    "over,fragment",
    [
        ({"lr": -1.0}, "lr"),
        ({"schedule": "cosine"}, "schedule"),
        ({"optimizer": "adam"}, "optimizer"),
        ({"milestones": (20, 10)}, "milestones"),
        ({"gamma": 2.0}, "gamma"),
        ({"lr": "0.1x"}, "lr"),
    ],
)
def test_bad_values(over, fragment):
    with pytest.raises(UserError, match=fragment):
        resolve_recipe("densenet_bc_cifar", over)


def test_optimizer_helpers_live_in_training_optim_only():
    """xnet.recipes is torch-free and imports nothing of xnet.training (no import cycle, no shim)."""
    import xnet.training.optim as optim

    assert optim.build_optimizer is build_optimizer and optim.FlooredMultiStepLR is FlooredMultiStepLR
    for name in ("build_optimizer", "build_scheduler", "FlooredMultiStepLR", "no_such_thing"):
        assert not hasattr(xnet.recipes, name)


@pytest.mark.parametrize("item", ["weight_decay=nan", "lr_floor=inf", "lr=-inf", "momentum=nan", "gamma=1e999"])
def test_nonfinite_overrides_refused(item):
    with pytest.raises(UserError, match=f"recipe field {item.split('=')[0]}: must be a finite number"):
        parse_overrides([item])


def test_unknown_family():
    with pytest.raises(UserError, match="no recipe"):
        resolve_recipe("lenet", {})
