"""Graph constructions: the paper's random expander and the G-Conv graph it is compared with."""
from __future__ import annotations

import torch

from .bipartite import BipartiteGraph


def _generator(seed: int | None) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g


def random_expander(num_inputs: int, num_outputs: int, degree: int, seed: int | None = 0) -> BipartiteGraph:
    """The paper's random bipartite expander (Section 3.2).

    Every output picks ``degree`` distinct inputs uniformly at random.  The draw uses its own CPU
    generator seeded with ``seed``, so the same seed gives the same graph on every machine.
    """
    if not 1 <= degree <= num_inputs:
        raise ValueError(f"degree: must be between 1 and num_inputs={num_inputs}, got {degree}")
    gen = _generator(seed)
    scores = torch.rand(num_outputs, num_inputs, generator=gen)
    neighbors = scores.topk(degree, dim=1).indices
    return BipartiteGraph(neighbors, num_inputs, name="random")


def grouped_graph(num_inputs: int, num_outputs: int, groups: int) -> BipartiteGraph:
    """The G-Conv graph: block diagonal with ``groups`` blocks, as ``nn.Conv2d(groups=...)``."""
    if groups < 1 or num_inputs % groups or num_outputs % groups:
        raise ValueError(f"groups: must divide num_inputs={num_inputs} and num_outputs={num_outputs}, got {groups}")
    d = num_inputs // groups
    group_of_output = torch.arange(num_outputs) // (num_outputs // groups)
    neighbors = group_of_output[:, None] * d + torch.arange(d)[None, :]
    return BipartiteGraph(neighbors, num_inputs, name="grouped")
