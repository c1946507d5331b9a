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
"""
from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch.nn.modules.utils import _pair

BACKENDS = ("auto", "masked", "gather", "block", "sparse")

# Peak extra memory (bytes) the gather backend may use for its gathered input; larger layers run
# in chunks of outputs.
GATHER_CHUNK_BYTES = 256 * 2 ** 20


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")


def dense_weight(weight: torch.Tensor, neighbors: torch.Tensor, num_inputs: int) -> torch.Tensor:
    """Scatter a compressed ``(out, D, *k)`` kernel into a dense ``(out, in, *k)`` one."""
    out, d = neighbors.shape
    dense = weight.new_zeros(out, num_inputs, *weight.shape[2:])
    index = neighbors.view(out, d, *([1] * (weight.dim() - 2))).expand_as(weight)
    return dense.scatter(1, index, weight)


# CPU limits of the 1x1 / linear block path (multiply-accumulates per call, and per b x b GEMM),
# below which the per-block Python loop and the transposed copies cost more than a dense layer.
BLOCK_MIN_MACS_CPU = 2 ** 25
BLOCK_MIN_GEMM_MACS_CPU = 2 ** 18


def choose_backend(x: torch.Tensor, weight: torch.Tensor, neighbors: torch.Tensor, block_size: int = 1,
                   stride=1) -> str:
    """Pick the fastest exact backend for this shape and device.

    The rule follows ``python -m xnet.bench layers`` and ``models`` on a 2-core CPU (see README.md,
    "Benchmark"):

    - block graphs, k x k kernels: ``block`` (one grouped conv at ~1/C of the dense FLOPs) for
      blocks of >= 8 channels at C >= 2, stride 1 (with stride 2 on CPU, gathering the
      full-resolution input costs more than the 4x smaller convolution saves);
    - block graphs, 1x1 convolutions / linear layers on CPU: ``block`` (the block-sparse matmul)
      for blocks of >= 16 channels at C >= 4, if the call does >= 2^25 multiply-accumulates and
      each b x b GEMM >= 2^18 (smaller layers, e.g. ResNet's 7x7 maps, run faster dense; blocks
      of 8 and C = 2 only tie with dense on two threads); on CUDA for blocks of >= 8 channels at
      C >= 4;
    - channel-level graphs of 1x1 convolutions / linear layers at compression >= 16 use ``sparse``
      on CPU (CSR matmul, about half the dense time there; at C = 8 it only breaks even);
    - everything else uses ``masked``, i.e. dense speed: per-channel gathers (Algorithm 1) run far
      below peak on CPU (3-100x the dense time), so they pay off neither in time nor in memory.
      The CUDA rule is unmeasured (no GPU was available when it was written).
    """
    out, d = neighbors.shape
    num_inputs = x.shape[1] if weight.dim() > 2 else x.shape[-1]
    compression = num_inputs / d
    is_pointwise = weight.dim() == 2 or all(k == 1 for k in weight.shape[2:])
    cpu = x.device.type == "cpu"
    if block_size >= 8 and out % block_size == 0 and d % block_size == 0:
        if not is_pointwise and compression >= 2 and (not cpu or max(_pair(stride)) == 1):
            return "block"
        if is_pointwise and not cpu and compression >= 4:
            return "block"
        if is_pointwise and cpu and block_size >= 16 and compression >= 4:
            positions = x.numel() // num_inputs  # samples x pixels
            samples = x.shape[0] if weight.dim() > 2 else positions
            chunk = positions / _chunk_count(samples, x.numel() * x.element_size())  # GEMM width
            if positions * out * d >= BLOCK_MIN_MACS_CPU and chunk * block_size ** 2 >= BLOCK_MIN_GEMM_MACS_CPU:
                return "block"
    if (is_pointwise and cpu and compression >= 16 and block_size == 1
            and x.dtype in (torch.float32, torch.float64)):
        return "sparse"
    return "masked"


# ----------------------------------------------------------------------------------------------
# sparse: CSR x dense with an explicit backward (grad of the values = sampled dense product).

def _cached_on(neighbors: torch.Tensor, name: str, arg, compute):
    """``compute()``, cached on the (long-lived) ``neighbors`` buffer under ``name`` for ``arg``.

    Recomputed when the table is modified in place (a loaded checkpoint bumps ``_version``).
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


