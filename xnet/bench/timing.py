"""Timing helpers of the benchmarks: one training step / inference of a module, interleaved repeats,
peak memory, machine description."""

from __future__ import annotations

import contextlib
import platform
import sys
import time

import torch


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device, dtype):
    """Autocast to ``dtype`` (mixed precision, parameters stay fp32), or nothing for float32."""
    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def train_step(module, x, grads, dtype=None):
    module.zero_grad(set_to_none=True)
    xx = x.detach().requires_grad_(True)
    with autocast(x.device, dtype):
        y = module(xx)
    key = id(module)
    if key not in grads:
        grads[key] = torch.randn_like(y)
    y.backward(grads[key])


def infer(module, x, dtype=None):
    with torch.no_grad(), autocast(x.device, dtype):
        module(x)


def timed(fn, device, iters=1):
    """Seconds per call of ``fn``, averaged over ``iters`` back-to-back calls: CUDA events on CUDA
    (the GPU's clock: kernel time, not the host's launch overhead alone), the host clock elsewhere."""
    sync(device)
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / iters
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


def peak_memory_mb(fn, device):
    """Peak CUDA memory (MiB) allocated while ``fn`` runs, above what was allocated before (None on CPU)."""
    if device.type != "cuda":
        fn()
        return None
    sync(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    sync(device)
    return (torch.cuda.max_memory_allocated(device) - base) / 2**20


def measure_all(cases, x, device, repeats, slow_s, dtype=None, errors=None, iters=1):
    """Time every case's training step and inference, interleaved round-robin, keeping the minimum.

    Interleaving and the minimum make the ratios robust to other load on the machine; each timing
    is the mean of ``iters`` back-to-back calls (:func:`timed`).  A case whose first (warm-up) call
    takes longer than ``slow_s`` is timed by that call alone.  Returns
    ``{label: (train_s, infer_s, train_peak_mb)}``; with ``errors`` (a dict), a case that raises is
    recorded there (``label -> one-line error``) and left out instead of stopping the others.
    """
    grads, best = {}, {}
    for label, module in cases:  # warm-up (compiles kernels, picks cuDNN algorithms)
        try:
            timed(lambda m=module: train_step(m, x, grads, dtype), device)
            # the second call, timed with its peak memory: compile times never count as a case's time
            peaks = []
            tt = timed(
                lambda m=module, p=peaks: p.append(peak_memory_mb(lambda: train_step(m, x, grads, dtype), device)),
                device,
            )
            peak = peaks[0]
            ti = timed(lambda m=module: infer(m, x, dtype), device)
        except Exception as e:  # noqa: BLE001 - recorded, the other cases go on
            if errors is None:
                raise
            errors[label] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        best[label] = [tt, ti, tt > slow_s or ti > slow_s, peak]
    for _ in range(repeats):
        for label, module in cases:
            if label not in best or best[label][2]:
                continue
            tt = timed(lambda m=module: train_step(m, x, grads, dtype), device, iters)
            ti = timed(lambda m=module: infer(m, x, dtype), device, iters)
            best[label][0], best[label][1] = min(best[label][0], tt), min(best[label][1], ti)
    return {k: (v[0], v[1], v[3]) for k, v in best.items()}


def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    s = (
        f"CPU: {cpu}, torch threads: {torch.get_num_threads()}, torch {torch.__version__}, "
        f"python {sys.version.split()[0]}"
    )
    if torch.cuda.is_available():
        s += f", CUDA: {torch.cuda.get_device_name(0)}"
    return s
