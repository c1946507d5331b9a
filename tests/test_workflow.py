"""Tests of the Snakemake workflow (Snakefile, workflow/, config/).

- the paper's experiment matrix (xnet.results.experiments) is the paper's, written out here
  independently; the smoke configuration selects from it and restates nothing;
- the paper configuration's dry-run DAG: one `train` job per run, the variant in every run
  directory, the other job counts from the matrix, published CSVs as inputs;
- `variant: paper` trains the other build into other directories;
- resources and the training command come from the configuration and the package;
- the SLURM profile parses;
- a tiny workflow runs end to end (real trainer): tables with verdicts, claims, curves; a deleted
  metrics.json is rebuilt by a plain `snakemake`; a workflow SIGKILLed while training resumes.

The fault cases of the configuration are in tests/faults/test_workflow.py.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from xnet.results import experiments as xexp

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / "xnet" / "published"
SNAKEMAKE = shutil.which("snakemake")
needs_snakemake = pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake not installed")
PAPER = str(REPO / "config" / "paper.yaml")


def load(name):
    return yaml.safe_load((REPO / "config" / name).read_text())


def snakemake(*args, cwd, timeout=300, check=True):
    """Run snakemake on the repository's Snakefile in ``cwd`` (never the repository: files are written)."""
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), *args]
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r.stdout + r.stderr


def dryrun(tmp_path, *args):
    """A forced dry run in a fresh directory: train jobs as (model, dataset, seed, scale, variant),
    job counts, the text."""
    out = snakemake("-n", "-F", "--cores", "4", *args, cwd=tmp_path)
    jobs = re.findall(
        r"rule train:.*?wildcards: scale=([^,]+), paper_dataset=([^,]+), model=([^,]+), variant=([^,]+), "
        r"seed=(\d+)",
        out,
        flags=re.S,
    )
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", out.split("Job stats:")[1], flags=re.M))
    return [(m, d, int(s), sc, v) for sc, d, m, v, s in jobs], {k: int(v) for k, v in counts.items()}, out


# --------------------------------------------------------------------------- the matrix
def expected_paper_runs():
    """The paper's matrix, written independently of xnet.results.experiments."""
    t1 = [
        "ResNet-34",
        "ResNet-50",
        "ResNet-101",
        "X-ResNet-2-34",
        "X-ResNet-2-50",
        "X-ResNet-2-101",
        "DenseNet-BC-121",
        "DenseNet-BC-169",
        "DenseNet-BC-201",
        "DenseNet-BC-161",
        "X-DenseNet-BC-2-121",
        "X-DenseNet-BC-2-169",
        "X-DenseNet-BC-2-201",
        "X-DenseNet-BC-2-161",
    ]
    runs = {(m, "imagenet", 0) for m in t1}  # Table 1 / Figure 5
    runs |= {(m, "imagenet", 0) for m in ("AlexNet-Orig", "X-AlexNet-1", "X-AlexNet-2")}  # Table 3
    t4 = ["VGG16-Orig", "X-VGG16-1", "X-VGG16-2"] + [f"X-DenseNet-BC-40-{g}-2" for g in (24, 36, 48, 60)]
    runs |= {(m, "cifar10", s) for m in t4 for s in range(10)}  # Table 4 (+ Table 2)
    mb = ["MobileNet-0.5"] + [f"{k}-MobileNet-0.5-{c}" for k in "GX" for c in (2, 4, 8, 16)]
    runs |= {(m, "imagenet", s) for m in mb for s in (0, 1)}  # Table 5 / Figure 3
    f4 = pd.read_csv(PUBLISHED / "figure4_cifar_densenet_tradeoff.csv")
    runs |= {(m, d, 0) for m, d in zip(f4["model"], f4["dataset"])}  # Figure 4
    f6 = pd.read_csv(PUBLISHED / "figure6_cifar100_wider_deeper.csv")
    runs |= {(m, "cifar100", 0) for m in f6["model"]}  # Figure 6
    return runs


