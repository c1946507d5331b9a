"""Library of the xnet Snakemake workflow: experiment matrix, gathering, tables, figures.

Pure functions (no Snakemake import) so that tests and the command-line wrappers
(gather.py, tables.py, figures.py) share them.  The published numbers are read from the
package copy in xnet/published/ (never from outside the project).
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
PUBLISHED_DIR = REPO / "xnet" / "published"

RUN_COLUMNS = [
    "scale", "model", "dataset", "train_dataset", "seed", "recipe", "epochs",
    "top1_err", "best_top1_err", "top5_err", "top1_acc", "best_top1_acc",
    "params", "macs", "wall_time_s", "device", "path",
]


# --------------------------------------------------------------------------- matrix
def experiment_runs(exp: dict) -> list[dict]:
    """One dict per (row, seed) of an experiment: label, model, dataset, seed."""
    out = []
    for row in exp["rows"]:
        dataset = row.get("dataset", exp["dataset"])
        for seed in row.get("seeds", exp["seeds"]):
            out.append({"label": str(row["label"]), "model": row["model"],
                        "dataset": dataset, "seed": int(seed)})
    return out


def run_matrix(config: dict, experiments=None) -> list[tuple[str, str, int]]:
    """Sorted unique (model, dataset, seed) needed by the given (default: all) experiments."""
    names = experiments or list(config["experiments"])
    keys = set()
    for name in names:
        for r in experiment_runs(config["experiments"][name]):
            keys.add((r["model"], r["dataset"], r["seed"]))
    return sorted(keys)


def run_dir(config: dict, model: str, dataset: str, seed: int) -> str:
    return f"{config.get('runs_dir', 'runs')}/{config['scale']['name']}/{dataset}/{model}/seed{seed}"


# --------------------------------------------------------------------------- gather
def logical_dataset(name: str) -> str:
    """synthetic-cifar10 -> cifar10 (the published dataset a run stands for)."""
    return name[len("synthetic-"):] if name.startswith("synthetic-") else name


def load_metrics(path, scale: str | None = None, dataset: str | None = None) -> dict:
    """Flatten one metrics.json into a tidy row (errors and accuracies in percent)."""
    path = Path(path)
    m = json.loads(path.read_text())
    train_ds = m.get("dataset", "")
    row = {
        "scale": scale if scale is not None else "",
        "model": m.get("model"),
        "dataset": dataset or logical_dataset(train_ds),
        "train_dataset": train_ds,
        "seed": int(m.get("seed", 0)),
        "recipe": _recipe(m),
        "epochs": m.get("epochs"),
        "top1_err": _num(m.get("top1_err")),
        "best_top1_err": _num(m.get("best_top1_err", m.get("top1_err"))),
        "top5_err": _num(m.get("top5_err")),
        "params": _num(m.get("params")),
        "macs": _num(m.get("macs")),
        "wall_time_s": _num(m.get("wall_time_s")),
        "device": m.get("device"),
        "path": str(path),
    }
    row["top1_acc"] = 100.0 - row["top1_err"] if row["top1_err"] == row["top1_err"] else math.nan
    row["best_top1_acc"] = (100.0 - row["best_top1_err"]
                            if row["best_top1_err"] == row["best_top1_err"] else math.nan)
    return row


def _recipe(m: dict) -> str:
    r = m.get("recipe")
    if isinstance(r, dict):
        return str(r.get("family", m.get("family", "")))
    return str(r if r is not None else m.get("family", ""))


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def gather(paths, scale: str | None = None, datasets=None) -> pd.DataFrame:
    """Every metrics.json into one tidy table, one row per run, sorted by (dataset, model, seed).

    `datasets`: optional list (same length as paths) of the published dataset of each run;
    otherwise it is read from metrics.json (synthetic-X counts as X).
    """
    paths = list(paths)
    datasets = list(datasets) if datasets is not None else [None] * len(paths)
    rows = [load_metrics(p, scale, d) for p, d in zip(paths, datasets)]
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    return df.sort_values(["dataset", "model", "seed"], kind="stable").reset_index(drop=True)


def find_metrics(root) -> list[Path]:
    return sorted(Path(root).rglob("metrics.json"))


def experiment_frame(runs: pd.DataFrame, exp: dict) -> pd.DataFrame:
    """The runs of one experiment, one row per (label, seed), in the config's row order.
    Runs missing from `runs` are left out."""
    want = pd.DataFrame(experiment_runs(exp))
    want["order"] = range(len(want))
    df = want.merge(runs, on=["model", "dataset", "seed"], how="inner")
    return df.sort_values("order").drop(columns="order").reset_index(drop=True)


# --------------------------------------------------------------------------- published
def load_published(name: str, published_dir=None) -> pd.DataFrame:
    return pd.read_csv(Path(published_dir or PUBLISHED_DIR) / name)


def published_row(pub: pd.DataFrame, key: str, label: str, dataset: str | None):
    """The published row for one config row (None if absent)."""
    if key == "compression":  # Figure 3: label Base / G<c> / X<c>
        c = 1 if label == "Base" else int(re.sub(r"\D", "", label))
        hit = pub[pub["compression"].astype(int) == c]
    else:
        hit = pub[pub[key].astype(str) == str(label)]
        if "dataset" in pub.columns and dataset is not None:
            hit = hit[hit["dataset"] == dataset]
    return None if hit.empty else hit.iloc[0]


def published_error(prow, label: str) -> float:
    """Published top-1 error (percent) of a row, whatever the file's convention."""
    if prow is None:
        return math.nan
    if "gconv_top1_err" in prow.index:  # Figure 3
        if label == "Base" or label.startswith("X"):
            return float(prow["xconv_top1_err"])
        return float(prow["gconv_top1_err"])
    for col in ("mean_acc", "top1_acc", "best_acc"):
        if col in prow.index and pd.notna(prow[col]):
            return 100.0 - float(prow[col])
    return math.nan


