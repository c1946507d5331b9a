"""Train one model on one dataset with one seed into one run directory.

The run directory (:mod:`xnet.training.rundir`) holds ``checkpoint.pt`` (written atomically after
every good epoch), ``train.log``, ``.lock`` and, once the run is finished, ``metrics.json`` (the
run record, :class:`xnet.results.record.RunRecord`, strict JSON, written atomically).  Starting
the same command again resumes from the checkpoint; starting a finished run again does nothing.
A run directory holding a different configuration is never touched, and one in use by another
live trainer is refused (an OS file lock, released by the kernel when its holder dies).

A run that diverges (a non-finite training loss, validation loss or weight) stops with a one-line
error: no ``metrics.json``, and the checkpoint of the last good epoch is kept.

Determinism (CPU): the model is built from the seed; the data order of epoch ``e`` is a
permutation drawn from ``(seed, e)``; augmentation of sample ``i`` in epoch ``e`` is seeded from
``(seed, e, i)``; the global RNG (dropout) is reseeded from ``(seed, e, rank)`` at the start of
every epoch.  Resuming from the checkpoint of epoch ``e`` therefore continues exactly as an
uninterrupted run would.

Distributed: started by ``torchrun`` (``WORLD_SIZE`` > 1) it runs DistributedDataParallel (NCCL on
CUDA, Gloo on CPU); ``--batch-size`` is the global batch, split evenly across processes; only
rank 0 writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

from . import data as xdata
from . import datasets as xdatasets
from .errors import RecordError, RunDiverged, UserError, one_line
from .nn import check_state_dict
from .recipes import Recipe, resolve_recipe
from .results.record import RunRecord, check_fields
from .training.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from .training.config import TrainConfig, default_workers
from .training.distributed import Dist, EpochSampler, ShardSampler, barrier, init_distributed, sync_buffers, teardown
from .training.engine import amp_dtype, evaluate_model, nonfinite_tensors, train_one_epoch
from .training.model import create_model, model_facts, profile_model, resolve_model, versions
from .training.optim import build_optimizer, build_scheduler
from .training.rundir import (
    CHECKPOINT,
    LOCK,
    LOG,
    METRICS,
    RunLock,
    atomic_write_bytes,
    atomic_write_json,
    check_out_dir,
    make_run_dir,
    remove_if_empty,
    write_error,
)

__all__ = [
    "TrainConfig",
    "train",
    "prepare",
    "load_checkpoint",
    "create_model",
    "resolve_model",
    "profile_model",
    "model_facts",
    "evaluate_model",
    "train_one_epoch",
    "atomic_write_bytes",
    "atomic_write_json",
    "versions",
    "Dist",
    "EpochSampler",
    "ShardSampler",
    "init_distributed",
    "CHECKPOINT",
    "METRICS",
    "LOG",
    "LOCK",
    "CHECKPOINT_FORMAT",
]

log = logging.getLogger("xnet.train")


# ------------------------------------------------------------------------------------------------
# before the run directory is touched
# ------------------------------------------------------------------------------------------------
def prepare(cfg: TrainConfig):
    """Validate everything that can be validated before touching the run directory."""
    cfg.validate()
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UserError("device: cuda requested but no CUDA device is available")
    spec = resolve_model(cfg.model, cfg.model_args, cfg.variant)
    recipe = resolve_recipe(spec.family, cfg.overrides)
    info = xdata.check_data(cfg.dataset, cfg.data_dir, cfg.download)
    epochs = cfg.epochs or recipe.epochs
    batch_size = cfg.batch_size or recipe.batch_size
    return spec, recipe, info, epochs, batch_size


def _diff(a: dict, b: dict) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def _amp(cfg: TrainConfig) -> bool:
    """Mixed precision in effect: ``--amp`` / ``--no-amp``, else on for cuda and off for cpu."""
    return (cfg.device == "cuda") if cfg.amp is None else bool(cfg.amp)


def _identity(cfg: TrainConfig, recipe: Recipe, facts: dict, epochs: int, batch_size: int, world: int) -> dict:
    """What determines a run's numbers: a run directory only ever holds one identity.

    Besides the model, data, seed, scale and recipe: the device type, the precision in effect
    (``amp``) and the data directory given (absolute, not resolved through links; None for the
    built-in synthetic sets and a dataset's default place).  Identities written before a key
    existed lack it: :func:`_differs` fills it in.
    """
    return json.loads(
        json.dumps(
            {
                "model": cfg.model,
                "model_args": cfg.model_args,
                "variant": facts["variant"],
                "dataset": cfg.dataset,
                "seed": cfg.seed,
                "epochs": epochs,
                "batch_size": batch_size,
                "limit_train_batches": cfg.limit_train_batches,
                "limit_val_batches": cfg.limit_val_batches,
                "train_size": cfg.train_size,
                "val_size": cfg.val_size,
                "world_size": world,
                "recipe": recipe.to_dict(),
                "device": cfg.device,
                "amp": _amp(cfg),
                "data_dir": None
                if cfg.data_dir is None or cfg.dataset.startswith("synthetic-")  # generated, not read
                else os.path.abspath(cfg.data_dir),
            }
        )
    )


# keys added to the identity after runs were written without them, with what such a run had (the
# defaults on a CPU); ``data_dir`` was never recorded, so a run without it matches any
IDENTITY_DEFAULTS = {"device": "cpu", "amp": False}


def _finished(out: Path, identity: dict) -> dict | None:
    """The record of a finished run of this identity in ``out``, None if there is none; else an error."""
    path = out / METRICS
    if not path.exists():
        return None
    try:
        old = json.loads(path.read_text())
        old_identity = old["config"]
        facts = {k: old[k] for k in ("device", "amp") if k in old}
    except Exception:
        raise UserError(
            f"{path} exists but is not a metrics file of xnet; refusing to overwrite it (choose another --out)"
        ) from None
    differs = _differs(old_identity, identity, facts)
    if differs:
        raise UserError(
            f"{out} holds a finished run with a different configuration (differs in: "
            f"{', '.join(differs)}); choose another --out"
        )
    try:
        RunRecord.load(path)
    except RecordError as e:
        raise UserError(f"{e}; refusing to overwrite it (move it away to train again)") from None
    return old


def _resumable(out: Path, identity: dict) -> dict | None:
    path = out / CHECKPOINT
    if not path.exists():
        return None
    ckpt = load_checkpoint(path)
    # a checkpoint written before device and amp were part of the identity: a GradScaler state
    # means CUDA with AMP; anything else is taken as the defaults (cpu, no AMP)
    facts = {"device": "cuda", "amp": True} if ckpt.get("scaler_state") else {}
    differs = _differs(ckpt["config"], identity, facts)
    if differs:
        raise UserError(
            f"{path} belongs to a different configuration (differs in: "
            f"{', '.join(differs)}); choose another --out "
            "or run the same command as before"
        )
    return ckpt


def _differs(old: dict, identity: dict, facts: dict | None = None) -> list[str]:
    """The fields in which a stored identity ``old`` differs from ``identity`` (sorted), its missing
    keys filled in first (from ``facts``, else :data:`IDENTITY_DEFAULTS`); a ``data_dir`` that
    ``old`` does not record is not compared."""
    if not isinstance(old, dict):
        return ["config"]
    filled = {**IDENTITY_DEFAULTS, **(facts or {}), **old}
    if "data_dir" not in old:
        filled["data_dir"] = identity.get("data_dir")
    return _diff(filled, identity)


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------
def train(cfg: TrainConfig) -> dict:
    """Run (or resume, or skip if finished) one training run; returns the run record as a dict."""
    cfg = dataclasses.replace(cfg, overrides=dict(cfg.overrides), model_args=dict(cfg.model_args))
    spec, recipe, info, epochs, batch_size = prepare(cfg)
    out = Path(cfg.out)
    check_out_dir(out)
    d = init_distributed(cfg.device)
    try:
        return _train(cfg, spec, recipe, info, epochs, batch_size, d, out)
    finally:
        teardown(d)


def _train(cfg, spec, recipe, info, epochs, batch_size, d: Dist, out: Path) -> dict:
    if batch_size % d.world:
        raise UserError(f"batch_size {batch_size} is not divisible by the {d.world} processes")
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
    identity = _identity(cfg, recipe, facts, epochs, batch_size, d.world)
    done = _finished(out, identity)
    if done is not None:
        return _say_finished(out, done, d)

    # ---- data and model: may still fail with a one-line error, nothing written yet ---------------
    train_ds, val_ds, info = xdata.build_datasets(
        cfg.dataset,
        cfg.data_dir,
        train_size=cfg.train_size,
        val_size=cfg.val_size,
        augment=recipe.augment == "standard",
        seed=cfg.seed,
        download=cfg.download,
    )
    per_rank = batch_size // d.world
    if math.ceil(len(train_ds) / d.world) < per_rank:
        raise UserError(
            f"the training set has {len(train_ds)} images, fewer than one batch of {batch_size} "
            "(the last incomplete batch of an epoch is dropped); use a smaller --batch-size"
        )
    model = create_model(cfg.model, info.num_classes, cfg.seed, cfg.model_args, cfg.variant)
    counts = profile_model(model, info.input_size)

    # ---- the run directory, locked -----------------------------------------------------------------
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
        try:
            handlers = _setup_logging(out, d.main)
        except OSError as e:
            raise write_error("the log", out / LOG, e) from None
        det = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
        try:
            return _run(
                cfg,
                spec,
                facts,
                recipe,
                info,
                epochs,
                batch_size,
                identity,
                d,
                out,
                ckpt,
                train_ds,
                val_ds,
                model,
                counts,
            )
        except UserError as e:
            _log_to_file(handlers, f"error: {e}")
            raise
        finally:
            torch.use_deterministic_algorithms(det[0], warn_only=det[1])
            for h in handlers:
                log.removeHandler(h)
                h.close()
    finally:
        if lock is not None:
            lock.release()
        if created and sorted(os.listdir(out)) == [LOCK]:
            with contextlib.suppress(OSError):
                (out / LOCK).unlink()
        remove_if_empty(created)


def _say_finished(out: Path, done: dict, d: Dist) -> dict:
    if d.main:
        print(
            f"xnet: run in {out} is already finished (metrics.json: top1_err {done['top1_err']:.2f}%); nothing to do",
            file=sys.stderr,
        )
    return done


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


def _device(cfg: TrainConfig, d: Dist) -> torch.device:
    if cfg.device == "cuda":
        torch.backends.cudnn.benchmark = True
        return torch.device("cuda", d.local_rank if d.enabled else torch.cuda.current_device())
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.device("cpu")


def _peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this process so far: CUDA, the most allocated on the device; CPU, the max RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _dtype_name(device: torch.device) -> str:
    return str(amp_dtype(device.type)).replace("torch.", "")


def _run(
    cfg,
    spec,
    facts,
    recipe,
    info,
    epochs,
    batch_size,
    identity,
    d: Dist,
    out: Path,
    ckpt,
    train_ds,
    val_ds,
    model,
    counts,
) -> dict:
    device = _device(cfg, d)
    amp = _amp(cfg)
    channels_last = cfg.device == "cuda"
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(recipe, model)
    scheduler = build_scheduler(recipe, optimizer, epochs)
    scaler = torch.amp.GradScaler("cuda") if amp and device.type == "cuda" else None
    history: list[dict] = []
    start_epoch, train_time = 0, 0.0
    if ckpt is not None:
        try:
            check_state_dict(model, ckpt["model_state"])  # all or nothing, with a message naming the layer
            model.load_state_dict(ckpt["model_state"])
            optimizer.load_state_dict(ckpt["optimizer_state"])
            scheduler.load_state_dict(ckpt["scheduler_state"])
            if scaler is not None and ckpt.get("scaler_state"):
                scaler.load_state_dict(ckpt["scaler_state"])
        except Exception as e:
            raise UserError(
                f"corrupt checkpoint {out / CHECKPOINT} (cannot load its state: "
                f"{one_line(e)[:200]}); it was left in place"
            ) from None
        history, start_epoch, train_time = list(ckpt["history"]), int(ckpt["epoch"]), float(ckpt["train_time_s"])
    net = model
    if d.enabled:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    workers = cfg.workers if cfg.workers is not None else default_workers(cfg.dataset)
    per_rank = batch_size // d.world
    train_sampler = EpochSampler(len(train_ds), cfg.seed, d.rank, d.world)
    # the last incomplete batch is dropped in training (a batch of one breaks batch norm), never in validation
    train_loader = torch.utils.data.DataLoader(
        train_ds,
        batch_size=per_rank,
        sampler=train_sampler,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
    )
    val_loader = torch.utils.data.DataLoader(
        val_ds,
        batch_size=per_rank,
        sampler=ShardSampler(len(val_ds), d.rank, d.world),
        num_workers=workers,
        pin_memory=device.type == "cuda",
    )

    if d.main:
        if start_epoch:
            log.info(f"resuming {out} from epoch {start_epoch}/{epochs} ({out / CHECKPOINT})")
        log.info(
            f"train {cfg.model} ({spec.family}, {facts['variant']}) on {cfg.dataset} seed {cfg.seed}: "
            f"{epochs} epochs, batch {batch_size}, {len(train_ds)} train / {len(val_ds)} val images, "
            f"{counts['params']:,} params, {counts['macs']:,} MACs, device {device}"
            f"{f' x{d.world} processes' if d.enabled else ''}{f', AMP ({_dtype_name(device)})' if amp else ''}"
        )
        log.info(
            f"recipe: {json.dumps(recipe.to_dict())}; lr milestones for {epochs} epochs: "
            f"{recipe.scaled_milestones(epochs)}"
        )

    for epoch in range(start_epoch, epochs):
        t0 = time.time()
        torch.manual_seed((cfg.seed * 1_000_003 + epoch) * 1009 + d.rank)
        train_sampler.set_epoch(epoch)
        train_ds.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        try:
            tr = train_one_epoch(
                net,
                train_loader,
                optimizer,
                scaler,
                device,
                epoch + 1,
                epochs,
                cfg.limit_train_batches,
                amp,
                channels_last,
                d,
                cfg.progress,
            )
            train_s = time.time() - t0
            scheduler.step()
            sync_buffers(model, d)
            bad = nonfinite_tensors(model)
            if bad:
                raise RunDiverged(
                    f"epoch {epoch + 1}: non-finite weights after training "
                    f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''})"
                )
            va = evaluate_model(
                model,
                val_loader,
                device,
                cfg.limit_val_batches,
                amp,
                channels_last,
                d,
                cfg.progress,
                desc=f"epoch {epoch + 1}",
            )
        except RunDiverged as e:
            kept = f"the checkpoint of epoch {epoch} was kept" if epoch else "no checkpoint was written"
            raise RunDiverged(
                f"the run diverged: {e} (try a smaller --set lr=...); no metrics.json written, {kept}"
            ) from None
        dt = time.time() - t0
        train_time += dt
        history.append(
            {
                "epoch": epoch + 1,
                "lr": lr,
                "train_loss": tr["loss"],
                "train_top1_err": tr["top1_err"],
                "val_loss": va["loss"],
                "val_top1_err": va["top1_err"],
                "val_top5_err": va["top5_err"],
                "train_images": tr["count"],
                "val_images": va["count"],
                "time_s": dt,
                "train_s": train_s,
                "peak_memory_mb": _peak_memory_mb(device),
            }
        )
        if d.main:
            log.info(
                f"epoch {epoch + 1}/{epochs} lr {lr:.4g} train loss {tr['loss']:.4f} err "
                f"{tr['top1_err']:.2f}% | val loss {va['loss']:.4f} top1 err {va['top1_err']:.2f}% "
                f"top5 err {va['top5_err']:.2f}% | {dt:.1f}s"
            )
            state = {
                "format": CHECKPOINT_FORMAT,
                "config": identity,
                "epoch": epoch + 1,
                "epochs": epochs,
                "model": cfg.model,
                "model_args": cfg.model_args,
                "variant": cfg.variant,
                "family": spec.family,
                "facts": facts,
                "num_classes": info.num_classes,
                "input_size": list(info.input_size),
                "dataset": cfg.dataset,
                "train_size": cfg.train_size,
                "val_size": cfg.val_size,
                "seed": cfg.seed,
                "model_state": model.state_dict(),
                "optimizer_state": optimizer.state_dict(),
                "scheduler_state": scheduler.state_dict(),
                "scaler_state": scaler.state_dict() if scaler is not None else None,
                "history": history,
                "train_time_s": train_time,
                "versions": versions(),
            }
            save_checkpoint(out / CHECKPOINT, state)
        barrier(d)

    record = _record(
        cfg,
        spec,
        facts,
        recipe,
        info,
        epochs,
        batch_size,
        identity,
        d,
        counts,
        history,
        train_time,
        device,
        amp,
        channels_last,
        len(train_ds),
        len(val_ds),
    )
    if d.main:
        try:
            record.write(out / METRICS)
        except OSError as e:
            raise write_error("the run record", out / METRICS, e) from None
        log.info(
            f"done: top1_err {record.top1_err:.2f}% (best {record.best_top1_err:.2f}% at epoch "
            f"{record.best_epoch}), top5_err {record.top5_err:.2f}%, {record.wall_time_s:.1f}s -> {out / METRICS}"
        )
    barrier(d)
    return record.to_dict()


def _record(
    cfg,
    spec,
    facts,
    recipe,
    info,
    epochs,
    batch_size,
    identity,
    d,
    counts,
    history,
    train_time,
    device,
    amp,
    channels_last,
    n_train,
    n_val,
) -> RunRecord:
    last = history[-1]
    best = min(history, key=lambda h: h["val_top1_err"])
    dev = {"type": device.type}
    if device.type == "cuda":
        dev["name"] = torch.cuda.get_device_name(device)
    else:
        dev["name"] = platform.processor() or platform.machine()
        dev["threads"] = torch.get_num_threads()
    return RunRecord(
        model=cfg.model,
        **facts,
        model_args=cfg.model_args,
        dataset=cfg.dataset,
        seed=cfg.seed,
        num_classes=info.num_classes,
        input_size=list(info.input_size),
        recipe=recipe.to_dict(),
        epochs=epochs,
        batch_size=batch_size,
        limit_train_batches=cfg.limit_train_batches,
        limit_val_batches=cfg.limit_val_batches,
        train_size=n_train,
        val_size=n_val,
        top1_err=last["val_top1_err"],
        top5_err=last["val_top5_err"],
        best_top1_err=best["val_top1_err"],
        best_top5_err=min(h["val_top5_err"] for h in history),
        best_epoch=best["epoch"],
        val_loss=last["val_loss"],
        train_loss=last["train_loss"],
        history=history,
        params=counts["params"],
        macs=counts["macs"],
        device=cfg.device,
        device_info=dev,
        world_size=d.world,
        amp=bool(amp),
        amp_dtype=_dtype_name(device) if amp else None,
        channels_last=channels_last,
        versions=versions(),
        wall_time_s=train_time,
        config=identity,
        block_size=spec.kwargs.get("block_size"),
        stands_for=xdatasets.paper_dataset(cfg.dataset, spec.default_dataset)
        if xdatasets.is_stand_in(cfg.dataset)
        else None,
    )
