"""What every compute backend of X-layers shares (private): the backend and side checks, the
compute dtype, caching on the graph table, pointwise-input handling.  Imported by
:mod:`xnet.nn.functional` and every backend module (``sparse``, ``gather``, ``block``,
``triton_block``), so none of them imports another's module for these."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.modules.utils import _pair

from ..names import BACKENDS, must_be


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(must_be("backend", backend, BACKENDS))


def _check_side(side: str, num_outputs) -> None:
    if side == "output":
        return
    if side != "input":
        raise ValueError(f"side: must be 'output' or 'input', got {side!r}")
    if isinstance(num_outputs, bool) or not isinstance(num_outputs, int) or num_outputs < 1:
        raise ValueError(f"num_outputs: an input-regular table needs the number of outputs, got {num_outputs!r}")


def _cached_on(neighbors: torch.Tensor, name: str, arg, compute):
    """``compute()``, cached on the (long-lived) ``neighbors`` buffer under ``name`` for ``arg``.

    Recomputed when the table is modified in place (a loaded checkpoint bumps ``_version``).
    ``compute`` must depend only on the table's contents and ``arg`` (e.g. the number of columns
    and the block size): the CSR transpose below is the same for both sides, the block table is
    built for output-regular tables only.
    """
    key = (neighbors._version, arg)
    cached = getattr(neighbors, name, None)
    if cached is not None and cached[0] == key:
        return cached[1]
    value = compute()
    try:
        setattr(neighbors, name, (key, value))
    except (AttributeError, RuntimeError):  # pragma: no cover - tensor subclasses without a __dict__
        pass
    return value


def _compute_dtype(x, weight, supported=None):
    """The dtype a custom backend computes in: autocast's (as ``F.conv2d`` would) or the promoted one.

    ``supported``: the dtypes the kernel has; anything else is computed in float32.
    """
    dt = torch.promote_types(x.dtype, weight.dtype)
    try:
        autocast = torch.is_autocast_enabled(x.device.type)
    except RuntimeError:  # a device type without autocast (meta: counting MACs without data)
        autocast = False
    if autocast:
        dt = torch.get_autocast_dtype(x.device.type)
    return dt if supported is None or dt in supported else torch.float32


def _pointwise_input(x, stride, padding):
    """Apply 1x1-conv padding and stride to the input, so the rest is a channel matmul."""
    if isinstance(padding, str):
        if padding == "valid" or padding == "same":
            pass  # a 1x1 kernel needs no padding for either
        else:
            raise ValueError(f"padding: unknown {padding!r}")
    else:
        ph, pw = _pair(padding)
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph))
    sh, sw = _pair(stride)
    if sh > 1 or sw > 1:
        x = x[:, :, ::sh, ::sw]
    return x


def _is_channels_last(x):
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def _check_block_side(side):
    if side != "output":
        raise ValueError(
            "backend: 'block' supports output-regular block graphs only, this graph is input-regular "
            "(use 'masked', 'gather' or 'sparse')"
        )


def check_block_graph(out: int, d: int, block_size: int, backend: str = "block") -> None:
    """Raise unless ``(out, D)`` is a table of a block graph with blocks of ``block_size`` channels."""
    b = block_size
    if b < 2 or out % b or d % b:
        raise ValueError(f"backend: {backend!r} needs a block graph (block_size > 1), got block_size={block_size}")
