"""How a run's seed is mixed with an epoch, a rank, a sample or a layer index (torch-free).

One seed drives a run (graphs, weights, data order, augmentation, dropout); each use draws from
its own derived seed so that resuming at epoch ``e`` continues exactly as an uninterrupted run.
The formulas are part of what makes reruns identical: changing one changes every result.
"""

from __future__ import annotations

_EPOCH, _RANK, _SAMPLE, _LAYER = 1_000_003, 1009, 2_147_483_647, 10007


def order_seed(seed: int, epoch: int) -> int:
    """The permutation of the training set in ``epoch`` (the same on every rank)."""
    return seed * _EPOCH + epoch


def global_seed(seed: int, epoch: int, rank: int) -> int:
    """The global RNG (dropout) of process ``rank`` at the start of ``epoch``."""
    return order_seed(seed, epoch) * _RANK + rank


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation of sample ``index`` in ``epoch`` (48 bits)."""
    return (order_seed(seed, epoch) * _SAMPLE + index) & 0xFFFF_FFFF_FFFF


def layer_seed(seed: int, index: int) -> int:
    """The expander graph of the ``index``-th X-layer built (construction order) of a model."""
    return seed * _LAYER + index
