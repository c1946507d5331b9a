"""The Triton kernels of the ``triton`` backend: what they compile to, and a sweep of their launch
parameters (part ``kernels`` of ``python -m xnet.bench gpu``, run in a subprocess of its own).

``python -m xnet.bench.tune --out FILE [--budget S] [--device cuda|cpu] [--tiny]`` writes one JSON
line per compiled launch configuration to FILE as it goes (a killed run keeps its lines):

- ``role=default``: every kernel (``fwd`` / ``dgrad`` / ``wgrad``) at the library's launch
  parameters (:func:`default_config`, the choices of :mod:`xnet.nn.triton_launch`'s launchers,
  ``num_warps=4, num_stages=3``: Triton's defaults), per dtype, block size and kernel size: its
  registers, spills and shared memory (of the compiled kernel), compile seconds (the first launch
  in a fresh process with its own ``TRITON_CACHE_DIR``) and time; ``matches_library``: its output
  equals the library op's bit for bit (this launcher is the library's);
- ``role=sweep``: a greedy sweep per (dtype, block size, kernel, kernel size), one parameter at a
  time from the default (``BLOCK_M``, ``BLOCK_K``, ``num_warps``, ``num_stages``, ``BLOCK_N``),
  each configuration checked against the library op's output (``ok``) before it may win.

:func:`winners` turns the lines into the table ``triton_configs.csv`` of the GPU check, keyed by
(dtype, block size, kernel, kernel size); :func:`load_configs` reads it back, for a library that
adopts it (the library's launchers do not read it: the winners are one machine's measurement).
Times: ``triton.testing.do_bench`` (CUDA events, warm-up, L2 flushed) on CUDA; the host clock on
CPU (Triton's interpreter, for the tests: its times mean nothing).
"""

from __future__ import annotations

import csv
import json
import sys
import time

import torch

KERNELS = ("fwd", "dgrad", "wgrad")
PARAMS = ("BLOCK_M", "BLOCK_N", "BLOCK_K", "num_warps", "num_stages")
LIB_LAUNCH = dict(num_warps=4, num_stages=3)  # Triton's defaults for NVIDIA: what the library launches with
SPACE = {
    "fwd": dict(
        BLOCK_M=(32, 64, 128), BLOCK_K=(16, 32, 64), num_warps=(2, 4, 8), num_stages=(2, 3, 4), BLOCK_N=(16, 32)
    ),
    "dgrad": dict(
        BLOCK_M=(32, 64, 128), BLOCK_K=(16, 32, 64), num_warps=(2, 4, 8), num_stages=(2, 3, 4), BLOCK_N=(16, 32)
    ),
    "wgrad": dict(BLOCK_K=(32, 64, 128), num_warps=(2, 4, 8), num_stages=(2, 3, 4), BLOCK_M=(16, 32), BLOCK_N=(16, 32)),
}
TINY_SPACE = {k: dict(BLOCK_M=(16, 32), num_warps=(2, 4)) for k in KERNELS}
# (dtype, block size, kernel size): the default rows, then the sweep tasks, most important first
# (fp16: the trainer's AMP dtype on CUDA; block 16: the model zoo's block X-models)
DEFAULT_VARIANTS = [(dt, b, k) for dt in ("float16", "bfloat16", "float32") for b in (16, 24) for k in (3, 1)]
SWEEP_VARIANTS = [
    ("float16", 16, 3),
    ("bfloat16", 16, 3),
    ("float16", 16, 1),
    ("bfloat16", 16, 1),
    ("float16", 24, 3),
    ("bfloat16", 24, 3),
]
TINY_DEFAULT_VARIANTS = [("float32", 8, 3), ("float16", 8, 1)]
TINY_SWEEP_VARIANTS = [("float32", 8, 3)]
TOL = {"float32": 1e-3, "float16": 2e-2, "bfloat16": 2e-2}  # against the library's output (fp32: TF32 on)


def _pow2_at_least(v, lo=16, hi=64):
    import triton

    return min(hi, max(lo, triton.next_power_of_2(v)))


def default_config(kernel, b, element_size):
    """The launch parameters :mod:`xnet.nn.triton_launch` uses for ``kernel`` at block size ``b``."""
    two = element_size == 2
    if kernel == "fwd":
        pow2 = b & -b
        block_k = min(pow2, 64 if two else 32) if pow2 >= 16 else 32
        return dict(BLOCK_M=64, BLOCK_N=_pow2_at_least(b), BLOCK_K=block_k, **LIB_LAUNCH)
    if kernel == "dgrad":
        return dict(
            BLOCK_M=64, BLOCK_N=_pow2_at_least(b), BLOCK_K=_pow2_at_least(b, hi=64 if two else 32), **LIB_LAUNCH
        )
    block = _pow2_at_least(b)
    return dict(BLOCK_M=block, BLOCK_N=block, BLOCK_K=64 if two else 32, **LIB_LAUNCH)


