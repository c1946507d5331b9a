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
from . import published as pub
from . import standin
from .gather import choose_variant
from .verdicts import (
    MIN_SEEDS,
    MIN_SEEDS_SPREAD,
    NOT_AT_PAPER_SCALE,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    SPREAD_LIMIT,
    TOLERANCE,
    TOO_FEW_SEEDS,
    summary,
)
from .writers import scale_text as _scale_text
from .writers import variant_text, write_csv, write_md

GAP_ABOUT_4 = 3.0  # "by about 4%" / "by over 4%": a mean gap of at least 3 points counts
CRITERION = (
    "Claim verdict: 'not run' if no comparison of the test has reruns on every side; 'not run at paper "
    "scale' if a rerun used is not at paper scale; 'too few seeds' if a model used has fewer than "
    f"{MIN_SEEDS} seeds ({MIN_SEEDS_SPREAD} for the spread claim); else the test, on best-epoch top-1 "
    "accuracy (mean over seeds) and the counts of the trained networks."
)


@dataclass
class Group:
    """The reruns of one model on one dataset."""

    name: str
    runs: pd.DataFrame

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def acc(self) -> float:
        return summary(self.runs["best_top1_acc"].astype(float))[1]

    @property
    def std(self) -> float:
        return summary(self.runs["best_top1_acc"].astype(float))[2]

    @property
    def macs(self) -> float:
        return float(self.runs["macs"].astype(float).mean())

    @property
    def params(self) -> float:
        return float(self.runs["params"].astype(float).mean())

    @property
    def paper_scale(self) -> bool:
        return bool(self.runs["at_paper_scale"].astype(bool).all())

    def __str__(self):
        return f"{self.name} {self.acc:.2f} (n={self.n})"


class Runs:
    """Selection of reruns by recorded facts (or, where facts cannot tell, by published name)."""

    def __init__(self, runs: pd.DataFrame):
        self.df = runs

    def group(self, dataset: str, name: str | None = None, **facts) -> Group | None:
        df = self.df[self.df["dataset"] == dataset]
        if "model" in facts:
            df = df[df["model"].isin(facts.pop("model"))]
        for k, v in facts.items():
            df = df[df[k] == v]
        if df.empty:
            return None
        return Group(name or str(df["model"].iloc[0]), df)


def _judge(groups: list[Group], ok: bool, min_seeds: int = MIN_SEEDS) -> str:
    if not groups:
        return NOT_RUN
    if not all(g.paper_scale for g in groups):
        return NOT_AT_PAPER_SCALE
    if any(g.n < min_seeds for g in groups):
        return TOO_FEW_SEEDS
    return REPRODUCED if ok else NOT_REPRODUCED


def _pairs(pairs):
    """Keep the (a, b) pairs with reruns on both sides."""
    return [(a, b) for a, b in pairs if a is not None and b is not None]


def _flat(pairs):
    return [g for p in pairs for g in p]


# ---- the claims --------------------------------------------------------------------------------
def _mobilenet_pairs(r: Runs, cs=(2, 4, 8, 16)):
    fam = "mobilenet05_imagenet"
    return _pairs(
        [
            (
                r.group("imagenet", conv="x", family=fam, compression=c),
                r.group("imagenet", conv="g", family=fam, compression=c),
            )
            for c in cs
        ]
    )


def c1(r: Runs):
    pairs = _mobilenet_pairs(r)
    ok = all(x.acc > g.acc for x, g in pairs)
    return _judge(_flat(pairs), ok), "; ".join(f"{x} vs {g}" for x, g in pairs)


def c2(r: Runs):
    pairs = _mobilenet_pairs(r, (4, 8, 16))
    gaps = [x.acc - g.acc for x, g in pairs]
    ok = bool(gaps) and sum(gaps) / len(gaps) >= GAP_ABOUT_4
    text = "; ".join(f"{x.name} - {g.name} = {d:+.2f}" for (x, g), d in zip(pairs, gaps))
    return _judge(_flat(pairs), ok), text + (f"; mean gap {sum(gaps) / len(gaps):+.2f}" if gaps else "")


def c3(r: Runs):
    x = r.group("imagenet", family="resnet_imagenet", conv="x", compression=2, depth=50)
    d = r.group("imagenet", family="resnet_imagenet", conv="dense", depth=34)
    if x is None or d is None:
        return NOT_RUN, ""
    ok = x.macs < d.macs and x.acc > d.acc
    return _judge([x, d], ok), f"{x}, {x.macs / 1e6:.0f}M MACs; {d}, {d.macs / 1e6:.0f}M MACs"


