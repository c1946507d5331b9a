"""``python -m xnet.bench gpu --out DIR``: the one prepared GPU check (issue 12).

Five parts, each time-boxed (``--budget`` seconds in all, default 450: within 8 minutes on one
H100); a part that fails or runs out of time is recorded and the others go on.  Everything
measured goes under DIR (which must not exist yet or be empty: nothing is overwritten):

1. ``correctness.csv``: every backend of X-Conv (1x1 / 3x3, stride 1 / 2, NCHW / channels_last)
   and X-Linear on channel-level and block graphs against the dense reference (float64), output,
   input and weight gradients, in fp32 (TF32 off) and under bf16 autocast;
2. ``layers.csv``: ``bench layers`` at 256-1024 channels, batch 128, bf16 autocast, channels_last:
   dense, G-Conv and every X backend, train / inference time, ratios, peak memory;
3. ``models.csv``: ResNet-50 and MobileNet-0.5 at C = 4, dense / G / X / X from blocks (``auto``
   and ``triton``), batch 128, same settings;
4. ``train.csv`` and ``train/<family>/``: one short ``python -m xnet train`` per model family on
   CUDA (AMP; the trainer uses channels_last on CUDA) on synthetic data, with its peak memory;
5. ``projection.csv`` / ``projection_runs.csv``: projected GPU-hours of ``config/paper.yaml`` per
   table and figure from measured step times (:mod:`xnet.bench.projection`).

Plus ``env.json`` (machine, versions), ``parts.json`` (status and time of each part),
``summary.md`` (all tables, the issue's targets as met / missed) and ``log.txt``.  Without a CUDA
device it prints one line (``xnet: error: ...``), writes nothing and exits with status 1.
``--device cpu --tiny`` (hidden) runs every part at tiny sizes on CPU: the test of this script.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .layers import QUICK_MODEL_CASES, bench_layers, bench_models
from .timing import autocast, machine_info

PARTS = {"correctness": 0.14, "layers": 0.28, "models": 0.2, "train": 0.23, "projection": 0.15}  # budget shares
REPO = Path(__file__).resolve().parents[2]
LAYER_SHAPES = [(1, 256, 56), (1, 512, 28), (1, 1024, 14), (3, 256, 28), (3, 512, 14), (3, 1024, 7)]
MODEL_CASES = tuple(
    (
        f"{title}, C=4",
        (3, 224, 224),
        128,
        [
            ("dense", dense, {}),
            ("G", g, {}),
            ("X", x, {}),
            ("X block16", x, {"block_size": 16}),
            ("X block16 triton", x, {"block_size": 16, "backend": "triton"}),
        ],
    )
    for title, dense, g, x in (
        ("ResNet-50", "ResNet-50", "G-ResNet-4-50", "X-ResNet-4-50"),
        ("MobileNet-0.5", "MobileNet-0.5", "G-MobileNet-0.5-4", "X-MobileNet-0.5-4"),
    )
)
TINY_MODEL_CASES = tuple(
    (title, size, batch, [v for v in variants if v[0] in ("dense", "X block8")])
    for title, size, batch, variants in QUICK_MODEL_CASES
)
# one representative model per family of the zoo (xnet.models FAMILIES) and its synthetic dataset
TRAIN_RUNS = (
    ("resnet_imagenet", "X-ResNet-2-50", "synthetic-imagenet"),
    ("mobilenet05_imagenet", "X-MobileNet-0.5-4", "synthetic-imagenet"),
    ("densenet_bc_cifar", "X-DenseNet-BC-40-24-2", "synthetic-cifar10"),
    ("vgg16_cifar", "X-VGG16-1", "synthetic-cifar10"),
    ("densenet_bc_imagenet", "X-DenseNet-BC-2-121", "synthetic-imagenet"),
    ("alexnet_imagenet", "X-AlexNet-1", "synthetic-imagenet"),
)
TOL = {"float32": 1e-4, "bfloat16": 3e-2}


class Check:
    """Output directory, log, CSV writers and the time boxes of one run of the check."""

    def __init__(self, out: Path, device, tiny, budget):
        self.out, self.device, self.tiny = out, device, tiny
        self.end = time.time() + budget
        self.status = {}
        self.tables = {}

    def log(self, msg):
        print(msg, flush=True)
        with open(self.out / "log.txt", "a") as f:
            f.write(msg + "\n")

    def add(self, table, row):
        """Append ``row`` to ``table`` and rewrite ``DIR/<table>.csv`` (a killed run keeps its rows)."""
        rows = self.tables.setdefault(table, [])
        rows.append(row)
        cols = list(dict.fromkeys(k for r in rows for k in r))
        with open(self.out / f"{table}.csv", "w", newline="") as f:
            w = csv.DictWriter(f, cols)
            w.writeheader()
            w.writerows(rows)

    def run_parts(self, parts):
        for i, (name, fn) in enumerate(parts):
            left = self.end - time.time()
            share = PARTS[name] / sum(PARTS[n] for n, _ in parts[i:])
            deadline = time.time() + max(0.0, left * share)
            t0 = time.time()
            self.log(f"== part {i + 1}/{len(parts)}: {name} ({max(0.0, left * share):.0f} s box)")
            try:
                note = fn(self, deadline) or ""
                status = "ok" if not note else note
            except Exception as e:  # noqa: BLE001 - recorded; the next part goes on
                status = f"failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:400]
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
            self.status[name] = dict(status=status, seconds=round(time.time() - t0, 1))
            self.log(f"== {name}: {status} ({time.time() - t0:.0f} s)")
            (self.out / "parts.json").write_text(json.dumps(self.status, indent=2) + "\n")


# ----------------------------------------------------------------------------------------------
# 1. correctness


def _rel(a, ref):
    return float((a.detach().double() - ref.detach()).abs().max() / (ref.detach().abs().max() + 1e-12))


def _backends(graph, pointwise, device):
    from .layers import _triton_available

    out = ["masked", "gather"] + (["block"] if graph == "block" else []) + (["sparse"] if pointwise else [])
    if graph == "block" and _triton_available(device):
        out.append("triton")
    return out + ["auto"]


def _layer_case(layer, x, dtype, kind):
    from ..nn.functional import dense_weight

    x = x.detach().requires_grad_(True)
    with autocast(x.device, dtype if dtype != torch.float32 else None):
        y = layer(x)
    gy = torch.randn(y.shape, device=x.device)
    gx, gw = torch.autograd.grad(y.float(), (x, layer.weight), gy)
    x64 = x.detach().double().requires_grad_(True)
    w64 = layer.weight.detach().double().requires_grad_(True)
    wd = dense_weight(w64, layer.neighbors, x.shape[1] if kind == "conv" else x.shape[-1])
    b64 = None if layer.bias is None else layer.bias.detach().double()
    y64 = (
        F.conv2d(x64, wd, b64, layer.stride, layer.padding, layer.dilation)
        if kind == "conv"
        else F.linear(x64, wd, b64)
    )
    gx64, gw64 = torch.autograd.grad(y64, (x64, w64), gy.double())
    return dict(
        err_y=_rel(y, y64),
        err_gx=_rel(gx, gx64),
        err_gw=_rel(gw, gw64),
        out_dtype=str(y.dtype)[6:],
        layout_kept=bool(
            y.dim() < 4
            or y.is_contiguous(memory_format=torch.channels_last) == x.is_contiguous(memory_format=torch.channels_last)
        ),
    )


def part_correctness(ck, deadline):
    from ..nn import XConv2d, XLinear

    dev = ck.device
    cin, cout, d, b, n, hw = (32, 16, 16, 8, 2, 5) if ck.tiny else (64, 48, 32, 16, 4, 9)
    shapes = [
        ("conv", 1, 1, False),
        ("conv", 1, 2, True),
        ("conv", 3, 1, True),
        ("conv", 3, 2, False),
        ("linear", 1, 1, False),
    ]
    if ck.tiny:
        shapes = [shapes[1], shapes[4]]
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    failed = skipped = 0
    try:
        for dtype in (torch.float32, torch.bfloat16):
            dname = str(dtype)[6:]
            for kind, k, stride, cl in shapes:
                for graph in ("random", "block"):
                    for backend in _backends(graph, k == 1, dev):
                        row = dict(
                            layer=kind, k=k, stride=stride, channels_last=cl, dtype=dname, graph=graph, backend=backend
                        )
                        if time.time() > deadline:
                            skipped += 1
                            continue
                        torch.manual_seed(0)
                        bs = b if graph == "block" else None
                        try:
                            if kind == "conv":
                                layer = XConv2d(
                                    cin, cout, k, stride, k // 2, degree=d, block_size=bs, seed=1, backend=backend
                                ).to(dev)
                                x = torch.randn(n, cin, hw, hw, device=dev)
                                if cl:
                                    layer, x = (
                                        layer.to(memory_format=torch.channels_last),
                                        x.contiguous(memory_format=torch.channels_last),
                                    )
                            else:
                                layer = XLinear(cin, cout, degree=d, block_size=bs, seed=1, backend=backend).to(dev)
                                x = torch.randn(n, 3, cin, device=dev)
                            if dtype != torch.float32:
                                x = x.to(dtype)
                            row.update(_layer_case(layer, x, dtype, kind))
                            row["ok"] = max(row["err_y"], row["err_gx"], row["err_gw"]) < TOL[dname]
                        except Exception as e:  # noqa: BLE001 - recorded as a failed case
                            row.update(ok=False, error=f"{type(e).__name__}: {e}"[:300])
                        failed += not row["ok"]
                        ck.add("correctness", row)
                        if not row["ok"]:
                            ck.log(f"  FAIL {row}")
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    n_rows = len(ck.tables.get("correctness", []))
    ck.log(f"  {n_rows - failed} of {n_rows} cases within tolerance ({TOL}); {skipped} skipped (time box)")
    notes = [
        f"{failed} cases out of tolerance" if failed else "",
        f"{skipped} cases skipped (time box)" if skipped else "",
    ]
    return "; ".join(v for v in notes if v)


# ----------------------------------------------------------------------------------------------
# 2. layers, 3. models


def part_layers(ck, deadline):
    shapes, comps = ([(1, 32, 6), (3, 32, 6)], [4]) if ck.tiny else (LAYER_SHAPES, [4, 8, 16])
    batch, repeats = (2, 1) if ck.tiny else (128, 3)
    skipped = 0
    for c in comps:  # C = 4 first: the time box cuts the least important groups
        for shape in shapes:
            if time.time() > deadline:
                skipped += 1
                continue
            bench_layers(
                ck.device, batch, repeats, [shape], [c], 1.0, torch.bfloat16, True, on_row=lambda r: ck.add("layers", r)
            )
    return f"{skipped} groups skipped (time box)" if skipped else ""


def part_models(ck, deadline):
    cases = TINY_MODEL_CASES if ck.tiny else MODEL_CASES
    skipped = 0
    for case in cases:
        if time.time() > deadline:
            skipped += 1
            continue
        bench_models(
            ck.device, [case], 1 if ck.tiny else 3, 30.0, torch.bfloat16, True, on_row=lambda r: ck.add("models", r)
        )
    return f"{skipped} models skipped (time box)" if skipped else ""


# ----------------------------------------------------------------------------------------------
# 4. train

# runs `python -m xnet ...` and prints the peak CUDA memory on exit
_TRAIN_WRAPPER = """
import json, runpy, sys
import torch
sys.argv = ["xnet"] + sys.argv[1:]
code = 0
try:
    runpy.run_module("xnet", run_name="__main__")
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
peak = torch.cuda.max_memory_allocated() / 2 ** 20 if torch.cuda.is_available() else None
print("XNET_BENCH_PEAK_MB", json.dumps(peak))
sys.exit(code)
"""


def part_train(ck, deadline):
    runs = TRAIN_RUNS if not ck.tiny else [("densenet_bc_cifar", "densenet_bc_cifar", "synthetic-cifar10")]
    skipped = failed = 0
    for family, model, dataset in runs:
        left = deadline - time.time()
        if left < 15:
            skipped += 1
            ck.add("train", dict(family=family, model=model, dataset=dataset, status="skipped (time box)"))
            continue
        out = ck.out / "train" / family
        batch, batches = (8, 2) if ck.tiny else (64, 10)
        args = [
            "train",
            "--model",
            model,
            "--dataset",
            dataset,
            "--out",
            str(out),
            "--epochs",
            "1",
            "--batch-size",
            str(batch),
            "--train-size",
            str(batch * batches),
            "--val-size",
            str(batch * 2),
            "--limit-train-batches",
            str(batches),
            "--limit-val-batches",
            "2",
            "--no-progress",
            "--device",
            ck.device.type,
        ] + (["--amp"] if ck.device.type == "cuda" else ["--no-amp"])
        if ck.tiny:  # a small X-DenseNet-BC
            args += [f"--model-arg={a}" for a in ("depth=10", "growth=6", "conv='x'", "compression=2")]
        ck.log(f"  python -m xnet {' '.join(args)}")
        t0 = time.time()
        row = dict(family=family, model=model, dataset=dataset, batch=batch, batches=batches)
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _TRAIN_WRAPPER, *args],
                capture_output=True,
                text=True,
                timeout=min(120.0, left),
                cwd=REPO,
            )
            peak = [ln.split(None, 1)[1] for ln in proc.stdout.splitlines() if ln.startswith("XNET_BENCH_PEAK_MB")]
            row.update(
                rc=proc.returncode, wall_s=round(time.time() - t0, 1), peak_mb=json.loads(peak[-1]) if peak else None
            )
            metrics = out / "metrics.json"
            if proc.returncode == 0 and metrics.exists():
                rec = json.loads(metrics.read_text())
                row.update(
                    status="ok",
                    train_loss=rec.get("train_loss"),
                    top1_err=rec.get("top1_err"),
                    amp=rec.get("amp"),
                    amp_dtype=rec.get("amp_dtype"),
                    channels_last=rec.get("channels_last"),
                    run_wall_time_s=rec.get("wall_time_s"),
                )
            else:
                tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                row.update(status=f"failed: {tail}"[:300])
        except subprocess.TimeoutExpired:
            row.update(status="failed: timed out (time box)", wall_s=round(time.time() - t0, 1))
        failed += row["status"] != "ok"
        ck.add("train", row)
        ck.log(f"  {family}: {row['status']} in {row.get('wall_s')} s, peak {row.get('peak_mb')} MiB")
    notes = [f"{failed} runs failed" if failed else "", f"{skipped} runs skipped (time box)" if skipped else ""]
    return "; ".join(v for v in notes if v)


# ----------------------------------------------------------------------------------------------
# 5. projection


def part_projection(ck, deadline):
    from .projection import run_projection

    run_rows, exp_rows = run_projection(
        REPO / "config" / "paper.yaml",
        ck.device,
        deadline,
        tiny=ck.tiny,
        log=ck.log,
        experiments=["table2"] if ck.tiny else None,
    )
    for r in run_rows:
        ck.add("projection_runs", r)
    for r in exp_rows:
        ck.add("projection", r)
        ck.log(
            f"  {r['experiment']}: {r['gpu_hours']:.1f} GPU-hours ({r['runs']} runs: {r['runs_measured']} "
            f"measured, {r['runs_scaled']} scaled by MACs, {r['runs_missing']} missing)"
        )
    missing = exp_rows[-1]["runs_missing"]
    return f"{missing} runs without an estimate" if missing else ""


# ----------------------------------------------------------------------------------------------
# summary


def _fmt(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else (f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}")
    return "" if v is None else str(v)


def _md(rows, cols):
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _targets(ck):
    """The issue's GPU targets, as measured: met / missed."""
    lines = []
    for r in ck.tables.get("layers", []):
        if r["backend"] == "triton" and r.get("train_ms") is not None:
            vs_g = r["train_vs_g"]
            s = (
                f"- {r['k']}x{r['k']} {r['channels']} ch C={r['C']}: triton train {vs_g:.2f}x G-Conv (<= 1.25: "
                f"{'met' if vs_g <= 1.25 else 'missed'})"
            )
            if r["C"] == 4:
                s += f", {r['train_vs_dense']:.2f}x dense (<= 0.5: {'met' if r['train_vs_dense'] <= 0.5 else 'missed'})"
            lines.append(s)
    for r in ck.tables.get("models", []):
        if r["model"].startswith("ResNet-50") and r["variant"].startswith("X block16") and r.get("train_ms"):
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
        if r.get("train_ms") is None or r["graph"] in ("dense", "grouped") or r["backend"].startswith("auto"):
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


