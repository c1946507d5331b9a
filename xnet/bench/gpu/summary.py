"""``summary.md`` of the GPU check: the parts, then each part's results in short (the CSVs hold
the rest); rewritten after every part."""

from __future__ import annotations

import math
import time


def _fmt(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else (f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}")
    return "" if v is None else str(v)


def _md(rows, cols):
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _correctness_summary(rows):
    """Per dtype and backend: cases within tolerance / checked, the worst error; then the failures."""
    groups = {}
    for r in rows:
        g = groups.setdefault((r["dtype"], r["backend"]), dict(dtype=r["dtype"], backend=r["backend"], ok=0, checked=0))
        if r.get("ok") == "":
            g["not_checked"] = g.get("not_checked", 0) + 1
            continue
        g["checked"] += 1
        g["ok"] += bool(r.get("ok"))
        if r.get("layout_kept") is False:
            g["layout_lost"] = g.get("layout_lost", 0) + 1
        errs = [r[e] for e in ("err_y", "err_gx", "err_gw", "err_gb") if isinstance(r.get(e), float)]
        if errs:
            g["worst_err"] = max(g.get("worst_err", 0.0), max(errs))
    fails = [r for r in rows if r.get("ok") is False]
    out = [_md(list(groups.values()), ["dtype", "backend", "ok", "checked", "not_checked", "worst_err", "layout_lost"])]
    if fails:
        cols = ["dtype", "layer", "k", "stride", "channels_last", "bias", "graph", "backend"]
        out += ["", f"Failures ({len(fails)}; first 20):", ""]
        out += [_md(fails[:20], cols + ["err_y", "err_gx", "err_gw", "err_gb", "error"])]
    return out


def _train_summary(rows):
    if not rows:
        return []
    picks = sorted({0, 1, 2, 5, 10, 20, len(rows) - 1} & set(range(len(rows))))
    later = rows[2:] or rows
    ratio = sorted(r["ms_triton"] / r["ms_masked"] for r in later)[len(later) // 2]
    head = (
        f"{rows[0]['model']} (blocks of {rows[0]['block_size']}), {rows[0]['dtype']} autocast, {len(rows)} steps: "
        f"loss relative difference triton vs masked at most {max(r['rel_diff'] for r in rows[:5]):.2e} in the "
        f"first 5 steps, {rows[-1]['rel_diff']:.2e} at the last; median step time triton / masked "
        f"{ratio:.2f} (from step 2)."
    )
    cols = ["step", "loss_triton", "loss_masked", "rel_diff", "ms_triton", "ms_masked", "scale_triton"]
    return [head, "", _md([rows[i] for i in picks], cols)]


def _targets(ck):
    """The issue's GPU targets, as measured: met / missed."""
    lines = []
    for r in ck.tables.get("layers", []):
        if r.get("backend") == "triton" and r.get("train_ms") is not None:
            vs_g = r["train_vs_g"]
            s = (
                f"- {r['k']}x{r['k']} {r['channels']} ch C={r['C']}: triton train {vs_g:.2f}x G-Conv (<= 1.25: "
                f"{'met' if vs_g <= 1.25 else 'missed'})"
            )
            if r["C"] == 4:
                s += f", {r['train_vs_dense']:.2f}x dense (<= 0.5: {'met' if r['train_vs_dense'] <= 0.5 else 'missed'})"
            lines.append(s)
    for r in ck.tables.get("models", []):
        if (
            str(r.get("model")).startswith("ResNet-50")
            and str(r.get("variant")).startswith("X block16")
            and r.get("train_ms")
        ):
            v = r["train_vs_dense"]
            lines.append(
                f"- X-ResNet-50 (C=4) from blocks, {r['variant']}: train {v:.2f}x dense "
                f"(<= 0.6: {'met' if v <= 0.6 else 'missed'})"
            )
    return lines or ["- no triton / block rows measured"]


def _fastest(ck):
    """Per layer group, the fastest exact X backend for training and for inference: what the CUDA
    rule of ``auto`` should pick (the ``auto`` rows themselves excluded)."""
    groups = {}
    for r in ck.tables.get("layers", []):
        if r.get("train_ms") is None or r.get("graph") in (None, "dense", "grouped") or r["backend"].startswith("auto"):
            continue
        groups.setdefault((r["k"], r["channels"], r["size"], r["C"]), []).append(r)
    rows = []
    for (k, ch, size, c), rs in groups.items():
        t, i = min(rs, key=lambda r: r["train_ms"]), min(rs, key=lambda r: r["infer_ms"])
        rows.append(
            dict(
                k=k,
                channels=ch,
                size=size,
                C=c,
                train=f"{t['backend']} ({t['graph']})",
                train_vs_dense=t["train_vs_dense"],
                infer=f"{i['backend']} ({i['graph']})",
                infer_vs_dense=i["infer_vs_dense"],
            )
        )
    return rows


def write_summary(ck):
    """``DIR/summary.md``: the parts, then each part's results in short (the CSVs hold the rest)."""
    env, t = ck.env, ck.tables
    parts = [
        f"# GPU check: {env['device']}",
        "",
        f"`{env['command']}` on {env['machine']}; torch {env['torch']}, CUDA {env['cuda']}, Triton {env['triton']}; "
        f"started {env['started']}, {time.time() - ck.start:.0f} s so far of a {ck.budget:.0f} s budget.",
        "",
        "## Parts",
        "",
        _md([dict(part=k, **v) for k, v in ck.status.items()], ["part", "status", "seconds", "box_s"]),
    ]
    if ck.cuda_error:
        parts += ["", f"**CUDA context broken**: {ck.cuda_error} (the in-process parts after it were skipped)"]
    if ck.notes:
        parts += ["", *[f"- {n}" for n in ck.notes]]
    if t.get("correctness"):
        parts += ["", "## Correctness (correctness.csv)", "", *_correctness_summary(t["correctness"])]
    defaults = [r for r in t.get("kernels", []) if r.get("role") == "default"]
    if defaults:
        cols = ["kernel", "dtype", "block_size", "k", "BLOCK_M", "BLOCK_N", "BLOCK_K", "regs", "spills"]
        cols += ["shared_bytes", "compile_s", "ms", "ok", "matches_library", "error"]
        parts += ["", "## Triton kernels at the library's launch parameters (kernels.csv)", "", _md(defaults, cols)]
    if t.get("triton_configs"):
        cols = ["dtype", "block_size", "kernel", "k", "BLOCK_M", "BLOCK_N", "BLOCK_K", "num_warps", "num_stages"]
        cols += ["ms", "default_ms", "speedup", "regs", "spills"]
        parts += [
            "",
            "## Fastest launch parameters (triton_configs.csv, `xnet.bench.tune.load_configs`)",
            "",
            _md(t["triton_configs"], cols),
        ]
    if t.get("train"):
        parts += ["", "## Training, triton against masked (train.csv)", "", *_train_summary(t["train"])]
    if t.get("layers") or t.get("models"):
        parts += ["", "## Targets of issue 12 (as measured; timings.csv)", "", *_targets(ck)]
    if _fastest(ck):
        parts += [
            "",
            "## Fastest X backend per layer group (for the CUDA rule of `auto`)",
            "",
            _md(_fastest(ck), ["k", "channels", "size", "C", "train", "train_vs_dense", "infer", "infer_vs_dense"]),
        ]
    if t.get("models"):
        cols = ["model", "variant", "params", "macs", "train_ms", "train_vs_dense", "train_vs_g", "infer_ms"]
        parts += ["", "## Models", "", _md(t["models"], cols + ["infer_vs_dense", "peak_mb", "error"])]
    if t.get("projection"):
        cols = ["experiment", "runs", "gpu_hours", "runs_measured", "runs_scaled", "runs_missing"]
        parts += [
            "",
            "## Projected GPU-hours of config/paper.yaml (per run: scratch.tar.gz)",
            "",
            _md(t["projection"], cols),
        ]
    (ck.out / "summary.md").write_text("\n".join(parts) + "\n")
