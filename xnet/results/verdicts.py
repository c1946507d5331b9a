"""The verdict of a rerun against a published number, and the criterion that decides it (torch-free; scipy).

API:

- ``judge(values, published_acc, published_std=None, published_runs=None, at_paper_scale=True) -> Verdict``:
  ``values`` are the rerun's per-seed accuracies (percent; NaNs dropped).
- ``VERDICTS``: the vocabulary, exactly ``reproduced``, ``not reproduced``, ``too few seeds``,
  ``not run``, ``not run at paper scale``.
- ``CRITERION``: the criterion as one paragraph (written under every table and into its CSV).

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
VERDICTS = (REPRODUCED, NOT_REPRODUCED, TOO_FEW_SEEDS, NOT_RUN, NOT_AT_PAPER_SCALE)

MIN_SEEDS = 2
ALPHA = 0.05
TOLERANCE = 0.5  # accuracy points: the smallest difference called "within the spread"

CRITERION = (
    "Verdict: 'not run' without a rerun; 'not run at paper scale' if any rerun used synthetic data, limited "
    f"batches or fewer epochs than the recipe; 'too few seeds' with fewer than {MIN_SEEDS} seeds. Otherwise, "
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
        assert self.verdict in VERDICTS, self.verdict


def summary(values) -> tuple[int, float, float]:
    """``(n, mean, std)`` of the finite values (std with ddof=1; NaN for n < 2)."""
    v = np.asarray([x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))], float)
    n = len(v)
    return n, (float(v.mean()) if n else math.nan), (float(v.std(ddof=1)) if n > 1 else math.nan)


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
