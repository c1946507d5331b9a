"""Training checkpoints: saved atomically (the previous one survives any failure), loaded with one-line errors."""

from __future__ import annotations

import collections
from pathlib import Path

import torch

from ..errors import UserError
from .rundir import atomic_write_bytes, write_error

CHECKPOINT_FORMAT = 1
REQUIRED = ("format", "config", "epoch", "model", "model_args", "num_classes", "model_state")


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically; a full disk is a one-line error and leaves the old file."""
    try:
        atomic_write_bytes(Path(path), lambda fh: torch.save(state, fh))
    except OSError as e:
        raise write_error("the checkpoint", path, e) from None
    except RuntimeError as e:  # torch.save wraps some write failures ("PytorchStreamWriter failed ...")
        raise UserError(f"cannot write the checkpoint {path}: {(str(e).splitlines() or [''])[0][:200]}") from None


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint written by :func:`xnet.train.train`; a one-line error if it is unreadable."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals([collections.Counter]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint {path} not found") from None
    except IsADirectoryError:
        raise UserError(f"checkpoint {path} is a directory") from None
    except Exception as e:
        first = (str(e).splitlines() or [""])[0][:200]
        raise UserError(
            f"corrupt checkpoint {path} ({type(e).__name__}: {first}); it was left in place: move it away to start over"
        ) from None
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in REQUIRED):
        raise UserError(f"corrupt checkpoint {path} (not an xnet training checkpoint); it was left in place")
    return ckpt


def nonfinite_state(state: dict) -> list[str]:
    """Keys of a ``state_dict`` whose floating-point tensors hold a NaN or an infinity."""
    return [
        k
        for k, t in state.items()
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]
