"""The paper's claims that do not depend on its datasets, judged on a stand-in dataset (torch-free; scipy).

A stand-in (:func:`xnet.data.catalog.is_stand_in`, e.g. ``fashion-mnist``) is a real dataset that is none
of the paper's.  Accuracies on it cannot be compared with the published ones, but three claims are
about how X-Conv behaves, not about ImageNet or CIFAR numbers, and are judged here:

- **C1** X-Conv beats G-Conv of the same sparsity: at every compression C with reruns of both
  X-MobileNet-0.5-C and G-MobileNet-0.5-C (channel-level random graphs, not block expanders),
  Welch's two-sided t-test over the seeds (:func:`xnet.results.verdicts.welch`): X above G with
  p < 0.05 at every C -> ``holds``; G above X with p < 0.05 at some C -> ``does not hold``; else
  (a difference within the seed spread somewhere) ``tie``.
- **C2** the gap grows with sparsity: least squares on every run of those models,
  ``acc = a + b x + c log2 C + d x log2 C`` (x = 1 for X-Conv, 0 for G-Conv); ``d`` is the change of
  the X - G gap per doubling of C; its two-sided t-test (residual degrees of freedom): d > 0 with
  p < 0.05 -> ``holds``, d < 0 with p < 0.05 -> ``does not hold``, else ``tie``.  The mean gap over
  C = 4, 8, 16 is reported beside it (the paper's "about 4%" is an ImageNet number).
- **C7** random expanders are stable: the std over seeds of every random-graph X-model rerun is at
  most 0.3 points -> ``holds``; some std above 0.3 with a one-sided chi-square test of the variance
  against 0.3^2 at p < 0.05 -> ``does not hold``; else ``tie``.  Needs 3 seeds per model.

Every other claim is ``not judged on <dataset>``.  Verdicts name the dataset (``holds on
fashion-mnist``): never ``reproduced``.

:func:`anchor` gives the dataset's own published benchmark accuracy for a model family
(``xnet/published/fashion_mnist_benchmark.csv``, from full-length training), shown beside the dense
reruns so that a reader sees how far a short schedule is from a full one.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .verdicts import (
    ALPHA,
    MIN_SEEDS,
    MIN_SEEDS_SPREAD,
    NOT_RUN,
    SPREAD_LIMIT,
    TOO_FEW_SEEDS,
    does_not_hold_on,
    holds_on,
    not_judged_on,
    tie_on,
    welch,
)

ANCHORS = {"fashion-mnist": "fashion_benchmark"}  # xnet.results.published.FILES
TABLE_NOTE = (
    "The reruns trained on a stand-in dataset, not the paper's: the published columns are the paper's numbers on "
    "its own dataset, shown beside them for reference; the accuracies are not comparable (verdict 'other dataset')."
)
ANCHOR_NOTE = (
    "benchmark (full training): the stand-in dataset's own published test accuracy for the same architecture "
    "(dense models only), from full-length training; the reruns' epochs are in the Scale line."
)
COMPRESSIONS = (2, 4, 8, 16)
MOBILENET = "mobilenet05_imagenet"
CRITERION = (
    "On a stand-in dataset (not the paper's): C1 holds if X-MobileNet-0.5-C is more accurate than G-MobileNet-0.5-C "
    f"at every C by Welch's two-sided t-test over seeds (p < {ALPHA}), does not hold if G is at some C, else tie; "
    "C2 holds if the X - G gap grows with log2 C (least-squares interaction slope, t-test p < "
    f"{ALPHA}), does not hold if it shrinks, else tie; C7 holds if every random-graph X-model's std over seeds "
    f"is <= {SPREAD_LIMIT} points, does not hold if one exceeds it by a one-sided chi-square test (p < {ALPHA}), "
    f"else tie ({MIN_SEEDS_SPREAD} seeds needed). Block-expander models are left out (their graphs are not the "
    "paper's). Other claims depend on the paper's datasets: not judged."
)


def _acc(df: pd.DataFrame) -> list[float]:
    return df["best_top1_acc"].astype(float).tolist()


def _mobilenet(runs: pd.DataFrame, conv: str, c: int) -> pd.DataFrame:
    sel = runs[(runs["family"] == MOBILENET) & (runs["conv"] == conv) & (runs["compression"] == c)]
    return sel[sel["block_size"].isna()]


def _state(sign: int, ds: str) -> str:
    return holds_on(ds) if sign > 0 else does_not_hold_on(ds) if sign < 0 else tie_on(ds)


def c1(runs: pd.DataFrame, ds: str) -> tuple[str, str]:
    pairs = [(c, _mobilenet(runs, "x", c), _mobilenet(runs, "g", c)) for c in COMPRESSIONS]
    pairs = [(c, x, g) for c, x, g in pairs if len(x) and len(g)]
    if not pairs:
        return NOT_RUN, ""
    tests = [(c, welch(_acc(x), _acc(g))) for c, x, g in pairs]
    text = "; ".join(f"C={c}: X - G = {t} (n={t.n_a}/{t.n_b})" for c, t in tests)
    if any(min(t.n_a, t.n_b) < MIN_SEEDS for _, t in tests):
        return TOO_FEW_SEEDS, text
    signs = [t.sign for _, t in tests]
    sign = -1 if -1 in signs else (1 if all(s == 1 for s in signs) else 0)
    return _state(sign, ds), text


def gap_slope(runs: pd.DataFrame) -> tuple[float, float, float, int] | None:
    """``(d, se, p, dof)`` of the X - G gap's change per doubling of C (see the module docstring)."""
    from scipy.stats import t as student

    parts = [
        (_mobilenet(runs, conv, c), 1.0 if conv == "x" else 0.0, math.log2(c)) for conv in "xg" for c in COMPRESSIONS
    ]
    xs, ys = [], []
    for df, x, lc in parts:
        for acc in _acc(df):
            xs.append([1.0, x, lc, x * lc])
            ys.append(acc)
    X, y = np.asarray(xs), np.asarray(ys)
    if len(y) == 0 or np.linalg.matrix_rank(X) < 4 or len(y) <= 4:
        return None
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    dof = len(y) - 4
    sigma2 = float(((y - X @ beta) ** 2).sum()) / dof
    se = math.sqrt(sigma2 * float(np.linalg.inv(X.T @ X)[3, 3]))
    d = float(beta[3])
    p = 2 * float(student.sf(abs(d / se), dof)) if se > 0 else (0.0 if d else 1.0)
    return d, se, p, dof


