"""The ``triton`` backend's kernels on CPU, through Triton's interpreter, against the dense reference.

Triton decides when a kernel is defined whether it is interpreted (``TRITON_INTERPRET=1``), so the
kernel checks run in ONE subprocess with that variable set (this pytest process and the other test
modules are unaffected): it runs every case below, forward and backward, and prints the errors as
JSON; the tests assert on them.  Shapes are tiny (the interpreter runs every program in Python);
fp32 and fp16 only (the interpreter's bf16 ``tl.dot`` is unreliable).  The kernels are also
compiled ahead of time for an H100 (no GPU needed).  The last section checks the fixes of the
issue's traps in the GPU paths of the ``block`` and ``gather`` backends, on CPU.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("triton") is None, reason="triton is not installed (it ships with torch's CUDA wheels)"
)

# name: (in, out, degree, block, kernel, stride, padding, dilation, dtype, channels_last, bias, balanced)
CONV_CASES = {
    "3x3 b4 odd blocks fp32": (12, 20, 8, 4, 3, 1, 1, 1, "float32", False, True, False),
    "3x3 b16 stride2 channels_last fp32": (48, 48, 32, 16, 3, 2, 1, 1, "float32", True, True, False),
    "3x3 b16 stride2 fp16 balanced": (48, 48, 32, 16, 3, 2, 1, 1, "float16", False, False, True),
    "1x1 b8 stride2 channels_last fp16": (24, 40, 8, 8, 1, 2, 0, 1, "float16", True, True, False),
    "3x3 b16 dilation2 nopad fp32 balanced": (48, 16, 16, 16, 3, 1, 0, 2, "float32", False, False, True),
}
TOL = {"float32": 1e-5, "float16": 3e-3}


def _rel(a, ref):
    return float((a.detach().double() - ref.detach()).abs().max() / (ref.detach().abs().max() + 1e-12))


def _conv_case(case):
    import torch.nn.functional as F

    from xnet.graphs import block_expander
    from xnet.nn import XConv2d

    cin, cout, d, b, k, stride, pad, dil, dtype, cl, bias, balanced = case
    dt = getattr(torch, dtype)
    g = block_expander(cin, cout, d, b, seed=3, balanced=balanced)
    m = XConv2d(cin, cout, k, stride, pad, dil, bias=bias, graph=g, backend="triton").to(dt)
    x = torch.randn(2, cin, 7, 6).to(dt)
    if cl:
        x = x.to(memory_format=torch.channels_last)
    x.requires_grad_(True)
    y = m(x)
    gy = torch.randn(y.shape).to(dt)
    y.backward(gy)
    xr = x.detach().double().requires_grad_(True)
    wr = m.weight.detach().double().requires_grad_(True)
    br = m.bias.detach().double().requires_grad_(True) if bias else None
    yr = F.conv2d(xr, _dense(wr, m), br, stride, pad, dil)
    yr.backward(gy.double())
    errs = {"y": _rel(y, yr), "gx": _rel(x.grad, xr.grad), "gw": _rel(m.weight.grad, wr.grad)}
    if bias:
        errs["gb"] = _rel(m.bias.grad, br.grad)
    errs["dtype_ok"] = y.dtype == dt and x.grad.dtype == dt
    fmt = torch.channels_last if cl else torch.contiguous_format
    errs["layout_ok"] = y.is_contiguous(memory_format=fmt) and x.grad.is_contiguous(memory_format=fmt)
    return errs


def _dense(w, m):
    from xnet.nn.functional import dense_weight

    return dense_weight(w, m.neighbors, m.in_channels)


def _linear_case():
    import torch.nn.functional as F

    from xnet.nn import XLinear

    m = XLinear(40, 24, degree=16, block_size=8, seed=1, backend="triton")
    x = torch.randn(3, 2, 40, requires_grad=True)
    y = m(x)
    gy = torch.randn(y.shape)
    y.backward(gy)
    xr = x.detach().double().requires_grad_(True)
    wr = m.weight.detach().double().requires_grad_(True)
    br = m.bias.detach().double().requires_grad_(True)
    from xnet.nn.functional import dense_weight

    yr = F.linear(xr, dense_weight(wr, m.neighbors, 40), br)
    yr.backward(gy.double())
    return {
        "y": _rel(y, yr),
        "gx": _rel(x.grad, xr.grad),
        "gw": _rel(m.weight.grad, wr.grad),
        "gb": _rel(m.bias.grad, br.grad),
        "shape_ok": tuple(y.shape) == (3, 2, 24),
    }


def _autocast_case():
    """fp32 parameters under fp16 autocast: fp16 output, fp32 gradients, as nn.Conv2d gives."""
    from xnet.nn import XConv2d

    m = XConv2d(32, 32, 3, padding=1, degree=16, block_size=16, seed=2, backend="triton")
    ref = XConv2d(32, 32, 3, padding=1, degree=16, block_size=16, seed=2, backend="masked")
    ref.load_state_dict(m.state_dict())
    x = torch.randn(2, 32, 5, 5)
    out = {}
    for name, mod in (("triton", m), ("masked", ref)):
        with torch.autocast("cpu", dtype=torch.float16):
            y = mod(x)
        y.float().sum().backward()
        out[name] = (y, mod.weight.grad)
    (y, gw), (yr, gwr) = out["triton"], out["masked"]
    return {
        "y": _rel(y.float(), yr.double()),
        "gw": _rel(gw, gwr.double()),
        "dtype_ok": y.dtype == torch.float16 and gw.dtype == torch.float32,
    }


def _opcheck_case():
    """torch.library.opcheck: schema, fake (meta) kernel, autograd registration, AOT dispatch."""
    from xnet.graphs import block_expander
    from xnet.nn import triton_block as T

    g = block_expander(32, 16, 16, 8, seed=0)
    x = torch.randn(2, 32, 4, 4, requires_grad=True)
    w = torch.randn(16, 16, 3, 3, requires_grad=True)
    bias = torch.randn(16, requires_grad=True)
    torch.library.opcheck(T.block_conv2d_op, (x, w, g.neighbors, bias, [2, 2], [1, 1], [1, 1], 8))
    return {"ok": True}


def _compile_case():
    """torch.compile (aot_eager: no C++ compiler needed) traces the custom op in one graph."""
    from xnet.nn import XConv2d

    m = XConv2d(32, 32, 1, degree=16, block_size=16, seed=4, backend="triton")
    x = torch.randn(2, 32, 3, 3)
    y = m(x)
    y.sum().backward()
    gw = m.weight.grad.clone()
    m.weight.grad = None
    fm = torch.compile(m, backend="aot_eager", fullgraph=True)
    yc = fm(x)
    yc.sum().backward()
    return {"y": _rel(yc, y.double()), "gw": _rel(m.weight.grad, gw.double())}


def _tables_case():
    """Balanced block expanders need no padding in the transposed table (every input block has the
    same number of edges, so every input-gradient program the same work); random ones may."""
    from xnet.graphs import block_expander
    from xnet.nn import triton_block as T

    out = {}
    for balanced in (False, True):
        g = block_expander(256, 256, 64, 16, seed=0, balanced=balanced)
        table, table_t, counts = T.block_tables(g.neighbors, 16, 256)
        # every edge appears exactly once in the transposed table, the first counts[u] of row u
        edges = sorted(int(e) for e in table_t.flatten() if e >= 0)
        out["balanced" if balanced else "random"] = {
            "padding": int((table_t < 0).sum()),
            "edges_ok": edges == list(range(table.numel())),
            "counts_ok": all(
                int((row >= 0).sum()) == c and bool((row[:c] >= 0).all()) for row, c in zip(table_t, counts.tolist())
            ),
            "blocks_ok": all(
                int(table.flatten()[e]) == u for u, row in enumerate(table_t.tolist()) for e in row if e >= 0
            ),
        }
    return out


def worker() -> dict:
    torch.manual_seed(0)
    results = {name: _conv_case(case) for name, case in CONV_CASES.items()}
    results["linear"] = _linear_case()
    results["autocast fp16"] = _autocast_case()
    results["tables"] = _tables_case()
    results["opcheck"] = _opcheck_case()
    results["compile"] = _compile_case()
    return results


@pytest.fixture(scope="module")
def interpreted():
    env = dict(os.environ, TRITON_INTERPRET="1", OMP_NUM_THREADS="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv_matches_dense(interpreted, name):
    r = interpreted[name]
    tol = TOL[CONV_CASES[name][8]]
    assert r["dtype_ok"] and r["layout_ok"], r
    for key in ("y", "gx", "gw", "gb"):
        if key in r:
            assert r[key] < tol, (key, r)


def test_linear_matches_dense(interpreted):
    r = interpreted["linear"]
    assert r["shape_ok"]
    assert max(r["y"], r["gx"], r["gw"], r["gb"]) < TOL["float32"], r


def test_autocast_casts_like_conv2d(interpreted):
    r = interpreted["autocast fp16"]
    assert r["dtype_ok"], r
    assert r["y"] < TOL["float16"] and r["gw"] < TOL["float16"], r


def test_custom_op_passes_opcheck_and_compiles(interpreted):
    assert interpreted["opcheck"]["ok"]
    r = interpreted["compile"]
    assert r["y"] < TOL["float32"] and r["gw"] < TOL["float32"], r


def test_transposed_table_of_balanced_graphs_needs_no_padding(interpreted):
    t = interpreted["tables"]
    assert t["balanced"]["padding"] == 0
    assert t["random"]["padding"] > 0  # the random block graph of seed 0 is not balanced
    assert all(t[k]["edges_ok"] and t[k]["blocks_ok"] and t[k]["counts_ok"] for k in t)


def test_cpu_without_interpreter_is_a_clear_error():
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        pytest.skip("this process runs Triton's interpreter (TRITON_INTERPRET is set)")
    from xnet.nn import XConv2d

    m = XConv2d(32, 32, 1, degree=16, block_size=16, seed=0, backend="triton")
    with pytest.raises(ValueError, match="'triton' runs on CUDA.*TRITON_INTERPRET=1"):
        m(torch.randn(1, 32, 2, 2))


def test_non_block_and_input_regular_graphs_are_refused():
    from xnet.graphs import random_expander
    from xnet.nn import XConv2d
    from xnet.nn.functional import xlinear

    with pytest.raises(ValueError, match="needs a block graph"):
        XConv2d(16, 16, 1, degree=4, seed=0, backend="triton")(torch.randn(1, 16, 2, 2))
    g = random_expander(16, 32, 8, seed=0, regular="input")
    with pytest.raises(ValueError, match="output-regular block graphs only"):
        xlinear(
            torch.randn(2, 16),
            torch.randn(16, 8),
            g.neighbors,
            backend="triton",
            block_size=8,
            side="input",
            num_outputs=32,
        )


if __name__ == "__main__":  # the subprocess of the `interpreted` fixture
    print(json.dumps(worker()))


def _compile_for_h100(kernel, pointers, constexprs):
    """Compile ``kernel`` ahead of time for sm_90 (no GPU needed): catches what the interpreter
    does not check (tl.dot shapes and dtypes, layouts, register allocation)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    sig = {name: pointers.get(name, "i32") for name in kernel.arg_names}
    sig.update({name: "constexpr" for name in constexprs})
    return triton.compile(ASTSource(fn=kernel, signature=sig, constexprs=constexprs), target=GPUTarget("cuda", 90, 32))


