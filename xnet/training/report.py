"""The run record of a finished run (:class:`~xnet.runs.record.RunRecord`, ``metrics.json``),
assembled in one place from the plan, what was built and the history of the loop."""

from __future__ import annotations

import platform

import torch

from ..data import catalog
from ..runs.record import RunRecord
from .distributed import Dist
from .loop import Built, Trained, dtype_name
from .model import versions
from .plan import Plan


def device_info(device: torch.device) -> dict:
    """The device a run trained on: its type and name (and the CPU threads)."""
    dev = {"type": device.type}
    if device.type == "cuda":
        dev["name"] = torch.cuda.get_device_name(device)
    else:
        dev["name"] = platform.processor() or platform.machine()
        dev["threads"] = torch.get_num_threads()
    return dev


def make_record(plan: Plan, d: Dist, built: Built, trained: Trained) -> RunRecord:
    """The record of the run: the last epoch's numbers, the best epoch's, the whole history."""
    cfg, history = plan.cfg, trained.history
    last = history[-1]
    best = min(history, key=lambda h: h["val_top1_err"])
    stand_in = catalog.is_stand_in(cfg.dataset)
    return RunRecord(
        model=cfg.model,
        **plan.facts,
        model_args=cfg.model_args,
        dataset=cfg.dataset,
        seed=cfg.seed,
        num_classes=plan.info.num_classes,
        input_size=list(plan.info.input_size),
        recipe=plan.recipe.to_dict(),
        epochs=plan.epochs,
        batch_size=plan.batch_size,
        limit_train_batches=cfg.limit_train_batches,
        limit_val_batches=cfg.limit_val_batches,
        train_size=len(built.train_ds),
        val_size=len(built.val_ds),
        top1_err=last["val_top1_err"],
        top5_err=last["val_top5_err"],
        best_top1_err=best["val_top1_err"],
        best_top5_err=min(h["val_top5_err"] for h in history),
        best_epoch=best["epoch"],
        val_loss=last["val_loss"],
        train_loss=last["train_loss"],
        history=history,
        params=built.counts["params"],
        macs=built.counts["macs"],
        device=cfg.device,
        device_info=device_info(trained.device),
        world_size=d.world,
        amp=bool(plan.amp),
        amp_dtype=dtype_name(trained.device) if plan.amp else None,
        channels_last=plan.channels_last,
        versions=versions(),
        wall_time_s=trained.train_time_s,
        config=plan.identity.to_dict(),
        block_size=plan.spec.kwargs.get("block_size"),
        stands_for=catalog.paper_dataset(cfg.dataset, plan.spec.default_dataset) if stand_in else None,
    )
