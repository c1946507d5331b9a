"""Figures 3-6: rerun top-1 error against MACs (Figures 4-6) or compression (Figure 3), published points beside.

API (torch-free; matplotlib is imported inside :func:`draw_figure` only):

- ``figure_points(experiment, runs, variant=None) -> DataFrame``: one row per (series, row):
  ``series, label, model, dataset, x, n, rerun_err, rerun_err_std`` (best-epoch error, mean and
  std over seeds), ``rerun_final_err``, ``published_err``, ``annotation``, ``verdict``.  Series and x
  come from the runs' recorded facts (family, conv, compression, depth, growth, counted MACs),
  never from the model name; a row without runs has no x and is not drawn.
- ``draw_figure(experiment, points, png, pdf, scale_text, variant, csv=None)``.
- ``make_figure(experiment, runs, out_prefix, scale=None, variant=None) -> DataFrame``: points,
  then ``out_prefix.{png,pdf,csv}``.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pandas as pd

from .gather import choose_variant, experiment_runs
from .tables import _experiment, published_row
from .verdicts import CRITERION, row_verdict, summary
from .writers import scale_text as _scale_text
from .writers import variant_text, write_csv

FAMILY_NAMES = {
    "resnet_imagenet": "ResNet",
    "densenet_bc_imagenet": "DenseNet-BC",
    "densenet_bc_cifar": "DenseNet-BC",
    "vgg16_cifar": "VGG16",
    "alexnet_imagenet": "AlexNet",
    "mobilenet05_imagenet": "MobileNet-0.5",
}
CONV_PREFIX = {"dense": "", "x": "X-", "g": "G-"}


def _facts(sel: pd.DataFrame) -> dict:
    """The recorded facts of one row's runs (the first run; they are the same model)."""
    r = sel.iloc[0]
    keys = ("family", "conv", "compression", "depth", "growth", "block_size")
    return {k: (None if k not in r.index or pd.isna(r[k]) else r[k]) for k in keys}


def series_of(facts: dict, mode: str) -> list[str]:
    """The curves (legend entries) a point belongs to, from the run's facts."""
    conv = facts["conv"]
    if mode == "conv":  # Figure 3: the dense base starts every curve
        if conv == "dense":
            return ["G-Conv", "X-Conv"] + (["X-Conv, block expanders"] if facts.get("with_blocks") else [])
        if conv == "x" and facts.get("block_size"):
            return ["X-Conv, block expanders"]
        return [f"{conv.upper()}-Conv"]
    if mode == "depth_growth":  # Figure 6: one curve per (depth, growth), compression along it
        return [f"DenseNet-BC-{facts['depth']}-{facts['growth']} (X-C)"]
    return [CONV_PREFIX.get(conv, "") + FAMILY_NAMES.get(facts["family"], facts["family"])]


def _compression(facts: dict) -> float:
    return 1.0 if facts["conv"] == "dense" or facts["compression"] is None else float(facts["compression"])


def figure_points(experiment, runs: pd.DataFrame, variant: str | None = None) -> pd.DataFrame:
    exp = _experiment(experiment)
    variant = choose_variant(runs, variant)
    runs_exp = experiment_runs(runs, exp, variant)
    mode = exp.series or ("conv" if exp.x == "compression" else "family")
    pts = []
    for row in exp.rows:
        p = published_row(exp, row)
        sel = runs_exp[(runs_exp["label"] == row.label) & (runs_exp["paper_dataset"] == row.dataset)]
        n, best_acc, best_std = summary(sel["best_top1_acc"].astype(float))
        _, final_acc, _ = summary(sel["top1_acc"].astype(float))
        v = row_verdict(sel, p, row.extension)
        base = {
            "label": row.label,
            "model": row.model,
            "paper_dataset": row.dataset,
            "n": n,
            "rerun_err": 100 - best_acc,
            "rerun_err_std": best_std if n > 1 else 0.0,
            "rerun_final_err": 100 - final_acc,
            "published_err": p.err,
            "verdict": v.verdict,
            "dataset": ",".join(sorted(set(sel["dataset"].astype(str)))),
            "stand_in": bool(sel["stand_in"].astype(bool).any()),
        }
        if not n:
            pts.append({"series": "", "x": math.nan, "annotation": row.label, **base})
            continue
        facts = {**_facts(sel), "with_blocks": bool(runs_exp["block_size"].notna().any())}
        x = _compression(facts) if exp.x == "compression" else float(sel["macs"].astype(float).mean()) / 1e6
        note = f"x{int(_compression(facts))}" if mode == "depth_growth" else row.label
        for s in series_of(facts, mode):
            pts.append({"series": s, "x": x, "annotation": note, **base})
    cols = [
        "series",
        "label",
        "model",
        "paper_dataset",
        "x",
        "n",
        "rerun_err",
        "rerun_err_std",
        "rerun_final_err",
        "published_err",
        "annotation",
        "verdict",
        "dataset",
        "stand_in",
    ]
    return pd.DataFrame(pts, columns=cols)


