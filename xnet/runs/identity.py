"""A run's identity: everything that changes what is trained or how (torch-free).

A run directory only ever holds one identity.  The trainer (:mod:`xnet.training.plan`) makes it
before the run directory is touched and stores it in every checkpoint and in the run record
(``config``); resuming, rebuilding a record (:func:`differs`) and gather
(:func:`identity_problems`) compare it field by field, and a mismatch is refused with one line
naming the fields.  ``docs/training.md`` ("A run's identity") lists the fields for users.

The model is pinned twice: ``model`` is the name as given (where the run lives: the run
directory's model segment, the record's ``model``), and ``family`` + ``model_kwargs`` are what
:func:`xnet.models.resolve` makes of it (the constructor's arguments after the name, its aliases
and ``model_args`` are resolved), so two spellings of one network have the same ``family`` and
``model_kwargs``, and a name whose meaning changed between xnet versions is noticed.

Identities written before a field existed lack it.  :data:`DEFAULTS` says what such a run had
(the defaults on a CPU); a field in :data:`NOT_RECORDED` that an old identity lacks is not
compared (it was never recorded, so the old run matches any value).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class RunIdentity:
    """What determines a run's numbers (see the module docstring)."""

    model: str  # the name given to --model (where the run lives)
    model_args: dict  # --model-arg, as given
    variant: str  # original or paper, in effect
    family: str  # what the name resolves to: the model family ...
    model_kwargs: dict  # ... and its constructor's keyword arguments (the network, after aliases)
    dataset: str  # the dataset trained on
    data_dir: str | None  # absolute, not resolved through links; None: synthetic or the default place
    data_fingerprint: str | None  # xnet.data.fingerprint of the files read; None: synthetic
    seed: int
    epochs: int
    batch_size: int  # global batch
    limit_train_batches: int | None
    limit_val_batches: int | None
    train_size: int | None  # as asked for (None: the dataset's default)
    val_size: int | None
    recipe: dict  # every recipe and schedule field in effect (xnet.recipes.Recipe.to_dict)
    device: str  # device type: cpu or cuda
    amp: bool  # mixed precision in effect (float16 on CUDA, bfloat16 on CPU)
    world_size: int  # processes (the global batch is split across them)

    def to_dict(self) -> dict:
        """The identity as stored (plain JSON types: tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


FIELDS = tuple(f.name for f in dataclasses.fields(RunIdentity))

# fields added after runs were written without them, with what such a run had (the CPU defaults)
DEFAULTS = {"device": "cpu", "amp": False}

# fields added after runs were written without them that such a run never recorded: not compared
NOT_RECORDED = ("data_dir", "data_fingerprint", "family", "model_kwargs")


def _filled(old: dict, facts: dict | None) -> dict:
    return {**DEFAULTS, **(facts or {}), **old}


def differs(old, new: dict, facts: dict | None = None) -> list[str]:
    """The fields in which a stored identity ``old`` differs from ``new`` (sorted).

    ``old``'s missing fields are filled in first (from ``facts``, what else is known of the old
    run, then :data:`DEFAULTS`); a field of :data:`NOT_RECORDED` that ``old`` lacks is not
    compared.  ``old`` not a dict: ``["config"]``."""
    if not isinstance(old, dict):
        return ["config"]
    filled = _filled(old, facts)
    keys = (set(filled) | set(new)) - {k for k in NOT_RECORDED if k not in old}
    return sorted(k for k in keys if filled.get(k) != new.get(k))


def mismatch_line(changed: list[str]) -> str:
    """``differs in: a, b`` (the fragment every refusal shows)."""
    return f"differs in: {', '.join(changed)}"


def identity_problems(config, expected: dict) -> list[str]:
    """What is wrong with a stored identity ``config`` (a record's ``config``) given what its path
    and scale say it must be (``expected``: field -> value, any subset of :data:`FIELDS`).

    One string per problem, ``"FIELD is X, expected Y"``, in the order of :data:`FIELDS`; empty
    if none.  A field ``config`` lacks is filled from :data:`DEFAULTS`, or else not compared (not
    recorded).  A key of ``expected`` that is not a field is a programming error (ValueError)."""
    unknown = sorted(set(expected) - set(FIELDS))
    if unknown:
        raise ValueError(f"not fields of a run identity: {', '.join(unknown)}")
    expected = json.loads(json.dumps(expected))  # tuples compare as the lists they are stored as
    if not isinstance(config, dict):
        return [f"config is {type(config).__name__}, expected an object (a run identity)"]
    filled = _filled(config, None)
    return [
        f"{k} is {filled[k]!r}, expected {expected[k]!r}"
        for k in FIELDS
        if k in expected and k in filled and filled[k] != expected[k]
    ]
