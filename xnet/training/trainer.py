"""Train one model on one dataset with one seed into one run directory: :func:`train`.

The run directory (:mod:`xnet.runs.files`) holds ``checkpoint.pt`` (written atomically after
every good epoch), ``train.log``, ``.lock`` and, once the run is finished, ``metrics.json`` (the
run record, :class:`xnet.runs.record.RunRecord`, strict JSON, written atomically).  Starting
the same command again resumes from the checkpoint; starting a finished run again does nothing.
A run directory holding another identity (:mod:`xnet.runs.identity`) is never touched, and one in
use by another live trainer is refused (an OS file lock, released by the kernel when its holder dies).

A run that diverges (a non-finite training loss, validation loss or weight) stops with a one-line
error: no ``metrics.json``, and the checkpoint of the last good epoch is kept.

Determinism (CPU): the model is built from the seed, augmentation of sample ``i`` in epoch ``e``
is seeded from ``(seed, e, i)``, the data order and the global RNG as :mod:`xnet.training.loop`
says.  Distributed: started by ``torchrun`` (``WORLD_SIZE`` > 1) it runs DistributedDataParallel
(NCCL on CUDA, Gloo on CPU); ``--batch-size`` is the global batch, split evenly across processes;
only rank 0 writes.

The steps: :func:`~xnet.training.plan.prepare` (every check before the run directory), the
data and the model (:func:`build`), the locked run directory, :func:`~xnet.training.loop.run`
(the epochs), :func:`~xnet.training.report.make_record` (``metrics.json``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
from pathlib import Path

import torch

from .. import data as xdata
from ..errors import RecordError, UserError
from ..runs.files import (
    CHECKPOINT,
    LOCK,
    LOG,
    METRICS,
    RunLock,
    check_out_dir,
    make_run_dir,
    remove_if_empty,
    write_error,
)
from ..runs.identity import differs, mismatch_line
from ..runs.record import RunRecord
from .checkpoint import load_checkpoint
from .config import TrainConfig
from .distributed import Dist, barrier, init_distributed, teardown
from .loop import Built, run
from .model import create_model, profile_model
from .plan import Plan, prepare
from .report import make_record

log = logging.getLogger("xnet.train")


def train(cfg: TrainConfig) -> dict:
    """Run (or resume, or skip if finished) one training run; returns the run record as a dict."""
    plan = prepare(cfg)
    check_out_dir(plan.out)
    d = init_distributed(plan.cfg.device)
    try:
        return _train(plan, d)
    finally:
        teardown(d)


# ------------------------------------------------------------------------------------------------
# what the run directory holds
# ------------------------------------------------------------------------------------------------
def _finished(out: Path, identity: dict) -> dict | None:
    """The record of a finished run of this identity in ``out``, None if there is none; else an error."""
    path = out / METRICS
    if not path.exists():
        return None
    try:
        old = json.loads(path.read_text())
        old_identity = old["config"]
        facts = {k: old[k] for k in ("device", "amp") if k in old}
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(
            f"{path} exists but is not a metrics file of xnet; refusing to overwrite it (choose another --out)"
        ) from None
    changed = differs(old_identity, identity, facts)
    if changed:
        raise UserError(
            f"{out} holds a finished run with a different configuration ({mismatch_line(changed)}); "
            "choose another --out"
        )
    try:
        RunRecord.load(path)
    except RecordError as e:
        raise UserError(f"{e}; refusing to overwrite it (move it away to train again)") from None
    return old


def _resumable(out: Path, identity: dict) -> dict | None:
    """The checkpoint in ``out`` to resume from, None if there is none; an error if it is another run's."""
    path = out / CHECKPOINT
    if not path.exists():
        return None
    ckpt = load_checkpoint(path)
    # a checkpoint written before device and amp were part of the identity: a GradScaler state
    # means CUDA with AMP; anything else is taken as the defaults (cpu, no AMP)
    facts = {"device": "cuda", "amp": True} if ckpt.get("scaler_state") else {}
    changed = differs(ckpt["config"], identity, facts)
    if changed:
        raise UserError(
            f"{path} belongs to a different configuration ({mismatch_line(changed)}); choose another --out "
            "or run the same command as before"
        )
    return ckpt


