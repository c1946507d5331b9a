"""Projected GPU-hours of a workflow configuration (``config/paper.yaml``), per table and figure,
from training-step times measured on this machine (part of ``python -m xnet.bench gpu``).

Every run of the configuration's experiment matrix (:mod:`xnet.results.experiments`) costs
``epochs x ceil(train images / batch) x step time``: the family's recipe (epochs, global batch),
the dataset's training-set size, and the step time (forward, backward and an SGD step, mixed
precision, channels_last) of that model at the recipe's batch on this GPU.  Within the time box,
models are measured (one per family / dataset / conv kind first, then the rest by cost); the others
are scaled by MACs from the nearest measured model of the same family, dataset and conv kind (or
dataset only).  Assumptions, stated in the output: one GPU at the global batch (a 4-GPU run costs
the same GPU-hours under perfect scaling); validation and data loading not counted.
"""

from __future__ import annotations

import math
import time

import torch

IMAGENET_TRAIN_IMAGES = 1281167  # ILSVRC-2012 training set


def run_facts(experiments):
    """``(experiment name -> [(model, dataset, seed)], {(model, dataset): facts})``."""
    from ..data.catalog import dataset_info
    from ..models import resolve
    from ..recipes import get_recipe
    from ..results.experiments import run_matrix

    per_exp = {name: [(r.model, r.dataset, r.seed) for r in run_matrix([e])] for name, e in experiments.items()}
    facts = {}
    for runs in per_exp.values():
        for model, dataset, _ in runs:
            if (model, dataset) in facts:
                continue
            spec, info = resolve(model), dataset_info(dataset)
            recipe = get_recipe(spec.family)
            images = info.train_size or IMAGENET_TRAIN_IMAGES
            facts[(model, dataset)] = dict(
                model=model,
                dataset=dataset,
                family=spec.family,
                conv=spec.kwargs.get("conv", "dense"),
                input_size=tuple(info.input_size),
                num_classes=info.num_classes,
                epochs=recipe.epochs,
                batch=recipe.batch_size,
                train_images=images,
                steps=recipe.epochs * math.ceil(images / recipe.batch_size),
                seeds=sum(1 for runs2 in per_exp.values() for m, d, _ in runs2 if (m, d) == (model, dataset)),
            )
    return per_exp, facts