def run_set(runs):
    return {(r.model, r.dataset, r.seed) for r in runs}


def test_paper_matrix_is_the_paper():
    assert run_set(xexp.run_matrix(xexp.select("all"))) == expected_paper_runs()
    assert len(expected_paper_runs()) == 139
    # every published row of the paper's own models is a row of its experiment
    for exp, col, keep in [
        ("table1", "model", None),
        ("table2", "method", "this paper"),
        ("table3", "method", "this paper"),
        ("table4", "model", None),
        ("table5", "variant", None),
        ("figure6", "model", None),
    ]:
        pub = pd.read_csv(PUBLISHED / xexp.experiment(exp).published)
        if keep:
            pub = pub[pub["reference"] == keep]
        assert set(pub[col].astype(str)) == set(xexp.experiment(exp).labels), exp


def test_smoke_config_selects_and_restates_nothing():
    cfg = load("config.yaml")
    text = (REPO / "config" / "config.yaml").read_text()
    for restated in ("title:", "published:", "key:", "series:", ".csv"):
        assert restated not in text, restated
    smoke = xexp.select(cfg["experiments"])
    assert set(smoke) == set(xexp.EXPERIMENTS)
    assert run_set(xexp.run_matrix(smoke)) < expected_paper_runs()
    for name in ("table2", "table4", "table5", "figure3"):  # tables that show spread
        assert len(smoke[name].seeds) >= 2, name
    assert len(xexp.run_matrix(smoke)) <= 31  # the smoke run may not get slower
    assert cfg["scale"]["name"] == "smoke" and cfg["scale"]["device"] == "cpu" and cfg["variant"] == "original"
    assert set(cfg["scale"]["datasets"].values()) == {"synthetic-cifar10", "synthetic-cifar100", "synthetic-imagenet"}


