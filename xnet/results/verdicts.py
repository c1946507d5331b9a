"""The verdict of a rerun against a published number, and the criterion that decides it (torch-free; scipy).

API:

- ``judge(values, published_acc, published_std=None, published_runs=None, at_paper_scale=True) -> Verdict``:
  ``values`` are the rerun's per-seed accuracies (percent; NaNs dropped).
- ``row_verdict(runs, published, extension=False) -> Verdict``: the verdict of one table row or
  figure point from its reruns (both use it, so a table and its figure agree).
- ``VERDICTS``: the vocabulary, exactly ``reproduced``, ``not reproduced``, ``too few seeds``,
  ``not run``, ``not run at paper scale``.
- ``CRITERION``: the criterion as one paragraph (written under every table and into its CSV).
- Stand-in datasets (:func:`xnet.data.catalog.is_stand_in`: a real dataset that is none of the paper's):
  a table row trained on one gets :func:`other_dataset` (``other dataset: fashion-mnist``), never
  ``reproduced``; a claim judged on one gets :func:`holds_on` / :func:`does_not_hold_on` /
  :func:`tie_on` (``holds on fashion-mnist``, ...), decided by :func:`welch` between two groups of
  seeds so that a difference within the seed-to-seed spread is called a tie.

The criterion (checked in this order):

1. no rerun -> ``not run``;
2. any rerun not at paper scale (:data:`xnet.results.gather.PAPER_SCALE`) -> ``not run at paper scale``
   (a smoke run is never ``not reproduced``);
3. fewer than :data:`MIN_SEEDS` seeds -> ``too few seeds`` (one seed shows no seed-to-seed spread);
4. where the paper prints a standard deviation over its runs (Table 4: 10 runs; Table 5: 2 runs,
   std = range / sqrt(2)): Welch's two-sided t-test (:func:`scipy.stats.ttest_ind_from_stats`) of
   the rerun's mean, std and n against the published mean, std and n; ``reproduced`` if
   p >= :data:`ALPHA`;
5. elsewhere (one published run): ``reproduced`` if |rerun mean - published| <=
   max(2 x rerun std over seeds, :data:`TOLERANCE`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
TOO_FEW_SEEDS = "too few seeds"
NOT_RUN = "not run"
NOT_AT_PAPER_SCALE = "not run at paper scale"
NO_PUBLISHED = "no published number"  # a row beyond the paper's (experiments.Row.extension)
VERDICTS = (REPRODUCED, NOT_REPRODUCED, TOO_FEW_SEEDS, NOT_RUN, NOT_AT_PAPER_SCALE, NO_PUBLISHED)
# on a stand-in dataset (the dataset's name follows)
STAND_IN_PREFIXES = ("other dataset: ", "holds on ", "does not hold on ", "tie on ", "not judged on ")


def other_dataset(ds: str) -> str:
    """A table row's verdict when its reruns trained on the stand-in ``ds``: not comparable with the paper."""
    return f"other dataset: {ds}"


def holds_on(ds: str) -> str:
    return f"holds on {ds}"


def does_not_hold_on(ds: str) -> str:
    return f"does not hold on {ds}"


def tie_on(ds: str) -> str:
    """Neither side of the claim's comparison differs from the other beyond the seed-to-seed spread."""
    return f"tie on {ds}"


def not_judged_on(ds: str) -> str:
    """A claim about the paper's own datasets (ImageNet / CIFAR accuracies, counts): not judged on ``ds``."""
    return f"not judged on {ds}"


def is_verdict(v: str) -> bool:
    return v in VERDICTS or any(v.startswith(p) and len(v) > len(p) for p in STAND_IN_PREFIXES)


MIN_SEEDS = 2
MIN_SEEDS_SPREAD = 3  # a claim about the seed-to-seed spread needs a spread estimated from 3 seeds
SPREAD_LIMIT = 0.3  # Section 5.4: "the accuracy values change only by less than 0.3% across runs"
ALPHA = 0.05
TOLERANCE = 0.5  # accuracy points: the smallest difference called "within the spread"

CRITERION = (
    "Verdict: 'other dataset: <name>' if the reruns trained on a stand-in (a real dataset that is not the paper's); "
    "'not run' without a rerun; 'not run at paper scale' if any rerun used synthetic data, limited "
    "batches or not its family's published recipe (fewer epochs, say); "
    f"'too few seeds' with fewer than {MIN_SEEDS} seeds. Otherwise, "
    "where the paper prints a std over its runs (Table 4: 10 runs; Table 5: 2 runs, std = range / sqrt 2): "
    f"Welch's two-sided t-test of the rerun seeds against the published mean, std and n, 'reproduced' if "
    f"p >= {ALPHA}; elsewhere 'reproduced' if |rerun mean - published| <= max(2 x rerun std over seeds, "
    f"{TOLERANCE} points). Compared: best-epoch top-1 accuracy, the number the authors' code prints."
)


