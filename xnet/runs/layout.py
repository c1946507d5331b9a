"""Where runs and results live: the one template of a run directory and of every workflow output.

Torch-free.  A run's directory holds its identity::

    {runs_dir}/{scale}/{paper_dataset}/{model}/{variant}/seed{seed}/metrics.json

``scale`` is the configuration's scale name (``smoke``, ``paper``), ``paper_dataset`` the paper's
dataset (``cifar10``, ``cifar100``, ``imagenet``; the scale says which dataset the trainer is given
for it, the run record's ``dataset``), ``model`` the canonical name of :func:`xnet.models.create`,
``variant`` ``original`` or ``paper``.  Runs of another scale or variant never share a directory.

The outputs, under ``results_dir`` (default ``results``) and ``figures_dir`` (``figures``):
``runs.csv`` (every run), ``runs/{experiment}.csv`` (the runs of one table / figure),
``tables/{table}.{csv,md,tex}``, ``tables/claims.{csv,md}``, ``{figure}.{png,pdf,csv}``,
``curves/*.png`` and the workflow's logs in ``logs/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .files import METRICS

RUN_DIR = "{runs_dir}/{scale}/{paper_dataset}/{model}/{variant}/seed{seed}"
_RUN_RE = re.compile(
    r"(?:^|/)(?P<scale>[^/]+)/(?P<paper_dataset>[^/]+)/(?P<model>[^/]+)/(?P<variant>[^/]+)"
    r"/seed(?P<seed>\d+)(?:/" + re.escape(METRICS) + ")?/?$"
)


def run_dir(runs_dir: str, scale: str, paper_dataset: str, model: str, variant: str, seed: int | str) -> str:
    """The directory of one run (a Snakemake wildcard such as ``"{seed}"`` may stand for any field)."""
    return RUN_DIR.format(
        runs_dir=runs_dir, scale=scale, paper_dataset=paper_dataset, model=model, variant=variant, seed=seed
    )


def metrics_path(runs_dir: str, scale: str, paper_dataset: str, model: str, variant: str, seed: int | str) -> str:
    """The run record of one run: ``run_dir(...)/metrics.json``."""
    return f"{run_dir(runs_dir, scale, paper_dataset, model, variant, seed)}/{METRICS}"


def parse_run_dir(path: str) -> dict:
    """What a run directory (or its metrics.json) names: scale, paper_dataset, model, variant, seed.

    ``ValueError`` if ``path`` does not follow :data:`RUN_DIR`.
    """
    m = _RUN_RE.search(str(path).replace("\\", "/"))
    if not m:
        raise ValueError(f"{path}: not a run directory of the form {RUN_DIR}")
    d = m.groupdict()
    d["seed"] = int(d["seed"])
    return d


@dataclass(frozen=True)
class Layout:
    """The output directories of a workflow configuration (``runs_dir``, ``results_dir``, ``figures_dir``)."""

    runs_dir: str = "runs"
    results_dir: str = "results"
    figures_dir: str = "figures"

    def run_dir(self, scale, paper_dataset, model, variant, seed) -> str:
        return run_dir(self.runs_dir, scale, paper_dataset, model, variant, seed)

    def metrics(self, scale, paper_dataset, model, variant, seed) -> str:
        return metrics_path(self.runs_dir, scale, paper_dataset, model, variant, seed)

    def train_log(self, scale, paper_dataset, model, variant, seed) -> str:
        """Snakemake's log of the job that trained a run (the trainer's own log is ``train.log``)."""
        return f"{self.run_dir(scale, paper_dataset, model, variant, seed)}/snakemake_train.log"

    @property
    def runs_csv(self) -> str:
        return f"{self.results_dir}/runs.csv"

    def experiment_runs(self, experiment: str) -> str:
        return f"{self.results_dir}/runs/{experiment}.csv"

    def table(self, name: str, ext: str) -> str:
        return f"{self.results_dir}/tables/{name}.{ext}"

    def claims(self, ext: str) -> str:
        return f"{self.results_dir}/tables/claims.{ext}"

    def figure(self, name: str, ext: str) -> str:
        return f"{self.figures_dir}/{name}.{ext}"

    @property
    def curves_dir(self) -> str:
        return f"{self.figures_dir}/curves"

    def log(self, name: str) -> str:
        """The log of one workflow step (``gather``, ``table4``, ``claims``, ...)."""
        return f"{self.results_dir}/logs/{name}.log"
