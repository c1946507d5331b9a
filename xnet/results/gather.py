"""Run records -> one tidy runs table (one row per run), and the runs of one experiment.

API (torch-free; pandas):

- ``find_records(*roots) -> list[Path]``: every ``metrics.json`` under the given directories (files
  are taken as they are), sorted.
- ``gather(paths, scale=None, expect=None) -> DataFrame``: one row per record, columns
  :data:`RUN_COLUMNS`, sorted by (paper_dataset, model, variant, seed).  Each row comes from its own
  record (never from a list zipped by position) read from disk now; a missing, corrupt or invalid
  file raises a one-line :class:`~xnet.errors.RecordError` naming it, and so does a record that is
  not the run its run directory names (``check_against_path``: model, paper dataset, variant, seed;
  the scale if given) or whose identity (``config``, :mod:`xnet.runs.identity`) is not the run the
  record and its path describe (``check_identity``), or (``expect`` given: what the configuration's
  scale says its runs are) that is not a run of the scale as configured now
  (``check_against_scale``).  Two records of the same run raise too.
- ``read_runs(path) -> DataFrame``: a runs CSV written by :func:`write_runs` (checked columns; a
  runs CSV of an older xnet, with ``dataset`` / ``train_dataset``, is read under today's names).
- ``write_runs(df, path)``: the runs CSV, written atomically (an interrupted gather leaves the
  previous file, or none; never a partial table).
- ``experiment_runs(runs, experiment, variant=None) -> DataFrame``: the runs of one table/figure,
  one row per (row label, seed), in the experiment's row order, with ``label`` added.
- ``at_paper_scale(record) -> bool``: whether a run used the paper's data and its family's published
  recipe (:data:`PAPER_SCALE`).

Columns: identity ``model, variant, family, conv, compression, depth, growth, width,
paper_dataset`` (the paper's dataset the run stands for: the run directory's and the tables'),
``dataset`` (what it trained on: the run record's), ``seed``; scale
``epochs, recipe_epochs, batch_size, limit_train_batches, limit_val_batches, train_size,
at_paper_scale``; results in percent ``top1_err, best_top1_err, top5_err, top1_acc, best_top1_acc,
best_epoch``; counts ``params, macs`` (of the network that was trained); ``device, device_name,
world_size, wall_time_s, path``.
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path

import pandas as pd

from ..errors import RecordError, UserError
from ..names import VARIANTS
from ..runs import identity
from ..runs.files import METRICS, atomic_write_bytes
from ..runs.layout import RUN_DIR, parse_run_dir
from ..runs.record import PAPER_DATASETS, RunRecord

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
    "paper_dataset",
    "dataset",
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
    "at paper scale: the paper's dataset (not synthetic, not a stand-in), no limit on batches per epoch, and the "
    "published recipe of the model's family (at least its epochs; a recipe changed with --set is not the paper's)"
)
_RECIPE_ABOUT = ("family", "dataset", "source")  # what a recipe says about itself, not how it trains


@functools.cache
def _published_recipe(family: str) -> dict | None:
    """The published recipe of ``family`` as a run records it (JSON types), None for an unknown family."""
    from ..recipes import resolve_recipe  # torch-free

    try:
        return json.loads(json.dumps(resolve_recipe(family, {}).to_dict()))
    except (UserError, ValueError):
        return None  # a family this xnet has no recipe for


def at_paper_scale(rec: RunRecord) -> bool:
    """True if ``rec`` trained on the paper's real dataset, on every batch, with its family's
    *published* recipe (:func:`xnet.recipes.resolve_recipe` without overrides) for at least its epochs
    (:data:`PAPER_SCALE`).  The recipe the run recorded is compared with the published one, so a run
    shortened with ``--set epochs=N`` (which records N as its recipe's epochs) is not at paper scale."""
    if rec.synthetic or rec.stand_in or rec.limit_train_batches is not None or rec.limit_val_batches is not None:
        return False
    paper = _published_recipe(rec.family)
    if paper is None:
        return False
    for key, value in rec.recipe.items():
        if key in _RECIPE_ABOUT or key not in paper:
            continue
        if key == "epochs":
            if not isinstance(value, int) or value < paper["epochs"]:
                return False
        elif value != paper[key]:
            return False
    return rec.epochs >= paper["epochs"]


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
        "paper_dataset": rec.paper_dataset,
        "dataset": rec.dataset,
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
            out += sorted(r.rglob(METRICS))
        else:
            raise UserError(f"{r}: no such file or directory")
    return out


def check_against_path(rec: RunRecord, path, scale: str | None = None) -> bool:
    """A record under ``{scale}/{paper_dataset}/{model}/{variant}/seed{seed}/metrics.json``
    (:data:`~xnet.runs.layout.RUN_DIR`) must be the run its path names: that model (as recorded),
    paper dataset, variant and seed, and (``scale`` given) that scale.  A record elsewhere (a
    folder of one's own) is not checked.  A mismatch is a one-line :class:`RecordError` naming the
    file and the field.  True if ``path`` is a run directory of the layout (and the record its run)."""
    try:
        where = parse_run_dir(str(path))
    except ValueError:
        return False
    if where["variant"] not in VARIANTS or where["paper_dataset"] not in set(PAPER_DATASETS.values()) - {""}:
        return False  # not the workflow's layout (a variant / dataset segment no run directory has)
    have = {
        "model": rec.model,
        "paper_dataset": rec.paper_dataset,
        "variant": rec.variant,
        "seed": rec.seed,
    }
    for key, value in have.items():
        if value != where[key]:
            what = "dataset" if key == "paper_dataset" else key  # the wording tests/faults/test_identity.py asserts
            raise RecordError(
                f"{path}: the record's {what} is {value!r} but its path says {where[key]!r} "
                f"(a run directory holds the run it names: {RUN_DIR})"
            )
    if scale is not None and where["scale"] != scale:
        raise RecordError(f"{path}: the path's scale is {where['scale']!r}, not the scale {scale!r} being gathered")
    return True


# identity fields the record states too (not train_size / val_size: the identity keeps the sizes asked
# for, the record the sizes used)
_STATED_BY_RECORD = tuple(
    f for f in identity.FIELDS if f in RunRecord.__dataclass_fields__ and f not in ("train_size", "val_size")
)


def check_identity(rec: RunRecord, path) -> None:
    """The record's identity (``config``, :class:`xnet.runs.identity.RunIdentity`, as its trainer
    stored it) must be the run the record reports (and so the run its path names:
    :func:`check_against_path` checks the record's own fields against the path): model, model
    args, variant, family, dataset, seed, epochs, batch size, batch limits, world size, recipe,
    device type and precision, compared by :func:`xnet.runs.identity.identity_problems`.  An
    identity field the record's xnet did not store is not compared; an empty ``config`` (a
    hand-made record) neither.  A mismatch is a one-line :class:`RecordError` naming the file and
    the fields."""
    config = rec.config
    if not config:
        return
    said = {k: getattr(rec, k) for k in _STATED_BY_RECORD}
    problems = identity.identity_problems(
        config, {k: v for k, v in said.items() if k in identity.FIELDS and k in config}
    )
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RecordError(f"{path}: the run's identity (config) is not the run the record reports: {problems[0]}{more}")


EXPECTABLE = ("dataset", "epochs", "batch_size", "limit_train_batches", "limit_val_batches", "device")


def check_expect(expect) -> dict:
    """``expect``: ``{paper_dataset: {family: {field: value}}}`` with fields of :data:`EXPECTABLE` (what
    a workflow's scale fixes for the runs of one paper dataset and model family); a one-line
    :class:`UserError` otherwise."""
    ok = isinstance(expect, dict) and all(
        isinstance(fams, dict)
        and all(isinstance(want, dict) and set(want) <= set(EXPECTABLE) for want in fams.values())
        for fams in expect.values()
    )
    if not ok:
        raise UserError(
            "expect: must be a JSON object {paper_dataset: {family: {field: value}}} with fields of "
            + ", ".join(EXPECTABLE)
        )
    return expect


def check_against_scale(rec: RunRecord, path, scale: str | None, expect: dict) -> None:
    """A record in a run directory must be a run of its scale *as configured now*: ``expect`` (see
    :func:`check_expect`; the workflow passes what its scale says) for the record's paper dataset and
    family.  A run trained before an edit of the scale (``scale.epochs``, ``scale.datasets``, ...)
    that kept ``scale.name`` is refused, naming the field, instead of being mixed into the tables."""
    want = expect.get(rec.paper_dataset, {}).get(rec.family)
    for key, value in (want or {}).items():
        have = getattr(rec, key)
        if have != value:
            raise RecordError(
                f"{path}: the record's {key} is {have!r} but the scale {scale or ''!r} now says {value!r}: the "
                "configuration changed since this run was trained (give changed settings a new scale.name, "
                "or restore the old ones)"
            )


def gather(paths, scale: str | None = None, expect: dict | None = None) -> pd.DataFrame:
    """One row per run record in ``paths`` (see the module docstring); an empty table for no paths.

    Each record is read from disk now and checked against itself
    (:func:`~xnet.runs.record.record_problems`) and, when it lies in a run directory, against its
    path (:func:`check_against_path`, with ``scale``), its identity (:func:`check_identity`) and
    ``expect`` (:func:`check_against_scale`); a record in a folder of one's own is the user's to name."""
    expect = check_expect(expect) if expect is not None else None
    rows = []
    for p in paths:
        rec = RunRecord.load(p)
        if check_against_path(rec, p, scale):
            check_identity(rec, p)
            if expect is not None:
                check_against_scale(rec, p, scale, expect)
        rows.append(record_row(rec, p))
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    key = ["model", "paper_dataset", "variant", "seed", "dataset", "epochs", "limit_train_batches"]
    dup = df[df.duplicated(key, keep=False)]
    if len(dup):
        a, b = dup["path"].iloc[0], dup["path"].iloc[1]
        raise RecordError(
            f"{b}: the same run as {a} ({dup['model'].iloc[0]}, {dup['dataset'].iloc[0]}, "
            f"variant {dup['variant'].iloc[0]}, seed {dup['seed'].iloc[0]}); gather one of them"
        )
    for c in INT_COLUMNS:
        df[c] = df[c].astype("Int64")
    return df.sort_values(["paper_dataset", "model", "variant", "seed"], kind="stable").reset_index(drop=True)


def write_runs(df: pd.DataFrame, path) -> None:
    """The runs CSV, atomically: a gather that fails or is killed leaves the previous file (or none)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    text = buf.getvalue().encode()
    atomic_write_bytes(Path(path), lambda fh: fh.write(text))


# the columns of a runs CSV written before the paper's and the trained-on dataset had their own names
_OLD_NAMES = {"dataset": "paper_dataset", "train_dataset": "dataset"}


def read_runs(path) -> pd.DataFrame:
    """A runs CSV (from :func:`write_runs`); a one-line error if it is missing or lacks columns."""
    text = {c: str for c in ("model", "variant", "paper_dataset", "dataset", "train_dataset", "family", "conv")}
    try:
        df = pd.read_csv(path, dtype=text)
    except FileNotFoundError:
        raise UserError(f"{path}: runs table not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"{path}: not a runs table ({why})") from None
    if "train_dataset" in df.columns and "paper_dataset" not in df.columns:
        df = df.rename(columns=_OLD_NAMES)
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
            & (runs["paper_dataset"] == row.dataset)
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
