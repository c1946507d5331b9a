"""xnet.results: torch-free import, published loader and units, gather, tables, claims, figures, curves, CLI."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from xnet.errors import RecordError, UserError
from xnet.recipes import resolve_recipe
from xnet.results import claims, curves, figures, gather, published, tables
from xnet.results.__main__ import main as cli
from xnet.results.experiments import experiment
from xnet.runs.record import RunRecord

ROOT = Path(__file__).resolve().parents[1]


def record(
    model="X-DenseNet-BC-40-24-2",
    family="densenet_bc_cifar",
    conv="x",
    compression=2,
    depth=40,
    growth=24,
    width=None,
    dataset="cifar10",
    seed=0,
    best_acc=94.5,
    final_acc=None,
    epochs=None,
    recipe_epochs=None,
    limit=None,
    params=400_000,
    macs=144_000_000,
    variant="original",
) -> RunRecord:
    """A valid run record whose best epoch has ``best_acc`` and whose last epoch has ``final_acc``; by
    default at paper scale on ``dataset``: the published recipe of ``family``, for its epochs."""
    published = resolve_recipe(family, {}).to_dict()
    epochs = published["epochs"] if epochs is None else epochs
    recipe_epochs = published["epochs"] if recipe_epochs is None else recipe_epochs
    final_acc = best_acc - 0.2 if final_acc is None else final_acc
    errs = ([100 - best_acc + 5.0] * max(1, epochs - 2) + [100 - best_acc, 100 - final_acc])[-epochs:]
    hist = [
        {
            "epoch": e + 1,
            "lr": 0.1,
            "train_loss": 1.0,
            "train_top1_err": max(0.0, v - 3),
            "val_loss": 1.1,
            "val_top1_err": v,
            "val_top5_err": v / 3,
        }
        for e, v in enumerate(errs)
    ]
    best = min(range(len(errs)), key=lambda i: errs[i])
    return RunRecord.from_dict(
        {
            "format": 1,
            "model": model,
            "family": family,
            "conv": conv,
            "compression": compression,
            "depth": depth,
            "growth": growth,
            "width": width,
            "variant": variant,
            "model_args": {},
            "dataset": dataset,
            "seed": seed,
            "num_classes": 10,
            "input_size": [3, 32, 32],
            "recipe": {**published, "epochs": recipe_epochs},
            "epochs": epochs,
            "batch_size": 64,
            "limit_train_batches": limit,
            "limit_val_batches": None,
            "train_size": 50000,
            "val_size": 10000,
            "top1_err": errs[-1],
            "top5_err": errs[-1] / 3,
            "best_top1_err": errs[best],
            "best_top5_err": errs[best] / 3,
            "best_epoch": best + 1,
            "val_loss": 1.1,
            "train_loss": 1.0,
            "history": hist,
            "params": params,
            "macs": macs,
            "device": "cuda",
            "device_info": {"type": "cuda", "name": "GPU"},
            "world_size": 1,
            "amp": False,
            "amp_dtype": None,
            "channels_last": False,
            "versions": {},
            "wall_time_s": 10.0,
            "config": {},
        }
    )


def write(tmp_path, recs) -> list[Path]:
    paths = []
    for r in recs:
        p = tmp_path / "runs" / r.dataset / r.model / r.variant / f"seed{r.seed}" / "metrics.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        r.write(p)
        paths.append(p)
    return paths


MOBILENET = dict(family="mobilenet05_imagenet", depth=None, growth=None, width=0.5, dataset="imagenet")


def mobilenet(conv, c, acc, seed, **kw):
    name = "MobileNet-0.5" if conv == "dense" else f"{conv.upper()}-MobileNet-0.5-{c}"
    return record(
        model=name, conv=conv, compression=c, best_acc=acc, seed=seed, macs=int(150e6 / c), **{**MOBILENET, **kw}
    )


# ---- import without torch ------------------------------------------------------------------------
_MODULES = (
    "import xnet.results, xnet.results.published, xnet.results.gather, xnet.results.verdicts\n"
    "import xnet.results.tables, xnet.results.claims, xnet.results.figures, xnet.results.curves\n"
    "import xnet.runs.record, xnet.results.experiments, xnet.runs.layout, xnet.results.__main__\n"
    "import xnet.runs, xnet.results.claim_checks, xnet.results.published_schema\n"
    "assert 'matplotlib' not in sys.modules and 'jsonschema' not in sys.modules\n"
    "assert not [m for m in sys.modules if m.startswith(('xnet.training', 'xnet.nn'))]\n"
    "print(len(xnet.results.published.files()))"
)


def _run_without_torch(prelude: str):
    code = "import sys; sys.modules['torch'] = None\n" + prelude + _MODULES
    return subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "xnet")], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_results_modules_import_without_torch():
    # the package's __init__ is bypassed (the next test imports it too); every module of xnet.results
    # and what it imports must not import torch, nor matplotlib until a figure is drawn
    out = _run_without_torch(
        "import importlib.util; spec = importlib.util.spec_from_file_location(\n"
        "    'xnet', sys.argv[1] + '/__init__.py', submodule_search_locations=[sys.argv[1]])\n"
        "sys.modules['xnet'] = importlib.util.module_from_spec(spec)  # not executed\n"
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout) >= 12


def test_import_xnet_results_without_torch():
    out = _run_without_torch("")
    assert out.returncode == 0, out.stderr[-2000:]


# ---- published --------------------------------------------------------------------------------
def test_published_files_and_paths():
    names = published.files()
    assert "table4_cifar10_stability_10runs.csv" in names and "original_training_curves.csv" in names
    assert published.path("table4") == published.path("table4_cifar10_stability_10runs.csv")
    assert published.path("table4").is_file()
    assert published.path("table4").parent == ROOT / "xnet" / "published"
    pd.testing.assert_frame_equal(
        published.table("table1"), pd.read_csv(ROOT / "xnet/published/table1_imagenet_resnet_densenet.csv")
    )
    with pytest.raises(ValueError, match="no published file 'table9.csv'"):
        published.table("table9")


def test_published_units_round_trip():
    # Table 1 prints FLOPs in 100M = 2 x MACs; CIFAR / MobileNet FLOPs are MACs
    assert published.from_unit("table1", "flops_100M", 35) == pytest.approx(1.75e9)
    assert published.to_unit("table1", "flops_100M", 1.75e9) == pytest.approx(35)
    assert published.from_unit("readme_cifar", "flops_100M", 1.44) == pytest.approx(1.44e8)
    assert published.to_unit(
        "readme_mobilenet", "flops_M", published.from_unit("readme_mobilenet", "flops_M", 53.7)
    ) == pytest.approx(53.7)
    c = published.counts()
    assert set(c["quantity"]) == {"params", "macs"}

    def one(model, q):
        hit = c[(c["model"] == model) & (c["quantity"] == q)]
        assert len(hit) == 1, (model, q)
        return hit.iloc[0]

    assert one("ResNet-50", "macs")["value"] == pytest.approx(80 * 1e8 / 2)
    assert (c["value"] == c["published"] * c["per"]).all()
    assert one("X-DenseNet-BC-40-200-30", "macs")["value"] == pytest.approx(0.6e9)  # Section 5.5's text
    assert one("X-DenseNet-BC-40-24-2", "macs")["value"] == pytest.approx(1.44e8)
    assert one("X-DenseNet-BC-40-24-2", "params")["value"] == pytest.approx(0.4e6)
    assert one("X-VGG16-1", "params")["value"] == pytest.approx(1.65e6)
    assert one("X-MobileNet-0.5-4", "macs")["value"] == pytest.approx(53.7e6)  # README spells X-Mobilenet0.5-4
    assert one("MobileNet-0.5", "macs")["value"] == pytest.approx(150e6)
    assert not c["model"].str.contains("et al").any()  # pruning rows are not our models
    assert published.count_of("X-VGG16-1", "macs") is None


def test_published_lookup_accuracy_conventions():
    t4, t5, f3, f4 = (experiment(n) for n in ("table4", "table5", "figure3", "figure4"))
    p = published.lookup(t4, t4.rows[3])
    assert (p.label, p.acc, p.std, p.runs, p.max, p.min) == ("XDNetBC-40-24", 94.41, 0.19, 10, 94.63, 94.18)
    p = published.lookup(t5, t5.rows[3])  # G4: range 0.55 over 2 runs
    assert p.acc == 49.41 and p.runs == 2 and p.std == pytest.approx(0.55 / math.sqrt(2))
    g4 = [r for r in f3.rows if r.label == "G4"][0]
    x4 = [r for r in f3.rows if r.label == "X4"][0]
    base = [r for r in f3.rows if r.label == "Base"][0]
    assert published.lookup(f3, g4).err == pytest.approx(50.59)  # figure 3 prints errors
    assert published.lookup(f3, x4).err == pytest.approx(46.00)
    assert published.lookup(f3, base).acc == pytest.approx(63.4)
    c100 = [r for r in f4.rows if r.label == "DenseNet-BC-40-36" and r.dataset == "cifar100"][0]
    assert published.lookup(f4, c100).acc == 77.84  # not the CIFAR-10 95.26
    assert len(published.context_rows("table3")) == 5 and len(published.context_rows("table4")) == 0


# ---- gather --------------------------------------------------------------------------------------
def test_gather_rows_come_from_their_own_records(tmp_path):
    recs = [record(seed=s, best_acc=94.0 + s) for s in (2, 0, 1)]
    recs.append(record(model="DenseNet-BC-40-24", conv="dense", compression=1, dataset="synthetic-cifar10", seed=0))
    recs.append(record(seed=0, dataset="cifar100", limit=2))
    recs.append(
        record(seed=0, epochs=2, recipe_epochs=300, dataset="cifar100", model="X-DenseNet-BC-40-36-2", growth=36)
    )
    paths = write(tmp_path, recs)
    df = gather.gather(reversed(paths))
    assert list(df.columns) == gather.RUN_COLUMNS and len(df) == 6
    for _, r in df.iterrows():  # identity and results agree
        rec = RunRecord.load(r["path"])
        assert (r["model"], r["seed"], r["dataset"]) == (rec.model, rec.seed, rec.dataset)
        assert r["best_top1_acc"] == pytest.approx(100 - rec.best_top1_err)
    cifar10 = df[(df["model"] == "X-DenseNet-BC-40-24-2") & (df["paper_dataset"] == "cifar10")]
    assert list(cifar10["seed"]) == [0, 1, 2] and list(cifar10["best_top1_acc"]) == pytest.approx([94, 95, 96])
    assert cifar10["at_paper_scale"].all()
    synth = df[df["dataset"] == "synthetic-cifar10"].iloc[0]
    assert synth["paper_dataset"] == "cifar10" and not synth["at_paper_scale"]
    assert not df[df["limit_train_batches"].notna()]["at_paper_scale"].any()  # limited batches
    assert not df[df["model"] == "X-DenseNet-BC-40-36-2"]["at_paper_scale"].any()  # 2 of 300 epochs
    gather.write_runs(df, tmp_path / "runs.csv")
    back = gather.read_runs(tmp_path / "runs.csv")
    assert back["at_paper_scale"].tolist() == df["at_paper_scale"].tolist()
    assert back["compression"].tolist() == df["compression"].tolist()


def test_gather_names_a_corrupt_file(tmp_path):
    paths = write(tmp_path, [record(seed=0), record(seed=1)])
    paths[1].write_text('{"model": "X", ')
    with pytest.raises(RecordError, match=f"^{paths[1]}: corrupt run record") as e:
        gather.gather(paths)
    assert "\n" not in str(e.value)
    dup = tmp_path / "copy" / "metrics.json"
    dup.parent.mkdir()
    dup.write_text(paths[0].read_text())
    with pytest.raises(RecordError, match="the same run as"):
        gather.gather([paths[0], dup])
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="missing column 'model'"):
        gather.read_runs(tmp_path / "bad.csv")


def test_a_shortened_or_changed_recipe_is_not_at_paper_scale(tmp_path):
    # `--set epochs=3` records 3 as its recipe's epochs: the published recipe (300) decides, not the run's own
    assert gather.at_paper_scale(record())
    assert not gather.at_paper_scale(record(epochs=3, recipe_epochs=3))
    d = record().to_dict()
    d["recipe"]["lr"] = 0.2  # `--set lr=0.2`: another recipe
    assert not gather.at_paper_scale(RunRecord.from_dict(d))
    d = record().to_dict()
    d["family"] = "no_such_family"  # a family without a published recipe
    assert not gather.at_paper_scale(RunRecord.from_dict(d))


def test_gather_checks_the_identity_of_a_record_in_a_run_directory(tmp_path):
    rec = record(seed=2)
    rec.config = {"model": rec.model, "variant": rec.variant, "dataset": rec.dataset, "seed": 2, "epochs": rec.epochs}
    (path,) = write(tmp_path, [rec])
    assert len(gather.gather([path])) == 1
    d = rec.to_dict()
    d["config"] = {**d["config"], "seed": 1, "epochs": 3}  # a record whose identity is another run
    path.write_text(json.dumps(d))
    with pytest.raises(RecordError) as e:
        gather.gather([path])
    msg = str(e.value)
    assert msg.startswith(
        f"{path}: the run's identity (config) is not the run the record reports: seed is 1, expected 2"
    )
    assert msg.endswith("(and 1 more)") and "\n" not in msg


def test_runs_table_of_an_older_xnet_is_read_under_todays_names():
    runs = gather.read_runs(ROOT / "docs" / "real-data" / "runs.csv")  # columns dataset, train_dataset
    assert set(runs["paper_dataset"]) == {"imagenet"} and set(runs["dataset"]) == {"fashion-mnist"}


def test_tables_and_figures_agree_on_a_stand_in(tmp_path):
    recs = []
    for conv, c in (("dense", 1), ("x", 4), ("g", 4)):
        for s in (0, 1):
            d = mobilenet(conv, c, 60.0, s).to_dict()
            d.update(dataset="fashion-mnist", stands_for="imagenet")
            recs.append(RunRecord.from_dict(d))
    runs = gather.gather(write(tmp_path, recs))
    t = tables.build_table("table5", runs).set_index("label")
    f = figures.figure_points("figure3", runs).drop_duplicates("label").set_index("label")
    for label in ("Base", "X4", "G4"):
        assert t.loc[label, "verdict"] == f.loc[label, "verdict"] == "other dataset: fashion-mnist"


# ---- tables --------------------------------------------------------------------------------------
def table4_runs(tmp_path, **kw):
    recs = [record(seed=s, best_acc=94.41 + (0.2 if s % 2 else -0.2), **kw) for s in range(4)]
    recs += [
        record(
            model="X-DenseNet-BC-40-36-2",
            growth=36,
            seed=s,
            best_acc=93.5 + 0.1 * s,
            macs=330_000_000,
            params=770_000,
            **kw,
        )
        for s in range(4)
    ]
    recs += [record(model="X-DenseNet-BC-40-48-2", growth=48, seed=0, best_acc=95.5, **kw)]
    return gather.gather(write(tmp_path, recs))


def test_table4_verdicts_counts_and_outputs(tmp_path):
    runs = table4_runs(tmp_path)
    t = tables.build_table("table4", runs)
    by = t.set_index("label")
    assert list(t["label"]) == [r.label for r in experiment("table4").rows]
    assert by.loc["XDNetBC-40-24", "verdict"] == "reproduced" and by.loc["XDNetBC-40-24", "test"] == "welch"
    assert by.loc["XDNetBC-40-24", "n"] == 4 and by.loc["XDNetBC-40-24", "rerun_best_acc"] == pytest.approx(94.41)
    assert by.loc["XDNetBC-40-36", "verdict"] == "not reproduced" and by.loc["XDNetBC-40-36", "p_value"] < 0.05
    assert by.loc["XDNetBC-40-48", "verdict"] == "too few seeds"
    assert by.loc["VGG", "verdict"] == "not run" and by.loc["VGG", "n"] == 0
    # counted on the trained network, beside the published count converted to the same unit
    assert by.loc["XDNetBC-40-36", "params_M"] == pytest.approx(0.77)
    assert by.loc["XDNetBC-40-36", "published_params_M"] == pytest.approx(0.75)
    assert by.loc["XDNetBC-40-36", "macs_M"] == pytest.approx(330)
    assert by.loc["XDNetBC-40-36", "published_macs_M"] == pytest.approx(324)
    assert by.loc["X-VGG-1", "published_params_M"] == pytest.approx(1.65)  # from Table 2
    assert by.loc["XDNetBC-40-24", "published_max"] == 94.63
    tables.make_table("table4", runs, tmp_path / "out" / "table4", scale="paper")
    csv = pd.read_csv(tmp_path / "out" / "table4.csv")
    assert {"verdict", "scale", "variant", "criterion"} <= set(csv.columns)
    assert set(csv["variant"]) == {"original"} and csv["criterion"].str.contains("Welch").all()
    md = (tmp_path / "out" / "table4.md").read_text()
    assert "Scale: PAPER" in md and "Variant: original" in md and "Welch" in md and "| not reproduced |" in md
    tex = (tmp_path / "out" / "table4.tex").read_text()
    assert r"\begin{tabular}" in tex and "Variant: original" in tex


def test_smoke_runs_are_not_run_at_paper_scale(tmp_path):
    runs = table4_runs(tmp_path, dataset="synthetic-cifar10", limit=2)
    t = tables.build_table("table4", runs)
    assert set(t["verdict"]) == {"not run at paper scale", "not run"}
    assert "not reproduced" not in set(t["verdict"])
    tables.make_table("table4", runs, tmp_path / "t4", scale="smoke")
    assert "NOT at paper scale" in (tmp_path / "t4.md").read_text()


def test_table2_keeps_the_pruning_rows_and_table1_counts_flops(tmp_path):
    recs = [
        record(
            model="X-VGG16-1",
            family="vgg16_cifar",
            compression=9,
            depth=None,
            growth=None,
            seed=s,
            best_acc=93.4,
            params=1_700_000,
            macs=60_000_000,
        )
        for s in (0, 1)
    ]
    recs += [
        record(
            model="ResNet-34",
            family="resnet_imagenet",
            conv="dense",
            compression=1,
            depth=34,
            growth=None,
            dataset="imagenet",
            seed=s,
            best_acc=71.5,
            macs=3_600_000_000,
        )
        for s in (0, 1)
    ]
    runs = gather.gather(write(tmp_path, recs))
    t2 = tables.build_table(experiment("table2"), runs)
    assert list(t2["label"][-2:]) == ["Li et al. [37]", "Liu et al. [42]"]
    assert (t2["verdict"].iloc[-2:] == "not run").all()
    assert t2.set_index("label").loc["X-VGG16-1", "verdict"] == "reproduced"  # spread rule: |0.0| <= 0.5
    t1 = tables.build_table("table1", runs).set_index("label")
    assert t1.loc["ResNet-34", "published_macs_M"] == pytest.approx(3500)  # 70 x 100M FLOPs / 2
    assert "FLOPs = 2 x MACs" in t1.loc["ResNet-34", "published_count"]


def test_selected_experiment_and_scale_mapping(tmp_path):
    # a selected part of an experiment, and the scale as the configuration's mapping
    runs = gather.gather(write(tmp_path, [record(seed=s, dataset="synthetic-cifar10", limit=2) for s in (0, 1)]))
    exp = experiment("table4").select(rows=["XDNetBC-40-24"], seeds=[0, 1])
    t = tables.make_table(exp, runs, tmp_path / "t4", scale={"name": "smoke", "description": "synthetic data"})
    assert list(t["label"]) == ["XDNetBC-40-24"] and t["verdict"].iloc[0] == "not run at paper scale"
    assert "Scale: SMOKE - synthetic data; NOT at paper scale" in (tmp_path / "t4.md").read_text()


def test_mixed_variants_need_a_choice(tmp_path):
    runs = gather.gather(write(tmp_path, [record(seed=0), record(seed=0, variant="paper")]))
    with pytest.raises(UserError, match="mix the variants original, paper"):
        tables.build_table("table4", runs)
    t = tables.build_table("table4", runs, variant="paper").set_index("label")
    assert t.loc["XDNetBC-40-24", "n"] == 1


# ---- claims --------------------------------------------------------------------------------------
def test_claims_verdicts(tmp_path):
    recs = [mobilenet("dense", 1, 63.4, s) for s in (0, 1)]
    recs += [mobilenet("x", c, 58.0 - 2 * c, s) for c in (4, 8) for s in (0, 1)]
    recs += [mobilenet("g", 4, 58.0 - 8 - 4.5, s) for s in (0, 1)]  # X beats G by 4.5 at C = 4
    recs += [mobilenet("g", 8, 58.0 - 16 + 1.0, s) for s in (0, 1)]  # ... but loses at C = 8
    recs += [record(seed=s, best_acc=94.4 + 0.05 * s) for s in (0, 1)]  # Table 4 row, 2 seeds
    runs = gather.gather(write(tmp_path, recs))
    t = claims.claims_table(runs).set_index("id")
    assert len(t) == len(claims.CLAIMS) >= 5
    assert t.loc["C1", "verdict"] == "not reproduced"  # X < G at C = 8
    assert "X-MobileNet-0.5-8" in t.loc["C1", "rerun"]
    assert t.loc["C2", "verdict"] == "not reproduced"  # mean gap (4.5 - 1) / 2 < 3
    assert t.loc["C7", "verdict"] == "too few seeds"
    assert t.loc["C3", "verdict"] == "not run" and t.loc["C9", "verdict"] == "not run"
    assert t["cite"].str.contains("Sec.").all()
    good = gather.gather(write(tmp_path / "good", [r for r in recs if not r.model.startswith("G-MobileNet-0.5-8")]))
    assert claims.claims_table(good).set_index("id").loc["C1", "verdict"] == "reproduced"
    assert claims.claims_table(good).set_index("id").loc["C2", "verdict"] == "reproduced"
    smoke = gather.gather(
        write(
            tmp_path / "smoke",
            [
                mobilenet("x", 4, 50, 0, dataset="synthetic-imagenet"),
                mobilenet("g", 4, 60, 0, dataset="synthetic-imagenet"),
            ],
        )
    )
    assert claims.claims_table(smoke).set_index("id").loc["C1", "verdict"] == "not run at paper scale"
    claims.make_claims(runs, tmp_path / "out" / "claims", scale="paper")
    csv = pd.read_csv(tmp_path / "out" / "claims.csv")
    assert {"id", "claim", "cite", "test", "verdict", "scale", "variant", "criterion"} <= set(csv.columns)
    assert "Claims of the paper" in (tmp_path / "out" / "claims.md").read_text()


def test_claim_verdicts_use_the_vocabulary(tmp_path):
    from xnet.results.verdicts import VERDICTS

    runs = gather.gather(write(tmp_path, [record(seed=0)]))
    assert set(claims.claims_table(runs)["verdict"]) <= set(VERDICTS)


# ---- figures and curves --------------------------------------------------------------------------
def test_figure3_points_from_facts_and_files(tmp_path):
    recs = [mobilenet("dense", 1, 63.4, s) for s in (0, 1)] + [
        mobilenet(k, 4, a, s) for k, a in (("x", 54), ("g", 49)) for s in (0, 1)
    ]
    runs = gather.gather(write(tmp_path, recs))
    pts = figures.make_figure("figure3", runs, tmp_path / "fig" / "figure3", scale="paper")
    drawn = pts[pts["x"].notna()]
    assert sorted(drawn[drawn["label"] == "Base"]["series"]) == ["G-Conv", "X-Conv"]  # the base starts both
    assert drawn.set_index("label").loc["G4", "series"] == "G-Conv"
    assert drawn.set_index("label").loc["X4", "x"] == 4.0
    assert drawn.set_index("label").loc["X4", "published_err"] == pytest.approx(46.0)
    for ext in ("png", "pdf", "csv"):
        assert (tmp_path / "fig" / f"figure3.{ext}").stat().st_size > 0
    assert "verdict" in pd.read_csv(tmp_path / "fig" / "figure3.csv").columns


def test_figure6_series_from_depth_and_growth(tmp_path):
    f = dict(dataset="cifar100", depth=58, growth=60)
    recs = [record(model=f"X-DenseNet-BC-58-60-{c}", compression=c, macs=int(4e8 / c), **f) for c in (8, 16)]
    recs.append(record(model="DenseNet-BC-58-60", conv="dense", compression=1, macs=int(8e8), **f))
    pts = figures.figure_points("figure6", gather.gather(write(tmp_path, recs))).set_index("label")
    assert set(pts.loc[["X-DenseNet-BC-58-60-8", "DenseNet-BC-58-60"], "series"]) == {"DenseNet-BC-58-60 (X-C)"}
    assert (
        pts.loc["X-DenseNet-BC-58-60-16", "annotation"] == "x16" and pts.loc["DenseNet-BC-58-60", "annotation"] == "x1"
    )
    assert pts.loc["X-DenseNet-BC-58-60-8", "x"] == pytest.approx(50.0)  # counted MACs in millions
    assert pts.loc["X-DenseNet-BC-58-60-8", "published_err"] == pytest.approx(100 - 77.98)
    assert (
        math.isnan(pts.loc["X-DenseNet-BC-70-60-2", "x"]) and pts.loc["X-DenseNet-BC-70-60-2", "verdict"] == "not run"
    )


def test_log_mapping_from_the_curves_columns():
    def logs(**f):
        return curves.logs_for({"compression": None, "depth": None, "growth": None, "model": "", **f})

    assert logs(family="densenet_bc_cifar", conv="x", compression=2, depth=58, growth=60, dataset="cifar100") == [
        "densenetexpanderbc2wide_cifar100_52_60_expandSize2"
    ]  # file says 52, args say 58
    assert logs(family="densenet_bc_cifar", conv="dense", compression=1, depth=40, growth=60, dataset="cifar100") == [
        "densenetbc_cifar100_40_60"
    ]  # dense: expandSize ignored
    assert logs(family="densenet_bc_cifar", conv="dense", compression=1, depth=40, growth=60, dataset="cifar10") == [
        "densenetbc_cifar10_40_60"
    ]
    assert len(logs(family="densenet_bc_imagenet", conv="x", compression=2, depth=121, dataset="imagenet")) == 2
    assert logs(family="vgg16_cifar", conv="x", model="X-VGG16-2", dataset="cifar10") == [
        "vgg16expander_64*3_16*9_128_codefinal_test"
    ]
    assert logs(family="vgg16_cifar", conv="x", model="X-VGG16-1", dataset="cifar10") == []
    assert logs(family="resnet_imagenet", conv="x", compression=2, depth=101, dataset="imagenet") == []
    assert logs(family="mobilenet05_imagenet", conv="g", compression=4, dataset="imagenet") == []
    # every log is reachable from the facts of the network it trained
    first = published.table("curves").groupby("log").first().reset_index()
    for r in first.itertuples():
        f = curves.log_facts(r.model_def, r.dataset, r.layers, r.growth, r.expand_size)
        assert f is not None, r.log
        assert r.log in curves.logs_for({**f, "model": "X-VGG16-2"}), r.log


def test_curve_figures(tmp_path):
    recs = [
        record(model="X-DenseNet-BC-58-60-8", depth=58, growth=60, compression=8, dataset="cifar100", seed=s)
        for s in (0, 1)
    ] + [record(model="X-DenseNet-BC-40-100-3", growth=100, compression=3, seed=0)]
    index = curves.make_curves(write(tmp_path, recs), tmp_path / "curves", scale="smoke")
    assert list(index["name"]) == ["X-DenseNet-BC-58-60-8_cifar100_original"]  # no log for the other one
    assert index["seeds"].iloc[0] == "0,1"
    assert (tmp_path / "curves" / "X-DenseNet-BC-58-60-8_cifar100_original.png").stat().st_size > 10_000
    assert (tmp_path / "curves" / "index.csv").exists()
    o = curves.original_curve(["densenetexpanderbc2wide_cifar100_52_60_expandSize8"])
    assert o["epoch"].min() == 1 and o["val_err"].between(0, 100).all()


# ---- command line --------------------------------------------------------------------------------
def test_cli(tmp_path, capsys):
    write(tmp_path, [record(seed=s, best_acc=94.4) for s in (0, 1)])
    out = tmp_path / "res"
    runs = str(out / "runs.csv")
    assert cli(["gather", str(tmp_path / "runs"), "-o", runs]) == 0
    sel = ["--rows", "XDNetBC-40-24", "--seeds", "0", "1"]
    assert cli(["table", "table4", "--runs", runs, "-o", str(out / "t4"), "--scale", "smoke", *sel]) == 0
    t = pd.read_csv(out / "t4.csv")
    assert list(t["label"]) == ["XDNetBC-40-24"] and t["verdict"].iloc[0] == "reproduced"
    assert cli(["claims", "--runs", runs, "-o", str(out / "claims")]) == 0
    assert (out / "claims.md").exists()
    capsys.readouterr()
    assert cli(["table", "table4", "--runs", str(tmp_path / "missing.csv"), "-o", str(out / "x")]) == 2
    assert cli(["figure", "table4", "--runs", runs, "-o", str(out / "x")]) == 2
    assert cli(["gather", str(out), "-o", str(out / "none.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("xnet: error: ") for e in err)
    assert "missing.csv: runs table not found" in err[0] and "table4 is a table" in err[1]
    assert "no run record" in err[2]
