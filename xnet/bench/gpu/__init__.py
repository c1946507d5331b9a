"""``python -m xnet.bench gpu --out DIR``: the one prepared GPU check (issue 18: the GPU check, v2).

One call of at most ~8 minutes of wall time (``--budget`` seconds for the parts, default 420, and a
watchdog at the budget + 45 s).  Six parts, each in its own try with a time box (a share of what
is left), the ones that matter most and that only a GPU can check first:

1. ``correctness``: every backend of X-Conv (1x1 / 3x3, stride 1 / 2, NCHW / channels_last, with
   and without bias) and X-Linear on output-regular, input-regular (the authors' "original"
   side), block-16 and block-24 graphs against the dense reference in float64: output, input,
   weight and bias gradients; bf16 and fp16 autocast first, then fp32 (TF32 off);
2. ``kernels`` (a subprocess, :mod:`xnet.bench.tune`): every Triton kernel at the library's launch
   parameters, per dtype, block size and kernel size: registers, spills, shared memory, compile
   seconds, time; then a small greedy sweep of the launch parameters (tile sizes, ``num_warps``,
   ``num_stages``) whose winners are the table ``triton_configs.csv``;
3. ``train`` (a subprocess, :mod:`xnet.bench.compare`): a short fp16 training of X-ResNet-4-50
   with blocks of 16, ``triton`` against ``masked``, losses compared step by step;
4. ``layers``: ``bench layers`` at 256-1024 channels, batch 128, bf16 autocast, channels_last;
5. ``models``: ResNet-50 and MobileNet-0.5 at C = 4, dense / G / X / X from blocks (``auto``,
   ``triton``), MACs counted on the meta device;
6. ``projection``: projected GPU-hours of ``config/paper.yaml`` (:mod:`xnet.bench.projection`).

Timing: CUDA events over >= 10 calls (``triton.testing.do_bench`` for the kernels), minimum of
interleaved repeats, ``cudnn.benchmark`` on (as the trainer).  A CUDA error that sticks (the
device no longer synchronises) ends the in-process parts, recorded; the subprocess parts still run.

Output: DIR (new or empty; nothing is overwritten) holds only a few small flat files, rewritten as
the parts go: ``summary.md`` (rewritten after every part, printed at the end), ``status.json``
(machine, versions, status and seconds of every part), ``correctness.csv``, ``kernels.csv``,
``triton_configs.csv``, ``train.csv``, ``timings.csv`` (layers and models) and
``scratch.tar.gz``: the scratch folder (``--scratch``, default a new temporary folder: the log,
the projection tables, the subprocesses' output), without ``*.pt`` and Triton's cache, if under
5 MB (else left out, and the summary says so).  Without a CUDA device it prints one line
(``xnet: error: ...``), writes nothing and exits with status 1.  ``--device cpu --tiny`` (hidden)
runs every part at tiny sizes on CPU (with ``TRITON_INTERPRET=1``, the ``triton`` cases through
Triton's interpreter): the test of this script.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from ..args import Parser, UsageError, positive_float, usage_exit
from ..timing import machine_info
from . import spec
from .check import Check, run_worker
from .parts import FUNCS, correctness_cases
from .spec import (
    FLAT_TABLES,
    MAX_FILE_BYTES,
    MAX_TAR_BYTES,
    OUT_FILES,
    PARTS,
    REPO,
    TOL,
    CudaBroken,
    one_line,
)
from .summary import write_summary

__all__ = [
    "FLAT_TABLES",
    "FUNCS",
    "MAX_FILE_BYTES",
    "MAX_TAR_BYTES",
    "OUT_FILES",
    "PARTS",
    "REPO",
    "TOL",
    "Check",
    "CudaBroken",
    "correctness_cases",
    "main",
    "one_line",
    "run_worker",
    "spec",
    "write_summary",
]


def main(argv=None) -> int:
    argv = list(sys.argv[2:] if argv is None else argv)
    ap = Parser(prog="python -m xnet.bench gpu", description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for the results: new or empty; only small flat files")
    ap.add_argument("--budget", type=positive_float, default=420.0, help="seconds for all parts (default 420)")
    ap.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS), help="run only these parts")
    ap.add_argument("--scratch", default=None, help="folder for everything else (default: a new temporary one)")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help=argparse.SUPPRESS)  # cpu: self-test
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    try:
        args = ap.parse_args(argv)
        if args.device == "cpu" and not args.tiny:
            raise UsageError("--device cpu is the self-test: it needs --tiny")
    except UsageError as e:
        return usage_exit(ap.prog, e)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "xnet: error: bench gpu: no CUDA device here (torch.cuda.is_available() is False); nothing measured, "
            "run it on a GPU machine",
            file=sys.stderr,
        )
        return 1
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(
            f"xnet: error: bench gpu: --out: {out} exists and is not an empty directory (nothing is overwritten)",
            file=sys.stderr,
        )
        return 1
    scratch = Path(args.scratch) if args.scratch else Path(tempfile.mkdtemp(prefix="xnet-gpu-scratch-"))
    if scratch.resolve() == out.resolve() or out.resolve() in scratch.resolve().parents:
        return usage_exit(ap.prog, f"--scratch: {scratch} lies in --out (which holds only the small flat files)")
    if scratch.exists() and (not scratch.is_dir() or any(scratch.iterdir())):
        return usage_exit(ap.prog, f"--scratch: {scratch} exists and is not an empty directory")
    out.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the trainer: cuDNN picks its algorithms per shape
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:  # the triton backend then fails with a one-line error, recorded per case
        triton_version = None
    env = dict(
        command="python -m xnet.bench gpu " + " ".join(argv),
        machine=machine_info(),
        started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (self-test)",
        capability=".".join(map(str, torch.cuda.get_device_capability(device))) if device.type == "cuda" else None,
        torch=torch.__version__,
        cuda=torch.version.cuda,
        triton=triton_version,
        cudnn=torch.backends.cudnn.version() if device.type == "cuda" else None,
        cudnn_benchmark=torch.backends.cudnn.benchmark,
        budget_s=args.budget,
        tiny=args.tiny,
        triton_interpret=os.environ.get("TRITON_INTERPRET"),
    )
    ck = Check(out, scratch, device, args.tiny, args.budget, env)
    ck.write_status()
    write_summary(ck)
    ck.log(f"xnet GPU check on {env['device']}: {env['machine']}; results in {out}, the rest in {scratch}")
    timer = ck.watchdog()
    try:
        ck.run_parts([(p, FUNCS[p]) for p in PARTS if p in args.parts])
        ck.log(f"done in {time.time() - ck.start:.0f} s: {out / 'summary.md'}, the rest in {scratch}")
    finally:
        timer.cancel()
        ck.finish()
    return 0
