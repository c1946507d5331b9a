"""Counted parameters and MACs of the paper's models next to the published figures.

``python -m xnet.profile [--format csv|markdown] [--models NAME ...]`` prints one row per published
figure (Tables 1-3, the original README's CIFAR and MobileNet tables, Figure 3, Section 5.5) with
the count in that table's unit and the ratio counted / published.  Units follow
``xnet/published/CONVENTIONS.md``: CIFAR and MobileNet "FLOPs" are MACs; Table 1's "FLOPs (in
100M)" are 2 x MACs.

This module is also callable, ``xnet.profile(model, input_size)``, the same function as
:func:`xnet.counting.profile` (so ``import xnet.profile`` does not shadow it).
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
import types
from pathlib import Path

from .counting import profile as _profile

PUBLISHED = Path(__file__).resolve().parent / "published"

TABLE1_NOTE_X = "published X column is about half the dense row; counted with the original rule (blocks only)"
NOTES = {
    "DenseNet-BC-161": "published 110 does not follow 2 x MACs (misprint, see CONVENTIONS.md)",
    "X-DenseNet-BC-2-161": "published 55 is half of the misprinted dense 110; counted with the original rule",
    "X-DenseNet-BC-40-24-2": "published params rounded to 0.1M",
    "X-VGG16-1": "per-layer compression 9 chosen to hit the total",
    "X-VGG16-2": "per-layer compression 13 chosen to hit the total",
    "X-AlexNet-1": "fc degrees (768, 384, 384) chosen to hit the total",
    "X-AlexNet-2": "fc degrees (1152, 512, 512) chosen to hit the total",
}


def _read(name):
    with open(PUBLISHED / name, newline="") as f:
        return list(csv.DictReader(f))


def published_rows():
    """(model, source, quantity, unit, published value, note) for every published count."""
    rows = []
    for r in _read("table1_imagenet_resnet_densenet.csv"):
        note = NOTES.get(r["model"], TABLE1_NOTE_X if r["model"].startswith("X-") else "")
        rows.append((r["model"], "Table 1", "flops", "100M FLOPs (2 x MACs)", float(r["flops_100M"]), note))
    for r in _read("table2_cifar10_vgg16_vs_pruning.csv"):
        if r["kind"] != "pruning":
            rows.append((r["method"], "Table 2", "params", "M params", float(r["params_M"]), NOTES.get(r["method"], "")))
    for r in _read("table3_imagenet_alexnet_vs_pruning.csv"):
        if r["kind"] != "pruning":
            rows.append((r["method"], "Table 3", "params", "M params", float(r["params_M"]), NOTES.get(r["method"], "")))
    for r in _read("readme_cifar_xdensenet.csv"):
        rows.append((r["model"], "README CIFAR", "params", "M params", float(r["params_M"]), NOTES.get(r["model"], "")))
        rows.append((r["model"], "README CIFAR", "macs", "100M MACs", float(r["flops_100M"]), ""))
    for r in _read("figure3_imagenet_mobilenet05_error.csv"):
        if r["compression"] == "1":
            rows.append(("MobileNet-0.5", "Figure 3", "macs", "M MACs", float(r["xconv_flops_M"]), "paper: 150M"))
    for r in _read("readme_imagenet_xmobilenet.csv"):
        c = r["compression"]
        rows.append((f"X-MobileNet-0.5-{c}", "README MobileNet", "macs", "M MACs", float(r["flops_M"]),
                     "a constant ~0.5M below at every C (cause unknown; = the classifier's MACs)"))
    for r in _read("table5_imagenet_mobilenet05_2runs.csv"):
        if r["kind"] == "grouped":
            rows.append((f"G-MobileNet-0.5-{r['compression']}", "Table 5", "macs", "M MACs", None,
                         "no published count (same MACs as X by construction)"))
    rows.append(("DenseNet-BC-40-200", "Section 5.5", "macs", "G MACs", 19.9, "paper: 19.9B FLOPs"))
    rows.append(("X-DenseNet-BC-40-200-30", "Section 5.5", "macs", "G MACs", 0.6, "paper text rounds (0.6B FLOPs); degree = in // 30, stem dense"))
    return rows


SCALE = {"100M FLOPs (2 x MACs)": ("macs", 2 / 1e8), "M params": ("params", 1e-6), "100M MACs": ("macs", 1e-8),
         "M MACs": ("macs", 1e-6), "G MACs": ("macs", 1e-9)}


def comparison(models=None, build=None):
    """Rows of dicts: model, source, unit, published, counted, ratio, params_M, macs_M, note.

    ``build(name)`` makes the model (default ``xnet.models.create(name)``; tests pass a cache).
    """
    from .models import create, resolve

    build = build or create

    counts, out = {}, []
    for model, source, _, unit, value, note in published_rows():
        if models and model not in models:
            continue
        if model not in counts:
            spec = resolve(model)
            counts[model] = _profile(build(model), spec.input_size)
        c = counts[model]
        key, scale = SCALE[unit]
        counted = c[key] * scale
        out.append({"model": model, "source": source, "unit": unit,
                    "published": "" if value is None else f"{value:g}", "counted": f"{counted:.4g}",
                    "ratio": "" if value is None else f"{counted / value:.3f}",
                    "params_M": f"{c['params'] / 1e6:.3f}", "macs_M": f"{c['macs'] / 1e6:.1f}", "note": note})
    return out


COLUMNS = ("model", "source", "params_M", "macs_M", "unit", "published", "counted", "ratio", "note")


def to_csv(rows) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def to_markdown(rows) -> str:
    head = ("model", "source", "params (M)", "MACs (M)", "unit", "published", "counted", "ratio", "note")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(r[c] for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m xnet.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--format", choices=("csv", "markdown", "both"), default="both")
    p.add_argument("--models", nargs="+", help="only these published names")
    a = p.parse_args(argv)
    rows = comparison(a.models)
    if a.models and not rows:
        p.error(f"no published figure for {', '.join(a.models)}")
    if a.format in ("csv", "both"):
        sys.stdout.write(to_csv(rows))
    if a.format == "both":
        sys.stdout.write("\n")
    if a.format in ("markdown", "both"):
        sys.stdout.write(to_markdown(rows))
    return 0


class _CallableModule(types.ModuleType):
    def __call__(self, model, input_size=(3, 224, 224), **kwargs):
        return _profile(model, input_size, **kwargs)


if __name__ == "__main__":
    sys.exit(main())
else:
    sys.modules[__name__].__class__ = _CallableModule
