"""Train one model on one dataset with one seed into one run directory.

The run directory holds ``checkpoint.pt`` (written atomically after every epoch), ``train.log``,
and, once the run is finished, ``metrics.json`` (written atomically).  Starting the same command
again resumes from the checkpoint; starting a finished run again does nothing.  A run directory
holding a different configuration is never touched.

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
import json
import logging
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import data as xdata
from .recipes import Recipe, UserError, build_optimizer, build_scheduler, resolve_recipe

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.json"
LOG = "train.log"
CHECKPOINT_FORMAT = 1

log = logging.getLogger("xnet.train")


@dataclass
class TrainConfig:
    model: str
    dataset: str
    out: str
    seed: int = 0
    epochs: int | None = None              # default: the recipe's
    batch_size: int | None = None          # default: the recipe's (global batch under DDP)
    device: str = "cpu"
    data_dir: str | None = None
    limit_train_batches: int | None = None
    limit_val_batches: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)     # recipe field -> value
    model_args: dict[str, Any] = field(default_factory=dict)    # extra kwargs of xnet.models.create
    train_size: int | None = None
    val_size: int | None = None
    workers: int | None = None             # default: 0 for in-memory sets, min(8, cpus) for imagenet
    download: bool = True
    amp: bool | None = None                # default: on for CUDA
    progress: bool = True


# ------------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    import numpy
    import torchvision
    from . import __version__
    return {"python": platform.python_version(), "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__), "numpy": str(numpy.__version__), "xnet": str(__version__)}


def atomic_write_bytes(path: Path, writer) -> None:
    """Write via ``writer(fileobj)`` to ``path.tmp``, fsync, then rename over ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        writer(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, lambda fh: fh.write((json.dumps(obj, indent=2) + "\n").encode()))


def _positive(name, v):
    if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
        raise UserError(f"{name}: must be a positive integer, got {v!r}")


def _check_int(name, v):
    if isinstance(v, bool) or not isinstance(v, int):
        raise UserError(f"{name}: must be an integer, got {v!r}")


def resolve_model(name: str, model_args: dict):
    """``xnet.models.resolve`` with any failure turned into a one-line error."""
    import xnet.models as models
    try:
        return models.resolve(name, **model_args)
    except Exception as e:  # unknown name, bad kwargs
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"model {name!r}: {msg}") from None


def create_model(name: str, num_classes: int, seed: int, model_args: dict) -> nn.Module:
    import xnet.models as models
    torch.manual_seed(seed)
    try:
        return models.create(name, num_classes=num_classes, seed=seed, **model_args)
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"model {name!r}: cannot build it: {msg}") from None


