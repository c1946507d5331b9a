"""The run record: what one training run was and what it achieved (``RUN_DIR/metrics.json``).

Written by the trainer (:func:`xnet.train.train`) once a run finished, read by the analysis
(gather, tables, figures).  Stdlib only: importing it imports no torch.

- :class:`RunRecord`: one dataclass, one field per fact; ``from_dict`` / ``to_dict``,
  ``load(path)`` (a one-line :class:`~xnet.errors.RecordError` naming the file and the field for a
  missing, corrupt or invalid file) and ``write(path)`` (atomic, strict JSON: no NaN ever).
- :data:`RUN_RECORD_SCHEMA`: the JSON Schema (draft 2020-12) of a record, and
  :func:`validate_record`, which checks a dict against it (with the stdlib; no ``jsonschema``
  needed) and additionally requires every number to be finite.

Conventions: errors are percentages (0-100) on the validation set; ``best_*`` are the minimum
over the epochs (``best_epoch`` is the epoch of ``best_top1_err``); counts are those of
:func:`xnet.profile` (real connections only, MACs of one image); ``dataset`` is the name the run
trained on (:mod:`xnet.datasets`: ``synthetic-cifar10`` is a stand-in for ``cifar10``; see
:attr:`RunRecord.paper_dataset`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RecordError

RECORD_FORMAT = 1
CONV_KINDS = ("dense", "x", "g")
VARIANTS = ("original", "paper")
PAPER_DATASETS = {
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "imagenet": "imagenet",
    "synthetic-cifar10": "cifar10",
    "synthetic-cifar100": "cifar100",
    "synthetic-imagenet": "imagenet",
    "fashion-mnist": "",  # a stand-in: the record's ``stands_for`` says for which
}  # the same table as xnet.datasets (tested)

_INT, _NUM, _STR, _BOOL = {"type": "integer"}, {"type": "number"}, {"type": "string"}, {"type": "boolean"}
_ERR = {"type": "number", "minimum": 0, "maximum": 100}
_POS = {"type": "integer", "minimum": 1}
_NONNEG = {"type": "number", "minimum": 0}


def _opt(s: dict) -> dict:
    """``s`` or null."""
    out = {**s, "type": [s["type"], "null"]}
    if "enum" in s:
        out["enum"] = [*s["enum"], None]
    return out


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
        "time_s": _NONNEG,  # the epoch: training + validation
        "train_s": _NONNEG,  # its training part
        "peak_memory_mb": _NONNEG,  # the process's peak memory so far (CPU: max RSS; CUDA: max allocated)
    },
}

RUN_RECORD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "xnet run record (RUN_DIR/metrics.json)",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "format": {"type": "integer", "enum": [RECORD_FORMAT]},
        # the model
        "model": _STR,  # the name given to xnet train --model
        "family": _STR,  # recipe family, e.g. densenet_bc_cifar
        "conv": {"type": "string", "enum": list(CONV_KINDS)},
        "compression": _opt(_POS),  # C; 1 for dense; null where degrees are given
        "depth": _opt(_POS),
        "growth": _opt(_POS),
        "width": _opt({"type": "number", "exclusiveMinimum": 0}),
        "variant": {"type": "string", "enum": list(VARIANTS)},
        "model_args": {"type": "object"},  # extra keyword arguments of xnet.models.create
        # the data
        "dataset": {"type": "string", "enum": list(PAPER_DATASETS)},
        "seed": {"type": "integer", "minimum": 0},
        "num_classes": _POS,
        "input_size": {"type": "array", "items": _POS, "minItems": 3, "maxItems": 3},
        # the recipe and the scale
        "recipe": {"type": "object"},
        "epochs": _POS,
        "batch_size": _POS,  # global batch (all processes)
        "limit_train_batches": _opt(_POS),
        "limit_val_batches": _opt(_POS),
        "train_size": _POS,  # images in the training set used
        "val_size": _POS,  # images in the validation set used
        # the results (percent; final = last epoch)
        "top1_err": _ERR,
        "top5_err": _ERR,
        "best_top1_err": _ERR,
        "best_top5_err": _ERR,
        "best_epoch": _POS,
        "val_loss": _NONNEG,
        "train_loss": _NONNEG,
        "history": {"type": "array", "items": HISTORY_ENTRY_SCHEMA, "minItems": 1},
        # counts
        "params": {"type": "integer", "minimum": 0},
        "macs": {"type": "integer", "minimum": 0},
        # the environment
        "device": {"type": "string", "enum": ["cpu", "cuda"]},
        "device_info": {"type": "object"},
        "world_size": _POS,
        "amp": _BOOL,
        "amp_dtype": _opt({"type": "string", "enum": ["float16", "bfloat16"]}),
        "channels_last": _BOOL,
        "versions": {"type": "object", "additionalProperties": {"type": "string"}},
        "wall_time_s": _NONNEG,  # training + validation time over all epochs
        "config": {"type": "object"},  # the run's identity (what resume compares)
        # optional (records written before they existed lack them)
        "block_size": _opt(_POS),  # X-layers from block expanders of this many channels (null: channel level)
        "stands_for": _opt({"type": "string", "enum": ["cifar10", "cifar100", "imagenet"]}),  # stand-in datasets
    },
}
OPTIONAL_FIELDS = ("block_size", "stands_for")
RUN_RECORD_SCHEMA["required"] = [k for k in RUN_RECORD_SCHEMA["properties"] if k not in OPTIONAL_FIELDS]
_NULLABLE_DEFAULTS = {
    "compression",
    "depth",
    "growth",
    "width",
    "limit_train_batches",
    "limit_val_batches",
    "amp_dtype",
}


# ------------------------------------------------------------------------------------------------
# validation (the subset of JSON Schema used above, plus: every number finite)
# ------------------------------------------------------------------------------------------------
def _type_ok(v, t: str) -> bool:
    if t == "null":
        return v is None
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "string":
        return isinstance(v, str)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    raise AssertionError(t)


def _problems(v, schema: dict, where: str):
    """Yield ``(field, why)`` for each way ``v`` breaks ``schema``."""
    if isinstance(v, float) and not math.isfinite(v):
        yield where, f"must be a finite number, got {v!r}"
        return
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_type_ok(v, t) for t in types):
            yield where, f"must be {' or '.join(types)}, got {type(v).__name__} {v!r}"[:200]
            return
    if "enum" in schema and v not in schema["enum"]:
        yield where, f"must be one of {', '.join(map(str, schema['enum']))}, got {v!r}"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in schema and v < schema["minimum"]:
            yield where, f"must be >= {schema['minimum']}, got {v!r}"
        if "maximum" in schema and v > schema["maximum"]:
            yield where, f"must be <= {schema['maximum']}, got {v!r}"
        if "exclusiveMinimum" in schema and v <= schema["exclusiveMinimum"]:
            yield where, f"must be > {schema['exclusiveMinimum']}, got {v!r}"
    if isinstance(v, list):
        if len(v) < schema.get("minItems", 0):
            yield where, f"must have at least {schema['minItems']} item(s), got {len(v)}"
        if len(v) > schema.get("maxItems", math.inf):
            yield where, f"must have at most {schema['maxItems']} item(s), got {len(v)}"
        if "items" in schema:
            for i, item in enumerate(v):
                yield from _problems(item, schema["items"], f"{where}[{i}]")
    if isinstance(v, dict):
        props = schema.get("properties", {})
        prefix = f"{where}." if where else ""
        for k in schema.get("required", []):
            if k not in v:
                yield f"{prefix}{k}", "missing"
        for k, item in v.items():
            if k in props:
                yield from _problems(item, props[k], f"{prefix}{k}")
            elif schema.get("additionalProperties") is False:
                yield f"{prefix}{k}", "unknown field"
            elif isinstance(schema.get("additionalProperties"), dict):
                yield from _problems(item, schema["additionalProperties"], f"{prefix}{k}")
            else:
                yield from _finite(item, f"{prefix}{k}")


def _finite(v, where: str):
    if isinstance(v, float) and not math.isfinite(v):
        yield where, f"must be a finite number, got {v!r}"
    elif isinstance(v, dict):
        for k, item in v.items():
            yield from _finite(item, f"{where}.{k}")
    elif isinstance(v, list):
        for i, item in enumerate(v):
            yield from _finite(item, f"{where}[{i}]")


def record_problems(d: Any) -> list[str]:
    """Every way ``d`` breaks the schema, as ``"field: why"`` strings (empty: valid)."""
    if not isinstance(d, dict):
        return [f"(top level): must be a JSON object, got {type(d).__name__}"]
    out = [f"{k}: {why}" for k, why in _problems(d, RUN_RECORD_SCHEMA, "")]
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
    for k, v in partial.items():
        if k not in props:
            raise RecordError(f"{source}: {k}: not a field of the run record")
        for where, why in _problems(v, props[k], k):
            raise RecordError(f"{source}: {where}: {why}")
    return partial


def validate_record(d: Any, source: str | Path = "run record") -> dict:
    """Return ``d`` if it is a valid run record; else raise :class:`RecordError` naming ``source`` and the field."""
    problems = record_problems(d)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RecordError(f"{source}: invalid run record: {problems[0]}{more}")
    return d


# ------------------------------------------------------------------------------------------------
# the record
# ------------------------------------------------------------------------------------------------
@dataclass
class RunRecord:
    """One finished training run (see the module docstring and :data:`RUN_RECORD_SCHEMA`)."""

    # the model
    model: str
    family: str
    conv: str
    compression: int | None
    depth: int | None
    growth: int | None
    width: float | None
    variant: str
    model_args: dict
    # the data
    dataset: str
    seed: int
    num_classes: int
    input_size: list
    # the recipe and the scale
    recipe: dict
    epochs: int
    batch_size: int
    limit_train_batches: int | None
    limit_val_batches: int | None
    train_size: int
    val_size: int
    # the results
    top1_err: float
    top5_err: float
    best_top1_err: float
    best_top5_err: float
    best_epoch: int
    val_loss: float
    train_loss: float
    history: list
    # counts
    params: int
    macs: int
    # the environment
    device: str
    device_info: dict
    world_size: int
    amp: bool
    amp_dtype: str | None
    channels_last: bool
    versions: dict
    wall_time_s: float
    config: dict = field(default_factory=dict)
    block_size: int | None = None
    stands_for: str | None = None
    format: int = RECORD_FORMAT

    # ---- derived ------------------------------------------------------------------------------
    @property
    def paper_dataset(self) -> str:
        """The published dataset this run stands for (``synthetic-cifar10`` -> ``cifar10``; a stand-in
        such as ``fashion-mnist``: its ``stands_for``, the paper's dataset of the model family)."""
        return self.stands_for or PAPER_DATASETS[self.dataset]

    @property
    def synthetic(self) -> bool:
        return self.dataset.startswith("synthetic-")

    @property
    def stand_in(self) -> bool:
        """Trained on a real dataset that is none of the paper's (:func:`xnet.datasets.is_stand_in`)."""
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
        order = list(RUN_RECORD_SCHEMA["properties"])
        return {k: d[k] for k in order if not (k in OPTIONAL_FIELDS and d[k] is None)}

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
        from ..training.rundir import atomic_write_json

        d = self.to_dict()
        validate_record(json.loads(json.dumps(d, allow_nan=True)), path)
        atomic_write_json(Path(path), d)
