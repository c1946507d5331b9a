"""What a run trains, where and with which recipe: :func:`prepare` checks a :class:`TrainConfig`
and returns a frozen :class:`Plan`, before anything touches the run directory.

Everything that can be checked without the data and the model is checked here: the options, the
device, the model name and arguments, the recipe and its ``--set`` overrides, the dataset's
presence, the batch against the processes, and what the run record will say about the run.  The
plan carries the run's :class:`~xnet.runs.identity.RunIdentity`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from .. import data as xdata
from ..errors import RecordError, UserError
from ..recipes import Recipe, resolve_recipe
from ..runs.identity import RunIdentity
from ..runs.record import check_fields
from .config import TrainConfig
from .distributed import world_size
from .model import model_facts, resolve_model


@dataclass(frozen=True)
class Plan:
    """One run, decided: ``cfg`` (checked and normalised), the model (``spec``, its ``facts``), the
    ``recipe`` in effect, the dataset (``info``), the scale (``epochs``, global ``batch_size``,
    ``world`` processes), the precision (``amp``), the run directory ``out`` and the ``identity``."""

    cfg: TrainConfig
    spec: object  # xnet.models.ModelSpec
    facts: dict  # xnet.training.model.model_facts(spec)
    recipe: Recipe
    info: object  # xnet.data.DatasetInfo
    epochs: int
    batch_size: int
    world: int
    amp: bool
    out: Path
    identity: RunIdentity

    @property
    def per_rank(self) -> int:
        """The batch of one process."""
        return self.batch_size // self.world

    @property
    def channels_last(self) -> bool:
        return self.cfg.device == "cuda"

    @property
    def data_known(self) -> bool:
        """Whether the identity's ``data_fingerprint`` is known (False until data to be downloaded is there)."""
        return self.identity.data_fingerprint is not None or not _reads_files(self.cfg.dataset)

    def with_data(self, info) -> Plan:
        """The plan once the datasets are built: their ``info``, and the fingerprint if it was not known."""
        identity = self.identity
        if not self.data_known:
            identity = dataclasses.replace(identity, data_fingerprint=_fingerprint(self.cfg))
        return dataclasses.replace(self, info=info, identity=identity)


def _reads_files(dataset: str) -> bool:
    return not xdata.is_synthetic(dataset)  # the synthetic sets are generated, not read


def _fingerprint(cfg: TrainConfig) -> str | None:
    return xdata.fingerprint(cfg.dataset, cfg.data_dir)  # None for the generated synthetic sets


def _fingerprint_if_there(cfg: TrainConfig) -> str | None:
    """The fingerprint of data already there; None for data still to be downloaded (known after the build)."""
    try:
        return _fingerprint(cfg)
    except UserError:  # not there yet: check_data let it pass, so the loaders will download it
        return None


def _amp(cfg: TrainConfig) -> bool:
    """Mixed precision in effect: ``--amp`` / ``--no-amp``, else on for cuda and off for cpu."""
    return (cfg.device == "cuda") if cfg.amp is None else bool(cfg.amp)


def prepare(cfg: TrainConfig, world: int | None = None) -> Plan:
    """Check ``cfg`` (a copy: ``cfg`` itself is left as it is) and decide the run; a one-line
    :class:`UserError` on any problem.  ``world``: the processes (default: ``WORLD_SIZE``)."""
    cfg = dataclasses.replace(cfg, overrides=dict(cfg.overrides), model_args=dict(cfg.model_args))
    cfg.validate()
    if cfg.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UserError("device: cuda requested but no CUDA device is available")
    spec = resolve_model(cfg.model, cfg.model_args, cfg.variant)
    recipe = resolve_recipe(spec.family, cfg.overrides)
    info = xdata.check_data(cfg.dataset, cfg.data_dir, cfg.download)
    epochs = cfg.epochs or recipe.epochs
    batch_size = cfg.batch_size or recipe.batch_size
    world = world_size() if world is None else world
    if batch_size % world:
        raise UserError(f"batch_size {batch_size} is not divisible by the {world} processes")
    facts = model_facts(spec)
    try:  # what the run record will say about the run must be valid before the run starts
        check_fields(
            {
                **facts,
                "dataset": cfg.dataset,
                "seed": cfg.seed,
                "epochs": epochs,
                "batch_size": batch_size,
                "model_args": cfg.model_args,
            },
            f"model {cfg.model!r}",
        )
    except RecordError as e:
        raise UserError(str(e)) from None
    amp = _amp(cfg)
    identity = RunIdentity(
        model=cfg.model,
        model_args=cfg.model_args,
        variant=facts["variant"],
        family=spec.family,
        model_kwargs=dict(spec.kwargs),
        dataset=cfg.dataset,
        data_dir=None if cfg.data_dir is None or not _reads_files(cfg.dataset) else os.path.abspath(cfg.data_dir),
        data_fingerprint=_fingerprint_if_there(cfg),
        seed=cfg.seed,
        epochs=epochs,
        batch_size=batch_size,
        limit_train_batches=cfg.limit_train_batches,
        limit_val_batches=cfg.limit_val_batches,
        train_size=cfg.train_size,
        val_size=cfg.val_size,
        recipe=recipe.to_dict(),
        device=cfg.device,
        amp=amp,
        world_size=world,
    )
    return Plan(cfg, spec, facts, recipe, info, epochs, batch_size, world, amp, Path(cfg.out), identity)