# --------------------------------------------------------------------------- scale
def scale_line(scale: dict, runs: pd.DataFrame | None = None, seeds=None) -> str:
    """One line saying at which scale a table / figure was made."""
    name = scale.get("name", "?")
    parts = [f"Scale: {name.upper()}"]
    if scale.get("description"):
        parts[0] += f" - {scale['description']}"
    epochs = scale.get("epochs")
    if runs is not None and len(runs) and runs["epochs"].notna().any():
        ep = sorted({int(e) for e in runs["epochs"].dropna()})
        epochs = ",".join(map(str, ep))
    parts.append(f"epochs {epochs if epochs is not None else 'recipe'}")
    if seeds is None and runs is not None and len(runs):
        seeds = sorted({int(s) for s in runs["seed"]})
    if seeds is not None:
        parts.append(f"seeds {','.join(map(str, seeds))}")
    if runs is not None and len(runs):
        ds = sorted({f"{d}->{t}" if d != t else d
                     for d, t in zip(runs["dataset"], runs["train_dataset"])})
        parts.append("data " + ", ".join(ds))
    else:
        ds = sorted({f"{k}->{v}" if k != v else k for k, v in scale.get("datasets", {}).items()})
        parts.append("data " + ", ".join(ds))
    if scale.get("limit_train_batches"):
        parts.append(f"{scale['limit_train_batches']} train batches/epoch")
    if scale.get("limit_val_batches"):
        parts.append(f"{scale['limit_val_batches']} val batches")
    if scale.get("batch_size"):
        parts.append(f"batch {scale['batch_size']}")
    if runs is not None and len(runs) and runs["device"].notna().any():
        parts.append("device " + ",".join(sorted({str(d) for d in runs["device"].dropna()})))
    return "; ".join(parts)


# --------------------------------------------------------------------------- tables
ACC_NOTE = ("rerun = 100 - final-epoch top-1 error, mean (std) over seeds; best = best-epoch "
            "accuracy (optimistic, like the published logs); diff = rerun mean - published.")


def experiment_rows(exp: dict, runs_exp: pd.DataFrame, pub: pd.DataFrame):
    """For each row of an experiment's config: (row, label, dataset, its runs, its published row)."""
    for row in exp["rows"]:
        label = str(row["label"])
        dataset = row.get("dataset", exp["dataset"])
        sel = runs_exp[(runs_exp["label"] == label) & (runs_exp["dataset"] == dataset)]
        yield row, label, dataset, sel, published_row(pub, exp["key"], label, dataset)


