"""The argument helpers of the benchmark commands (``python -m xnet.bench``, its ``gpu`` check and
the workers ``xnet.bench.tune`` / ``xnet.bench.compare``): a usage error is one line on stderr and
exit status 2."""

from __future__ import annotations

import argparse
import sys

import torch


class UsageError(Exception):
    """Bad arguments of ``python -m xnet.bench``: one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (``xnet: error: bench ...``), exit status 2."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def usage_exit(prog, e) -> int:
    print(f"xnet: error: {prog.removeprefix('python -m xnet.')}: {e}", file=sys.stderr)
    return 2


def positive_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def positive_float(s):
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {s!r}") from None
    if not (0 < v < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {s!r}")
    return v


def _shape(s):
    try:
        k, c, size = (int(v) for v in s.split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected KxCxS (kernel x channels x size), got {s!r}") from None
    if min(k, c, size) < 1:
        raise argparse.ArgumentTypeError(f"expected positive KxCxS (kernel x channels x size), got {s!r}")
    return k, c, size


def _device(s):
    try:
        dev = torch.device(s)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"expected cpu or cuda[:N], got {s!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"expected cpu or cuda[:N], got {s!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{s!r}: no CUDA device here (torch.cuda.is_available() is False)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{s!r}: this machine has {torch.cuda.device_count()} CUDA devices")
    return s
