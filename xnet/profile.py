"""Counted parameters and MACs of both variants of the paper's models next to the published figures.

``python -m xnet.profile [--format csv|markdown|both] [--models NAME ...] [--variants original paper]``
prints one row per published count (Tables 1-3, the original README's CIFAR and MobileNet
tables, Section 5.1's MobileNet-0.5, Section 5.5) with the count of the ``original`` variant (the
network the authors trained) and of the ``paper`` variant (the network the text describes) in
that figure's unit, each with its ratio counted / published.  The published figures, their units
and conventions come from :mod:`xnet.results.published` (stated once there); the counting
function is :func:`xnet.counting.profile`.
"""

from __future__ import annotations

import csv
import io
import sys

from .arguments import OneLineParser
from .errors import UserError, one_line
from .names import VARIANTS

# Notes on single models are the published-model table's (xnet.models.zoo, ``note=``); these two
# are rules for whole groups of rows.
TABLE1_NOTE_X = "published X column is about half the dense row"
README_MOBILENET_NOTE = "paper: a constant ~0.5M below at every C (= the classifier's MACs)"


def g_mobilenets() -> list[str]:
    """Table 5's G-MobileNets (from the published-model table): no published count, listed to show
    their counts beside the X ones."""
    from .models.zoo import PUBLISHED

    return [m.name for m in PUBLISHED.values() if m.family == "mobilenet05_imagenet" and m.kwargs.get("conv") == "g"]


def published_rows() -> list[dict]:
    """model, source, unit, published (as printed, None where not published), per, note."""
    from .models.zoo import PUBLISHED, key
    from .results import published

    rows = []
    for r in published.counts().itertuples():
        entry = PUBLISHED.get(key(r.model))
        note = entry.note if entry is not None else ""
        if r.source == "Table 1" and r.model.startswith("X-") and not note:
            note = TABLE1_NOTE_X
        if r.model.startswith("X-MobileNet") and not note:
            note = README_MOBILENET_NOTE
        rows.append(
            {
                "model": r.model,
                "source": r.source,
                "quantity": r.quantity,
                "unit": r.unit,
                "published": float(r.published),
                "per": float(r.per),
                "note": note,
            }
        )
    for name in g_mobilenets():
        rows.append(
            {
                "model": name,
                "source": "Table 5",
                "quantity": "macs",
                "unit": "M MACs",
                "published": None,
                "per": 1e6,
                "note": "no published count",
            }
        )
    return rows


def comparison(models=None, build=None, variants=VARIANTS) -> list[dict]:
    """Rows of dicts (strings): model, source, unit, published, then per variant ``<v>``, ``<v>_ratio``,
    ``<v>_params_M``, ``<v>_macs_M``; and note.

    ``build(name, variant)`` makes the model (default ``xnet.models.create(name, variant=variant)``;
    tests pass a cache).
    """
    from .counting import profile
    from .models import create, resolve

    build = build or (lambda name, variant: create(name, variant=variant))
    counts, out = {}, []
    for row in published_rows():
        model = row["model"]
        if models and model not in models:
            continue
        r = {
            "model": model,
            "source": row["source"],
            "unit": row["unit"],
            "published": "" if row["published"] is None else f"{row['published']:g}",
        }
        for v in variants:
            if (model, v) not in counts:
                counts[model, v] = profile(build(model, v), resolve(model, variant=v).input_size)
            c = counts[model, v]
            counted = c[row["quantity"]] / row["per"]
            r[v] = f"{counted:.4g}"
            r[f"{v}_ratio"] = "" if row["published"] is None else f"{counted / row['published']:.3f}"
            r[f"{v}_params_M"] = f"{c['params'] / 1e6:.3f}"
            r[f"{v}_macs_M"] = f"{c['macs'] / 1e6:.1f}"
        r["note"] = row["note"]
        out.append(r)
    return out


def columns(variants=VARIANTS) -> list[str]:
    per = [f"{v}{s}" for v in variants for s in ("", "_ratio", "_params_M", "_macs_M")]
    return ["model", "source", "unit", "published", *per, "note"]


def to_csv(rows, variants=VARIANTS) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns(variants), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def to_markdown(rows, variants=VARIANTS) -> str:
    cols = columns(variants)
    head = [c.replace("_params_M", " params (M)").replace("_macs_M", " MACs (M)").replace("_", " ") for c in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r[c] for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = OneLineParser(prog="python -m xnet.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--format", choices=("csv", "markdown", "both"), default="both")
    p.add_argument("--models", nargs="+", help="only these published names")
    p.add_argument(
        "--variants",
        nargs="+",
        choices=VARIANTS,
        default=list(VARIANTS),
        help="which variants to count (default: both)",
    )
    a = p.parse_args(argv)
    variants = tuple(dict.fromkeys(a.variants))
    try:
        known = {r["model"] for r in published_rows()}
        if a.models:  # checked before any model is built: every name must have a published figure
            unknown = [m for m in dict.fromkeys(a.models) if m not in known]
            if unknown:
                p.error(
                    f"argument --models: no published figure for {', '.join(unknown)} "
                    f"(known: {', '.join(sorted(known))})"
                )
        rows = comparison(a.models, variants=variants)
    except UserError as e:  # a published CSV that does not follow its schema, say
        print(f"xnet: error: {one_line(e)}", file=sys.stderr)
        return 2
    if a.format in ("csv", "both"):
        sys.stdout.write(to_csv(rows, variants))
    if a.format == "both":
        sys.stdout.write("\n")
    if a.format in ("markdown", "both"):
        sys.stdout.write(to_markdown(rows, variants))
    return 0


if __name__ == "__main__":
    sys.exit(main())
