"""Where block X-ResNet-50's time goes (issue 18): every distinct X-layer of
``create("X-ResNet-4-50", variant="paper", block_size=16)`` timed alone on its real input shape
(224x224, batch 8): the layer on ``block`` and on ``masked``, what ``auto`` picks, and the
G-Conv layer of the same shape (``groups=4``), interleaved by the bench's own ``measure_all``;
the last line sums every layer of the network (each distinct shape times its count).

    PYTHONPATH=. python docs/bench/block_layers_resnet50.py THREADS REPEATS
"""

import os
import sys
from collections import Counter
from copy import deepcopy

import torch
from torch import nn

from xnet.bench.timing import machine_info, measure_all
from xnet.models import create
from xnet.nn import XConv2d

torch.set_num_threads(int(sys.argv[1]))
REPEATS = int(sys.argv[2])


def on_backend(layer, backend):
    """A copy of ``layer`` (same graph and weights) that runs on ``backend``."""
    copy = deepcopy(layer)
    copy.backend = backend
    return copy


model = create("X-ResNet-4-50", variant="paper", block_size=16)
inputs = {}


def record_input(module, args, output):
    inputs.setdefault(module, tuple(args[0].shape))


hooks = [m.register_forward_hook(record_input) for m in model.modules() if isinstance(m, XConv2d)]
with torch.no_grad():
    model(torch.randn(8, 3, 224, 224))
for h in hooks:
    h.remove()
shape_of = {m: (m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0], inputs[m]) for m in inputs}
count = Counter(shape_of.values())
first = {}
for m, key in shape_of.items():
    first.setdefault(key, m)

print(machine_info())
print(f"command: python docs/bench/block_layers_resnet50.py {' '.join(sys.argv[1:])}")
print(f"load average at start: {os.getloadavg()[0]:.2f}; train = forward + backward of the layer alone, ms")
print(
    "| in -> out | k | stride | input | count | auto | G train | block train | masked train | auto / G train "
    "| G infer | block infer | masked infer | auto / G infer |\n" + "|---" * 14 + "|"
)
total = Counter()
for key, layer in first.items():
    cin, cout, k, stride, pad, shape = key
    x = torch.randn(shape)
    auto = layer.auto_backend(x)
    g = nn.Conv2d(cin, cout, k, stride, pad, bias=False, groups=4)
    t = measure_all(
        [("G", g), ("block", on_backend(layer, "block")), ("masked", on_backend(layer, "masked"))],
        x,
        x.device,
        REPEATS,
        5,
    )
    t["auto"] = t[auto]
    for case, (train, infer, _) in t.items():
        total[case, "train"] += count[key] * train
        total[case, "infer"] += count[key] * infer
    ms = {c: (v[0] * 1e3, v[1] * 1e3) for c, v in t.items()}
    print(
        f"| {cin} -> {cout} | {k} | {stride} | {shape[2]}x{shape[3]} | {count[key]} | {auto} "
        f"| {ms['G'][0]:.1f} | {ms['block'][0]:.1f} | {ms['masked'][0]:.1f} | {ms['auto'][0] / ms['G'][0]:.2f} "
        f"| {ms['G'][1]:.1f} | {ms['block'][1]:.1f} | {ms['masked'][1]:.1f} | {ms['auto'][1] / ms['G'][1]:.2f} |",
        flush=True,
    )
sums = {c: (total[c, "train"] * 1e3, total[c, "infer"] * 1e3) for c in ("G", "block", "masked", "auto")}
print(
    "| all X-layers | | | | | | "
    + " | ".join(
        f"{sums[c][0]:.0f}" if c != "ratio" else f"{sums['auto'][0] / sums['G'][0]:.2f}"
        for c in ("G", "block", "masked", "ratio")
    )
    + " | "
    + " | ".join(
        f"{sums[c][1]:.0f}" if c != "ratio" else f"{sums['auto'][1] / sums['G'][1]:.2f}"
        for c in ("G", "block", "masked", "ratio")
    )
    + " |"
)
print(f"load average at end: {os.getloadavg()[0]:.2f}")
