"""The errors xnet reports to a user as one line (``xnet: error: ...``) and a non-zero exit.

Torch-free, so the workflow and the analysis side can import them.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user, or a run that cannot go on: one line, exit status 2, no traceback."""


class RunDiverged(UserError):
    """The training or validation loss, or the weights, became non-finite: no result is written."""


class RunLocked(UserError):
    """Another live process holds the run directory's lock."""


class RecordError(UserError):
    """A run record (metrics.json) is missing, not JSON, or does not follow the schema."""


def one_line(message: object, sep: str = "; ") -> str:
    """``message`` on one line: its lines joined with ``sep`` (blank lines and indentation dropped)."""
    parts = [p.strip() for p in str(message).splitlines()]
    text = sep.join(p for p in parts if p)
    return text.replace(":" + sep, ": ")
