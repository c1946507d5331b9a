"""The contract between the trainer and the analysis (torch-free).

- :mod:`xnet.runs.layout`: where a run lives (``RUN_DIR``) and where every workflow output goes.
- :mod:`xnet.runs.files`: a run directory's file names, atomic writes, the run lock.
- :mod:`xnet.runs.identity`: :class:`RunIdentity`, what a run directory may hold, and how two compare.
- :mod:`xnet.runs.record`: :class:`RunRecord`, what a finished run was and achieved (``metrics.json``).

:mod:`xnet.training` writes runs through this package and :mod:`xnet.results` reads them through
it; neither imports the other.
"""

from .files import CHECKPOINT, LOCK, LOG, METRICS
from .identity import RunIdentity, differs
from .layout import RUN_DIR, Layout, parse_run_dir, run_dir
from .record import RunRecord

__all__ = [
    "CHECKPOINT",
    "LOCK",
    "LOG",
    "METRICS",
    "RUN_DIR",
    "Layout",
    "RunIdentity",
    "RunRecord",
    "differs",
    "parse_run_dir",
    "run_dir",
]
