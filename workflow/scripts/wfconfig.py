"""The workflow's configuration checked against the package, and what the rules derive from it.

Imported by ``workflow/rules/common.smk`` when Snakemake parses the Snakefile (after the JSON
Schema ``workflow/schemas/config.schema.yaml`` checked the shape).  Every value that the package
decides is asked of the package: model names (:func:`xnet.models.resolve`), the variant, datasets
(:mod:`xnet.data.catalog`), the trainer's options and ``--set`` pairs
(:func:`xnet.training.config.train_args`, :func:`~xnet.training.config.check_set_pairs`) and the
published files (:func:`xnet.results.published.path`).  A configuration that cannot run stops
``snakemake -n`` with one line naming the key (:class:`ConfigError`), not a job that fails hours
later.  No Snakemake import: the tests call :func:`check` directly.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from xnet.errors import UserError, one_line
from xnet.results import experiments as xexp
from xnet.runs.layout import Layout

# scale keys that are `xnet train` options of the same name (xnet.training.config.TrainConfig)
SCALE_OPTIONS = ("epochs", "batch_size", "device", "limit_train_batches", "limit_val_batches", "set")
# scale.families.<family>: any of them for the runs of one model family (its `set` after scale.set)

# train.options: only options that change neither where a run lives nor what it computes.  Every other
# `xnet train` option is part of a run's identity or location, set elsewhere (the table says where):
# appended after the run's own flags it would win, and train every job with another network, seed
# or directory under the same path.
TRAIN_OPTIONS = ("progress", "workers", "download")
_OWN_PLACE = {
    "model": "experiments (each row's published model name)",
    "model_args": "experiments (a row's published model name fixes its network)",
    "dataset": "scale.datasets",
    "out": "runs_dir (a run's directory is {runs_dir}/{scale}/{paper_dataset}/{model}/{variant}/seed{seed})",
    "seed": "experiments (seeds)",
    "overrides": "scale.set",
    "variant": "variant",
    "data_dir": "scale.data_dirs",
    "amp": "scale.device (the precision follows the device: float16 AMP on cuda, none on cpu)",
    "train_size": "a scale of its own (the workflow trains on the whole dataset)",
    "val_size": "a scale of its own (the workflow evaluates on the whole validation set)",
    **{k: f"scale.{k}" for k in SCALE_OPTIONS if k != "set"},
}


def _check_train_option(key) -> None:
    """``train.options.<key>``: one of :data:`TRAIN_OPTIONS`, else a ConfigError saying where it belongs
    (an unknown key is left to :func:`xnet.training.config.train_args`, which lists the known ones)."""
    from dataclasses import fields

    from xnet.training.config import TrainConfig

    name = str(key).replace("-", "_")
    name = {"set": "overrides", "model_arg": "model_args"}.get(name, name)  # train_args' aliases
    if name in {f.name for f in fields(TrainConfig)} and name not in TRAIN_OPTIONS:
        _fail(
            f"train.options.{key}",
            "part of a run's identity or location, not a train option: it belongs in "
            f"{_OWN_PLACE.get(name, 'a scale of its own')} (train.options may set only {', '.join(TRAIN_OPTIONS)})",
        )


class ConfigError(ValueError):
    """A configuration value the package refuses; the message starts with the config key."""


def _fail(key: str, message: str):
    message = one_line(message).rstrip(":; ")
    message = re.sub(r"^train option '([^']*)': (?:\1: )?", "", message)  # the key says which option
    raise ConfigError(message if message.startswith(key) else f"{key}: {message}")


def _ask(key: str, check, *args, **kwargs):
    """``check(*args, **kwargs)``; its ValueError / UserError becomes a ConfigError naming ``key``."""
    try:
        return check(*args, **kwargs)
    except (ValueError, UserError) as e:
        _fail(key, str(e))


@dataclass(frozen=True)
class Plan:
    """What a checked configuration asks for."""

    config: dict
    experiments: dict  # name -> xnet.results.experiments.Experiment (the selected part)
    runs: list  # xnet.results.experiments.Run, each once
    layout: Layout

    @property
    def scale(self) -> dict:
        return self.config["scale"]

    @property
    def variant(self) -> str:
        return self.config["variant"]

    def published_csv(self, name: str) -> str:
        """The published CSV of experiment ``name`` (or the published file ``name``): a declared rule input."""
        from xnet.results import published

        return str(published.path(self.experiments[name].published if name in self.experiments else name))

    @staticmethod
    def published_csvs() -> list[str]:
        """Every published CSV (the claims compare with all of them)."""
        from xnet.results import published

        return [str(published.path(f)) for f in published.files()]

    def metrics(self, run) -> str:
        return self.layout.metrics(self.scale["name"], run.dataset, run.model, self.variant, run.seed)

    def experiment_metrics(self, name: str | None = None) -> list[str]:
        """metrics.json of every run experiment ``name`` (default: all selected) needs, each once."""
        runs = self.runs if name is None else xexp.run_matrix([self.experiments[name]])
        return [self.metrics(r) for r in runs]

    def selection_args(self, name: str) -> str:
        """``--rows ... --seeds ...`` of ``python -m xnet.results table|figure`` for the selected part
        of experiment ``name`` (empty when all of it is selected)."""
        sel, full = self.experiments[name], xexp.experiment(name)
        a = []
        if sel.rows != full.rows:
            a += ["--rows", *sel.labels]
        if sel.seeds != full.seeds:
            a += ["--seeds", *map(str, sel.seeds)]
        return " ".join(shlex.quote(x) for x in a)

    def resources(self, dataset: str, model: str) -> dict:
        """``train.resources.default``, then the dataset's entry, then ``train.model_resources``."""
        res, train = self.config["train"]["resources"], self.config["train"]
        return {**res["default"], **res.get(dataset, {}), **train.get("model_resources", {}).get(model, {})}

    def train_options(self, dataset: str, model: str | None = None) -> dict:
        """The ``xnet train`` options (TrainConfig field names) of a run of ``model`` on ``dataset`` but
        its model, seed and run directory (``scale.families.<family>``: the scale's options for the
        model's family, its ``set`` pairs after ``scale.set``)."""
        scale = self.scale
        opts = {k: scale.get(k) for k in SCALE_OPTIONS}
        if model is not None and scale.get("families"):
            from xnet import models

            family = models.resolve(model, variant=self.variant).family
            own = scale["families"].get(family) or {}
            opts.update({k: v for k, v in own.items() if k != "set"})
            opts["set"] = [*(opts.get("set") or []), *(own.get("set") or [])]
        opts.update(
            dataset=scale["datasets"][dataset],
            data_dir=(scale.get("data_dirs") or {}).get(dataset),
            variant=self.variant,
        )
        opts.update(self.config["train"].get("options") or {})
        return opts

    def expected(self) -> dict:
        """What the scale, as configured now, says of each run it trains: ``{paper_dataset: {family:
        {field: value}}}`` for gather's ``--expect`` (the dataset trained on, epochs and batch size in
        effect, the batch limits and the device), so that a record trained before an edit of the
        scale that kept its name stops the tables, naming the field, instead of being mixed in."""
        from xnet import models
        from xnet.recipes import resolve_recipe
        from xnet.training.config import TrainConfig, check_set_pairs

        default_device = TrainConfig.__dataclass_fields__["device"].default
        out: dict = {}
        for run in self.runs:
            family = models.resolve(run.model, variant=self.variant).family
            if family in out.get(run.dataset, {}):
                continue
            opts = self.train_options(run.dataset, run.model)
            recipe = resolve_recipe(family, check_set_pairs(opts.get("set") or [], family))
            out.setdefault(run.dataset, {})[family] = {
                "dataset": opts["dataset"],
                "epochs": opts.get("epochs") or recipe.epochs,
                "batch_size": opts.get("batch_size") or recipe.batch_size,
                "limit_train_batches": opts.get("limit_train_batches"),
                "limit_val_batches": opts.get("limit_val_batches"),
                "device": opts.get("device") or default_device,
            }
        return out

    def train_args(self, dataset: str, model: str | None = None) -> str:
        """``xnet train`` arguments beyond --model / --seed / --out, shell-quoted (built by the package)."""
        from xnet.training.config import train_args

        return " ".join(shlex.quote(x) for x in train_args(self.train_options(dataset, model)))


