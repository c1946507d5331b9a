"""Fault cases of the Snakemake workflow (issue 10, item 5): a configuration that cannot run stops
`snakemake -n` with one line naming the config key; a deleted run record is rebuilt by a plain
`snakemake`; a corrupt run record makes gather fail naming the file.

Each case is a dry run (or one local job) on a small configuration in a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import load_wfconfig

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = shutil.which("snakemake")
pytestmark = pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake not installed")

# one row, one seed: the smallest configuration that exercises the whole DAG
TINY = [{"experiment": "table4", "rows": ["X-VGG-2"], "seeds": [0]}]


def run(tmp_path, overrides=None, *args, expect_ok=False):
    """`snakemake -n` (unless args say otherwise) in tmp_path with the smoke config + overrides."""
    cfg = {"experiments": TINY}
    cfg.update(overrides or {})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(tmp_path / "c.yaml"),
        "--cores",
        "1",
        *(args or ["-n"]),
    ]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    if expect_ok:
        assert r.returncode == 0, out[-3000:]
    else:
        assert r.returncode != 0, out[-3000:]
    return out


def error_line(out):
    """The one line of a parse-time error (Snakemake prints it after 'WorkflowError in file ...')."""
    lines = out.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("WorkflowError"))
    return lines[i + 1]


wfconfig = load_wfconfig()


def check(overrides):
    """What common.smk does at parse time, in-process: smoke config + overrides (merged as Snakemake
    merges a --configfile), schema, then wfconfig.check.  Returns the ConfigError's message."""
    from snakemake.utils import update_config, validate

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    update_config(cfg, {"experiments": TINY, **overrides})
    validate(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    with pytest.raises(wfconfig.ConfigError) as e:
        wfconfig.check(cfg)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def smoke_scale(**changes):
    scale = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["scale"]
    scale.update(changes)
    return scale


def test_device_auto_stops_the_dry_run_in_one_line(tmp_path):
    """The wiring: a refused value stops `snakemake -n` at parse time, one line naming the key."""
    out = run(tmp_path, {"scale": {"device": "auto"}})
    assert error_line(out) == "config scale.device: must be one of cpu, cuda, got 'auto'"
    assert "rule train" not in out
    # the trainer refuses it too (schema, workflow and trainer agree)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "xnet",
            "train",
            "--model",
            "VGG16",
            "--dataset",
            "synthetic-cifar10",
            "--out",
            str(tmp_path / "r"),
            "--device",
            "auto",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0 and "auto" in r.stderr and not (tmp_path / "r").exists()


def test_unknown_model_name():
    msg = check({"train": {"model_resources": {"X-FooNet-3": {"gpu": 0}}}})
    assert msg.startswith("train.model_resources.X-FooNet-3: unknown model 'X-FooNet-3'") and "X-VGG16-1" in msg
    msg = check({"train": {"model_resources": {"X-VGG16-7": {"gpu": 0}}}})
    assert msg.startswith("train.model_resources.X-VGG16-7:") and "X-VGG16-1 and X-VGG16-2 only" in msg


def test_unknown_row_label_and_experiment():
    msg = check({"experiments": [{"experiment": "table4", "rows": ["X-VGG-9"]}]})
    assert msg.startswith("experiments[0].rows: table4 has no row 'X-VGG-9'") and "X-VGG-2" in msg
    msg = check({"experiments": [{"experiment": "table9"}]})
    assert msg.startswith("experiments[0]: unknown experiment 'table9'") and "table4" in msg


def test_seed_the_trainer_refuses():
    msg = check({"experiments": [{"experiment": "table4", "rows": ["VGG"], "seeds": [2**32]}]})
    assert msg == "experiments (seeds): must be an integer in 0..4294967295, got 4294967296"


@pytest.mark.parametrize(
    "pair, why",
    [
        ("lr=abc", "expected a number"),
        ("lr=nan", "finite"),
        ("no_such_field=1", "unknown recipe field"),
        ("lr", "field=value"),
        ("lr=-1", "lr"),
    ],
)
def test_bad_set_value(pair, why):
    msg = check({"scale": {"set": [pair]}})
    assert msg.startswith("scale.set:") and why in msg


@pytest.mark.parametrize(
    "name, why", [("synthetic-cifar1O", "unknown dataset"), ("synthetic-imagenet", "stands for imagenet, not cifar10")]
)
def test_dataset_the_trainer_does_not_know(name, why):
    msg = check({"scale": {"datasets": {"cifar10": name}}})
    assert msg.startswith("scale.datasets.cifar10:") and why in msg


def test_stand_in_for_a_dataset_its_models_do_not_stand_for():
    """fashion-mnist stands for each model family's own dataset: a CIFAR-100 row would be mislabelled."""
    msg = check(
        {
            "scale": {"datasets": {"cifar100": "fashion-mnist"}},
            "experiments": [{"experiment": "figure4", "rows": ["DenseNet-BC-100-12"], "seeds": [0]}],
        }
    )
    assert msg.startswith("scale.datasets.cifar100:") and "DenseNet-BC-100-12 would stand for cifar10" in msg


@pytest.mark.parametrize(
    "families, why",
    [
        ({"mobilenet": {"set": ["lr=0.1"]}}, "scale.families.mobilenet: unknown model family"),
        ({"mobilenet05_imagenet": {"set": ["lr=-1"]}}, "scale.families.mobilenet05_imagenet.set:"),
        ({"mobilenet05_imagenet": {"epochs": 0}}, "epochs"),
    ],
)
def test_per_family_options_are_checked(families, why):
    try:
        msg = check({"scale": {"families": families}})
    except Exception as e:  # the schema may refuse the shape first (epochs >= 1)
        msg = str(e)
    assert why in msg


def test_device_auto():
    msg = check({"scale": {"device": "auto"}})
    assert msg == "scale.device: must be one of cpu, cuda, got 'auto'"


def test_unknown_variant():
    msg = check({"variant": "authors"})
    assert msg.startswith("variant:") and "original" in msg and "paper" in msg


def test_missing_published_csv(tmp_path, monkeypatch):
    """A published CSV missing from the package stops the dry run (not the table job after all training)."""
    from xnet.results import published

    pub = tmp_path / "published"
    shutil.copytree(published.path("table4").parent, pub)
    (pub / "table4_cifar10_stability_10runs.csv").unlink()
    monkeypatch.setattr(published, "_dir", lambda: pub)
    msg = check({})
    assert msg.startswith("experiments (table4): no published file 'table4_cifar10_stability_10runs.csv'")


def _fake_finished_workflow(tmp_path):
    """Every output of the TINY workflow present, in dependency order (oldest first)."""
    metrics = tmp_path / "runs/smoke/cifar10/X-VGG16-2/original/seed0/metrics.json"
    outputs = [
        metrics,
        tmp_path / "results/runs/table4.csv",
        tmp_path / "results/runs.csv",
        *(tmp_path / f"results/tables/table4.{x}" for x in ("csv", "md", "tex")),
        tmp_path / "results/tables/claims.csv",
        tmp_path / "results/tables/claims.md",
        tmp_path / "figures/curves/index.csv",
        tmp_path / "figures/curves",
    ]
    now = time.time()
    for i, p in enumerate(outputs):
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists():
            p.write_text("{}")
        os.utime(p, (now - 100 + i, now - 100 + i))
    return metrics


def test_deleted_metrics_json_is_rebuilt(tmp_path):
    metrics = _fake_finished_workflow(tmp_path)
    assert "Nothing to be done" in run(tmp_path, None, "-n", expect_ok=True)
    metrics.unlink()
    out = run(tmp_path, None, "-n", expect_ok=True)
    assert "rule train:" in out and str(metrics.relative_to(tmp_path)) in out
    assert "rule table:" in out  # and what depends on it is remade


def test_corrupt_metrics_json_names_the_file(tmp_path):
    metrics = _fake_finished_workflow(tmp_path)
    metrics.write_text('{"model": "X-VGG16-2", "top1_err": NaN')
    out = run(tmp_path, None, "-f", "results/runs.csv")
    rel = str(metrics.relative_to(tmp_path))
    assert "corrupt run record" in out and rel in out
    assert "Traceback" not in (tmp_path / "results/logs/gather.log").read_text()
    assert rel in (tmp_path / "results/logs/gather.log").read_text()
