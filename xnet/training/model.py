"""The model of a run: built from its name, counted, and described by its facts (for the run record)."""

from __future__ import annotations

import inspect
import platform

import torch
from torch import nn

from ..errors import UserError, one_line


def versions() -> dict[str, str]:
    import numpy
    import torchvision

    from .. import __version__

    return {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
        "numpy": str(numpy.__version__),
        "xnet": str(__version__),
    }


# What xnet.models raises for a bad name or bad arguments (its argument checks): the user's error,
# one line.  Anything else raised while a model is resolved or built is a bug and keeps its traceback.
ARGUMENT_ERRORS = (ValueError, KeyError, TypeError)


def _model_kwargs(model_args: dict, variant: str | None) -> dict:
    if variant is None:
        return dict(model_args)
    if "variant" in model_args and model_args["variant"] != variant:
        raise UserError(f"--variant {variant} contradicts --model-arg variant={model_args['variant']!r}")
    return {**model_args, "variant": variant}


# What a published name (X-DenseNet-BC-40-24-2, ResNet-50, ...) fixes: its network.  A --model-arg
# that changes one of them would train another network and record it under the published name.
NAME_FIXES = ("depth", "growth", "conv", "compression", "width", "degrees")


def check_name_args(name: str, model_args: dict, variant: str | None = None) -> None:
    """Refuse a model argument that contradicts what the published model ``name`` fixes
    (:data:`NAME_FIXES`, and ``block_size`` where the name has ``-b<size>``); one line naming both.
    Family names (``densenet_bc_cifar``) take any argument; a value equal to the name's passes."""
    import xnet.models as models

    if not isinstance(name, str) or name.strip().lower() in models.FAMILIES:
        return
    variant = variant or model_args.get("variant")
    try:
        base = models.resolve(name, **({} if variant is None else {"variant": variant}))
    except ARGUMENT_ERRORS:
        return  # an unknown name or variant: resolve_model says so
    params = inspect.signature(models.FAMILIES[base.family].cls).parameters

    def plain(v):
        return [plain(x) for x in v] if isinstance(v, (list, tuple)) else v

    degrees = base.kwargs.get("degrees") is not None
    for key in sorted(model_args):
        if key not in NAME_FIXES and key not in base.kwargs:
            continue
        if key in base.kwargs:
            fixed = base.kwargs[key]
        elif key in ("conv", "depth", "growth", "width"):
            fixed = getattr(base, key)  # what the name implies (dense; the family's depth / growth / width)
        else:
            fixed = params[key].default if key in params else None
        if plain(model_args[key]) == plain(fixed):
            continue
        what = "its per-layer degrees" if key in ("compression", "degrees") and degrees else f"{key}={fixed!r}"
        raise UserError(
            f"--model-arg {key}={model_args[key]!r} contradicts the model name {name} (which fixes {what}); "
            f"use the family name {base.family} with --model-arg for another network"
        )


def resolve_model(name: str, model_args: dict, variant: str | None = None):
    """``xnet.models.resolve``; an unknown name or a bad argument is a one-line error (listing the
    accepted names), as is a model argument that contradicts a published name
    (:func:`check_name_args`)."""
    import xnet.models as models

    check_name_args(name, model_args, variant)
    try:
        return models.resolve(name, **_model_kwargs(model_args, variant))
    except ARGUMENT_ERRORS as e:  # unknown name, bad kwargs
        raise UserError(f"model {name!r}: {one_line(e) or type(e).__name__}") from None


def create_model(name: str, num_classes: int, seed: int, model_args: dict, variant: str | None = None) -> nn.Module:
    """The model of a run, built from the seed.  A bad name or argument is a one-line error; a
    ``ValueError`` of a constructor's argument checks too; any other failure of the constructor (a
    bug in model code) propagates with its traceback."""
    spec = resolve_model(name, model_args, variant)
    torch.manual_seed(seed)
    try:
        return spec.build(num_classes=num_classes, seed=seed)
    except ValueError as e:  # the constructors' argument checks
        raise UserError(f"model {name!r}: cannot build it: {one_line(e) or type(e).__name__}") from None


def profile_model(model: nn.Module, input_size) -> dict:
    from ..counting import profile

    p = profile(model, tuple(input_size))
    return {"params": int(p["params"]), "macs": int(p["macs"])}


FACTS = ("family", "conv", "compression", "depth", "growth", "width", "variant")


def model_facts(spec) -> dict:
    """The model's facts a run record stores (:data:`FACTS`, from ``spec.facts()``): family, conv
    kind, compression (None where explicit degrees define the model), depth, growth, width, variant."""
    got = spec.facts()
    return {k: got[k] for k in FACTS}
