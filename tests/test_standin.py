"""Claims judged on a stand-in dataset (xnet.results.standin, via claims_table) on small runs tables."""

import numpy as np
import pandas as pd
import pytest

from xnet.errors import UserError
from xnet.results import claims, standin
from xnet.results.gather import RUN_COLUMNS

DS = "fashion-mnist"


def runs(acc_by_model: dict, block=None) -> pd.DataFrame:
    """A runs table: ``{(conv, C): [acc per seed]}`` of MobileNet-0.5 models trained on fashion-mnist."""
    rows = []
    for (conv, c), accs in acc_by_model.items():
        for seed, acc in enumerate(accs):
            name = "MobileNet-0.5" if conv == "dense" else f"{conv.upper()}-MobileNet-0.5-{c}"
            rows.append(
                dict.fromkeys(RUN_COLUMNS)
                | {
                    "model": name + (f"-b{block}" if block and conv == "x" else ""),
                    "variant": "original",
                    "family": "mobilenet05_imagenet",
                    "conv": conv,
                    "compression": c,
                    "block_size": block if conv == "x" else None,
                    "paper_dataset": "imagenet",
                    "dataset": DS,
                    "seed": seed,
                    "stand_in": True,
                    "at_paper_scale": False,
                    "best_top1_acc": acc,
                    "top1_acc": acc,
                    "path": f"{name}/{seed}",
                }
            )
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    df["compression"] = df["compression"].astype("Int64")
    df["block_size"] = df["block_size"].astype("Int64")
    return df


def spread(mean, std=0.2, n=3, seed=0):
    z = np.random.default_rng(seed).standard_normal(n)
    return list(mean + std * (z - z.mean()) / z.std(ddof=1))


def verdicts(df):
    t = claims.claims_table(df)
    return dict(zip(t["id"], t["verdict"])), dict(zip(t["id"], t["rerun"]))


def test_x_above_g_everywhere_with_a_growing_gap_holds():
    acc = {("dense", 1): spread(80)}
    for i, c in enumerate((2, 4, 8, 16)):
        acc[("x", c)] = spread(79 - i * 0.5, seed=i)
        acc[("g", c)] = spread(78 - i * 2.0, seed=10 + i)
    v, ev = verdicts(runs(acc))
    assert v["C1"] == "holds on fashion-mnist" and v["C2"] == "holds on fashion-mnist"
    assert v["C7"] == "holds on fashion-mnist"  # std 0.2 <= 0.3 for every X-model
    assert "C=16: X - G = +5.50" in ev["C1"] and "per doubling of C: +1.50" in ev["C2"]
    assert {v[k] for k in ("C3", "C4", "C5", "C6", "C8", "C9")} == {"not judged on fashion-mnist"}


def test_g_above_x_somewhere_does_not_hold_and_a_gap_within_the_spread_is_a_tie():
    acc = {("x", 2): spread(80), ("g", 2): spread(80.1, seed=1), ("x", 4): spread(70), ("g", 4): spread(75, seed=2)}
    v, _ = verdicts(runs(acc))
    assert v["C1"] == "does not hold on fashion-mnist"  # G above X at C = 4, p < 0.05
    acc[("g", 4)] = spread(70.05, seed=3)
    v, _ = verdicts(runs(acc))
    assert v["C1"] == "tie on fashion-mnist"  # no difference beyond the seed spread anywhere


def test_spread_claim_needs_three_seeds_and_tests_the_variance():
    acc = {("x", 4): spread(80, std=0.4), ("g", 4): spread(70, seed=1)}
    v, ev = verdicts(runs(acc))
    assert v["C7"] == "tie on fashion-mnist"  # std 0.4 > 0.3, but 3 seeds cannot reject sigma <= 0.3 at 5%
    acc = {("x", 4): spread(80, std=2.0, n=8), ("g", 4): spread(70, seed=1)}
    assert verdicts(runs(acc))[0]["C7"] == "does not hold on fashion-mnist"
    acc = {("x", 4): [80.0, 80.1], ("g", 4): [70.0, 70.2]}
    v, _ = verdicts(runs(acc))
    assert v["C7"] == "too few seeds" and v["C1"] == "holds on fashion-mnist"


def test_block_expander_models_are_not_the_papers_x_conv():
    acc = {("x", 4): spread(60), ("g", 4): spread(70, seed=1)}
    v, ev = verdicts(pd.concat([runs({("g", 4): spread(70, seed=1)}), runs({("x", 4): spread(90)}, block=16)]))
    assert v["C1"] == "not run"  # the block X-model is left out: no random-graph X-model to compare
    assert verdicts(runs(acc))[0]["C1"] == "does not hold on fashion-mnist"


def test_runs_mixing_a_stand_in_with_the_papers_data_are_refused():
    df = runs({("x", 4): spread(80), ("g", 4): spread(70)})
    df.loc[0, "stand_in"] = False
    with pytest.raises(UserError, match="mix"):
        claims.claims_table(df)


def test_anchor_is_the_datasets_own_benchmark():
    a = standin.anchor("mobilenet05_imagenet", DS)
    assert a["top1_acc"] == 95.0 and "MobileNet" in a["architecture"]
    assert standin.anchor("vgg16_cifar", DS)["top1_acc"] == 93.5
    assert standin.anchor("densenet_bc_cifar", DS)["top1_acc"] == 95.4
    assert standin.anchor("resnet_imagenet", DS) is None and standin.anchor("mobilenet05_imagenet", "x") is None
