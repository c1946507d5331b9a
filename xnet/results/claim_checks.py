"""The tests behind the paper's claims (:data:`xnet.results.claims.CLAIMS`), one function per claim (torch-free).

Each ``cN(runs: Runs) -> (verdict, evidence)`` finds the groups of reruns its test compares
(:class:`Runs`, :class:`Group`: the reruns of one model on one paper dataset) and judges them with
``_judge``: ``not run`` / ``not run at paper scale`` / ``too few seeds`` before the test
itself (see :mod:`xnet.results.claims`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import published as pub
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

GAP_ABOUT_4 = 3.0  # "by about 4%" / "by over 4%": a mean gap of at least 3 points counts


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
        df = self.df[self.df["paper_dataset"] == dataset]
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
