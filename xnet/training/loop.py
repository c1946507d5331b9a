"""The epoch loop of one run: :func:`run` takes the plan, what was built for it (data and model)
and the checkpoint to resume from, trains the remaining epochs and writes a checkpoint after each.

Determinism (CPU): the data order of epoch ``e`` is a permutation drawn from ``(seed, e)``; the
global RNG (dropout) is reseeded from ``(seed, e, rank)`` at the start of every epoch, so resuming
from the checkpoint of epoch ``e`` continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import RunDiverged, UserError, one_line
from ..nn import check_state_dict
from ..runs.files import CHECKPOINT
from ..seeds import global_seed
from .checkpoint import CHECKPOINT_FORMAT, save_checkpoint
from .config import default_workers
from .distributed import Dist, EpochSampler, ShardSampler, barrier, sync_buffers
from .engine import Runtime, amp_dtype, evaluate_model, nonfinite_tensors, train_one_epoch
from .model import versions
from .optim import build_optimizer, build_scheduler
from .plan import Plan

log = logging.getLogger("xnet.train")


@dataclass
class Built:
    """What a run trains on and what it trains, built before the run directory is touched."""

    train_ds: torch.utils.data.Dataset
    val_ds: torch.utils.data.Dataset
    model: nn.Module
    counts: dict  # params, macs (xnet.training.model.profile_model)


@dataclass
class Trained:
    """What the loop did: one row per epoch (all of them, resumed ones included), the training time."""

    history: list[dict]
    train_time_s: float
    device: torch.device


@dataclass
class _Run:
    """The pieces of a run in progress (what a checkpoint saves, and what feeds it)."""

    model: nn.Module
    net: nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: object  # torch.amp.GradScaler or None
    train_loader: torch.utils.data.DataLoader
    val_loader: torch.utils.data.DataLoader
    device: torch.device


def dtype_name(device: torch.device) -> str:
    """The autocast dtype of ``--amp`` on ``device``: ``float16`` or ``bfloat16``."""
    return str(amp_dtype(device.type)).replace("torch.", "")


def _device(plan: Plan, d: Dist) -> torch.device:
    if plan.cfg.device == "cuda":
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


def _loaders(plan: Plan, d: Dist, built: Built, device: torch.device):
    workers = plan.cfg.workers if plan.cfg.workers is not None else default_workers(plan.cfg.dataset)
    # the last incomplete batch is dropped in training (a batch of one breaks batch norm), never in validation
    train_loader = torch.utils.data.DataLoader(
        built.train_ds,
        batch_size=plan.per_rank,
        sampler=EpochSampler(len(built.train_ds), plan.cfg.seed, d.rank, d.world),
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
    )
    val_loader = torch.utils.data.DataLoader(
        built.val_ds,
        batch_size=plan.per_rank,
        sampler=ShardSampler(len(built.val_ds), d.rank, d.world),
        num_workers=workers,
        pin_memory=device.type == "cuda",
    )
    return train_loader, val_loader


def _restore(plan: Plan, r: _Run, ckpt: dict) -> tuple[list[dict], int, float]:
    """Load the checkpoint's states into the run (all or nothing); its history, epoch and training time."""
    try:
        check_state_dict(r.model, ckpt["model_state"])  # all or nothing, with a message naming the layer
        r.model.load_state_dict(ckpt["model_state"])
        r.optimizer.load_state_dict(ckpt["optimizer_state"])
        r.scheduler.load_state_dict(ckpt["scheduler_state"])
        if r.scaler is not None and ckpt.get("scaler_state"):
            r.scaler.load_state_dict(ckpt["scaler_state"])
    except Exception as e:  # a corrupt checkpoint: one line, whatever broke
        raise UserError(
            f"corrupt checkpoint {plan.out / CHECKPOINT} (cannot load its state: "
            f"{one_line(e)[:200]}); it was left in place"
        ) from None
    return list(ckpt["history"]), int(ckpt["epoch"]), float(ckpt["train_time_s"])


def _setup(plan: Plan, d: Dist, built: Built) -> _Run:
    device = _device(plan, d)
    model = built.model
    model.to(device)
    if plan.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(plan.recipe, model)
    scheduler = build_scheduler(plan.recipe, optimizer, plan.epochs)
    scaler = torch.amp.GradScaler("cuda") if plan.amp and device.type == "cuda" else None
    return _Run(model, model, optimizer, scheduler, scaler, None, None, device)


def _log_start(plan: Plan, d: Dist, built: Built, device: torch.device, start_epoch: int) -> None:
    cfg, epochs = plan.cfg, plan.epochs
    if start_epoch:
        log.info(f"resuming {plan.out} from epoch {start_epoch}/{epochs} ({plan.out / CHECKPOINT})")
    log.info(
        f"train {cfg.model} ({plan.spec.family}, {plan.facts['variant']}) on {cfg.dataset} seed {cfg.seed}: "
        f"{epochs} epochs, batch {plan.batch_size}, {len(built.train_ds)} train / {len(built.val_ds)} val images, "
        f"{built.counts['params']:,} params, {built.counts['macs']:,} MACs, device {device}"
        f"{f' x{d.world} processes' if d.enabled else ''}{f', AMP ({dtype_name(device)})' if plan.amp else ''}"
    )
    log.info(
        f"recipe: {json.dumps(plan.recipe.to_dict())}; lr milestones for {epochs} epochs: "
        f"{plan.recipe.scaled_milestones(epochs)}"
    )


