"""Compute backends of X-layers.  Every backend gives the outputs and gradients of the dense
reference (``F.conv2d`` / ``F.linear`` with ``dense_weight``); they differ only in speed and memory.
All are built from differentiable torch ops (index_select, conv2d, matmul, sparse CSR matmul with
an explicit backward), so gradients are exact and the code runs on CPU and CUDA alike.

- ``masked``: scatter the compressed kernel into a dense one and run ``F.conv2d`` (the reference;
  dense cost, but always as fast as ``nn.Conv2d``).
- ``gather``: the paper's Algorithm 1: gather each output's D input channels and convolve them with
  its compressed kernel (a grouped convolution with one group per output).  The gathered tensor
  has ``out * D`` channels, so it runs in chunks of outputs to bound memory.  Exact FLOPs, but
  one-channel groups run far below peak on CPU.
- ``block``: for block graphs (``block_size`` b > 1): gather whole input blocks and run ONE grouped
  convolution with one group per output block (k x k), or a batched matmul over the blocks (1x1
  and linear).  Cost ~1/C of dense plus a cheap gather.
- ``sparse``: 1x1 convolutions and linear layers as a CSR sparse x dense matmul (any graph).
"""
from __future__ import annotations

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


def choose_backend(x: torch.Tensor, weight: torch.Tensor, neighbors: torch.Tensor, block_size: int = 1) -> str:
    """Pick the fastest exact backend for this shape and device.

    The rule follows ``python -m xnet.bench layers`` on a 2-core CPU (see README.md, "Benchmark"):

    - block graphs (blocks of >= 8 channels) use ``block``: one grouped conv / batched matmul at
      ~1/C of the dense FLOPs, for k x k kernels at C >= 2 and for 1x1 / linear at C >= 4 (at
      C = 2 the gathered input, 2x the input, costs more than the matmul saves);
    - channel-level graphs of 1x1 convolutions / linear layers at compression >= 16 use ``sparse``
      on CPU (CSR matmul, about half the dense time there; at C = 8 it only breaks even);
    - everything else uses ``masked``, i.e. dense speed: per-channel gathers (Algorithm 1) run far
      below peak on CPU (6-60x the dense time), so they pay off neither in time nor in memory.
      On CUDA the same rule applies (untested: no GPU was available when it was written).
    """
    out, d = neighbors.shape
    num_inputs = x.shape[1] if weight.dim() > 2 else x.shape[-1]
    compression = num_inputs / d
    is_pointwise = weight.dim() == 2 or all(k == 1 for k in weight.shape[2:])
    if (block_size >= 8 and compression >= (4 if is_pointwise else 2) and out % block_size == 0
            and d % block_size == 0):
        return "block"
    if (is_pointwise and x.device.type == "cpu" and compression >= 16 and block_size == 1
            and x.dtype in (torch.float32, torch.float64)):
        return "sparse"
    return "masked"


# ----------------------------------------------------------------------------------------------
# sparse: CSR x dense with an explicit backward (grad of the values = sampled dense product).

def _csr_transpose(neighbors: torch.Tensor, num_inputs: int):
    """CSR row pointers / columns of the transposed pattern, and the edge order, cached on the table.

    The (out, D) table of a layer is a long-lived buffer, so the argsort is done once per table
    (and recomputed if the table is modified in place).
    """
    key = (neighbors._version, num_inputs)
    cached = getattr(neighbors, "_xnet_csr_t", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    out, d = neighbors.shape
    dev = neighbors.device
    col = neighbors.reshape(-1)
    rows = torch.arange(out, device=dev).repeat_interleave(d)
    order = torch.argsort(col * out + rows, stable=True)  # edges sorted by input
    counts = torch.bincount(col, minlength=num_inputs)
    t_crow = torch.zeros(num_inputs + 1, dtype=torch.long, device=dev)
    t_crow[1:] = counts.cumsum(0)
    parts = (t_crow, rows[order], order)
    try:
        neighbors._xnet_csr_t = (key, parts)
    except (AttributeError, RuntimeError):  # pragma: no cover - tensor subclasses without a __dict__
        pass
    return parts


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


def _sparse_mm(values, x2d, neighbors, num_inputs):
    return _CSRMatmul.apply(values, x2d.contiguous(), neighbors, num_inputs)


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
    y = y.view(-1, n, h, w).transpose(0, 1)
    return y if bias is None else y + bias.view(1, -1, 1, 1)


def xconv2d(x, weight, neighbors, bias=None, stride=1, padding=0, dilation=1, *, backend="auto", block_size=1):
    """X-Conv forward: ``F.conv2d(x, dense_weight(weight, neighbors), ...)`` computed by ``backend``."""
    if backend == "auto":
        backend = choose_backend(x, weight, neighbors, block_size)
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
