"""The measurements behind ``auto``'s CPU rule for 1x1 block layers (issue 18,
``xnet.nn.block.block_pays_on_cpu``): 1x1 block X-Conv layers of many shapes at C = 4 on ``block``
and on ``masked``, interleaved by the bench's own ``measure_all``, with the samples x pixels each
batched matmul covers and what ``auto`` picks.

    PYTHONPATH=. python docs/bench/block_1x1_rule.py THREADS REPEATS
"""

import os
import sys
from copy import deepcopy

import torch

from xnet.bench.timing import machine_info, measure_all
from xnet.nn import XConv2d

torch.set_num_threads(int(sys.argv[1]))
REPEATS = int(sys.argv[2])

# (in, out, map size, batch, block size): ResNet-50's stages at batch 8, CIFAR-sized maps at batch 64
SHAPES = [
    (64, 64, 56, 8, 16),
    (64, 64, 28, 8, 16),
    (64, 64, 16, 16, 16),
    (128, 128, 16, 64, 16),
    (256, 256, 8, 64, 16),
    (256, 256, 28, 8, 16),
    (512, 128, 14, 32, 16),
    (128, 512, 14, 8, 16),
    (1024, 256, 14, 8, 16),
    (512, 512, 7, 32, 16),
    (256, 512, 7, 32, 16),
    (1024, 256, 14, 8, 32),
    (2048, 512, 7, 8, 32),
    (512, 2048, 7, 8, 32),
    (128, 128, 7, 8, 32),
]


def on_backend(layer, backend):
    """A copy of ``layer`` (same graph and weights) that runs on ``backend``."""
    copy = deepcopy(layer)
    copy.backend = backend
    return copy


print(machine_info())
print(f"command: python docs/bench/block_1x1_rule.py {' '.join(sys.argv[1:])}")
print(f"load average at start: {os.getloadavg()[0]:.2f}; C = 4, ratios block / masked (< 1: block is faster)")
print("| in -> out | map | batch | b | samples x pixels | auto | block / masked, train | block / masked, infer |")
print("|---|---|---|---|---|---|---|---|")
for cin, cout, size, batch, b in SHAPES:
    torch.manual_seed(0)
    layer = XConv2d(cin, cout, 1, bias=False, compression=4, block_size=b, seed=0)
    x = torch.randn(batch, cin, size, size)
    cases = [("block", on_backend(layer, "block")), ("masked", on_backend(layer, "masked"))]
    t = measure_all(cases, x, x.device, REPEATS, 5)
    print(
        f"| {cin} -> {cout} | {size}x{size} | {batch} | {b} | {batch * size * size} | {layer.auto_backend(x)} "
        f"| {t['block'][0] / t['masked'][0]:.2f} | {t['block'][1] / t['masked'][1]:.2f} |",
        flush=True,
    )
print(f"load average at end: {os.getloadavg()[0]:.2f}")