def draw_figure(experiment, points: pd.DataFrame, png, pdf, scale_text: str, variant: str | None, csv=None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    from matplotlib.lines import Line2D

    exp = _experiment(experiment)
    drawn = points[points["x"].notna()]
    datasets = list(dict.fromkeys(points["paper_dataset"])) or [exp.dataset]
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets) + 2.4, 4.9), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    series = list(dict.fromkeys(drawn["series"]))
    handles = [Line2D([], [], color=colors[i % len(colors)], marker="o", label=s) for i, s in enumerate(series)]
    handles += [
        Line2D([], [], color="gray", marker="o", label="rerun: best-epoch error, mean ± std over seeds"),
        Line2D([], [], color="gray", marker="o", ls="--", markerfacecolor="none", label="published"),
    ]
    for ax, ds in zip(axes[0], datasets):
        sub = drawn[drawn["paper_dataset"] == ds]
        if sub.empty:
            ax.text(0.5, 0.5, "no reruns", transform=ax.transAxes, ha="center", va="center", color="gray")
        for i, s in enumerate(series):
            p = sub[sub["series"] == s].sort_values("x")
            if p.empty:
                continue
            c = colors[i % len(colors)]
            ax.errorbar(p["x"], p["rerun_err"], yerr=p["rerun_err_std"], color=c, marker="o", ms=6, capsize=3, lw=1.5)
            ax.plot(
                p["x"],
                p["published_err"],
                color=c,
                ls="--",
                lw=1,
                marker="o",
                ms=8,
                markerfacecolor="none",
                markeredgewidth=1.5,
            )
            for _, r in p.iterrows():
                ax.annotate(
                    r["annotation"],
                    (r["x"], r["rerun_err"]),
                    fontsize=6,
                    alpha=0.8,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
        if exp.x == "compression":
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.set_xlabel("compression of the 1x1 convolutions (x)")
        else:
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel("MACs (M), counted on the trained network")
        ax.set_ylabel("top-1 error (%)")
        trained = sorted({t for t in sub["dataset"] if t and t != ds})
        ax.set_title(f"{ds} (trained on {', '.join(trained)})" if trained else ds)
        ax.grid(alpha=0.3, which="both")
    axes[0][-1].legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(exp.title, fontsize=10)
    stand_in = bool(drawn["stand_in"].astype(bool).any())
    legend = "filled: rerun; hollow/dashed: published (placed at the rerun's x); rows without a rerun are not drawn"
    if stand_in:
        legend += "; the reruns trained on a stand-in dataset: the published points are the paper's, on its own dataset"
    caption = textwrap.fill(f"{scale_text}. Variant: {variant_text(variant)}.", 150) + "\n" + textwrap.fill(legend, 150)
    warn = "NOT at paper scale" in scale_text
    fig.text(0.01, 0.01, caption, fontsize=7, va="bottom", color="darkred" if warn else "black")
    fig.tight_layout(rect=(0, 0.14, 1, 0.95))
    for path in (png, pdf):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=130)
    fig.savefig(pdf)
    plt.close(fig)
    if csv:
        write_csv(points, csv, scale_text, variant, CRITERION)


def make_figure(experiment, runs: pd.DataFrame, out_prefix, scale=None, variant: str | None = None) -> pd.DataFrame:
    exp = _experiment(experiment)
    variant = choose_variant(runs, variant)
    pts = figure_points(exp, runs, variant)
    text = _scale_text(experiment_runs(runs, exp, variant), scale)
    draw_figure(exp, pts, f"{out_prefix}.png", f"{out_prefix}.pdf", text, variant, f"{out_prefix}.csv")
    return pts