def _csr_transpose(neighbors: torch.Tensor, num_inputs: int):
    """CSR row pointers / columns of the transposed pattern, and the edge order (cached)."""
    def compute():
        out, d = neighbors.shape
        dev = neighbors.device
        col = neighbors.reshape(-1)
        rows = torch.arange(out, device=dev).repeat_interleave(d)
        order = torch.argsort(col * out + rows, stable=True)  # edges sorted by input
        counts = torch.bincount(col, minlength=num_inputs)
        t_crow = torch.zeros(num_inputs + 1, dtype=torch.long, device=dev)
        t_crow[1:] = counts.cumsum(0)
        return t_crow, rows[order], order
    return _cached_on(neighbors, "_xnet_csr_t", num_inputs, compute)


def _csr(crow, col, values, size):
    with warnings.catch_warnings():  # CSR support is "beta": silence the notice, not errors
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


class _CSRMatmul(torch.autograd.Function):
    """``y = A @ x`` with ``A`` the (out, in) sparse matrix whose rows hold ``values`` at ``neighbors``."""

    @staticmethod
    def forward(ctx, values, x, neighbors, num_inputs):
        out, d = neighbors.shape
        crow = torch.arange(0, out * d + 1, d, device=neighbors.device)
        a = _csr(crow, neighbors.reshape(-1), values.reshape(-1), (out, num_inputs))
        ctx.save_for_backward(values, x)
        ctx.neighbors, ctx.num_inputs = neighbors, num_inputs  # a buffer, not differentiated
        with torch.autocast(x.device.type, enabled=False):  # _sparse_mm chose the dtype already
            return a @ x

    @staticmethod
    def backward(ctx, grad_y):
        values, x = ctx.saved_tensors
        neighbors, num_inputs = ctx.neighbors, ctx.num_inputs
        out, d = neighbors.shape
        grad_values = grad_x = None
        if ctx.needs_input_grad[1]:
            t_crow, t_col, order = _csr_transpose(neighbors, num_inputs)
            at = _csr(t_crow, t_col, values.reshape(-1)[order], (num_inputs, out))
            grad_x = at @ grad_y.contiguous()
        if ctx.needs_input_grad[0]:
            # grad of A[v, u] = <grad_y[v], x[u]> on the edges only: a sampled dense-dense product
            crow = torch.arange(0, out * d + 1, d, device=values.device)
            pattern = _csr(crow, neighbors.reshape(-1), torch.zeros_like(values).reshape(-1), (out, num_inputs))
            try:
                sampled = torch.sparse.sampled_addmm(pattern, grad_y.contiguous(), x.t(), beta=0.0)
                grad_values = sampled.values().view_as(values)
            except (RuntimeError, NotImplementedError):  # pragma: no cover - dtype/device without support
                grad_values = (grad_y @ x.t()).gather(1, neighbors).view_as(values)
        return grad_values, grad_x, None, None


def _compute_dtype(x, weight, supported=None):
    """The dtype a custom backend computes in: autocast's (as ``F.conv2d`` would) or the promoted one.

    ``supported``: the dtypes the kernel has; anything else is computed in float32.
    """
    dt = torch.promote_types(x.dtype, weight.dtype)
    if torch.is_autocast_enabled(x.device.type):
        dt = torch.get_autocast_dtype(x.device.type)
    return dt if supported is None or dt in supported else torch.float32


def _sparse_mm(values, x2d, neighbors, num_inputs):
    dt = _compute_dtype(x2d, values, (torch.float32, torch.float64) if x2d.device.type == "cpu" else None)
    return _CSRMatmul.apply(values.to(dt), x2d.to(dt).contiguous(), neighbors, num_inputs)


# ----------------------------------------------------------------------------------------------
# block gather with a fast backward

