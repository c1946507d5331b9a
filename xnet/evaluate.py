"""Re-evaluate a saved model: ``python -m xnet evaluate --checkpoint RUN_DIR/checkpoint.pt``."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from . import data as xdata
from .errors import UserError
from .nn import check_state_dict
from .runs.files import CHECKPOINT, LOCK, LOG, METRICS
from .training.checkpoint import load_checkpoint, nonfinite_state
from .training.config import EvaluateConfig, default_workers
from .training.engine import Runtime, evaluate_model
from .training.model import create_model, model_facts, profile_model, resolve_model

# A run directory's own files (xnet.runs.files, and the Snakemake job log beside them), with
# the ``.tmp`` of their atomic writes: ``--json`` never writes one, wherever it lies (a JSON named
# metrics.json is taken for a run record by ``xnet.results gather``, one named checkpoint.pt for a
# checkpoint by ``xnet train --out``).
RUN_FILES = frozenset(
    name + tmp for name in (CHECKPOINT, METRICS, LOG, LOCK, "snakemake_train.log") for tmp in ("", ".tmp")
)


def check_json_out(path, force: bool = False, checkpoint=None) -> Path:
    """Fail before any work if ``--json FILE`` cannot or must not be written.

    Refused: a directory, a missing or read-only folder; a run directory's own file name
    (:data:`RUN_FILES`: checkpoint.pt, metrics.json, train.log, .lock, ...) even through a link; the
    checkpoint being evaluated (``checkpoint``: a file or a run directory); and an existing file
    unless ``force``.
    """
    p = Path(path)
    if p.is_dir():
        raise UserError(f"--json {p}: is a directory (give a file name)")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"--json {p}: the folder {parent} does not exist")
    target = p.resolve()
    for name in dict.fromkeys((p.name, target.name)):
        if name in RUN_FILES:
            raise UserError(f"--json {p}: {name} is a run directory's own file name; choose another name")
    if checkpoint is not None:
        ckpt = Path(checkpoint)
        ckpt = ckpt / CHECKPOINT if ckpt.is_dir() else ckpt
        if target == ckpt.resolve() or (p.exists() and ckpt.exists() and os.path.samefile(p, ckpt)):
            raise UserError(f"--json {p}: is the checkpoint being evaluated")
    if p.exists() and not force:
        raise UserError(f"--json {p}: exists (give --force to overwrite it)")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UserError(f"--json {p}: not writable")
    return p


def evaluate_checkpoint(
    checkpoint,
    *,
    dataset: str | None = None,
    data_dir=None,
    device: str = "cpu",
    batch_size: int = 256,
    limit_val_batches: int | None = None,
    val_size: int | None = None,
    workers: int | None = None,
    download: bool = True,
    progress: bool = True,
) -> dict:
    """Rebuild the model of ``checkpoint`` (a file, or a run directory) and evaluate it.

    The model comes back from the checkpoint's model name, kwargs, variant and ``state_dict``
    (X-layers' graphs included, as their ``neighbors`` buffers).  By default the validation set of
    the run (same dataset, same ``val_size``) is used.  A checkpoint with non-finite weights, or
    a loss that is not finite, is an error, as is a pass that evaluates no image.
    """
    cfg = EvaluateConfig(
        checkpoint=str(checkpoint),
        dataset=dataset,
        batch_size=batch_size,
        device=device,
        data_dir=data_dir,
        val_size=val_size,
        limit_val_batches=limit_val_batches,
        workers=workers,
        download=download,
        progress=progress,
    ).validate()
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UserError("device: cuda requested but no CUDA device is available")
    path = Path(cfg.checkpoint)
    if path.is_dir():
        path = path / CHECKPOINT
    ckpt = load_checkpoint(path)
    bad = nonfinite_state(ckpt["model_state"])
    if bad:
        raise UserError(
            f"checkpoint {path}: non-finite weights ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}): the run diverged; nothing to evaluate"
        )
    dataset = cfg.dataset or ckpt["dataset"]
    val_size = cfg.val_size
    if val_size is None and dataset == ckpt["dataset"]:
        val_size = ckpt.get("val_size")
    _, val_ds, info = xdata.build_datasets(
        dataset, cfg.data_dir, train_size=1, val_size=val_size, augment=False, seed=ckpt["seed"], download=cfg.download
    )
    if info.num_classes != ckpt["num_classes"]:
        raise UserError(f"{dataset} has {info.num_classes} classes but the model of {path} has {ckpt['num_classes']}")
    variant = _variant(ckpt)
    model = create_model(ckpt["model"], ckpt["num_classes"], ckpt["seed"], ckpt["model_args"], variant)
    try:
        check_state_dict(model, ckpt["model_state"])  # names the layer whose shape or graph does not fit
        model.load_state_dict(ckpt["model_state"])
    except Exception as e:
        raise UserError(
            f"corrupt checkpoint {path} (cannot load the model: {(str(e).splitlines() or [''])[0][:200]})"
        ) from None
    dev = torch.device(cfg.device)
    model.to(dev)
    workers = cfg.workers if cfg.workers is not None else default_workers(dataset)
    loader = torch.utils.data.DataLoader(val_ds, batch_size=cfg.batch_size, shuffle=False, num_workers=workers)
    try:
        res = evaluate_model(model, loader, Runtime(dev, progress=cfg.progress), cfg.limit_val_batches, desc="evaluate")
    except UserError as e:
        raise UserError(f"checkpoint {path}: {e}") from None
    counts = profile_model(model, info.input_size)
    return {
        "checkpoint": str(path),
        "model": ckpt["model"],
        "model_args": ckpt["model_args"],
        "variant": (ckpt.get("config") or {}).get("variant"),
        "dataset": dataset,
        "epoch": ckpt["epoch"],
        "top1_err": res["top1_err"],
        "top5_err": res["top5_err"],
        "loss": res["loss"],
        "images": res["count"],
        **counts,
    }


def _variant(ckpt: dict) -> str | None:
    """The variant to rebuild: the one the run trained (only named where it differs from the models' default)."""
    trained = (ckpt.get("config") or {}).get("variant")
    if trained is None:
        return ckpt.get("variant")
    default = model_facts(resolve_model(ckpt["model"], ckpt["model_args"]))["variant"]
    return None if trained == default else trained