def _say_finished(out: Path, done: dict, d: Dist) -> dict:
    if d.main:
        print(
            f"xnet: run in {out} is already finished (metrics.json: top1_err {done['top1_err']:.2f}%); nothing to do",
            file=sys.stderr,
        )
    return done


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------
def build(plan: Plan, d: Dist) -> tuple[Plan, Built]:
    """The datasets and the model (nothing written yet; a one-line error if they cannot be had),
    and the plan completed by what the data says (:meth:`Plan.with_data`)."""
    cfg = plan.cfg
    train_ds, val_ds, info = xdata.build_datasets(
        cfg.dataset,
        cfg.data_dir,
        train_size=cfg.train_size,
        val_size=cfg.val_size,
        augment=plan.recipe.augment == "standard",
        seed=cfg.seed,
        download=cfg.download,
    )
    if math.ceil(len(train_ds) / d.world) < plan.per_rank:
        raise UserError(
            f"the training set has {len(train_ds)} images, fewer than one batch of {plan.batch_size} "
            "(the last incomplete batch of an epoch is dropped); use a smaller --batch-size"
        )
    plan = plan.with_data(info)
    model = create_model(cfg.model, info.num_classes, cfg.seed, cfg.model_args, cfg.variant)
    return plan, Built(train_ds, val_ds, model, profile_model(model, info.input_size))


def _train(plan: Plan, d: Dist) -> dict:
    out = plan.out
    if plan.data_known:  # else only once the data is there (downloaded)
        done = _finished(out, plan.identity.to_dict())
        if done is not None:
            return _say_finished(out, done, d)
    plan, built = build(plan, d)
    identity = plan.identity.to_dict()

    created: list[Path] = []
    lock = None
    try:
        if d.main:
            created = make_run_dir(out)
            lock = RunLock(out).acquire()
        barrier(d)
        done = _finished(out, identity)  # finished while we waited for the data
        if done is not None:
            return _say_finished(out, done, d)
        ckpt = _resumable(out, identity)
        if d.main:
            with contextlib.suppress(FileNotFoundError):
                (out / (CHECKPOINT + ".tmp")).unlink()  # a temp file left by a killed run
        barrier(d)
        return _logged(plan, d, built, ckpt)
    finally:
        if lock is not None:
            lock.release()
        if created and sorted(os.listdir(out)) == [LOCK]:
            with contextlib.suppress(OSError):
                (out / LOCK).unlink()
        remove_if_empty(created)


def _logged(plan: Plan, d: Dist, built: Built, ckpt: dict | None) -> dict:
    """Train with ``train.log`` open (an error's line goes there too), then write the record."""
    try:
        handlers = _setup_logging(plan.out, d.main)
    except OSError as e:
        raise write_error("the log", plan.out / LOG, e) from None
    det = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        record = make_record(plan, d, built, run(plan, d, built, ckpt))
        if d.main:
            try:
                record.write(plan.out / METRICS)
            except OSError as e:
                raise write_error("the run record", plan.out / METRICS, e) from None
            log.info(
                f"done: top1_err {record.top1_err:.2f}% (best {record.best_top1_err:.2f}% at epoch "
                f"{record.best_epoch}), top5_err {record.top5_err:.2f}%, {record.wall_time_s:.1f}s "
                f"-> {plan.out / METRICS}"
            )
        barrier(d)
        return record.to_dict()
    except UserError as e:
        _log_to_file(handlers, f"error: {e}")
        raise
    finally:
        torch.use_deterministic_algorithms(det[0], warn_only=det[1])
        for h in handlers:
            log.removeHandler(h)
            h.close()


def _setup_logging(out: Path, main: bool) -> list[logging.Handler]:
    handlers: list[logging.Handler] = []
    if not main:
        return handlers
    fh = logging.FileHandler(out / LOG, mode="a", encoding="utf-8")  # first: it may fail (OSError)
    fh.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s"))
    handlers += [console, fh]
    log.setLevel(logging.INFO)
    log.propagate = False
    for h in handlers:
        log.addHandler(h)
    return handlers


def _log_to_file(handlers, message: str) -> None:
    """Put ``message`` into train.log only (the CLI prints the error on stderr itself)."""
    for h in handlers:
        if isinstance(h, logging.FileHandler):
            h.handle(log.makeRecord(log.name, logging.ERROR, __file__, 0, message, None, None))
