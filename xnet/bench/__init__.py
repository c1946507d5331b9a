"""Benchmarks (scripts, not tests): ``python -m xnet.bench layers | models | gpu``.

- ``layers``: X-Conv backends against dense and G-Conv, per layer (:mod:`xnet.bench.layers`);
- ``models``: whole models of the zoo, dense / G / X / X from blocks (:mod:`xnet.bench.layers`);
- ``gpu --out DIR``: the one prepared GPU check (:mod:`xnet.bench.gpu`): correctness of every
  backend on CUDA, layers and models at realistic sizes, short training runs, peak memory and the
  projected GPU-hours of ``config/paper.yaml``, all written under DIR.
"""

from __future__ import annotations

import os
import sys
import time

import torch

from .args import Parser, UsageError, _device, _shape, positive_float, positive_int, usage_exit
from .layers import MODEL_CASES, MODEL_HEAD, QUICK_MODEL_CASES, ROW_HEAD, bench_layers, bench_models
from .timing import machine_info

__all__ = [
    "main",
    "bench_layers",
    "bench_models",
    "machine_info",
    "MODEL_CASES",
    "QUICK_MODEL_CASES",
    "Parser",
    "UsageError",
    "positive_float",
    "positive_int",
    "usage_exit",
]

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
LAYERS_ONLY = ("batch", "compressions", "shapes", "block_size")


def _check(args):
    """The combinations argparse cannot check, as a one-line UsageError."""
    if args.what == "gpu":
        raise UsageError("`gpu` comes first: python -m xnet.bench gpu --out DIR [options]")
    given = [f"--{a.replace('_', '-')}" for a in LAYERS_ONLY if getattr(args, a) is not None]
    if args.what == "models" and given:
        raise UsageError(f"{', '.join(given)}: options of `layers`; `models` times the zoo's fixed cases")
    if args.what == "models":
        return
    if args.quick and (args.batch is not None or args.shapes is not None):
        raise UsageError("--quick sets its own shapes and batch (tiny ones); drop --batch / --shapes or --quick")
    shapes = args.shapes or ([(1, 512, 14), (3, 256, 14)] if not args.quick else [(1, 32, 6), (3, 32, 6)])
    for k, channels, _ in shapes:
        for c in args.compressions or [2, 4, 8, 16]:
            if channels % c or c > channels:
                raise UsageError(f"--compressions {c}: does not divide the {channels} channels of shape {k}x{channels}")
            if args.block_size is not None and (args.block_size < 2 or (channels // c) % args.block_size):
                raise UsageError(
                    f"--block-size {args.block_size}: a block graph needs a block size >= 2 dividing the degree "
                    f"D = {channels // c} ({channels} channels / C = {c})"
                )


def args_what(argv):
    return next((a for a in argv if a in ("layers", "models", "gpu")), "")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gpu"]:
        from .gpu import main as gpu_main

        return gpu_main(argv[1:])
    ap = Parser(
        prog="python -m xnet.bench", description="xnet benchmarks: layers | models | gpu --out DIR (see gpu --help)"
    )
    ap.add_argument("what", choices=["layers", "models", "gpu"], help="what to time (or: gpu --out DIR, the GPU check)")
    ap.add_argument("--device", type=_device, nargs="+", default=None, help="devices (default: cpu, and cuda if any)")
    ap.add_argument("--batch", type=positive_int, default=None, help="layers: batch size (default 32)")
    ap.add_argument("--repeats", type=positive_int, default=3)
    ap.add_argument("--compressions", type=positive_int, nargs="+", default=None, help="layers: default 2 4 8 16")
    ap.add_argument(
        "--shapes",
        type=_shape,
        nargs="+",
        default=None,
        help="layers: KxCxS groups (kernel x channels x spatial size), default 1x512x14 3x256x14",
    )
    ap.add_argument("--block-size", type=positive_int, default=None, help="layers: block size of the block graphs")
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
        type=positive_float,
        default=None,
        help="seconds: a case whose warm-up call is slower than this is timed by that call alone "
        "(default 1 for layers, 60 for models)",
    )
    ap.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch CPU threads (default: torch's); 1 gives stable ratios on a busy machine",
    )
    try:
        args = ap.parse_args(argv)
        _check(args)
    except UsageError as e:
        return usage_exit(ap.prog + (f" {args_what(argv)}" if args_what(argv) else ""), e)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    configs = args.shapes or ([(1, 512, 14), (3, 256, 14)] if not args.quick else [(1, 32, 6), (3, 32, 6)])
    compressions = args.compressions or [2, 4, 8, 16]
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
                2 if args.quick else (args.batch or 32),
                args.repeats,
                configs,
                compressions,
                slow,
                dtype,
                args.channels_last,
                args.block_size,
            )
    print(f"\ntotal {time.time() - t0:.0f} s, load average at end: {os.getloadavg()[0]:.1f}")
    return 0
