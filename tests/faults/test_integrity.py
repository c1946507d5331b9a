"""Issue 16 ("Nothing mixes, nothing is lost"): nothing xnet writes destroys a file it did not
create, bad arguments and bad data stop with one line, graphs of huge layers are cheap to draw,
checkpoints of another format or xnet are refused, and a failed training job says why on the
Snakemake console.

Tiny runs on synthetic data (``tests/conftest.py``), in-process through the entry points' ``main``
except where the real process is the point.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

from xnet import cli
from xnet.errors import UserError
from xnet.training.checkpoint import CHECKPOINT_FORMAT, load_checkpoint

from conftest import one_line_error, tiny_train_config

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished tiny run (checkpoint.pt, metrics.json, train.log, .lock), trained once for the module."""
    from xnet.training import train

    out = tmp_path_factory.mktemp("integrity") / "run"
    train(tiny_train_config(out, epochs=1))
    assert (out / "checkpoint.pt").exists() and (out / "metrics.json").exists()
    return out


def _snapshot(d: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


# ------------------------------------------------------------------ 1. evaluate --json never destroys
@pytest.mark.parametrize("name", ["checkpoint.pt", "metrics.json", "train.log", ".lock", "checkpoint.pt.tmp"])
def test_evaluate_json_refuses_the_run_directorys_own_files(run_dir, capsys, name):
    before = _snapshot(run_dir)
    for extra in ([], ["--force"]):
        capsys.readouterr()
        rc = cli.main(
            ["evaluate", "--checkpoint", str(run_dir), "--no-progress", "--json", str(run_dir / name), *extra]
        )
        err = one_line_error(capsys, rc)
        assert f"{name} is a run directory's own file name" in err
    assert _snapshot(run_dir) == before  # nothing replaced, nothing added


def test_evaluate_json_refuses_a_link_to_a_run_file_and_the_checkpoint_itself(run_dir, tmp_path, capsys):
    before = _snapshot(run_dir)
    link = tmp_path / "ev.json"
    link.symlink_to(run_dir / "metrics.json")
    rc = cli.main(["evaluate", "--checkpoint", str(run_dir), "--no-progress", "--json", str(link), "--force"])
    assert "metrics.json is a run directory's own file name" in one_line_error(capsys, rc)
    copy = tmp_path / "best.pt"  # a checkpoint under another name: --json must not replace it either
    shutil.copy(run_dir / "checkpoint.pt", copy)
    rc = cli.main(["evaluate", "--checkpoint", str(copy), "--no-progress", "--json", str(copy), "--force"])
    assert "is the checkpoint being evaluated" in one_line_error(capsys, rc)
    assert copy.read_bytes() == before["checkpoint.pt"]
    assert _snapshot(run_dir) == before


def test_evaluate_json_overwrites_an_existing_file_only_with_force(run_dir, tmp_path, capsys):
    target = tmp_path / "ev.json"
    target.write_text("my notes\n")
    rc = cli.main(["evaluate", "--checkpoint", str(run_dir), "--no-progress", "--json", str(target)])
    err = one_line_error(capsys, rc)
    assert f"--json {target}: exists (give --force to overwrite it)" in err
    assert target.read_text() == "my notes\n"
    assert cli.main(["evaluate", "--checkpoint", str(run_dir), "--no-progress", "--json", str(target), "--force"]) == 0
    assert json.loads(target.read_text())["epoch"] == 1


# ------------------------------------------------------------------ 2. bad arguments: one line, exit 2
GRAPHS_ARGS = [
    (["--compressions", "0"], "argument --compressions: must be a positive integer, got 0"),  # ZeroDivisionError
    (["--sizes", "0"], "argument --sizes: must be a positive integer, got 0"),
    (["--sizes", "64", "--compressions", "3"], "argument --compressions: 3 does not divide --sizes 64"),
    (["--sizes", "64", "--compressions", "64"], "argument --compressions: 64 leaves degree 1"),  # log_D n / 0
    (["--sizes", "abc"], "argument --sizes: must be a positive integer, got 'abc'"),
    (["--max-depth", "0"], "argument --max-depth: must be a positive integer"),
    (["--threads", "0"], "argument --threads: must be a positive integer"),  # a torch RuntimeError before
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--sizes"], "argument --sizes: expected at least one argument"),
]


@pytest.mark.parametrize("args, why", GRAPHS_ARGS, ids=[" ".join(a) for a, _ in GRAPHS_ARGS])
def test_graphs_bad_arguments(args, why, capsys):
    from xnet.graphs.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(args)
    err = one_line_error(capsys, e.value.code)
    assert why in err and err.endswith("(see python -m xnet.graphs --help)"), err


def test_graphs_bad_argument_in_a_real_process():
    r = subprocess.run(
        [sys.executable, "-m", "xnet.graphs", "--sizes", "64", "--compressions", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == (
        "xnet: error: argument --compressions: must be a positive integer, got 0 (see python -m xnet.graphs --help)"
    )


@pytest.mark.parametrize(
    "args, why",
    [
        (["--models", "ResNet-7"], "argument --models: no published figure for ResNet-7"),
        (["--models", "X-VGG16-1", "ResNet-7"], "no published figure for ResNet-7"),  # not silently dropped
        (["--format", "xml"], "argument --format: invalid choice"),
        (["--variants", "authors"], "argument --variants: invalid choice"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_profile_bad_arguments(args, why, capsys):
    from xnet.profile import main

    with pytest.raises(SystemExit) as e:
        main(args)
    assert why in one_line_error(capsys, e.value.code)


@pytest.mark.parametrize(
    "args, why",
    [
        ([], "the following arguments are required: cmd"),
        (["tabel"], "argument cmd: invalid choice: 'tabel'"),
        (["table", "table4"], "the following arguments are required: --runs, -o/--out"),
        (
            ["table", "table4", "--runs", "r.csv", "-o", "t", "--seeds", "-1"],
            "argument --seeds: must be an integer >= 0",
        ),
        (
            ["table", "table4", "--runs", "r.csv", "-o", "t", "--seeds", "x"],
            "argument --seeds: must be an integer >= 0",
        ),
        (["claims", "--runs", "r.csv", "-o", "c", "--variant", "authors"], "argument --variant: invalid choice"),
        (["gather", "runs", "-o", "r.csv", "--expect", "{"], "argument --expect: not JSON"),
        (
            ["gather", "runs", "-o", "r.csv", "--expect", '{"cifar10": {"vgg16_cifar": {"lr": 1}}}'],
            "argument --expect: must be a JSON object",
        ),
    ],
)
def test_results_bad_arguments(args, why, capsys):
    from xnet.results.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(args)
    assert why in one_line_error(capsys, e.value.code)


@pytest.mark.parametrize(
    "args, why",
    [
        ([], "the following arguments are required: command"),
        (["trian"], "invalid choice: 'trian'"),
        (["train", "--model", "VGG16", "--dataset", "synthetic-cifar10", "--out", "r", "--epochs", "0"], "--epochs"),
        (["evaluate", "--checkpoint", "r", "--batch-size", "-3"], "--batch-size"),
        (["evaluate", "--checkpoint", "r", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_xnet_bad_arguments(args, why, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert why in one_line_error(capsys, cli.main(args))
    assert list(tmp_path.iterdir()) == []


def test_argument_types():
    import argparse

    from xnet import arguments as cli

    assert cli.positive_int(" 7") == 7 and cli.nonnegative_int("0") == 0
    for bad in ("0", "-1", "1.5", "", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="must be a positive integer"):
            cli.positive_int(bad)


# ------------------------------------------------------------------ 3. graphs of huge layers
_HUGE = textwrap.dedent(
    """
    import json, resource, sys, time
    import torch
    from xnet.nn import XLinear

    def vm_bytes():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

    # a dense (out, in) score matrix would need 40 GB: cap the address space 1 GiB above what is
    # mapped now, so that the old construction fails at once instead of swapping the machine
    cap = vm_bytes() + 2**30
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    layer = XLinear(100000, 100000, degree=8, seed=3)
    dt = time.perf_counter() - t
    nb = layer.neighbors
    print(json.dumps({
        "seconds": dt,
        "peak_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024,
        "shape": list(nb.shape),
        "distinct": bool((nb[:, 1:] > nb[:, :-1]).all()),
        "range": [int(nb.min()), int(nb.max())],
        "max_input_degree": int(layer.graph.input_degrees().max()),
    }))
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and caps RLIMIT_AS")
def test_huge_sparse_layer_draws_its_graph_in_o_edges():
    """``XLinear(100000, 100000, degree=8)``: 800k edges, drawn in well under a second and a few MB.

    (tracemalloc does not see torch's allocations, hence the address-space cap and max RSS.)"""
    r = subprocess.run(
        [sys.executable, "-c", _HUGE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["shape"] == [100000, 8] and res["distinct"] and res["range"][0] >= 0 and res["range"][1] < 100000
    assert res["peak_growth_mb"] < 200, res  # a dense draw: 40000 MB; the table itself is 6.4 MB
    assert res["seconds"] < 10, res
    assert res["max_input_degree"] < 40  # Poisson(8)-like input degrees, no input hogging outputs


def _legacy_random(num_inputs, num_outputs, degree, seed, regular="output"):
    """xnet's original draw: the top ``degree`` of a dense matrix of uniform scores per row."""
    from xnet.graphs import BipartiteGraph

    g = torch.Generator()
    g.manual_seed(seed)
    if regular == "output":
        return BipartiteGraph(torch.rand(num_outputs, num_inputs, generator=g).topk(degree, dim=1).indices, num_inputs)
    scores = torch.rand(num_inputs, num_outputs, generator=g)
    return BipartiteGraph(scores.topk(degree, dim=1).indices, num_inputs, side="input", num_outputs=num_outputs)


def _legacy_balanced(n, m, degree, seed):
    from xnet.graphs import BipartiteGraph

    g = torch.Generator()
    g.manual_seed(seed)
    base, extra = divmod(m * degree, n)
    quota = torch.full((n,), float(base))
    quota[torch.randperm(n, generator=g)[:extra]] += 1
    ties = torch.rand(m, n, generator=g) * 0.5
    rows = []
    for v in range(m):
        pick = (quota + ties[v]).topk(degree).indices
        quota[pick] -= 1
        rows.append(pick)
    return BipartiteGraph(torch.stack(rows), n)


@pytest.mark.parametrize(
    "n_in, n_out, degree",
    # the last two draw their scores in two chunks, on either side (checked by hand up to
    # X-AlexNet's 9216 -> 4096 fc of degree 1152, too slow for the suite)
    [(10, 3, 3), (64, 32, 8), (512, 512, 64), (300, 7, 299), (4096, 1100, 64), (1100, 4096, 64)],
)
def test_existing_seeds_keep_their_graphs(n_in, n_out, degree):
    """Layers up to EXACT_DRAW_LIMIT connections (every layer of the model zoo) keep their graphs."""
    import xnet.graphs.constructions as C
    from xnet.graphs import random_expander

    assert n_in * n_out <= C.EXACT_DRAW_LIMIT
    for seed in (0, 7):
        assert random_expander(n_in, n_out, degree, seed=seed) == _legacy_random(n_in, n_out, degree, seed)
        if degree <= n_out:
            got = random_expander(n_in, n_out, degree, seed=seed, regular="input")
            assert got == _legacy_random(n_in, n_out, degree, seed, "input")


def test_balanced_expander_keeps_its_graphs():
    from xnet.graphs import balanced_expander

    for n, m, d in ((6, 4, 3), (64, 32, 8), (96, 96, 12), (300, 200, 17)):
        assert balanced_expander(n, m, d, seed=3) == _legacy_balanced(n, m, d, 3)


def test_sparse_draw_is_uniform_and_seeded(monkeypatch):
    """The O(edges) draw (forced here on a small layer): distinct rows, every input equally likely."""
    import xnet.graphs.constructions as C

    monkeypatch.setattr(C, "EXACT_DRAW_LIMIT", 0)
    g = C.random_expander(64, 20000, 6, seed=1)
    assert g == C.random_expander(64, 20000, 6, seed=1) and g != C.random_expander(64, 20000, 6, seed=2)
    assert g != _legacy_random(64, 20000, 6, 1)  # it is the sparse draw that ran
    nb = g.neighbors
    assert bool((nb[:, 1:] > nb[:, :-1]).all())
    counts = g.input_degrees().double()
    expected = 20000 * 6 / 64
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 130, chi2  # 63 degrees of freedom: p < 1e-6 above 130
    # small rows hit many duplicates (6 of 7): still distinct and uniform
    h = C.random_expander(7, 5000, 6, seed=0, regular="output")
    assert bool((h.neighbors[:, 1:] > h.neighbors[:, :-1]).all())
    monkeypatch.setattr(C, "_SPARSE_BELOW", 0)
    h = C.random_expander(7, 7000, 6, seed=0)
    missing = torch.tensor([sorted(set(range(7)) - set(r)) for r in h.neighbors.tolist()]).flatten()
    freq = torch.bincount(missing, minlength=7).double()
    assert float(((freq - 1000) ** 2 / 1000).sum()) < 40  # 6 d.o.f.


# ------------------------------------------------------------------ 4. published CSVs validated
@pytest.fixture
def corrupt_published(tmp_path, monkeypatch):
    """``corrupt(short_name, edit)``: the published files with ``edit(text)`` applied to one of them."""
    from xnet.results import published

    pub = tmp_path / "published"
    shutil.copytree(published.path("table4").parent, pub)
    published._read.cache_clear()
    published._counts.cache_clear()
    monkeypatch.setattr(published, "_dir", lambda: pub)

    def corrupt(name, edit):
        f = pub / published.FILES[name]
        f.write_text(edit(f.read_text()))
        return f

    yield corrupt
    monkeypatch.undo()
    published._read.cache_clear()
    published._counts.cache_clear()


@pytest.mark.parametrize(
    "name, edit, why",
    [
        ("table4", lambda t: t.replace("mean_acc", "mean_accuracy"), "column 'mean_acc' missing"),
        ("table4", lambda t: t.replace("93.96", "193.96"), "line 2: column 'mean_acc': '193.96' is not in [0, 100]"),
        ("table4", lambda t: t.replace("93.96", "n/a"), "line 2: column 'mean_acc': 'n/a' is not a number"),
        ("table4", lambda t: t.replace("X-VGG-1,", "VGG,"), "duplicate key model='VGG' (lines 2 and 3)"),
        ("table4", lambda t: t.replace("X-VGG-2,10,", "X-VGG-2,,"), "line 4: column 'runs' is empty"),
        ("table2", lambda t: t.replace(",1.65,", ",-1.65,"), "line 4: column 'params_M': '-1.65' is below 0"),
        ("table5", lambda t: t.replace("G4,grouped,4,2", "G4,grouped,4,2.5"), "column 'runs': '2.5' is not a whole"),
        ("figure3", lambda t: t.replace("50.59", "150.59"), "column 'gconv_top1_err': '150.59' is not in [0, 100]"),
        ("curves", lambda t: t.replace("val_top5", "val_top_5"), "column 'val_top5' missing"),
    ],
)
def test_published_csv_validated_on_read(corrupt_published, name, edit, why):
    from xnet.results import published

    f = corrupt_published(name, edit)
    with pytest.raises(published.PublishedError) as e:
        published.table(name)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"published file {f}") and why in msg, msg


def test_renamed_column_is_an_error_not_stop_iteration(corrupt_published, capsys):
    """Today's symptom: Table 4's accuracy column renamed made ``lookup`` raise StopIteration."""
    from xnet.results import published
    from xnet.results.__main__ import main
    from xnet.results.experiments import experiment

    f = corrupt_published("table4", lambda t: t.replace("mean_acc", "mean"))
    exp = experiment("table4")
    with pytest.raises(UserError, match="column 'mean_acc' missing"):
        published.lookup(exp, exp.rows[0])
    assert main(["published", "table4"]) == 0  # its path is still printed
    capsys.readouterr()
    runs = Path(f).parent / "runs.csv"
    runs.write_text("")
    rc = main(["table", "table4", "--runs", str(runs), "-o", str(Path(f).parent / "t4")])
    assert rc == 2 and capsys.readouterr().err.startswith("xnet: error: ")


def test_profile_reports_a_corrupt_published_csv_in_one_line(corrupt_published, capsys):
    from xnet.profile import main

    f = corrupt_published("table1", lambda t: t.replace("flops_100M", "flops"))
    err = one_line_error(capsys, main(["--models", "ResNet-34"]))
    assert str(f) in err and "column 'flops_100M' missing" in err


# ------------------------------------------------------------------ 5. checkpoint format and version
@pytest.fixture
def checkpoint_copy(run_dir, tmp_path):
    """``edit(fn)``: a copy of the tiny run's directory whose checkpoint was changed by ``fn(ckpt)``."""

    def edit(fn):
        out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        shutil.copytree(run_dir, out)
        (out / "metrics.json").unlink()  # an unfinished run: train resumes from the checkpoint
        ck = torch.load(out / "checkpoint.pt", weights_only=False)
        fn(ck)
        torch.save(ck, out / "checkpoint.pt")
        return out

    return edit


def test_checkpoint_of_another_format_is_refused(checkpoint_copy, capsys):
    from xnet.training import train

    out = checkpoint_copy(lambda ck: ck.update(format=CHECKPOINT_FORMAT + 1))
    path = out / "checkpoint.pt"
    before = path.read_bytes()
    with pytest.raises(UserError) as e:
        load_checkpoint(path)
    msg = str(e.value)
    assert str(path) in msg and f"format {CHECKPOINT_FORMAT + 1}" in msg and f"format {CHECKPOINT_FORMAT}" in msg
    rc = cli.main(["evaluate", "--checkpoint", str(out), "--no-progress"])  # evaluate
    assert f"has format {CHECKPOINT_FORMAT + 1}" in one_line_error(capsys, rc)
    with pytest.raises(UserError, match=f"has format {CHECKPOINT_FORMAT + 1}"):  # resume
        train(tiny_train_config(out, epochs=2))
    assert path.read_bytes() == before and not (out / "metrics.json").exists()


def test_checkpoint_of_another_major_version_is_refused(checkpoint_copy, capsys):
    out = checkpoint_copy(lambda ck: ck["versions"].update(xnet="7.0.0"))
    rc = cli.main(["evaluate", "--checkpoint", str(out), "--no-progress"])
    err = one_line_error(capsys, rc)
    assert "written by xnet 7.0.0" in err and "another major version" in err


def test_checkpoint_of_another_minor_version_loads_with_one_warning(checkpoint_copy, caplog):
    import xnet

    major = xnet.__version__.split(".")[0]
    out = checkpoint_copy(lambda ck: ck["versions"].update(xnet=f"{major}.999.0"))
    with caplog.at_level(logging.WARNING, logger="xnet.checkpoint"):
        ck = load_checkpoint(out / "checkpoint.pt")
    assert ck["epoch"] == 1
    warnings = [r.getMessage() for r in caplog.records if r.name == "xnet.checkpoint"]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert (
        warnings[0].startswith("xnet: warning: ")
        and f"{major}.999.0" in warnings[0]
        and xnet.__version__ in warnings[0]
    )
    out = checkpoint_copy(lambda ck: ck.pop("versions"))
    with caplog.at_level(logging.WARNING, logger="xnet.checkpoint"):
        load_checkpoint(out / "checkpoint.pt")
    assert "records no xnet version" in caplog.records[-1].getMessage()


def test_checkpoint_of_this_version_loads_silently(run_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="xnet.checkpoint"):
        load_checkpoint(run_dir / "checkpoint.pt")
    assert not [r for r in caplog.records if r.name == "xnet.checkpoint"]


# ------------------------------------------------------------------ 6. a failed train job on the console
SNAKEMAKE = shutil.which("snakemake")


@pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake not installed")
def test_failed_train_job_shows_its_error_line_on_the_console(tmp_path):
    cfg = {"experiments": [{"experiment": "table4", "rows": ["X-VGG-2"], "seeds": [0]}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    run = tmp_path / "runs/smoke/cifar10/X-VGG16-2/original/seed0"
    run.mkdir(parents=True)
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")  # the trainer stops before any epoch
    (run / "snakemake_train.log").write_text("xnet: error: an old attempt's error\n")  # not this attempt's
    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path)]
    cmd += ["--configfile", str(tmp_path / "c.yaml"), "--cores", "1", str(run.relative_to(tmp_path) / "metrics.json")]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0, r.stderr[-3000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("xnet: error:")]
    assert len(lines) == 1, r.stderr[-3000:]  # this attempt's line only, not the old one of the log
    assert lines[0].startswith(f"xnet: error: corrupt checkpoint {run.relative_to(tmp_path) / 'checkpoint.pt'}")
    assert not (run / "metrics.json").exists()
    assert (run / "checkpoint.pt").read_bytes() == b"not a checkpoint"


def test_a_synthetic_set_beyond_memory_is_refused_before_it_is_generated(monkeypatch):
    from xnet.data import build as data

    monkeypatch.setattr(data, "available_memory", lambda: 2**30)  # 1 GiB free
    with pytest.raises(UserError, match=r"train_size: 1,000,000 synthetic 3x32x32 images need about 5.7 GiB") as e:
        data.build_datasets("synthetic-cifar10", train_size=1_000_000, val_size=10)
    assert "--train-size" in str(e.value) and "\n" not in str(e.value)
    tr, _, _ = data.build_datasets("synthetic-cifar10", train_size=20, val_size=10)  # small sets still build
    assert len(tr) == 20


# ------------------------------------------------------------------ 5. an interrupted gather
def test_an_interrupted_gather_leaves_no_partial_runs_table(run_dir, tmp_path, monkeypatch, capsys):
    """A gather that dies while writing (killed, full disk) leaves the previous runs table or none, never
    a partial one; one that stops at a bad record writes nothing; the rerun writes the whole table."""
    import pandas as pd

    from xnet.results.__main__ import main
    from xnet.runs import files

    out = tmp_path / "results" / "runs.csv"
    args = ["gather", str(run_dir), "-o", str(out)]

    def killed(fd):
        raise KeyboardInterrupt  # stands for SIGKILL once the table is half on disk

    with monkeypatch.context() as m:
        m.setattr(files.os, "fsync", killed)
        with pytest.raises(KeyboardInterrupt):
            main(args)
    assert not out.exists() and list(out.parent.iterdir()) == []  # no runs.csv, no runs.csv.tmp
    assert main(args) == 0
    before = out.read_bytes()
    bad = tmp_path / "bad" / "metrics.json"
    bad.parent.mkdir()
    bad.write_text('{"model": "X-VGG16-2", "top1_err": NaN')
    err = one_line_error(capsys, main(["gather", str(run_dir), str(bad), "-o", str(out)]))
    assert f"{bad}: corrupt run record" in err
    assert out.read_bytes() == before and len(pd.read_csv(out)) == 1  # the previous whole table


def test_gather_expect_refuses_a_record_its_scale_does_not_describe(run_dir, tmp_path):
    """``gather --expect``: a 1-epoch record in a run directory of a scale that says 2 epochs (a record
    copied in from elsewhere, or kept through an edit of ``scale.epochs``) is refused, naming the file and
    the field."""
    from xnet.errors import RecordError
    from xnet.results.gather import gather

    path = tmp_path / "runs/smoke/cifar10/densenet_bc_cifar/original/seed1/metrics.json"
    path.parent.mkdir(parents=True)
    shutil.copy(run_dir / "metrics.json", path)
    now = {"dataset": "synthetic-cifar10", "epochs": 1, "limit_train_batches": None, "device": "cpu"}
    assert len(gather([path], "smoke", {"cifar10": {"densenet_bc_cifar": now}})) == 1
    with pytest.raises(RecordError) as e:
        gather([path], "smoke", {"cifar10": {"densenet_bc_cifar": {**now, "epochs": 2}}})
    assert str(e.value).startswith(f"{path}: the record's epochs is 1 but the scale 'smoke' now says 2")
    assert "\n" not in str(e.value)
    with pytest.raises(RecordError, match="the record's dataset is 'synthetic-cifar10' but the scale 'smoke' now"):
        gather([path], "smoke", {"cifar10": {"densenet_bc_cifar": {**now, "dataset": "cifar10"}}})
