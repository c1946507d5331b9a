"""Counting (xnet.counting.profile) sees only real X-connections, three counters agree; python -m xnet.profile
prints both variants beside the published figures, and the paper variant meets them."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest
from torch import nn

from xnet.counting import profile
from xnet.models import create
from xnet.nn import XConv2d, XLinear

from conftest import built  # the session-wide model cache, shared with test_models.py


def test_profile_counts_a_dense_model_and_xnet_profile_is_only_the_cli_module():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))
    want = {"params": 3 * 8 * 9 + 128 * 5 + 5, "macs": 16 * 8 * 27 + 128 * 5}
    assert profile(m, (3, 4, 4)) == want
    import xnet.profile as module

    assert not callable(module) and callable(module.main)


def test_import_xnet_and_xnet_results_load_no_torch():
    code = "import sys, xnet, xnet.results; assert 'torch' not in sys.modules, 'torch imported'"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_x_layers_count_only_their_edges():
    conv = XConv2d(16, 32, 3, padding=1, bias=False, degree=4, seed=0)
    lin = XLinear(64, 10, degree=8, seed=0)
    assert profile(conv, (16, 5, 5)) == {"params": 32 * 4 * 9, "macs": 32 * 25 * 4 * 9}
    model = nn.Sequential(nn.Flatten(), lin)
    assert profile(model, (64, 1, 1)) == {"params": 10 * 8 + 10, "macs": 10 * 8}
    grouped = nn.Conv2d(16, 32, 1, groups=4, bias=False)
    assert profile(grouped, (16, 5, 5))["macs"] == 32 * 25 * 4


def test_profile_restores_mode_and_rejects_bad_arguments():
    m = create("mobilenet05_imagenet", width=0.25, variant="paper").train()
    profile(m, (3, 32, 32))
    assert m.training
    with pytest.raises(ValueError):
        profile(m, (3, 32))
    with pytest.raises(ValueError):
        profile(m, (3, 32, 32), method="guess")


@pytest.mark.parametrize(
    "name,size,variant",
    [
        ("X-VGG16-1", (3, 32, 32), "paper"),
        ("X-DenseNet-BC-40-24-2", (3, 16, 16), "paper"),
        ("X-MobileNet-0.5-4", (3, 96, 96), "paper"),
        ("G-MobileNet-0.5-4", (3, 96, 96), "paper"),
        ("X-AlexNet-1", (3, 64, 64), "paper"),
        # the original variant: input-regular X-Conv (MobileNet, VGG) and X-Linear (VGG, AlexNet fc7)
        ("X-MobileNet-0.5-4", (3, 96, 96), "original"),
        ("X-VGG16-2", (3, 32, 32), "original"),
        ("X-AlexNet-1", (3, 64, 64), "original"),
    ],
)
def test_hooks_thop_and_flop_counter_agree(name, size, variant):
    model = built(name, variant)
    counts = {method: profile(model, size, method=method) for method in ("hooks", "thop", "flop_counter")}
    assert counts["hooks"] == counts["thop"] == counts["flop_counter"]
    assert counts["hooks"]["macs"] > 0


@pytest.mark.parametrize("variant", ["paper", "original"])
def test_x_resnet_counters_agree_on_a_small_variant(variant):
    model = create("X-ResNet-2-50", width=0.125, variant=variant)  # original: input-regular layers too
    counts = [profile(model, (3, 32, 32), method=m) for m in ("hooks", "thop", "flop_counter")]
    assert counts[0] == counts[1] == counts[2]


def _comparison(models, variants=("paper",)):
    from xnet.profile import comparison

    return {(r["model"], r["unit"]): r for r in comparison(models, build=built, variants=variants)}


# Documented tolerances on counted / published (docs/models.md): the paper variant reproduces the columns.
def test_published_cifar_and_mobilenet_macs_within_2_percent():
    rows = _comparison(
        [
            "X-DenseNet-BC-40-24-2",
            "X-DenseNet-BC-40-36-2",
            "X-DenseNet-BC-40-48-2",
            "X-DenseNet-BC-40-60-2",
            "MobileNet-0.5",
            "X-MobileNet-0.5-2",
            "X-MobileNet-0.5-4",
            "X-MobileNet-0.5-8",
            "X-MobileNet-0.5-16",
        ]
    )
    macs = [r for (_, unit), r in rows.items() if "MACs" in unit]
    assert len(macs) == 9
    for r in macs:
        assert abs(float(r["paper_ratio"]) - 1) <= 0.02, r


def test_published_vgg_alexnet_and_cifar_params_within_5_percent():
    rows = _comparison(
        [
            "VGG16-Orig",
            "X-VGG16-1",
            "X-VGG16-2",
            "AlexNet-Orig",
            "X-AlexNet-1",
            "X-AlexNet-2",
            "X-DenseNet-BC-40-36-2",
            "X-DenseNet-BC-40-48-2",
            "X-DenseNet-BC-40-60-2",
        ]
    )
    params = [r for (_, unit), r in rows.items() if unit == "M params"]
    assert len(params) == 9
    for r in params:
        tol = 0.02 if "VGG" in r["model"] or "AlexNet" in r["model"] else 0.05
        assert abs(float(r["paper_ratio"]) - 1) <= tol, r


def test_table1_dense_and_x_rows():
    rows = _comparison(["ResNet-50", "X-ResNet-2-50", "DenseNet-BC-121", "DenseNet-BC-161"])
    unit = "FLOPs in 100M (FLOPs = 2 x MACs)"
    assert abs(float(rows["ResNet-50", unit]["paper_ratio"]) - 1) <= 0.05
    assert abs(float(rows["DenseNet-BC-121", unit]["paper_ratio"]) - 1) <= 0.05
    assert 1.0 <= float(rows["X-ResNet-2-50", unit]["paper_ratio"]) <= 1.2  # faithful rule: 4-17% above
    dn161 = rows["DenseNet-BC-161", unit]
    assert float(dn161["paper_ratio"]) > 1.3 and "misprint" in dn161["note"]


def test_both_variants_side_by_side():
    rows = _comparison(["X-VGG16-2", "MobileNet-0.5"], variants=("original", "paper"))
    vgg = rows["X-VGG16-2", "M params"]
    assert vgg["published"] == "1.15" and vgg["paper"] == "1.152" and vgg["original"] == "0.7631"  # the logged network
    assert float(vgg["original_ratio"]) == pytest.approx(0.7631 / 1.15, abs=1e-3)
    mobilenet = next(r for (m, _), r in rows.items() if m == "MobileNet-0.5")
    assert float(mobilenet["paper_macs_M"]) == pytest.approx(149.5) and float(mobilenet["original_macs_M"]) > 170


def test_cli_prints_csv_and_markdown(capsys):
    from xnet.profile import main

    main(["--models", "X-VGG16-2", "G-MobileNet-0.5-2", "--format", "csv", "--variants", "paper"])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["model"] for r in rows] == ["X-VGG16-2", "G-MobileNet-0.5-2"] and "original" not in rows[0]
    assert rows[0]["published"] == "1.15" and abs(float(rows[0]["paper_ratio"]) - 1) < 0.01
    assert rows[1]["published"] == "" and rows[1]["paper_ratio"] == ""
    main(["--models", "X-VGG16-2", "--format", "markdown"])
    md = capsys.readouterr().out
    assert md.startswith("| model |") and md.count("\n") == 3 and "| original ratio |" in md
    with pytest.raises(SystemExit):
        main(["--models", "ResNet-7"])


def test_python_dash_m_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "xnet.profile", "--models", "X-MobileNet-0.5-16"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("model,source,") and "| X-MobileNet-0.5-16 |" in out and "29.5" in out
    assert ",original,original_ratio," in out and ",paper,paper_ratio," in out
    bad = subprocess.run(
        [sys.executable, "-m", "xnet.profile", "--variants", "authors"], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "invalid choice" in bad.stderr
