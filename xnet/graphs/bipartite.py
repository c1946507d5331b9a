"""The bipartite graph of one layer's channel connections (inputs U, outputs V).

Every graph in xnet is regular on one side, and stores its edges as a table on that side:

- *output-regular* (``side="output"``, the paper's graph and the default): each output is
  connected to the same number D of distinct inputs; ``neighbors`` is ``(num_outputs, D)`` and
  lists each output's inputs.  An X-layer then stores its kernel as a compressed dense tensor of
  shape ``(outputs, D, k, k)`` (Algorithm 1 of the paper).  The random expander, the balanced
  variant, the G-Conv graph, the explicit constructions and their block versions are of this kind.
- *input-regular* (``side="input"``): each input feeds the same number D of distinct outputs;
  ``neighbors`` is ``(num_inputs, D)`` and lists each input's outputs, output degrees vary.  The
  authors' released X-layer draws this graph when ``in <= out``
  (``code/models/layers/expandergraphlayer.py:140-149``), see :func:`xnet.graphs.authors_expander`;
  an X-layer stores its kernel as ``(inputs, D, k, k)``.

Either way the table's shape depends only on the sizes, the side and D, never on the draw, so a
checkpoint of one seed loads into a layer built with another.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SIDES = ("output", "input")


@dataclass(frozen=True, eq=False)
class BipartiteGraph:
    """Bipartite graph regular on one side (``side``), stored as a neighbour table on that side.

    ``side="output"``: ``neighbors[v]`` lists the ``degree`` distinct inputs of output ``v``;
    ``num_outputs`` is the table's length.  ``side="input"``: ``neighbors[u]`` lists the
    ``degree`` distinct outputs of input ``u``; ``num_outputs`` must be given.  Rows are kept in
    increasing order.  ``block_size`` > 1 marks a block graph (see :func:`xnet.graphs.block_graph`):
    channels come in aligned blocks of that size and every edge is a dense block, which faster
    kernels exploit.
    """

    neighbors: torch.Tensor
    num_inputs: int
    block_size: int = 1
    name: str = "graph"
    side: str = "output"
    num_outputs: int | None = None

    def __post_init__(self):
        if self.side not in SIDES:
            raise ValueError(f"side: must be 'output' or 'input', got {self.side!r}")
        nb = torch.as_tensor(self.neighbors)
        if nb.is_floating_point() or nb.is_complex() or nb.dtype == torch.bool:
            raise ValueError(f"neighbors: expected an integer table, got dtype {nb.dtype}")
        nb = nb.detach().cpu().long()
        rows, cols = ("outputs", "inputs") if self.side == "output" else ("inputs", "outputs")
        if nb.dim() != 2 or nb.shape[0] < 1 or nb.shape[1] < 1:
            raise ValueError(f"neighbors: expected a non-empty (num_{rows}, degree) table, got shape {tuple(nb.shape)}")
        if isinstance(self.num_inputs, bool) or int(self.num_inputs) < 1:
            raise ValueError(f"num_inputs: must be >= 1, got {self.num_inputs}")
        num_outputs = self.num_outputs
        if self.side == "output":
            if num_outputs is not None and int(num_outputs) != nb.shape[0]:
                raise ValueError(f"num_outputs: {num_outputs} does not match the table's {nb.shape[0]} rows")
            num_outputs = nb.shape[0]
        else:
            if num_outputs is None or isinstance(num_outputs, bool) or int(num_outputs) < 1:
                raise ValueError(f"num_outputs: an input-regular graph needs num_outputs >= 1, got {num_outputs!r}")
            if nb.shape[0] != int(self.num_inputs):
                raise ValueError(
                    f"neighbors: an input-regular table needs num_inputs={self.num_inputs} rows, got {nb.shape[0]}"
                )
        n_cols = int(self.num_inputs) if self.side == "output" else int(num_outputs)
        if nb.min() < 0 or nb.max() >= n_cols:
            raise ValueError(
                f"neighbors: {cols[:-1]} indices must lie in [0, {n_cols}), got [{int(nb.min())}, {int(nb.max())}]"
            )
        nb, _ = nb.sort(dim=1)
        if nb.shape[1] > 1 and bool((nb[:, 1:] == nb[:, :-1]).any()):
            raise ValueError(f"neighbors: a row lists the same {cols[:-1]} twice")
        object.__setattr__(self, "neighbors", nb.contiguous())
        object.__setattr__(self, "num_inputs", int(self.num_inputs))
        object.__setattr__(self, "num_outputs", int(num_outputs))

    @property
    def input_regular(self) -> bool:
        return self.side == "input"

    @property
    def degree(self) -> int:
        """D: the degree of the regular side (inputs per output, or outputs per input)."""
        return int(self.neighbors.shape[1])

    @property
    def num_edges(self) -> int:
        return int(self.neighbors.shape[0]) * self.degree

    @property
    def density(self) -> float:
        """Fraction of the dense connections kept: ``D / in`` (output side) or ``D / out`` (input side)."""
        return self.num_edges / (self.num_inputs * self.num_outputs)

    @property
    def compression(self) -> float:
        """1 / density: ``in / D`` (output-regular) or ``out / D`` (input-regular)."""
        c = self.num_inputs * self.num_outputs / self.num_edges
        return int(c) if c == int(c) else c

    def edges(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(output, input)`` index of every edge, in table order."""
        rows = torch.arange(self.neighbors.shape[0]).repeat_interleave(self.degree)
        cols = self.neighbors.reshape(-1)
        return (rows, cols) if self.side == "output" else (cols, rows)

    def to_dense(self) -> torch.Tensor:
        """Bi-adjacency as a bool tensor of shape (num_outputs, num_inputs)."""
        dense = torch.zeros(self.num_outputs, self.num_inputs, dtype=torch.bool)
        dense[self.edges()] = True
        return dense

    def input_degrees(self) -> torch.Tensor:
        """Number of outputs each input feeds."""
        return torch.bincount(self.edges()[1], minlength=self.num_inputs)

    def output_degrees(self) -> torch.Tensor:
        """Number of inputs each output sees."""
        return torch.bincount(self.edges()[0], minlength=self.num_outputs)

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, BipartiteGraph)
            and self.side == other.side
            and self.num_inputs == other.num_inputs
            and self.num_outputs == other.num_outputs
            and self.block_size == other.block_size
            and torch.equal(self.neighbors, other.neighbors)
        )

    def __hash__(self):
        return hash(
            (self.side, self.num_inputs, self.num_outputs, self.block_size, tuple(self.neighbors.flatten().tolist()))
        )

    def __repr__(self) -> str:
        extra = f", block_size={self.block_size}" if self.block_size > 1 else ""
        side = ", input-regular" if self.side == "input" else ""
        return (
            f"BipartiteGraph({self.name}: inputs={self.num_inputs}, outputs={self.num_outputs}, "
            f"degree={self.degree}{side}{extra})"
        )