def test_paper_config_sets_what_must_not_leak_from_smoke():
    """Snakemake merges --configfile over config/config.yaml: paper.yaml must set every scale key, the
    variant, the resources' defaults, and select the whole matrix (a string, which replaces the list)."""
    smoke, paper = load("config.yaml"), load("paper.yaml")
    assert set(smoke["scale"]) <= set(paper["scale"])
    assert set(smoke["scale"]["datasets"]) <= set(paper["scale"]["datasets"])
    assert paper["variant"] == "original" and paper["experiments"] == "all"
    assert set(smoke["train"]["resources"]) <= set(paper["train"]["resources"])
    assert "title" not in (REPO / "config" / "paper.yaml").read_text()


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml", "fashion.yaml", "fashion-extended.yaml"])
def test_config_validates(name):
    from snakemake.utils import update_config, validate

    cfg = load("config.yaml")
    if name == "fashion-extended.yaml":  # merged over fashion.yaml, as its header says
        update_config(cfg, load("fashion.yaml"))
    update_config(cfg, load(name))
    validate(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("wfconfig", REPO / "workflow" / "scripts" / "wfconfig.py")
    wfconfig = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("wfconfig", wfconfig)
    spec.loader.exec_module(wfconfig)
    plan = wfconfig.check(cfg)
    assert len(plan.runs) == (139 if name == "paper.yaml" else len(xexp.run_matrix(xexp.select(cfg["experiments"]))))
    if name == "fashion.yaml":  # 13 MobileNet-0.5 rows (4 of block expanders) x 3 seeds, all on fashion-mnist
        assert len(plan.runs) == 39 and sum("-b16" in r.model for r in plan.runs) == 12
        args = plan.train_args("imagenet", "X-MobileNet-0.5-4-b16")
        assert "--dataset fashion-mnist" in args and "--limit-train-batches 313" in args
        assert args.count("--set") == 4 and "--set lr=0.05" in args and "--set milestones=2" in args
        assert "--set" not in plan.train_args("cifar10", "VGG16")  # another family: only the scale's options
    if name == "fashion-extended.yaml":  # the panel's 39 runs and 12 more
        assert len(plan.runs) == 51 and "--set lr=0.1" in plan.train_args("cifar10", "X-DenseNet-BC-40-24-2")


def test_run_dir_template_is_the_runs_identity():
    from xnet.runs.layout import Layout, parse_run_dir

    lay = Layout("runs")
    path = lay.metrics("smoke", "cifar10", "X-VGG16-1", "paper", 3)
    assert path == "runs/smoke/cifar10/X-VGG16-1/paper/seed3/metrics.json"
    assert parse_run_dir(path) == {
        "scale": "smoke",
        "paper_dataset": "cifar10",
        "model": "X-VGG16-1",
        "variant": "paper",
        "seed": 3,
    }
    assert lay.metrics("smoke", "cifar10", "X-VGG16-1", "original", 3) != path  # the variants never share a run
    with pytest.raises(ValueError, match="not a run directory"):
        parse_run_dir("smoke/cifar10/X-VGG16-1/seed3")  # the layout before variants


# --------------------------------------------------------------------------- dry runs
@needs_snakemake
def test_paper_dryrun_dag(tmp_path):
    jobs, counts, out = dryrun(tmp_path, "--configfile", PAPER)
    assert len(jobs) == len(set(jobs)) == 139  # each run trained once
    assert {(m, d, s) for m, d, s, *_ in jobs} == expected_paper_runs()
    assert {(sc, v) for *_, sc, v in jobs} == {("paper", "original")}
    tables = [n for n, e in xexp.EXPERIMENTS.items() if e.kind == "table"]
    figures = [n for n, e in xexp.EXPERIMENTS.items() if e.kind == "figure"]
    want = {
        "train": 139,
        "gather": 1,
        "gather_experiment": len(xexp.EXPERIMENTS),
        "table": len(tables),
        "figure": len(figures),
        "claims": 1,
        "curves": 1,
        "all": 1,
    }
    assert counts == {**want, "total": sum(want.values())}
    for m, d, s, _sc, _v in jobs:  # the variant is part of the run's directory
        assert f"output: runs/paper/{d}/{m}/original/seed{s}/metrics.json" in out
    for name in tables:
        exp = xexp.experiment(name)
        assert f"input: results/runs/{name}.csv, {PUBLISHED / exp.published}" in out  # published CSV: an input
        assert f"results/tables/{name}.md" in out
    for name in figures:
        assert f"figures/{name}.pdf" in out
    assert "results/tables/claims.md" in out and "figures/curves" in out


@needs_snakemake
def test_variant_paper_trains_the_other_build_elsewhere(tmp_path):
    (tmp_path / "v.yaml").write_text(yaml.safe_dump({"variant": "paper"}))
    jobs, counts, out = dryrun(tmp_path, "-p", "--configfile", str(tmp_path / "v.yaml"))
    assert jobs and {v for *_, v in jobs} == {"paper"} and "/original/" not in out
    assert "--out runs/smoke/cifar10/X-VGG16-1/paper/seed1 --dataset synthetic-cifar10" in out
    train_cmds = [line for line in out.splitlines() if "-m xnet train" in line]
    assert len(train_cmds) == len(jobs) and all("--variant paper" in c for c in train_cmds)
    assert "--variant original" not in out
    assert re.search(r"xnet.results table table4 .* --variant paper", out)


@needs_snakemake
def test_paper_dryrun_resources_and_command(tmp_path):
    out = snakemake(
        "runs/paper/imagenet/ResNet-50/original/seed0/metrics.json",
        "runs/paper/cifar10/X-VGG16-1/original/seed3/metrics.json",
        "-n",
        "-F",
        "-p",
        "--cores",
        "64",
        "--configfile",
        PAPER,
        cwd=tmp_path,
    )
    blocks = out.split("rule train:")[1:]
    assert len(blocks) == 2
    text = {("ResNet-50" if "ResNet-50" in b else "X-VGG16-1"): b for b in blocks}
    r50, vgg = text["ResNet-50"], text["X-VGG16-1"]
    assert "gpu=4" in r50 and "runtime=7200" in r50 and "mem_mb=128000" in r50
    assert "LAUNCH='torchrun --standalone --nproc_per_node=4'" in r50 and "if [ 4 -gt 1 ]" in r50
    assert (
        "-m xnet train --model ResNet-50 --seed 0 --out runs/paper/imagenet/ResNet-50/original/seed0"
        " --dataset imagenet --device cuda --data-dir data/imagenet --variant original --no-progress"
    ) in r50
    assert "gpu=1" in vgg and "if [ 1 -gt 1 ]" in vgg and "runtime=2880" in vgg  # train.resources.default
    assert "--dataset cifar10 --device cuda --data-dir data/cifar" in vgg
    assert "--epochs" not in vgg  # the recipe's epochs at paper scale


@needs_snakemake
def test_smoke_dryrun_and_one_table_only(tmp_path):
    jobs, counts, out = dryrun(tmp_path, "-p")
    smoke = xexp.select(load("config.yaml")["experiments"])
    assert {(m, d, s) for m, d, s, *_ in jobs} == run_set(xexp.run_matrix(smoke))
    assert (
        "-m xnet train --model X-VGG16-1 --seed 1 --out runs/smoke/cifar10/X-VGG16-1/original/seed1"
        " --dataset synthetic-cifar10 --epochs 1 --batch-size 16 --device cpu"
    ) in out
    assert "OMP_NUM_THREADS=1" in out
    assert (
        "table table4 --runs results/runs/table4.csv -o results/tables/table4 --scale smoke --variant original"
        " --rows VGG X-VGG-1 X-VGG-2 XDNetBC-40-24 --seeds 0 1" in out
    )
    # one table only needs only that table's runs
    jobs4, _, _ = dryrun(tmp_path, "results/tables/table4.md")
    assert {(m, d, s) for m, d, s, *_ in jobs4} == run_set(xexp.run_matrix([smoke["table4"]]))


# --------------------------------------------------------------------------- profile
def test_slurm_profile():
    prof = yaml.safe_load((REPO / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
    assert prof["executor"] == "slurm"
    assert prof["restart-times"] >= 1 and prof["keep-incomplete"] is True
    assert prof["rerun-incomplete"] is True and prof["slurm-requeue"] is True
    assert prof["latency-wait"] >= 30 and prof["jobs"] >= 1
    assert "default-resources" not in prof  # stated once: train.resources in the configuration
    paper = load("paper.yaml")["train"]["resources"]
    assert {"gpu", "mem_mb", "runtime", "cpus_per_task"} <= set(paper["default"]) and paper["default"]["gpu"] >= 1


@needs_snakemake
def test_slurm_profile_dryrun(tmp_path):
    """The SLURM executor accepts the profile (dry runs never call sbatch)."""
    out = snakemake(
        "runs/paper/imagenet/ResNet-50/original/seed0/metrics.json",
        "-n",
        "-F",
        "--profile",
        str(REPO / "workflow" / "profiles" / "slurm"),
        "--configfile",
        PAPER,
        cwd=tmp_path,
    )
    assert "rule train" in out and "gpu=4" in out


# --------------------------------------------------------------------------- end to end
TINY = {
    "scale": {"limit_train_batches": 1, "batch_size": 8},
    "experiments": [
        {"experiment": "table4", "rows": ["X-VGG-2"], "seeds": [0, 1]},
        {"experiment": "figure3", "rows": ["X16"], "seeds": [0]},
    ],
}


def _tiny(tmp_path, **changes):
    cfg = {**TINY, **changes}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    return ["--directory", str(tmp_path), "--configfile", str(tmp_path / "tiny.yaml")]


@needs_snakemake
def test_tiny_workflow_end_to_end(tmp_path):
    """Real trainer, three tiny runs: tables with verdicts, figure, claims, curves; a rerun does
    nothing; a deleted metrics.json (results left in place) is retrained by a plain `snakemake`."""
    common = _tiny(tmp_path)
    snakemake("--cores", "2", *common, cwd=tmp_path, timeout=400)
    t = pd.read_csv(tmp_path / "results" / "tables" / "table4.csv")
    assert len(t) == 1 and set(t["verdict"]) == {"not run at paper scale"}
    assert t["scale"].iloc[0].startswith("Scale: SMOKE") and set(t["variant"]) == {"original"}
    md = (tmp_path / "results" / "tables" / "table4.md").read_text()
    assert "Scale: SMOKE" in md and "Variant: original" in md and "not run at paper scale" in md
    claims = pd.read_csv(tmp_path / "results" / "tables" / "claims.csv")
    assert len(claims) and "reproduced" not in set(claims["verdict"])
    assert (tmp_path / "results" / "tables" / "claims.md").exists()
    runs = pd.read_csv(tmp_path / "results" / "runs.csv")
    assert len(runs) == 3 and set(runs["variant"]) == {"original"}
    assert set(runs["dataset"]) == {"synthetic-cifar10", "synthetic-imagenet"}
    assert (tmp_path / "figures" / "figure3.png").stat().st_size > 1000
    assert list((tmp_path / "figures" / "curves").glob("X-VGG16-2_cifar10_original.png"))
    for log in ("gather", "table4", "figure3", "claims", "curves"):
        assert (tmp_path / "results" / "logs" / f"{log}.log").exists(), log
    run1 = tmp_path / "runs" / "smoke" / "cifar10" / "X-VGG16-2" / "original" / "seed1"
    assert (run1 / "metrics.json").exists() and (run1 / "snakemake_train.log").exists()
    assert "Nothing to be done" in snakemake("--cores", "2", *common, cwd=tmp_path)
    # a deleted run record is a missing result: a plain `snakemake` retrains that run only, in the
    # same run directory, then remakes what depends on it
    before = (tmp_path / "results" / "tables" / "table4.csv").stat().st_mtime
    (run1 / "metrics.json").unlink()
    out = snakemake("--cores", "2", *common, cwd=tmp_path, timeout=300)
    assert out.count("rule train:") == 1 and "X-VGG16-2/original/seed1/metrics.json" in out
    assert (run1 / "metrics.json").exists()
    assert (tmp_path / "results" / "tables" / "table4.csv").stat().st_mtime > before


@needs_snakemake
def test_workflow_killed_while_training_resumes(tmp_path):
    """SIGKILL to Snakemake and its training jobs mid-run; `snakemake --unlock`, then
    `snakemake --rerun-incomplete` finishes it, and the interrupted run resumes from its checkpoint."""
    common = _tiny(
        tmp_path,
        scale={"epochs": 3, "limit_train_batches": 2, "batch_size": 8},
        experiments=[{"experiment": "table4", "rows": ["X-VGG-2"], "seeds": [0]}],
    )
    run0 = tmp_path / "runs" / "smoke" / "cifar10" / "X-VGG16-2" / "original" / "seed0"
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--cores", "1", *common]
    p = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.time() + 240
        while not (run0 / "checkpoint.pt").exists() and p.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert (run0 / "checkpoint.pt").exists() and not (run0 / "metrics.json").exists(), "killed too late"
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # Snakemake and the trainer it started (one session)
        p.wait()
    snakemake("--unlock", *common, cwd=tmp_path)  # a SIGKILLed Snakemake leaves its lock behind
    out = snakemake("--cores", "1", "--rerun-incomplete", *common, cwd=tmp_path, timeout=300)
    assert "rule train:" in out
    record = yaml.safe_load((run0 / "metrics.json").read_text())
    assert record["epochs"] == 3 and len(record["history"]) == 3
    assert "resuming" in (run0 / "train.log").read_text()
    assert pd.read_csv(tmp_path / "results" / "tables" / "table4.csv")["verdict"].iloc[0] == "not run at paper scale"
