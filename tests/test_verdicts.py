"""Verdicts of reruns against published numbers: every verdict value, Welch's test on Table 4-like data, spread."""

import math

import numpy as np
import pytest
from scipy import stats

from xnet.results import verdicts as V
from xnet.results.verdicts import judge


def seeds(mean, std, n, seed=0):
    """n values with exactly this mean and sample std."""
    z = np.random.default_rng(seed).standard_normal(n)
    z = (z - z.mean()) / z.std(ddof=1)
    return list(mean + std * z)


def test_vocabulary_is_exact():
    assert V.VERDICTS == (
        "reproduced",
        "not reproduced",
        "too few seeds",
        "not run",
        "not run at paper scale",
        "no published number",
    )


def test_stand_in_vocabulary_names_the_dataset_and_never_says_reproduced():
    ds = "fashion-mnist"
    words = [V.other_dataset(ds), V.holds_on(ds), V.does_not_hold_on(ds), V.tie_on(ds), V.not_judged_on(ds)]
    assert words == [
        "other dataset: fashion-mnist",
        "holds on fashion-mnist",
        "does not hold on fashion-mnist",
        "tie on fashion-mnist",
        "not judged on fashion-mnist",
    ]
    assert all(V.is_verdict(w) and ds in w and "reproduced" not in w for w in words)
    assert not V.is_verdict("holds on ") and not V.is_verdict("holds")


def test_welch_calls_a_difference_within_the_spread_a_tie():
    far = V.welch(seeds(90, 0.2, 3, 1), seeds(85, 0.2, 3, 2))
    assert far.sign == 1 and far.p_value < 0.05 and far.diff == pytest.approx(5)
    assert V.welch(seeds(85, 0.2, 3, 1), seeds(90, 0.2, 3, 2)).sign == -1
    near = V.welch(seeds(90.1, 1.0, 3, 1), seeds(90.0, 1.0, 3, 2))
    assert near.sign == 0 and near.p_value >= 0.05
    assert V.welch([90.0], [80.0, 81.0]).sign == 0  # one seed: no spread, no verdict


def test_not_run_and_nan_values_ignored():
    assert judge([], 94.0).verdict == "not run"
    assert judge([math.nan, math.nan], 94.0).verdict == "not run"


def test_not_at_paper_scale_wins_over_everything_but_not_run():
    # a smoke run far from the paper is never "not reproduced", even with one seed
    assert judge([10.0], 94.0, at_paper_scale=False).verdict == "not run at paper scale"
    assert judge([10.0, 11.0, 12.0], 94.0, 0.2, 10, at_paper_scale=False).verdict == "not run at paper scale"


def test_too_few_seeds():
    v = judge([94.0], 94.0)
    assert v.verdict == "too few seeds" and v.diff == 0.0
    assert judge([94.0, math.nan], 94.0, 0.19, 10).verdict == "too few seeds"


def test_welch_on_table4_like_data():
    # Table 4: XDNetBC-40-24 94.41 +- 0.19 over 10 runs
    close = seeds(94.35, 0.2, 10)
    v = judge(close, 94.41, 0.19, 10)
    assert v.verdict == "reproduced" and v.test == "welch"
    p_ref = stats.ttest_ind_from_stats(94.35, 0.2, 10, 94.41, 0.19, 10, equal_var=False).pvalue
    assert v.p_value == pytest.approx(p_ref) and v.p_value > 0.05
    # the same number from the raw samples: Welch's test of the seeds against a sample with the published stats
    ref = seeds(94.41, 0.19, 10, seed=1)
    assert v.p_value == pytest.approx(stats.ttest_ind(close, ref, equal_var=False).pvalue)
    far = judge(seeds(94.0, 0.2, 10), 94.41, 0.19, 10)
    assert far.verdict == "not reproduced" and far.p_value < 0.05 and far.diff == pytest.approx(-0.41)


def test_welch_with_few_noisy_seeds_is_lenient_and_says_so():
    v = judge([93.0, 95.0], 94.41, 0.19, 10)
    assert v.verdict == "reproduced" and v.test == "welch" and v.p_value > 0.5


def test_spread_rule_where_the_paper_prints_one_run():
    # |diff| <= max(2 * std, TOLERANCE)
    assert V.TOLERANCE == 0.5
    v = judge([93.6, 93.6 + 1e-9], 94.0)
    assert v.test == "spread" and v.bound == pytest.approx(0.5) and v.verdict == "reproduced"
    assert judge([93.4, 93.4 + 1e-9], 94.0).verdict == "not reproduced"  # diff -0.6 > 0.5
    wide = seeds(93.2, 0.5, 3)  # bound 1.0
    assert judge(wide, 94.0).verdict == "reproduced" and judge(wide, 94.0).bound == pytest.approx(1.0)
    assert judge(wide, 94.3).verdict == "not reproduced"


def test_welch_falls_back_to_spread_when_both_spreads_are_zero():
    v = judge([94.0, 94.0], 94.0, 0.0, 10)
    assert v.verdict == "reproduced" and v.test == "spread"


def test_combine_takes_the_weakest():
    assert V.combine(["reproduced", "reproduced"]) == "reproduced"
    assert V.combine(["reproduced", "not reproduced"]) == "not reproduced"
    assert V.combine(["not reproduced", "too few seeds"]) == "too few seeds"
    assert V.combine(["too few seeds", "not run at paper scale"]) == "not run at paper scale"
    assert V.combine(["reproduced", "not run"]) == "not run"
    assert V.combine([]) == "not run"


def test_criterion_states_the_rule():
    for part in ("Welch", "p >= 0.05", "2 x rerun std", "0.5 points", "range / sqrt 2", "best-epoch"):
        assert part in V.CRITERION