def profile_model(model: nn.Module, input_size) -> dict:
    import xnet
    prof = getattr(xnet, "profile", None)
    if prof is None:
        from .counting import profile as prof
    p = prof(model, tuple(input_size))
    return {"params": int(p["params"]), "macs": int(p["macs"])}


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint written by :func:`train`; a one-line error if it is unreadable."""
    import collections
    try:
        with torch.serialization.safe_globals([collections.Counter]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint {path} not found") from None
    except Exception as e:
        first = (str(e).splitlines() or [""])[0][:200]
        raise UserError(f"corrupt checkpoint {path} ({type(e).__name__}: {first}); "
                        "it was left in place: move it away to start over") from None
    need = ("format", "config", "epoch", "model", "model_args", "num_classes", "model_state")
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in need):
        raise UserError(f"corrupt checkpoint {path} (not an xnet training checkpoint); it was left in place")
    return ckpt


# ------------------------------------------------------------------------------------------------
# distributed
# ------------------------------------------------------------------------------------------------
@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owned: bool = False          # this module initialized the process group (and tears it down)

    @property
    def enabled(self):
        return self.world > 1

    @property
    def main(self):
        return self.rank == 0


def init_distributed(device: str) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    owned = not dist.is_initialized()
    if owned:
        backend = "nccl" if device == "cuda" else "gloo"
        if device == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return Dist(rank, world, local, owned)


def _teardown(d: Dist):
    if d.owned:
        import torch.distributed as dist
        if dist.is_initialized():
            dist.destroy_process_group()


def _all_reduce_sum(values: list[float], d: Dist, device) -> list[float]:
    if not d.enabled:
        return values
    import torch.distributed as dist
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def _barrier(d: Dist):
    if d.enabled:
        import torch.distributed as dist
        dist.barrier()


def _sync_buffers(model: nn.Module, d: Dist):
    """Give every process rank 0's buffers (batch-norm statistics) before evaluating.

    Evaluation runs on the bare module, not the DDP wrapper: the validation shards may differ in
    batch count between processes, and the bare module's forward has no collectives.
    """
    if d.enabled:
        import torch.distributed as dist
        for b in model.buffers():
            dist.broadcast(b, 0)


class EpochSampler(torch.utils.data.Sampler):
    """A permutation of ``range(n)`` drawn from ``(seed, epoch)``, sharded ``rank::world``.

    Under DDP the permutation is padded (wrapping around) so every process gets the same count.
    """

    def __init__(self, n: int, seed: int, rank: int = 0, world: int = 1, shuffle: bool = True):
        self.n, self.seed, self.rank, self.world, self.shuffle, self.epoch = n, seed, rank, world, shuffle, 0

    def set_epoch(self, epoch: int):
        self.epoch = epoch

    def __len__(self):
        return math.ceil(self.n / self.world)

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            idx = torch.randperm(self.n, generator=g).tolist()
        else:
            idx = list(range(self.n))
        total = len(self) * self.world
        idx = (idx * math.ceil(total / max(1, self.n)))[:total]
        return iter(idx[self.rank::self.world])


class ShardSampler(torch.utils.data.Sampler):
    """``range(n)[rank::world]`` without padding (exact distributed evaluation)."""

    def __init__(self, n, rank=0, world=1):
        self.idx = list(range(rank, n, world))

    def __len__(self):
        return len(self.idx)

    def __iter__(self):
        return iter(self.idx)


# ------------------------------------------------------------------------------------------------
# one epoch
# ------------------------------------------------------------------------------------------------
def _n_batches(loader, limit):
    return len(loader) if limit is None else min(limit, len(loader))


def evaluate_model(model, loader, device, limit=None, amp=False, channels_last=False,
                   dist: Dist | None = None, progress=False, desc="val") -> dict:
    """Loss, top-1 and top-5 error (percent) of ``model`` on ``loader`` (first ``limit`` batches)."""
    dist = dist or Dist()
    model.eval()
    n_batches = _n_batches(loader, limit)
    loss_sum = top1 = top5 = count = 0.0
    from tqdm import tqdm
    with torch.no_grad():
        bar = tqdm(total=n_batches, desc=desc, leave=False, disable=not (progress and dist.main),
                   dynamic_ncols=True)
        for x, y in _batches(loader, n_batches, device, channels_last):
            with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                out = model(x)
            out = out.float()
            loss_sum += F.cross_entropy(out, y, reduction="sum").item()
            k = min(5, out.shape[1])
            pred = out.topk(k, dim=1).indices
            hit = pred == y[:, None]
            top1 += hit[:, 0].sum().item()
            top5 += hit.any(dim=1).sum().item()
            count += len(y)
            bar.update(1)
        bar.close()
    loss_sum, top1, top5, count = _all_reduce_sum([loss_sum, top1, top5, count], dist, device)
    count = max(count, 1)
    return {"loss": loss_sum / count, "top1_err": 100.0 * (1 - top1 / count),
            "top5_err": 100.0 * (1 - top5 / count), "count": int(count)}


def _batches(loader, n_batches, device, channels_last):
    """The first ``n_batches`` batches of ``loader``, on ``device`` (channels_last on request)."""
    for b, (x, y) in enumerate(loader):
        if b >= n_batches:
            break
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        yield x, y


def train_one_epoch(model, loader, optimizer, scaler, device, epoch, epochs, limit=None, amp=False,
                    channels_last=False, dist: Dist | None = None, progress=True) -> dict:
    dist = dist or Dist()
    model.train()
    n_batches = _n_batches(loader, limit)
    loss_sum = correct = count = 0.0
    from tqdm import tqdm
    bar = tqdm(total=n_batches, desc=f"epoch {epoch}/{epochs}", leave=False,
               disable=not (progress and dist.main), dynamic_ncols=True)
    for x, y in _batches(loader, n_batches, device, channels_last):
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            out = model(x)
            loss = F.cross_entropy(out.float(), y)
        if not torch.isfinite(loss):
            raise UserError(f"epoch {epoch}: the loss became {loss.item()} (try a smaller --set lr=...)")
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
    loss_sum, correct, count = _all_reduce_sum([loss_sum, correct, count], dist, device)
    count = max(count, 1)
    return {"loss": loss_sum / count, "top1_err": 100.0 * (1 - correct / count), "count": int(count)}


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------
def _setup_logging(out: Path | None, main: bool) -> list[logging.Handler]:
    handlers: list[logging.Handler] = []
    if not main:
        return handlers
    log.setLevel(logging.INFO)
    log.propagate = False
    fmt = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s"))
    handlers.append(console)
    if out is not None:
        fh = logging.FileHandler(out / LOG, mode="a", encoding="utf-8")
        fh.setFormatter(fmt)
        handlers.append(fh)
    for h in handlers:
        log.addHandler(h)
    return handlers


def _diff(a: dict, b: dict) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def _identity(cfg: TrainConfig, recipe: Recipe, epochs: int, batch_size: int, world: int,
              train_size, val_size) -> dict:
    """What determines a run's numbers: a run directory only ever holds one identity."""
    return json.loads(json.dumps({
        "model": cfg.model, "model_args": cfg.model_args, "dataset": cfg.dataset, "seed": cfg.seed,
        "epochs": epochs, "batch_size": batch_size, "limit_train_batches": cfg.limit_train_batches,
        "limit_val_batches": cfg.limit_val_batches, "train_size": train_size, "val_size": val_size,
        "world_size": world, "recipe": recipe.to_dict()}))


