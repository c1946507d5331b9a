"""The ``sparse`` backend: 1x1 convolutions and linear layers as a CSR sparse x dense matmul with
an explicit backward (the gradient of the values is a sampled dense product); any graph, either
side."""

from __future__ import annotations

import warnings

import torch

from ._shared import _cached_on, _compute_dtype, _pointwise_input


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


def _sparse_mm(values, x2d, neighbors, num_cols, transpose=False):
    dt = _compute_dtype(x2d, values, (torch.float32, torch.float64) if x2d.device.type == "cpu" else None)
    return _CSRMatmul.apply(values.to(dt), x2d.to(dt).contiguous(), neighbors, num_cols, transpose)


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
