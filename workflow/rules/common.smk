# Configuration, experiment matrix and helpers shared by the rules.
import os
import re
import shlex
import sys

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")

REPO = os.path.abspath(workflow.basedir)
sys.path.insert(0, os.path.join(REPO, "workflow", "scripts"))
import wflib  # noqa: E402

SCALE = config["scale"]
SCALE_NAME = SCALE["name"]
RUNS = config["runs_dir"]
RESULTS = config["results_dir"]
FIGURES = config["figures_dir"]
EXPERIMENTS = config["experiments"]
TABLES = [e for e, v in EXPERIMENTS.items() if v["kind"] == "table"]
FIGS = [e for e, v in EXPERIMENTS.items() if v["kind"] == "figure"]


wildcard_constraints:
    scale=re.escape(SCALE_NAME),
    dataset="cifar10|cifar100|imagenet",
    model=r"[A-Za-z0-9][A-Za-z0-9._+-]*",
    seed=r"\d+",
    experiment=r"(table|figure)[A-Za-z0-9_]+",


def metrics_path(model, dataset, seed):
    return f"{wflib.run_dir(config, model, dataset, seed)}/metrics.json"


def experiment_metrics(experiments=None):
    """metrics.json of every (model, dataset, seed) the experiments need, each once."""
    return [metrics_path(m, d, s) for m, d, s in wflib.run_matrix(config, experiments)]


def experiment_datasets(experiments=None):
    return [d for _, d, _ in wflib.run_matrix(config, experiments)]


def all_targets():
    t = [f"{RESULTS}/runs.csv"]
    for e in TABLES:
        t += [f"{RESULTS}/tables/{e}.{x}" for x in ("csv", "md", "tex")]
    for e in FIGS:
        t += [f"{FIGURES}/{e}.{x}" for x in ("png", "pdf")]
    return t


# ---- training command ---------------------------------------------------------------
def train_resources(wildcards):
    res = {"gpu": 0, "mem_mb": 2000, "runtime": 60, "cpus_per_task": config["train"]["threads"]}
    res.update(config["train"]["resources"].get(wildcards.dataset, {}))
    res.update(config["train"]["model_resources"].get(wildcards.model, {}))
    return res


def train_args(wildcards):
    """`xnet train` arguments beyond --model/--dataset/--seed/--out (scale-dependent)."""
    a = ["--dataset", SCALE["datasets"][wildcards.dataset]]
    for key, flag in (("epochs", "--epochs"), ("batch_size", "--batch-size"),
                      ("device", "--device"), ("limit_train_batches", "--limit-train-batches"),
                      ("limit_val_batches", "--limit-val-batches")):
        if SCALE.get(key) is not None:
            a += [flag, str(SCALE[key])]
    data_dir = (SCALE.get("data_dirs") or {}).get(wildcards.dataset)
    if data_dir:
        a += ["--data-dir", data_dir]
    for kv in SCALE.get("set") or []:
        a += ["--set", kv]
    s = " ".join(shlex.quote(x) for x in a)
    extra = config["train"].get("extra_args", "")
    return f"{s} {extra}".strip()
