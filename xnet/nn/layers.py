"""X-Conv and X-Linear: layers whose channel connections follow a bipartite (expander) graph.

The parameters hold only the edges: ``weight`` has shape ``(out, D, *kernel)`` where D is the
graph's degree, and the graph itself is a buffer (``neighbors``) in the ``state_dict``, so a
checkpoint restores the very same network whatever seed the receiving layer was built with.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.modules.utils import _pair

from ..graphs import BipartiteGraph, block_expander, detect_block_size, random_expander
from . import functional as XF


def resolve_degree(num_inputs: int, degree=None, compression=None, graph=None, num_outputs=None):
    """Check that exactly one of degree / compression / graph is given; return the degree."""
    given = [n for n, v in (("degree", degree), ("compression", compression), ("graph", graph)) if v is not None]
    if len(given) != 1:
        raise ValueError(f"degree/compression/graph: give exactly one, got {given or 'none'}")
    if graph is not None:
        if not isinstance(graph, BipartiteGraph):
            raise ValueError(f"graph: expected an xnet.graphs.BipartiteGraph, got {type(graph).__name__}")
        if graph.num_inputs != num_inputs or (num_outputs is not None and graph.num_outputs != num_outputs):
            raise ValueError(f"graph: has {graph.num_inputs} inputs x {graph.num_outputs} outputs, "
                             f"the layer needs {num_inputs} x {num_outputs}")
        return graph.degree
    if compression is not None:
        if isinstance(compression, bool) or not isinstance(compression, (int, float)) or compression < 1:
            raise ValueError(f"compression: must be a number >= 1, got {compression!r}")
        if num_inputs % compression:
            raise ValueError(f"compression: {compression} does not divide in_channels={num_inputs} into a whole degree")
        return int(num_inputs // compression)
    if isinstance(degree, bool) or not isinstance(degree, int) or not 1 <= degree <= num_inputs:
        raise ValueError(f"degree: must be an integer between 1 and in_channels={num_inputs}, got {degree!r}")
    return degree


class _XBase(nn.Module):
    """Shared graph handling of XConv2d and XLinear."""

    def _init_graph(self, num_inputs, num_outputs, degree, compression, graph, seed, backend, block_size=None):
        d = resolve_degree(num_inputs, degree, compression, graph, num_outputs)
        if block_size is not None:
            if graph is not None:
                raise ValueError("block_size: give it with degree/compression, not with graph (use block_graph)")
            if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
                raise ValueError(f"block_size: must be a positive integer, got {block_size!r}")
            for name, v in (("in_channels", num_inputs), ("out_channels", num_outputs), ("degree", d)):
                if v % block_size:
                    raise ValueError(f"block_size: {block_size} does not divide {name}={v}")
        XF.check_backend(backend)
        if graph is None:
            if seed is None:  # follow torch's global RNG, like weight init: manual_seed() reproduces it
                seed = int(torch.randint(2 ** 31 - 1, (1,)))
            if block_size is not None and block_size > 1:
                graph = block_expander(num_inputs, num_outputs, d, block_size, seed=seed)
            else:
                graph = random_expander(num_inputs, num_outputs, d, seed=seed)
        self.backend = backend
        self.register_buffer("neighbors", graph.neighbors.clone())
        self._block_size = graph.block_size
        self._graph_name = graph.name
        self._fast_block = max(graph.block_size, detect_block_size(graph.neighbors, num_inputs))

    @property
    def graph(self) -> BipartiteGraph:
        """The layer's graph (rebuilt from the ``neighbors`` buffer, so it follows a loaded checkpoint)."""
        return BipartiteGraph(self.neighbors, self.num_inputs, block_size=self._block_size, name=self._graph_name)

    @property
    def block_size(self) -> int:
        return self._block_size

    @property
    def degree(self) -> int:
        return int(self.neighbors.shape[1])

    @property
    def compression(self) -> float:
        c = self.num_inputs / self.degree
        return int(c) if c == int(c) else c

    def _graph_repr(self) -> str:
        s = f", degree={self.degree}, compression={self.compression}"
        if self._block_size > 1:
            s += f", block_size={self._block_size}"
        if self.backend != "auto":
            s += f", backend={self.backend!r}"
        return s

    def reset_parameters(self):
        # Kaiming (He) init for a fan-in of D * k * k, as the paper's code, not the dense fan-in.
        fan_in = self.weight[0].numel()
        nn.init.kaiming_normal_(self.weight, mode="fan_in", nonlinearity="relu")
        if self.bias is not None:
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The graph is data: take the checkpoint's neighbours, shape included (degree may differ).
        key = prefix + "neighbors"
        if key in state_dict and state_dict[key].shape != self.neighbors.shape:
            self.neighbors = torch.empty_like(state_dict[key])
            self.weight = nn.Parameter(torch.empty(self.weight.shape[0], state_dict[key].shape[1], *self.weight.shape[2:]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if key in state_dict:
            # The block structure is a property of the table: recover it so fast paths still apply.
            self._fast_block = detect_block_size(self.neighbors, self.num_inputs)
            self._block_size = self._fast_block


class XConv2d(_XBase):
    """Drop-in for ``nn.Conv2d`` whose output channels each see only D input channels."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True, *,
                 degree=None, compression=None, graph=None, seed=None, backend="auto", block_size=None):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be a positive integer, got {v!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation = (padding if isinstance(padding, str) else _pair(padding)), _pair(dilation)
        self._init_graph(in_channels, out_channels, degree, compression, graph, seed, backend, block_size)
        self.weight = nn.Parameter(torch.empty(out_channels, self.degree, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    num_inputs = property(lambda self: self.in_channels)

    def dense_weight(self) -> torch.Tensor:
        """The equivalent ``nn.Conv2d`` weight, zero off the graph."""
        return XF.dense_weight(self.weight, self.neighbors, self.in_channels)

    def forward(self, x):
        return XF.xconv2d(x, self.weight, self.neighbors, self.bias, self.stride, self.padding, self.dilation,
                          backend=self.backend, block_size=self._fast_block)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s + self._graph_repr()


class XLinear(_XBase):
    """Drop-in for ``nn.Linear`` whose outputs each see only D inputs."""

    def __init__(self, in_features, out_features, bias=True, *, degree=None, compression=None, graph=None,
                 seed=None, backend="auto", block_size=None):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be a positive integer, got {v!r}")
        self.in_features, self.out_features = in_features, out_features
        self._init_graph(in_features, out_features, degree, compression, graph, seed, backend, block_size)
        self.weight = nn.Parameter(torch.empty(out_features, self.degree))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    num_inputs = property(lambda self: self.in_features)

    def dense_weight(self) -> torch.Tensor:
        """The equivalent ``nn.Linear`` weight, zero off the graph."""
        return XF.dense_weight(self.weight, self.neighbors, self.in_features)

    def forward(self, x):
        return XF.xlinear(x, self.weight, self.neighbors, self.bias, backend=self.backend, block_size=self._fast_block)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}" + self._graph_repr())
