"""``python -m xnet.bench gpu --out DIR``: the one prepared GPU check (issue 18: the GPU check, v2).

One call of at most ~8 minutes of wall time (``--budget`` seconds for the parts, default 420, and a
watchdog at the budget + 45 s).  Six parts, each in its own try with a time box (a share of what
is left), the ones that matter most and that only a GPU can check first:

1. ``correctness``: every backend of X-Conv (1x1 / 3x3, stride 1 / 2, NCHW / channels_last, with
   and without bias) and X-Linear on output-regular, input-regular (the authors' "original"
   side), block-16 and block-24 graphs against the dense reference in float64: output, input,
   weight and bias gradients; bf16 and fp16 autocast first, then fp32 (TF32 off);
2. ``kernels`` (a subprocess, :mod:`xnet.bench.tune`): every Triton kernel at the library's launch
   parameters, per dtype, block size and kernel size: registers, spills, shared memory, compile
   seconds, time; then a small greedy sweep of the launch parameters (tile sizes, ``num_warps``,
   ``num_stages``) whose winners are the table ``triton_configs.csv``;
3. ``train`` (a subprocess, :mod:`xnet.bench.compare`): a short fp16 training of X-ResNet-4-50
   with blocks of 16, ``triton`` against ``masked``, losses compared step by step;
4. ``layers``: ``bench layers`` at 256-1024 channels, batch 128, bf16 autocast, channels_last;
5. ``models``: ResNet-50 and MobileNet-0.5 at C = 4, dense / G / X / X from blocks (``auto``,
   ``triton``), MACs counted on the meta device;
6. ``projection``: projected GPU-hours of ``config/paper.yaml`` (:mod:`xnet.bench.projection`).

Timing: CUDA events over >= 10 calls (``triton.testing.do_bench`` for the kernels), minimum of
interleaved repeats, ``cudnn.benchmark`` on (as the trainer).  A CUDA error that sticks (the
device no longer synchronises) ends the in-process parts, recorded; the subprocess parts still run.

Output: DIR (new or empty; nothing is overwritten) holds only a few small flat files, rewritten as
the parts go: ``summary.md`` (rewritten after every part, printed at the end), ``status.json``
(machine, versions, status and seconds of every part), ``correctness.csv``, ``kernels.csv``,
``triton_configs.csv``, ``train.csv``, ``timings.csv`` (layers and models) and
``scratch.tar.gz``: the scratch folder (``--scratch``, default a new temporary folder: the log,
the projection tables, the subprocesses' output), without ``*.pt`` and Triton's cache, if under
5 MB (else left out, and the summary says so).  Without a CUDA device it prints one line
(``xnet: error: ...``), writes nothing and exits with status 1.  ``--device cpu --tiny`` (hidden)
runs every part at tiny sizes on CPU (with ``TRITON_INTERPRET=1``, the ``triton`` cases through
Triton's interpreter): the test of this script.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .layers import QUICK_MODEL_CASES, bench_layers, bench_models
from .timing import autocast, machine_info

# name: (share of the budget, runs in a subprocess); in the order they run
PARTS = {
    "correctness": (0.17, False),
    "kernels": (0.24, True),
    "train": (0.15, True),
    "layers": (0.17, False),
    "models": (0.13, False),
    "projection": (0.14, False),
}
REPO = Path(__file__).resolve().parents[2]
# the flat files of DIR: table -> file (layers and models share timings.csv, a column `table` tells them apart)
FLAT_TABLES = {
    "correctness": "correctness.csv",
    "kernels": "kernels.csv",
    "triton_configs": "triton_configs.csv",
    "train": "train.csv",
    "layers": "timings.csv",
    "models": "timings.csv",
}
OUT_FILES = ("summary.md", "status.json", *dict.fromkeys(FLAT_TABLES.values()), "scratch.tar.gz")
MAX_FILE_BYTES = 900_000  # each flat file (the device tool brings back a few small files)
MAX_TAR_BYTES = 5_000_000
WATCHDOG_GRACE_S = 45.0
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
TOL = {"bfloat16": 3e-2, "float16": 5e-3, "float32": 1e-4}
DTYPE_ORDER = (torch.bfloat16, torch.float16, torch.float32)  # the ones only a GPU checks first
TRAIN_ARGS = dict(model="X-ResNet-4-50", block_size=16, steps=30, batch=32, size=128, classes=100, dtype="float16")
TINY_TRAIN_ARGS = dict(model="tiny", block_size=8, steps=3, batch=2, size=8, classes=10, dtype="float16")


class CudaBroken(RuntimeError):
    """The CUDA context no longer works (a sticky error): the in-process parts end."""


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:400]


class Check:
    """Output folder (flat, small files), scratch folder, log, tables, time boxes, CUDA state and
    the watchdog of one run of the check."""

    def __init__(self, out: Path, scratch: Path, device, tiny, budget, env):
        self.out, self.scratch, self.device, self.tiny, self.env = out, scratch, device, tiny, env
        self.budget = budget
        self.start = time.time()
        self.end = self.start + budget
        self.status, self.tables, self.notes = {}, {}, []
        self.cuda_error = None
        self.current = None
        self.finished = False
        self.lock = threading.RLock()

    # -- output -------------------------------------------------------------------------------
    def log(self, msg):
        print(msg, flush=True)
        with open(self.scratch / "log.txt", "a") as f:
            f.write(msg + "\n")

    def add(self, table, row):
        """Append ``row`` to ``table``; rewrite its CSV (flat in DIR if it is one of FLAT_TABLES,
        and in the scratch folder): a killed run keeps its rows."""
        with self.lock:
            self.tables.setdefault(table, []).append(row)
            self._write_csv(self.scratch / f"{table}.csv", self.tables[table])
            if table in FLAT_TABLES:
                name = FLAT_TABLES[table]
                names = [t for t, f in FLAT_TABLES.items() if f == name]
                rows = [{"table": t, **r} if len(names) > 1 else r for t in names for r in self.tables.get(t, [])]
                self._write_csv(self.out / name, rows)

    @staticmethod
    def _write_csv(path, rows):
        cols = list(dict.fromkeys(k for r in rows for k in r))
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, cols)
            w.writeheader()
            w.writerows(rows)

    def write_status(self):
        state = dict(
            env=self.env,
            parts=self.status,
            cuda_error=self.cuda_error,
            notes=self.notes,
            elapsed_s=round(time.time() - self.start, 1),
            scratch=str(self.scratch),
        )
        (self.out / "status.json").write_text(json.dumps(state, indent=2, default=str) + "\n")

    # -- CUDA state ---------------------------------------------------------------------------
    def probe(self):
        """Raise CudaBroken if the device no longer synchronises (a sticky CUDA error)."""
        if self.device.type != "cuda" or self.cuda_error:
            if self.cuda_error:
                raise CudaBroken(self.cuda_error)
            return
        try:
            torch.cuda.synchronize(self.device)
            torch.ones(1, device=self.device).add_(1).item()
        except Exception as e:  # noqa: BLE001 - any failure here means the context is gone
            self.cuda_error = one_line(e)
            raise CudaBroken(self.cuda_error) from None

    # -- parts --------------------------------------------------------------------------------
    def run_parts(self, parts):
        for i, (name, fn) in enumerate(parts):
            left = self.end - time.time()
            share = PARTS[name][0] / sum(PARTS[n][0] for n, _ in parts[i:])
            box = max(0.0, left * share)
            deadline = time.time() + box
            t0 = time.time()
            self.current = name
            self.log(f"== part {i + 1}/{len(parts)}: {name} ({box:.0f} s box)")
            if self.cuda_error and not PARTS[name][1]:
                status = f"skipped: the CUDA context broke earlier ({self.cuda_error})"
            elif box < 1:
                status = "skipped: no time left (time box)"
            else:
                try:
                    note = fn(self, deadline) or ""
                    status = "ok" if not note else note
                except CudaBroken as e:
                    status = f"failed: CUDA error, the in-process parts end here: {e}"
                except Exception as e:  # noqa: BLE001 - recorded; the next part goes on
                    status = f"failed: {one_line(e)}"
                if not PARTS[name][1] and not self.cuda_error:
                    try:
                        self.probe()
                    except CudaBroken:
                        status += f" (then the CUDA context broke: {self.cuda_error})"
                if self.device.type == "cuda" and not self.cuda_error:
                    torch.cuda.empty_cache()
            with self.lock:
                self.status[name] = dict(status=status[:600], seconds=round(time.time() - t0, 1), box_s=round(box))
                self.current = None
                self.write_status()
                write_summary(self)
            self.log(f"== {name}: {status} ({time.time() - t0:.0f} s)")

    # -- end ----------------------------------------------------------------------------------
    def finish(self, why=None):
        """Tar the scratch folder (no ``*.pt``, no Triton cache) into DIR if small enough, check
        the flat folder, rewrite status and summary, print the summary.  Runs once."""
        with self.lock:
            if self.finished:
                return
            self.finished = True
            if why:
                self.notes.append(why)
            self._tar()
            for p in sorted(self.out.iterdir()):
                if p.is_dir() or p.name not in OUT_FILES:
                    self.notes.append(f"unexpected {p.name} in DIR (a bug of the check)")
                elif p.stat().st_size > MAX_FILE_BYTES and p.suffix != ".gz":
                    size = p.stat().st_size
                    p.replace(self.scratch / p.name)
                    self.notes.append(f"{p.name}: {size} bytes, over {MAX_FILE_BYTES}: moved to {self.scratch}")
            self.write_status()
            write_summary(self)
            print("\n" + (self.out / "summary.md").read_text(), flush=True)
            for name, st in self.status.items():  # the end of the output, where a cut tail keeps it
                print(f"part {name}: {st['status']} ({st['seconds']} s)", flush=True)

    def _tar(self):
        tar = self.out / "scratch.tar.gz"
        tmp = self.scratch.parent / f".{self.scratch.name}.tar.gz"
        left_out = []

        def keep(info):
            parts = Path(info.name).parts
            if info.name.endswith(".pt") or "triton-cache" in parts:
                if info.isfile():
                    left_out.append(info.name)
                return None
            return info

        try:
            with tarfile.open(tmp, "w:gz") as t:
                t.add(self.scratch, arcname="scratch", filter=keep)
            size = tmp.stat().st_size
            if size > MAX_TAR_BYTES:
                self.notes.append(
                    f"scratch.tar.gz: {size} bytes, over {MAX_TAR_BYTES}: not written (see {self.scratch})"
                )
                tmp.unlink()
            else:
                tmp.replace(tar)
                self.notes.append(
                    f"scratch.tar.gz: {size} bytes of {self.scratch}"
                    + (f" ({len(left_out)} *.pt / Triton-cache files left out)" if left_out else "")
                )
        except Exception as e:  # noqa: BLE001 - the flat files stand without it
            self.notes.append(f"scratch.tar.gz not written: {one_line(e)}")

    def watchdog(self):
        """At the budget + grace, a part still running (a hung kernel, say) ends the check: the
        files are written and the process exits with status 3."""

        def fire():
            with self.lock:
                part = self.current
                if part:
                    self.status[part] = dict(
                        status=f"failed: still running {WATCHDOG_GRACE_S:.0f} s past the budget (watchdog)",
                        seconds=round(time.time() - self.start, 1),
                    )
                self.log(f"== watchdog: {part or 'the check'} still running past the budget; writing the files")
                self.finish(why=f"watchdog: the check was ended during part {part}")
            os._exit(3)

        t = threading.Timer(self.budget + WATCHDOG_GRACE_S, fire)
        t.daemon = True
        t.start()
        return t


def _subprocess_env(ck):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env["TRITON_CACHE_DIR"] = str(ck.scratch / "triton-cache")  # fresh: compile seconds are real
    if ck.device.type == "cpu":
        env["TRITON_INTERPRET"] = "1"
        env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_worker(ck, name, module, args, deadline):
    """``python -m module args`` with its output in the scratch folder, ended at the deadline;
    returns ``(return code or None if timed out, last stderr line)``."""
    log_path = ck.scratch / f"{name}.log"
    timeout = max(1.0, deadline - time.time())
    cmd = [sys.executable, "-m", module, *args]
    ck.log(f"  {' '.join(cmd[1:])}")
    with open(log_path, "w") as logf:
        try:
            proc = subprocess.run(
                cmd, stdout=logf, stderr=subprocess.STDOUT, env=_subprocess_env(ck), cwd=REPO, timeout=timeout
            )
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = None
    lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    err = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else "no output")
    return rc, err[:300]


def _jsonl(path):
    if not path.exists():
        return []
    rows = []
    for ln in path.read_text().splitlines():
        try:
            rows.append(json.loads(ln))
        except json.JSONDecodeError:  # a line cut by the time box
            pass
    return rows


# ----------------------------------------------------------------------------------------------
# 1. correctness


def _rel(a, ref):
    return float((a.detach().double() - ref.detach()).abs().max() / (ref.detach().abs().max() + 1e-12))


def _layer_case(layer, x, dtype, kind):
    from ..nn.functional import dense_weight

    x = x.detach().requires_grad_(True)
    with autocast(x.device, dtype if dtype != torch.float32 else None):
        y = layer(x)
    gy = torch.randn(y.shape, device=x.device)
    params = (layer.weight,) + ((layer.bias,) if layer.bias is not None else ())
    grads = torch.autograd.grad(y.float(), (x, *params), gy)
    x64 = x.detach().double().requires_grad_(True)
    w64 = layer.weight.detach().double().requires_grad_(True)
    b64 = None if layer.bias is None else layer.bias.detach().double().requires_grad_(True)
    wd = dense_weight(w64, layer.neighbors, x.shape[1] if kind == "conv" else x.shape[-1], **layer._table_kwargs())
    y64 = (
        F.conv2d(x64, wd, b64, layer.stride, layer.padding, layer.dilation)
        if kind == "conv"
        else F.linear(x64, wd, b64)
    )
    grads64 = torch.autograd.grad(y64, (x64, w64) + ((b64,) if b64 is not None else ()), gy.double())
    row = dict(err_y=_rel(y, y64), err_gx=_rel(grads[0], grads64[0]), err_gw=_rel(grads[1], grads64[1]))
    if b64 is not None:
        row["err_gb"] = _rel(grads[2], grads64[2])
    row.update(
        out_dtype=str(y.dtype)[6:],
        layout_kept=bool(
            y.dim() < 4
            or y.is_contiguous(memory_format=torch.channels_last) == x.is_contiguous(memory_format=torch.channels_last)
        ),
    )
    return row


def _graphs(tiny):
    """(name, XConv2d / XLinear graph keywords, block size or None)."""
    if tiny:
        return [("output", {}, None), ("input", {"regular": "input"}, None), ("block8", {}, 8)]
    return [("output", {}, None), ("input", {"regular": "input"}, None), ("block16", {}, 16), ("block24", {}, 24)]


def _backends(graph_bs, pointwise, device):
    from .layers import _triton_available

    block = graph_bs is not None
    out = ["masked", "gather"] + (["block"] if block else []) + (["sparse"] if pointwise else [])
    if block and _triton_available(device):
        out.append("triton")
    return out + ["auto"]


def correctness_cases(ck):
    """``[(row, builder)]`` in the order they run: bf16, fp16, then fp32; within a dtype, every
    shape, graph and backend."""
    from ..nn import XConv2d, XLinear

    dev = ck.device
    # 96 -> 48 channels of degree 48 (output-regular: 2 blocks of 24, 3 of 16), 24 (input-regular)
    cin, cout, d, d_in, n, hw = (16, 16, 8, 8, 2, 5) if ck.tiny else (96, 48, 48, 24, 4, 9)
    # (layer, kernel, stride, channels_last, bias)
    shapes = [
        ("conv", 1, 1, False, False),
        ("conv", 1, 2, True, True),
        ("conv", 3, 1, True, True),
        ("conv", 3, 2, False, False),
        ("linear", 1, 1, False, True),
    ]
    if ck.tiny:
        shapes = [shapes[1], shapes[4]]
    cases = []
    for dtype in DTYPE_ORDER:
        for kind, k, stride, cl, bias in shapes:
            for gname, gkw, bs in _graphs(ck.tiny):
                for backend in _backends(bs, k == 1, dev):
                    row = dict(
                        dtype=str(dtype)[6:],
                        layer=kind,
                        k=k,
                        stride=stride,
                        channels_last=cl,
                        bias=bias,
                        graph=gname,
                        backend=backend,
                    )
                    degree = d_in if gkw.get("regular") == "input" else d

                    def build(
                        kind=kind, k=k, stride=stride, cl=cl, bias=bias, gkw=gkw, bs=bs, backend=backend, degree=degree
                    ):
                        kw = dict(degree=degree, block_size=bs, seed=1, backend=backend, bias=bias, **gkw)
                        if kind == "conv":
                            layer = XConv2d(cin, cout, k, stride, k // 2, **kw).to(dev)
                            x = torch.randn(n, cin, hw, hw, device=dev)
                            if cl:
                                layer = layer.to(memory_format=torch.channels_last)
                                x = x.contiguous(memory_format=torch.channels_last)
                        else:
                            layer = XLinear(cin, cout, **kw).to(dev)
                            x = torch.randn(n, 3, cin, device=dev)
                        return layer, x

                    cases.append((row, build))
    return cases


def part_correctness(ck, deadline):
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    failed = skipped = 0
    interpreted = ck.device.type == "cpu" and _interpreted()
    try:
        for row, build in correctness_cases(ck):
            dtype = getattr(torch, row["dtype"])
            if time.time() > deadline:
                skipped += 1
                continue
            if interpreted and row["backend"] == "triton" and dtype == torch.bfloat16:
                ck.add(
                    "correctness", dict(row, ok="", error="not checked: the interpreter's bf16 tl.dot is unreliable")
                )
                continue
            torch.manual_seed(0)
            try:
                layer, x = build()
                if dtype != torch.float32:
                    x = x.to(dtype)
                row.update(_layer_case(layer, x, dtype, row["layer"]))
                errs = [row[e] for e in ("err_y", "err_gx", "err_gw", "err_gb") if e in row]
                row["ok"] = max(errs) < TOL[row["dtype"]]
            except Exception as e:  # noqa: BLE001 - recorded as a failed case
                row.update(ok=False, error=one_line(e)[:300])
                ck.probe()  # a sticky CUDA error ends the part (and the in-process parts)
            failed += not row["ok"]
            ck.add("correctness", row)
            if not row["ok"]:
                ck.log(f"  FAIL {row}")
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    rows = ck.tables.get("correctness", [])
    layout = sum(r.get("layout_kept") is False for r in rows)
    checked = sum(r.get("ok") != "" for r in rows)
    ck.log(f"  {checked - failed} of {checked} cases within tolerance ({TOL}); {skipped} skipped (time box)")
    notes = [
        f"{failed} cases out of tolerance" if failed else "",
        f"{layout} cases did not keep the input's memory format (layout_kept)" if layout else "",
        f"{skipped} cases skipped (time box)" if skipped else "",
    ]
    return "; ".join(v for v in notes if v)


# ----------------------------------------------------------------------------------------------
# 2. kernels (subprocess)


def part_kernels(ck, deadline):
    from .tune import winners

    path = ck.scratch / "kernels.jsonl"
    box = deadline - time.time()
    args = ["--out", str(path), "--device", ck.device.type, "--budget", f"{max(1.0, box - 15):.0f}"]
    rc, err = run_worker(ck, "kernels", "xnet.bench.tune", args + (["--tiny"] if ck.tiny else []), deadline)
    rows = _jsonl(path)
    for r in rows:
        ck.add("kernels", r)
    for r in winners(rows):
        ck.add("triton_configs", r)
    log = (ck.scratch / "kernels.log").read_text(errors="replace").splitlines()
    done = next((ln for ln in reversed(log) if ln.startswith("tune: ")), "")
    cut = int(done.split(", ")[1].split()[0]) if done and ", " in done else 0
    bad = [r for r in rows if not r.get("ok")]
    spills = [r for r in rows if r["role"] == "default" and (r.get("spills") or 0) > 0]
    differ = [r for r in rows if r["role"] == "default" and r.get("ok") and not r.get("matches_library")]
    notes = [
        f"{len(bad)} configurations failed or out of tolerance" if bad else "",
        f"{len(spills)} default kernels spill registers" if spills else "",
        f"{len(differ)} default launches differ from the library's output" if differ else "",
        "no configuration measured" if not rows else "",
        f"{cut} configurations skipped (time box)" if cut else "",
        "timed out (time box)" if rc is None else (f"worker exited {rc}: {err}" if rc else ""),
    ]
    return "; ".join(v for v in notes if v)


# ----------------------------------------------------------------------------------------------
# 3. train (subprocess)


def part_train(ck, deadline):
    path = ck.scratch / "train.jsonl"
    conf = TINY_TRAIN_ARGS if ck.tiny else TRAIN_ARGS
    box = deadline - time.time()
    args = ["--out", str(path), "--device", ck.device.type, "--budget", f"{max(1.0, box - 25):.0f}"]
    for key, v in conf.items():
        args += [f"--{key.replace('_', '-')}", str(v)]
    rc, err = run_worker(ck, "train", "xnet.bench.compare", args, deadline)
    rows = _jsonl(path)
    for r in rows:
        ck.add("train", dict(model=conf["model"], block_size=conf["block_size"], dtype=conf["dtype"], **r))
    notes = ["no step measured" if not rows else ""]
    if rows:
        first = max(r["rel_diff"] for r in rows[:5])
        if first > 1e-2:
            notes.append(f"losses differ by up to {first:.1e} (relative) in the first steps (> 1e-2)")
        if not all(math.isfinite(r["loss_triton"]) for r in rows):
            notes.append("non-finite triton losses")
        if len(rows) < conf["steps"]:
            notes.append(f"{len(rows)} of {conf['steps']} steps")
    notes.append("timed out (time box)" if rc is None else (f"worker exited {rc}: {err}" if rc else ""))
    return "; ".join(v for v in notes if v)


# ----------------------------------------------------------------------------------------------
# 4. layers, 5. models


def part_layers(ck, deadline):
    shapes, comps = ([(1, 32, 6)], [4]) if ck.tiny else (LAYER_SHAPES, [4, 8, 16])
    batch, repeats, iters = (2, 1, 1) if ck.tiny else (128, 3, 10)
    skipped = 0
    for c in comps:  # C = 4 first: the time box cuts the least important groups
        for shape in shapes:
            if time.time() > deadline:
                skipped += 1
                continue
            bench_layers(
                ck.device,
                batch,
                repeats,
                [shape],
                [c],
                1.0,
                torch.bfloat16,
                True,
                on_row=lambda r: ck.add("layers", r),
                iters=iters,
            )
            ck.probe()
    return f"{skipped} groups skipped (time box)" if skipped else ""


def part_models(ck, deadline):
    cases = TINY_MODEL_CASES if ck.tiny else MODEL_CASES
    skipped = 0
    for case in cases:
        if time.time() > deadline:
            skipped += 1
            continue
        bench_models(
            ck.device,
            [case],
            1 if ck.tiny else 3,
            30.0,
            torch.bfloat16,
            True,
            on_row=lambda r: ck.add("models", r),
            iters=1 if ck.tiny else 10,
        )
        ck.probe()
    errors = [r for r in ck.tables.get("models", []) if r.get("error")]
    notes = [
        f"{len(errors)} variants failed" if errors else "",
        f"{skipped} models skipped (time box)" if skipped else "",
    ]
    return "; ".join(v for v in notes if v)


# ----------------------------------------------------------------------------------------------
# 6. projection


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


FUNCS = {
    "correctness": part_correctness,
    "kernels": part_kernels,
    "train": part_train,
    "layers": part_layers,
    "models": part_models,
    "projection": part_projection,
}


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


# ----------------------------------------------------------------------------------------------
# command line


def _interpreted():
    try:
        from ..nn import triton_block
    except ImportError:
        return False
    return triton_block.INTERPRETED


def main(argv=None) -> int:
    from . import Parser, UsageError, positive_float, usage_exit

    argv = list(sys.argv[2:] if argv is None else argv)
    ap = Parser(prog="python -m xnet.bench gpu", description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for the results: new or empty; only small flat files")
    ap.add_argument("--budget", type=positive_float, default=420.0, help="seconds for all parts (default 420)")
    ap.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS), help="run only these parts")
    ap.add_argument("--scratch", default=None, help="folder for everything else (default: a new temporary one)")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help=argparse.SUPPRESS)  # cpu: self-test
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    try:
        args = ap.parse_args(argv)
        if args.device == "cpu" and not args.tiny:
            raise UsageError("--device cpu is the self-test: it needs --tiny")
    except UsageError as e:
        return usage_exit(ap.prog, e)
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
            f"xnet: error: bench gpu: --out: {out} exists and is not an empty directory (nothing is overwritten)",
            file=sys.stderr,
        )
        return 1
    scratch = Path(args.scratch) if args.scratch else Path(tempfile.mkdtemp(prefix="xnet-gpu-scratch-"))
    if scratch.resolve() == out.resolve() or out.resolve() in scratch.resolve().parents:
        return usage_exit(ap.prog, f"--scratch: {scratch} lies in --out (which holds only the small flat files)")
    if scratch.exists() and (not scratch.is_dir() or any(scratch.iterdir())):
        return usage_exit(ap.prog, f"--scratch: {scratch} exists and is not an empty directory")
    out.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the trainer: cuDNN picks its algorithms per shape
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:  # the triton backend then fails with a one-line error, recorded per case
        triton_version = None
    env = dict(
        command="python -m xnet.bench gpu " + " ".join(argv),
        machine=machine_info(),
        started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (self-test)",
        capability=".".join(map(str, torch.cuda.get_device_capability(device))) if device.type == "cuda" else None,
        torch=torch.__version__,
        cuda=torch.version.cuda,
        triton=triton_version,
        cudnn=torch.backends.cudnn.version() if device.type == "cuda" else None,
        cudnn_benchmark=torch.backends.cudnn.benchmark,
        budget_s=args.budget,
        tiny=args.tiny,
        triton_interpret=os.environ.get("TRITON_INTERPRET"),
    )
    ck = Check(out, scratch, device, args.tiny, args.budget, env)
    ck.write_status()
    write_summary(ck)
    ck.log(f"xnet GPU check on {env['device']}: {env['machine']}; results in {out}, the rest in {scratch}")
    timer = ck.watchdog()
    try:
        ck.run_parts([(p, FUNCS[p]) for p in PARTS if p in args.parts])
        ck.log(f"done in {time.time() - ck.start:.0f} s: {out / 'summary.md'}, the rest in {scratch}")
    finally:
        timer.cancel()
        ck.finish()
    return 0
