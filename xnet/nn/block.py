"""The ``block`` backend, for block graphs (``block_size`` b > 1): k x k kernels (and 1x1 /
linear off CPU) gather whole input blocks and run ONE grouped convolution with a group per output
block (:func:`xnet.nn.gather._gathered_conv`); 1x1 and linear on CPU run a block-sparse matmul
that multiplies every b x b weight block with its input block in place, nothing gathered:

- 1x1 convolutions on NCHW maps of >= ``BLOCK_MAPS_MIN_PIXELS`` pixels (:class:`_BlockConv1x1`):
  in NCHW every block of b channels of a sample is already a contiguous ``(b, H*W)`` matrix, so
  each b x b weight block is ONE batched matmul over all samples on views of the input (strided
  batches), accumulated in place: no transposed copy at all, and each call is one parallel loop
  over the samples (two CPU threads each take half of them);
- linear layers, small maps and channels_last inputs (:class:`_BlockSparseMatmul`): per chunk of
  samples the input is put channels-first (one transposed copy) and every weight block is one
  ``addmm`` between slices.
"""

from __future__ import annotations

import math

import torch
from torch.nn.modules.utils import _pair

from ._shared import _cached_on, _compute_dtype, _is_channels_last, _pointwise_input, check_block_graph
from .gather import _gathered_conv

# CPU limits of :class:`_BlockSparseMatmul` (linear layers, small maps, channels_last):
# multiply-accumulates per call and per b x b GEMM, below which the per-block Python loop and the
# transposed copies cost more than a dense layer.
BLOCK_MIN_MACS_CPU = 2**25
BLOCK_MIN_GEMM_MACS_CPU = 2**18


# 1x1 block convolutions on CPU run :class:`_BlockConv1x1` (batched matmuls over the samples, in
# NCHW) on maps of at least this many pixels; smaller maps (and linear layers, 1 "pixel") make
# its per-sample GEMMs too small and run :class:`_BlockSparseMatmul`.
BLOCK_MAPS_MIN_PIXELS = 32

# On two or more CPU threads :class:`_BlockConv1x1` beats a dense layer once each of its O*S
# batched matmuls has at least ``BLOCK_MAPS_MIN_POSITIONS_B16 * (16 / b)**4`` samples x pixels
# (4096 for b = 16, 256 for b = 32): a call's work grows with b^2 and a b x b GEMM's efficiency
# roughly with b^2 too; on one thread it beats it at every size measured (no parallel loop to
# split).  Measured (docs/bench/block_1x1_rule.py, docs/benchmarks.md "The auto rule for 1x1
# block layers"), two threads: b = 16 at 1568 positions 0.90-1.32x masked, at >= 4096 0.14-0.93x,
# b = 32 at 392 positions 0.73-0.99x; one thread (docs/bench/block_layers_resnet50.py): b = 16
# at 392 positions 0.88-0.98x.  More threads are unmeasured and get the two-thread bound.
BLOCK_MAPS_MIN_POSITIONS_B16 = 4096


def _runs_on_maps(pixels: int, nchw: bool) -> bool:
    """Whether a 1x1 block convolution runs :class:`_BlockConv1x1` (NCHW maps of enough pixels)."""
    return nchw and pixels >= BLOCK_MAPS_MIN_PIXELS


