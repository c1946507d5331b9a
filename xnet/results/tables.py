"""Tables 1-5: the published numbers beside the reruns, the counts of the trained network, a verdict (torch-free).

API:

- ``build_table(experiment, runs, variant=None) -> DataFrame``: one row per row of ``experiment``
  (an :class:`~xnet.results.experiments.Experiment`, or its name), from ``runs`` (the runs table of
  :func:`xnet.results.gather.gather`; its other runs are ignored), plus the published-only rows of
  other methods (Tables 2, 3: pruning).  Columns (accuracies in percent):

  ``label, model, paper_dataset`` (the row's), ``dataset`` (what its reruns trained on), ``seeds``
  (the experiment's), ``n`` (runs found), ``at_paper_scale``; ``published_acc`` (+ ``published_std,
  published_runs, published_max, published_min, published_range`` where printed); ``rerun_best_acc,
  rerun_best_std`` (best epoch, mean and std over seeds: what is compared), ``rerun_acc, rerun_std``
  (final epoch), ``rerun_max, rerun_min, rerun_range`` (best epoch, over seeds), ``diff`` (rerun
  best mean - published); ``params_M, macs_M`` (counted on the network that was trained, from the
  run records) beside ``published_params_M, published_macs_M`` (the published count converted from
  its printed unit: :data:`xnet.results.published.UNITS`) and ``published_count`` (as printed, unit,
  source); ``verdict, test, p_value`` (:mod:`xnet.results.verdicts`).

- ``write_table(table, title, csv, md, tex, scale_text, variant)``: the CSV (with ``scale``,
  ``variant`` and ``criterion`` columns), Markdown and LaTeX (scale, variant and criterion printed).
- ``make_table(experiment, runs, out_prefix, scale=None, variant=None) -> DataFrame``: build and
  write ``out_prefix.{csv,md,tex}``.
"""

from __future__ import annotations

import math

import pandas as pd

from ..errors import UserError
from . import published as pub
from . import standin
from .gather import choose_variant, experiment_runs
from .verdicts import CRITERION, NOT_RUN, row_verdict, summary
from .writers import fmt, variant_text, write_csv, write_md, write_tex
from .writers import scale_text as _scale_text

NOTE = (
    "best = best-epoch accuracy (compared with the published number, which the authors' logs print as "
    "the best epoch); final = last-epoch accuracy; mean ± std over seeds; diff = best mean - published. "
    "Counts are those of the network each run trained (from its run record) beside the published count "
    "converted from its printed unit (Table 1: FLOPs = 2 x MACs; CIFAR and MobileNet FLOPs = MACs), counted at the "
    "input size the run trained on (synthetic-imagenet: 64x64, 100 classes)."
)


COST_NOTE = (
    "s / epoch: median training time of one epoch over the run's epochs (validation excluded), mean over seeds; "
    "peak MB: the training process's peak memory (CPU: max resident set size, data included; CUDA: max allocated), "
    "mean over seeds; both on the machine and threads the runs record."
)


def _experiment(experiment):
    """An ``Experiment`` from itself or its name."""
    if isinstance(experiment, str):
        from .experiments import experiment as get

        try:
            return get(experiment)
        except ValueError as e:
            raise UserError(str(e)) from None
    return experiment


def published_row(exp, row) -> pub.Published:
    """The published numbers of ``row`` (NaN for a row beyond the paper's); a one-line error if the file lacks it."""
    if row.extension:
        return pub.Published(exp.published, row.label, math.nan)
    try:
        return pub.lookup(exp, row)
    except ValueError as e:
        raise UserError(f"{exp.name}: {e}") from None


def _mean(s: pd.Series) -> float:
    s = pd.to_numeric(s, errors="coerce").dropna()
    return float(s.mean()) if len(s) else math.nan


def build_table(experiment, runs: pd.DataFrame, variant: str | None = None) -> pd.DataFrame:
    """The comparison table of one experiment (see the module docstring)."""
    exp = _experiment(experiment)
    variant = choose_variant(runs, variant)
    runs_exp = experiment_runs(runs, exp, variant)
    rows = []
    for row in exp.rows:
        p = published_row(exp, row)
        sel = runs_exp[runs_exp["label"] == row.label]
        sel = sel[sel["paper_dataset"] == row.dataset]
        n, best, best_std = summary(sel["best_top1_acc"].astype(float))
        _, final, final_std = summary(sel["top1_acc"].astype(float))
        paper_scale = bool(len(sel)) and bool(sel["at_paper_scale"].astype(bool).all())
        v = row_verdict(sel, p, row.extension)
        stand_in = sorted(set(sel.loc[sel["stand_in"].astype(bool), "dataset"].astype(str)))
        out = {
            "label": row.label,
            "model": row.model,
            "paper_dataset": row.dataset,
            "dataset": ",".join(sorted(set(sel["dataset"].astype(str)))),
            "seeds": len(exp.seeds),
            "n": n,
            "at_paper_scale": paper_scale if n else None,
            "published_acc": p.acc,
        }
        for name in ("std", "runs", "max", "min", "range"):
            if getattr(p, name) is not None:
                out[f"published_{name}"] = getattr(p, name)
        best_vals = sel["best_top1_acc"].astype(float)
        out.update(
            rerun_best_acc=best,
            rerun_best_std=best_std,
            rerun_acc=final,
            rerun_std=final_std,
            rerun_max=float(best_vals.max()) if n else math.nan,
            rerun_min=float(best_vals.min()) if n else math.nan,
            rerun_range=float(best_vals.max() - best_vals.min()) if n else math.nan,
            diff=best - p.acc,
        )
        out["params_M"] = _mean(sel["params"]) / 1e6
        out["macs_M"] = _mean(sel["macs"]) / 1e6
        out["time_per_epoch_s"] = _mean(sel["time_per_epoch_s"])
        out["peak_memory_mb"] = _mean(sel["peak_memory_mb"])
        if stand_in:
            a = standin.anchor(sel["family"].iloc[0], stand_in[0]) if (sel["conv"] == "dense").all() else None
            out["anchor_acc"] = a["top1_acc"] if a else math.nan
            out["anchor"] = f"{a['architecture']}, {a['preprocessing']}; {a['source']}" if a else ""
        texts = []
        for q in ("params", "macs"):
            c = pub.count_of(row.model, q)
            out[f"published_{q}_M"] = c[0] / 1e6 if c else math.nan
            if c:
                texts.append(c[1])
        out["published_count"] = "; ".join(texts)
        out.update(verdict=v.verdict, test=v.test, p_value=v.p_value if v.p_value is not None else math.nan)
        rows.append(out)
    for _, r in pub.context_rows(exp.published).iterrows():
        rows.append(
            {
                "label": r["method"],
                "model": "(other method, published only)",
                "paper_dataset": exp.dataset,
                "dataset": "",
                "seeds": 0,
                "n": 0,
                "at_paper_scale": None,
                "published_acc": float(r["top1_acc"]),
                "published_params_M": pub.from_unit(exp.published, "params_M", float(r["params_M"])) / 1e6,
                "published_count": f"{float(r['params_M']):g} M params, {r['reference']}",
                "verdict": NOT_RUN,
                "test": "",
            }
        )
    df = pd.DataFrame(rows)
    order = [c for c in df.columns if c not in ("verdict", "test", "p_value")] + ["verdict", "test", "p_value"]
    return df[order]