@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
def test_kernels_compile_for_h100(dtype):
    pytest.importorskip("triton.backends.nvidia", reason="this triton build has no NVIDIA backend")
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        pytest.skip("this process runs Triton's interpreter (TRITON_INTERPRET is set)")
    from xnet.nn import triton_kernels as K

    t = "*" + dtype
    tile = dict(B=16, KH=3, KW=3, IEEE=False, BLOCK_M=64, BLOCK_N=16)  # fp32: TF32, as cuDNN by default
    kernels = [
        (K.fwd_kernel, dict(x=t, w=t, tbl="*i32", bias=t, y=t), dict(tile, HAS_BIAS=True, CONTIG_K=True, BLOCK_K=16)),
        (K.dgrad_kernel, dict(gy=t, w=t, tbl_t="*i32", cnt="*i32", gx=t), dict(tile, BLOCK_K=16)),
        (
            K.wgrad_kernel,
            dict(gy=t, x=t, tbl="*i32", part="*fp32"),
            dict(tile, BLOCK_M=16, BLOCK_K=64 if dtype == "bf16" else 32),
        ),
    ]
    for kernel, pointers, constexprs in kernels:
        compiled = _compile_for_h100(kernel, pointers, constexprs)
        assert "mma" in compiled.asm["ptx"]  # the GEMM runs on tensor cores