def c2(runs: pd.DataFrame, ds: str) -> tuple[str, str]:
    gaps = []
    for c in COMPRESSIONS:
        x, g = _mobilenet(runs, "x", c), _mobilenet(runs, "g", c)
        if len(x) and len(g):
            gaps.append((c, float(np.mean(_acc(x))) - float(np.mean(_acc(g))), min(len(x), len(g))))
    if len(gaps) < 2:
        return NOT_RUN, ""
    text = "; ".join(f"C={c}: {gap:+.2f}" for c, gap, _ in gaps)
    big = [gap for c, gap, _ in gaps if c >= 4]
    if big:
        text += f"; mean gap over C >= 4: {sum(big) / len(big):+.2f}"
    fit = gap_slope(runs)
    if fit is None or min(n for *_, n in gaps) < MIN_SEEDS:
        return TOO_FEW_SEEDS, text
    d, se, p, dof = fit
    text += f"; gap change per doubling of C: {d:+.2f} ± {se:.2f} (p={p:.3g}, {dof} dof)"
    return _state((1 if d > 0 else -1) if p < ALPHA else 0, ds), text


def c7(runs: pd.DataFrame, ds: str) -> tuple[str, str]:
    from scipy.stats import chi2

    xs = runs[(runs["conv"] == "x") & runs["block_size"].isna()]
    groups = [(m, df) for m, df in xs.groupby("model", sort=True)]
    if not groups:
        return NOT_RUN, ""
    parts, verdicts = [], []
    for model, df in groups:
        acc = _acc(df)
        n = len(acc)
        std = float(np.std(acc, ddof=1)) if n > 1 else math.nan
        if n < MIN_SEEDS_SPREAD:
            verdicts.append(None)
            parts.append(f"{model} std {std:.2f} (n={n})")
            continue
        p = float(chi2.sf((n - 1) * std**2 / SPREAD_LIMIT**2, n - 1))
        verdicts.append(1 if std <= SPREAD_LIMIT else (-1 if p < ALPHA else 0))
        parts.append(f"{model} std {std:.2f} (n={n}, p={p:.3g})")
    text = "; ".join(parts)
    if None in verdicts:
        return TOO_FEW_SEEDS, text
    sign = -1 if -1 in verdicts else (1 if all(v == 1 for v in verdicts) else 0)
    return _state(sign, ds), text


CHECKS = {"C1": c1, "C2": c2, "C7": c7}
TESTS = {
    "C1": f"at every C: Welch's t-test of acc(X-MobileNet-0.5-C) vs acc(G-MobileNet-0.5-C) over seeds, p < {ALPHA}",
    "C2": "the X - G gap's slope in log2 C (least squares over every run, t-test p < 0.05)",
    "C7": f"std over seeds of every random-graph X-model <= {SPREAD_LIMIT} (chi-square test of the variance)",
}


def anchors(ds: str) -> pd.DataFrame:
    """The published benchmark of stand-in ``ds`` (one row per model family; empty if it has none)."""
    from . import published

    name = ANCHORS.get(ds)
    if name is None:
        return pd.DataFrame(columns=["family", "architecture", "top1_acc", "preprocessing", "source"])
    return published.table(name)  # validated against its schema when read


def anchor(family: str, ds: str) -> dict | None:
    """The benchmark row of ``family`` on stand-in ``ds``, or None."""
    df = anchors(ds)
    row = df[df["family"] == family]
    return None if row.empty else row.iloc[0].to_dict()


def judge_claim(claim_id: str, runs: pd.DataFrame, ds: str) -> tuple[str, str]:
    """``(verdict, evidence)`` of one claim on the runs of stand-in ``ds``."""
    if claim_id not in CHECKS:
        return not_judged_on(ds), "-"
    return CHECKS[claim_id](runs, ds)
