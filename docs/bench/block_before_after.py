"""Before / after of the CPU block path (issue 18), in ONE run: dense, G-Conv, the block path as it
is (``block``) and as it was before (``old``: the transposing block-sparse matmul for 1x1 maps and
the per-block ``add_`` loop in the k x k backward, selected by patching the library, so both run
interleaved in the same process on the same input), timed by the bench's own ``measure_all``.

    PYTHONPATH=. python docs/bench/block_before_after.py THREADS REPEATS [SHAPES] [COMPRESSIONS]

e.g. ``2 10 1x512x14,3x256x14 4,8,16`` (the shapes of ``python -m xnet.bench layers``).  With
``CPU_CLOCK=1`` and one thread, times are process CPU time (robust on a busy machine).
"""

import os
import sys
import time
import types

import torch
from torch import nn

import xnet.bench.timing as timing
import xnet.nn.block as XB
import xnet.nn.gather as XG
from xnet.bench.timing import machine_info, measure_all
from xnet.nn import XConv2d

torch.set_num_threads(int(sys.argv[1]))
if torch.get_num_threads() == 1 and os.environ.get("CPU_CLOCK"):
    timing.time = types.SimpleNamespace(perf_counter=time.process_time)
REPEATS = int(sys.argv[2])
SHAPES = [tuple(map(int, s.split("x"))) for s in (sys.argv[3] if len(sys.argv) > 3 else "1x512x14,3x256x14").split(",")]
COMPRESSIONS = [int(c) for c in (sys.argv[4] if len(sys.argv) > 4 else "4,8,16").split(",")]

_new_scatter = XG._scatter_channels
_old = [False]


def _old_scatter(grad, index, b, shape, channels_last):  # the loop this change replaced by index_add_
    n, c, h, w = shape
    g3 = grad.reshape(n, index.numel(), b * h * w)
    out = grad.new_zeros(n, c // b, b * h * w)
    for j, u in enumerate(index.tolist()):
        out[:, u] += g3[:, j]
    return out.view(n, c, h, w)


XG._scatter_channels = lambda *a: (_old_scatter if _old[0] and not a[4] else _new_scatter)(*a)


class Version(nn.Module):
    """The block layer run as it is (``old=False``) or as it was."""

    def __init__(self, layer, old):
        super().__init__()
        self.layer, self.old = layer, old

    def forward(self, x):
        _old[0] = self.old  # read by the backward that follows (measure_all runs one case at a time)
        if not self.old:
            return self.layer(x)
        keep, XB.BLOCK_MAPS_MIN_PIXELS = XB.BLOCK_MAPS_MIN_PIXELS, 10**9
        try:
            return self.layer(x)
        finally:
            XB.BLOCK_MAPS_MIN_PIXELS = keep


print(machine_info())
print(f"command: python docs/bench/block_before_after.py {' '.join(sys.argv[1:])}")
clock = "process CPU time" if timing.time is not time else "wall"
print(f"load average at start: {os.getloadavg()[0]:.2f}; clock: {clock}")
print("| kernel | C | b | case | train ms | train / G | infer ms | infer / G |\n|---|---|---|---|---|---|---|---|")
for k, ch, size in SHAPES:
    x = torch.randn(32, ch, size, size)
    for c in COMPRESSIONS:
        d = ch // c
        b, pad = min(32, d // 2), k // 2
        torch.manual_seed(0)
        layer = XConv2d(ch, ch, k, padding=pad, bias=False, degree=d, seed=0, block_size=b, backend="block")
        cases = [
            ("dense", nn.Conv2d(ch, ch, k, padding=pad, bias=False)),
            ("G-Conv", nn.Conv2d(ch, ch, k, padding=pad, bias=False, groups=c)),
            ("block (after)", Version(layer, False)),
            ("block (before)", Version(layer, True)),
        ]
        t = measure_all(cases, x, torch.device("cpu"), REPEATS, 5.0)
        g = t["G-Conv"]
        for name, v in t.items():
            train, infer = f"{v[0] * 1e3:.1f} | {v[0] / g[0]:.2f}", f"{v[1] * 1e3:.1f} | {v[1] / g[1]:.2f}"
            print(f"| {k}x{k} | {c} | {b} | {name} | {train} | {infer} |", flush=True)
print(f"load average at end: {os.getloadavg()[0]:.2f}")
