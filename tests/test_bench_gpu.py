"""The GPU check (``python -m xnet.bench gpu``) on CPU: its self-test end to end (``--device cpu
--tiny``, the ``triton`` cases through Triton's interpreter in a subprocess), the flat output folder
the device machine can bring back, the watchdog, and the end of the in-process parts after a CUDA
error.  No GPU is needed; the real run is documented in docs/benchmarks.md."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
import torch

from xnet.bench import gpu

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"^[A-Za-z0-9._-]+$")  # what the device tool brings back


def _env(**extra):
    env = dict(os.environ, OMP_NUM_THREADS="1", **extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def assert_flat_and_small(out: Path):
    files = sorted(out.iterdir())
    assert all(p.is_file() for p in files), files  # no folders
    assert len(files) <= 8 and {p.name for p in files} <= set(gpu.OUT_FILES)
    assert all(NAME.match(p.name) for p in files)
    for p in files:
        limit = gpu.MAX_TAR_BYTES if p.name.endswith(".tar.gz") else gpu.MAX_FILE_BYTES
        assert p.stat().st_size <= limit, p
    return {p.name for p in files}


@pytest.fixture(scope="module")
def self_test(tmp_path_factory):
    if importlib.util.find_spec("triton") is None:
        pytest.skip("triton is not installed")
    base = tmp_path_factory.mktemp("gpu")
    out, scratch = base / "out", base / "scratch"
    cmd = [sys.executable, "-m", "xnet.bench", "gpu", "--out", str(out), "--scratch", str(scratch)]
    proc = subprocess.run(
        cmd + ["--device", "cpu", "--tiny", "--budget", "400"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(TRITON_INTERPRET="1"),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, scratch, proc


FILE_OF_PART = {"kernels": "kernels.csv", "train": "train.csv", "correctness": "correctness.csv"}
FILE_OF_PART |= {"layers": "timings.csv", "models": "timings.csv"}


def test_self_test_writes_only_small_flat_files(self_test):
    out, scratch, proc = self_test
    names = assert_flat_and_small(out)
    assert {"summary.md", "status.json", "scratch.tar.gz", "correctness.csv", "timings.csv"} <= names
    parts = json.loads((out / "status.json").read_text())["parts"]
    done = {FILE_OF_PART.get(p, p) for p, s in parts.items() if s["status"] == "ok"}  # a part cut by its
    assert done - {"projection"} <= names  # time box on a loaded machine writes no table
    with tarfile.open(out / "scratch.tar.gz") as t:
        members = t.getnames()
    assert "scratch/log.txt" in members and "scratch/projection_runs.csv" in members
    assert not [m for m in members if m.endswith(".pt") or "triton-cache" in m]
    # summary.md is printed at the end, then one line per part
    summary = (out / "summary.md").read_text()
    assert "## Parts" in summary and summary.strip() in proc.stdout
    assert proc.stdout.strip().splitlines()[-1].startswith("part projection: ")


def test_self_test_parts_all_ran(self_test):
    out, _, _ = self_test
    status = json.loads((out / "status.json").read_text())
    assert list(status["parts"]) == list(gpu.PARTS)
    assert status["cuda_error"] is None
    for name, part in status["parts"].items():
        # correctness may note the CPU paths that drop channels_last; nothing failed or was cut
        assert not part["status"].startswith("failed") and "skipped" not in part["status"], (name, part)
        assert "out of tolerance" not in part["status"]


def test_self_test_correctness_covers_the_issue_cases(self_test):
    out, _, _ = self_test
    rows = _csv(out / "correctness.csv")
    dtypes = list(dict.fromkeys(r["dtype"] for r in rows))
    assert dtypes == ["bfloat16", "float16", "float32"]  # the GPU-only ones first
    assert {r["graph"] for r in rows} == {"output", "input", "block8"}
    assert {"2"} <= {r["stride"] for r in rows} and {"True"} <= {r["bias"] for r in rows}
    assert {r["backend"] for r in rows} >= {"masked", "gather", "block", "sparse", "triton", "auto"}
    checked = [r for r in rows if r["ok"] != ""]
    assert all(r["ok"] == "True" for r in checked)
    assert all(r["err_gb"] != "" for r in checked if r["bias"] == "True")  # bias gradients checked
    triton = [r for r in rows if r["backend"] == "triton"]
    assert {r["dtype"] for r in triton if r["ok"] == "True"} == {"float16", "float32"}
    # bf16 triton cannot be checked by the interpreter: recorded as not checked, not passed
    assert all("interpreter" in r["error"] for r in triton if r["dtype"] == "bfloat16")


def test_self_test_kernels_and_adoptable_configs(self_test):
    from xnet.bench.tune import KERNELS, PARAMS, load_configs

    out, _, _ = self_test
    rows = _csv(out / "kernels.csv")
    defaults = [r for r in rows if r["role"] == "default"]
    assert {r["kernel"] for r in defaults} == set(KERNELS)
    # the check's launcher with the library's parameters reproduces the library op exactly
    assert all(r["ok"] == "True" and r["matches_library"] == "True" for r in defaults)
    assert all(float(r["compile_s"]) > 0 for r in defaults)
    assert any(r["role"] == "sweep" for r in rows)
    configs = load_configs(out / "triton_configs.csv")
    assert {k[2] for k in configs} == set(KERNELS)
    assert all(set(v) == set(PARAMS) for v in configs.values())
    for r in _csv(out / "triton_configs.csv"):  # a winner is never slower than the default
        assert float(r["ms"]) <= float(r["default_ms"])


def test_self_test_training_comparison_and_timings(self_test):
    out, _, _ = self_test
    train = _csv(out / "train.csv")
    assert [int(r["step"]) for r in train] == list(range(len(train))) and len(train) >= 2
    assert all(float(r["rel_diff"]) < 1e-2 for r in train)
    assert all(float(r["ms_triton"]) > 0 and float(r["ms_masked"]) > 0 for r in train)
    timings = _csv(out / "timings.csv")
    assert {r["table"] for r in timings} == {"layers", "models"}
    models = {r["variant"]: r for r in timings if r["table"] == "models"}
    assert int(models["X block8"]["macs"]) < int(models["dense"]["macs"])  # counted on the meta device
    assert all(float(r["train_ms"]) > 0 for r in timings if r["table"] == "layers" and r["train_ms"])


def test_second_run_never_overwrites(self_test, capsys):
    out, _, _ = self_test
    before = (out / "status.json").read_text()
    assert gpu.main(["--out", str(out), "--device", "cpu", "--tiny"]) == 1
    assert "not an empty directory" in capsys.readouterr().err
    assert (out / "status.json").read_text() == before


def _check(tmp_path, budget=60.0):
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    out.mkdir(parents=True)
    scratch.mkdir()
    env = dict(command="test", machine="test", started="now", device="cpu", torch="", cuda="", triton="")
    return gpu.Check(out, scratch, torch.device("cpu"), True, budget, env)


def test_checkpoints_and_large_scratch_never_reach_the_flat_folder(tmp_path):
    ck = _check(tmp_path)
    (ck.scratch / "train" / "run").mkdir(parents=True)
    (ck.scratch / "train" / "run" / "checkpoint.pt").write_bytes(os.urandom(2_000_000))
    (ck.scratch / "train" / "run" / "metrics.json").write_text("{}")
    ck.add("layers", dict(k=1, train_ms=1.0))
    ck.add("models", dict(model="m", train_ms=2.0))
    ck.finish()
    assert assert_flat_and_small(ck.out) == {"summary.md", "status.json", "timings.csv", "scratch.tar.gz"}
    with tarfile.open(ck.out / "scratch.tar.gz") as t:
        names = t.getnames()
    assert "scratch/train/run/metrics.json" in names and not any(n.endswith(".pt") for n in names)
    assert any("1 *.pt" in n for n in json.loads((ck.out / "status.json").read_text())["notes"])

    ck2 = _check(tmp_path / "big")  # a scratch folder too large to tar: left out, and said so
    (ck2.scratch / "raw.bin").write_bytes(os.urandom(gpu.MAX_TAR_BYTES + 100_000))
    ck2.finish()
    assert assert_flat_and_small(ck2.out) == {"summary.md", "status.json"}
    assert "not written" in (ck2.out / "summary.md").read_text()


def test_cuda_error_ends_in_process_parts_but_not_the_file(tmp_path):
    ck = _check(tmp_path)
    ran = []

    def correctness(ck, deadline):
        ran.append("correctness")
        raise ValueError("boom")

    def kernels(ck, deadline):  # a subprocess part: runs after a failure and after a CUDA error
        ran.append("kernels")
        assert "boom" in (ck.out / "summary.md").read_text()  # the summary was rewritten after part 1
        ck.cuda_error = "RuntimeError: CUDA error: an illegal memory access was encountered"
        return ""

    def layers(ck, deadline):
        ran.append("layers")

    def train(ck, deadline):
        ran.append("train")
        return "a note"

    ck.run_parts([("correctness", correctness), ("kernels", kernels), ("layers", layers), ("train", train)])
    assert ran == ["correctness", "kernels", "train"]
    st = {k: v["status"] for k, v in ck.status.items()}
    assert st["correctness"] == "failed: ValueError: boom"
    assert st["kernels"] == "ok" and st["train"] == "a note"
    assert st["layers"].startswith("skipped: the CUDA context broke earlier (RuntimeError: CUDA error")
    summary = (ck.out / "summary.md").read_text()
    assert "CUDA context broken" in summary and "a note" in summary
    with pytest.raises(gpu.CudaBroken):
        ck.probe()


def test_watchdog_writes_the_files_and_exits(tmp_path):
    script = textwrap.dedent(
        f"""
        import time, torch
        from pathlib import Path
        from xnet.bench import gpu
        gpu.spec.WATCHDOG_GRACE_S = 0.2
        out, scratch = Path({str(tmp_path / "out")!r}), Path({str(tmp_path / "scratch")!r})
        out.mkdir(); scratch.mkdir()
        env = dict(command="t", machine="t", started="t", device="cpu", torch="", cuda="", triton="")
        ck = gpu.Check(out, scratch, torch.device("cpu"), True, 1.5, env)
        ck.watchdog()
        def hangs(ck, deadline):
            time.sleep(60)  # a hung kernel
        ck.run_parts([("layers", hangs)])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=60)
    assert proc.returncode == 3, proc.stderr
    status = json.loads((tmp_path / "out" / "status.json").read_text())
    assert status["parts"]["layers"]["status"].startswith("failed: still running")
    assert "watchdog" in (tmp_path / "out" / "summary.md").read_text()
    assert_flat_and_small(tmp_path / "out")
