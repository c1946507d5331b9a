"""The trainer (``xnet train``), one module per concern, top-down:

- :mod:`xnet.training.trainer`: :func:`train`: the run directory, its lock and log, finished /
  resume checks, then the loop and the record.
- :mod:`xnet.training.plan`: :func:`prepare` -> :class:`~xnet.training.plan.Plan`, every check
  that needs neither the data nor the run directory, and the run's identity.
- :mod:`xnet.training.loop`: the epoch loop and the checkpoint it writes.
- :mod:`xnet.training.report`: the run record of a finished run.
- :mod:`xnet.training.engine`: one training epoch, one evaluation pass (shared with ``evaluate``).
- :mod:`xnet.training.model`: the model of a run (resolved, built, counted, its facts).
- :mod:`xnet.training.optim`: the optimizer and the schedule of a recipe.
- :mod:`xnet.training.checkpoint`: saving and loading checkpoints.
- :mod:`xnet.training.distributed`: process groups, samplers, collectives.
- :mod:`xnet.training.config`: ``TrainConfig`` and the ``xnet train`` / ``xnet evaluate`` flags,
  derived from its fields; torch-free.

What a run directory holds and what a run is live in :mod:`xnet.runs` (torch-free, shared with the
analysis).  Importing this package imports no torch: the names below that need it are imported on
first use.
"""

from __future__ import annotations

import importlib

from ..runs.files import CHECKPOINT, LOCK, LOG, METRICS, atomic_write_bytes, atomic_write_json
from .config import EvaluateConfig, TrainConfig

_LAZY = {
    "train": "trainer",
    "prepare": "plan",
    "Plan": "plan",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "CHECKPOINT_FORMAT": "checkpoint",
    "create_model": "model",
    "resolve_model": "model",
    "profile_model": "model",
    "model_facts": "model",
    "versions": "model",
    "evaluate_model": "engine",
    "Runtime": "engine",
    "train_one_epoch": "engine",
    "Dist": "distributed",
    "EpochSampler": "distributed",
    "ShardSampler": "distributed",
    "init_distributed": "distributed",
}

__all__ = [
    "CHECKPOINT",
    "LOCK",
    "LOG",
    "METRICS",
    "EvaluateConfig",
    "TrainConfig",
    "atomic_write_bytes",
    "atomic_write_json",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
