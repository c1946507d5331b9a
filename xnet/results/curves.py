"""Learning curves of the reruns beside the authors' logged curves (torch-free; matplotlib inside the drawing).

The authors' per-epoch curves are ``xnet/published/original_training_curves.csv`` (one row per log
and epoch: ``log, dataset, model_def, layers, growth, expand_size, ..., epoch, train_top1,
val_top1`` with top-1 *accuracies* in percent and epochs counted from 0).

API:

- ``log_facts(model_def, dataset, layers, growth, expand_size) -> dict | None``: the recorded facts
  (family, conv, depth, growth, compression, dataset) of the network an authors' log trained,
  from the curves CSV's own columns (:data:`LOG_MODEL_DEFS`); None for a model_def it does not know.
- ``logs_for(facts) -> list[str]``: the authors' logs of the network a rerun trained (``facts``:
  a runs-table row or any mapping with family, conv, compression, depth, growth, dataset, model;
  the paper dataset).  Several logs when the authors resumed a run in a second log.
- ``original_curve(logs) -> DataFrame``: ``log, epoch`` (1-based, as the reruns count),
  ``train_err, val_err``.
- ``curve_name(model, dataset, variant) -> str``: the figure's file stem.
- ``make_curves(records, out_dir, scale=None) -> DataFrame``: one figure per (model, dataset,
  variant) that has a log, every seed drawn, saved as ``out_dir/<curve_name>.png``; returns (and
  writes as ``out_dir/index.csv``) the index: name, model, dataset, variant, seeds, logs.
"""

from __future__ import annotations

import math
import re
import textwrap
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..errors import RecordError
from ..runs.record import RunRecord
from . import published as pub
from .gather import at_paper_scale
from .writers import scale_name, variant_text

# model_def of the authors' code (code/models/) -> (family, conv, depth or None: the log's `layers`)
LOG_MODEL_DEFS = {
    "densenet_cifar": ("densenet_bc_cifar", "dense", None),
    "densenetexpander2_cifar": ("densenet_bc_cifar", "x", None),
    "resnet34": ("resnet_imagenet", "dense", 34),
    "resnet50": ("resnet_imagenet", "dense", 50),
    "resnetexpander34": ("resnet_imagenet", "x", 34),
    "resnetexpander50": ("resnet_imagenet", "x", 50),
    "densenetexpander121": ("densenet_bc_imagenet", "x", 121),
    "densenetexpander161": ("densenet_bc_imagenet", "x", 161),
    "densenetexpander169": ("densenet_bc_imagenet", "x", 169),
    "mobilenet": ("mobilenet05_imagenet", "dense", None),
    "vgg16cifar_bn": ("vgg16_cifar", "dense", None),
    "vgg16cifar_bnexpander": ("vgg16_cifar", "x", None),
}
# The one X-VGG16 log (degrees 64 x 3 ... 128) is the X-VGG16-2 / X-VGG-2 row (issue 9, CONVENTIONS.md):
# its degrees are not a compression, so the rerun is matched by its published name.
X_VGG_LOGGED = ("X-VGG16-2", "X-VGG-2")
_DATASETS = {"imagenet12": "imagenet"}


def log_facts(model_def: str, dataset: str, layers, growth, expand_size) -> dict | None:
    """The facts of the network one authors' log trained (see the module docstring)."""
    if model_def not in LOG_MODEL_DEFS:
        return None
    family, conv, depth = LOG_MODEL_DEFS[model_def]
    cifar_densenet = family == "densenet_bc_cifar"
    return {
        "family": family,
        "conv": conv,
        "dataset": _DATASETS.get(dataset, dataset),
        "depth": int(layers) if cifar_densenet else depth,
        "growth": int(growth) if cifar_densenet else None,
        # expandSize is the compression of X-models; dense logs print the default (2): meaningless
        "compression": int(expand_size) if conv == "x" and family != "vgg16_cifar" else None,
    }


@lru_cache(maxsize=1)
def _curves() -> pd.DataFrame:
    return pub.table("curves")


@lru_cache(maxsize=1)
def _logs() -> pd.DataFrame:
    first = _curves().groupby("log", sort=True).first().reset_index()
    facts = [log_facts(r.model_def, r.dataset, r.layers, r.growth, r.expand_size) for r in first.itertuples()]
    return pd.DataFrame([{"log": log, **(f or {})} for log, f in zip(first["log"], facts)])


def _val(facts, key):
    v = facts.get(key) if hasattr(facts, "get") else getattr(facts, key, None)
    return None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v


