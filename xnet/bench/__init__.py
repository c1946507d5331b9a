"""Benchmarks (scripts, not tests): ``python -m xnet.bench layers | models | gpu``.

- ``layers``: X-Conv backends against dense and G-Conv, per layer (:mod:`xnet.bench.layers`);
- ``models``: whole models of the zoo, dense / G / X / X from blocks (:mod:`xnet.bench.layers`);
- ``gpu --out DIR``: the one prepared GPU check (:mod:`xnet.bench.gpu`): correctness of every
  backend on CUDA, layers and models at realistic sizes, short training runs, peak memory and the
  projected GPU-hours of ``config/paper.yaml``, all written under DIR.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

from .layers import MODEL_CASES, MODEL_HEAD, QUICK_MODEL_CASES, ROW_HEAD, bench_layers, bench_models
from .timing import machine_info

__all__ = ["main", "bench_layers", "bench_models", "machine_info", "MODEL_CASES", "QUICK_MODEL_CASES"]

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _shape(s):
    try:
        k, c, size = (int(v) for v in s.split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected KxCxS (kernel x channels x size), got {s!r}") from None
    return k, c, size


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gpu"]:
        from .gpu import main as gpu_main

        return gpu_main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m xnet.bench", description="xnet benchmarks (see also: gpu --out DIR)")
    ap.add_argument("what", choices=["layers", "models"])
    ap.add_argument("--device", nargs="+", default=None, help="devices (default: cpu, and cuda if present)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compressions", type=int, nargs="+", default=[2, 4, 8, 16])
    ap.add_argument(
        "--shapes",
        type=_shape,
        nargs="+",
        default=None,
        help="layers: KxCxS groups (kernel x channels x spatial size), default 1x512x14 3x256x14",
    )
    ap.add_argument("--block-size", type=int, default=None, help="layers: block size of the block graphs")
    ap.add_argument(
        "--dtype",
        choices=list(DTYPES),
        default="float32",
        help="autocast dtype (mixed precision; default float32: no autocast)",
    )
    ap.add_argument("--channels-last", action="store_true", help="channels_last inputs and weights")
    ap.add_argument("--quick", action="store_true", help="tiny shapes, to check that it runs")
    ap.add_argument(
        "--slow",
        type=float,
        default=None,
        help="seconds: a case whose warm-up call is slower than this is timed by that call alone "
        "(default 1 for layers, 60 for models)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's); 1 gives stable ratios on a busy machine",
    )
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    configs = args.shapes or ([(1, 512, 14), (3, 256, 14)] if not args.quick else [(1, 32, 6), (3, 32, 6)])
    dtype = None if args.dtype == "float32" else DTYPES[args.dtype]
    print(machine_info())
    print(f"command: python -m xnet.bench {' '.join(argv)}")
    print(
        f"load average at start: {os.getloadavg()[0]:.1f}; times are the minimum over interleaved "
        f"repeats; ratios < 1 are faster than the reference\n"
    )
    slow = args.slow if args.slow is not None else (60.0 if args.what == "models" else 1.0)
    t0 = time.time()
    if args.what == "models":
        print(MODEL_HEAD)
        for dev in devices:
            bench_models(
                torch.device(dev),
                QUICK_MODEL_CASES if args.quick else MODEL_CASES,
                args.repeats,
                slow,
                dtype,
                args.channels_last,
            )
    else:
        print(ROW_HEAD)
        for dev in devices:
            bench_layers(
                torch.device(dev),
                args.batch if not args.quick else 2,
                args.repeats,
                configs,
                args.compressions,
                slow,
                dtype,
                args.channels_last,
                args.block_size,
            )
    print(f"\ntotal {time.time() - t0:.0f} s, load average at end: {os.getloadavg()[0]:.1f}")
    return 0
