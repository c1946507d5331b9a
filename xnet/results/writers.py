"""Writers shared by tables, claims and figures: CSV, Markdown, LaTeX, and the scale / variant line (torch-free).

- ``scale_text(runs, scale=None) -> str``: one line saying at which scale the runs were made (the
  configuration's scale name if given, the data, epochs, seeds and devices the runs record, and how
  many were at paper scale).
- ``variant_text(variant) -> str``: what the variant shown is.
- ``write_csv(df, path, scale, variant, criterion)``: the machine-readable table; ``scale``,
  ``variant`` and ``criterion`` are columns.
- ``write_md(display, path, title, lines, notes)`` / ``write_tex(display, path, title, lines, notes)``.

Every output says its scale and variant; Markdown and LaTeX carry the verdict criterion as a note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

VARIANT_TEXT = {
    "original": "original (the networks the authors trained: their code and logs)",
    "paper": "paper (the networks the paper's text and count columns describe; the published accuracies come "
    "from the original networks, so accuracy verdicts compare different networks)",
}


def variant_text(variant: str | None) -> str:
    if variant is None:
        return "none (no runs)"
    return VARIANT_TEXT.get(variant, variant)


def scale_name(scale) -> str | None:
    """The scale's name from a name or a configuration's ``scale`` mapping (``{name, description, ...}``)."""
    if isinstance(scale, Mapping):
        return scale.get("name")
    return scale or None


def scale_text(runs: pd.DataFrame, scale=None) -> str:
    """One line: the scale (a name or a config ``scale`` mapping) and what the runs record (data, epochs, seeds)."""
    name = scale_name(scale)
    parts = [f"Scale: {name.upper()}" if name else "Scale: (as recorded by the runs)"]
    if isinstance(scale, Mapping) and scale.get("description"):
        parts[0] += f" - {scale['description']}"
    if runs is None or not len(runs):
        parts.append("no runs")
        return "; ".join(parts)
    n_paper = int(runs["at_paper_scale"].astype(bool).sum())
    if n_paper < len(runs):
        parts.append(
            f"NOT at paper scale ({len(runs) - n_paper} of {len(runs)} runs: synthetic or stand-in data, limited "
            f"batches, or not the published recipe)"
        )
    else:
        parts.append(f"all {len(runs)} runs at paper scale")
    data = sorted({f"{d} (trained on {t})" if d != t else d for d, t in zip(runs["paper_dataset"], runs["dataset"])})
    parts.append("data " + ", ".join(data))
    parts.append("epochs " + ",".join(str(int(e)) for e in sorted(set(runs["epochs"].dropna()))))
    limits = sorted({int(x) for x in runs["limit_train_batches"].dropna()})
    if limits:
        parts.append("train batches/epoch " + ",".join(map(str, limits)))
    parts.append("seeds " + ",".join(str(int(s)) for s in sorted(set(runs["seed"]))))
    devs = sorted({str(d) for d in runs["device"].dropna()})
    if devs:
        parts.append("device " + ",".join(devs))
    return "; ".join(parts)


def fmt(v, nd: int = 2) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def write_csv(df: pd.DataFrame, path, scale: str, variant: str | None, criterion: str) -> None:
    out = df.copy()
    out.insert(0, "variant", variant or "")
    out.insert(0, "scale", scale)
    out["criterion"] = criterion
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, float_format="%.4f")


def _md_cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def markdown(display: pd.DataFrame) -> str:
    cols = list(display.columns)
    lines = ["| " + " | ".join(_md_cell(c) for c in cols) + " |", "|" + "|".join(" --- " for _ in cols) + "|"]
    for _, r in display.iterrows():
        lines.append("| " + " | ".join(_md_cell(v) for v in r.tolist()) + " |")
    return "\n".join(lines)


def write_md(display: pd.DataFrame, path, title: str, lines, notes) -> None:
    text = [f"## {title}", ""] + [f"**{x}**  " for x in lines] + ["", markdown(display), ""]
    text += [f"_{n}_" + "\n" for n in notes]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(text), encoding="utf-8")


_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
    "±": r"$\pm$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
}


def tex_escape(s) -> str:
    return "".join(_TEX.get(ch, ch) for ch in str(s))


def write_tex(display: pd.DataFrame, path, title: str, lines, notes) -> None:
    """A booktabs table; the scale, variant and criterion go into comments and the caption."""
    cols = list(display.columns)
    out = [f"% {x}" for x in lines] + [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{" + "l" * min(2, len(cols)) + "r" * max(0, len(cols) - 2) + "}",
        r"\toprule",
        " & ".join(tex_escape(c) for c in cols) + r" \\",
        r"\midrule",
    ]
    for _, r in display.iterrows():
        out.append(" & ".join(tex_escape(v) for v in r.tolist()) + r" \\")
    out += [
        r"\bottomrule",
        r"\end{tabular}",
        r"\caption{"
        + tex_escape(title)
        + ". "
        + " ".join(tex_escape(x) + "." for x in lines)
        + " "
        + " ".join(tex_escape(n) for n in notes)
        + "}",
        r"\end{table}",
        "",
    ]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(out), encoding="utf-8")
