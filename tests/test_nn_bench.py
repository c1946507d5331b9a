"""Smoke tests of the benchmark scripts (tiny shapes; the real runs are `python -m xnet.bench layers | models |
gpu`)."""

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


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["foo"],
        ["layers", "--bogus"],
        ["layers", "--batch", "0"],
        ["layers", "--batch", "x"],
        ["layers", "--repeats", "0"],
        ["layers", "--compressions", "0"],
        ["layers", "--compressions", "3"],  # does not divide 512 channels
        ["layers", "--shapes", "3x0x14"],
        ["layers", "--shapes", "3x256"],
        ["layers", "--block-size", "1"],
        ["layers", "--block-size", "48"],  # does not divide D = 256 / 2
        ["layers", "--slow", "0"],
        ["layers", "--slow", "nan"],
        ["layers", "--threads", "-2"],
        ["layers", "--device", "tpu"],
        ["layers", "--quick", "--batch", "4"],
        ["models", "--batch", "4"],
        ["models", "--compressions", "4"],
        ["--quick", "gpu"],
        ["gpu"],
        ["gpu", "--out"],
        ["gpu", "--out", "x", "--budget", "0"],
        ["gpu", "--out", "x", "--budget", "inf"],
        ["gpu", "--out", "x", "--parts", "bogus"],
        ["gpu", "--out", "x", "--device", "cpu"],  # the self-test needs --tiny
        ["gpu", "--out", "x", "--bogus"],
    ],
)
def test_bad_arguments_give_one_line_and_status_2(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # "x" would be created nowhere else
    assert bench.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("xnet: error: bench") and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("module", ["tune", "compare"])
def test_bench_workers_reject_bad_arguments_in_one_line(module, capsys):
    from xnet.bench import compare, tune

    main = {"tune": tune.main, "compare": compare.main}[module]
    assert main(["--out", "x", "--budget", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"xnet: error: bench.{module}: argument --budget") and len(err.splitlines()) == 1
