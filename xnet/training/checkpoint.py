"""Training checkpoints: saved atomically (the previous one survives any failure), loaded with one-line errors.

Compatibility, checked by :func:`load_checkpoint` (so by ``xnet train`` when it resumes and by
``xnet evaluate``):

- ``format`` (:data:`CHECKPOINT_FORMAT`) is the layout of the file; it changes whenever a key
  changes meaning.  A checkpoint of another format is refused, naming both formats.
- ``versions["xnet"]`` is the xnet that wrote it.  Another major version is refused; any other
  difference (or no version recorded) is one warning line on stderr (``xnet: warning: ...``,
  logger ``xnet.checkpoint``), and the checkpoint is loaded: the format is the contract.
"""

from __future__ import annotations

import collections
import logging
import re
from pathlib import Path

import torch

from .. import __version__
from ..errors import UserError
from ..runs.files import atomic_write_bytes, write_error

log = logging.getLogger("xnet.checkpoint")

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
    """Load a checkpoint written by :func:`xnet.training.train`; a one-line error if it is unreadable."""
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
    if isinstance(ckpt, dict) and "format" in ckpt:
        check_compatible(path, ckpt)
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in REQUIRED):
        raise UserError(f"corrupt checkpoint {path} (not an xnet training checkpoint); it was left in place")
    return ckpt


def _major(version) -> int | None:
    m = re.match(r"\s*v?(\d+)(\.|$)", str(version))
    return int(m.group(1)) if m else None


def check_compatible(path, ckpt: dict, version: str = __version__) -> None:
    """Refuse a checkpoint of another format or another major xnet version; warn (one line) on any
    other xnet version difference (see the module docstring)."""
    fmt = ckpt.get("format")
    if type(fmt) is not int or fmt != CHECKPOINT_FORMAT:
        raise UserError(
            f"checkpoint {path} has format {fmt!r}; this xnet ({version}) reads checkpoint format "
            f"{CHECKPOINT_FORMAT}: use the xnet that wrote it, or move it away to start over"
        )
    versions = ckpt.get("versions")
    wrote = versions.get("xnet") if isinstance(versions, dict) else None
    if wrote is None:
        log.warning(f"xnet: warning: checkpoint {path} records no xnet version; loading it (format {fmt})")
        return
    if str(wrote) == str(version):
        return
    if _major(wrote) != _major(version):
        raise UserError(
            f"checkpoint {path} was written by xnet {wrote}; this xnet {version} does not load checkpoints "
            "of another major version: use that xnet, or move it away to start over"
        )
    log.warning(f"xnet: warning: checkpoint {path} was written by xnet {wrote}, this is xnet {version}; loading it")


def nonfinite_state(state: dict) -> list[str]:
    """Keys of a ``state_dict`` whose floating-point tensors hold a NaN or an infinity."""
    return [
        k
        for k, t in state.items()
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]