def prepare(cfg: TrainConfig):
    """Validate everything that can be validated before touching the run directory."""
    _check_int("seed", cfg.seed)
    for name in ("epochs", "batch_size", "limit_train_batches", "limit_val_batches", "train_size",
                 "val_size"):
        _positive(name, getattr(cfg, name))
    if cfg.workers is not None and (isinstance(cfg.workers, bool) or not isinstance(cfg.workers, int) or cfg.workers < 0):
        raise UserError(f"workers: must be an integer >= 0, got {cfg.workers!r}")
    if cfg.device not in ("cpu", "cuda"):
        raise UserError(f"device: must be cpu or cuda, got {cfg.device!r}")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UserError("device: cuda requested but no CUDA device is available")
    if not cfg.out:
        raise UserError("--out: a run directory is required")
    spec = resolve_model(cfg.model, cfg.model_args)
    family = getattr(spec, "family", None)
    recipe = resolve_recipe(family, cfg.overrides)
    info = xdata.check_data(cfg.dataset, cfg.data_dir, cfg.download)
    epochs = cfg.epochs or recipe.epochs
    batch_size = cfg.batch_size or recipe.batch_size
    return spec, recipe, info, epochs, batch_size


def train(cfg: TrainConfig) -> dict:
    """Run (or resume, or skip if finished) one training run; returns the metrics dict."""
    spec, recipe, info, epochs, batch_size = prepare(cfg)
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory")
    d = init_distributed(cfg.device)
    try:
        return _train(cfg, spec, recipe, info, epochs, batch_size, d, out)
    finally:
        _teardown(d)


def _train(cfg, spec, recipe, info, epochs, batch_size, d: Dist, out: Path) -> dict:
    if batch_size % d.world:
        raise UserError(f"batch_size {batch_size} is not divisible by the {d.world} processes")
    identity = _identity(cfg, recipe, epochs, batch_size, d.world, cfg.train_size, cfg.val_size)

    # ---- the run directory: finished, resumable, foreign, or new --------------------------------
    metrics_path, ckpt_path = out / METRICS, out / CHECKPOINT
    if metrics_path.exists():
        try:
            old = json.loads(metrics_path.read_text())
            old_identity = old["config"]
        except Exception:
            raise UserError(f"{metrics_path} exists but is not a metrics file of xnet; "
                            "refusing to overwrite it (choose another --out)") from None
        if old_identity != identity:
            raise UserError(f"{out} holds a finished run with a different configuration (differs in: "
                            f"{', '.join(_diff(old_identity, identity))}); choose another --out")
        if d.main:
            print(f"xnet: run in {out} is already finished (metrics.json: top1_err "
                  f"{old.get('top1_err', float('nan')):.2f}%); nothing to do", file=sys.stderr)
        return old
    ckpt = None
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        if ckpt["config"] != identity:
            raise UserError(f"{ckpt_path} belongs to a different configuration (differs in: "
                            f"{', '.join(_diff(ckpt['config'], identity))}); choose another --out "
                            "or run the same command as before")

    # ---- data (may still fail with a one-line error: nothing written yet) -----------------------
    train_ds, val_ds, info = xdata.build_datasets(
        cfg.dataset, cfg.data_dir, train_size=cfg.train_size, val_size=cfg.val_size,
        augment=recipe.augment == "standard", seed=cfg.seed, download=cfg.download)

    _barrier(d)
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (out / (CHECKPOINT + ".tmp")).unlink()       # a temp file left by a killed run
    _barrier(d)
    handlers = _setup_logging(out, d.main)
    det = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        return _run(cfg, spec, recipe, info, epochs, batch_size, identity, d, out, ckpt, train_ds, val_ds)
    finally:
        torch.use_deterministic_algorithms(det[0], warn_only=det[1])
        for h in handlers:
            log.removeHandler(h)
            h.close()


