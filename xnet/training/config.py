"""The options of ``xnet train`` and ``xnet evaluate``: one dataclass each, the flags derived from them.

Torch-free, so the workflow can validate options when the Snakefile is parsed:

- :class:`TrainConfig` / :class:`EvaluateConfig`: every option is a field whose ``metadata``
  holds its flag, help text and check; :func:`add_arguments` builds the argparse flags from
  them and :func:`config_from_args` the config from the parsed flags (so a flag is written once).
- :func:`train_args`: a dict of options (``TrainConfig`` field names, e.g. ``{"epochs": 3,
  "set": ["lr=0.05"]}``) -> the ``xnet train`` argument list, validated (``UserError`` naming
  the bad key).
- :func:`check_set_pairs`: ``--set key=value`` pairs -> typed recipe overrides, validated
  (finite, in range; against a family's recipe too when one is given).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from ..data.catalog import DATASETS, dataset_info
from ..errors import UserError
from ..names import DEVICES, VARIANTS, must_be
from ..recipes import parse_overrides, resolve_recipe

SEED_MAX = 2**32 - 1  # seeds are combined with epochs / layer indices into 64-bit generator seeds


# ------------------------------------------------------------------------------------------------
# checks: each takes (label, value) and returns the clean value or raises UserError
# ------------------------------------------------------------------------------------------------
def _int(label, v, lo=None, hi=None, what="an integer"):
    if isinstance(v, str):
        try:
            v = int(v.strip())
        except ValueError:
            raise UserError(f"{label}: must be {what}, got {v!r}") from None
    if isinstance(v, bool) or not isinstance(v, int) or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise UserError(f"{label}: must be {what}, got {v!r}")
    return v


def positive(label, v):
    return None if v is None else _int(label, v, lo=1, what="a positive integer")


def nonnegative(label, v):
    return None if v is None else _int(label, v, lo=0, what="an integer >= 0")


def seed(label, v):
    return _int(label, v, lo=0, hi=SEED_MAX, what=f"an integer in 0..{SEED_MAX}")


def text(label, v):
    if not isinstance(v, str) or not v.strip():
        raise UserError(f"{label}: must be a non-empty string, got {v!r}")
    return v


def optional_text(label, v):
    return None if v is None else text(label, v)


def device(label, v):
    if v not in DEVICES:
        raise UserError(must_be(label, v, DEVICES))
    return v


def dataset(label, v):
    dataset_info(v)  # "unknown dataset 'x' (known: ...)"
    return v


def optional_dataset(label, v):
    return None if v is None else dataset(label, v)


def variant(label, v):
    if v is not None and v not in VARIANTS:
        raise UserError(must_be(label, v, VARIANTS))
    return v


def boolean(label, v):
    if not isinstance(v, bool):
        raise UserError(f"{label}: must be true or false, got {v!r}")
    return v


def optional_boolean(label, v):
    return None if v is None else boolean(label, v)


def check_set_pairs(pairs, family: str | None = None) -> dict[str, Any]:
    """``--set`` pairs (``["lr=0.05", ...]`` or a dict field -> value) -> typed, validated overrides.

    Each value must parse as its recipe field's type and be finite and in range; with ``family``
    the overridden recipe of that family must also be consistent (e.g. nesterov needs momentum).
    """
    if isinstance(pairs, dict):
        out = parse_overrides([f"{k}={_set_value(v)}" for k, v in pairs.items()])
    elif isinstance(pairs, (list, tuple)) and all(isinstance(p, str) for p in pairs):
        out = parse_overrides(list(pairs))
    else:
        raise UserError(f"--set: expected a list of field=value strings or a mapping, got {pairs!r}")
    if family is not None:
        resolve_recipe(family, out)
    return out


def _set_value(v) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return str(v)


def parse_model_args(items) -> dict[str, Any]:
    """``["depth=40", "conv='x'"]`` (or a dict) -> keyword arguments of ``xnet.models.create``.

    Values are Python literals; anything else is taken as a string.
    """
    if isinstance(items, dict):
        pairs = list(items.items())
    elif isinstance(items, (list, tuple)) and all(isinstance(i, str) for i in items):
        pairs = []
        for item in items:
            if "=" not in item:
                raise UserError(f"--model-arg {item!r}: expected key=value")
            k, v = item.split("=", 1)
            try:
                value = ast.literal_eval(v.strip())
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                value = v
            pairs.append((k.strip(), value))
    else:
        raise UserError(f"--model-arg: expected a list of key=value strings or a mapping, got {items!r}")
    out = {}
    for k, v in pairs:
        if not isinstance(k, str) or not k.isidentifier():
            raise UserError(f"--model-arg: {k!r} is not a keyword argument name")
        try:
            json.dumps(v, allow_nan=False)
        except (TypeError, ValueError):
            raise UserError(
                f"--model-arg {k}={v!r}: the value must be a number, string, boolean, None or a list of them"
            ) from None
        out[k] = v
    return out


# ------------------------------------------------------------------------------------------------
# the configs: field metadata is the one source of the flags
# ------------------------------------------------------------------------------------------------
def option(
    default: Any = MISSING,
    *,
    help: str,
    check,
    flag: str | None = None,
    kind: str = "value",
    metavar: str | None = None,
    default_factory: Any = MISSING,
):
    """A config field with its command-line flag.

    ``kind``: ``"value"`` (``--flag VALUE``), ``"repeat"`` (``--flag K=V``, repeatable),
    ``"off"`` (``--flag`` sets False), ``"onoff"`` (``--flag`` / ``--no-flag``; default None).
    """
    meta = {"help": help, "check": check, "flag": flag, "kind": kind, "metavar": metavar}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def _flag(f) -> str:
    return f.metadata["flag"] or "--" + f.name.replace("_", "-")


_DATASET_HELP = ", ".join(DATASETS)


@dataclass
class TrainConfig:
    """One training run: ``xnet train`` (flags: the field names with dashes, unless noted)."""

    model: str = option(
        help="any name xnet.models.create accepts (e.g. X-DenseNet-BC-40-24-2, or a family "
        "such as densenet_bc_cifar with --model-arg)",
        check=text,
    )
    dataset: str = option(help=_DATASET_HELP, check=dataset)
    out: str = option(help="run directory", check=text, metavar="DIR")
    seed: int = option(
        0, help=f"seed of the model's graphs, the weights and the data order (0..{SEED_MAX})", check=seed
    )
    epochs: int | None = option(None, help="default: the recipe's; the lr schedule scales", check=positive)
    batch_size: int | None = option(None, help="default: the recipe's (global under DDP)", check=positive)
    device: str = option("cpu", help="cpu or cuda", check=device, metavar="{cpu,cuda}")
    data_dir: str | None = option(
        None,
        help="dataset directory (cifar10/cifar100: downloaded here if missing; imagenet: holds train/ and val/)",
        check=optional_text,
    )
    limit_train_batches: int | None = option(None, help="train on at most N batches per epoch", check=positive)
    limit_val_batches: int | None = option(None, help="evaluate on at most N batches", check=positive)
    overrides: dict[str, Any] = option(
        help="override a recipe field, e.g. --set lr=0.05 --set milestones=10,20 (repeatable)",
        check=lambda label, v: check_set_pairs(v),
        flag="--set",
        kind="repeat",
        metavar="FIELD=VALUE",
        default_factory=dict,
    )
    model_args: dict[str, Any] = option(
        help="extra keyword argument of xnet.models.create (Python literal), repeatable",
        check=lambda label, v: parse_model_args(v),
        flag="--model-arg",
        kind="repeat",
        metavar="KEY=VALUE",
        default_factory=dict,
    )
    variant: str | None = option(
        None,
        help="original (the network the authors trained) or paper (the one the "
        "text describes); default: xnet.models' default",
        check=variant,
        metavar="{original,paper}",
    )
    train_size: int | None = option(None, help="use only the first N training images", check=positive)
    val_size: int | None = option(None, help="use only the first N validation images", check=positive)
    workers: int | None = option(
        None,
        help="data loader workers (default: 0 for in-memory datasets, min(8, CPUs) for imagenet)",
        check=nonnegative,
    )
    download: bool = option(
        True,
        help="never download CIFAR: fail if it is not in --data-dir",
        check=boolean,
        flag="--no-download",
        kind="off",
    )
    amp: bool | None = option(
        None,
        help="mixed precision: float16 on CUDA (the default there), bfloat16 on CPU (off by default)",
        check=optional_boolean,
        kind="onoff",
    )
    progress: bool = option(True, help="no progress bars", check=boolean, flag="--no-progress", kind="off")

    def validate(self) -> TrainConfig:
        """Check and normalise every field (torch-free); a UserError names the first bad one."""
        return _validate(self)


@dataclass
class EvaluateConfig:
    """``xnet evaluate``: rebuild the model of a training checkpoint and evaluate it."""

    checkpoint: str = option(help="checkpoint.pt of a run, or the run directory", check=text)
    dataset: str | None = option(None, help="default: the run's dataset", check=optional_dataset)
    batch_size: int = option(256, help="batch size", check=positive)
    json_out: str | None = option(
        None, help="also write the result here", check=optional_text, flag="--json", metavar="FILE"
    )
    device: str = option("cpu", help="cpu or cuda", check=device, metavar="{cpu,cuda}")
    data_dir: str | None = option(None, help="dataset directory (default: as for xnet train)", check=optional_text)
    val_size: int | None = option(
        None, help="use only the first N validation images (default: the run's)", check=positive
    )
    limit_val_batches: int | None = option(None, help="evaluate on at most N batches", check=positive)
    workers: int | None = option(None, help="data loader workers (default: as for xnet train)", check=nonnegative)
    download: bool = option(True, help="never download CIFAR", check=boolean, flag="--no-download", kind="off")
    progress: bool = option(True, help="no progress bars", check=boolean, flag="--no-progress", kind="off")

    def validate(self) -> EvaluateConfig:
        return _validate(self)


def _validate(cfg):
    for f in fields(cfg):
        setattr(
            cfg, f.name, f.metadata["check"](_flag(f) if f.metadata["kind"] != "off" else f.name, getattr(cfg, f.name))
        )
    return cfg


def default_workers(dataset_name: str) -> int:
    """Data loader workers: 0 for in-memory datasets, min(8, CPUs) for ImageFolder (imagenet)."""
    return min(8, os.cpu_count() or 1) if dataset_name == "imagenet" else 0


# ------------------------------------------------------------------------------------------------
# argparse, derived
# ------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser, cls) -> None:
    """Add one flag per field of ``cls`` (values stay strings: :func:`config_from_args` checks them)."""
    for f in fields(cls):
        m, flag = f.metadata, _flag(f)
        required = f.default is MISSING and f.default_factory is MISSING
        if m["kind"] == "value":
            parser.add_argument(
                flag,
                dest=f.name,
                required=required,
                default=None if required else f.default,
                metavar=m["metavar"] or f.name.upper(),
                help=m["help"],
            )
        elif m["kind"] == "repeat":
            parser.add_argument(flag, dest=f.name, action="append", default=[], metavar=m["metavar"], help=m["help"])
        elif m["kind"] == "off":
            parser.add_argument(flag, dest=f.name, action="store_false", help=m["help"])
        elif m["kind"] == "onoff":
            parser.add_argument(flag, dest=f.name, action="store_true", default=None, help=m["help"])
            parser.add_argument(flag.replace("--", "--no-", 1), dest=f.name, action="store_false")
        else:
            raise AssertionError(m["kind"])


def config_from_args(cls, ns: argparse.Namespace):
    """The validated config of class ``cls`` from parsed flags."""
    return cls(**{f.name: getattr(ns, f.name) for f in fields(cls)}).validate()


# ------------------------------------------------------------------------------------------------
# for the workflow
# ------------------------------------------------------------------------------------------------
_ALIASES = {"set": "overrides", "model_arg": "model_args"}


def train_args(options: dict[str, Any]) -> list[str]:
    """The ``xnet train`` arguments for ``options`` (keys: :class:`TrainConfig` field names; also
    ``set`` for ``overrides`` and ``model_arg`` for ``model_args``; dashes or underscores), validated.

    None values are left out.  Raises :class:`UserError` naming the bad key.  No key is required
    (the workflow may add ``--model`` / ``--out`` itself).
    """
    if not isinstance(options, dict):
        raise UserError(f"train options: expected a mapping, got {type(options).__name__}")
    by_name = {f.name: f for f in fields(TrainConfig)}
    given = {}
    for key, value in options.items():
        name = str(key).replace("-", "_")
        name = _ALIASES.get(name, name)
        if name not in by_name:
            raise UserError(f"train option {key!r}: unknown (known: {', '.join(sorted(by_name))}, set, model_arg)")
        if name in given:
            raise UserError(f"train option {key!r}: given twice")
        given[name] = (key, value)
    argv: list[str] = []
    for name, f in by_name.items():
        if name not in given or given[name][1] is None:
            continue
        key, value = given[name]
        try:
            clean = f.metadata["check"](str(key), value)
        except UserError as e:
            msg, head = str(e), f"train option {key!r}"
            raise UserError(msg if msg.startswith(head) else f"{head}: {msg}") from None
        flag, kind = _flag(f), f.metadata["kind"]
        if kind == "value":
            argv += [flag, str(clean)]
        elif kind == "repeat" and name == "overrides":
            for k, v in clean.items():
                argv += [flag, f"{k}={_set_value(v)}"]
        elif kind == "repeat":
            for k, v in clean.items():
                argv += [flag, f"{k}={v!r}"]
        elif kind == "off":
            argv += [flag] if not clean else []
        elif kind == "onoff":
            argv += [flag if clean else flag.replace("--", "--no-", 1)]
    return argv