def write_summary(ck, env):
    parts = [
        f"# GPU check: {env['device']}",
        "",
        f"`{env['command']}` on {env['machine']}; started {env['started']}.",
        "",
        "## Parts",
        "",
        _md([dict(part=k, **v) for k, v in ck.status.items()], ["part", "status", "seconds"]),
        "",
        "## Targets of issue 12 (as measured)",
        "",
        *_targets(ck),
    ]
    if _fastest(ck):
        parts += [
            "",
            "## Fastest X backend per layer group (for the CUDA rule of `auto`)",
            "",
            _md(_fastest(ck), ["k", "channels", "size", "C", "train", "train_vs_dense", "infer", "infer_vs_dense"]),
        ]
    cols = {
        "correctness": [
            "layer",
            "k",
            "stride",
            "channels_last",
            "dtype",
            "graph",
            "backend",
            "err_y",
            "err_gx",
            "err_gw",
            "ok",
            "layout_kept",
            "error",
        ],
        "layers": [
            "k",
            "channels",
            "size",
            "C",
            "graph",
            "backend",
            "train_ms",
            "train_vs_dense",
            "train_vs_g",
            "infer_ms",
            "infer_vs_dense",
            "infer_vs_g",
            "peak_mb",
            "error",
        ],
        "models": [
            "model",
            "variant",
            "params",
            "macs",
            "train_ms",
            "train_vs_dense",
            "train_vs_g",
            "infer_ms",
            "infer_vs_dense",
            "peak_mb",
            "error",
        ],
        "train": ["family", "model", "dataset", "status", "wall_s", "peak_mb", "train_loss"],
        "projection": ["experiment", "runs", "gpu_hours", "runs_measured", "runs_scaled", "runs_missing"],
        "projection_runs": [
            "model",
            "dataset",
            "epochs",
            "batch",
            "seeds",
            "step_s",
            "gpu_hours_per_run",
            "peak_mb",
            "method",
        ],
    }
    for name, c in cols.items():
        if ck.tables.get(name):
            parts += ["", f"## {name}", "", _md(ck.tables[name], c)]
    (ck.out / "summary.md").write_text("\n".join(parts) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m xnet.bench gpu", description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory for everything measured (new or empty)")
    ap.add_argument("--budget", type=float, default=450.0, help="seconds for all parts (default 450)")
    ap.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS), help="run only these parts")
    ap.add_argument("--device", default="cuda", help=argparse.SUPPRESS)  # cpu: self-test with --tiny
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "xnet: error: bench gpu: no CUDA device here (torch.cuda.is_available() is False); nothing measured, "
            "run it on a GPU machine",
            file=sys.stderr,
        )
        return 1
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(
            f"xnet: error: --out: {out} exists and is not an empty directory (nothing is overwritten)", file=sys.stderr
        )
        return 1
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    ck = Check(out, device, args.tiny, args.budget)
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:  # the triton backend then fails with a one-line error, recorded per case
        triton_version = None
    env = dict(
        command="python -m xnet.bench gpu " + " ".join(argv if argv is not None else sys.argv[2:]),
        machine=machine_info(),
        started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (self-test)",
        torch=torch.__version__,
        cuda=torch.version.cuda,
        triton=triton_version,
        cudnn=torch.backends.cudnn.version() if device.type == "cuda" else None,
        budget_s=args.budget,
        tiny=args.tiny,
        triton_interpret=os.environ.get("TRITON_INTERPRET"),
    )
    (out / "env.json").write_text(json.dumps(env, indent=2) + "\n")
    ck.log(f"xnet GPU check on {env['device']}: {env['machine']}; writing to {out}")
    funcs = {
        "correctness": part_correctness,
        "layers": part_layers,
        "models": part_models,
        "train": part_train,
        "projection": part_projection,
    }
    ck.run_parts([(p, funcs[p]) for p in PARTS if p in args.parts])
    write_summary(ck, env)
    ck.log(f"done in {args.budget - (ck.end - time.time()):.0f} s: {out / 'summary.md'}")
    return 0
