"""Re-evaluate a saved model: ``python -m xnet evaluate --checkpoint RUN_DIR/checkpoint.pt``."""
from __future__ import annotations

from pathlib import Path

import torch

from . import data as xdata
from .recipes import UserError
from .train import CHECKPOINT, create_model, evaluate_model, load_checkpoint, profile_model


def evaluate_checkpoint(checkpoint, *, dataset: str | None = None, data_dir=None, device: str = "cpu",
                        batch_size: int = 256, limit_val_batches: int | None = None,
                        val_size: int | None = None, workers: int | None = None, download: bool = True,
                        progress: bool = True) -> dict:
    """Rebuild the model of ``checkpoint`` (a file, or a run directory) and evaluate it.

    The model comes back from the checkpoint's model name, kwargs and ``state_dict`` (X-layers'
    graphs included, as their ``neighbors`` buffers).  By default the validation set of the
    run (same dataset, same ``val_size``) is used.
    """
    path = Path(checkpoint)
    if path.is_dir():
        path = path / CHECKPOINT
    ckpt = load_checkpoint(path)
    if device not in ("cpu", "cuda"):
        raise UserError(f"device: must be cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("device: cuda requested but no CUDA device is available")
    dataset = dataset or ckpt["dataset"]
    if val_size is None and dataset == ckpt["dataset"]:
        val_size = ckpt.get("val_size")
    _, val_ds, info = xdata.build_datasets(dataset, data_dir, train_size=1, val_size=val_size,
                                           augment=False, seed=ckpt["seed"], download=download)
    if info.num_classes != ckpt["num_classes"]:
        raise UserError(f"{dataset} has {info.num_classes} classes but the model of {path} has {ckpt['num_classes']}")
    model = create_model(ckpt["model"], ckpt["num_classes"], ckpt["seed"], ckpt["model_args"])
    try:
        model.load_state_dict(ckpt["model_state"])
    except Exception as e:
        raise UserError(f"corrupt checkpoint {path} (cannot load the model: "
                        f"{(str(e).splitlines() or [''])[0][:200]})") from None
    dev = torch.device(device)
    model.to(dev)
    if workers is None:
        workers = 8 if dataset == "imagenet" else 0
    loader = torch.utils.data.DataLoader(val_ds, batch_size=batch_size, shuffle=False, num_workers=workers)
    res = evaluate_model(model, loader, dev, limit_val_batches, amp=False, progress=progress, desc="evaluate")
    counts = profile_model(model, info.input_size)
    return {"checkpoint": str(path), "model": ckpt["model"], "model_args": ckpt["model_args"],
            "dataset": dataset, "epoch": ckpt["epoch"], "top1_err": res["top1_err"],
            "top5_err": res["top5_err"], "loss": res["loss"], "images": res["count"], **counts}