def _run(cfg, spec, recipe, info, epochs, batch_size, identity, d: Dist, out: Path, ckpt,
         train_ds, val_ds) -> dict:
    # ---- device, determinism --------------------------------------------------------------------
    if cfg.device == "cuda":
        device = torch.device("cuda", d.local_rank if d.enabled else torch.cuda.current_device())
        torch.backends.cudnn.benchmark = True
    else:
        device = torch.device("cpu")
        torch.use_deterministic_algorithms(True, warn_only=True)
    amp = (cfg.device == "cuda") if cfg.amp is None else bool(cfg.amp and cfg.device == "cuda")
    channels_last = cfg.device == "cuda"

    # ---- model, optimizer, schedule -------------------------------------------------------------
    model = create_model(cfg.model, info.num_classes, cfg.seed, cfg.model_args)
    counts = profile_model(model, info.input_size)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(recipe, model)
    scheduler = build_scheduler(recipe, optimizer, epochs)
    scaler = torch.amp.GradScaler("cuda") if amp else None
    history: list[dict] = []
    start_epoch, train_time = 0, 0.0
    if ckpt is not None:
        try:
            model.load_state_dict(ckpt["model_state"])
            optimizer.load_state_dict(ckpt["optimizer_state"])
            scheduler.load_state_dict(ckpt["scheduler_state"])
            if scaler is not None and ckpt.get("scaler_state"):
                scaler.load_state_dict(ckpt["scaler_state"])
        except Exception as e:
            raise UserError(f"corrupt checkpoint {out / CHECKPOINT} (cannot load its state: "
                            f"{(str(e).splitlines() or [''])[0][:200]}); it was left in place") from None
        history, start_epoch, train_time = list(ckpt["history"]), int(ckpt["epoch"]), float(ckpt["train_time_s"])
    net = model
    if d.enabled:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    workers = cfg.workers if cfg.workers is not None else (
        min(8, os.cpu_count() or 1) if cfg.dataset == "imagenet" else 0)
    per_rank = batch_size // d.world
    train_sampler = EpochSampler(len(train_ds), cfg.seed, d.rank, d.world)
    train_loader = torch.utils.data.DataLoader(
        train_ds, batch_size=per_rank, sampler=train_sampler, num_workers=workers,
        pin_memory=device.type == "cuda", drop_last=False)
    val_loader = torch.utils.data.DataLoader(
        val_ds, batch_size=per_rank, sampler=ShardSampler(len(val_ds), d.rank, d.world),
        num_workers=workers, pin_memory=device.type == "cuda")

    if d.main:
        if start_epoch:
            log.info(f"resuming {out} from epoch {start_epoch}/{epochs} ({out / CHECKPOINT})")
        log.info(f"train {cfg.model} ({spec.family}) on {cfg.dataset} seed {cfg.seed}: {epochs} epochs, "
                 f"batch {batch_size}, {len(train_ds)} train / {len(val_ds)} val images, "
                 f"{counts['params']:,} params, {counts['macs']:,} MACs, device {device}"
                 f"{f' x{d.world} processes' if d.enabled else ''}{', AMP' if amp else ''}")
        log.info(f"recipe: {json.dumps(recipe.to_dict())}; lr milestones for {epochs} epochs: "
                 f"{recipe.scaled_milestones(epochs)}")

    for epoch in range(start_epoch, epochs):
        t0 = time.time()
        torch.manual_seed((cfg.seed * 1_000_003 + epoch) * 1009 + d.rank)
        train_sampler.set_epoch(epoch)
        train_ds.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        tr = train_one_epoch(net, train_loader, optimizer, scaler, device, epoch + 1, epochs,
                             cfg.limit_train_batches, amp, channels_last, d, cfg.progress)
        scheduler.step()
        _sync_buffers(model, d)
        va = evaluate_model(model, val_loader, device, cfg.limit_val_batches, amp, channels_last, d,
                            cfg.progress, desc=f"val {epoch + 1}/{epochs}")
        dt = time.time() - t0
        train_time += dt
        history.append({"epoch": epoch + 1, "lr": lr, "train_loss": tr["loss"], "train_top1_err": tr["top1_err"],
                        "val_loss": va["loss"], "val_top1_err": va["top1_err"], "val_top5_err": va["top5_err"],
                        "train_images": tr["count"], "val_images": va["count"], "time_s": dt})
        if d.main:
            log.info(f"epoch {epoch + 1}/{epochs} lr {lr:.4g} train loss {tr['loss']:.4f} err "
                     f"{tr['top1_err']:.2f}% | val loss {va['loss']:.4f} top1 err {va['top1_err']:.2f}% "
                     f"top5 err {va['top5_err']:.2f}% | {dt:.1f}s")
            state = {
                "format": CHECKPOINT_FORMAT, "config": identity, "epoch": epoch + 1, "epochs": epochs,
                "model": cfg.model, "model_args": cfg.model_args, "family": spec.family,
                "num_classes": info.num_classes, "input_size": list(info.input_size),
                "dataset": cfg.dataset, "train_size": cfg.train_size, "val_size": cfg.val_size,
                "seed": cfg.seed, "model_state": model.state_dict(), "optimizer_state": optimizer.state_dict(),
                "scheduler_state": scheduler.state_dict(),
                "scaler_state": scaler.state_dict() if scaler is not None else None,
                "history": history, "train_time_s": train_time, "versions": versions(),
            }
            atomic_write_bytes(out / CHECKPOINT, lambda fh: torch.save(state, fh))
        _barrier(d)

    metrics = _metrics(cfg, spec, recipe, info, epochs, batch_size, identity, d, counts, history,
                       train_time, device, amp, channels_last, len(train_ds), len(val_ds))
    if d.main:
        atomic_write_json(out / METRICS, metrics)
        log.info(f"done: top1_err {metrics['top1_err']:.2f}% (best {metrics['best_top1_err']:.2f}% at epoch "
                 f"{metrics['best_epoch']}), top5_err {metrics['top5_err']:.2f}%, "
                 f"{metrics['wall_time_s']:.1f}s -> {out / METRICS}")
    _barrier(d)
    return metrics


