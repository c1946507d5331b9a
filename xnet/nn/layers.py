"""X-Conv and X-Linear: layers whose channel connections follow a bipartite (expander) graph.

The parameters hold only the edges.  The graph is regular on one side (see
:mod:`xnet.graphs.bipartite`) and the layer stores it as a table on that side:

- output-regular (the paper's graph, the default): ``neighbors`` ``(out, D)`` lists each output's
  inputs and ``weight`` is ``(out, D, *kernel)``;
- input-regular (``regular="input"``, the authors' code when ``in <= out``): ``neighbors``
  ``(in, D)`` lists each input's outputs and ``weight`` is ``(in, D, *kernel)``.

The graph is data: ``neighbors`` and the side (``input_regular``, a bool) are buffers in the
``state_dict``, so a checkpoint restores the very same network into a layer of the same shape
built with any seed.  Loading follows ``torch.nn.Module.load_state_dict`` (tensors are copied in
place, the ``weight`` Parameter stays the same object) and validates the graph first: a bad table
or a checkpoint of another degree / side is an error that changes nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from . import functional as XF
from .base import REGULAR, _check_ints, _XBase, resolve_degree

__all__ = ["REGULAR", "XConv2d", "XLinear", "check_state_dict", "resolve_degree"]


class XConv2d(_XBase):
    """Drop-in for ``nn.Conv2d`` whose channels are connected by a bipartite graph.

    Give exactly one of ``degree``, ``compression`` or ``graph``.  ``regular`` says which side
    the drawn random graph is regular on: ``"output"`` (default, the paper: each output sees
    ``degree`` inputs, compression ``in / D``), ``"input"`` (each input feeds ``degree`` outputs,
    compression ``out / D``) or ``"authors"`` (output if ``in > out``, else input, as the authors'
    code).  A ``graph`` (:mod:`xnet.graphs`) brings its own side.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        bias=True,
        *,
        degree=None,
        compression=None,
        graph=None,
        seed=None,
        backend="auto",
        block_size=None,
        regular=None,
    ):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be a positive integer, got {v!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _check_ints("kernel_size", kernel_size, 1)
        self.stride = _check_ints("stride", stride, 1)
        self.dilation = _check_ints("dilation", dilation, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding: must be 'same', 'valid' or integers >= 0, got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"padding: 'same' needs stride 1, got stride={stride!r}")
            self.padding = padding
        else:
            self.padding = _check_ints("padding", padding, 0)
        self._init_graph(in_channels, out_channels, degree, compression, graph, seed, backend, block_size, regular)
        self.weight = nn.Parameter(torch.empty(self.neighbors.shape[0], self.degree, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    num_inputs = property(lambda self: self.in_channels)

    def _short_name(self) -> str:
        return f"XConv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"

    def dense_weight(self) -> torch.Tensor:
        """The equivalent ``nn.Conv2d`` weight ``(out, in, *k)``, zero off the graph."""
        return XF.dense_weight(self.weight, self.neighbors, self.in_channels, **self._table_kwargs())

    def forward(self, x):
        # cheap shape checks (no device sync), as nn.Conv2d does; a 3-D input is one unbatched sample
        if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4):
            raise self._input_error(x, "3D (unbatched) or 4D (batched) input")
        if x.shape[-3] != self.in_channels:
            raise self._input_error(x, f"{self.in_channels} channels in dim {x.dim() - 3}")
        if x.dim() == 3:
            return self.forward(x.unsqueeze(0)).squeeze(0)
        return XF.xconv2d(
            x,
            self.weight,
            self.neighbors,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            backend=self.backend,
            block_size=self._fast_block,
            **self._table_kwargs(),
        )

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
    """Drop-in for ``nn.Linear`` whose features are connected by a bipartite graph (see :class:`XConv2d`)."""

    def __init__(
        self,
        in_features,
        out_features,
        bias=True,
        *,
        degree=None,
        compression=None,
        graph=None,
        seed=None,
        backend="auto",
        block_size=None,
        regular=None,
    ):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be a positive integer, got {v!r}")
        self.in_features, self.out_features = in_features, out_features
        self._init_graph(in_features, out_features, degree, compression, graph, seed, backend, block_size, regular)
        self.weight = nn.Parameter(torch.empty(self.neighbors.shape[0], self.degree))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    num_inputs = property(lambda self: self.in_features)

    def _short_name(self) -> str:
        return f"XLinear(in_features={self.in_features}, out_features={self.out_features})"

    def dense_weight(self) -> torch.Tensor:
        """The equivalent ``nn.Linear`` weight ``(out, in)``, zero off the graph."""
        return XF.dense_weight(self.weight, self.neighbors, self.in_features, **self._table_kwargs())

    def forward(self, x):
        if not isinstance(x, torch.Tensor) or x.dim() < 1:
            raise self._input_error(x, "an input of at least 1 dimension")
        if x.shape[-1] != self.in_features:
            raise self._input_error(x, f"{self.in_features} features in its last dimension")
        return XF.xlinear(
            x,
            self.weight,
            self.neighbors,
            self.bias,
            backend=self.backend,
            block_size=self._fast_block,
            **self._table_kwargs(),
        )

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}" + self._graph_repr()
        )


def check_state_dict(model: nn.Module, state_dict) -> None:
    """Raise a one-line ``ValueError`` if ``model.load_state_dict(state_dict)`` would fail on a shape
    or graph problem, before anything is loaded.

    ``load_state_dict`` itself (torch's semantics) loads module by module and reports errors at
    the end, so a failing load of a whole model may have changed the modules before the bad one
    (each X-layer itself is left unchanged).  Checking first makes the load all or nothing.
    """
    problems, x_prefixes = [], []
    for name, module in model.named_modules():
        if isinstance(module, _XBase):
            prefix = name + "." if name else ""
            x_prefixes.append(prefix)
            problem = module._checkpoint_problem(state_dict, prefix)
            if problem is not None:
                problems.append(problem)
    for key, own in model.state_dict().items():
        if key in state_dict and not any(key.startswith(p) and "." not in key[len(p) :] for p in x_prefixes):
            theirs = state_dict[key]
            if isinstance(theirs, torch.Tensor) and isinstance(own, torch.Tensor) and theirs.shape != own.shape:
                problems.append(
                    f"{key}: the checkpoint's has shape {tuple(theirs.shape)}, the model's {tuple(own.shape)}"
                )
    if problems:
        raise ValueError("state_dict: " + "; ".join(problems))
