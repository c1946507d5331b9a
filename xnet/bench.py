"""Benchmarks (scripts, not tests).

``python -m xnet.bench layers`` times X-Conv backends against dense ``nn.Conv2d`` and G-Conv
(``groups=C``) of the same shape, for 1x1 and 3x3 kernels at compressions C in {2, 4, 8, 16}:
forward+backward (training step of one layer, input and weight gradients) and inference
(``torch.no_grad`` forward), as a ratio to dense and to G-Conv.  It runs on CPU and, where there is
one, on CUDA.  Rows:

- ``masked`` / ``gather`` / ``sparse`` / ``auto`` on the paper's channel-level random expander;
- ``dense`` / ``G-Conv`` references (ratio 1 by definition in their own column);
- ``block`` / ``auto`` on a block expander with blocks of ``b`` channels (``b = min(32, D/2)``, so the
  block graph keeps degree >= 2), the GEMM-friendly variant.

``python -m xnet.bench models`` times whole models of the zoo the same way (one training step:
forward + backward; and inference): dense, G-Conv, X with the paper's channel-level graphs, and X
built from block expanders (``create(name, block_size=b)``), as a ratio to dense and to G.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch
from torch import nn

from .nn import XConv2d
from .nn.functional import choose_backend


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _train_step(module, x, grads):
    module.zero_grad(set_to_none=True)
    xx = x.detach().requires_grad_(True)
    y = module(xx)
    key = id(module)
    if key not in grads:
        grads[key] = torch.randn_like(y)
    y.backward(grads[key])


def _infer(module, x):
    with torch.no_grad():
        module(x)


def _timed(fn, device):
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def _measure_all(cases, x, device, repeats, slow_s):
    """Time every case's training step and inference, interleaved round-robin, keeping the minimum.

    Interleaving and the minimum make the ratios robust to other load on the machine.  A case whose
    first (warm-up) call takes longer than ``slow_s`` is timed by that call alone.
    """
    grads = {}
    best = {}
    for label, module in cases:  # warm-up
        tt = _timed(lambda: _train_step(module, x, grads), device)
        ti = _timed(lambda: _infer(module, x), device)
        best[label] = [tt, ti, tt > slow_s or ti > slow_s]
    for _ in range(repeats):
        for label, module in cases:
            if best[label][2]:
                continue
            best[label][0] = min(best[label][0], _timed(lambda: _train_step(module, x, grads), device))
            best[label][1] = min(best[label][1], _timed(lambda: _infer(module, x), device))
    return {k: (v[0], v[1]) for k, v in best.items()}


def bench_layers(device, batch, repeats, configs, compressions, slow_s):
    rows = []
    for k, channels, size in configs:
        torch.manual_seed(0)
        x = torch.randn(batch, channels, size, size, device=device)
        pad = k // 2
        print(f"# {k}x{k} conv, {channels}->{channels} channels, {size}x{size}, batch {batch}", flush=True)
        for c in compressions:
            d = channels // c
            b = min(32, d // 2)
            cases = [("dense", nn.Conv2d(channels, channels, k, padding=pad, bias=False).to(device)),
                     ("G-Conv", nn.Conv2d(channels, channels, k, padding=pad, bias=False, groups=c).to(device))]
            graphs = {"dense": "dense", "G-Conv": "grouped"}
            for backend in ("masked", "gather", "sparse", "auto"):
                if backend == "sparse" and k != 1:
                    continue
                m = XConv2d(channels, channels, k, padding=pad, bias=False, degree=d, seed=0,
                            backend=backend).to(device)
                label = backend if backend != "auto" else "auto"
                cases.append((label, m))
                graphs[label] = "random"
            if b >= 2:
                for backend in ("block", "auto"):
                    m = XConv2d(channels, channels, k, padding=pad, bias=False, degree=d, seed=0, block_size=b,
                                backend=backend).to(device)
                    label = backend if backend != "auto" else "auto "
                    cases.append((label, m))
                    graphs[label] = f"block{b}"
            times = _measure_all(cases, x, device, repeats, slow_s)
            t_dense, t_g = times["dense"], times["G-Conv"]
            for label, m in cases:
                t = times[label]
                shown = label.strip()
                if shown == "auto":
                    w = m.weight
                    with torch.no_grad():
                        pick_i = choose_backend(x, w.detach(), m.neighbors, m._fast_block)
                    pick_t = choose_backend(x.requires_grad_(False), w, m.neighbors, m._fast_block)
                    shown = f"auto({pick_t}/{pick_i})" if pick_t != pick_i else f"auto({pick_t})"
                row = dict(device=device.type, k=k, channels=channels, size=size, batch=batch, C=c, D=d,
                           backend=shown, graph=graphs[label], train_ms=t[0] * 1e3, infer_ms=t[1] * 1e3,
                           train_vs_dense=t[0] / t_dense[0], train_vs_g=t[0] / t_g[0],
                           infer_vs_dense=t[1] / t_dense[1], infer_vs_g=t[1] / t_g[1])
                rows.append(row)
                print(f"| {device.type} | {k}x{k} | {c:>2} | {d:>3} | {graphs[label]:<8} | {shown:<20} | "
                      f"{row['train_ms']:>8.1f} | {row['train_vs_dense']:>5.2f} | {row['train_vs_g']:>5.2f} | "
                      f"{row['infer_ms']:>8.1f} | {row['infer_vs_dense']:>5.2f} | {row['infer_vs_g']:>5.2f} |",
                      flush=True)
    return rows


# (title, input size, batch, [(variant, model name, create() overrides)]): the zoo at C = 4 (2 for
# DenseNet-BC-40-24), each model dense, G, X (paper) and X from block expanders.
MODEL_CASES = (
    ("MobileNet-0.5, C=4", (3, 224, 224), 32,
     [("dense", "MobileNet-0.5", {}), ("G", "G-MobileNet-0.5-4", {}), ("X", "X-MobileNet-0.5-4", {}),
      ("X block16", "X-MobileNet-0.5-4", {"block_size": 16})]),
    ("ResNet-50, C=4", (3, 224, 224), 8,
     [("dense", "ResNet-50", {}), ("G", "G-ResNet-4-50", {}), ("X", "X-ResNet-4-50", {}),
      ("X block16", "X-ResNet-4-50", {"block_size": 16})]),
    ("DenseNet-BC-40-24 (CIFAR), C=2", (3, 32, 32), 64,
     [("dense", "DenseNet-BC-40-24", {}), ("G", "densenet_bc_cifar", {"conv": "g", "compression": 2}),
      ("X", "X-DenseNet-BC-40-24-2", {}), ("X block8", "X-DenseNet-BC-40-24-2", {"block_size": 8})]),
)
QUICK_MODEL_CASES = (
    ("tiny MobileNet, C=4", (3, 32, 32), 2,
     [("dense", "MobileNet-0.5", {"width": 0.25}), ("G", "G-MobileNet-0.5-4", {"width": 0.25}),
      ("X", "X-MobileNet-0.5-4", {"width": 0.25}), ("X block8", "X-MobileNet-0.5-4", {"width": 0.25, "block_size": 8})]),
)


def bench_models(device, cases, repeats, slow_s):
    from . import profile
    from .models import create
    rows = []
    for title, size, batch, variants in cases:
        torch.manual_seed(0)
        x = torch.randn(batch, *size, device=device)
        print(f"# {title}, {size[1]}x{size[2]}, batch {batch}", flush=True)
        built = [(label, create(name, seed=0, **kw).to(device)) for label, name, kw in variants]
        times = _measure_all(built, x, device, repeats, slow_s)
        t_dense, t_g = times["dense"], times["G"]
        for (label, name, kw), (_, model) in zip(variants, built):
            t, counts = times[label], profile(model, size)
            row = dict(device=device.type, model=title, variant=label, name=name, params=counts["params"],
                       macs=counts["macs"], train_ms=t[0] * 1e3, infer_ms=t[1] * 1e3,
                       train_vs_dense=t[0] / t_dense[0], train_vs_g=t[0] / t_g[0],
                       infer_vs_dense=t[1] / t_dense[1], infer_vs_g=t[1] / t_g[1])
            rows.append(row)
            print(f"| {device.type} | {title} | {label} | {row['params'] / 1e6:.3f} | {row['macs'] / 1e6:.1f} | "
                  f"{row['train_ms']:.1f} | {row['train_vs_dense']:.2f} | {row['train_vs_g']:.2f} | "
                  f"{row['infer_ms']:.1f} | {row['infer_vs_dense']:.2f} | {row['infer_vs_g']:.2f} |", flush=True)
    return rows


def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    s = f"CPU: {cpu}, torch threads: {torch.get_num_threads()}, torch {torch.__version__}, python {sys.version.split()[0]}"
    if torch.cuda.is_available():
        s += f", CUDA: {torch.cuda.get_device_name(0)}"
    return s


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m xnet.bench", description="xnet benchmarks")
    ap.add_argument("what", choices=["layers", "models"])
    ap.add_argument("--device", nargs="+", default=None, help="devices (default: cpu, and cuda if present)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compressions", type=int, nargs="+", default=[2, 4, 8, 16])
    ap.add_argument("--quick", action="store_true", help="tiny shapes, to check that it runs")
    ap.add_argument("--slow", type=float, default=None,
                    help="seconds: a case whose warm-up call is slower than this is timed by that call alone "
                         "(default 1 for layers, 60 for models)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: torch's); 1 gives stable ratios on a busy machine")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    configs = [(1, 512, 14), (3, 256, 14)] if not args.quick else [(1, 32, 6), (3, 32, 6)]
    print(machine_info())
    print(f"command: python -m xnet.bench {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"load average at start: {os.getloadavg()[0]:.1f}; times are the minimum over interleaved "
          f"repeats; ratios < 1 are faster than the reference\n")
    slow = args.slow if args.slow is not None else (60.0 if args.what == "models" else 1.0)
    t0 = time.time()
    if args.what == "models":
        print("| device | model | variant | params M | MACs M | train ms | /dense | /G | infer ms | /dense | /G |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for dev in devices:
            bench_models(torch.device(dev), QUICK_MODEL_CASES if args.quick else MODEL_CASES, args.repeats, slow)
    else:
        print("| device | kernel | C | D | graph | backend | train ms | /dense | /G | infer ms | /dense | /G |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for dev in devices:
            bench_layers(torch.device(dev), args.batch if not args.quick else 2, args.repeats, configs,
                         args.compressions, slow)
    print(f"\ntotal {time.time() - t0:.0f} s, load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