def check(config: dict) -> Plan:
    """Check ``config`` (already schema-validated, defaults filled) against the package."""
    from xnet import models
    from xnet.data import catalog as datasets
    from xnet.results import published
    from xnet.training.config import check_set_pairs, train_args

    experiments = _ask("experiments", xexp.select, config["experiments"])
    plan = Plan(
        config,
        experiments,
        xexp.run_matrix(experiments),
        Layout(config["runs_dir"], config["results_dir"], config["figures_dir"]),
    )
    scale = config["scale"]
    _ask("variant", train_args, {"variant": plan.variant})
    for key in SCALE_OPTIONS:
        _ask(f"scale.{key}", train_args, {key: scale.get(key)})
    for key, value in (config["train"].get("options") or {}).items():
        _check_train_option(key)
        _ask(f"train.options.{key}", train_args, {key: value})
    for ds in sorted({r.dataset for r in plan.runs}):
        if ds not in scale["datasets"]:
            _fail("scale.datasets", f"no dataset given for {ds} (the selected experiments need it)")
        info = _ask(f"scale.datasets.{ds}", datasets.dataset_info, scale["datasets"][ds])
        if datasets.is_stand_in(info.name):  # a stand-in stands for the paper dataset of each model's family
            for run in (r for r in plan.runs if r.dataset == ds):
                own = _ask(
                    f"experiments ({run.model})", models.resolve, run.model, variant=plan.variant
                ).default_dataset
                if own != ds:
                    _fail(
                        f"scale.datasets.{ds}",
                        f"{info.name!r} is a stand-in for a model family's own dataset: {run.model} would stand "
                        f"for {own}, not {ds} (deselect the {ds} rows)",
                    )
        elif info.stands_for != ds:
            _fail(f"scale.datasets.{ds}", f"{info.name!r} stands for {info.stands_for}, not {ds}")
        _ask(f"scale.data_dirs.{ds}", train_args, {"data_dir": (scale.get("data_dirs") or {}).get(ds)})
    for seed in sorted({r.seed for r in plan.runs}):
        _ask("experiments (seeds)", train_args, {"seed": seed})
    families = set()
    for run in plan.runs:
        families.add(_ask(f"experiments ({run.model})", models.resolve, run.model, variant=plan.variant).family)
    for model in config["train"].get("model_resources", {}):
        _ask(f"train.model_resources.{model}", models.resolve, model, variant=plan.variant)
    for family in sorted(families):
        _ask("scale.set", check_set_pairs, scale.get("set") or [], family)
    for family, own in (scale.get("families") or {}).items():
        if family not in models.FAMILIES:
            _fail(f"scale.families.{family}", f"unknown model family (families: {', '.join(models.FAMILIES)})")
        for key, value in own.items():
            if key != "set":
                _ask(f"scale.families.{family}.{key}", train_args, {key: value})
        _ask(f"scale.families.{family}.set", check_set_pairs, [*(scale.get("set") or []), *own.get("set", [])], family)
    for name, exp in experiments.items():
        _ask(f"experiments ({name})", published.path, exp.published)
    return plan
