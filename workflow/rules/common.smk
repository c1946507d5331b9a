# The configuration: its shape checked by the schema, its values by the package
# (workflow/scripts/wfconfig.py: a configuration that cannot run stops `snakemake -n` with one
# line naming the key), the selected part of the paper's experiment matrix
# (xnet.results.experiments) and the paths (xnet.runs.layout).
import json
import os
import shlex
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

REPO = os.path.abspath(workflow.basedir)
for _p in (REPO, os.path.join(REPO, "workflow", "scripts")):
    if _p not in sys.path:
        sys.path.insert(0, _p)  # the package from a clone without `pip install -e .`; wfconfig

validate(config, schema="../schemas/config.schema.yaml")

import wfconfig  # noqa: E402

try:
    PLAN = wfconfig.check(config)
except wfconfig.ConfigError as e:
    raise WorkflowError(f"config {e}") from None

SCALE = PLAN.scale
SCALE_NAME = SCALE["name"]
VARIANT = PLAN.variant
LAYOUT = PLAN.layout
EXPERIMENTS = PLAN.experiments
TABLES = [e for e, x in EXPERIMENTS.items() if x.kind == "table"]
FIGS = [e for e, x in EXPERIMENTS.items() if x.kind == "figure"]
PUBLISHED_CSVS = PLAN.published_csvs()
EXPECT = json.dumps(PLAN.expected(), separators=(",", ":"))  # what gather checks each record against


wildcard_constraints:
    scale=SCALE_NAME.replace(".", r"\."),
    paper_dataset="|".join(sorted(SCALE["datasets"])),
    model=r"[A-Za-z0-9][A-Za-z0-9._+-]*",
    variant=VARIANT,
    seed=r"\d+",


def all_targets():
    """Every result, and every run record: a deleted metrics.json is then a missing target, so a
    plain `snakemake` retrains that run (and remakes what depends on it).  Were the records only
    inputs of gather, Snakemake would see gather's output up to date and do nothing."""
    t = [LAYOUT.runs_csv, *PLAN.experiment_metrics()]
    for e in TABLES:
        t += [LAYOUT.table(e, x) for x in ("csv", "md", "tex")]
    for e in FIGS:
        t += [LAYOUT.figure(e, x) for x in ("png", "pdf")]
    return t + [LAYOUT.claims("csv"), LAYOUT.claims("md"), LAYOUT.curves_dir]


def results_cmd(args):
    """Shell command: `python -m xnet.results ARGS` (the analysis, torch-free), its output in the
    rule's log; on failure the log's last lines (the one-line `xnet: error: ...`) reach the console."""
    repo = shlex.quote(REPO).replace("{", "{{").replace("}", "}}")
    return (
        f"PYTHONPATH={repo}${{{{PYTHONPATH:+:$PYTHONPATH}}}} python -m xnet.results {args}"
        " > {log:q} 2>&1 || (tail -n 3 {log:q} >&2; exit 1)"
    )


def train_resources(wildcards):
    return PLAN.resources(wildcards.paper_dataset, wildcards.model)


def train_args(wildcards):
    return PLAN.train_args(wildcards.paper_dataset, wildcards.model)
