"""Run records -> one tidy runs table (one row per run), and the runs of one experiment.

API (torch-free; pandas):

- ``find_records(*roots) -> list[Path]``: every ``metrics.json`` under the given directories (files
  are taken as they are), sorted.
- ``gather(paths, scale=None) -> DataFrame``: one row per record, columns :data:`RUN_COLUMNS`, sorted by
  (dataset, model, variant, seed).  Each row comes from its own record (never from a list zipped
  by position); a missing, corrupt or invalid file raises a one-line
  :class:`~xnet.errors.RecordError` naming it, and so does a record that is not the run its run
  directory names (``check_against_path``: model, paper dataset, variant, seed; the scale if
  given).  Two records of the same run (model, dataset, variant, seed, scale facts) raise too.
- ``read_runs(path) -> DataFrame``: a runs CSV written by :func:`write_runs` (checked columns).
- ``write_runs(df, path)``: the runs CSV.
- ``experiment_runs(runs, experiment, variant=None) -> DataFrame``: the runs of one table/figure,
  one row per (row label, seed), in the experiment's row order, with ``label`` added.
- ``at_paper_scale(record) -> bool``: whether a run used the paper's data and recipe length.

Columns: identity ``model, variant, family, conv, compression, depth, growth, width, dataset``
(the paper's dataset the run stands for), ``train_dataset`` (what it trained on), ``seed``; scale
``epochs, recipe_epochs, batch_size, limit_train_batches, limit_val_batches, train_size,
at_paper_scale``; results in percent ``top1_err, best_top1_err, top5_err, top1_acc, best_top1_acc,
best_epoch``; counts ``params, macs`` (of the network that was trained); ``device, device_name,
world_size, wall_time_s, path``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import RecordError, UserError
from .paths import RUN_DIR, parse_run_dir
from .record import PAPER_DATASETS, VARIANTS, RunRecord

IDENTITY = [
    "model",
    "variant",
    "family",
    "conv",
    "compression",
    "depth",
    "growth",
    "width",
    "block_size",
    "dataset",
    "train_dataset",
    "seed",
]
RUN_COLUMNS = IDENTITY + [
    "epochs",
    "recipe_epochs",
    "batch_size",
    "limit_train_batches",
    "limit_val_batches",
    "train_size",
    "stand_in",
    "at_paper_scale",
    "top1_err",
    "best_top1_err",
    "top5_err",
    "top1_acc",
    "best_top1_acc",
    "best_epoch",
    "params",
    "macs",
    "device",
    "device_name",
    "world_size",
    "wall_time_s",
    "time_per_epoch_s",
    "peak_memory_mb",
    "path",
]
INT_COLUMNS = ("compression", "depth", "growth", "block_size", "limit_train_batches", "limit_val_batches")  # nullable
PAPER_SCALE = (
    "at paper scale: the paper's dataset (not synthetic, not a stand-in), no limit on batches per epoch, and at "
    "least the recipe's epochs"
)


def at_paper_scale(rec: RunRecord) -> bool:
    """True if ``rec`` trained on the paper's real dataset, on every batch, for its recipe's epochs
    (:data:`PAPER_SCALE`)."""
    recipe_epochs = rec.recipe.get("epochs")
    return (
        not rec.synthetic
        and not rec.stand_in
        and rec.limit_train_batches is None
        and rec.limit_val_batches is None
        and recipe_epochs is not None
        and rec.epochs >= int(recipe_epochs)
    )


def record_row(rec: RunRecord, path: str | Path = "") -> dict:
    """The runs-table row of one record."""
    return {
        "model": rec.model,
        "variant": rec.variant,
        "family": rec.family,
        "conv": rec.conv,
        "compression": rec.compression,
        "depth": rec.depth,
        "growth": rec.growth,
        "width": rec.width,
        "block_size": rec.block_size,
        "dataset": rec.paper_dataset,
        "train_dataset": rec.dataset,
        "seed": rec.seed,
        "epochs": rec.epochs,
        "recipe_epochs": rec.recipe.get("epochs"),
        "batch_size": rec.batch_size,
        "limit_train_batches": rec.limit_train_batches,
        "limit_val_batches": rec.limit_val_batches,
        "train_size": rec.train_size,
        "stand_in": rec.stand_in,
        "at_paper_scale": at_paper_scale(rec),
        "top1_err": rec.top1_err,
        "best_top1_err": rec.best_top1_err,
        "top5_err": rec.top5_err,
        "top1_acc": 100.0 - rec.top1_err,
        "best_top1_acc": 100.0 - rec.best_top1_err,
        "best_epoch": rec.best_epoch,
        "params": rec.params,
        "macs": rec.macs,
        "device": rec.device,
        "device_name": rec.device_info.get("name"),
        "world_size": rec.world_size,
        "wall_time_s": rec.wall_time_s,
        "time_per_epoch_s": rec.time_per_epoch_s,
        "peak_memory_mb": rec.peak_memory_mb,
        "path": str(path),
    }


def find_records(*roots) -> list[Path]:
    """Every ``metrics.json`` under ``roots`` (a file root is taken as it is), sorted; a missing root raises."""
    out = []
    for r in roots:
        r = Path(r)
        if r.is_file():
            out.append(r)
        elif r.is_dir():
            out += sorted(r.rglob("metrics.json"))
        else:
            raise UserError(f"{r}: no such file or directory")
    return out


def check_against_path(rec: RunRecord, path, scale: str | None = None) -> None:
    """A record under ``{scale}/{dataset}/{model}/{variant}/seed{seed}/metrics.json``
    (:data:`~xnet.results.paths.RUN_DIR`) must be the run its path names: that model (as recorded),
    paper dataset, variant and seed, and (``scale`` given) that scale.  A record elsewhere (a
    folder of one's own) is not checked.  A mismatch is a one-line :class:`RecordError` naming the
    file and the field."""
    try:
        where = parse_run_dir(str(path))
    except ValueError:
        return
    if where["variant"] not in VARIANTS or where["dataset"] not in set(PAPER_DATASETS.values()) - {""}:
        return  # not the workflow's layout (a variant / dataset segment no run directory has)
    have = {
        "model": rec.model,
        "dataset": rec.paper_dataset,
        "variant": rec.variant,
        "seed": rec.seed,
    }
    for key, value in have.items():
        if value != where[key]:
            raise RecordError(
                f"{path}: the record's {key} is {value!r} but its path says {where[key]!r} "
                f"(a run directory holds the run it names: {RUN_DIR})"
            )
    if scale is not None and where["scale"] != scale:
        raise RecordError(f"{path}: the path's scale is {where['scale']!r}, not the scale {scale!r} being gathered")


def gather(paths, scale: str | None = None) -> pd.DataFrame:
    """One row per run record in ``paths`` (see the module docstring); an empty table for no paths.

    Each record is checked against itself (:func:`~xnet.results.record.record_problems`) and, when
    it lies in a run directory, against its path (:func:`check_against_path`, with ``scale``)."""
    rows = []
    for p in paths:
        rec = RunRecord.load(p)
        check_against_path(rec, p, scale)
        rows.append(record_row(rec, p))
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    key = ["model", "dataset", "variant", "seed", "train_dataset", "epochs", "limit_train_batches"]
    dup = df[df.duplicated(key, keep=False)]
    if len(dup):
        a, b = dup["path"].iloc[0], dup["path"].iloc[1]
        raise RecordError(
            f"{b}: the same run as {a} ({dup['model'].iloc[0]}, {dup['train_dataset'].iloc[0]}, "
            f"variant {dup['variant'].iloc[0]}, seed {dup['seed'].iloc[0]}); gather one of them"
        )
    for c in INT_COLUMNS:
        df[c] = df[c].astype("Int64")
    return df.sort_values(["dataset", "model", "variant", "seed"], kind="stable").reset_index(drop=True)


def write_runs(df: pd.DataFrame, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)


def read_runs(path) -> pd.DataFrame:
    """A runs CSV (from :func:`write_runs`); a one-line error if it is missing or lacks columns."""
    try:
        df = pd.read_csv(
            path, dtype={"model": str, "variant": str, "dataset": str, "train_dataset": str, "family": str, "conv": str}
        )
    except FileNotFoundError:
        raise UserError(f"{path}: runs table not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"{path}: not a runs table ({why})") from None
    missing = [c for c in RUN_COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"{path}: not a runs table of this xnet (missing column {missing[0]!r}); run gather again")
    for c in INT_COLUMNS:
        df[c] = df[c].astype("Int64")
    for c in ("at_paper_scale", "stand_in"):
        df[c] = df[c].astype(str).str.lower().isin(("true", "1"))
    return df


def variants(runs: pd.DataFrame) -> list[str]:
    return sorted(set(runs["variant"].dropna().astype(str)))


def choose_variant(runs: pd.DataFrame, variant: str | None) -> str | None:
    """The variant to show: ``variant`` if given, else the one variant in ``runs`` (error if several)."""
    have = variants(runs)
    if variant is not None:
        return variant
    if len(have) > 1:
        raise UserError(f"the runs mix the variants {', '.join(have)}: choose one (--variant)")
    return have[0] if have else None


def experiment_runs(runs: pd.DataFrame, experiment, variant: str | None = None) -> pd.DataFrame:
    """The runs of ``experiment`` (an ``Experiment``): one row per (row, seed) present in ``runs``.

    Rows are matched on the run's own identity (model, paper dataset, seed, variant); the
    experiment's seeds bound the selection.  ``label`` (the published row) is added in front.
    """
    variant = choose_variant(runs, variant)
    runs = runs.drop_duplicates("path")  # a per-experiment runs table may list a run under two labels
    parts = []
    for row in experiment.rows:
        sel = runs[
            (runs["model"] == row.model)
            & (runs["dataset"] == row.dataset)
            & (runs["seed"].isin(list(experiment.seeds)))
        ]
        if variant is not None:
            sel = sel[sel["variant"] == variant]
        dup = sel[sel.duplicated("seed", keep=False)]
        if len(dup):
            raise UserError(
                f"{dup['path'].iloc[1]}: a second run of {row.model} on {row.dataset} seed "
                f"{dup['seed'].iloc[0]} (first: {dup['path'].iloc[0]}); gather one scale at a time"
            )
        parts.append(sel.assign(label=row.label))
    if not parts:
        return runs.iloc[0:0].assign(label=[])
    out = pd.concat(parts, ignore_index=True)
    return out[["label"] + [c for c in out.columns if c != "label"]]