def display(table: pd.DataFrame) -> pd.DataFrame:
    """The human-readable table (mean ± std in one cell, counts as 'counted (published)')."""
    d = pd.DataFrame()
    d["row"] = table["label"]
    d["model"] = table["model"]
    d["data"] = [
        f"{a} ({b})" if isinstance(b, str) and b and b != a else a
        for a, b in zip(table["paper_dataset"], table["dataset"])
    ]
    pubcol = table["published_acc"].map(fmt)
    if "published_std" in table and "published_range" not in table:  # Table 5's std is derived: show its range
        pubcol = [f"{a} ± {fmt(s)}" if s == s else a for a, s in zip(pubcol, table["published_std"])]
    d["published"] = pubcol
    if "published_max" in table:
        d["published max / min"] = [
            f"{fmt(a)} / {fmt(b)}" for a, b in zip(table["published_max"], table["published_min"])
        ]
        d["rerun max / min"] = [f"{fmt(a)} / {fmt(b)}" for a, b in zip(table["rerun_max"], table["rerun_min"])]
    if "published_range" in table:
        d["published range"] = table["published_range"].map(fmt)
        d["rerun range"] = table["rerun_range"].map(fmt)

    def ms(m, s):
        return f"{fmt(m)} ± {fmt(s)}" if s == s else fmt(m)

    d["rerun best"] = [ms(m, s) for m, s in zip(table["rerun_best_acc"], table["rerun_best_std"])]
    d["rerun final"] = [ms(m, s) for m, s in zip(table["rerun_acc"], table["rerun_std"])]
    d["seeds"] = [f"{n}/{s}" if s else "-" for n, s in zip(table["n"], table["seeds"])]
    d["diff"] = table["diff"].map(lambda v: "-" if v != v else f"{v:+.2f}")
    d["verdict"] = table["verdict"]
    d["params M (published)"] = [
        f"{fmt(a, 3)} ({fmt(b, 3)})" for a, b in zip(table["params_M"], table["published_params_M"])
    ]
    d["MACs M (published)"] = [f"{fmt(a, 1)} ({fmt(b, 1)})" for a, b in zip(table["macs_M"], table["published_macs_M"])]
    if "time_per_epoch_s" in table:
        d["s / epoch"] = table["time_per_epoch_s"].map(lambda v: fmt(v, 1))
        d["peak MB"] = table["peak_memory_mb"].map(lambda v: fmt(v, 0))
    if "anchor_acc" in table:
        d["benchmark (full training)"] = table["anchor_acc"].map(lambda v: fmt(v, 1))
    return d


def write_table(table: pd.DataFrame, title: str, csv, md, tex, scale_text: str, variant: str | None) -> None:
    """CSV (scale, variant, criterion as columns), Markdown and LaTeX (scale, variant, criterion printed)."""
    write_csv(table, csv, scale_text, variant, CRITERION)
    lines = [scale_text, f"Variant: {variant_text(variant)}"]
    notes = [NOTE, CRITERION]
    if "anchor_acc" in table:
        lines.append(standin.TABLE_NOTE)
        notes.append(standin.ANCHOR_NOTE)
    if "time_per_epoch_s" in table:
        notes.append(COST_NOTE)
    disp = display(table)
    write_md(disp, md, title, lines, notes)
    write_tex(disp, tex, title, lines, notes)


def make_table(experiment, runs: pd.DataFrame, out_prefix, scale=None, variant: str | None = None) -> pd.DataFrame:
    """Build one experiment's table and write ``out_prefix.{csv,md,tex}``."""
    exp = _experiment(experiment)
    variant = choose_variant(runs, variant)
    table = build_table(exp, runs, variant)
    used = experiment_runs(runs, exp, variant)
    write_table(
        table,
        exp.title,
        f"{out_prefix}.csv",
        f"{out_prefix}.md",
        f"{out_prefix}.tex",
        _scale_text(used, scale),
        variant,
    )
    return table
