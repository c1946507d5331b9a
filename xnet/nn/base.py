"""What XConv2d and XLinear share (:class:`_XBase`): drawing or taking the graph, its buffers and
properties, initialization, and the checks that make loading a checkpoint all or nothing."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.modules.utils import _pair

from ..graphs import BipartiteGraph, block_expander, block_graph, detect_block_size, random_expander
from ..names import must_be
from . import functional as XF

REGULAR = ("output", "input", "authors")


def _side_for(regular, num_inputs: int, num_outputs: int) -> str:
    if regular is None:
        return "output"
    if regular not in REGULAR:
        raise ValueError(must_be("regular", regular, REGULAR))
    if regular == "authors":  # expandergraphlayer.py:140-149: outputs draw inputs only if in > out
        return "output" if num_inputs > num_outputs else "input"
    return regular


def resolve_degree(num_inputs: int, degree=None, compression=None, graph=None, num_outputs=None, side="output"):
    """Check that exactly one of degree / compression / graph is given; return the degree.

    The degree counts the inputs of each output (``side="output"``) or the outputs of each input
    (``side="input"``); the compression is ``in / D`` or ``out / D`` accordingly.
    """
    given = [n for n, v in (("degree", degree), ("compression", compression), ("graph", graph)) if v is not None]
    if len(given) != 1:
        raise ValueError(f"degree/compression/graph: give exactly one, got {given or 'none'}")
    if graph is not None:
        if not isinstance(graph, BipartiteGraph):
            raise ValueError(f"graph: expected an xnet.graphs.BipartiteGraph, got {type(graph).__name__}")
        if graph.num_inputs != num_inputs or (num_outputs is not None and graph.num_outputs != num_outputs):
            raise ValueError(
                f"graph: has {graph.num_inputs} inputs x {graph.num_outputs} outputs, "
                f"the layer needs {num_inputs} x {num_outputs}"
            )
        return graph.degree
    limit, limit_name = (num_inputs, "in_channels") if side == "output" else (num_outputs, "out_channels")
    if compression is not None:
        if isinstance(compression, bool) or not isinstance(compression, (int, float)) or compression < 1:
            raise ValueError(f"compression: must be a number >= 1, got {compression!r}")
        if limit % compression:
            raise ValueError(f"compression: {compression} does not divide {limit_name}={limit} into a whole degree")
        return int(limit // compression)
    if isinstance(degree, bool) or not isinstance(degree, int) or not 1 <= degree <= limit:
        raise ValueError(f"degree: must be an integer between 1 and {limit_name}={limit}, got {degree!r}")
    return degree


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_ints(name: str, value, minimum: int) -> tuple:
    pair = _pair(value)
    if isinstance(value, str) or len(pair) != 2 or not all(_is_int(v) and v >= minimum for v in pair):
        raise ValueError(f"{name}: must be an integer >= {minimum} or a pair of them, got {value!r}")
    return tuple(pair)


class _XBase(nn.Module):
    """Shared graph handling of XConv2d and XLinear."""

    def _init_graph(
        self, num_inputs, num_outputs, degree, compression, graph, seed, backend, block_size=None, regular=None
    ):
        if graph is not None and regular is not None:
            raise ValueError("regular: give it with degree/compression, not with graph (the graph has its side)")
        side = graph.side if isinstance(graph, BipartiteGraph) else _side_for(regular, num_inputs, num_outputs)
        d = resolve_degree(num_inputs, degree, compression, graph, num_outputs, side)
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
                seed = int(torch.randint(2**31 - 1, (1,)))
            b = block_size or 1
            if side == "input":
                graph = random_expander(num_inputs // b, num_outputs // b, d // b, seed=seed, regular="input")
                graph = block_graph(graph, b) if b > 1 else graph
            elif b > 1:
                graph = block_expander(num_inputs, num_outputs, d, b, seed=seed)
            else:
                graph = random_expander(num_inputs, num_outputs, d, seed=seed)
        self.backend = backend
        self._side = graph.side
        self.num_outputs = graph.num_outputs
        self.register_buffer("neighbors", graph.neighbors.clone())
        self.register_buffer("input_regular", torch.tensor(graph.side == "input"))
        self._block_size = graph.block_size
        self._graph_name = graph.name
        self._fast_block = (
            1 if self.input_regular_side else max(graph.block_size, detect_block_size(graph.neighbors, num_inputs))
        )

    # -- the graph -------------------------------------------------------------------------------

    @property
    def side(self) -> str:
        """``"output"`` (each output sees D inputs, the paper) or ``"input"`` (each input feeds D outputs)."""
        return self._side

    @property
    def input_regular_side(self) -> bool:
        return self._side == "input"

    @property
    def _num_cols(self) -> int:
        """The number of channels the table's entries index (inputs, or outputs when input-regular)."""
        return self.num_outputs if self.input_regular_side else self.num_inputs

    @property
    def graph(self) -> BipartiteGraph:
        """The layer's graph, built from the ``neighbors`` buffer (so it follows a loaded checkpoint
        or a move to another device) and cached until that buffer changes."""
        nb = self.neighbors
        key = (id(nb), nb._version, nb.device)  # the cached graph holds nb: its id is not reused
        cached = self.__dict__.get("_graph_cache")
        if cached is None or cached[0] != key:
            graph = BipartiteGraph(
                nb,
                self.num_inputs,
                block_size=self._block_size,
                name=self._graph_name,
                side=self._side,
                num_outputs=self.num_outputs,
            )
            cached = self.__dict__["_graph_cache"] = (key, graph)
        return cached[1]

    @property
    def block_size(self) -> int:
        return self._block_size

    # The counts below read the table's shape only, not its contents: they also work on a layer built
    # on the meta device (MAC counting), where ``graph`` cannot be built (it validates the table).

    @property
    def degree(self) -> int:
        """D: inputs per output (output-regular) or outputs per input (input-regular)."""
        return int(self.neighbors.shape[1])

    @property
    def num_edges(self) -> int:
        """Channel connections kept: ``out * D`` or ``in * D`` (input-regular)."""
        return int(self.neighbors.shape[0]) * self.degree

    @property
    def density(self) -> float:
        """Fraction of the dense connections kept: ``D / in``, or ``D / out`` when input-regular."""
        return self.num_edges / (self.num_inputs * self.num_outputs)

    @property
    def compression(self) -> float:
        """1 / density: ``in / D``, or ``out / D`` when input-regular."""
        c = self._num_cols / self.degree
        return int(c) if c == int(c) else c

    def _graph_repr(self) -> str:
        s = f", degree={self.degree}, compression={self.compression}"
        if self.input_regular_side:
            s += ", regular='input'"
        if self._block_size > 1:
            s += f", block_size={self._block_size}"
        if self.backend != "auto":
            s += f", backend={self.backend!r}"
        return s

    def _table_kwargs(self) -> dict:
        """Keyword arguments of the functional backends for this layer's side."""
        if self.input_regular_side:
            return {"side": "input", "num_outputs": self.num_outputs}
        return {}

    def auto_backend(self, x: torch.Tensor) -> str:
        """The backend ``backend="auto"`` picks for input ``x`` (see :func:`xnet.nn.functional.choose_backend`)."""
        return XF.choose_backend(
            x, self.weight, self.neighbors, self._fast_block, getattr(self, "stride", 1), **self._table_kwargs()
        )

    def reset_parameters(self):
        # Kaiming (He) init for the fan-in an output sees: D * k * k as the paper's code (not the
        # dense fan-in); for an input-regular graph the mean fan-in, in * D / out * k * k.
        kernel = self.weight[0, 0].numel()
        fan_in = self.num_edges / self.num_outputs * kernel
        if self.input_regular_side:
            with torch.no_grad():
                self.weight.normal_(0.0, math.sqrt(2.0 / fan_in))
        else:
            nn.init.kaiming_normal_(self.weight, mode="fan_in", nonlinearity="relu")
        if self.bias is not None:
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    # -- loading ---------------------------------------------------------------------------------

    def _rebuild_hint(self, degree: int, side: str) -> str:
        regular = ", regular='input'" if side == "input" else ""
        return f"build {type(self).__name__}({self.num_inputs}, {self.num_outputs}, ..., degree={degree}{regular})"

    def _checkpoint_problem(self, state_dict, prefix) -> str | None:
        """What makes this layer's part of ``state_dict`` unloadable (None if nothing): checked before
        anything is copied, so a failing load leaves the layer as it was."""
        nb_key, side_key = prefix + "neighbors", prefix + "input_regular"
        side = self._side
        if side_key in state_dict:
            flag = state_dict[side_key]
            if not isinstance(flag, torch.Tensor) or flag.numel() != 1 or flag.is_floating_point():
                return f"{side_key}: expected a bool flag, got {flag!r}"
            side = "input" if bool(flag) else "output"
        elif nb_key in state_dict:
            side = "output"  # checkpoints written before input-regular graphs existed
        if nb_key in state_dict:
            nb = state_dict[nb_key]
            if not isinstance(nb, torch.Tensor):
                return f"{nb_key}: expected a tensor, got {type(nb).__name__}"
            if nb.is_floating_point() or nb.is_complex() or nb.dtype == torch.bool:
                return f"{nb_key}: graph indices must be integers, got dtype {nb.dtype}"
            if nb.dim() != 2:
                return f"{nb_key}: expected a (rows, degree) table, got shape {tuple(nb.shape)}"
            rows = self.num_inputs if side == "input" else self.num_outputs
            if side != self._side or nb.shape[0] != rows or nb.shape[1] != self.degree:
                what = "input-regular" if side == "input" else "output-regular"
                mine = "input-regular" if self.input_regular_side else "output-regular"
                if nb.shape[0] != rows or nb.shape[1] < 1:
                    return (
                        f"{nb_key}: the checkpoint's {what} table has shape {tuple(nb.shape)}, "
                        f"a {what} graph of this layer's size needs ({rows}, degree)"
                    )
                return (
                    f"{nb_key}: the checkpoint holds an {what} graph of degree {nb.shape[1]}, this layer's is "
                    f"{mine} of degree {self.degree}: {self._rebuild_hint(int(nb.shape[1]), side)} to load it"
                )
            cols = self._num_cols
            if nb.numel():
                lo, hi = int(nb.min()), int(nb.max())
                if lo < 0 or hi >= cols:
                    kind = "output" if side == "input" else "input"
                    return f"{nb_key}: {kind} indices must lie in [0, {cols}), got [{lo}, {hi}]"
                srt = nb.sort(dim=1).values
                if srt.shape[1] > 1 and bool((srt[:, 1:] == srt[:, :-1]).any()):
                    row = int((srt[:, 1:] == srt[:, :-1]).any(1).nonzero()[0])
                    return f"{nb_key}: row {row} lists the same channel twice"
        elif side != self._side:
            return (
                f"{side_key}: the checkpoint's graph is {side}-regular, this layer's is {self._side}-regular "
                f"(and the checkpoint has no {nb_key})"
            )
        for name in ("weight", "bias"):
            key, own = prefix + name, getattr(self, name)
            if key in state_dict and own is not None:
                t = state_dict[key]
                if not isinstance(t, torch.Tensor) or t.shape != own.shape:
                    shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                    return f"{key}: the checkpoint's has shape {shape}, this layer's {tuple(own.shape)}"
        return None

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        problem = self._checkpoint_problem(state_dict, prefix)
        if problem is not None:
            error_msgs.append(problem)  # load_state_dict raises them all; nothing of this layer changed
            return
        side_key = prefix + "input_regular"
        had_side = side_key in state_dict
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        if not had_side and side_key in missing_keys and prefix + "neighbors" in state_dict:
            missing_keys.remove(side_key)  # an older checkpoint: its graphs are output-regular
        if self.neighbors.dtype != torch.long:  # load_state_dict(assign=True) with an int32 table
            self.neighbors = self.neighbors.long()
        if prefix + "neighbors" in state_dict:
            # The block structure is a property of the table: recover it so fast paths still apply.
            b = detect_block_size(self.neighbors, self._num_cols)
            self._block_size = b
            self._fast_block = 1 if self.input_regular_side else b

    def _input_error(self, x, expected: str) -> ValueError:
        shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        return ValueError(f"input: {self._short_name()} expected {expected}, got input of size {shape}")