def summarize(exp: dict, runs_exp: pd.DataFrame, pub: pd.DataFrame) -> pd.DataFrame:
    """One row per config row: published value(s), rerun mean/std(/min/max), difference."""
    rows = []
    for row, label, dataset, sel, prow in experiment_rows(exp, runs_exp, pub):
        acc = sel["top1_acc"].astype(float)
        out = {
            "label": label,
            "model": row["model"],
            "dataset": dataset,
            "train_dataset": ",".join(sorted(set(sel["train_dataset"].astype(str)))) if len(sel) else "",
            "seeds": len(row.get("seeds", exp["seeds"])),
            "n": int(acc.notna().sum()),
            "published_acc": 100.0 - published_error(prow, label),
        }
        if prow is not None and "std_acc" in prow.index:
            out["published_std"] = float(prow["std_acc"])
        if prow is not None and "max_acc" in prow.index:
            out["published_max"] = float(prow["max_acc"])
            out["published_min"] = float(prow["min_acc"])
        if prow is not None and "range_acc" in prow.index:
            out["published_range"] = float(prow["range_acc"])
        out["rerun_acc"] = acc.mean() if len(acc) else math.nan
        out["rerun_std"] = acc.std(ddof=1) if len(acc) > 1 else math.nan
        if "max_acc" in pub.columns:
            out["rerun_max"] = acc.max() if len(acc) else math.nan
            out["rerun_min"] = acc.min() if len(acc) else math.nan
        if "range_acc" in pub.columns:
            out["rerun_range"] = acc.max() - acc.min() if len(acc) else math.nan
        out["rerun_best_acc"] = sel["best_top1_acc"].astype(float).mean() if len(sel) else math.nan
        out["diff"] = out["rerun_acc"] - out["published_acc"]
        params = sel["params"].astype(float).mean() if len(sel) else math.nan
        macs = sel["macs"].astype(float).mean() if len(sel) else math.nan
        out["params_M"] = params / 1e6
        if prow is not None and "params_M" in prow.index:
            out["published_params_M"] = float(prow["params_M"])
        out["macs_M"] = macs / 1e6
        if prow is not None and "flops_100M" in prow.index:
            # Table 1 prints FLOPs in 100M, about 2 x MACs (CONVENTIONS.md)
            out["flops_100M"] = 2 * macs / 1e8
            out["published_flops_100M"] = float(prow["flops_100M"])
        rows.append(out)
    # Tables 2 and 3 also print pruning methods: published only, for context
    if "kind" in pub.columns and "method" in pub.columns:
        for _, prow in pub[pub["kind"] == "pruning"].iterrows():
            rows.append({"label": prow["method"], "model": "(pruning, published only)",
                         "dataset": exp["dataset"], "train_dataset": "", "seeds": 0, "n": 0,
                         "published_acc": float(prow["top1_acc"]), "rerun_acc": math.nan,
                         "rerun_std": math.nan, "rerun_best_acc": math.nan, "diff": math.nan,
                         "params_M": math.nan, "macs_M": math.nan,
                         "published_params_M": float(prow["params_M"])})
    return pd.DataFrame(rows)


