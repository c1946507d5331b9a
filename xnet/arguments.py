"""The argparse pieces every entry point shares (torch-free): one-line usage errors, integer types.

``xnet``, ``python -m xnet.graphs | bench | profile | results`` all report bad arguments the same
way: ``xnet: error: MESSAGE (see PROG --help)`` on one line, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import sys

from .errors import one_line


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line on stderr, ``xnet: error: MESSAGE (see PROG
    --help)``, and exits with status 2 (argparse's default prints the usage first)."""

    def error(self, message):
        print(f"xnet: error: {one_line(message)} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _int(text: str, minimum: int, what: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse ``type``: an integer >= 1 (the error names the argument: ``argument --sizes: ...``)."""
    return _int(text, 1, "a positive integer")


def nonnegative_int(text: str) -> int:
    """argparse ``type``: an integer >= 0."""
    return _int(text, 0, "an integer >= 0")