@dataclass(frozen=True)
class Verdict:
    verdict: str
    test: str = ""  # "welch", "spread" or "" (no test ran)
    p_value: float | None = None  # Welch's test
    bound: float | None = None  # spread test: the largest |difference| called reproduced
    diff: float | None = None  # rerun mean - published (points)

    def __post_init__(self):
        assert is_verdict(self.verdict), self.verdict


def summary(values) -> tuple[int, float, float]:
    """``(n, mean, std)`` of the finite values (std with ddof=1; NaN for n < 2)."""
    v = np.asarray([x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))], float)
    n = len(v)
    return n, (float(v.mean()) if n else math.nan), (float(v.std(ddof=1)) if n > 1 else math.nan)


@dataclass(frozen=True)
class Comparison:
    """Welch's two-sided t-test of two groups of seeds: ``sign`` is +1 (a beats b), -1 (b beats a) or 0 (a tie:
    p >= :data:`ALPHA`, or a group with fewer than :data:`MIN_SEEDS` seeds)."""

    diff: float  # mean(a) - mean(b), points
    p_value: float
    sign: int
    n_a: int
    n_b: int

    def __str__(self) -> str:
        return f"{self.diff:+.2f} (p={self.p_value:.3g})"


def welch(a, b) -> Comparison:
    """Compare the accuracies ``a`` and ``b`` (per seed) with Welch's t-test (see :class:`Comparison`)."""
    from scipy.stats import ttest_ind

    na, ma, _ = summary(a)
    nb, mb, _ = summary(b)
    diff = ma - mb
    if na < MIN_SEEDS or nb < MIN_SEEDS:
        return Comparison(diff, math.nan, 0, na, nb)
    va = [x for x in a if x == x]
    vb = [x for x in b if x == x]
    p = float(ttest_ind(va, vb, equal_var=False).pvalue)
    if math.isnan(p):  # both groups without spread
        p = 0.0 if diff else 1.0
    sign = (1 if diff > 0 else -1) if p < ALPHA else 0
    return Comparison(diff, p, sign, na, nb)


def judge(
    values,
    published_acc: float,
    published_std: float | None = None,
    published_runs: int | None = None,
    at_paper_scale: bool = True,
) -> Verdict:
    """The verdict of the rerun accuracies ``values`` against a published accuracy (see :data:`CRITERION`)."""
    n, mean, std = summary(values)
    if n == 0:
        return Verdict(NOT_RUN)
    diff = mean - published_acc
    if not at_paper_scale:
        return Verdict(NOT_AT_PAPER_SCALE, diff=diff)
    if n < MIN_SEEDS:
        return Verdict(TOO_FEW_SEEDS, diff=diff)
    if published_std is not None and published_runs is not None and published_runs >= 2:
        from scipy.stats import ttest_ind_from_stats

        p = float(
            ttest_ind_from_stats(mean, std, n, published_acc, published_std, published_runs, equal_var=False).pvalue
        )
        if not math.isnan(p):  # NaN: both spreads zero; fall through to the spread test
            return Verdict(REPRODUCED if p >= ALPHA else NOT_REPRODUCED, "welch", p_value=p, diff=diff)
    bound = max(2 * std, TOLERANCE)
    return Verdict(REPRODUCED if abs(diff) <= bound else NOT_REPRODUCED, "spread", bound=bound, diff=diff)


def row_verdict(runs, published, extension: bool = False) -> Verdict:
    """The verdict of one table row or figure point: ``runs`` are its reruns (rows of the runs table of
    :func:`xnet.results.gather.gather`), ``published`` its published numbers (``acc``, ``std``, ``runs``:
    :class:`xnet.results.published.Published`), ``extension`` a row beyond the paper's.

    Reruns on a stand-in get :func:`other_dataset` (never compared with the paper); a row beyond the
    paper's with reruns gets ``no published number``; everything else :func:`judge`, at paper scale
    only if every rerun is.  Tables and figures both take their verdicts from here."""
    accs = runs["best_top1_acc"].astype(float).tolist()
    paper_scale = bool(len(runs)) and bool(runs["at_paper_scale"].astype(bool).all())
    v = judge(accs, published.acc, published.std, published.runs, paper_scale)
    stand_in = sorted(set(runs.loc[runs["stand_in"].astype(bool), "dataset"].astype(str)))
    if stand_in:  # accuracies on another dataset are not compared with the paper's
        return Verdict(other_dataset(", ".join(stand_in)))
    if extension and v.verdict != NOT_RUN:
        return Verdict(NO_PUBLISHED)
    return v


def combine(verdicts) -> str:
    """One verdict for several (a claim over several comparisons): the weakest state wins.

    ``not run`` if any is not run, then ``not run at paper scale``, then ``too few seeds``; else
    ``reproduced`` only if all are.
    """
    vs = list(verdicts)
    for v in (NOT_RUN, NOT_AT_PAPER_SCALE, TOO_FEW_SEEDS, NOT_REPRODUCED):
        if v in vs:
            return v
    return REPRODUCED if vs else NOT_RUN