def _fmt(v, nd=2):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def display_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Human-readable version of a summary (mean +- std in one cell)."""
    d = pd.DataFrame()
    d["row"] = summary["label"]
    d["model"] = summary["model"]
    d["dataset"] = [f"{a} ({b})" if b and b != a else a
                    for a, b in zip(summary["dataset"], summary["train_dataset"])]
    pub = summary["published_acc"].map(_fmt)
    if "published_std" in summary:
        pub = pub + " ± " + summary["published_std"].map(_fmt)
    d["published acc"] = pub
    if "published_max" in summary:
        d["published max / min"] = summary["published_max"].map(_fmt) + " / " + summary["published_min"].map(_fmt)
    if "published_range" in summary:
        d["published range"] = summary["published_range"].map(_fmt)
    d["rerun acc"] = [f"{_fmt(m)} ± {_fmt(s)}" if s == s else _fmt(m)
                      for m, s in zip(summary["rerun_acc"], summary["rerun_std"])]
    if "rerun_max" in summary:
        d["rerun max / min"] = summary["rerun_max"].map(_fmt) + " / " + summary["rerun_min"].map(_fmt)
    if "rerun_range" in summary:
        d["rerun range"] = summary["rerun_range"].map(_fmt)
    d["rerun best"] = summary["rerun_best_acc"].map(_fmt)
    d["n seeds"] = [f"{n}/{s}" if s else "-" for n, s in zip(summary["n"], summary["seeds"])]
    d["diff"] = summary["diff"].map(lambda v: "-" if v != v else f"{v:+.2f}")
    if "published_params_M" in summary:
        d["params M (pub)"] = summary["params_M"].map(_fmt) + " (" + summary["published_params_M"].map(_fmt) + ")"
    else:
        d["params M"] = summary["params_M"].map(_fmt)
    if "published_flops_100M" in summary:
        d["FLOPs 100M (pub)"] = summary["flops_100M"].map(_fmt) + " (" + summary["published_flops_100M"].map(_fmt) + ")"
    else:
        d["MACs M"] = summary["macs_M"].map(lambda v: _fmt(v, 1))
    return d


def write_table(summary: pd.DataFrame, title: str, scale_text: str, csv_path, md_path, tex_path):
    """CSV (machine-readable, scale in a column), Markdown and LaTeX (scale line on top)."""
    for p in (csv_path, md_path, tex_path):
        Path(p).parent.mkdir(parents=True, exist_ok=True)
    out = summary.copy()
    out.insert(0, "scale", scale_text)
    out.to_csv(csv_path, index=False, float_format="%.4f")
    disp = display_table(summary)
    md = [f"## {title}", "", f"**{scale_text}**", "", disp.to_markdown(index=False), "",
          f"_{ACC_NOTE}_", ""]
    Path(md_path).write_text("\n".join(md), encoding="utf-8")
    Path(tex_path).write_text(to_latex(disp, title, scale_text), encoding="utf-8")


def _tex_escape(s: str) -> str:
    rep = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
           "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
           "±": r"$\pm$"}
    return "".join(rep.get(ch, ch) for ch in str(s))


def to_latex(disp: pd.DataFrame, title: str, scale_text: str) -> str:
    """A booktabs table (no jinja2 needed)."""
    cols = list(disp.columns)
    lines = [f"% {scale_text}", r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{" + "l" * 3 + "r" * (len(cols) - 3) + "}", r"\toprule",
             " & ".join(_tex_escape(c) for c in cols) + r" \\", r"\midrule"]
    for _, r in disp.iterrows():
        lines.append(" & ".join(_tex_escape(v) for v in r.tolist()) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}",
              r"\caption{" + _tex_escape(title) + ". " + _tex_escape(scale_text) + ". "
              + _tex_escape(ACC_NOTE) + "}", r"\end{table}", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- figures
_DN = re.compile(r"^(?P<x>X-)?DenseNet-BC-(?P<a>\d+)-(?P<b>\d+)(?:-(?P<c>\d+))?$")


def series_of(model: str, label: str, mode: str) -> list[str]:
    """Series (legend entries) a point belongs to."""
    if mode == "conv":  # Figure 3: the base model starts both curves
        if label == "Base":
            return ["G-Conv", "X-Conv"]
        return ["G-Conv" if label.startswith("G") else "X-Conv"]
    if mode == "depth_growth":  # Figure 6: one curve per (depth, growth), compression along it
        m = _DN.match(model)
        if m:
            return [f"DenseNet-BC-{m['a']}-{m['b']} (X-C)"]
    x = model.startswith("X-")
    base = model[2:] if x else model
    fam = "ResNet" if base.startswith("ResNet") else ("DenseNet-BC" if base.startswith("DenseNet-BC")
                                                     else base.split("-")[0])
    return [("X-" if x else "") + fam]


def figure_points(exp: dict, runs_exp: pd.DataFrame, pub: pd.DataFrame) -> pd.DataFrame:
    """One row per (series, config row): x, rerun error mean/std over seeds, published error."""
    mode = exp.get("series") or ("conv" if exp.get("x") == "compression" else "family")
    pts = []
    for row, label, dataset, sel, prow in experiment_rows(exp, runs_exp, pub):
        err = sel["top1_err"].astype(float)
        if exp.get("x") == "compression":
            x = 1.0 if label == "Base" else float(re.sub(r"\D", "", label))
        else:
            x = sel["macs"].astype(float).mean() / 1e6 if len(sel) else math.nan
        for s in series_of(row["model"], label, mode):
            pts.append({"series": s, "label": label, "model": row["model"], "dataset": dataset,
                        "x": x, "n": int(err.notna().sum()),
                        "rerun_err": err.mean() if len(err) else math.nan,
                        "rerun_err_std": err.std(ddof=1) if len(err) > 1 else 0.0,
                        "published_err": published_error(prow, label)})
    return pd.DataFrame(pts)


def short_label(label: str, model: str, mode: str) -> str:
    """Point annotation: the X-C notation's compression for Figure 6, the label otherwise."""
    if mode == "depth_growth":
        m = _DN.match(model)
        if m:
            return f"x{m['c'] or 1}"
    return label


