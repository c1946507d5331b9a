"""The bipartite graph of one layer's channel connections (inputs U, outputs V).

Every graph in xnet is *output-regular*: each output is connected to the same number D of
distinct inputs (the paper's degree).  That is what lets an X-layer store its kernel as a
compressed dense tensor of shape ``(outputs, D, k, k)`` (Algorithm 1 of the paper), and it holds
for the random expander, the balanced variant, the G-Conv graph, the explicit constructions and
their block versions alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True, eq=False)
class BipartiteGraph:
    """Output-regular bipartite graph.

    ``neighbors[v]`` lists the ``degree`` distinct inputs of output ``v`` in increasing order.
    ``block_size`` > 1 marks a block graph (see :func:`xnet.graphs.block_graph`): channels come in
    aligned blocks of that size and every edge is a dense block, which faster kernels exploit.
    """

    neighbors: torch.Tensor
    num_inputs: int
    block_size: int = 1
    name: str = "graph"

    def __post_init__(self):
        nb = torch.as_tensor(self.neighbors, dtype=torch.long).detach().cpu()
        if nb.dim() != 2 or nb.shape[0] < 1 or nb.shape[1] < 1:
            raise ValueError(f"neighbors: expected a non-empty (num_outputs, degree) table, got shape {tuple(nb.shape)}")
        if int(self.num_inputs) < 1:
            raise ValueError(f"num_inputs: must be >= 1, got {self.num_inputs}")
        if nb.min() < 0 or nb.max() >= self.num_inputs:
            raise ValueError(f"neighbors: input indices must lie in [0, {self.num_inputs}), got [{int(nb.min())}, {int(nb.max())}]")
        nb, _ = nb.sort(dim=1)
        if nb.shape[1] > 1 and bool((nb[:, 1:] == nb[:, :-1]).any()):
            raise ValueError("neighbors: an output lists the same input twice")
        object.__setattr__(self, "neighbors", nb.contiguous())
        object.__setattr__(self, "num_inputs", int(self.num_inputs))

    @property
    def num_outputs(self) -> int:
        return int(self.neighbors.shape[0])

    @property
    def degree(self) -> int:
        return int(self.neighbors.shape[1])

    @property
    def num_edges(self) -> int:
        return self.num_outputs * self.degree

    @property
    def density(self) -> float:
        return self.degree / self.num_inputs

    def to_dense(self) -> torch.Tensor:
        """Bi-adjacency as a bool tensor of shape (num_outputs, num_inputs)."""
        dense = torch.zeros(self.num_outputs, self.num_inputs, dtype=torch.bool)
        dense.scatter_(1, self.neighbors, True)
        return dense

    def input_degrees(self) -> torch.Tensor:
        return torch.bincount(self.neighbors.flatten(), minlength=self.num_inputs)

    def __eq__(self, other) -> bool:
        return (isinstance(other, BipartiteGraph) and self.num_inputs == other.num_inputs
                and self.block_size == other.block_size and torch.equal(self.neighbors, other.neighbors))

    def __hash__(self):
        return hash((self.num_inputs, self.block_size, tuple(self.neighbors.flatten().tolist())))

    def __repr__(self) -> str:
        extra = f", block_size={self.block_size}" if self.block_size > 1 else ""
        return (f"BipartiteGraph({self.name}: inputs={self.num_inputs}, outputs={self.num_outputs}, "
                f"degree={self.degree}{extra})")
