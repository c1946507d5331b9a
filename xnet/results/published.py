"""The published numbers of the paper (``xnet/published/*.csv``, package data), with their units stated once.

API (torch-free; pandas):

- ``files() -> list[str]``: the file names of the published CSVs.
- ``path(name) -> Path``: the file on disk (``name``: a file name or a short name such as
  ``"table4"``); use it for Snakemake inputs, so that editing a published CSV rebuilds its table.
- ``table(name) -> DataFrame``: a published CSV as printed (no unit conversion).
- ``counts() -> DataFrame``: every published parameter / MAC count, one row per (model, quantity):
  ``model`` (the canonical name of :func:`xnet.models.create`), ``source``, ``quantity``
  (``params`` | ``macs``), ``published`` (the number as printed), ``unit`` (as printed),
  ``value`` (in base units: parameters, or multiply-accumulates of one image), ``per`` (``value =
  published * per``: a count in base units is ``count / per`` in the printed unit), ``file``, ``column``.
- ``lookup(experiment, row) -> Published``: the published numbers of one row of a table/figure:
  accuracy (percent), std and number of runs (where printed), max/min/range, kind.
- ``context_rows(name) -> DataFrame``: the rows of Tables 2 and 3 that report other methods
  (pruning): published only, never rerun.

Conventions (``xnet/published/CONVENTIONS.md``; this module is the one place the code states them):

- Counts: CIFAR and MobileNet "FLOPs" are MACs; Table 1's "#FLOPs (in 100M)" are 2 x MACs (so
  35 means 1.75e9 MACs); ``params_M`` are millions of parameters.  See :data:`UNITS`.
- Accuracies are top-1 percentages.  Files print either accuracy (``top1_acc``, ``mean_acc``,
  ``best_acc``, ``cifar10_acc``) or error (``*_top1_err``); :func:`lookup` always returns accuracy.
- The authors' code prints the best epoch's accuracy (``code/main.py:67-70``, ``best_prec1``), and
  their logs are where the published accuracies come from; so a rerun is compared on its
  best-epoch accuracy (:data:`MEASURE`) and its final-epoch accuracy is shown beside it.
- Table 5 prints the range (max - min) of 2 runs: for two runs the sample standard deviation is
  range / sqrt(2) (:func:`lookup` fills ``std`` that way).

Every file is validated when read (:data:`xnet.results.published_schema.SCHEMAS`): its columns are
present, numbers are numbers in range (accuracies and errors in 0..100, counts >= 0, sizes whole
numbers), required cells filled, keys unique.  A file that fails is a :class:`PublishedError`, one
line naming the file, the line and the column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from .published_schema import FILES, SCHEMAS, PublishedError, validate  # re-exported: the files' names and checks

MEASURE = "best-epoch top-1 accuracy (the authors' code prints the best epoch: code/main.py:67-70)"


@dataclass(frozen=True)
class Unit:
    """How a published count column reads: ``value * per`` = the count in base units."""

    quantity: str  # "params" or "macs"
    per: float
    text: str  # the unit as the source prints it


UNITS: dict[tuple[str, str], Unit] = {
    (FILES["table1"], "flops_100M"): Unit("macs", 1e8 / 2, "FLOPs in 100M (FLOPs = 2 x MACs)"),
    (FILES["table2"], "params_M"): Unit("params", 1e6, "M params"),
    (FILES["table3"], "params_M"): Unit("params", 1e6, "M params"),
    (FILES["readme_cifar"], "params_M"): Unit("params", 1e6, "M params"),
    (FILES["readme_cifar"], "flops_100M"): Unit("macs", 1e8, "FLOPs in 100M (FLOPs = MACs)"),
    (FILES["figure3"], "xconv_flops_M"): Unit("macs", 1e6, "M FLOPs (FLOPs = MACs)"),
    (FILES["readme_mobilenet"], "flops_M"): Unit("macs", 1e6, "M FLOPs (FLOPs = MACs)"),
}
# Section 5.5 states two counts in its text (no CSV): "from 19.9B FLOPs to 0.6B FLOPs" (MACs).
SECTION_5_5 = (("DenseNet-BC-40-200", 19.9), ("X-DenseNet-BC-40-200-30", 0.6))

ACC_COLUMNS = ("mean_acc", "top1_acc", "best_acc")  # percent accuracy, in order of preference
CONTEXT_KIND = "pruning"  # Tables 2, 3: other methods, published only


def _name(name: str) -> str:
    name = str(name)
    if name in FILES:
        return FILES[name]
    if not name.endswith(".csv"):
        name += ".csv"
    if name not in files():
        raise ValueError(f"no published file {name!r} (files: {', '.join(files())})")
    return name


@lru_cache(maxsize=1)
def _dir() -> Path:
    return Path(str(resources.files("xnet").joinpath("published")))


def files() -> list[str]:
    """File names of the published CSVs (package data under ``xnet/published/``)."""
    return sorted(p.name for p in _dir().iterdir() if p.suffix == ".csv")


def path(name: str) -> Path:
    """The published CSV ``name`` (a file name, with or without ``.csv``, or a short name in :data:`FILES`)."""
    return _dir() / _name(name)


@cache
def _read(name: str) -> pd.DataFrame:
    return read_csv(path(name))


def read_csv(file) -> pd.DataFrame:
    """A published CSV ``file`` (any path; its schema is that of its file name), validated."""
    file = Path(file)
    try:
        df = pd.read_csv(file, keep_default_na=False, na_values=[""])  # only an empty cell is missing
    except FileNotFoundError:
        raise PublishedError(f"published file {file}: not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise PublishedError(f"published file {file}: not a readable CSV ({str(e).strip().splitlines()[0]})") from None
    schema = SCHEMAS.get(file.name)
    return df if schema is None else validate(df, schema, file)


def table(name: str) -> pd.DataFrame:
    """A published CSV as printed (a copy: callers may modify it)."""
    return _read(_name(name)).copy()


def to_unit(file: str, column: str, count: float) -> float:
    """A count in base units (parameters, MACs) -> the unit of a published column (e.g. Table 1's FLOPs in 100M)."""
    return count / UNITS[(_name(file), column)].per


def from_unit(file: str, column: str, value: float) -> float:
    """A number as printed in a published column -> base units."""
    return value * UNITS[(_name(file), column)].per


@lru_cache(maxsize=1)
def _counts() -> pd.DataFrame:
    rows = []

    def add(model, source, file, column, value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        u = UNITS[(file, column)]
        rows.append(
            {
                "model": model,
                "source": source,
                "quantity": u.quantity,
                "published": float(value),
                "unit": u.text,
                "value": float(value) * u.per,
                "per": u.per,
                "file": file,
                "column": column,
            }
        )

    for _, r in _read(FILES["table1"]).iterrows():
        add(r["model"], "Table 1", FILES["table1"], "flops_100M", r["flops_100M"])
    for key, src in (("table2", "Table 2"), ("table3", "Table 3")):
        for _, r in _read(FILES[key]).iterrows():
            if r["kind"] != CONTEXT_KIND:
                add(r["method"], src, FILES[key], "params_M", r["params_M"])
    for _, r in _read(FILES["readme_cifar"]).iterrows():
        add(r["model"], "original README", FILES["readme_cifar"], "params_M", r["params_M"])
        add(r["model"], "original README", FILES["readme_cifar"], "flops_100M", r["flops_100M"])
    for _, r in _read(FILES["figure3"]).iterrows():
        if int(r["compression"]) == 1:  # the other rows repeat the README's X-MobileNet counts
            add("MobileNet-0.5", "Section 5.1", FILES["figure3"], "xconv_flops_M", r["xconv_flops_M"])
    for _, r in _read(FILES["readme_mobilenet"]).iterrows():
        # the README spells the model X-Mobilenet0.5-C; the compression column says which one
        add(
            f"X-MobileNet-0.5-{int(r['compression'])}",
            "original README",
            FILES["readme_mobilenet"],
            "flops_M",
            r["flops_M"],
        )
    for model, g in SECTION_5_5:
        rows.append(
            {
                "model": model,
                "source": "Section 5.5",
                "quantity": "macs",
                "published": g,
                "unit": "B FLOPs (FLOPs = MACs)",
                "value": g * 1e9,
                "per": 1e9,
                "file": "",
                "column": "",
            }
        )
    return pd.DataFrame(rows)


def counts() -> pd.DataFrame:
    """Every published parameter / MAC count (see the module docstring for the columns)."""
    return _counts().copy()


def count_of(model: str, quantity: str) -> tuple[float, str] | None:
    """``(value in base units, "printed value unit, source")`` of a model's published count, or None."""
    c = _counts()
    hit = c[(c["model"] == model) & (c["quantity"] == quantity)]
    if hit.empty:
        return None
    r = hit.iloc[0]
    return float(r["value"]), f"{r['published']:g} {r['unit']}, {r['source']}"


def context_rows(name: str) -> pd.DataFrame:
    """The rows of a published table that report other methods (``kind == "pruning"``), or none."""
    df = table(name)
    if "kind" not in df.columns:
        return df.iloc[0:0]
    return df[df["kind"] == CONTEXT_KIND].reset_index(drop=True)


@dataclass(frozen=True)
class Published:
    """The published numbers of one row of a table or figure (accuracies in percent)."""

    file: str
    label: str
    acc: float  # mean accuracy where the paper averages runs, else the one run's
    std: float | None = None  # over runs, where printed (Table 4), or derived (Table 5: range / sqrt 2)
    runs: int | None = None  # number of runs behind ``acc`` where printed (Tables 4, 5)
    max: float | None = None
    min: float | None = None
    range: float | None = None
    kind: str | None = None

    @property
    def err(self) -> float:
        return 100.0 - self.acc


def _float(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def lookup(experiment, row) -> Published:
    """The published numbers of ``row`` (an ``experiments.Row``) of ``experiment`` (an ``Experiment``).

    Rows are found by the experiment's key column == the row's label (and the row's dataset where the
    file has a ``dataset`` column).  Figure 3's file is keyed by compression: a label (``Base``, ``G4``,
    ``X4``) is looked up in Table 5, which prints its kind and compression.  ``ValueError`` (one line)
    if the file has no such row.
    """
    file = _name(experiment.published)
    df = _read(file)
    label = str(row.label)
    if experiment.key == "compression":
        t5 = _read(FILES["table5"])
        v = t5[t5["variant"].astype(str) == label]
        if v.empty:
            raise ValueError(f"{file}: no published row for {label!r} (labels: {', '.join(t5['variant'])})")
        kind, c = v.iloc[0]["kind"], int(v.iloc[0]["compression"])
        hit = df[df["compression"].astype(int) == c]
        if hit.empty:
            raise ValueError(f"{file}: no published row for compression {c} ({label})")
        err = float(hit.iloc[0]["gconv_top1_err" if kind == "grouped" else "xconv_top1_err"])
        return Published(file, label, 100.0 - err, kind=kind)
    if experiment.key not in df.columns:
        raise ValueError(f"{file}: no column {experiment.key!r} (columns: {', '.join(df.columns)})")
    hit = df[df[experiment.key].astype(str) == label]
    if "dataset" in df.columns:
        hit = hit[hit["dataset"] == row.dataset]
    if hit.empty:
        raise ValueError(
            f"{file}: no published row {label!r}" + (f" on {row.dataset}" if "dataset" in df.columns else "")
        )
    r = hit.iloc[0]
    acc = next(float(r[c]) for c in ACC_COLUMNS if c in r.index and pd.notna(r[c]))
    runs = int(r["runs"]) if "runs" in r.index else None
    std, rng = _float(r.get("std_acc")), _float(r.get("range_acc"))
    if std is None and rng is not None and runs == 2:
        std = rng / math.sqrt(2)
    return Published(
        file,
        label,
        acc,
        std=std,
        runs=runs,
        max=_float(r.get("max_acc")),
        min=_float(r.get("min_acc")),
        range=rng,
        kind=r.get("kind"),
    )