def draw_figure(exp: dict, points: pd.DataFrame, scale_text: str, png_path, pdf_path, csv_path=None):
    import textwrap

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    from matplotlib.lines import Line2D

    mode = exp.get("series") or ("conv" if exp.get("x") == "compression" else "family")
    datasets = list(dict.fromkeys(points["dataset"])) if len(points) else [exp["dataset"]]
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets) + 2.4, 4.9), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    series = list(dict.fromkeys(points["series"])) if len(points) else []
    handles = []
    for i, s in enumerate(series):
        handles.append(Line2D([], [], color=colors[i % len(colors)], marker="o", label=s))
    handles += [Line2D([], [], color="gray", marker="o", label="rerun (mean ± std over seeds)"),
                Line2D([], [], color="gray", marker="o", ls="--", markerfacecolor="none",
                       label="published")]
    for ax, ds in zip(axes[0], datasets):
        sub = points[points["dataset"] == ds]
        for i, s in enumerate(series):
            p = sub[sub["series"] == s].sort_values("x")
            if p.empty:
                continue
            c = colors[i % len(colors)]
            ok = p[p["rerun_err"].notna() & p["x"].notna()]
            ax.errorbar(ok["x"], ok["rerun_err"], yerr=ok["rerun_err_std"], color=c, marker="o",
                        ms=6, capsize=3, lw=1.5)
            pp = p[p["published_err"].notna() & p["x"].notna()]
            ax.plot(pp["x"], pp["published_err"], color=c, ls="--", lw=1, marker="o", ms=8,
                    markerfacecolor="none", markeredgewidth=1.5)
            for _, r in ok.iterrows():
                ax.annotate(short_label(r["label"], r["model"], mode), (r["x"], r["rerun_err"]),
                            fontsize=6, alpha=0.8, xytext=(3, 3), textcoords="offset points")
        if exp.get("x") == "compression":
            ax.set_xscale("log", base=2)
            ax.set_xlabel("compression of the 1x1 convolutions (x)")
        else:
            ax.set_xscale("log")
            # plain numbers, and no minor labels: a narrow MAC range otherwise prints overlapping
            # "1.4 x 10^2" style labels
            ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel("MACs (M), counted on the rerun's input size")
        ax.set_ylabel("top-1 error (%)")
        ax.set_title(ds)
        ax.grid(alpha=0.3, which="both")
    axes[0][-1].legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(exp["title"], fontsize=10)
    caption = textwrap.fill(scale_text, 150) + "\nfilled: rerun, final-epoch top-1 error, mean ± std over " \
        "seeds; hollow/dashed: published numbers (placed at the rerun's x)"
    fig.text(0.01, 0.01, caption, fontsize=7, va="bottom",
             color="darkred" if "SMOKE" in scale_text else "black")
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    for p in (png_path, pdf_path):
        Path(p).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=130)
    fig.savefig(pdf_path)
    plt.close(fig)
    if csv_path:
        out = points.copy()
        out.insert(0, "scale", scale_text)
        out.to_csv(csv_path, index=False, float_format="%.4f")


def read_runs(path) -> pd.DataFrame:
    df = pd.read_csv(path, keep_default_na=True)
    if "label" in df.columns:
        df["label"] = df["label"].astype(str)
    for c in ("train_dataset", "device"):
        if c in df.columns:
            df[c] = df[c].fillna("").astype(str)
    return df


def ensure_dir(p):
    os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)


def experiment_cli(doc, example, argv=None):
    """Command-line front of tables.py / figures.py: parse, load the config and the runs of one
    experiment; return (config, experiment, runs, output path without suffix)."""
    import argparse
    import yaml
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--runs", required=True, help="CSV from gather.py")
    ap.add_argument("--experiment", required=True, help=f"e.g. {example}")
    ap.add_argument("--outdir", required=True)
    a = ap.parse_args(argv)
    cfg = yaml.safe_load(Path(a.config).read_text())
    exp = cfg["experiments"][a.experiment]
    runs = read_runs(a.runs)
    if "label" not in runs.columns:
        runs = experiment_frame(runs, exp)
    return cfg, exp, runs, Path(a.outdir) / a.experiment
