"""Short mixed-precision training of one block X-model, ``triton`` against ``masked``, step by step
(part ``train`` of ``python -m xnet.bench gpu``, run in a subprocess of its own).

``python -m xnet.bench.compare --out FILE [--model X-ResNet-4-50] [--block-size 16] [--steps 30]
[--batch 32] [--size 128] [--dtype float16] [--budget S] [--device cuda|cpu]`` builds the
model twice from the same seed (weights and graphs), puts every block X-layer of one copy on the
``triton`` backend and every X-layer of the other on ``masked`` (the dense reference with the
graph as a mask), and trains both on the same synthetic batches as the trainer does on CUDA:
autocast (fp16 with a GradScaler by default), channels_last, ``cudnn.benchmark``, SGD with
momentum.  One JSON line per step goes to FILE as it is measured: both losses, their relative
difference, the GradScaler's scale and each step's time (CUDA events).  The two runs differ only
in the order of the additions (and so in rounding), so their losses agree closely on the first
steps and may drift apart slowly after.
"""

from __future__ import annotations

import json
import sys
import time

import torch


def _step_time(fn, device):
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        out = fn()
        end.record()
        end.synchronize()
        return out, start.elapsed_time(end)
    t0 = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t0) * 1e3


def tiny_model(block_size, num_classes, seed=0):
    """Stem, two block X-Convs (3x3 stride 2 with a bias, 1x1), pooling, linear: the CPU test's model."""
    from torch import nn

    from ..nn import XConv2d

    c = 2 * block_size
    return nn.Sequential(
        nn.Conv2d(3, c, 3, padding=1, bias=False),
        nn.BatchNorm2d(c),
        nn.ReLU(),
        XConv2d(c, c, 3, 2, 1, degree=block_size, block_size=block_size, seed=seed),
        nn.BatchNorm2d(c),
        nn.ReLU(),
        XConv2d(c, c, 1, degree=block_size, block_size=block_size, seed=seed + 1, bias=False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(c, num_classes),
    )


def build(name, kw, backend, device, seed=0):
    """``name`` (a zoo model) with ``kw``, or ``tiny`` (:func:`tiny_model`), X-layers on ``backend``."""
    from ..nn import XConv2d, XLinear
    from .layers import build_variant

    torch.manual_seed(seed)  # the same weights for both copies (create() seeds the graphs)
    cl = device.type == "cuda"
    if name == "tiny":
        fmt = torch.channels_last if cl else torch.contiguous_format
        model = tiny_model(kw["block_size"], kw["num_classes"], seed).to(device, memory_format=fmt)
    else:
        model = build_variant(name, dict(kw), device, channels_last=cl)
    n = 0
    for m in model.modules():
        if isinstance(m, (XConv2d, XLinear)) and (backend == "masked" or m.block_size > 1):
            m.backend = backend
            n += 1
    return model, n


def run(args, log=print):
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    kw = {"block_size": args.block_size, "num_classes": args.classes}
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the trainer
    models, counts = {}, {}
    for backend in ("triton", "masked"):
        models[backend], counts[backend] = build(args.model, kw, backend, device)
    if counts["triton"] == 0:
        raise ValueError(f"{args.model} with block_size={args.block_size} has no block X-layer for 'triton'")
    log(f"compare: {args.model} block {args.block_size}: {counts['triton']} X-layers on triton, {args.dtype}")
    opts = {b: torch.optim.SGD(m.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4) for b, m in models.items()}
    use_scaler = dtype == torch.float16 and device.type == "cuda"
    scalers = {b: torch.amp.GradScaler(device.type, enabled=use_scaler) for b in models}
    gen = torch.Generator().manual_seed(1)
    deadline = time.time() + args.budget
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    for step in range(args.steps):
        if time.time() > deadline:
            log(f"compare: time box reached after {step} steps")
            break
        x = torch.randn(args.batch, 3, args.size, args.size, generator=gen).to(device, memory_format=fmt)
        y = torch.randint(args.classes, (args.batch,), generator=gen).to(device)
        row = dict(step=step)
        for backend, model in models.items():
            opt, scaler = opts[backend], scalers[backend]

            def step_fn(model=model, opt=opt, scaler=scaler, x=x, y=y):
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                return loss.detach()

            loss, ms = _step_time(step_fn, device)
            row[f"loss_{backend}"] = float(loss)
            row[f"ms_{backend}"] = ms
            row[f"scale_{backend}"] = float(scalers[backend].get_scale()) if use_scaler else None
        row["rel_diff"] = abs(row["loss_triton"] - row["loss_masked"]) / max(abs(row["loss_masked"]), 1e-12)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")
        log(
            f"  step {step}: loss triton {row['loss_triton']:.5f} masked {row['loss_masked']:.5f} "
            f"(rel diff {row['rel_diff']:.2e}), {row['ms_triton']:.1f} / {row['ms_masked']:.1f} ms"
        )


def main(argv=None) -> int:
    from .args import Parser, UsageError, _device, positive_float, positive_int, usage_exit

    ap = Parser(prog="python -m xnet.bench.compare", description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="file the JSON lines are appended to")
    ap.add_argument("--model", default="X-ResNet-4-50", help="a zoo model, or tiny (two X-Convs, for tests)")
    ap.add_argument("--block-size", type=positive_int, default=16)
    ap.add_argument("--steps", type=positive_int, default=30)
    ap.add_argument("--batch", type=positive_int, default=32)
    ap.add_argument("--size", type=positive_int, default=128, help="input height and width")
    ap.add_argument("--classes", type=positive_int, default=100)
    ap.add_argument("--lr", type=positive_float, default=0.05)
    ap.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], default="float16")
    ap.add_argument("--budget", type=positive_float, default=60.0, help="seconds (default 60)")
    ap.add_argument("--device", type=_device, default="cuda")
    try:
        args = ap.parse_args(argv)
        if args.block_size < 2:
            raise UsageError(f"--block-size {args.block_size}: the triton backend needs block graphs (>= 2)")
    except UsageError as e:
        return usage_exit(ap.prog, e)
    from ..nn import triton_block

    if args.device == "cpu" and not triton_block.INTERPRETED:
        return usage_exit(ap.prog, "--device cpu runs through Triton's interpreter: set TRITON_INTERPRET=1")
    try:
        run(args)
    except Exception as e:  # noqa: BLE001 - one line for the GPU check's record
        print(
            f"xnet: error: bench.compare: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
