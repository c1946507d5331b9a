"""Training recipes of the paper, one per model family, as named configuration.

Each recipe is the row of ``xnet/published/recipes.csv`` for its family (optimizer, momentum,
Nesterov, learning rate and schedule, epochs, batch size, weight decay), written out in code
(``tests/test_recipes.py`` cross-checks the two).  ``alexnet_imagenet`` was not published; it uses
the usual AlexNet recipe (SGD lr 0.01, momentum 0.9, weight decay 5e-4, lr / 10 every 30 epochs,
90 epochs, batch 256) and says so in its ``source`` field.

A schedule is a list of epochs (``milestones``) at which the learning rate is multiplied by
``gamma``, never going below ``lr_floor`` (:class:`FlooredMultiStepLR`, a
``torch.optim.lr_scheduler.MultiStepLR``).  ``schedule="step"`` with ``step_size`` means a
milestone every ``step_size`` epochs.  A run shorter than the recipe (``--epochs``) keeps the
schedule's shape: milestones and step size scale by ``epochs / recipe.epochs``.

Torch-free (the workflow validates ``--set`` pairs with it); the optimizer and the scheduler are
built by :mod:`xnet.training.optim` (``build_optimizer``, ``build_scheduler``,
``FlooredMultiStepLR``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any

from .errors import UserError

__all__ = [
    "Recipe",
    "RECIPES",
    "FIELD_TYPES",
    "UserError",
    "get_recipe",
    "check_field",
    "parse_field",
    "parse_overrides",
    "resolve_recipe",
]


SCHEDULES = ("multistep", "step")
OPTIMIZERS = ("sgd",)
AUGMENTS = ("standard", "none")


@dataclass(frozen=True)
class Recipe:
    family: str
    epochs: int
    batch_size: int
    lr: float
    schedule: str  # "multistep" (milestones) or "step" (every step_size epochs)
    gamma: float  # lr multiplier at each milestone
    milestones: tuple[int, ...] = ()  # for schedule="multistep"
    step_size: int = 0  # for schedule="step"
    lr_floor: float = 0.0  # the lr never goes below this
    optimizer: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    augment: str = "standard"  # the dataset's standard augmentation, or "none"
    dataset: str = "cifar10"  # the dataset(s) of the paper, informative
    source: str = ""

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        return d

    def validate(self) -> Recipe:
        for f in fields(self):
            check_field(f.name, getattr(self, f.name))
        if self.schedule == "step" and self.step_size < 1:
            raise UserError(f"recipe field step_size: must be >= 1 for schedule=step, got {self.step_size!r}")
        if self.nesterov and self.momentum == 0:
            raise UserError("recipe field nesterov: needs momentum > 0, got True")
        return self

    def full_milestones(self) -> list[int]:
        """The milestones of the recipe's own length (a step schedule written out)."""
        if self.schedule == "step":
            return list(range(self.step_size, self.epochs, self.step_size))
        return list(self.milestones)

    def scaled_milestones(self, epochs: int) -> list[int]:
        """The epochs (0-based: the lr drops before epoch m) of a run of ``epochs`` epochs.

        The schedule keeps its shape: each milestone m of the recipe's E epochs moves to
        round(m * epochs / E), at least 1 (several may coincide in very short runs: the lr then
        drops by gamma once for each).  Milestones at or beyond the end are dropped.
        """
        f = epochs / self.epochs
        scaled = (max(1, math.floor(m * f + 0.5)) for m in self.full_milestones())
        return [m for m in scaled if m < epochs]

    def lr_at(self, epoch: int, epochs: int | None = None) -> float:
        """The learning rate of (0-based) epoch ``epoch`` in a run of ``epochs`` (default: the recipe's)."""
        epochs = epochs or self.epochs
        n = sum(1 for m in self.scaled_milestones(epochs) if m <= epoch)
        return max(self.lr * self.gamma**n, self.lr_floor)


def _increasing(ms) -> bool:
    return all(m >= 1 for m in ms) and list(ms) == sorted(ms)


# one check per field, on its own (the checks that combine fields are in Recipe.validate)
FIELD_CHECKS: dict[str, tuple[Any, str]] = {
    "epochs": (lambda v: v >= 1, "must be >= 1"),
    "batch_size": (lambda v: v >= 1, "must be >= 1"),
    "lr": (lambda v: v > 0, "must be > 0"),
    "gamma": (lambda v: 0 < v <= 1, "must be in (0, 1]"),
    "milestones": (_increasing, "must be increasing epochs >= 1"),
    "step_size": (lambda v: v >= 0, "must be >= 0"),
    "lr_floor": (lambda v: v >= 0, "must be >= 0"),
    "optimizer": (lambda v: v in OPTIMIZERS, f"must be one of {', '.join(OPTIMIZERS)}"),
    "momentum": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "weight_decay": (lambda v: v >= 0, "must be >= 0"),
    "schedule": (lambda v: v in SCHEDULES, f"must be one of {', '.join(SCHEDULES)}"),
    "augment": (lambda v: v in AUGMENTS, f"must be one of {', '.join(AUGMENTS)}"),
}


def check_field(name: str, value: Any) -> Any:
    """``value`` if it is a valid value of recipe field ``name`` on its own (finite, in range); else UserError."""
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"recipe field {name}: must be a finite number, got {value!r}")
    ok, why = FIELD_CHECKS.get(name, (None, ""))
    if ok is not None and not ok(value):
        raise UserError(f"recipe field {name}: {why}, got {value!r}")
    return value


