"""Compute backends of X-layers.  Every backend gives the outputs and gradients of the dense
reference (``F.conv2d`` / ``F.linear`` with ``dense_weight``); they differ only in speed and memory.
All are built from torch ops (index_select, conv2d, matmul; the sparse CSR matmul and the CPU
block-sparse matmul with an explicit backward), so gradients are exact and the code runs on CPU
and CUDA alike.

- ``masked``: scatter the compressed kernel into a dense one and run ``F.conv2d`` (the reference;
  dense cost, but always as fast as ``nn.Conv2d``).
- ``gather``: the paper's Algorithm 1: gather each output's D input channels and convolve them with
  its compressed kernel (a grouped convolution with one group per output).  The gathered tensor
  has ``out * D`` channels, so it runs in chunks of outputs to bound memory.  Exact FLOPs, but
  one-channel groups run far below peak on CPU.
- ``block``: for block graphs (``block_size`` b > 1).  k x k: gather whole input blocks and run ONE
  grouped convolution with one group per output block.  1x1 and linear on CPU: a block-sparse
  matmul that multiplies every b x b weight block with its input block in place (no gather, no
  dense weight), on CUDA a batched matmul over gathered blocks.  Cost ~1/C of dense.
- ``sparse``: 1x1 convolutions and linear layers as a CSR sparse x dense matmul (any graph).

Graphs regular on the input side (``side="input"``, see :mod:`xnet.graphs.bipartite`) come as an
``(in, D)`` table of each input's outputs, a ``(in, D, *k)`` weight and ``num_outputs``.  Every
backend but ``block`` supports them: ``gather`` convolves each input with its D kernels (a
depthwise convolution with channel multiplier D) and adds the results into their outputs;
``sparse`` multiplies by the transpose of the table's CSR matrix; ``auto`` never picks ``block``.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch.nn.modules.utils import _pair

BACKENDS = ("auto", "masked", "gather", "block", "sparse", "triton")

# Peak extra memory (bytes) the gather backend may use for its gathered input; larger layers run
# in chunks of outputs.
GATHER_CHUNK_BYTES = 256 * 2**20


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")


def _check_side(side: str, num_outputs) -> None:
    if side == "output":
        return
    if side != "input":
        raise ValueError(f"side: must be 'output' or 'input', got {side!r}")
    if isinstance(num_outputs, bool) or not isinstance(num_outputs, int) or num_outputs < 1:
        raise ValueError(f"num_outputs: an input-regular table needs the number of outputs, got {num_outputs!r}")


def dense_weight(
    weight: torch.Tensor,
    neighbors: torch.Tensor,
    num_inputs: int,
    *,
    side: str = "output",
    num_outputs: int | None = None,
) -> torch.Tensor:
    """Scatter a compressed kernel into a dense ``(out, in, *k)`` one.

    ``side="output"``: ``weight`` is ``(out, D, *k)`` and ``neighbors[v]`` the inputs of output v.
    ``side="input"``: ``weight`` is ``(in, D, *k)`` and ``neighbors[u]`` the ``num_outputs``-side
    outputs of input u.
    """
    _check_side(side, num_outputs)
    rows, d = neighbors.shape
    cols = num_inputs if side == "output" else num_outputs
    dense = weight.new_zeros(rows, cols, *weight.shape[2:])
    index = neighbors.view(rows, d, *([1] * (weight.dim() - 2))).expand_as(weight)
    dense = dense.scatter(1, index, weight)
    return dense if side == "output" else dense.transpose(0, 1)


# CPU limits of the 1x1 / linear block path (multiply-accumulates per call, and per b x b GEMM),
# below which the per-block Python loop and the transposed copies cost more than a dense layer.
BLOCK_MIN_MACS_CPU = 2**25
BLOCK_MIN_GEMM_MACS_CPU = 2**18


def choose_backend(
    x: torch.Tensor,
    weight: torch.Tensor,
    neighbors: torch.Tensor,
    block_size: int = 1,
    stride=1,
    *,
    side: str = "output",
    num_outputs: int | None = None,
) -> str:
    """Pick the fastest exact backend for this shape and device.

    The rule follows ``python -m xnet.bench layers`` and ``models`` on a 2-core CPU (see
    docs/benchmarks.md):

    - block graphs, k x k kernels: ``block`` (one grouped conv at ~1/C of the dense FLOPs) for
      blocks of >= 8 channels at C >= 2, stride 1 on every device (at stride 2, gathering the
      full-resolution input costs more than the 4x smaller convolution saves: measured on CPU);
    - block graphs, 1x1 convolutions / linear layers on CPU: ``block`` (the block-sparse matmul)
      for blocks of >= 16 channels at C >= 4, if the call does >= 2^25 multiply-accumulates and
      each b x b GEMM >= 2^18 (smaller layers, e.g. ResNet's 7x7 maps, run faster dense; blocks
      of 8 and C = 2 only tie with dense on two threads); on CUDA for blocks of >= 8 channels at
      C >= 4;
    - channel-level graphs of 1x1 convolutions / linear layers at compression >= 16 use ``sparse``
      on CPU (CSR matmul, about half the dense time there; at C = 8 it only breaks even);
    - everything else uses ``masked``, i.e. dense speed: per-channel gathers (Algorithm 1) run far
      below peak on CPU (3-100x the dense time), so they pay off neither in time nor in memory.
      The CUDA rule is unmeasured (no GPU was available when it was written); ``triton`` is never
      picked: its rule awaits the numbers of ``python -m xnet.bench gpu`` (docs/benchmarks.md).

    Input-regular tables (``side="input"``) follow the same rule with compression ``out / D``,
    but never get ``block`` (it supports output-regular block graphs only).
    """
    out, d = neighbors.shape
    num_inputs = x.shape[1] if weight.dim() > 2 else x.shape[-1]
    compression = num_inputs / d
    is_pointwise = weight.dim() == 2 or all(k == 1 for k in weight.shape[2:])
    cpu = x.device.type == "cpu"
    if side != "output":
        _check_side(side, num_outputs)
        compression, block_size = num_outputs / d, 1
    if block_size >= 8 and out % block_size == 0 and d % block_size == 0:
        if not is_pointwise and compression >= 2 and max(_pair(stride)) == 1:
            return "block"
        if is_pointwise and not cpu and compression >= 4:
            return "block"
        if is_pointwise and cpu and block_size >= 16 and compression >= 4:
            positions = x.numel() // num_inputs  # samples x pixels
            samples = x.shape[0] if weight.dim() > 2 else positions
            chunk = positions / _chunk_count(samples, x.numel() * x.element_size())  # GEMM width
            if positions * out * d >= BLOCK_MIN_MACS_CPU and chunk * block_size**2 >= BLOCK_MIN_GEMM_MACS_CPU:
                return "block"
    if is_pointwise and cpu and compression >= 16 and block_size == 1 and x.dtype in (torch.float32, torch.float64):
        return "sparse"
    return "masked"


# ----------------------------------------------------------------------------------------------
# sparse: CSR x dense with an explicit backward (grad of the values = sampled dense product).


def _cached_on(neighbors: torch.Tensor, name: str, arg, compute):
    """``compute()``, cached on the (long-lived) ``neighbors`` buffer under ``name`` for ``arg``.

    Recomputed when the table is modified in place (a loaded checkpoint bumps ``_version``).
    ``compute`` must depend only on the table's contents and ``arg`` (e.g. the number of columns
    and the block size): the CSR transpose below is the same for both sides, the block table is
    built for output-regular tables only.
    """
    key = (neighbors._version, arg)
    cached = getattr(neighbors, name, None)
    if cached is not None and cached[0] == key:
        return cached[1]
    value = compute()
    try:
        setattr(neighbors, name, (key, value))
    except (AttributeError, RuntimeError):  # pragma: no cover - tensor subclasses without a __dict__
        pass
    return value


def _csr_transpose(neighbors: torch.Tensor, num_cols: int):
    """CSR row pointers / columns of the transposed pattern of a ``(rows, D)`` table whose entries
    index ``num_cols`` columns, and the edge order (cached)."""

    def compute():
        out, d = neighbors.shape
        dev = neighbors.device
        col = neighbors.reshape(-1)
        rows = torch.arange(out, device=dev).repeat_interleave(d)
        order = torch.argsort(col * out + rows, stable=True)  # edges sorted by column
        counts = torch.bincount(col, minlength=num_cols)
        t_crow = torch.zeros(num_cols + 1, dtype=torch.long, device=dev)
        t_crow[1:] = counts.cumsum(0)
        return t_crow, rows[order], order

    return _cached_on(neighbors, "_xnet_csr_t", num_cols, compute)


def _csr(crow, col, values, size):
    with warnings.catch_warnings():  # CSR support is "beta": silence the notice, not errors
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


def _table_csr(values, neighbors, num_cols, transpose):
    """The ``(rows, num_cols)`` CSR matrix whose rows hold ``values`` at ``neighbors``, or its transpose."""
    rows, d = neighbors.shape
    if not transpose:
        crow = torch.arange(0, rows * d + 1, d, device=neighbors.device)
        return _csr(crow, neighbors.reshape(-1), values.reshape(-1), (rows, num_cols))
    t_crow, t_col, order = _csr_transpose(neighbors, num_cols)
    return _csr(t_crow, t_col, values.reshape(-1)[order], (num_cols, rows))


class _CSRMatmul(torch.autograd.Function):
    """``y = A @ x`` with ``A`` the (rows, num_cols) sparse matrix whose rows hold ``values`` at
    ``neighbors`` (output-regular tables), or ``y = A^T @ x`` with ``transpose`` (input-regular)."""

    @staticmethod
    def forward(ctx, values, x, neighbors, num_cols, transpose=False):
        a = _table_csr(values, neighbors, num_cols, transpose)
        ctx.save_for_backward(values, x)
        ctx.neighbors, ctx.num_cols, ctx.transpose = neighbors, num_cols, transpose  # a buffer, not differentiated
        with torch.autocast(x.device.type, enabled=False):  # _sparse_mm chose the dtype already
            return a @ x

    @staticmethod
    def backward(ctx, grad_y):
        values, x = ctx.saved_tensors
        neighbors, num_cols, transpose = ctx.neighbors, ctx.num_cols, ctx.transpose
        rows, d = neighbors.shape
        grad_values = grad_x = None
        if ctx.needs_input_grad[1]:
            grad_x = _table_csr(values, neighbors, num_cols, not transpose) @ grad_y.contiguous()
        if ctx.needs_input_grad[0]:
            # grad of A[r, c] = <left[r], right[c]> on the edges only: a sampled dense-dense product,
            # left/right = grad_y/x for y = A x, and x/grad_y for y = A^T x
            left, right = (x, grad_y) if transpose else (grad_y, x)
            crow = torch.arange(0, rows * d + 1, d, device=values.device)
            pattern = _csr(crow, neighbors.reshape(-1), torch.zeros_like(values).reshape(-1), (rows, num_cols))
            try:
                sampled = torch.sparse.sampled_addmm(pattern, left.contiguous(), right.t(), beta=0.0)
                grad_values = sampled.values().view_as(values)
            except (RuntimeError, NotImplementedError):  # pragma: no cover - dtype/device without support
                grad_values = (left @ right.t()).gather(1, neighbors).view_as(values)
        return grad_values, grad_x, None, None, None


def _compute_dtype(x, weight, supported=None):
    """The dtype a custom backend computes in: autocast's (as ``F.conv2d`` would) or the promoted one.

    ``supported``: the dtypes the kernel has; anything else is computed in float32.
    """
    dt = torch.promote_types(x.dtype, weight.dtype)
    try:
        autocast = torch.is_autocast_enabled(x.device.type)
    except RuntimeError:  # a device type without autocast (meta: counting MACs without data)
        autocast = False
    if autocast:
        dt = torch.get_autocast_dtype(x.device.type)
    return dt if supported is None or dt in supported else torch.float32


def _sparse_mm(values, x2d, neighbors, num_cols, transpose=False):
    dt = _compute_dtype(x2d, values, (torch.float32, torch.float64) if x2d.device.type == "cpu" else None)
    return _CSRMatmul.apply(values.to(dt), x2d.to(dt).contiguous(), neighbors, num_cols, transpose)


# ----------------------------------------------------------------------------------------------
# block gather (forward only: _GatheredConv below gathers again in its backward)


def _gather_blocks(x3, index):
    """``x3.index_select(1, index)`` for x3 of shape (N, blocks, L): whole input blocks."""
    return x3.index_select(1, index)


# ----------------------------------------------------------------------------------------------
# block-sparse matmul (CPU): one GEMM per weight block, on views, nothing gathered


def _block_table(neighbors: torch.Tensor, b: int) -> list[list[int]]:
    """``table[o][s]``: the input block of output block ``o``'s s-th edge (cached)."""
    return _cached_on(neighbors, "_xnet_block_table", b, lambda: (neighbors[::b, ::b] // b).tolist())


# The block-sparse matmul runs on chunks of samples of about this many input bytes per CPU thread:
# the transposed copies stay in cache (one transpose of a whole 50 MB activation costs more than
# the GEMMs) while each GEMM stays wide enough for torch's threads.
BLOCK_CHUNK_BYTES = 4 * 2**20


class _BlockSparseMatmul(torch.autograd.Function):
    """``y[:, v] = sum_u A[v, u] x[:, u]`` for a block-sparse ``A`` (1x1 convolution / linear layer).

    ``x`` is ``(N, in, L)`` (L = H*W, or 1 for a linear layer), ``wb`` the ``(O, S, b, b)`` weight
    blocks (a view of the layer's weight), ``table[o][s]`` the input block of block ``(o, s)``.
    For a chunk of samples, channels go first (one transposed copy), so every block of channels
    is a contiguous ``(b, n*L)`` slice and each of the O*S weight blocks is one ``addmm`` on
    slices: no gathered input, no dense weight.  The backward is the same loop (``W^T dy`` into
    the input blocks, ``dy x^T`` per weight block).  Only the input is saved.
    """

    @staticmethod
    def forward(ctx, x, wb, table, b):
        n, c, length = x.shape
        y = x.new_empty(n, len(table) * b, length)
        for n0, n1 in _sample_chunks(x):
            xt = x[n0:n1].transpose(0, 1).reshape(c, (n1 - n0) * length)
            yt = x.new_empty(y.shape[1], xt.shape[1])
            for o, row in enumerate(table):
                yo = yt[o * b : (o + 1) * b]
                for s, u in enumerate(row):
                    if s == 0:
                        torch.mm(wb[o, s], xt[u * b : (u + 1) * b], out=yo)
                    else:
                        yo.addmm_(wb[o, s], xt[u * b : (u + 1) * b])
            y[n0:n1] = yt.view(y.shape[1], n1 - n0, length).transpose(0, 1)
        ctx.save_for_backward(x, wb)
        ctx.table, ctx.b = table, b
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, wb = ctx.saved_tensors
        table, b = ctx.table, ctx.b
        n, c, length = x.shape
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_w = wb.new_zeros(wb.shape) if need_w else None
        grad_x = x.new_empty(x.shape) if need_x else None
        for n0, n1 in _sample_chunks(x):
            gt = grad_y[n0:n1].transpose(0, 1).reshape(grad_y.shape[1], (n1 - n0) * length)
            xt = x[n0:n1].transpose(0, 1).reshape(c, (n1 - n0) * length) if need_w else None
            gxt = x.new_zeros(c, gt.shape[1]) if need_x else None
            for o, row in enumerate(table):
                go = gt[o * b : (o + 1) * b]
                for s, u in enumerate(row):
                    if need_w:
                        grad_w[o, s].addmm_(go, xt[u * b : (u + 1) * b].t())
                    if need_x:
                        gxt[u * b : (u + 1) * b].addmm_(wb[o, s].t(), go)
            if need_x:
                grad_x[n0:n1] = gxt.view(c, n1 - n0, length).transpose(0, 1)
        return grad_x, grad_w, None, None


def _chunk_count(n, nbytes):
    return max(1, min(n, math.ceil(nbytes / (BLOCK_CHUNK_BYTES * torch.get_num_threads()))))


def _sample_chunks(x):
    """``(n0, n1)`` bounds of chunks of about ``BLOCK_CHUNK_BYTES`` per thread, of even size."""
    n = x.shape[0]
    chunks = _chunk_count(n, x.numel() * x.element_size())
    return [(n * i // chunks, n * (i + 1) // chunks) for i in range(chunks)]


def _use_block_matmul(x) -> bool:
    """1x1 / linear block layers: the block-sparse matmul on CPU; on CUDA (where many small GEMMs
    would each cost a kernel launch) a grouped 1x1 convolution over gathered blocks."""
    return x.device.type == "cpu"


def _block_matmul(x3, weight2d, neighbors, b):
    """Block-sparse ``(N, in, L) -> (N, out, L)`` with the ``(out, D)`` weight of a block graph."""
    out, d = neighbors.shape
    dt = _compute_dtype(x3, weight2d)
    wb = weight2d.to(dt).reshape(out // b, b, d // b, b).transpose(1, 2)  # (O, S, b, b) view
    return _BlockSparseMatmul.apply(x3.to(dt), wb, _block_table(neighbors, b), b)


# ----------------------------------------------------------------------------------------------
# convolution


def _pointwise_input(x, stride, padding):
    """Apply 1x1-conv padding and stride to the input, so the rest is a channel matmul."""
    if isinstance(padding, str):
        if padding == "valid" or padding == "same":
            pass  # a 1x1 kernel needs no padding for either
        else:
            raise ValueError(f"padding: unknown {padding!r}")
    else:
        ph, pw = _pair(padding)
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph))
    sh, sw = _pair(stride)
    if sh > 1 or sw > 1:
        x = x[:, :, ::sh, ::sw]
    return x


def _is_channels_last(x):
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def _channel_index(index, b):
    return index if b == 1 else (index[:, None] * b + torch.arange(b, device=index.device)).reshape(-1)


def _gather_channels(x, index, b, count=True):
    """``x[:, channels]`` for ``index`` a flat list of input blocks of ``b`` channels (b = 1: channels),
    in x's memory format: a channels_last input is gathered along its contiguous (NHWC) last dim.
    ``count``: go through ``_gather_blocks`` (the forward; tests count its calls)."""
    if _is_channels_last(x):
        return x.permute(0, 2, 3, 1).index_select(3, _channel_index(index, b)).permute(0, 3, 1, 2)
    n, c, h, w = x.shape
    x3 = x.reshape(n, c // b, b * h * w)
    xg = _gather_blocks(x3, index) if count else x3.index_select(1, index)
    return xg.view(n, index.numel() * b, h, w)


def _scatter_channels(grad, index, b, shape, channels_last):
    """The adjoint of :func:`_gather_channels`: add ``grad`` of the gathered channels into a zero input."""
    n, c, h, w = shape
    if channels_last:
        out = grad.new_zeros(n, h, w, c)
        out.index_add_(3, _channel_index(index, b), grad.permute(0, 2, 3, 1))
        return out.permute(0, 3, 1, 2)
    g3 = grad.reshape(n, index.numel(), b * h * w)
    out = grad.new_zeros(n, c // b, b * h * w)
    if out.device.type == "cpu" and b > 1:  # index_add_ along dim 1 is ~50x slower on CPU here
        for j, u in enumerate(index.tolist()):
            out[:, u] += g3[:, j]
    else:
        out.index_add_(1, index, g3)
    return out.view(n, c, h, w)


class _GatheredConv(torch.autograd.Function):
    """``F.conv2d(x[:, channels], weight, bias, stride, padding, dilation, groups)`` that saves ``x``,
    not the gathered copy (D/b times the input for ``block``, D times for ``gather``), and gathers
    again in the backward: activation memory stays that of the input."""

    @staticmethod
    def forward(ctx, x, weight, bias, index, b, groups, stride, padding, dilation):
        ctx.save_for_backward(x, weight, index)
        ctx.conf = (b, groups, stride, padding, dilation, bias is not None)
        return F.conv2d(_gather_channels(x, index, b), weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, index = ctx.saved_tensors
        b, groups, stride, padding, dilation, has_bias = ctx.conf
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], has_bias and ctx.needs_input_grad[2]]
        xg = _gather_channels(x, index, b, count=False)
        grad_xg, grad_w, grad_b = torch.ops.aten.convolution_backward(
            grad_y.to(xg.dtype),
            xg,
            weight,
            [weight.shape[0]] if has_bias else None,
            stride,
            padding,
            dilation,
            False,
            [0, 0],
            groups,
            mask,
        )
        grad_x = _scatter_channels(grad_xg, index, b, x.shape, _is_channels_last(x)) if mask[0] else None
        return grad_x, grad_w, grad_b, None, None, None, None, None, None


def _gathered_conv(x, weight, bias, index, b, groups, stride, padding, dilation):
    """Gather input blocks (or channels) and run one grouped convolution, in the compute dtype
    (autocast's: cast first, then gather the smaller tensor once)."""
    dt = _compute_dtype(x, weight)
    x, weight = x.to(dt), weight.to(dt)
    bias = None if bias is None else bias.to(dt)
    if isinstance(padding, str):  # 'same' / 'valid': the plain form (convolution_backward needs numbers)
        return F.conv2d(_gather_channels(x, index, b), weight, bias, stride, padding, dilation, groups)
    return _GatheredConv.apply(
        x, weight, bias, index, b, groups, list(_pair(stride)), list(_pair(padding)), list(_pair(dilation))
    )


def _conv_gather(x, weight, neighbors, bias, stride, padding, dilation):
    out, d = neighbors.shape
    per_output = x.shape[0] * d * x.shape[2] * x.shape[3] * x.element_size()
    step = max(1, int(GATHER_CHUNK_BYTES // max(1, per_output)))
    ys = []
    for s in range(0, out, step):
        nb = neighbors[s : s + step]
        b = None if bias is None else bias[s : s + step]
        ys.append(_gathered_conv(x, weight[s : s + step], b, nb.reshape(-1), 1, nb.shape[0], stride, padding, dilation))
    return ys[0] if len(ys) == 1 else torch.cat(ys, 1)


def _conv_gather_input(x, weight, neighbors, bias, stride, padding, dilation, num_outputs):
    """Input-regular gather: each input convolved with its D kernels (a depthwise convolution with
    channel multiplier D), the results added into their outputs; in chunks of inputs."""
    num_inputs, d = neighbors.shape
    n = x.shape[0]
    per_input = n * d * x.shape[2] * x.shape[3] * x.element_size()
    step = max(1, int(GATHER_CHUNK_BYTES // max(1, per_input)))
    y = None
    for s in range(0, num_inputs, step):
        w = weight[s : s + step]
        z = F.conv2d(
            x[:, s : s + step], w.reshape(-1, 1, *w.shape[2:]), None, stride, padding, dilation, groups=w.shape[0]
        )
        if y is None:
            y = z.new_zeros(n, num_outputs, *z.shape[2:])
        y = y.index_add(1, neighbors[s : s + step].reshape(-1), z)
    return y if bias is None else y + bias.view(1, -1, 1, 1).to(y.dtype)


def _check_block_side(side):
    if side != "output":
        raise ValueError(
            "backend: 'block' supports output-regular block graphs only, this graph is input-regular "
            "(use 'masked', 'gather' or 'sparse')"
        )


def _conv_block(x, weight, neighbors, bias, stride, padding, dilation, block_size):
    out, d = neighbors.shape
    b = block_size
    if b < 2 or out % b or d % b:
        raise ValueError(f"backend: 'block' needs a block graph (block_size > 1), got block_size={block_size}")
    nblocks_out = out // b
    if all(k == 1 for k in weight.shape[2:]) and _use_block_matmul(x):
        # 1x1 on CPU: the block-sparse matmul, nothing gathered
        x = _pointwise_input(x, stride, padding)
        n, c, h, w = x.shape
        y = _block_matmul(x.reshape(n, c, h * w), weight.reshape(out, d), neighbors, b).view(n, out, h, w)
        return y if bias is None else y + bias.view(1, -1, 1, 1)
    # one grouped convolution (a group per output block) on gathered input blocks, saving only x
    in_blocks = neighbors[::b, ::b].reshape(-1) // b  # (O * D/b,)
    return _gathered_conv(x, weight, bias, in_blocks, b, nblocks_out, stride, padding, dilation)


def _conv_sparse(x, weight, neighbors, bias, stride, padding, num_outputs=None):
    if not all(k == 1 for k in weight.shape[2:]):
        raise ValueError(f"backend: 'sparse' supports 1x1 kernels only, got kernel {tuple(weight.shape[2:])}")
    x = _pointwise_input(x, stride, padding)
    n, c, h, w = x.shape
    x2d = x.transpose(0, 1).reshape(c, n * h * w)
    if num_outputs is None:  # output-regular: y = A x
        y = _sparse_mm(weight.reshape(neighbors.shape), x2d, neighbors, c)
    else:  # input-regular: the table is A^T
        y = _sparse_mm(weight.reshape(neighbors.shape), x2d, neighbors, num_outputs, transpose=True)
    y = y.view(y.shape[0], n, h, w).transpose(0, 1)
    return y if bias is None else y + bias.view(1, -1, 1, 1)


def xconv2d(
    x,
    weight,
    neighbors,
    bias=None,
    stride=1,
    padding=0,
    dilation=1,
    *,
    backend="auto",
    block_size=1,
    side="output",
    num_outputs=None,
):
    """X-Conv forward: ``F.conv2d(x, dense_weight(weight, neighbors), ...)`` computed by ``backend``.

    ``side="input"``: ``neighbors`` is an input-regular ``(in, D)`` table of outputs, ``weight``
    ``(in, D, *k)``, and ``num_outputs`` the number of output channels.
    """
    _check_side(side, num_outputs)
    if backend == "auto":
        backend = choose_backend(x, weight, neighbors, block_size, stride, side=side, num_outputs=num_outputs)
    if backend == "masked":
        w = dense_weight(weight, neighbors, x.shape[1], side=side, num_outputs=num_outputs)
        return F.conv2d(x, w, bias, stride, padding, dilation)
    inputs = side == "input"
    if backend == "gather":
        if inputs:
            return _conv_gather_input(x, weight, neighbors, bias, stride, padding, dilation, num_outputs)
        return _conv_gather(x, weight, neighbors, bias, stride, padding, dilation)
    if backend == "block":
        _check_block_side(side)
        return _conv_block(x, weight, neighbors, bias, stride, padding, dilation, block_size)
    if backend == "sparse":
        return _conv_sparse(x, weight, neighbors, bias, stride, padding, num_outputs if inputs else None)
    if backend == "triton":  # Triton kernels that read the input through the block table (triton_block.py)
        from . import triton_block

        return triton_block.block_conv2d(x, weight, neighbors, bias, stride, padding, dilation, block_size, side=side)
    raise ValueError(f"backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")


# ----------------------------------------------------------------------------------------------
# linear


def _linear_gather_input(x2, weight, neighbors, num_outputs):
    """Input-regular gather: each input times its D weights, added into its D outputs."""
    num_inputs, d = neighbors.shape
    step = max(1, int(GATHER_CHUNK_BYTES // max(1, x2.shape[0] * d * x2.element_size())))
    y = None
    for s in range(0, num_inputs, step):
        z = (x2[:, s : s + step, None] * weight[s : s + step]).reshape(x2.shape[0], -1)
        if y is None:
            y = z.new_zeros(x2.shape[0], num_outputs)
        y = y.index_add(1, neighbors[s : s + step].reshape(-1), z)
    return y


def xlinear(x, weight, neighbors, bias=None, *, backend="auto", block_size=1, side="output", num_outputs=None):
    """X-Linear forward: ``F.linear(x, dense_weight(weight, neighbors), bias)`` computed by ``backend``.

    ``side="input"``: ``neighbors`` is an input-regular ``(in, D)`` table of outputs, ``weight``
    ``(in, D)``, and ``num_outputs`` the number of outputs.
    """
    _check_side(side, num_outputs)
    if backend == "auto":
        backend = choose_backend(x, weight, neighbors, block_size, side=side, num_outputs=num_outputs)
    num_inputs = x.shape[-1]
    if backend == "masked":
        return F.linear(x, dense_weight(weight, neighbors, num_inputs, side=side, num_outputs=num_outputs), bias)
    if backend == "triton":  # Triton kernels that read the input through the block table (triton_block.py)
        from . import triton_block

        return triton_block.block_linear(x, weight, neighbors, bias, block_size, side=side)
    out, d = neighbors.shape
    lead = x.shape[:-1]
    x2 = x.reshape(-1, num_inputs)
    if side == "input":
        if backend == "gather":
            y = _linear_gather_input(x2, weight, neighbors, num_outputs)
        elif backend == "sparse":
            y = _sparse_mm(weight, x2.t(), neighbors, num_outputs, transpose=True).t()
        elif backend == "block":
            _check_block_side(side)
        else:
            raise ValueError(f"backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")
        y = y if bias is None else y + bias
        return y.reshape(*lead, num_outputs)
    if backend == "gather":
        step = max(1, int(GATHER_CHUNK_BYTES // max(1, x2.shape[0] * d * x2.element_size())))
        ys = [(x2[:, neighbors[s : s + step]] * weight[s : s + step]).sum(-1) for s in range(0, out, step)]
        y = torch.cat(ys, -1)
    elif backend == "block":
        b = block_size
        if b < 2 or out % b or d % b:
            raise ValueError(f"backend: 'block' needs a block graph (block_size > 1), got block_size={block_size}")
        if _use_block_matmul(x2):
            y = _block_matmul(x2.unsqueeze(-1), weight, neighbors, b).view(x2.shape[0], out)
        else:  # the gathered grouped 1x1 convolution, which saves only x
            y = _conv_block(x2[:, :, None, None], weight[:, :, None, None], neighbors, None, 1, 0, 1, b)
            y = y.view(x2.shape[0], out)
    elif backend == "sparse":
        y = _sparse_mm(weight, x2.t(), neighbors, num_inputs).t()
    else:
        raise ValueError(f"backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, out)