def measure_step(fact, device, batch=None, repeats=3, dtype=torch.bfloat16):
    """Step time (s), peak memory (MiB) and MACs of one model at its recipe batch (or ``batch``)."""
    from ..counting import profile
    from ..models import create
    from .timing import autocast, peak_memory_mb, sync

    model = create(fact["model"], num_classes=fact["num_classes"]).to(device)
    cl = device.type == "cuda"
    if cl:
        model = model.to(memory_format=torch.channels_last)
    macs = profile(model, fact["input_size"])["macs"]
    n = batch or fact["batch"]
    x = torch.randn(n, *fact["input_size"], device=device)
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(fact["num_classes"], (n,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    dt = dtype if device.type == "cuda" else None

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast(device, dt):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    step()
    peak = peak_memory_mb(step, device)
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        step()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return best * (fact["batch"] / n), peak, macs


def measurement_order(facts):
    """Models to measure: the costliest of each (family, dataset, conv) group first, then the rest."""

    def cost(f):
        return f["seeds"] * f["epochs"] * f["train_images"]

    groups, first, rest = set(), [], []
    for key, f in sorted(facts.items(), key=lambda kv: -cost(kv[1])):
        g = (f["family"], f["dataset"], f["conv"])
        (rest if g in groups else first).append(key)
        groups.add(g)
    return first + rest


def estimate(facts, measured, macs):
    """Step time of every model: measured, or scaled by MACs from the nearest measured one."""
    out = {}
    for key, f in facts.items():
        if key in measured:
            out[key] = (measured[key]["step_s"], "measured")
            continue
        for level, same in (
            ("family/dataset/conv", ("family", "dataset", "conv")),
            ("dataset", ("dataset",)),
            ("any", ()),
        ):
            cands = [k for k in measured if all(facts[k][a] == f[a] for a in same)]
            if cands and key in macs:
                ref = min(cands, key=lambda k: abs(math.log(max(1, macs[k]) / max(1, macs[key]))))
                scale = (macs[key] * f["batch"]) / max(1, macs[ref] * facts[ref]["batch"])
                out[key] = (measured[ref]["step_s"] * scale, f"scaled by MACs from {ref[0]} ({level})")
                break
        else:
            out[key] = (float("nan"), "not measured")
    return out


def project(per_exp, facts, steps):
    """Per-run and per-experiment GPU-hours rows."""
    run_rows = []
    for key, f in sorted(facts.items()):
        step_s, how = steps[key]
        hours = f["steps"] * step_s / 3600
        run_rows.append(
            dict(
                model=f["model"],
                dataset=f["dataset"],
                family=f["family"],
                epochs=f["epochs"],
                batch=f["batch"],
                steps=f["steps"],
                seeds=f["seeds"],
                step_s=step_s,
                gpu_hours_per_run=hours,
                method=how,
            )
        )
    hours = {(r["model"], r["dataset"]): r["gpu_hours_per_run"] for r in run_rows}
    exp_rows = []
    for name, runs in per_exp.items():
        exp_rows.append(_summary(name, runs, hours, steps))
    unique = sorted({(m, d, s) for runs in per_exp.values() for m, d, s in runs})
    exp_rows.append(_summary("all (a run shared by experiments counted once)", unique, hours, steps))
    return run_rows, exp_rows


def _summary(name, runs, hours, steps):
    h = [hours[(m, d)] for m, d, _ in runs]
    return dict(
        experiment=name,
        runs=len(runs),
        gpu_hours=sum(v for v in h if not math.isnan(v)),
        runs_measured=sum(steps[(m, d)][1] == "measured" for m, d, _ in runs),
        runs_scaled=sum(steps[(m, d)][1].startswith("scaled") for m, d, _ in runs),
        runs_missing=sum(math.isnan(v) for v in h),
    )


def run_projection(config_path, device, deadline, tiny=False, log=print, experiments=None):
    """Measure within ``deadline`` (a time.time() value) and project; returns (run rows, experiment rows)."""
    import yaml

    from ..counting import profile
    from ..models import create
    from ..results.experiments import select

    with open(config_path) as f:
        cfg = yaml.safe_load(f)
    sel = select(cfg.get("experiments", "all"))
    if experiments:
        sel = {k: v for k, v in sel.items() if k in experiments}
    per_exp, facts = run_facts(sel)
    log(
        f"projection: {sum(len(r) for r in per_exp.values())} runs of {len(per_exp)} experiments, "
        f"{len(facts)} distinct models"
    )
    measured, macs = {}, {}
    order = measurement_order(facts)
    measure_until = time.time() + 0.7 * max(0.0, deadline - time.time())  # the rest: MACs of the others
    for key in order:
        if time.time() > measure_until:
            break
        try:
            step_s, peak, m = measure_step(facts[key], device, batch=2 if tiny else None, repeats=1 if tiny else 3)
            measured[key], macs[key] = dict(step_s=step_s, peak_mb=peak), m
            log(
                f"  measured {key[0]} ({key[1]}): {step_s * 1e3:.1f} ms/step at batch {facts[key]['batch']}"
                + (f", peak {peak:.0f} MiB" if peak is not None else "")
            )
        except Exception as e:  # noqa: BLE001 - recorded; the model is estimated instead
            log(f"  {key[0]} ({key[1]}): {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300])
            if device.type == "cuda":
                torch.cuda.empty_cache()
            if tiny:
                break
        if tiny:  # the CPU self-test measures one model and scales the others
            break
    for key in order:  # MACs of the rest (one forward of one sample each), for the scaling
        if key in macs or time.time() > deadline:
            continue
        try:
            f = facts[key]
            macs[key] = profile(create(f["model"], num_classes=f["num_classes"]).to(device), f["input_size"])["macs"]
        except Exception as e:  # noqa: BLE001
            log(f"  MACs of {key[0]}: {type(e).__name__}: {e}"[:300])
    steps = estimate(facts, measured, macs)
    run_rows, exp_rows = project(per_exp, facts, steps)
    for r in run_rows:
        if (r["model"], r["dataset"]) in measured:
            r["peak_mb"] = measured[(r["model"], r["dataset"])]["peak_mb"]
        r["macs"] = macs.get((r["model"], r["dataset"]))
    return run_rows, exp_rows