# ----------------------------------------------------------------------------------------------
# The traps of issue 12 in the GPU paths of the other backends, exercised on CPU (as
# tests/test_layers.py does): the 1x1 / linear block layers take their CUDA path when
# `_use_block_matmul` says no.


def _saved_during(layer, x):
    """``[(numel, dtype)]`` of the tensors autograd saves in the layer's forward."""
    saved = []

    def pack(t):
        saved.append((t.numel(), t.dtype))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = layer(x)
    return y, saved


@pytest.mark.parametrize("backend,k,cuda_path", [("block", 3, False), ("block", 1, True), ("gather", 3, False)])
def test_gathered_copy_is_not_saved_for_backward(monkeypatch, backend, k, cuda_path):
    import xnet.nn.block as XB
    from xnet.nn import XConv2d

    if cuda_path:
        monkeypatch.setattr(XB, "_use_block_matmul", lambda x: False)
    layer = XConv2d(
        64, 64, k, padding=k // 2, degree=32, block_size=8 if backend == "block" else None, seed=0, backend=backend
    )
    x = torch.randn(2, 64, 6, 6, requires_grad=True)
    y, saved = _saved_during(layer, x)
    # the input (and the weight), not a copy D/b = 4 (block) or D = 32 (gather) times larger
    assert sum(n for n, _ in saved) <= x.numel() + layer.weight.numel() + layer.neighbors.numel()
    y.sum().backward()
    x0 = x.detach().requires_grad_(True)
    torch.nn.functional.conv2d(x0, layer.dense_weight(), layer.bias, padding=k // 2).sum().backward()
    torch.testing.assert_close(x.grad, x0.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["block", "gather"])
def test_autocast_casts_before_gathering(monkeypatch, backend):
    import xnet.nn.block as XB
    from xnet.nn import XConv2d

    monkeypatch.setattr(XB, "_use_block_matmul", lambda x: False)
    layer = XConv2d(32, 32, 1, degree=16, block_size=8 if backend == "block" else None, seed=0, backend=backend)
    x = torch.randn(2, 32, 4, 4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, saved = _saved_during(layer, x)
    assert y.dtype == torch.bfloat16
    # what the gather read (the saved input) is already bf16: cast once, then gather the smaller tensor
    assert [dt for _, dt in saved if _ == x.numel()] == [torch.bfloat16]


@pytest.mark.parametrize("backend,k", [("block", 1), ("block", 3), ("gather", 3)])
def test_channels_last_stays_channels_last(monkeypatch, backend, k):
    import xnet.nn.block as XB
    from xnet.nn import XConv2d

    monkeypatch.setattr(XB, "_use_block_matmul", lambda x: False)
    layer = XConv2d(
        32,
        48,
        k,
        stride=2,
        padding=k // 2,
        degree=16,
        block_size=8 if backend == "block" else None,
        seed=0,
        backend=backend,
    ).to(memory_format=torch.channels_last)
    x = torch.randn(2, 32, 7, 7).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    y = layer(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    gy = torch.randn_like(y)
    y.backward(gy)
    assert x.grad.is_contiguous(memory_format=torch.channels_last)
    x0 = x.detach().contiguous().requires_grad_(True)
    y0 = torch.nn.functional.conv2d(x0, layer.dense_weight(), layer.bias, stride=2, padding=k // 2)
    y0.backward(gy)
    torch.testing.assert_close(y, y0, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x.grad, x0.grad, rtol=1e-5, atol=1e-5)


def test_auto_takes_no_block_path_at_stride_2_off_cpu():
    from xnet.graphs import block_expander
    from xnet.nn.functional import choose_backend

    g = block_expander(64, 64, 16, 16, seed=0)
    w = torch.empty(64, 16, 3, 3)
    x = torch.empty(8, 64, 28, 28, device="meta")  # not a CPU tensor: the CUDA rule
    assert choose_backend(x, w, g.neighbors, 16, stride=1) == "block"
    assert choose_backend(x, w, g.neighbors, 16, stride=2) == "masked"
