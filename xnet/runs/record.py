"""The run record: what one training run was and what it achieved (``RUN_DIR/metrics.json``).

Written by the trainer (:mod:`xnet.training`) once a run finished, read by the analysis (gather,
tables, figures).  Importing it imports no torch (and no ``jsonschema``: that is imported when a
record is first validated).

- :class:`RunRecord`: one dataclass, one field per fact, each field declaring its JSON Schema
  (``field(metadata={"schema": ...})``).  ``from_dict`` / ``to_dict``, ``load(path)`` (a one-line
  :class:`~xnet.errors.RecordError` naming the file and the field for a missing, corrupt or invalid
  file) and ``write(path)`` (atomic, strict JSON: no NaN ever).
- :data:`RUN_RECORD_SCHEMA`: the JSON Schema (draft 2020-12) of a record, generated from the
  dataclass.  A field whose default is ``None`` is optional (records written before it existed lack
  it; :meth:`RunRecord.to_dict` leaves it out while it is ``None``); every other field is required.
- :func:`validate_record`: the schema (checked with ``jsonschema``'s Draft 2020-12 validator) plus
  what JSON Schema cannot say: every number is finite, the results follow from the record's own
  history, and a run on a stand-in dataset says which paper dataset it stands for.

**Adding a field** is one line in :class:`RunRecord` (with ``default=None`` if older records lack it).

Conventions: errors are percentages (0-100) on the validation set; ``best_*`` are the minimum
over the epochs (``best_epoch`` is the epoch of ``best_top1_err``); counts are those of
:func:`xnet.profile` (real connections only, MACs of one image); ``dataset`` is the name the run
trained on (:mod:`xnet.data.catalog`: ``synthetic-cifar10`` is a stand-in for ``cifar10``; see
:attr:`RunRecord.paper_dataset`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import catalog
from ..errors import RecordError
from ..names import CONV_KINDS, DEVICES, VARIANTS

RECORD_FORMAT = 1
# training dataset -> the paper's dataset it stands for ("" for a stand-in: the record's stands_for says)
PAPER_DATASETS = {name: info.stands_for for name, info in catalog.DATASETS.items()}

_INT, _STR, _BOOL, _OBJ = {"type": "integer"}, {"type": "string"}, {"type": "boolean"}, {"type": "object"}
_ERR = {"type": "number", "minimum": 0, "maximum": 100}
_POS = {"type": "integer", "minimum": 1}
_NONNEG = {"type": "number", "minimum": 0}


def _opt(s: dict) -> dict:
    """``s`` or null."""
    out = {**s, "type": [s["type"], "null"]}
    if "enum" in s:
        out["enum"] = [*s["enum"], None]
    return out


def _f(schema: dict, about: str = "", **kw):
    """A record field and its JSON Schema (``about``: its description)."""
    return field(metadata={"schema": {**schema, "description": about} if about else schema}, **kw)


HISTORY_ENTRY_SCHEMA = {
    "type": "object",
    "required": ["epoch", "lr", "train_loss", "train_top1_err", "val_loss", "val_top1_err", "val_top5_err"],
    "properties": {
        "epoch": _POS,
        "lr": _NONNEG,
        "train_loss": _NONNEG,
        "train_top1_err": _ERR,
        "val_loss": _NONNEG,
        "val_top1_err": _ERR,
        "val_top5_err": _ERR,
        "train_images": _POS,
        "val_images": _POS,
        "time_s": {**_NONNEG, "description": "the epoch: training + validation"},
        "train_s": {**_NONNEG, "description": "its training part"},
        "peak_memory_mb": {
            **_NONNEG,
            "description": "the process's peak memory so far (CPU: max RSS; CUDA: max allocated)",
        },
    },
}


# ------------------------------------------------------------------------------------------------
# the record
# ------------------------------------------------------------------------------------------------
@dataclass
class RunRecord:
    """One finished training run (see the module docstring and :data:`RUN_RECORD_SCHEMA`)."""

    # the model
    model: str = _f(_STR, "the name given to xnet train --model")
    family: str = _f(_STR, "recipe family, e.g. densenet_bc_cifar")
    conv: str = _f({"type": "string", "enum": list(CONV_KINDS)})
    compression: int | None = _f(_opt(_POS), "C; 1 for dense; null where degrees are given")
    depth: int | None = _f(_opt(_POS))
    growth: int | None = _f(_opt(_POS))
    width: float | None = _f(_opt({"type": "number", "exclusiveMinimum": 0}))
    variant: str = _f({"type": "string", "enum": list(VARIANTS)})
    model_args: dict = _f(_OBJ, "extra keyword arguments of xnet.models.create")
    # the data
    dataset: str = _f({"type": "string", "enum": list(PAPER_DATASETS)}, "the dataset trained on")
    seed: int = _f({"type": "integer", "minimum": 0})
    num_classes: int = _f(_POS)
    input_size: list = _f({"type": "array", "items": _POS, "minItems": 3, "maxItems": 3})
    # the recipe and the scale
    recipe: dict = _f(_OBJ, "the recipe in effect (xnet.recipes.Recipe.to_dict)")
    epochs: int = _f(_POS)
    batch_size: int = _f(_POS, "global batch (all processes)")
    limit_train_batches: int | None = _f(_opt(_POS))
    limit_val_batches: int | None = _f(_opt(_POS))
    train_size: int = _f(_POS, "images in the training set used")
    val_size: int = _f(_POS, "images in the validation set used")
    # the results (percent; final = last epoch)
    top1_err: float = _f(_ERR)
    top5_err: float = _f(_ERR)
    best_top1_err: float = _f(_ERR)
    best_top5_err: float = _f(_ERR)
    best_epoch: int = _f(_POS)
    val_loss: float = _f(_NONNEG)
    train_loss: float = _f(_NONNEG)
    history: list = _f({"type": "array", "items": HISTORY_ENTRY_SCHEMA, "minItems": 1})
    # counts
    params: int = _f({"type": "integer", "minimum": 0})
    macs: int = _f({"type": "integer", "minimum": 0})
    # the environment
    device: str = _f({"type": "string", "enum": list(DEVICES)})
    device_info: dict = _f(_OBJ)
    world_size: int = _f(_POS)
    amp: bool = _f(_BOOL)
    amp_dtype: str | None = _f(_opt({"type": "string", "enum": ["float16", "bfloat16"]}))
    channels_last: bool = _f(_BOOL)
    versions: dict = _f({"type": "object", "additionalProperties": _STR})
    wall_time_s: float = _f(_NONNEG, "training + validation time over all epochs")
    config: dict = _f(_OBJ, "the run's identity (xnet.runs.identity: what resume compares)", default_factory=dict)
    # optional: default None (records written before they existed lack them)
    block_size: int | None = _f(
        _opt(_POS), "X-layers from block expanders of this many channels (null: channel level)", default=None
    )
    stands_for: str | None = _f(
        _opt({"type": "string", "enum": list(catalog.PAPER_DATASETS)}),
        "the paper dataset a stand-in stands for",
        default=None,
    )
    format: int = _f({"type": "integer", "enum": [RECORD_FORMAT]}, default=RECORD_FORMAT)

    # ---- derived ------------------------------------------------------------------------------
    @property
    def paper_dataset(self) -> str:
        """The published dataset this run stands for (``synthetic-cifar10`` -> ``cifar10``; a stand-in
        such as ``fashion-mnist``: its ``stands_for``, the paper's dataset of the model family)."""
        return self.stands_for or PAPER_DATASETS[self.dataset]

    @property
    def synthetic(self) -> bool:
        return catalog.is_synthetic(self.dataset)

    @property
    def stand_in(self) -> bool:
        """Trained on a real dataset that is none of the paper's (:func:`xnet.data.catalog.is_stand_in`)."""
        return PAPER_DATASETS[self.dataset] == ""

    @property
    def time_per_epoch_s(self) -> float | None:
        """Median training time of one epoch (validation excluded where the record says; else the epoch)."""
        times = sorted(h.get("train_s", h.get("time_s")) for h in self.history if "time_s" in h or "train_s" in h)
        return times[len(times) // 2] if times else None

    @property
    def peak_memory_mb(self) -> float | None:
        peaks = [h["peak_memory_mb"] for h in self.history if "peak_memory_mb" in h]
        return max(peaks) if peaks else None

    def row(self) -> dict:
        """The scalar fields, plus ``paper_dataset`` and ``synthetic``: one row of a runs table."""
        d = {k: v for k, v in self.to_dict().items() if not isinstance(v, (dict, list)) or k == "input_size"}
        d["input_size"] = "x".join(map(str, self.input_size))
        d["recipe_lr"] = self.recipe.get("lr")
        d.update(paper_dataset=self.paper_dataset, synthetic=self.synthetic, device_name=self.device_info.get("name"))
        return d

    # ---- conversion ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: d[k] for k in RUN_RECORD_SCHEMA["properties"] if not (k in OPTIONAL_FIELDS and d[k] is None)}

    @classmethod
    def from_dict(cls, d: dict, source: str | Path = "run record") -> RunRecord:
        """A record from a dict (validated: :class:`RecordError` naming ``source`` and the field)."""
        validate_record(d, source)
        return cls(**{k: (list(v) if k == "input_size" else v) for k, v in d.items()})

    def validate(self) -> RunRecord:
        validate_record(json.loads(json.dumps(self.to_dict(), allow_nan=True)), "run record")
        return self

    @classmethod
    def load(cls, path: str | Path) -> RunRecord:
        """Read and validate ``path``; a one-line :class:`RecordError` naming it if missing, corrupt or invalid."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RecordError(f"{path}: run record not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise RecordError(f"{path}: cannot read the run record: {getattr(e, 'strerror', None) or e}") from None

        def no_constants(c):
            raise ValueError(f"{c} is not strict JSON")

        try:
            d = json.loads(text, parse_constant=no_constants)
        except ValueError as e:
            raise RecordError(f"{path}: corrupt run record (not strict JSON: {str(e).splitlines()[0]})") from None
        if isinstance(d, dict) and d.get("format") != RECORD_FORMAT and "format" in d:
            raise RecordError(f"{path}: run record format {d.get('format')!r}, this xnet reads format {RECORD_FORMAT}")
        return cls.from_dict(d, path)

    def write(self, path: str | Path) -> None:
        """Validate, then write ``path`` atomically as strict JSON (a RecordError instead of a NaN)."""
        from .files import atomic_write_json

        d = self.to_dict()
        validate_record(json.loads(json.dumps(d, allow_nan=True)), path)
        atomic_write_json(Path(path), d)


# ------------------------------------------------------------------------------------------------
# the schema, generated from the dataclass
# ------------------------------------------------------------------------------------------------
_FIELDS = dataclasses.fields(RunRecord)
OPTIONAL_FIELDS = tuple(f.name for f in _FIELDS if f.default is None)
RUN_RECORD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "xnet run record (RUN_DIR/metrics.json)",
    "type": "object",
    "additionalProperties": False,
    # format first: the order of the keys in metrics.json
    "properties": {f.name: f.metadata["schema"] for f in sorted(_FIELDS, key=lambda f: f.name != "format")},
    "required": [f.name for f in sorted(_FIELDS, key=lambda f: f.name != "format") if f.name not in OPTIONAL_FIELDS],
}


# ------------------------------------------------------------------------------------------------
# validation: jsonschema, plus every number finite and the results following from the history
# ------------------------------------------------------------------------------------------------
def _jsonschema(source):
    try:
        import jsonschema
    except ImportError:  # a core dependency, but a bare environment may lack it
        raise RecordError(
            f"{source}: cannot check the run record: the jsonschema package is not installed (pip install jsonschema)"
        ) from None
    return jsonschema


@functools.cache
def _record_validator():
    return _jsonschema("run record").Draft202012Validator(RUN_RECORD_SCHEMA)


def _where(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _why(e) -> list[tuple[str, str]]:
    """``(field, why)`` of one ``jsonschema.ValidationError``, in the wording of xnet's messages."""
    where, v, want = _where(e.absolute_path), e.instance, e.validator_value
    prefix = f"{where}." if where else ""
    if e.validator == "required":
        return [(f"{prefix}{k}", "missing") for k in want if k not in v]
    if e.validator == "additionalProperties":
        return [(f"{prefix}{k}", "unknown field") for k in v if k not in e.schema.get("properties", {})]
    why = {
        "type": lambda: (
            f"must be {' or '.join([want] if isinstance(want, str) else want)}, got {type(v).__name__} {v!r}"[:200]
        ),
        "enum": lambda: f"must be one of {', '.join(map(str, want))}, got {v!r}",
        "minimum": lambda: f"must be >= {want}, got {v!r}",
        "maximum": lambda: f"must be <= {want}, got {v!r}",
        "exclusiveMinimum": lambda: f"must be > {want}, got {v!r}",
        "minItems": lambda: f"must have at least {want} item(s), got {len(v)}",
        "maxItems": lambda: f"must have at most {want} item(s), got {len(v)}",
    }.get(e.validator, lambda: e.message)
    return [(where or "(top level)", why())]


def _not_finite(v, where: str = ""):
    """``(field, why)`` for each non-finite number in ``v`` (NaN and Infinity are not JSON numbers)."""
    if isinstance(v, float) and not math.isfinite(v):
        yield where, f"must be a finite number, got {v!r}"
    elif isinstance(v, dict):
        for k, item in v.items():
            yield from _not_finite(item, f"{where}.{k}" if where else str(k))
    elif isinstance(v, list):
        for i, item in enumerate(v):
            yield from _not_finite(item, f"{where}[{i}]")


def _schema_problems(d: Any, validator) -> list[str]:
    bad = list(_not_finite(d))
    errors = list(validator.iter_errors(d))
    typed = {_where(e.absolute_path) for e in errors if e.validator == "type"}  # a wrong type: say only that
    for e in errors:
        if e.validator == "type" or _where(e.absolute_path) not in typed:
            bad += _why(e)
    return list(dict.fromkeys(f"{k}: {why}" for k, why in bad))


def record_problems(d: Any) -> list[str]:
    """Every way ``d`` breaks the record's rules, as ``"field: why"`` strings (empty: valid)."""
    if not isinstance(d, dict):
        return [f"(top level): must be a JSON object, got {type(d).__name__}"]
    try:  # a record is checked when built, written and read: the same text is checked once
        text = json.dumps(d, allow_nan=True)
    except (TypeError, ValueError):
        return _record_problems(d)
    return list(_cached_problems(text))


@functools.lru_cache(maxsize=256)
def _cached_problems(text: str) -> tuple[str, ...]:
    return tuple(_record_problems(json.loads(text)))


def _record_problems(d: dict) -> list[str]:
    out = _schema_problems(d, _record_validator())
    if not out:
        hist = d["history"]
        if [h["epoch"] for h in hist] != list(range(1, len(hist) + 1)):
            out.append("history: epochs must be 1, 2, ... in order")
        elif len(hist) != d["epochs"]:
            out.append(f"history: has {len(hist)} epochs but epochs is {d['epochs']}")
        elif not 1 <= d["best_epoch"] <= len(hist):
            out.append(f"best_epoch: must be an epoch of history, got {d['best_epoch']}")
        elif PAPER_DATASETS[d["dataset"]] == "" and not d.get("stands_for"):
            out.append(
                f"stands_for: a run on the stand-in dataset {d['dataset']} must say which paper dataset it stands for"
            )
        else:
            out += _inconsistencies(d)
    return out


def _inconsistencies(d: dict) -> list[str]:
    """Where the results of a (schema-valid) record disagree with its own history: the final errors
    are the last epoch's, the best the minimum, ``best_epoch`` an epoch with the best top-1 error."""
    hist, out = d["history"], []

    def same(a, b) -> bool:
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)

    for key, want, what in (
        ("top1_err", hist[-1]["val_top1_err"], "the last epoch's val_top1_err"),
        ("top5_err", hist[-1]["val_top5_err"], "the last epoch's val_top5_err"),
        ("best_top1_err", min(h["val_top1_err"] for h in hist), "the minimum val_top1_err of history"),
        ("best_top5_err", min(h["val_top5_err"] for h in hist), "the minimum val_top5_err of history"),
    ):
        if not same(d[key], want):
            out.append(f"{key}: {d[key]!r} is not {what} ({want!r})")
    at_best = hist[d["best_epoch"] - 1]["val_top1_err"]
    if not out and not same(at_best, d["best_top1_err"]):
        out.append(
            f"best_epoch: epoch {d['best_epoch']} has val_top1_err {at_best!r}, "
            f"not the best_top1_err {d['best_top1_err']!r}"
        )
    return out


def check_fields(partial: dict, source: str = "run record") -> dict:
    """Check the fields given in ``partial`` (a subset of a record, e.g. the model's facts before a run
    starts) against their schemas; raise :class:`RecordError` naming ``source`` and the first bad field."""
    props = RUN_RECORD_SCHEMA["properties"]
    for k in partial:
        if k not in props:
            raise RecordError(f"{source}: {k}: not a field of the run record")
    schema = {"type": "object", "properties": {k: props[k] for k in partial}}
    problems = _schema_problems(partial, _jsonschema(source).Draft202012Validator(schema))
    if problems:
        raise RecordError(f"{source}: {problems[0]}")
    return partial


def validate_record(d: Any, source: str | Path = "run record") -> dict:
    """Return ``d`` if it is a valid run record; else raise :class:`RecordError` naming ``source`` and the field."""
    problems = record_problems(d)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RecordError(f"{source}: invalid run record: {problems[0]}{more}")
    return d
