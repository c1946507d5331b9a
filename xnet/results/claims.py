"""The paper's qualitative claims, each with a stated test, the published evidence and the reruns' verdict.

API (torch-free):

- ``CLAIMS``: the claims (id, claim, citation of the paper's section, test, published evidence).
- ``claims_table(runs, scale=None, variant=None) -> DataFrame``: one row per claim: ``id, claim, cite,
  test, published, rerun`` (the reruns' evidence: the numbers the test used) and ``verdict``.
- ``write_claims(table, csv, md, scale_text, variant)`` and ``make_claims(runs, out_prefix, scale=None,
  variant=None)`` (``out_prefix.csv`` and ``out_prefix.md``; ``results/tables/claims``).

Verdicts: the vocabulary of :mod:`xnet.results.verdicts`, decided in this order: ``not run`` if no
comparison the test needs has reruns on all its sides; ``not run at paper scale`` if any rerun used
is not at paper scale; ``too few seeds`` if any group used has fewer than :data:`MIN_SEEDS` seeds
(:data:`MIN_SEEDS_SPREAD` for a claim about the spread); else the test.  Accuracies are the
best-epoch top-1 accuracy, mean over seeds; counts are those of the trained networks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..errors import UserError
from . import standin
from .claim_checks import GAP_ABOUT_4, Runs, c1, c2, c3, c4, c5, c6, c7, c8, c9
from .gather import choose_variant
from .verdicts import MIN_SEEDS, MIN_SEEDS_SPREAD, SPREAD_LIMIT, TOLERANCE
from .writers import scale_text as _scale_text
from .writers import variant_text, write_csv, write_md

CRITERION = (
    "Claim verdict: 'not run' if no comparison of the test has reruns on every side; 'not run at paper "
    "scale' if a rerun used is not at paper scale; 'too few seeds' if a model used has fewer than "
    f"{MIN_SEEDS} seeds ({MIN_SEEDS_SPREAD} for the spread claim); else the test, on best-epoch top-1 "
    "accuracy (mean over seeds) and the counts of the trained networks."
)


@dataclass(frozen=True)
class Claim:
    id: str
    claim: str
    cite: str
    test: str
    published: str
    check: Callable[[Runs], tuple[str, str]]


CLAIMS = (
    Claim(
        "C1",
        "X-Conv beats grouped convolution of the same sparsity (X- vs G-MobileNet-0.5, ImageNet)",
        "Sec. 5.1, Fig. 3, Table 5",
        "for every C rerun for both: acc(X-MobileNet-0.5-C) > acc(G-MobileNet-0.5-C)",
        "Table 5: X - G = +0.77, +4.59, +4.10, +5.60 at C = 2, 4, 8, 16",
        c1,
    ),
    Claim(
        "C2",
        "... by about 4% in accuracy as sparsity grows",
        "Abstract; Sec. 1 (iii); Sec. 5.1",
        f"mean over C in {{4, 8, 16}} rerun of acc(X) - acc(G) >= {GAP_ABOUT_4:g} points",
        "Table 5: mean gap over C = 4, 8, 16: +4.76",
        c2,
    ),
    Claim(
        "C3",
        "X-ResNet-2-50 has 43% fewer FLOPs than ResNet-34 but is 1% more accurate",
        "Sec. 5.2-5.3, Table 1",
        "MACs(X-ResNet-2-50) < MACs(ResNet-34) and acc(X-ResNet-2-50) > acc(ResNet-34)",
        "Table 1: 72.85% at 40 vs 71.66% at 70 (100M FLOPs)",
        c3,
    ),
    Claim(
        "C4",
        "X-DenseNet-BC-2-161 has FLOPs similar to DenseNet-BC-121 but is 1% more accurate",
        "Sec. 5.3, Table 1",
        "acc(X-DenseNet-BC-2-161) > acc(DenseNet-BC-121) and MACs within 1.25x",
        "Table 1: 74.3% at 55 vs 73.3% at 55 (100M FLOPs)",
        c4,
    ),
    Claim(
        "C5",
        "X-DenseNet-BC gives a better accuracy / FLOPs trade-off than DenseNet-BC on CIFAR-10 and CIFAR-100",
        "Sec. 5.2-5.3, Fig. 4",
        "for every DenseNet-BC rerun of Figure 4 with an X-DenseNet-BC rerun at <= its "
        "MACs: the most accurate such X-DenseNet-BC is at least as accurate",
        "Fig. 4 (original logs): e.g. X-DenseNet-BC-40-48-2 95.48% vs DenseNet-BC-40-24 94.79% (CIFAR-10)",
        c5,
    ),
    Claim(
        "C6",
        "X-VGG16 matches pruned VGG16s with fewer parameters, without pruning (CIFAR-10)",
        "Sec. 5.3, Table 2",
        f"each X-VGG16 rerun: params < the smallest pruned VGG16 (2.3M) and acc >= the least "
        f"accurate pruned one (93.4%) - {TOLERANCE:g}",
        "Table 2: 93.4% / 1.65M, 93.0% / 1.15M vs 93.4% / 5.4M, 93.8% / 2.3M",
        c6,
    ),
    Claim(
        "C7",
        "Random expanders are stable: accuracy changes by less than 0.3% across runs",
        "Sec. 5.4, Table 4",
        f"std over seeds of every X-model of Table 4 <= {SPREAD_LIMIT:g} points (needs {MIN_SEEDS_SPREAD} seeds)",
        "Table 4: std 0.07-0.19 over 10 runs",
        c7,
    ),
    Claim(
        "C8",
        "Deeper X-DenseNet-BC-70-60 outperforms X-DenseNet-BC-58-60, and wider X-DenseNet-BC-40-200 "
        "outperforms X-DenseNet-BC-40-100 with fewer parameters (CIFAR-100)",
        "Sec. 5.5, Fig. 6",
        "mean over C rerun of acc(70-60-C) - acc(58-60-C) > 0, and for every 40-100-C rerun the best 40-200-C' "
        "rerun with <= its params is at least as accurate",
        "Fig. 6: 70-60 - 58-60 = +0.60, +0.82, -0.50, +1.36 at C = 2, 4, 8, 16",
        c8,
    ),
    Claim(
        "C9",
        "X-Nets work at 30x compression: DenseNet-BC-40-200 from 19.9B to 0.6B FLOPs with only 4.3% drop",
        "Sec. 5.5",
        f"acc(DenseNet-BC-40-200) - acc(X-DenseNet-BC-40-200-30) <= 4.3 + {TOLERANCE:g} points",
        "Fig. 6: 81.62% vs 77.29% (drop 4.33)",
        c9,
    ),
)


def stand_in_dataset(runs: pd.DataFrame) -> str | None:
    """The stand-in dataset the runs trained on (None: the paper's datasets); an error if they mix."""
    if not len(runs):
        return None
    stand = runs["stand_in"].astype(bool)
    names = sorted(set(runs.loc[stand, "dataset"].astype(str)))
    if stand.any() and (not stand.all() or len(names) > 1):
        what = ", ".join(names + (["the paper's datasets"] if not stand.all() else []))
        raise UserError(f"the runs mix {what}: judge the claims on one dataset at a time (one scale per runs table)")
    return names[0] if names else None


def claims_table(runs: pd.DataFrame, scale=None, variant: str | None = None) -> pd.DataFrame:
    """One row per claim of :data:`CLAIMS`, judged on ``runs`` (the runs table) of one variant.

    Runs on a stand-in dataset (``fashion-mnist``) are judged by :mod:`xnet.results.standin`: the
    claims that do not depend on the dataset get ``holds on ...`` / ``does not hold on ...`` /
    ``tie on ...``, the others ``not judged on ...``.  ``scale`` (a name or a configuration's scale
    mapping) is not needed by the verdicts, which read each run's recorded scale
    (``at_paper_scale``); it is accepted for symmetry with the writers.
    """
    variant = choose_variant(runs, variant)
    chosen = runs[runs["variant"] == variant] if variant is not None else runs
    ds = stand_in_dataset(chosen)
    sel = Runs(chosen)
    rows = []
    for c in CLAIMS:
        verdict, evidence = standin.judge_claim(c.id, chosen, ds) if ds else c.check(sel)
        rows.append(
            {
                "id": c.id,
                "claim": c.claim,
                "cite": c.cite,
                "test": standin.TESTS.get(c.id, c.test) if ds else c.test,
                "published": c.published,
                "rerun": evidence or "-",
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows)


def write_claims(
    table: pd.DataFrame, csv, md, scale_text: str, variant: str | None, stand_in: str | None = None
) -> None:
    criterion = f"{standin.CRITERION} Trained on {stand_in}, not the paper's datasets." if stand_in else CRITERION
    write_csv(table, csv, scale_text, variant, criterion)
    title = f"Claims of the paper, judged on reruns on {stand_in} (a stand-in)" if stand_in else None
    write_md(
        table.rename(columns={"rerun": "rerun evidence", "published": "published evidence"}),
        md,
        title or "Claims of the paper, judged on the reruns",
        [scale_text, f"Variant: {variant_text(variant)}"],
        [criterion],
    )


def make_claims(runs: pd.DataFrame, out_prefix, scale=None, variant: str | None = None) -> pd.DataFrame:
    variant = choose_variant(runs, variant)
    table = claims_table(runs, scale, variant)
    used = runs[runs["variant"] == variant] if variant is not None else runs
    write_claims(
        table, f"{out_prefix}.csv", f"{out_prefix}.md", _scale_text(used, scale), variant, stand_in_dataset(used)
    )
    return table
