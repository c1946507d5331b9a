"""Smoke tests of the benchmark scripts (tiny shapes; the real runs are `python -m xnet.bench layers | models |
gpu`)."""

import csv
import json
import os
import subprocess
import sys

import pytest
import torch

from xnet import bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bench_layers_runs(capsys):
    bench.main(["layers", "--quick", "--compressions", "4", "--repeats", "1"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| cpu")]
    backends = {line.split("|")[6].strip().split("(")[0] for line in rows}
    assert {"dense", "G-Conv", "masked", "gather", "sparse", "block", "auto"} <= backends
    assert all(float(line.split("|")[7]) > 0 for line in rows)  # train ms (ratios may print 0.00 under load)


def test_bench_models_runs(capsys):
    bench.main(["models", "--quick", "--repeats", "1"])
    rows = [
        [c.strip() for c in line.split("|")[1:-1]]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("| cpu")
    ]
    by_variant = {r[2]: r for r in rows}
    assert set(by_variant) == {"dense", "G", "X", "X block8"}
    assert by_variant["dense"][6] == "1.00" and by_variant["G"][7] == "1.00"  # ratios to themselves
    # X (either graph) and G at the same compression: the same parameters and MACs, fewer than dense
    assert by_variant["X"][3:5] == by_variant["X block8"][3:5] == by_variant["G"][3:5]
    assert float(by_variant["X"][4]) < float(by_variant["dense"][4])
    assert all(float(r[5]) > 0 and float(r[8]) > 0 for r in rows)


def test_bench_gpu_without_cuda_says_so_in_one_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: `python -m xnet.bench gpu` would run")
    out = tmp_path / "gpu"
    proc = subprocess.run(
        [sys.executable, "-m", "xnet.bench", "gpu", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("xnet: error: bench gpu: no CUDA device") and len(proc.stderr.splitlines()) == 1
    assert not out.exists()  # nothing written


def test_bench_gpu_self_test_on_cpu(tmp_path):
    # every part of the GPU check end to end, at tiny sizes on CPU (the hidden --device cpu --tiny)
    out = tmp_path / "gpu"
    assert bench.main(["gpu", "--out", str(out), "--device", "cpu", "--tiny", "--budget", "600"]) == 0
    parts = json.loads((out / "parts.json").read_text())
    assert {k: v["status"] for k, v in parts.items()} == dict.fromkeys(
        ["correctness", "layers", "models", "train", "projection"], "ok"
    )
    correctness = _csv(out / "correctness.csv")
    assert {r["backend"] for r in correctness} >= {"masked", "gather", "block", "sparse", "auto"}
    assert {r["dtype"] for r in correctness} == {"float32", "bfloat16"}
    assert all(r["ok"] == "True" for r in correctness)
    layers = _csv(out / "layers.csv")
    assert {"dense", "G-Conv", "block"} <= {r["backend"] for r in layers}
    assert all(float(r["train_ms"]) > 0 for r in layers)
    assert {r["variant"] for r in _csv(out / "models.csv")} == {"dense", "X block8"}
    (train,) = _csv(out / "train.csv")
    assert train["status"] == "ok" and (out / "train" / train["family"] / "metrics.json").exists()
    total = _csv(out / "projection.csv")[-1]
    assert total["experiment"].startswith("all") and float(total["gpu_hours"]) > 0 and total["runs_missing"] == "0"
    assert int(total["runs_measured"]) >= 1 and int(total["runs_scaled"]) >= 1
    assert "## Parts" in (out / "summary.md").read_text()
    # a second run never overwrites the first
    assert bench.main(["gpu", "--out", str(out), "--device", "cpu", "--tiny"]) == 1
    assert json.loads((out / "parts.json").read_text()) == parts


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
