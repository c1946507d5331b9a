"""What each published CSV (``xnet/published/*.csv``) must hold, and the check of a file against it (torch-free).

- :data:`FILES`: short name (``table4``, ``figure3``, ``recipes``, ...) -> file name.
- :data:`SCHEMAS`: file name -> :class:`Schema` (its columns and their kinds, the key columns).
- :func:`validate`: a read file checked against its schema; a :class:`PublishedError` (one line:
  the file, the line, the column) otherwise.

Read the files through :mod:`xnet.results.published`, which validates every file it reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..errors import UserError

FILES = {
    "table1": "table1_imagenet_resnet_densenet.csv",
    "table2": "table2_cifar10_vgg16_vs_pruning.csv",
    "table3": "table3_imagenet_alexnet_vs_pruning.csv",
    "table4": "table4_cifar10_stability_10runs.csv",
    "table5": "table5_imagenet_mobilenet05_2runs.csv",
    "figure3": "figure3_imagenet_mobilenet05_error.csv",
    "figure4": "figure4_cifar_densenet_tradeoff.csv",
    "figure5": "table1_imagenet_resnet_densenet.csv",
    "figure6": "figure6_cifar100_wider_deeper.csv",
    "readme_cifar": "readme_cifar_xdensenet.csv",
    "readme_mobilenet": "readme_imagenet_xmobilenet.csv",
    "recipes": "recipes.csv",
    "curves": "original_training_curves.csv",
    "fashion_benchmark": "fashion_mnist_benchmark.csv",  # not the paper's: Fashion-MNIST's own README
}


class PublishedError(UserError, ValueError):
    """A published CSV that does not follow its schema (one line: the file, the line, the column)."""


# Kinds of column: text (non-empty), pct (a percentage: 0..100), count (a number >= 0), int (a whole
# number >= 1), int0 (a whole number >= 0); a trailing "?" lets a cell be empty.
_RANGES = {"pct": (0.0, 100.0), "count": (0.0, math.inf), "int": (1, math.inf), "int0": (0, math.inf)}
_DENSENET = {"depth": "int", "growth": "int", "compression": "int"}


@dataclass(frozen=True)
class Schema:
    """The columns a published CSV must have (name -> kind) and the columns that identify a row."""

    columns: dict
    key: tuple


SCHEMAS: dict[str, Schema] = {
    FILES["table1"]: Schema(
        {
            "model": "text",
            "family": "text",
            "compression": "int",
            "depth": "int",
            "top1_acc": "pct",
            "flops_100M": "count",
        },
        ("model",),
    ),
    FILES["table2"]: Schema(
        {
            "method": "text",
            "kind": "text",
            "top1_acc": "pct",
            "params_M": "count",
            "compression_vs_vgg16": "count?",
            "training_speedup": "text?",
            "reference": "text",
        },
        ("method",),
    ),
    FILES["table3"]: Schema(
        {
            "method": "text",
            "kind": "text",
            "top1_acc": "pct",
            "params_M": "count",
            "training_speedup": "text?",
            "reference": "text",
        },
        ("method",),
    ),
    FILES["table4"]: Schema(
        {"model": "text", "runs": "int", "mean_acc": "pct", "std_acc": "count", "max_acc": "pct", "min_acc": "pct"},
        ("model",),
    ),
    FILES["table5"]: Schema(
        {
            "variant": "text",
            "kind": "text",
            "compression": "int",
            "runs": "int",
            "mean_acc": "pct",
            "range_acc": "count",
        },
        ("variant",),
    ),
    FILES["figure3"]: Schema(
        {
            "compression": "int",
            "gconv_top1_err": "pct",
            "xconv_top1_err": "pct",
            "xconv_flops_M": "count",
            "source": "text",
        },
        ("compression",),
    ),
    FILES["figure4"]: Schema(
        {"dataset": "text", "model": "text", **_DENSENET, "best_acc": "pct", "source": "text"}, ("dataset", "model")
    ),
    FILES["figure6"]: Schema({"model": "text", **_DENSENET, "best_acc": "pct", "source": "text"}, ("model",)),
    FILES["readme_cifar"]: Schema(
        {
            "model": "text",
            **_DENSENET,
            "params_M": "count",
            "flops_100M": "count",
            "cifar10_acc": "pct",
            "cifar100_acc": "pct",
        },
        ("model",),
    ),
    FILES["readme_mobilenet"]: Schema(
        {"model": "text", "compression": "int", "flops_M": "count", "top1_err": "pct"}, ("model",)
    ),
    FILES["fashion_benchmark"]: Schema(
        {
            "family": "text",
            "architecture": "text",
            "top1_acc": "pct",
            "params": "text?",
            "preprocessing": "text",
            "epochs": "text",
            "source": "text",
        },
        ("family",),
    ),
    FILES["recipes"]: Schema(
        {
            "family": "text",
            "dataset": "text",
            "epochs": "int?",
            "batch_size": "int?",
            "optimizer": "text?",
            "momentum": "count?",
            "nesterov": "text?",
            "lr": "count?",
            "lr_schedule": "text?",
            "lr_floor": "count?",
            "weight_decay": "count?",
            "source": "text",
        },
        ("family",),
    ),
    FILES["curves"]: Schema(
        {
            "log": "text",
            "dataset": "text",
            "model_def": "text",
            "layers": "int",
            "growth": "int",
            "expand_size": "int",
            "batch_size": "int",
            "epoch": "int0",
            "lr": "count",
            "train_loss": "count",
            "train_top1": "pct",
            "train_time_s": "count",
            "val_loss": "count",
            "val_top1": "pct",
            "val_top5": "pct",
        },
        ("log", "epoch"),
    ),
}


def validate(df: pd.DataFrame, schema: Schema, where) -> pd.DataFrame:
    """``df`` (read from ``where``) checked against ``schema``; numeric columns made numbers.

    Raises :class:`PublishedError` naming ``where``, the line (of the file: the header is line 1)
    and the column of the first problem.
    """
    missing = [c for c in schema.columns if c not in df.columns]
    if missing:
        raise PublishedError(
            f"published file {where}: column {', '.join(map(repr, missing))} missing "
            f"(columns: {', '.join(map(str, df.columns))})"
        )
    if df.empty:
        raise PublishedError(f"published file {where}: no rows")
    df = df.copy()
    for col, kind in schema.columns.items():
        optional, kind = kind.endswith("?"), kind.rstrip("?")
        values = df[col]
        empty = values.isna() | (values.astype(str).str.strip() == "")
        if not optional and bool(empty.any()):
            line = int(empty.to_numpy().nonzero()[0][0]) + 2
            raise PublishedError(f"published file {where}, line {line}: column {col!r} is empty")
        if kind == "text":
            continue
        lo, hi = _RANGES[kind]
        nums = pd.to_numeric(values, errors="coerce")
        filled = ~empty
        problems = (
            (filled & (nums.isna() | nums.abs().eq(math.inf)), "is not a number"),
            (
                filled & ((nums < lo) | (nums > hi)),
                f"is not in [{lo:g}, {hi:g}]" if hi < math.inf else f"is below {lo:g}",
            ),
            (filled & kind.startswith("int") & (nums % 1 != 0), "is not a whole number"),
        )
        for bad, why in problems:
            if bool(bad.any()):
                i = int(bad.to_numpy().nonzero()[0][0])
                raw = str(values.iloc[i])
                raise PublishedError(f"published file {where}, line {i + 2}: column {col!r}: {raw!r} {why}")
        df[col] = nums
    dup = df.duplicated(list(schema.key), keep=False)
    if bool(dup.any()):
        rows = dup.to_numpy().nonzero()[0]
        key = ", ".join(f"{k}={df[k].iloc[rows[0]]!r}" for k in schema.key)
        lines = " and ".join(str(int(r) + 2) for r in rows[:2])
        raise PublishedError(f"published file {where}: duplicate key {key} (lines {lines})")
    return df
