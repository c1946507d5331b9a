"""One training epoch and one evaluation pass: the loops shared by ``xnet train`` and ``xnet evaluate``.

Both stop at the first non-finite loss with :class:`~xnet.errors.RunDiverged` (under DDP every
process stops at the same batch), so nothing computed from a diverged model is ever reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import RunDiverged, UserError
from .distributed import Dist, all_reduce_sum

AMP_DTYPES = {"cuda": torch.float16, "cpu": torch.bfloat16}


def amp_dtype(device_type: str) -> torch.dtype:
    """The autocast dtype of ``--amp``: float16 on CUDA (with a GradScaler), bfloat16 on CPU."""
    return AMP_DTYPES[device_type]


def autocast(device: torch.device, amp: bool):
    return torch.autocast(device.type, dtype=amp_dtype(device.type), enabled=amp)


@dataclass(frozen=True)
class Runtime:
    """Where and how a pass runs: the device, mixed precision (``amp``; ``scaler``: the CUDA
    GradScaler of a training pass under AMP), channels_last inputs, the process group, a progress bar."""

    device: torch.device
    amp: bool = False
    channels_last: bool = False
    dist: Dist = field(default_factory=Dist)
    progress: bool = False
    scaler: object | None = None


def n_batches(loader, limit):
    return len(loader) if limit is None else min(limit, len(loader))


def batches(loader, count, device, channels_last):
    """The first ``count`` batches of ``loader``, on ``device`` (channels_last on request)."""
    for b, (x, y) in enumerate(loader):
        if b >= count:
            break
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        yield x, y


def nonfinite_tensors(model: nn.Module) -> list[str]:
    """Names of the parameters and floating-point buffers of ``model`` holding a NaN or an infinity."""
    named = [*model.named_parameters(), *model.named_buffers()]
    return [n for n, t in named if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def _any_nonfinite(value: torch.Tensor, dist: Dist, device) -> bool:
    bad = 0.0 if bool(torch.isfinite(value)) else 1.0
    return all_reduce_sum([bad], dist, device)[0] > 0


def evaluate_model(model, loader, rt: Runtime, limit=None, desc="val") -> dict:
    """Loss, top-1 and top-5 error (percent) of ``model`` on ``loader`` (first ``limit`` batches).

    Raises :class:`UserError` if no image was evaluated and :class:`RunDiverged` if the loss is not
    finite (``desc`` names the pass in the message).
    """
    device, dist = rt.device, rt.dist
    model.eval()
    count_b = n_batches(loader, limit)
    loss_sum = top1 = top5 = count = 0.0
    from tqdm import tqdm

    with torch.no_grad():
        bar = tqdm(total=count_b, desc=desc, leave=False, disable=not (rt.progress and dist.main), dynamic_ncols=True)
        for x, y in batches(loader, count_b, device, rt.channels_last):
            with autocast(device, rt.amp):
                out = model(x)
            out = out.float()
            loss_sum += F.cross_entropy(out, y, reduction="sum").item()
            k = min(5, out.shape[1])
            hit = out.topk(k, dim=1).indices == y[:, None]
            top1 += hit[:, 0].sum().item()
            top5 += hit.any(dim=1).sum().item()
            count += len(y)
            bar.update(1)
        bar.close()
    loss_sum, top1, top5, count = all_reduce_sum([loss_sum, top1, top5, count], dist, device)
    if count == 0:
        raise UserError(f"{desc}: no validation images were evaluated (empty validation set)")
    if not math.isfinite(loss_sum):
        raise RunDiverged(f"{desc}: the validation loss is {loss_sum / count}")
    return {
        "loss": loss_sum / count,
        "top1_err": 100.0 * (1 - top1 / count),
        "top5_err": 100.0 * (1 - top5 / count),
        "count": int(count),
    }


def train_one_epoch(model, loader, optimizer, rt: Runtime, epoch: int, epochs: int, limit=None) -> dict:
    """One epoch of SGD; :class:`RunDiverged` at the first batch whose loss is not finite (before its step)."""
    device, dist, scaler = rt.device, rt.dist, rt.scaler
    model.train()
    count_b = n_batches(loader, limit)
    loss_sum = correct = count = 0.0
    from tqdm import tqdm

    bar = tqdm(
        total=count_b,
        desc=f"epoch {epoch}/{epochs}",
        leave=False,
        disable=not (rt.progress and dist.main),
        dynamic_ncols=True,
    )
    for b, (x, y) in enumerate(batches(loader, count_b, device, rt.channels_last)):
        with autocast(device, rt.amp):
            out = model(x)
            loss = F.cross_entropy(out.float(), y)
        if _any_nonfinite(loss.detach(), dist, device):
            bar.close()
            raise RunDiverged(f"epoch {epoch}: the training loss became {loss.item()} at batch {b + 1}")
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        n = len(y)
        loss_sum += loss.item() * n
        correct += (out.argmax(1) == y).sum().item()
        count += n
        bar.update(1)
        bar.set_postfix(loss=f"{loss_sum / count:.3f}", acc=f"{100 * correct / count:.1f}%", refresh=False)
    bar.refresh()  # show the epoch's final loss / accuracy even when it took less than tqdm's mininterval
    bar.close()
    loss_sum, correct, count = all_reduce_sum([loss_sum, correct, count], dist, device)
    if count == 0:
        raise UserError(
            f"epoch {epoch}: no training batch (the training set is smaller than one batch; "
            "the last incomplete batch is dropped)"
        )
    return {"loss": loss_sum / count, "top1_err": 100.0 * (1 - correct / count), "count": int(count)}