def _block_table(neighbors: torch.Tensor, b: int) -> list[list[int]]:
    """``table[o][s]``: the input block of output block ``o``'s s-th edge (cached)."""
    return _cached_on(neighbors, "_xnet_block_table", b, lambda: (neighbors[::b, ::b] // b).tolist())


def _block_edges_into(neighbors: torch.Tensor, b: int, num_inputs: int) -> list[list[tuple[int, int]]]:
    """``edges[u]``: the ``(o, s)`` block edges that read input block ``u`` (cached; [] if none)."""

    def compute():
        edges = [[] for _ in range(num_inputs // b)]
        for o, row in enumerate(_block_table(neighbors, b)):
            for s, u in enumerate(row):
                edges[u].append((o, s))
        return edges

    return _cached_on(neighbors, "_xnet_block_edges_into", (b, num_inputs), compute)


def _accumulate(out, terms):
    """``out = sum_i w_i @ x_i`` for ``terms = [(w_i (N, b, b), x_i (N, b, L))]``, views of strided
    batches (``w_i`` an expanded weight block): the first term one batched matmul, the others
    accumulated in place into it, then one copy into ``out`` (a view of the result)."""
    (w0, x0), rest = terms[0], terms[1:]
    if not rest:
        return torch.bmm(w0, x0, out=out)  # not matmul: it would copy the strided x0 first
    acc = torch.bmm(w0, x0)
    for w, xs in rest:
        acc.baddbmm_(w, xs)
    return out.copy_(acc)


def _blocks(t, b):
    """The ``(N, b, L)`` views of the blocks of ``b`` channels of ``t`` ``(N, C, L)`` (one op)."""
    n, c, length = t.shape
    return t.view(n, c // b, b, length).unbind(1)


def _weight_blocks(wb, n):
    """``w[o][s]``: weight block ``(o, s)`` of ``wb`` ``(O, S, b, b)`` expanded over ``n`` samples."""
    return [row.unbind(1) for row in wb.unsqueeze(0).expand(n, *wb.shape).unbind(1)]


class _BlockConv1x1(torch.autograd.Function):
    """``y[:, o-block] = sum_s W[o, s] @ x[:, table[o][s]-block]`` on NCHW maps ``x`` ``(N, in, L)``.

    Every term is a batched matmul over the N samples on views (a sample's block of b channels is
    a contiguous ``(b, L)`` matrix; the weight block is expanded over the samples, not copied);
    the backward is the same: ``W^T dy`` summed into each input block over its edges
    (``edges_into``), ``sum_n dy_n x_n^T`` per weight block.  Only the input is saved; ``wb`` is
    the ``(O, S, b, b)`` view of the layer's weight.
    """

    @staticmethod
    def forward(ctx, x, wb, table, edges_into, b):
        n, _, length = x.shape
        y = x.new_empty(n, len(table) * b, length)
        xs, ys, w = _blocks(x, b), _blocks(y, b), _weight_blocks(wb, n)
        for o, row in enumerate(table):
            _accumulate(ys[o], [(w[o][s], xs[u]) for s, u in enumerate(row)])
        ctx.save_for_backward(x, wb)
        ctx.edges_into, ctx.b = edges_into, b
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, wb = ctx.saved_tensors
        edges_into, b = ctx.edges_into, ctx.b
        n = x.shape[0]
        gys = _blocks(grad_y.contiguous(), b)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = x.new_empty(x.shape)
            wt = _weight_blocks(wb.transpose(2, 3), n)
            for u, gx in enumerate(_blocks(grad_x, b)):
                if edges_into[u]:
                    _accumulate(gx, [(wt[o][s], gys[o]) for o, s in edges_into[u]])
                else:
                    gx.zero_()
        if ctx.needs_input_grad[1]:
            grad_w = wb.new_empty(wb.shape)
            gw = [row.unbind(0) for row in grad_w.unbind(0)]
            for u, xu in enumerate(_blocks(x, b)):
                xt = xu.transpose(1, 2)  # (N, L, b), a view: bmm reads it transposed
                for o, s in edges_into[u]:
                    torch.sum(torch.bmm(gys[o], xt), 0, out=gw[o][s])
        return grad_x, grad_w, None, None, None


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


def block_pays_on_cpu(x, out: int, d: int, b: int, stride=1, conv: bool = True) -> bool:
    """Whether the CPU block-sparse matmul of a 1x1 convolution (``conv``) or linear layer beats
    a dense one for input ``x``: for NCHW maps of >= ``BLOCK_MAPS_MIN_PIXELS`` output pixels
    (:class:`_BlockConv1x1`) always on one thread, else by the samples x pixels of each batched
    matmul; otherwise (:class:`_BlockSparseMatmul`) by the work per call and per chunk GEMM."""
    num_inputs = x.shape[1] if conv else x.shape[-1]
    if conv and x.dim() == 4:
        sh, sw = _pair(stride)
        pixels = -(-x.shape[2] // sh) * -(-x.shape[3] // sw)
        if _runs_on_maps(pixels, nchw=not _is_channels_last(x)):
            if torch.get_num_threads() == 1:
                return True
            return x.shape[0] * pixels * b**4 >= BLOCK_MAPS_MIN_POSITIONS_B16 * 16**4
    positions = x.numel() // num_inputs  # samples x pixels
    samples = x.shape[0] if conv else positions
    chunk = positions / _chunk_count(samples, x.numel() * x.element_size())  # GEMM width
    return positions * out * d >= BLOCK_MIN_MACS_CPU and chunk * b**2 >= BLOCK_MIN_GEMM_MACS_CPU


def _use_block_matmul(x) -> bool:
    """1x1 / linear block layers: the block-sparse matmul on CPU; on CUDA (where many small GEMMs
    would each cost a kernel launch) a grouped 1x1 convolution over gathered blocks."""
    return x.device.type == "cpu"


def _block_matmul(x3, weight2d, neighbors, b, maps=False):
    """Block-sparse ``(N, in, L) -> (N, out, L)`` with the ``(out, D)`` weight of a block graph;
    ``maps``: ``x3`` holds the maps of a 1x1 convolution (batched matmuls over the samples if
    they are NCHW, i.e. ``x3`` is contiguous, of ``BLOCK_MAPS_MIN_PIXELS`` pixels or more)."""
    out, d = neighbors.shape
    dt = _compute_dtype(x3, weight2d)
    wb = weight2d.to(dt).reshape(out // b, b, d // b, b).transpose(1, 2)  # (O, S, b, b) view
    table = _block_table(neighbors, b)
    if maps and _runs_on_maps(x3.shape[2], nchw=x3.is_contiguous()):  # contiguous: NCHW, not channels_last
        x3 = x3.to(dt)
        return _BlockConv1x1.apply(x3, wb, table, _block_edges_into(neighbors, b, x3.shape[1]), b)
    return _BlockSparseMatmul.apply(x3.to(dt), wb, table, b)


def _conv_block(x, weight, neighbors, bias, stride, padding, dilation, block_size):
    out, d = neighbors.shape
    b = block_size
    check_block_graph(out, d, b)
    nblocks_out = out // b
    if all(k == 1 for k in weight.shape[2:]) and _use_block_matmul(x):
        # 1x1 on CPU: the block-sparse matmul, nothing gathered
        x = _pointwise_input(x, stride, padding)
        n, c, h, w = x.shape
        y = _block_matmul(x.reshape(n, c, h * w), weight.reshape(out, d), neighbors, b, maps=True).view(n, out, h, w)
        return y if bias is None else y + bias.view(1, -1, 1, 1)
    # one grouped convolution (a group per output block) on gathered input blocks, saving only x
    in_blocks = neighbors[::b, ::b].reshape(-1) // b  # (O * D/b,)
    return _gathered_conv(x, weight, bias, in_blocks, b, nblocks_out, stride, padding, dilation)


def _linear_block(x2, weight, neighbors, b):
    """``(M, in) -> (M, out)`` of a block-graph linear layer: the block-sparse matmul on CPU, else
    the gathered grouped 1x1 convolution (which saves only x)."""
    out, d = neighbors.shape
    check_block_graph(out, d, b)
    if _use_block_matmul(x2):
        return _block_matmul(x2.unsqueeze(-1), weight, neighbors, b).view(x2.shape[0], out)
    y = _conv_block(x2[:, :, None, None], weight[:, :, None, None], neighbors, None, 1, 0, 1, b)
    return y.view(x2.shape[0], out)