def _epoch(plan: Plan, d: Dist, r: _Run, epoch: int) -> dict:
    """Train and evaluate epoch ``epoch`` (0-based); its history row.  A divergence is one line."""
    cfg = plan.cfg
    t0 = time.time()
    torch.manual_seed(global_seed(cfg.seed, epoch, d.rank))
    r.train_loader.sampler.set_epoch(epoch)
    r.train_loader.dataset.set_epoch(epoch)
    lr = r.optimizer.param_groups[0]["lr"]
    rt = Runtime(r.device, plan.amp, plan.channels_last, d, cfg.progress, r.scaler)
    try:
        tr = train_one_epoch(r.net, r.train_loader, r.optimizer, rt, epoch + 1, plan.epochs, cfg.limit_train_batches)
        train_s = time.time() - t0
        r.scheduler.step()
        sync_buffers(r.model, d)
        bad = nonfinite_tensors(r.model)
        if bad:
            raise RunDiverged(
                f"epoch {epoch + 1}: non-finite weights after training "
                f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''})"
            )
        va = evaluate_model(r.model, r.val_loader, rt, cfg.limit_val_batches, desc=f"epoch {epoch + 1}")
    except RunDiverged as e:
        kept = f"the checkpoint of epoch {epoch} was kept" if epoch else "no checkpoint was written"
        raise RunDiverged(
            f"the run diverged: {e} (try a smaller --set lr=...); no metrics.json written, {kept}"
        ) from None
    return {
        "epoch": epoch + 1,
        "lr": lr,
        "train_loss": tr["loss"],
        "train_top1_err": tr["top1_err"],
        "val_loss": va["loss"],
        "val_top1_err": va["top1_err"],
        "val_top5_err": va["top5_err"],
        "train_images": tr["count"],
        "val_images": va["count"],
        "time_s": time.time() - t0,
        "train_s": train_s,
        "peak_memory_mb": _peak_memory_mb(r.device),
    }


def checkpoint_state(plan: Plan, r: _Run, history: list[dict], train_time: float) -> dict:
    """The checkpoint after the last epoch of ``history`` (format :data:`CHECKPOINT_FORMAT`)."""
    cfg = plan.cfg
    return {
        "format": CHECKPOINT_FORMAT,
        "config": plan.identity.to_dict(),
        "epoch": history[-1]["epoch"],
        "epochs": plan.epochs,
        "model": cfg.model,
        "model_args": cfg.model_args,
        "variant": cfg.variant,
        "family": plan.spec.family,
        "facts": plan.facts,
        "num_classes": plan.info.num_classes,
        "input_size": list(plan.info.input_size),
        "dataset": cfg.dataset,
        "train_size": cfg.train_size,
        "val_size": cfg.val_size,
        "seed": cfg.seed,
        "model_state": r.model.state_dict(),
        "optimizer_state": r.optimizer.state_dict(),
        "scheduler_state": r.scheduler.state_dict(),
        "scaler_state": r.scaler.state_dict() if r.scaler is not None else None,
        "history": history,
        "train_time_s": train_time,
        "versions": versions(),
    }


def run(plan: Plan, d: Dist, built: Built, ckpt: dict | None) -> Trained:
    """Train epochs ``ckpt["epoch"]`` (0 without a checkpoint) to ``plan.epochs``; rank 0 writes the
    checkpoint after every epoch.  Returns the whole history."""
    r = _setup(plan, d, built)
    history, start_epoch, train_time = _restore(plan, r, ckpt) if ckpt is not None else ([], 0, 0.0)
    if d.enabled:
        ids = [r.device.index] if r.device.type == "cuda" else None
        r.net = nn.parallel.DistributedDataParallel(r.model, device_ids=ids)
    r.train_loader, r.val_loader = _loaders(plan, d, built, r.device)
    if d.main:
        _log_start(plan, d, built, r.device, start_epoch)
    for epoch in range(start_epoch, plan.epochs):
        row = _epoch(plan, d, r, epoch)
        train_time += row["time_s"]
        history.append(row)
        if d.main:
            log.info(
                f"epoch {epoch + 1}/{plan.epochs} lr {row['lr']:.4g} train loss {row['train_loss']:.4f} err "
                f"{row['train_top1_err']:.2f}% | val loss {row['val_loss']:.4f} top1 err {row['val_top1_err']:.2f}% "
                f"top5 err {row['val_top5_err']:.2f}% | {row['time_s']:.1f}s"
            )
            save_checkpoint(plan.out / CHECKPOINT, checkpoint_state(plan, r, history, train_time))
        barrier(d)
    return Trained(history, train_time, r.device)