def _metrics(cfg, spec, recipe, info, epochs, batch_size, identity, d, counts, history, train_time,
             device, amp, channels_last, n_train, n_val) -> dict:
    last = history[-1]
    best = min(history, key=lambda h: h["val_top1_err"])
    dev = {"type": device.type}
    if device.type == "cuda":
        dev["name"] = torch.cuda.get_device_name(device)
    else:
        dev["name"] = platform.processor() or platform.machine()
        dev["threads"] = torch.get_num_threads()
    return {
        "model": cfg.model, "model_args": cfg.model_args, "family": spec.family, "dataset": cfg.dataset,
        "seed": cfg.seed, "recipe": recipe.to_dict(), "epochs": epochs, "batch_size": batch_size,
        "limit_train_batches": cfg.limit_train_batches, "limit_val_batches": cfg.limit_val_batches,
        "train_size": n_train, "val_size": n_val, "num_classes": info.num_classes,
        "input_size": list(info.input_size),
        "top1_err": last["val_top1_err"], "top5_err": last["val_top5_err"], "val_loss": last["val_loss"],
        "train_loss": last["train_loss"], "best_top1_err": best["val_top1_err"], "best_epoch": best["epoch"],
        "params": counts["params"], "macs": counts["macs"],
        "history": history, "wall_time_s": train_time, "device": cfg.device, "device_info": dev,
        "world_size": d.world, "amp": amp, "channels_last": channels_last, "versions": versions(),
        "config": identity,
    }