def valid(kernel, b, cfg):
    """Configurations worth compiling: tiles of at least 16 (``tl.dot``), none wider than the block."""
    cap = _pow2_at_least(b)
    if kernel == "wgrad":
        return cfg["BLOCK_M"] <= cap and cfg["BLOCK_N"] <= cap
    return cfg["BLOCK_N"] <= cap


def make_case(dtype, b, k, device, tiny=False, seed=0):
    """Tensors of one block X-Conv (stride 1, padding k // 2, channels_last as the trainer's):
    ResNet-like 3x3 at 28x28 / 1x1 at 14x14, batch 32, compression 4 (tiny: 16 channels, 4x4)."""
    from ..graphs import block_expander
    from ..nn.triton_block import block_tables

    dt = getattr(torch, dtype)
    if tiny:
        channels, degree, size, batch = 2 * b, b, 4, 1
    else:
        blocks = 16 if k == 3 else 32
        channels, degree, size, batch = blocks * b, blocks * b // 4, 28 if k == 3 else 14, 32
        degree -= degree % b
    g = block_expander(channels, channels, degree, b, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    cl = torch.channels_last

    def randn(*shape):
        return torch.randn(*shape, generator=gen).to(device, dt).contiguous(memory_format=cl)

    x = randn(batch, channels, size, size)
    w = randn(channels, degree, k, k) / (degree * k * k) ** 0.5
    gy = randn(batch, channels, size, size)
    neighbors = g.neighbors.to(device)
    table, table_t, counts = block_tables(neighbors, b, channels)
    conf = dict(stride=[1, 1], padding=[k // 2] * 2, dilation=[1, 1])
    shape = f"{batch}x{channels}x{size}x{size}, D={degree}, {k}x{k}"
    return dict(
        x=x, w=w, gy=gy, neighbors=neighbors, table=table, table_t=table_t, counts=counts, b=b, shape=shape, **conf
    )


def library(kernel, case):
    """The library op's result (its own launch parameters)."""
    from ..nn import triton_block as T

    c = case
    if kernel == "fwd":
        return T.block_conv2d_op(c["x"], c["w"], c["neighbors"], None, c["stride"], c["padding"], c["dilation"], c["b"])
    if kernel == "dgrad":
        return T.block_conv2d_dgrad_op(
            c["gy"], c["w"], c["neighbors"], list(c["x"].shape), True, c["stride"], c["padding"], c["dilation"], c["b"]
        )
    return T.block_conv2d_wgrad_op(
        c["gy"], c["x"], c["neighbors"], list(c["w"].shape), c["stride"], c["padding"], c["dilation"], c["b"]
    )


def launch(kernel, case, cfg):
    """Run ``kernel`` on ``case`` with launch parameters ``cfg``: ``(result, compiled kernel or None)``.

    The same grids and arguments as :mod:`xnet.nn.triton_launch`'s launchers, the tile sizes,
    ``num_warps`` and ``num_stages`` taken from ``cfg`` (the kernels take them as arguments)."""
    import triton

    from ..nn import triton_launch as T
    from ..nn.triton_kernels import dgrad_kernel, fwd_kernel, wgrad_kernel

    x, w, gy, b = case["x"], case["w"], case["gy"], case["b"]
    (sh, sw), (ph, pw), (dh, dw) = case["stride"], case["padding"], case["dilation"]
    nb, c, h, wd = x.shape
    out, d, kh, kw = w.shape
    oh, ow = gy.shape[2], gy.shape[3]
    tiles = dict(BLOCK_M=cfg["BLOCK_M"], BLOCK_N=cfg["BLOCK_N"], BLOCK_K=cfg["BLOCK_K"])
    opts = dict(num_warps=cfg["num_warps"], num_stages=cfg["num_stages"])
    if kernel == "fwd":
        y = torch.empty((nb, out, oh, ow), dtype=x.dtype, device=x.device, memory_format=torch.channels_last)
        grid = (triton.cdiv(nb * oh * ow, cfg["BLOCK_M"]), (out // b) * triton.cdiv(b, cfg["BLOCK_N"]))
        compiled = fwd_kernel[grid](
            x, w, case["table"], w, y, nb, h, wd, oh, ow, d, d // b, *x.stride(), *w.stride(), *y.stride(),
            sh, sw, ph, pw, dh, dw, B=b, KH=kh, KW=kw, HAS_BIAS=False, CONTIG_K=b % cfg["BLOCK_K"] == 0,
            IEEE=T._ieee(x.dtype), **tiles, **opts,
        )  # fmt: skip
        return y, compiled
    if kernel == "dgrad":
        gx = torch.empty_like(x)
        grid = (triton.cdiv(nb * h * wd, cfg["BLOCK_M"]), (c // b) * triton.cdiv(b, cfg["BLOCK_N"]))
        compiled = dgrad_kernel[grid](
            gy, w, case["table_t"], case["counts"], gx, nb, h, wd, oh, ow, case["table_t"].shape[1], d // b,
            *gy.stride(), *w.stride(), *gx.stride(), sh, sw, ph, pw, dh, dw, B=b, KH=kh, KW=kw,
            IEEE=T._ieee(gy.dtype), **tiles, **opts,
        )  # fmt: skip
        return gx, compiled
    pixels, block_k = nb * oh * ow, cfg["BLOCK_K"]
    ntiles = triton.cdiv(b, cfg["BLOCK_M"]) * triton.cdiv(b, cfg["BLOCK_N"])
    programs = (out // b) * (d // b) * kh * kw * ntiles
    want = 1024 if x.is_cuda else 2  # as the library: enough programs to fill a GPU
    splits = max(1, min(triton.cdiv(want, programs), triton.cdiv(pixels, 8 * block_k)))
    chunk = triton.cdiv(triton.cdiv(pixels, splits), block_k) * block_k
    splits = triton.cdiv(pixels, chunk)
    part = torch.empty((splits, out, d, kh, kw), dtype=torch.float32, device=x.device)
    grid = ((out // b) * (d // b) * kh * kw, ntiles, splits)
    compiled = wgrad_kernel[grid](
        gy, x, case["table"], part, nb, h, wd, oh, ow, d, d // b, chunk, out * d * kh * kw, *gy.stride(),
        *x.stride(), sh, sw, ph, pw, dh, dw, B=b, KH=kh, KW=kw, IEEE=T._ieee(x.dtype), **tiles, **opts,
    )  # fmt: skip
    return part.sum(0).to(x.dtype), compiled


def bench_ms(fn, device):
    """Milliseconds per call: ``triton.testing.do_bench`` on CUDA, the host clock on CPU."""
    if device.type == "cuda":
        import triton.testing

        return float(triton.testing.do_bench(fn, warmup=10, rep=40))
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rel(a, ref):
    return float((a.double() - ref.double()).abs().max() / (ref.double().abs().max() + 1e-12))


def evaluate(kernel, case, cfg, reference, device):
    """One configuration: compile (timed: launched before ``reference()`` runs the library op, so
    a default configuration is compiled here), check against the library's output, time, and read
    the compiled kernel's registers, spills and shared memory (CUDA only; the interpreter compiles
    nothing)."""
    row = dict(cfg)
    t0 = time.perf_counter()
    out, compiled = launch(kernel, case, cfg)
    _sync(device)
    row["compile_s"] = round(time.perf_counter() - t0, 3)
    ref = reference()
    row["err"] = _rel(out, ref)
    row["matches_library"] = bool(torch.equal(out, ref))
    row["ok"] = row["err"] < TOL[str(out.dtype)[6:]]
    row["ms"] = bench_ms(lambda: launch(kernel, case, cfg), device)
    if hasattr(compiled, "_init_handles"):  # loads the binary (done by the launch already): sets n_regs, n_spills
        compiled._init_handles()
    meta = getattr(compiled, "metadata", None)
    row.update(
        regs=getattr(compiled, "n_regs", None),
        spills=getattr(compiled, "n_spills", None),
        shared_bytes=getattr(meta, "shared", None),
    )
    return row


def run(out_path, device, deadline, tiny=False, log=print):
    """The default rows, then the sweep, each line appended to ``out_path`` as soon as measured;
    returns ``(lines written, configurations skipped by the time box)``."""
    done, cases, refs = {}, {}, {}
    written = skipped = 0

    def emit(row):
        nonlocal written
        with open(out_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        written += 1

    def measure(role, dtype, b, k, kernel, cfg):
        nonlocal skipped
        key = (dtype, b, k, kernel, tuple(cfg[p] for p in PARAMS))
        if key in done:
            return done[key]
        if time.time() > deadline:
            skipped += 1
            return None
        row = dict(role=role, dtype=dtype, block_size=b, k=k, kernel=kernel)
        try:
            if (dtype, b, k) not in cases:
                cases[(dtype, b, k)] = make_case(dtype, b, k, device, tiny)
            case = cases[(dtype, b, k)]
            row["shape"] = case["shape"]
            rkey = (dtype, b, k, kernel)

            def reference():
                if rkey not in refs:
                    refs[rkey] = library(kernel, case)
                return refs[rkey]

            row.update(evaluate(kernel, case, cfg, reference, device))
        except Exception as e:  # noqa: BLE001 - recorded; the other configurations go on
            row.update(cfg, ok=False, error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300])
            if device.type == "cuda":
                torch.cuda.synchronize(device)  # a sticky CUDA error raises here and ends the run
        done[key] = row
        emit(row)
        return row

    for dtype, b, k in TINY_DEFAULT_VARIANTS if tiny else DEFAULT_VARIANTS:
        for kernel in KERNELS:
            size = getattr(torch, dtype).itemsize
            row = measure("default", dtype, b, k, kernel, default_config(kernel, b, size))
            if row is not None:
                log(
                    f"  {kernel} {dtype} b={b} {k}x{k}: {row.get('regs')} regs, {row.get('spills')} spills, "
                    f"compiled in {row.get('compile_s')} s, {_ms(row.get('ms'))} ms {row.get('error') or ''}"
                )
    space = TINY_SPACE if tiny else SPACE
    for dtype, b, k in TINY_SWEEP_VARIANTS if tiny else SWEEP_VARIANTS:
        for kernel in KERNELS:
            best = default_config(kernel, b, getattr(torch, dtype).itemsize)
            best_row = measure("default", dtype, b, k, kernel, best)
            if best_row is None or not best_row.get("ok"):
                continue
            for param, values in space[kernel].items():
                for v in values:
                    cfg = {**best, param: v}
                    if v == best[param] or not valid(kernel, b, cfg):
                        continue
                    row = measure("sweep", dtype, b, k, kernel, cfg)
                    if row is not None and row.get("ok") and row["ms"] < best_row["ms"]:
                        best, best_row = cfg, row
            log(f"  sweep {kernel} {dtype} b={b} {k}x{k}: best {best} {_ms(best_row['ms'])} ms")
    return written, skipped


def _ms(v):
    return "?" if v is None else f"{v:.3f}"


def winners(rows):
    """Per (dtype, block size, kernel, kernel size): the fastest configuration that is ``ok``,
    against the default's time (``speedup`` > 1: faster than the library's launch parameters)."""
    out = {}
    defaults = {}
    for r in rows:
        if not r.get("ok") or r.get("ms") is None:
            continue
        key = (r["dtype"], int(r["block_size"]), r["kernel"], int(r["k"]))
        if r["role"] == "default":
            defaults[key] = r
        if key not in out or float(r["ms"]) < float(out[key]["ms"]):
            out[key] = r
    table = []
    for key, r in out.items():
        d = defaults.get(key)
        table.append(
            dict(
                dtype=key[0],
                block_size=key[1],
                kernel=key[2],
                k=key[3],
                **{p: int(r[p]) for p in PARAMS},
                ms=float(r["ms"]),
                default_ms=float(d["ms"]) if d else None,
                speedup=float(d["ms"]) / float(r["ms"]) if d and float(r["ms"]) > 0 else None,
                regs=r.get("regs"),
                spills=r.get("spills"),
                shape=r.get("shape"),
            )
        )
    return table


def load_configs(path):
    """``{(dtype, block_size, kernel, k): {BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages}}`` of a
    ``triton_configs.csv`` written by the GPU check."""
    with open(path, newline="") as f:
        return {
            (r["dtype"], int(r["block_size"]), r["kernel"], int(r["k"])): {p: int(r[p]) for p in PARAMS}
            for r in csv.DictReader(f)
        }


def main(argv=None) -> int:
    from .args import Parser, UsageError, _device, positive_float, usage_exit

    ap = Parser(prog="python -m xnet.bench.tune", description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="file the JSON lines are appended to")
    ap.add_argument("--budget", type=positive_float, default=90.0, help="seconds (default 90)")
    ap.add_argument("--device", type=_device, default="cuda")
    ap.add_argument("--tiny", action="store_true", help="tiny shapes (CPU, Triton's interpreter)")
    try:
        args = ap.parse_args(argv)
    except UsageError as e:
        return usage_exit(ap.prog, e)
    device = torch.device(args.device)
    from ..nn import triton_block

    if device.type == "cpu" and not triton_block.INTERPRETED:
        return usage_exit(ap.prog, "--device cpu runs through Triton's interpreter: set TRITON_INTERPRET=1")
    try:
        written, skipped = run(args.out, device, time.time() + args.budget, args.tiny)
    except Exception as e:  # noqa: BLE001 - a sticky CUDA error: one line for the GPU check's record
        print(
            f"xnet: error: bench.tune: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr
        )
        return 1
    print(f"tune: {written} configurations measured, {skipped} skipped (time box)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