def c4(r: Runs):
    x = r.group("imagenet", family="densenet_bc_imagenet", conv="x", compression=2, depth=161)
    d = r.group("imagenet", family="densenet_bc_imagenet", conv="dense", depth=121)
    if x is None or d is None:
        return NOT_RUN, ""
    ok = x.acc > d.acc and x.macs <= 1.25 * d.macs
    return _judge([x, d], ok), f"{x}, {x.macs / 1e6:.0f}M MACs; {d}, {d.macs / 1e6:.0f}M MACs"


def _tradeoff(dense: list[Group], xs: list[Group], key: str):
    """For every dense point with an X point at <= its cost: the best such X point is at least as accurate."""
    used, texts, ok = [], [], True
    for d in dense:
        cheaper = [x for x in xs if getattr(x, key) <= getattr(d, key)]
        if not cheaper:
            continue
        best = max(cheaper, key=lambda x: x.acc)
        used += [d, best]
        ok &= best.acc >= d.acc
        texts.append(f"{d} vs {best}")
    return used, ok, texts


def c5(r: Runs):
    from .experiments import experiment

    used, ok, texts = [], True, []
    for ds in ("cifar10", "cifar100"):
        groups = [r.group(ds, model=[row.model]) for row in experiment("figure4").rows if row.dataset == ds]
        groups = [g for g in groups if g is not None]
        u, o, t = _tradeoff(
            [g for g in groups if g.runs["conv"].iloc[0] == "dense"],
            [g for g in groups if g.runs["conv"].iloc[0] == "x"],
            "macs",
        )
        used, ok, texts = used + u, ok and o, texts + [f"{ds}: {x}" for x in t]
    return _judge(used, ok), "; ".join(texts)


def c6(r: Runs):
    groups = [r.group("cifar10", model=[m]) for m in ("X-VGG16-1", "X-VGG16-2")]
    groups = [g for g in groups if g is not None]
    t2 = pub.table("table2")
    prune = t2[t2["kind"] == pub.CONTEXT_KIND]
    acc_li = float(prune["top1_acc"].min())
    smallest = float(prune["params_M"].min()) * 1e6
    ok = all(g.params < smallest and g.acc >= acc_li - TOLERANCE for g in groups)
    return _judge(groups, ok), "; ".join(f"{g}, {g.params / 1e6:.2f}M params" for g in groups)


def c7(r: Runs):
    from .experiments import experiment

    groups = [r.group("cifar10", model=[row.model]) for row in experiment("table4").rows]
    groups = [g for g in groups if g is not None and g.runs["conv"].iloc[0] == "x"]
    ok = all(g.std <= SPREAD_LIMIT for g in groups)
    return _judge(groups, ok, MIN_SEEDS_SPREAD), "; ".join(f"{g.name} std {g.std:.2f} (n={g.n})" for g in groups)


def c8(r: Runs):
    f = dict(family="densenet_bc_cifar", conv="x")
    deep = _pairs(
        [
            (
                r.group("cifar100", depth=70, growth=60, compression=c, **f),
                r.group("cifar100", depth=58, growth=60, compression=c, **f),
            )
            for c in (2, 4, 8, 16)
        ]
    )
    gaps = [a.acc - b.acc for a, b in deep]
    wide100 = [g for c in (4, 8, 16) if (g := r.group("cifar100", depth=40, growth=100, compression=c, **f))]
    wide200 = [
        g for c in (4, 10, 20, 30, 50, 80) if (g := r.group("cifar100", depth=40, growth=200, compression=c, **f))
    ]
    used, ok_wide, texts = _tradeoff(wide100, wide200, "params")
    if not deep and not used:
        return NOT_RUN, ""
    ok = (not deep or sum(gaps) / len(gaps) > 0) and ok_wide
    text = "; ".join(f"{a.name} - {b.name} = {d:+.2f}" for (a, b), d in zip(deep, gaps)) + ("; " if texts else "")
    return _judge(_flat(deep) + used, ok), text + "; ".join(texts)


def c9(r: Runs):
    d = r.group("cifar100", family="densenet_bc_cifar", conv="dense", depth=40, growth=200)
    x = r.group("cifar100", family="densenet_bc_cifar", conv="x", depth=40, growth=200, compression=30)
    if x is None or d is None:
        return NOT_RUN, ""
    drop = d.acc - x.acc
    return _judge([d, x], drop <= 4.3 + TOLERANCE), f"{d}; {x}; drop {drop:.2f}"


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
    names = sorted(set(runs.loc[stand, "train_dataset"].astype(str)))
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