class _BlockGather(torch.autograd.Function):
    """``x.index_select(1, index)`` for x of shape (N, blocks, L), with a backward that adds the
    gradient slices back one by one: torch's ``index_add_`` along dim 1 is ~50x slower on CPU here."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.num_blocks = x.shape[1]
        ctx.save_for_backward(index)
        return x.index_select(1, index)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grad_x = grad.new_zeros(grad.shape[0], ctx.num_blocks, *grad.shape[2:])
        if grad.device.type != "cpu":
            return grad_x.index_add_(1, index, grad), None
        grad = grad.contiguous()
        for j, u in enumerate(index.tolist()):
            grad_x[:, u] += grad[:, j]
        return grad_x, None


def _gather_blocks(x3, index):
    return _BlockGather.apply(x3, index) if torch.is_grad_enabled() and x3.requires_grad else x3.index_select(1, index)


# ----------------------------------------------------------------------------------------------
# block-sparse matmul (CPU): one GEMM per weight block, on views, nothing gathered

def _block_table(neighbors: torch.Tensor, b: int) -> list[list[int]]:
    """``table[o][s]``: the input block of output block ``o``'s s-th edge (cached)."""
    return _cached_on(neighbors, "_xnet_block_table", b, lambda: (neighbors[::b, ::b] // b).tolist())


# The block-sparse matmul runs on chunks of samples of about this many input bytes per CPU thread:
# the transposed copies stay in cache (one transpose of a whole 50 MB activation costs more than
# the GEMMs) while each GEMM stays wide enough for torch's threads.
BLOCK_CHUNK_BYTES = 4 * 2 ** 20


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
                yo = yt[o * b:(o + 1) * b]
                for s, u in enumerate(row):
                    if s == 0:
                        torch.mm(wb[o, s], xt[u * b:(u + 1) * b], out=yo)
                    else:
                        yo.addmm_(wb[o, s], xt[u * b:(u + 1) * b])
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
                go = gt[o * b:(o + 1) * b]
                for s, u in enumerate(row):
                    if need_w:
                        grad_w[o, s].addmm_(go, xt[u * b:(u + 1) * b].t())
                    if need_x:
                        gxt[u * b:(u + 1) * b].addmm_(wb[o, s].t(), go)
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
    would each cost a kernel launch) a batched matmul over gathered blocks."""
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


def _conv_gather(x, weight, neighbors, bias, stride, padding, dilation):
    out, d = neighbors.shape
    per_output = x.shape[0] * d * x.shape[2] * x.shape[3] * x.element_size()
    step = max(1, int(GATHER_CHUNK_BYTES // max(1, per_output)))
    if step >= out:
        xg = x.index_select(1, neighbors.reshape(-1))
        return F.conv2d(xg, weight, bias, stride, padding, dilation, groups=out)
    ys = []
    for s in range(0, out, step):
        nb = neighbors[s:s + step]
        b = None if bias is None else bias[s:s + step]
        ys.append(F.conv2d(x.index_select(1, nb.reshape(-1)), weight[s:s + step], b, stride, padding, dilation,
                           groups=nb.shape[0]))
    return torch.cat(ys, 1)


def _conv_block(x, weight, neighbors, bias, stride, padding, dilation, block_size):
    out, d = neighbors.shape
    b = block_size
    if b < 2 or out % b or d % b:
        raise ValueError(f"backend: 'block' needs a block graph (block_size > 1), got block_size={block_size}")
    nblocks_out = out // b
    if all(k == 1 for k in weight.shape[2:]):
        # 1x1: batched matmul over output blocks on gathered input blocks
        x = _pointwise_input(x, stride, padding)
        n, c, h, w = x.shape
        if _use_block_matmul(x):
            y = _block_matmul(x.reshape(n, c, h * w), weight.reshape(out, d), neighbors, b).view(n, out, h, w)
            return y if bias is None else y + bias.view(1, -1, 1, 1)
        in_blocks = neighbors[::b, ::b].reshape(-1) // b  # (O * D/b,)
        wb = weight.reshape(nblocks_out, b, d)
        if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
            # training: channel-first layout, one bmm of (b x D) @ (D x N*H*W) per output block;
            # its backward is two more large bmms (the batch-first form below is slow backwards)
            xc = x.transpose(0, 1).reshape(1, c // b, b * n * h * w)
            xg = _gather_blocks(xc, in_blocks).view(nblocks_out, d, n * h * w)
            y = torch.bmm(wb, xg).view(out, n, h, w).transpose(0, 1).contiguous()
        else:
            # inference: no layout change, a batched matmul over (sample, output block)
            xg = x.reshape(n, c // b, b * h * w).index_select(1, in_blocks).view(n, nblocks_out, d, h * w)
            y = torch.matmul(wb, xg).view(n, out, h, w)
        return y if bias is None else y + bias.view(1, -1, 1, 1)
    n, c, h, w = x.shape
    in_blocks = neighbors[::b, ::b] // b
    xg = _gather_blocks(x.reshape(n, c // b, b * h * w), in_blocks.reshape(-1)).reshape(n, nblocks_out * d, h, w)
    return F.conv2d(xg, weight, bias, stride, padding, dilation, groups=nblocks_out)


def _conv_sparse(x, weight, neighbors, bias, stride, padding):
    if not all(k == 1 for k in weight.shape[2:]):
        raise ValueError(f"backend: 'sparse' supports 1x1 kernels only, got kernel {tuple(weight.shape[2:])}")
    x = _pointwise_input(x, stride, padding)
    n, c, h, w = x.shape
    x2d = x.transpose(0, 1).reshape(c, n * h * w)
    y = _sparse_mm(weight.reshape(neighbors.shape), x2d, neighbors, c)
    y = y.view(neighbors.shape[0], n, h, w).transpose(0, 1)
    return y if bias is None else y + bias.view(1, -1, 1, 1)


def xconv2d(x, weight, neighbors, bias=None, stride=1, padding=0, dilation=1, *, backend="auto", block_size=1):
    """X-Conv forward: ``F.conv2d(x, dense_weight(weight, neighbors), ...)`` computed by ``backend``."""
    if backend == "auto":
        backend = choose_backend(x, weight, neighbors, block_size, stride)
    if backend == "masked":
        return F.conv2d(x, dense_weight(weight, neighbors, x.shape[1]), bias, stride, padding, dilation)
    if backend == "gather":
        return _conv_gather(x, weight, neighbors, bias, stride, padding, dilation)
    if backend == "block":
        return _conv_block(x, weight, neighbors, bias, stride, padding, dilation, block_size)
    if backend == "sparse":
        return _conv_sparse(x, weight, neighbors, bias, stride, padding)
    raise ValueError(f"backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")


# ----------------------------------------------------------------------------------------------
# linear

def xlinear(x, weight, neighbors, bias=None, *, backend="auto", block_size=1):
    """X-Linear forward: ``F.linear(x, dense_weight(weight, neighbors), bias)`` computed by ``backend``."""
    if backend == "auto":
        backend = choose_backend(x, weight, neighbors, block_size)
    num_inputs = x.shape[-1]
    if backend == "masked":
        return F.linear(x, dense_weight(weight, neighbors, num_inputs), bias)
    out, d = neighbors.shape
    lead = x.shape[:-1]
    x2 = x.reshape(-1, num_inputs)
    if backend == "gather":
        step = max(1, int(GATHER_CHUNK_BYTES // max(1, x2.shape[0] * d * x2.element_size())))
        ys = [(x2[:, neighbors[s:s + step]] * weight[s:s + step]).sum(-1) for s in range(0, out, step)]
        y = torch.cat(ys, -1)
    elif backend == "block":
        b = block_size
        if b < 2 or out % b or d % b:
            raise ValueError(f"backend: 'block' needs a block graph (block_size > 1), got block_size={block_size}")
        nblocks_out = out // b
        if _use_block_matmul(x2):
            y = _block_matmul(x2.unsqueeze(-1), weight, neighbors, b).view(x2.shape[0], out)
        else:
            in_blocks = neighbors[::b, ::b] // b
            xg = _gather_blocks(x2.reshape(x2.shape[0], num_inputs // b, b), in_blocks.reshape(-1))
            xg = xg.reshape(x2.shape[0], nblocks_out, d).transpose(0, 1)  # (O, B, D)
            y = torch.bmm(xg, weight.reshape(nblocks_out, b, d).transpose(1, 2))  # (O, B, b)
            y = y.transpose(0, 1).reshape(x2.shape[0], out)
    elif backend == "sparse":
        y = _sparse_mm(weight, x2.t(), neighbors, num_inputs).t()
    else:
        raise ValueError(f"backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, out)