_COMMON = "original README command and training logs"

RECIPES: dict[str, Recipe] = {
    "densenet_bc_cifar": Recipe(
        family="densenet_bc_cifar",
        dataset="cifar10|cifar100",
        epochs=300,
        batch_size=64,
        lr=0.1,
        schedule="multistep",
        milestones=(150, 225),
        gamma=0.1,
        lr_floor=5e-4,
        nesterov=True,
        weight_decay=1e-4,
        source=_COMMON,
    ),
    "vgg16_cifar": Recipe(
        family="vgg16_cifar",
        dataset="cifar10",
        epochs=300,
        batch_size=128,
        lr=0.05,
        schedule="step",
        step_size=30,
        gamma=0.5,
        lr_floor=5e-4,
        nesterov=True,
        weight_decay=5e-4,
        source=_COMMON,
    ),
    "resnet_imagenet": Recipe(
        family="resnet_imagenet",
        dataset="imagenet",
        epochs=90,
        batch_size=128,
        lr=0.1,
        schedule="step",
        step_size=30,
        gamma=0.1,
        lr_floor=1e-5,
        nesterov=True,
        weight_decay=1e-4,
        source=_COMMON,
    ),
    "densenet_bc_imagenet": Recipe(
        family="densenet_bc_imagenet",
        dataset="imagenet",
        epochs=90,
        batch_size=128,
        lr=0.1,
        schedule="step",
        step_size=30,
        gamma=0.1,
        lr_floor=1e-5,
        nesterov=True,
        weight_decay=1e-4,
        source="original training logs",
    ),
    "mobilenet05_imagenet": Recipe(
        family="mobilenet05_imagenet",
        dataset="imagenet",
        epochs=150,
        batch_size=256,
        lr=0.1,
        schedule="step",
        step_size=15,
        gamma=0.316227766,
        lr_floor=5e-5,
        nesterov=False,
        weight_decay=4e-5,
        source="original training log",
    ),
    "alexnet_imagenet": Recipe(
        family="alexnet_imagenet",
        dataset="imagenet",
        epochs=90,
        batch_size=256,
        lr=0.01,
        schedule="step",
        step_size=30,
        gamma=0.1,
        lr_floor=0.0,
        nesterov=False,
        weight_decay=5e-4,
        source="not published: the usual AlexNet recipe (SGD lr 0.01, momentum 0.9, weight decay "
        "5e-4, lr / 10 every 30 epochs, 90 epochs, batch 256), not the paper's",
    ),
}

FIELD_TYPES: dict[str, Any] = {f.name: f.type for f in fields(Recipe)}


def get_recipe(family: str) -> Recipe:
    try:
        return RECIPES[family]
    except KeyError:
        raise UserError(f"no recipe for model family {family!r} (known: {', '.join(RECIPES)})") from None


def _parse_bool(s: str) -> bool:
    v = s.strip().lower()
    if v in ("1", "true", "yes", "y", "on"):
        return True
    if v in ("0", "false", "no", "n", "off"):
        return False
    raise ValueError


def parse_field(name: str, value: Any) -> Any:
    """Convert ``value`` (a string from the command line, or a Python value) to the type of recipe field ``name``."""
    if name not in FIELD_TYPES:
        raise UserError(f"unknown recipe field {name!r} (fields: {', '.join(FIELD_TYPES)})")
    if name == "family":
        raise UserError("recipe field family: cannot be overridden (it comes from --model)")
    t = FIELD_TYPES[name]
    try:
        if t == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return check_field(name, int(value.strip()) if isinstance(value, str) else int(value))
        if t == "float":
            if isinstance(value, bool):
                raise ValueError
            return check_field(name, float(value))
        if t == "bool":
            if isinstance(value, bool):
                return value
            return _parse_bool(str(value))
        if t == "str":
            if not isinstance(value, str):
                raise ValueError
            return check_field(name, value)
        if t.startswith("tuple"):
            if isinstance(value, str):
                parts = [p for p in value.replace(" ", "").strip("()[]").split(",") if p]
                return check_field(name, tuple(int(p) for p in parts))
            return check_field(name, tuple(int(p) for p in value))
    except (ValueError, TypeError, OverflowError):
        kind = {"int": "an integer", "float": "a number", "bool": "a boolean (true/false)", "str": "a string"}.get(
            t, "a comma-separated list of integers"
        )
        raise UserError(f"recipe field {name}: expected {kind}, got {value!r}") from None
    raise AssertionError(t)


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["lr=0.05", "weight_decay=1e-4"]`` -> ``{"lr": 0.05, "weight_decay": 0.0001}`` (type-checked)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected field=value")
        k, v = item.split("=", 1)
        k = k.strip().replace("-", "_")
        out[k] = parse_field(k, v)
    return out


def resolve_recipe(family: str, overrides: dict[str, Any] | None = None) -> Recipe:
    """The family's recipe with ``overrides`` (field -> value, type-checked) applied."""
    recipe = get_recipe(family)
    if overrides:
        clean = {k: parse_field(k, v) for k, v in overrides.items()}
        if "step_size" in clean and "schedule" not in clean:
            clean["schedule"] = "step"
        if "milestones" in clean and "schedule" not in clean:
            clean["schedule"] = "multistep"
        recipe = dataclasses.replace(recipe, **clean)
    return recipe.validate()
