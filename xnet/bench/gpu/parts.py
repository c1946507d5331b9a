"""The six parts of the GPU check (:data:`FUNCS`, in the order of :data:`~xnet.bench.gpu.spec.PARTS`):
each takes the :class:`~xnet.bench.gpu.check.Check` and its deadline, adds its rows to the check's
tables and returns a note ("" when all went well)."""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from ..layers import bench_layers, bench_models
from ..timing import autocast
from .check import _jsonl, run_worker
from .spec import (
    DTYPE_ORDER,
    LAYER_SHAPES,
    MODEL_CASES,
    REPO,
    TINY_MODEL_CASES,
    TINY_TRAIN_ARGS,
    TOL,
    TRAIN_ARGS,
    _interpreted,
    one_line,
)

# ----------------------------------------------------------------------------------------------
# 1. correctness


def _rel(a, ref):
    return float((a.detach().double() - ref.detach()).abs().max() / (ref.detach().abs().max() + 1e-12))


def _layer_case(layer, x, dtype, kind):
    from ...nn.functional import dense_weight

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
    from ..layers import _triton_available

    block = graph_bs is not None
    out = ["masked", "gather"] + (["block"] if block else []) + (["sparse"] if pointwise else [])
    if block and _triton_available(device):
        out.append("triton")
    return out + ["auto"]


def correctness_cases(ck):
    """``[(row, builder)]`` in the order they run: bf16, fp16, then fp32; within a dtype, every
    shape, graph and backend."""
    from ...nn import XConv2d, XLinear

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
    from ..tune import winners

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
    from ..projection import run_projection

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
