"""``python -m xnet.bench layers`` and ``models``: X-layers and whole models against dense and G-Conv.

``layers`` times X-Conv backends against dense ``nn.Conv2d`` and G-Conv (``groups=C``) of the same
shape, for 1x1 and 3x3 kernels at compressions C: forward+backward (a training step of one layer,
input and weight gradients) and inference (``torch.no_grad`` forward), as a ratio to dense and to
G-Conv.  Rows: ``masked`` / ``gather`` / ``sparse`` / ``auto`` on the paper's channel-level random
expander; ``dense`` / ``G-Conv`` references; ``block`` / ``triton`` (CUDA) / ``auto`` on a block
expander with blocks of ``b`` channels (default ``b = min(32, D/2)``, so the block graph keeps
degree >= 2).

``models`` times whole models of the zoo the same way: dense, G-Conv, X with the paper's
channel-level graphs, and X built from block expanders (``create(name, block_size=b)``; on CUDA
also with every X-layer on the ``triton`` backend).
"""

from __future__ import annotations

import torch
from torch import nn

from ..nn import XConv2d, XLinear
from ..nn.functional import choose_backend
from .timing import measure_all

ROW_HEAD = (
    "| device | kernel | C | D | graph | backend | train ms | /dense | /G | infer ms | /dense | /G "
    "| peak MB |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)
MODEL_HEAD = (
    "| device | model | variant | params M | MACs M | train ms | /dense | /G | infer ms | /dense | /G "
    "| peak MB |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _ratio(t, ref, i):
    return t[i] / ref[i] if ref is not None else float("nan")


def _timing(t, t_dense, t_g) -> dict:
    """Row fields of one measured ``(train s, infer s, peak MB)``: times in ms and ratios to dense and G-Conv."""
    return dict(
        train_ms=t[0] * 1e3,
        infer_ms=t[1] * 1e3,
        peak_mb=t[2],
        train_vs_dense=_ratio(t, t_dense, 0),
        train_vs_g=_ratio(t, t_g, 0),
        infer_vs_dense=_ratio(t, t_dense, 1),
        infer_vs_g=_ratio(t, t_g, 1),
    )


def _fmt_mb(v):
    return "" if v is None else f"{v:.0f}"


def _triton_available(device):
    if device.type == "cuda":
        return True
    try:  # on CPU only through Triton's interpreter (tests)
        from ..nn import triton_block
    except ImportError:
        return False
    return triton_block.INTERPRETED


def layer_cases(device, k, channels, c, block_size=None, channels_last=False):
    """``[(label, graph name, module)]`` of one (kernel, channels, compression) group."""
    d, pad = channels // c, k // 2
    b = block_size or min(32, d // 2)
    cases = [
        ("dense", "dense", nn.Conv2d(channels, channels, k, padding=pad, bias=False)),
        ("G-Conv", "grouped", nn.Conv2d(channels, channels, k, padding=pad, bias=False, groups=c)),
    ]
    for backend in ("masked", "gather", "sparse", "auto"):
        if backend == "sparse" and k != 1:
            continue
        cases.append(
            (
                backend,
                "random",
                XConv2d(channels, channels, k, padding=pad, bias=False, degree=d, seed=0, backend=backend),
            )
        )
    if b >= 2 and d % b == 0 and channels % b == 0:
        backends = ("block", "triton", "auto") if _triton_available(device) else ("block", "auto")
        for backend in backends:
            label = backend if backend != "auto" else "auto "  # a label of its own, same name shown
            cases.append(
                (
                    label,
                    f"block{b}",
                    XConv2d(
                        channels, channels, k, padding=pad, bias=False, degree=d, seed=0, block_size=b, backend=backend
                    ),
                )
            )
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return [(label, graph, m.to(device, memory_format=fmt)) for label, graph, m in cases]


def bench_layers(
    device,
    batch,
    repeats,
    configs,
    compressions,
    slow_s,
    dtype=None,
    channels_last=False,
    block_size=None,
    on_row=None,
    iters=1,
):
    """Rows (dicts) of every case; ``dtype``: autocast dtype (the input is made in it too); each
    timing the mean of ``iters`` calls (:func:`~xnet.bench.timing.measure_all`)."""
    rows = []
    for k, channels, size in configs:
        torch.manual_seed(0)
        x = torch.randn(batch, channels, size, size, device=device)
        if dtype is not None:
            x = x.to(dtype)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        print(
            f"# {k}x{k} conv, {channels}->{channels} channels, {size}x{size}, batch {batch}"
            f"{', ' + str(dtype).replace('torch.', '') if dtype else ''}{', channels_last' if channels_last else ''}",
            flush=True,
        )
        for c in compressions:
            d = channels // c
            cases = layer_cases(device, k, channels, c, block_size, channels_last)
            errors = {}
            times = measure_all([(label, m) for label, _, m in cases], x, device, repeats, slow_s, dtype, errors, iters)
            t_dense, t_g = times.get("dense"), times.get("G-Conv")
            for label, graph, m in cases:
                shown = label.strip()
                if shown == "auto":
                    with torch.no_grad():
                        pick_i = choose_backend(x, m.weight.detach(), m.neighbors, m._fast_block)
                    pick_t = choose_backend(x, m.weight, m.neighbors, m._fast_block)
                    shown = f"auto({pick_t}/{pick_i})" if pick_t != pick_i else f"auto({pick_t})"
                row = dict(
                    device=device.type,
                    k=k,
                    channels=channels,
                    size=size,
                    batch=batch,
                    C=c,
                    D=d,
                    dtype=str(dtype or torch.float32).replace("torch.", ""),
                    channels_last=channels_last,
                    backend=shown,
                    graph=graph,
                    error=errors.get(label),
                )
                if label in times:
                    t = times[label]
                    row.update(_timing(t, t_dense, t_g))
                    print(
                        f"| {device.type} | {k}x{k} | {c:>2} | {d:>3} | {graph:<8} | {shown:<20} | "
                        f"{row['train_ms']:>8.1f} | {row['train_vs_dense']:>5.2f} | {row['train_vs_g']:>5.2f} | "
                        f"{row['infer_ms']:>8.1f} | {row['infer_vs_dense']:>5.2f} | {row['infer_vs_g']:>5.2f} | "
                        f"{_fmt_mb(t[2])} |",
                        flush=True,
                    )
                else:
                    print(f"# {device.type} {k}x{k} C={c} {graph} {shown}: {row['error']}", flush=True)
                rows.append(row)
                if on_row:
                    on_row(row)
    return rows


# (title, input size, batch, [(label, model name, create() overrides)]): the zoo at C = 4 (2 for
# DenseNet-BC-40-24), each model dense, G, X (paper graph) and X from block expanders, all in the
# paper variant (see build_variant).
MODEL_CASES = (
    (
        "MobileNet-0.5, C=4",
        (3, 224, 224),
        32,
        [
            ("dense", "MobileNet-0.5", {}),
            ("G", "G-MobileNet-0.5-4", {}),
            ("X", "X-MobileNet-0.5-4", {}),
            ("X block16", "X-MobileNet-0.5-4", {"block_size": 16}),
        ],
    ),
    (
        "ResNet-50, C=4",
        (3, 224, 224),
        8,
        [
            ("dense", "ResNet-50", {}),
            ("G", "G-ResNet-4-50", {}),
            ("X", "X-ResNet-4-50", {}),
            ("X block16", "X-ResNet-4-50", {"block_size": 16}),
        ],
    ),
    (
        "DenseNet-BC-40-24 (CIFAR), C=2",
        (3, 32, 32),
        64,
        [
            ("dense", "DenseNet-BC-40-24", {}),
            ("G", "densenet_bc_cifar", {"conv": "g", "compression": 2}),
            ("X", "X-DenseNet-BC-40-24-2", {}),
            ("X block8", "X-DenseNet-BC-40-24-2", {"block_size": 8}),
        ],
    ),
)
QUICK_MODEL_CASES = (
    (
        "tiny MobileNet, C=4",
        (3, 32, 32),
        2,
        [
            ("dense", "MobileNet-0.5", {"width": 0.25}),
            ("G", "G-MobileNet-0.5-4", {"width": 0.25}),
            ("X", "X-MobileNet-0.5-4", {"width": 0.25}),
            ("X block8", "X-MobileNet-0.5-4", {"width": 0.25, "block_size": 8}),
        ],
    ),
)


def set_backend(model, backend):
    """Put every X-layer of ``model`` on ``backend`` (``block`` / ``triton``: the layers on block graphs)."""
    for m in model.modules():
        if isinstance(m, (XConv2d, XLinear)) and (backend not in ("block", "triton") or m.block_size > 1):
            m.backend = backend
    return model


def build_variant(name, kw, device, channels_last=False, counts_for=None):
    """``create(name, seed=0, variant="paper", **kw)`` on ``device``; ``kw["backend"]`` puts its
    X-layers on that backend.  The paper variant throughout: block expanders replace the paper's
    graph, so dense / G / X / X-from-blocks are then the same network but for the graph.

    ``counts_for``: an input size (C, H, W); then returns ``(model, meta_counts(model, size))``,
    counted before the model moves to ``device``."""
    from ..models import create

    kw = {"variant": "paper", **kw}
    backend = kw.pop("backend", None)
    model = create(name, seed=0, **kw)
    if backend:
        set_backend(model, backend)
    counts = meta_counts(model, counts_for) if counts_for is not None else None
    model = model.to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    return model if counts_for is None else (model, counts)


def meta_counts(model, size):
    """``profile(model, size)`` (parameters, MACs) on a shape-only copy on the meta device: no
    compute, no kernel of ``model``'s device (its X-layers run ``masked`` there, the one backend
    with meta kernels for every graph; MACs do not depend on the backend)."""
    import copy

    from ..counting import profile

    meta = set_backend(copy.deepcopy(model).to("meta"), "masked")
    return profile(meta, size)


def bench_models(device, cases, repeats, slow_s, dtype=None, channels_last=False, on_row=None, iters=1):
    """Rows (dicts) of every model variant; parameters and MACs counted on the meta device."""
    rows = []
    for title, size, batch, variants in cases:
        torch.manual_seed(0)
        x = torch.randn(batch, *size, device=device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        print(f"# {title}, {size[1]}x{size[2]}, batch {batch}", flush=True)
        built, counts, errors = [], {}, {}
        for label, name, kw in variants:
            try:
                model, counts[label] = build_variant(name, kw, device, channels_last, counts_for=size)
                built.append((label, model))
            except Exception as e:  # noqa: BLE001 - recorded, the other variants go on
                errors[label] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        times = measure_all(built, x, device, repeats, slow_s, dtype, errors, iters)
        t_dense, t_g = times.get("dense"), times.get("G")
        for label, name, _ in variants:
            row = dict(
                device=device.type,
                model=title,
                variant=label,
                name=name,
                batch=batch,
                dtype=str(dtype or torch.float32).replace("torch.", ""),
                channels_last=channels_last,
                error=errors.get(label),
            )
            if label in counts:
                row.update(params=counts[label]["params"], macs=counts[label]["macs"])
            if label in times:
                t = times[label]
                row.update(_timing(t, t_dense, t_g))
                print(
                    f"| {device.type} | {title} | {label} | {row['params'] / 1e6:.3f} | {row['macs'] / 1e6:.1f} | "
                    f"{row['train_ms']:.1f} | {row['train_vs_dense']:.2f} | {row['train_vs_g']:.2f} | "
                    f"{row['infer_ms']:.1f} | {row['infer_vs_dense']:.2f} | {row['infer_vs_g']:.2f} | "
                    f"{_fmt_mb(t[2])} |",
                    flush=True,
                )
            else:
                print(f"# {device.type} {title} {label}: {row['error']}", flush=True)
            rows.append(row)
            if on_row:
                on_row(row)
        del built
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows
