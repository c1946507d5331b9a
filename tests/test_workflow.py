"""Tests of the Snakemake workflow (Snakefile, workflow/, config/).

- the paper configuration's dry-run DAG holds exactly the expected `train` jobs,
- the configurations validate, config/paper.yaml overrides every key of the smoke default,
- gather / tables / figures scripts turn made-up metrics.json files into the expected tables,
- the SLURM profile parses, resources are set and the job command is right,
- a tiny workflow runs end to end (real trainer, 2 tiny runs) in a temporary directory.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"
PUBLISHED = REPO / "xnet" / "published"
sys.path.insert(0, str(SCRIPTS))

import wflib  # noqa: E402

SNAKEMAKE = shutil.which("snakemake")
needs_snakemake = pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake not installed")


def load(name):
    return yaml.safe_load((REPO / "config" / name).read_text())


def snakemake(*args, cwd=None, timeout=300):
    """Run snakemake on the repository's Snakefile (in cwd, which must not be the repo when
    files are written)."""
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), *args]
    if cwd is None:
        cwd = Path(os.environ.get("PYTEST_TMPDIR_XNET") or _clean_dir())
        if "--configfile" not in args:
            cmd += ["--configfile", str(REPO / "config" / "config.yaml")]
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r.stdout + r.stderr


def _clean_dir():
    import atexit
    import tempfile
    d = tempfile.mkdtemp(prefix="xnet-wf-")
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    return d


def dryrun_train_jobs(*args, cwd=None):
    """(model, dataset, seed, scale) of every `train` job of a forced dry run (default: in a
    fresh directory, so the repository's runs/ and .snakemake/ state do not matter)."""
    out = snakemake("-n", "-F", "--cores", "4", *args, cwd=cwd)
    jobs = re.findall(r"rule train:.*?wildcards: scale=([^,]+), dataset=([^,]+), model=([^,]+), seed=(\d+)",
                      out, flags=re.S)
    return [(m, d, int(s), sc) for sc, d, m, s in jobs], out


# --------------------------------------------------------------------------- configuration
def expected_paper_runs():
    """The paper's matrix, written independently of the workflow code."""
    t1 = ["ResNet-34", "ResNet-50", "ResNet-101", "X-ResNet-2-34", "X-ResNet-2-50", "X-ResNet-2-101",
          "DenseNet-BC-121", "DenseNet-BC-169", "DenseNet-BC-201", "DenseNet-BC-161",
          "X-DenseNet-BC-2-121", "X-DenseNet-BC-2-169", "X-DenseNet-BC-2-201", "X-DenseNet-BC-2-161"]
    runs = {(m, "imagenet", 0) for m in t1}                                     # Table 1 / Figure 5
    runs |= {(m, "imagenet", 0) for m in ("AlexNet-Orig", "X-AlexNet-1", "X-AlexNet-2")}  # Table 3
    t4 = ["VGG16-Orig", "X-VGG16-1", "X-VGG16-2"] + [f"X-DenseNet-BC-40-{g}-2" for g in (24, 36, 48, 60)]
    runs |= {(m, "cifar10", s) for m in t4 for s in range(10)}                  # Table 4 (+ Table 2)
    mb = ["MobileNet-0.5"] + [f"{k}-MobileNet-0.5-{c}" for k in "GX" for c in (2, 4, 8, 16)]
    runs |= {(m, "imagenet", s) for m in mb for s in (0, 1)}                    # Table 5 / Figure 3
    f4 = pd.read_csv(PUBLISHED / "figure4_cifar_densenet_tradeoff.csv")
    runs |= {(m, d, 0) for m, d in zip(f4["model"], f4["dataset"])}            # Figure 4
    f6 = pd.read_csv(PUBLISHED / "figure6_cifar100_wider_deeper.csv")
    runs |= {(m, "cifar100", 0) for m in f6["model"]}                           # Figure 6
    return runs


def test_paper_matrix_is_the_paper():
    cfg = load("paper.yaml")
    assert set(wflib.run_matrix(cfg)) == expected_paper_runs()
    assert len(expected_paper_runs()) == 139
    # every published row of the paper's own models has a config row
    for exp, col, keep in [("table1", "model", None), ("table2", "method", "this paper"),
                           ("table3", "method", "this paper"), ("table4", "model", None),
                           ("table5", "variant", None), ("figure6", "model", None)]:
        pub = pd.read_csv(PUBLISHED / cfg["experiments"][exp]["published"])
        if keep:
            pub = pub[pub["reference"] == keep]
        labels = {str(r["label"]) for r in cfg["experiments"][exp]["rows"]}
        assert set(pub[col].astype(str)) == labels, exp


def test_paper_overrides_every_smoke_key():
    """Snakemake merges --configfile over config/config.yaml: paper.yaml must set every key."""
    def missing(a, b, path=""):
        out = []
        for k, v in a.items():
            if k not in b:
                out.append(path + k)
            elif isinstance(v, dict) and isinstance(b[k], dict) and k not in ("model_resources",):
                out += missing(v, b[k], path + k + ".")
        return out
    assert missing(load("config.yaml"), load("paper.yaml")) == []


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_config_validates(name):
    from snakemake.utils import validate
    cfg = load(name)
    validate(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    for exp in cfg["experiments"].values():
        assert (PUBLISHED / exp["published"]).exists()


def test_smoke_config_shape():
    cfg = load("config.yaml")
    assert cfg["scale"]["name"] == "smoke"
    assert set(cfg["scale"]["datasets"].values()) == {"synthetic-cifar10", "synthetic-cifar100",
                                                      "synthetic-imagenet"}
    assert cfg["scale"]["device"] == "cpu"
    assert set(cfg["experiments"]) == set(load("paper.yaml")["experiments"])
    for name in ("table2", "table4", "table5", "figure3"):  # tables that show spread
        assert len(cfg["experiments"][name]["seeds"]) >= 2, name


# --------------------------------------------------------------------------- dry runs
@needs_snakemake
def test_paper_dryrun_train_jobs_and_commands():
    jobs, out = dryrun_train_jobs("--configfile", str(REPO / "config" / "paper.yaml"))
    assert len(jobs) == len(set(jobs)) == 139  # each run trained once
    assert {(m, d, s) for m, d, s, _ in jobs} == expected_paper_runs()
    assert {sc for *_, sc in jobs} == {"paper"}
    for name in ("table1", "table2", "table3", "table4", "table5"):
        assert f"results/tables/{name}.md" in out
    for name in ("figure3", "figure4", "figure5", "figure6"):
        assert f"figures/{name}.pdf" in out


@needs_snakemake
def test_paper_dryrun_resources_and_command():
    out = snakemake("runs/paper/imagenet/ResNet-50/seed0/metrics.json",
                    "runs/paper/cifar10/X-VGG16-1/seed3/metrics.json",
                    "-n", "-F", "-p", "--cores", "64", "--configfile", str(REPO / "config" / "paper.yaml"))
    blocks = out.split("rule train:")[1:]
    assert len(blocks) == 2
    text = {("ResNet-50" if "ResNet-50" in b else "X-VGG16-1"): b for b in blocks}
    r50, vgg = text["ResNet-50"], text["X-VGG16-1"]
    assert "gpu=4" in r50 and "runtime=7200" in r50 and "mem_mb=128000" in r50
    assert "LAUNCH='torchrun --standalone --nproc_per_node=4'" in r50 and "if [ 4 -gt 1 ]" in r50
    assert ("-m xnet train --model ResNet-50 --seed 0 --out runs/paper/imagenet/ResNet-50/seed0"
            " --dataset imagenet --device cuda --data-dir data/imagenet") in r50
    assert "gpu=1" in vgg and "if [ 1 -gt 1 ]" in vgg
    assert "--dataset cifar10 --device cuda --data-dir data/cifar" in vgg
    assert "--epochs" not in vgg  # the recipe's epochs at paper scale


@needs_snakemake
def test_smoke_dryrun_and_one_table_only():
    jobs, out = dryrun_train_jobs("-p")
    cfg = load("config.yaml")
    assert {(m, d, s) for m, d, s, _ in jobs} == set(wflib.run_matrix(cfg))
    assert ("-m xnet train --model X-VGG16-1 --seed 1 --out runs/smoke/cifar10/X-VGG16-1/seed1"
            " --dataset synthetic-cifar10 --epochs 1 --batch-size 16 --device cpu") in out
    assert "OMP_NUM_THREADS=1" in out
    # one table only needs only that table's runs
    jobs4, _ = dryrun_train_jobs("results/tables/table4.md")
    assert {(m, d, s) for m, d, s, _ in jobs4} == set(wflib.run_matrix(cfg, ["table4"]))


# --------------------------------------------------------------------------- profile
def test_slurm_profile():
    prof = yaml.safe_load((REPO / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
    assert prof["executor"] == "slurm"
    assert prof["restart-times"] >= 1 and prof["keep-incomplete"] is True
    assert prof["rerun-incomplete"] is True and prof["slurm-requeue"] is True
    assert prof["latency-wait"] >= 30 and prof["jobs"] >= 1
    assert {"mem_mb", "runtime"} <= set(prof["default-resources"])
    paper = load("paper.yaml")
    for ds in ("cifar10", "cifar100", "imagenet"):
        res = paper["train"]["resources"][ds]
        assert {"gpu", "mem_mb", "runtime", "cpus_per_task"} <= set(res)
        assert res["gpu"] >= 1


@needs_snakemake
def test_slurm_profile_dryrun():
    """The SLURM executor accepts the profile (dry runs never call sbatch)."""
    out = snakemake("runs/paper/imagenet/ResNet-50/seed0/metrics.json", "-n", "-F",
                    "--profile", str(REPO / "workflow" / "profiles" / "slurm"), "--configfile", str(REPO / "config" / "paper.yaml"))
    assert "rule train" in out and "gpu=4" in out


# --------------------------------------------------------------------------- scripts
def fake_metrics(root, model, dataset, seed, err, params=1e6, macs=2e8, train_ds=None):
    d = Path(root) / "smoke" / dataset / model / f"seed{seed}"
    d.mkdir(parents=True, exist_ok=True)
    m = {"model": model, "dataset": train_ds or f"synthetic-{dataset}", "seed": seed,
         "recipe": {"family": "x"}, "epochs": 1, "top1_err": err, "best_top1_err": err - 1,
         "top5_err": err / 2, "params": params, "macs": macs,
         "history": [{"epoch": 1, "train_loss": 1.0, "val_top1_err": err, "lr": 0.1}],
         "wall_time_s": 1.0, "device": "cpu", "versions": {}}
    (d / "metrics.json").write_text(json.dumps(m))
    return d / "metrics.json"


SCALE = {"name": "smoke", "description": "SMOKE TEST", "epochs": 1, "limit_train_batches": 2,
         "datasets": {"cifar10": "synthetic-cifar10", "cifar100": "synthetic-cifar100",
                      "imagenet": "synthetic-imagenet"}}


def test_gather_and_table4(tmp_path):
    import tables
    exp = {"kind": "table", "title": "Table 4", "published": "table4_cifar10_stability_10runs.csv",
           "key": "model", "dataset": "cifar10", "seeds": [0, 1, 2],
           "rows": [{"label": "VGG", "model": "VGG16-Orig"}, {"label": "X-VGG-1", "model": "X-VGG16-1"}]}
    paths = [fake_metrics(tmp_path, "VGG16-Orig", "cifar10", s, e, params=15e6, macs=3e8)
             for s, e in zip((0, 1, 2), (10.0, 8.0, 6.0))]
    paths += [fake_metrics(tmp_path, "X-VGG16-1", "cifar10", s, e) for s, e in zip((0, 1), (20.0, 30.0))]
    paths += [fake_metrics(tmp_path, "Unrelated", "cifar100", 0, 50.0)]
    runs = wflib.gather(paths, "smoke")
    assert len(runs) == 6 and list(runs.columns) == wflib.RUN_COLUMNS
    assert set(runs["dataset"]) == {"cifar10", "cifar100"}
    r = runs[(runs.model == "VGG16-Orig") & (runs.seed == 1)].iloc[0]
    assert r.top1_acc == 92.0 and r.best_top1_acc == 93.0 and r.train_dataset == "synthetic-cifar10"

    # the CLI gathers a directory the same way
    import gather
    gather.main([str(tmp_path), "-o", str(tmp_path / "runs.csv"), "--scale", "smoke"])
    assert len(pd.read_csv(tmp_path / "runs.csv")) == 6

    ex = wflib.experiment_frame(runs, exp)
    assert list(ex["label"]) == ["VGG"] * 3 + ["X-VGG-1"] * 2
    out = tmp_path / "t"
    s = tables.make_table(exp, ex, SCALE, f"{out}.csv", f"{out}.md", f"{out}.tex")
    vgg = s.set_index("label").loc["VGG"]
    assert vgg.published_acc == pytest.approx(93.96) and vgg.published_std == pytest.approx(0.12)
    assert vgg.rerun_acc == pytest.approx(92.0) and vgg.rerun_std == pytest.approx(2.0)
    assert vgg.rerun_max == pytest.approx(94.0) and vgg.rerun_min == pytest.approx(90.0)
    assert vgg["diff"] == pytest.approx(92.0 - 93.96) and vgg.n == 3 and vgg.params_M == 15.0
    x1 = s.set_index("label").loc["X-VGG-1"]
    assert x1.n == 2 and x1.seeds == 3 and x1.rerun_acc == pytest.approx(75.0)
    md = Path(f"{out}.md").read_text()
    assert "Scale: SMOKE" in md and "92.00 ± 2.00" in md and "93.96 ± 0.12" in md and "-1.96" in md
    assert "| VGG " in md and "2/3" in md
    tex = Path(f"{out}.tex").read_text()
    assert r"\begin{tabular}" in tex and "Scale: SMOKE" in tex and r"$\pm$" in tex
    csv = pd.read_csv(f"{out}.csv")
    assert csv["scale"].str.startswith("Scale: SMOKE").all() and len(csv) == 2


def test_tables_1_2_3_5_published_columns(tmp_path):
    import tables
    paper = load("paper.yaml")["experiments"]
    fake_metrics(tmp_path, "ResNet-50", "imagenet", 0, 30.0, macs=4.1e9)
    fake_metrics(tmp_path, "X-VGG16-1", "cifar10", 0, 7.0, params=1.65e6)
    fake_metrics(tmp_path, "AlexNet-Orig", "imagenet", 0, 43.0, params=61e6)
    for s, e in ((0, 40.0), (1, 41.0)):
        fake_metrics(tmp_path, "X-MobileNet-0.5-4", "imagenet", s, e)
    runs = wflib.gather(wflib.find_metrics(tmp_path), "smoke")
    got = {}
    for name in ("table1", "table2", "table3", "table5"):
        ex = wflib.experiment_frame(runs, paper[name])
        out = tmp_path / name
        got[name] = tables.make_table(paper[name], ex, SCALE, f"{out}.csv", f"{out}.md",
                                      f"{out}.tex").set_index("label")
    t1 = got["table1"]
    assert len(t1) == 14 and t1.loc["ResNet-50"].flops_100M == pytest.approx(82.0)
    assert t1.loc["ResNet-50"].published_flops_100M == 80 and t1.loc["ResNet-50"].rerun_acc == 70.0
    assert t1.loc["ResNet-34"].n == 0 and pd.isna(t1.loc["ResNet-34"].rerun_acc)
    assert got["table2"].loc["X-VGG16-1"].published_params_M == 1.65
    assert got["table2"].loc["Liu et al. [42]"].published_acc == 93.8  # pruning context row
    assert pd.isna(got["table2"].loc["Liu et al. [42]"].rerun_acc)
    assert len(got["table3"]) == 3 + 5
    assert got["table2"].loc["X-VGG16-1"]["diff"] == pytest.approx(93.0 - 93.4)
    assert got["table3"].loc["AlexNet-Orig"].published_acc == pytest.approx(57.2)
    x4 = got["table5"].loc["X4"]
    assert x4.published_range == pytest.approx(0.53) and x4.rerun_range == pytest.approx(1.0)
    assert x4.rerun_acc == pytest.approx(59.5)
    assert "FLOPs 100M (pub)" in (tmp_path / "table1.md").read_text()


def test_figures(tmp_path):
    import figures
    paper = load("paper.yaml")["experiments"]
    for s in (0, 1):
        fake_metrics(tmp_path, "MobileNet-0.5", "imagenet", s, 60.0 + s)
        fake_metrics(tmp_path, "G-MobileNet-0.5-2", "imagenet", s, 65.0 + s)
        fake_metrics(tmp_path, "X-MobileNet-0.5-2", "imagenet", s, 63.0 + s)
    for m, mac in (("DenseNet-BC-40-24", 2.9e8), ("X-DenseNet-BC-40-24-2", 1.44e8)):
        fake_metrics(tmp_path, m, "cifar10", 0, 50.0, macs=mac)
        fake_metrics(tmp_path, m, "cifar100", 0, 70.0, macs=mac)
    runs = wflib.gather(wflib.find_metrics(tmp_path), "smoke")
    f3 = wflib.experiment_frame(runs, paper["figure3"])
    pts = figures.make_figure(paper["figure3"], f3, SCALE, tmp_path / "f3.png", tmp_path / "f3.pdf",
                              tmp_path / "f3.csv")
    assert set(pts["series"]) == {"G-Conv", "X-Conv"}
    base = pts[(pts.label == "Base")]
    assert len(base) == 2 and (base.x == 1).all() and (base.published_err == 36.6).all()
    x2 = pts[pts.label == "X2"].iloc[0]
    assert x2.rerun_err == 63.5 and x2.published_err == pytest.approx(41.78) and x2.n == 2
    g2 = pts[pts.label == "G2"].iloc[0]
    assert g2.published_err == pytest.approx(42.55) and g2.rerun_err_std == pytest.approx(0.7071, 1e-3)
    f4 = wflib.experiment_frame(runs, paper["figure4"])
    pts4 = figures.make_figure(paper["figure4"], f4, SCALE, tmp_path / "f4.png", tmp_path / "f4.pdf")
    p = pts4.set_index(["dataset", "label"])
    assert p.loc[("cifar100", "X-DenseNet-BC-40-24-2")].published_err == pytest.approx(100 - 74.37)
    assert p.loc[("cifar10", "X-DenseNet-BC-40-24-2")].x == pytest.approx(144.0)
    assert set(pts4.series) == {"DenseNet-BC", "X-DenseNet-BC"}
    f6 = wflib.figure_points(paper["figure6"], wflib.experiment_frame(runs, paper["figure6"]),
                             wflib.load_published(paper["figure6"]["published"]))
    assert f6.series.nunique() == 5  # 40-60, 40-100, 40-200, 58-60, 70-60
    for f in ("f3.png", "f3.pdf", "f3.csv", "f4.png", "f4.pdf"):
        assert (tmp_path / f).stat().st_size > 1000
    assert "Scale: SMOKE" in pd.read_csv(tmp_path / "f3.csv")["scale"].iloc[0]


# --------------------------------------------------------------------------- end to end
def test_tiny_workflow_end_to_end(tmp_path):
    """Real trainer, two tiny runs (1 model x 2 seeds), table + figure + report, then resume."""
    if SNAKEMAKE is None:
        pytest.skip("snakemake not installed")
    try:
        import xnet.train  # noqa: F401
    except Exception as e:  # pragma: no cover - trainer not there yet
        pytest.skip(f"trainer unavailable: {e}")
    cfg = load("config.yaml")
    cfg["scale"]["limit_train_batches"] = 1
    cfg["scale"]["batch_size"] = 8
    exp4 = dict(cfg["experiments"]["table4"], rows=[{"label": "X-VGG-2", "model": "X-VGG16-2"}])
    exp3 = dict(cfg["experiments"]["figure3"], seeds=[0],
                rows=[{"label": "X16", "model": "X-MobileNet-0.5-16"}])
    cfg["experiments"] = {"table4": exp4, "figure3": exp3}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    common = ["--directory", str(tmp_path), "--configfile", str(tmp_path / "tiny.yaml")]
    snakemake("--cores", "2", *common, timeout=240)
    t = pd.read_csv(tmp_path / "results" / "tables" / "table4.csv")
    assert len(t) == 1 and t["n"].iloc[0] == 2 and t["scale"].iloc[0].startswith("Scale: SMOKE")
    for ext in ("md", "tex"):
        assert "Scale: SMOKE" in (tmp_path / "results" / "tables" / f"table4.{ext}").read_text()
    runs = pd.read_csv(tmp_path / "results" / "runs.csv")
    assert len(runs) == 3 and set(runs["train_dataset"]) == {"synthetic-cifar10", "synthetic-imagenet"}
    assert (tmp_path / "figures" / "figure3.png").stat().st_size > 1000
    run1 = tmp_path / "runs" / "smoke" / "cifar10" / "X-VGG16-2" / "seed1"
    assert (run1 / "metrics.json").exists() and (run1 / "snakemake_train.log").exists()
    # a rerun does nothing; without metrics.json (a killed job) only that run is redone,
    # in the same run directory where the trainer finds its checkpoint
    assert "Nothing to be done" in snakemake("--cores", "2", *common)
    # simulate a workflow killed while training: the run's metrics.json and everything
    # downstream of it (tables, figures) are not there yet
    import shutil
    (run1 / "metrics.json").unlink()
    shutil.rmtree(tmp_path / "results")
    shutil.rmtree(tmp_path / "figures")
    out = snakemake("-n", "--cores", "2", *common)
    assert out.count("rule train:") == 1 and "X-VGG16-2/seed1/metrics.json" in out
    assert any(p.name != "snakemake_train.log" for p in run1.iterdir())  # checkpoint kept
    snakemake("--cores", "2", *common, timeout=240)  # redoes that run only, then the tables
    assert (run1 / "metrics.json").exists() and (tmp_path / "results" / "tables" / "table4.md").exists()
    snakemake("--report", str(tmp_path / "report.html"), *common, timeout=120)
    assert (tmp_path / "report.html").stat().st_size > 10000