def logs_for(facts) -> list[str]:
    """The authors' logs of the network described by ``facts`` (empty if there is none)."""
    family, conv = _val(facts, "family"), _val(facts, "conv")
    logs = _logs()
    hit = logs[(logs["family"] == family) & (logs["conv"] == conv) & (logs["dataset"] == _val(facts, "dataset"))]
    out = []
    for r in hit.itertuples():
        if family == "vgg16_cifar" and conv == "x":
            ok = _val(facts, "model") in X_VGG_LOGGED
        else:
            # compare what the log states (a dense log's compression and an ImageNet log's growth: nothing)
            ok = all(
                pd.isna(getattr(r, k)) or _val(facts, k) == getattr(r, k) for k in ("depth", "growth", "compression")
            )
        if ok:
            out.append(r.log)
    return sorted(out)


def original_curve(logs) -> pd.DataFrame:
    """The authors' curve(s): epoch 1-based, train and validation top-1 error in percent."""
    c = _curves()
    c = c[c["log"].isin(list(logs))]
    return (
        pd.DataFrame(
            {
                "log": c["log"],
                "epoch": c["epoch"] + 1,
                "train_err": 100 - c["train_top1"],
                "val_err": 100 - c["val_top1"],
            }
        )
        .sort_values(["epoch", "log"])
        .reset_index(drop=True)
    )


def curve_name(model: str, dataset: str, variant: str) -> str:
    """File stem of a curve figure: ``<model>_<dataset>_<variant>`` (only [A-Za-z0-9._-])."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{model}_{dataset}_{variant}")


def draw_curve(records: list[RunRecord], logs: list[str], png, scale=None) -> None:
    """One figure: train and validation error per epoch of every rerun seed, the authors' curve beside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r0 = records[0]
    orig = original_curve(logs)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=False)
    for ax, key, title in ((axes[0], "train", "training error"), (axes[1], "val", "validation error")):
        for i, log in enumerate(logs):
            o = orig[orig["log"] == log]
            ax.plot(o["epoch"], o[f"{key}_err"], color="black", lw=1.2, label="authors' log" if i == 0 else None)
        for j, rec in enumerate(sorted(records, key=lambda r: r.seed)):
            h = pd.DataFrame(rec.history)
            ax.plot(
                h["epoch"],
                h[f"{key}_top1_err"],
                color=f"C{j % 10}",
                lw=1.2,
                marker="o" if len(h) < 20 else None,
                ms=3,
                label=f"rerun seed {rec.seed}",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("top-1 error (%)")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    paper = all(at_paper_scale(r) for r in records)
    name = scale_name(scale)
    scale_line = f"Scale: {name.upper() if name else '(as recorded by the runs)'}; " + (
        "at paper scale"
        if paper
        else "NOT at paper scale (synthetic data, limited batches or fewer epochs): the "
        "rerun's curve says nothing about the paper's"
    )
    fig.suptitle(f"{r0.model} on {r0.paper_dataset} (trained on {r0.dataset}): rerun vs the authors' log", fontsize=10)
    caption = textwrap.fill(
        f"{scale_line}. Variant: {variant_text(r0.variant)}. Authors' logs: {', '.join(logs)} "
        f"(epochs counted from 1; accuracies printed by their code turned into errors).",
        160,
    )
    fig.text(0.01, 0.01, caption, fontsize=7, va="bottom", color="black" if paper else "darkred")
    fig.tight_layout(rect=(0, 0.1, 1, 0.94))
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


INDEX_COLUMNS = ["name", "model", "dataset", "variant", "seeds", "logs", "at_paper_scale"]


def make_curves(records, out_dir, scale=None) -> pd.DataFrame:
    """A curve figure for every (model, dataset, variant) of ``records`` (RunRecords or paths) with an authors' log."""
    recs = [r if isinstance(r, RunRecord) else RunRecord.load(r) for r in records]
    groups: dict[tuple, list[RunRecord]] = {}
    for r in recs:
        group = groups.setdefault((r.model, r.paper_dataset, r.variant), [])
        if any(g.seed == r.seed for g in group):
            raise RecordError(
                f"two run records of {r.model} on {r.paper_dataset} ({r.variant}) seed {r.seed}: "
                "draw the curves of one scale at a time"
            )
        group.append(r)
    rows = []
    for (model, dataset, variant), rs in sorted(groups.items()):
        r0 = rs[0]
        facts = {
            "family": r0.family,
            "conv": r0.conv,
            "compression": r0.compression,
            "depth": r0.depth,
            "growth": r0.growth,
            "dataset": dataset,
            "model": model,
        }
        logs = logs_for(facts)
        if not logs:
            continue
        name = curve_name(model, dataset, variant)
        draw_curve(rs, logs, Path(out_dir) / f"{name}.png", scale)
        rows.append(
            {
                "name": name,
                "model": model,
                "dataset": dataset,
                "variant": variant,
                "seeds": ",".join(str(r.seed) for r in sorted(rs, key=lambda r: r.seed)),
                "logs": ";".join(logs),
                "at_paper_scale": all(at_paper_scale(r) for r in rs),
            }
        )
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    index.to_csv(Path(out_dir) / "index.csv", index=False)
    return index
