"""xnet.nn: X-Conv / X-Linear against the dense reference, every backend, forward and backward."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import xnet.nn.functional as XF
from xnet.graphs import block_graph, grouped_graph, random_expander
from xnet.nn import XConv2d, XLinear, conv, linear

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])  # CUDA cases skip without a GPU


def _assert_close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * max(1.0, float(b.detach().abs().max())))


def _conv_case(layer, x):
    """Outputs and (input, weight, bias) gradients of the layer vs F.conv2d with dense_weight()."""
    x = x.clone().requires_grad_(True)
    y = layer(x)
    gy = torch.randn_like(y)
    gx, gw, gb = torch.autograd.grad(y, (x, layer.weight, layer.bias), gy)
    x0 = x.detach().clone().requires_grad_(True)
    y0 = F.conv2d(x0, layer.dense_weight(), layer.bias, layer.stride, layer.padding, layer.dilation)
    gx0, gw0, gb0 = torch.autograd.grad(y0, (x0, layer.weight, layer.bias), gy)
    _assert_close(y, y0)
    _assert_close(gx, gx0)
    _assert_close(gw, gw0)  # grad through dense_weight() = the dense grad restricted to the edges
    _assert_close(gb, gb0)


CONV_SHAPES = [
    # in, out, k, stride, padding, dilation, degree, block
    (12, 10, 3, 1, 1, 1, 5, None),
    (13, 7, 3, 2, 0, 1, 4, None),      # odd channel counts, stride
    (9, 11, 5, 1, 2, 2, 3, None),      # dilation
    (16, 16, 1, 1, 0, 1, 4, None),
    (15, 9, 1, 2, 1, 1, 5, None),      # 1x1 with padding and stride
    (24, 16, 3, 1, 1, 1, 12, 4),       # block graph
    (16, 24, 1, 2, 0, 1, 8, 8),        # block graph, 1x1
    (32, 16, 1, 1, 0, 1, 24, 8),       # block graph, 1x1, three input blocks per output block
    (16, 8, (1, 3), (2, 1), (0, 1), 1, 8, 2),  # non-square kernel
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("backend", ["masked", "gather", "block", "sparse", "auto"])
@pytest.mark.parametrize("shape", CONV_SHAPES)
def test_conv_backends_match_dense(backend, shape, device):
    cin, cout, k, stride, padding, dilation, d, b = shape
    pointwise = k == 1
    if backend == "block" and b is None:
        with pytest.raises(ValueError, match="^backend:"):
            XConv2d(cin, cout, k, stride, padding, dilation, degree=d, seed=0, backend=backend)(
                torch.randn(1, cin, 8, 8))
        return
    if backend == "sparse" and not pointwise:
        with pytest.raises(ValueError, match="^backend:"):
            XConv2d(cin, cout, k, stride, padding, dilation, degree=d, seed=0, backend=backend)(
                torch.randn(1, cin, 8, 8))
        return
    torch.manual_seed(0)
    layer = XConv2d(cin, cout, k, stride, padding, dilation, degree=d, seed=1, block_size=b,
                    backend=backend).to(device)
    _conv_case(layer, torch.randn(3, cin, 11, 10, device=device))


def test_gather_backend_in_chunks(monkeypatch):
    monkeypatch.setattr(XF, "GATHER_CHUNK_BYTES", 4 * 1000)  # force many small chunks
    torch.manual_seed(0)
    layer = XConv2d(10, 9, 3, padding=1, degree=4, seed=0, backend="gather")
    _conv_case(layer, torch.randn(2, 10, 7, 7))
    lin = XLinear(10, 9, degree=4, seed=0, backend="gather")
    _linear_case(lin, torch.randn(30, 10))


def _linear_case(layer, x):
    x = x.clone().requires_grad_(True)
    y = layer(x)
    gy = torch.randn_like(y)
    grads = torch.autograd.grad(y, (x, layer.weight, layer.bias), gy)
    x0 = x.detach().clone().requires_grad_(True)
    y0 = F.linear(x0, layer.dense_weight(), layer.bias)
    grads0 = torch.autograd.grad(y0, (x0, layer.weight, layer.bias), gy)
    _assert_close(y, y0)
    for a, b in zip(grads, grads0):
        _assert_close(a, b)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("backend", ["masked", "gather", "block", "sparse", "auto"])
@pytest.mark.parametrize("cin, cout, d, b, lead", [(17, 9, 6, None, (5,)), (32, 24, 16, 8, (2, 3)),
                                                   (64, 16, 4, None, (7,))])
def test_linear_backends_match_dense(backend, cin, cout, d, b, lead, device):
    if backend == "block" and b is None:
        with pytest.raises(ValueError, match="^backend:"):
            XLinear(cin, cout, degree=d, seed=0, backend=backend)(torch.randn(2, cin))
        return
    torch.manual_seed(0)
    layer = XLinear(cin, cout, degree=d, seed=2, block_size=b, backend=backend).to(device)
    _linear_case(layer, torch.randn(*lead, cin, device=device))


@settings(max_examples=25, deadline=None)
@given(cin=st.integers(1, 24), cout=st.integers(1, 24), data=st.data())
def test_layer_degree_invariants(cin, cout, data):
    d = data.draw(st.integers(1, cin))
    seed = data.draw(st.integers(0, 1000))
    layer = XConv2d(cin, cout, 3, degree=d, seed=seed)
    assert layer.weight.shape == (cout, d, 3, 3)  # parameters hold only the edges
    dense = layer.dense_weight()
    assert dense.shape == (cout, cin, 3, 3)
    nonzero = dense.abs().sum((2, 3)) != 0
    assert torch.equal(nonzero, layer.graph.to_dense())  # zero off the graph, nonzero on it
    assert (layer.graph.to_dense().sum(1) == d).all()
    assert layer.degree == d and layer.compression == (cin // d if cin % d == 0 else cin / d)
    assert sum(p.numel() for p in layer.parameters()) == cout * d * 9 + cout


def test_compression_gives_degree_and_one_over_c_parameters():
    layer = XConv2d(64, 32, 3, compression=4, bias=False)
    dense = nn.Conv2d(64, 32, 3, bias=False)
    assert layer.degree == 16 and layer.compression == 4
    assert layer.weight.numel() * 4 == dense.weight.numel()
    lin = XLinear(100, 10, compression=5)
    assert lin.degree == 20 and lin.weight.shape == (10, 20)


def test_seeding_and_state_dict_round_trip():
    a = XConv2d(32, 16, 3, padding=1, compression=4, seed=7)
    assert a.graph == XConv2d(32, 16, 3, padding=1, compression=4, seed=7).graph
    b = XConv2d(32, 16, 3, padding=1, compression=4, seed=8)
    assert a.graph != b.graph
    assert "neighbors" in a.state_dict()
    b.load_state_dict(a.state_dict())
    assert b.graph == a.graph
    x = torch.randn(2, 32, 6, 6)
    assert torch.equal(a(x), b(x))
    # a checkpoint with another degree / block structure restores that network too
    c = XConv2d(32, 16, 3, padding=1, degree=16, seed=1, block_size=8)
    a.load_state_dict(c.state_dict())
    assert a.degree == 16 and a.block_size == 8 and torch.equal(a(x), c(x))
    assert XF.choose_backend(x, a.weight, a.neighbors, a._fast_block) in XF.BACKENDS


def test_seed_none_follows_global_rng():
    torch.manual_seed(0)
    a = XConv2d(32, 32, 1, compression=4)
    torch.manual_seed(0)
    b = XConv2d(32, 32, 1, compression=4)
    assert a.graph == b.graph and torch.equal(a.weight, b.weight)
    c = XConv2d(32, 32, 1, compression=4)
    assert c.graph != a.graph  # two layers of a model get different graphs


def test_graph_argument_and_grouped_graph_equals_gconv():
    g = grouped_graph(16, 8, 4)
    layer = XConv2d(16, 8, 3, padding=1, graph=g, bias=False)
    assert layer.graph == g
    ref = nn.Conv2d(16, 8, 3, padding=1, groups=4, bias=False)
    with torch.no_grad():
        ref.weight.copy_(layer.weight)  # the compressed kernel of a G graph is the G-Conv kernel
    x = torch.randn(2, 16, 5, 5)
    _assert_close(layer(x), ref(x))
    blk = block_graph(random_expander(4, 2, 2, seed=0), 4)
    assert XConv2d(16, 8, 1, graph=blk).block_size == 4


def test_kaiming_init_for_fan_in_d():
    torch.manual_seed(0)
    layer = XConv2d(512, 512, 3, compression=16)
    std = float(layer.weight.detach().std())
    assert std == pytest.approx(math.sqrt(2 / (32 * 9)), rel=0.05)  # fan-in D*k*k, not in*k*k
    lin = XLinear(4096, 256, degree=64)
    assert float(lin.weight.detach().std()) == pytest.approx(math.sqrt(2 / 64), rel=0.05)


def test_extra_repr():
    assert repr(XConv2d(64, 32, 3, stride=2, padding=1, bias=False, compression=4)) == (
        "XConv2d(64, 32, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False, degree=16, compression=4)")
    assert "block_size=8" in repr(XConv2d(64, 32, 1, degree=16, block_size=8))
    assert repr(XLinear(64, 10, degree=8)) == (
        "XLinear(in_features=64, out_features=10, bias=True, degree=8, compression=8)")


def test_factory_kinds():
    assert isinstance(conv("x", 32, 64, 3, compression=4), XConv2d)
    g = conv("g", 32, 64, 3, compression=4)
    assert isinstance(g, nn.Conv2d) and g.groups == 4
    assert type(conv("dense", 32, 64, 3)) is nn.Conv2d
    assert isinstance(linear("x", 32, 10, compression=2), XLinear)


@pytest.mark.parametrize("kwargs, match", [
    (dict(degree=0), "degree"),
    (dict(degree=17), "degree"),
    (dict(degree=2.5), "degree"),
    (dict(compression=0.5), "compression"),
    (dict(compression=3), "compression"),  # 16 / 3 is not a whole degree
    (dict(degree=4, compression=4), "degree/compression/graph"),
    (dict(), "degree/compression/graph"),
    (dict(graph=random_expander(15, 8, 3)), "graph"),
    (dict(graph=random_expander(16, 9, 3)), "graph"),
    (dict(graph="random"), "graph"),
    (dict(degree=4, backend="fast"), "backend"),
    (dict(degree=4, block_size=3), "block_size"),
    (dict(degree=6, block_size=4), "block_size"),
    (dict(graph=random_expander(16, 8, 4), block_size=2), "block_size"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        XConv2d(16, 8, 3, **kwargs)
    if "graph" not in kwargs or not isinstance(kwargs["graph"], str):
        with pytest.raises(ValueError, match=f"^{match}:"):
            XLinear(16, 8, **kwargs)


def test_bad_channel_counts():
    with pytest.raises(ValueError, match="^in_channels:"):
        XConv2d(0, 8, 3, degree=1)
    with pytest.raises(ValueError, match="^out_features:"):
        XLinear(8, -1, degree=1)


def test_auto_rule():
    x1, x3 = torch.randn(2, 64, 4, 4), torch.randn(2, 64, 4, 4)
    pick = lambda layer, x: XF.choose_backend(x, layer.weight, layer.neighbors, layer._fast_block, layer.stride)
    assert pick(XConv2d(64, 64, 3, degree=16, block_size=8), x3) == "block"
    assert pick(XConv2d(64, 64, 3, degree=32, block_size=8), x3) == "block"      # 3x3 at C = 2
    assert pick(XConv2d(64, 64, 3, 2, degree=16, block_size=8), x3) == "masked"  # stride 2 on CPU
    assert pick(XConv2d(64, 64, 1, degree=32, block_size=8), x1) == "masked"     # 1x1 at C = 2
    assert pick(XConv2d(64, 64, 3, degree=16, seed=0), x3) == "masked"           # channel-level graph
    assert pick(XConv2d(64, 64, 1, degree=4, seed=0), x1) == "sparse"            # 1x1 at C = 16
    # 1x1 block layers on CPU: blocks >= 16 at C >= 4, and enough work in all and per GEMM
    big = torch.empty(16, 128, 64, 64)
    assert pick(XConv2d(128, 128, 1, graph=grouped_graph(128, 128, 8)), big) == "block"  # detected b = 16, C = 8
    assert pick(XConv2d(128, 128, 1, degree=32, block_size=32), big) == "block"   # b = 32 at C = 4
    assert pick(XConv2d(128, 128, 1, degree=32, block_size=16), big) == "block"   # b = 16 at C = 4
    assert pick(XConv2d(128, 128, 1, degree=8, block_size=8), big) == "masked"    # b = 8
    assert pick(XConv2d(128, 128, 1, degree=64, block_size=32), big) == "masked"  # C = 2
    assert pick(XConv2d(128, 128, 1, degree=32, block_size=32), torch.empty(8, 128, 7, 7)) == "masked"  # small
    wide = torch.empty(8, 2048, 7, 7)   # 51M MACs at D = 256, but 392 x 16 x 16 per GEMM
    assert pick(XConv2d(2048, 512, 1, degree=256, block_size=16), wide) == "masked"
    assert pick(XConv2d(2048, 512, 1, degree=512, block_size=32), wide) == "block"


@pytest.mark.parametrize("chunk_bytes", [1, 10 ** 9])  # one sample per chunk / one chunk
def test_block_matmul_gradcheck(monkeypatch, chunk_bytes):
    # the CPU block-sparse matmul (1x1 conv and linear) against autograd's numerical gradients, in
    # float64, whether the samples run in one chunk or one by one
    monkeypatch.setattr(XF, "BLOCK_CHUNK_BYTES", chunk_bytes)
    torch.manual_seed(0)
    conv = XConv2d(12, 8, 1, degree=6, block_size=2, seed=3, backend="block").double()
    x = torch.randn(3, 12, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: XF.xconv2d(x, w, conv.neighbors, b, backend="block",
                                                               block_size=2), (x, conv.weight, conv.bias))
    lin = XLinear(12, 9, degree=6, block_size=3, seed=4, backend="block").double()
    x = torch.randn(4, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: XF.xlinear(x, w, lin.neighbors, backend="block", block_size=3),
                                    (x, lin.weight))


def test_block_matmul_partial_grads_and_layouts():
    torch.manual_seed(0)
    layer = XConv2d(32, 16, 1, degree=16, block_size=8, bias=False, seed=0, backend="block")
    x = torch.randn(4, 32, 5, 6)
    ref = F.conv2d(x, layer.dense_weight())
    _assert_close(layer(x.contiguous(memory_format=torch.channels_last)), ref)   # any input layout
    _assert_close(layer(x[:, :, ::2, :]), F.conv2d(x[:, :, ::2, :], layer.dense_weight()))
    # weight gradient only (first layer of a network: the input needs no gradient)
    gw, = torch.autograd.grad(layer(x).sum(), layer.weight)
    gw0, = torch.autograd.grad(F.conv2d(x, layer.dense_weight()).sum(), layer.weight)
    _assert_close(gw, gw0)
    # input gradient only (frozen layer)
    layer.weight.requires_grad_(False)
    xx = x.clone().requires_grad_(True)
    gx, = torch.autograd.grad(layer(xx).sum(), xx)
    xx0 = x.clone().requires_grad_(True)
    gx0, = torch.autograd.grad(F.conv2d(xx0, layer.dense_weight()).sum(), xx0)
    _assert_close(gx, gx0)


def test_block_backend_after_loading_another_graph():
    # the block table is cached on the neighbors buffer; loading a checkpoint must invalidate it
    torch.manual_seed(0)
    a = XConv2d(32, 16, 1, degree=16, block_size=8, seed=0, backend="block")
    x = torch.randn(2, 32, 3, 3)
    _conv_case(a, x)
    a.load_state_dict(XConv2d(32, 16, 1, degree=16, block_size=8, seed=1, backend="block").state_dict())
    _conv_case(a, x)


def test_sparse_backend_after_loading_another_graph():
    # the transposed CSR pattern is cached on the neighbors buffer; loading a checkpoint (an
    # in-place copy) must invalidate it
    torch.manual_seed(0)
    a = XConv2d(32, 16, 1, degree=4, seed=0, backend="sparse")
    x = torch.randn(2, 32, 3, 3)
    _conv_case(a, x)
    a.load_state_dict(XConv2d(32, 16, 1, degree=4, seed=1, backend="sparse").state_dict())
    _conv_case(a, x)


@pytest.mark.parametrize("backend", ["masked", "gather", "block", "sparse", "auto"])
@pytest.mark.parametrize("k", [1, 3])
def test_backends_under_autocast(backend, k):
    # mixed precision (CPU bfloat16 here; fp16 on CUDA is the same code path): every backend takes a
    # low-precision input from the layer before and a float32 weight, and gives the dense result
    # to bfloat16 precision, gradients included
    if backend == "sparse" and k == 3:
        return
    torch.manual_seed(0)
    b = 8 if backend == "block" else None
    conv_layer = XConv2d(32, 16, k, padding=k // 2, degree=16, block_size=b, seed=0, backend=backend)
    lin = XLinear(32, 16, degree=16, block_size=b, seed=0, backend=backend)
    for layer, x, ref_fn in ((conv_layer, torch.randn(2, 32, 5, 5),
                              lambda x: F.conv2d(x, conv_layer.dense_weight(), conv_layer.bias, padding=k // 2)),
                             (lin, torch.randn(4, 32), lambda x: F.linear(x, lin.dense_weight(), lin.bias))):
        xb = x.bfloat16().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = layer(xb)
        gx, gw = torch.autograd.grad(y.float().sum(), (xb, layer.weight))
        x0 = x.bfloat16().float().requires_grad_(True)
        y0 = ref_fn(x0)
        gx0, gw0 = torch.autograd.grad(y0.sum(), (x0, layer.weight))
        for a, r in ((y, y0), (gx, gx0), (gw, gw0)):
            assert a.shape == r.shape
            torch.testing.assert_close(a.float(), r.detach(), rtol=0.05, atol=0.05 * float(r.detach().abs().max()))


def test_gathered_block_path_used_on_cuda(monkeypatch):
    # 1x1 / linear block layers take a batched matmul over gathered blocks on CUDA; the same ops
    # run on CPU, so check that path here too, forward and backward
    monkeypatch.setattr(XF, "_use_block_matmul", lambda x: False)
    calls = []
    gather = XF._gather_blocks
    monkeypatch.setattr(XF, "_gather_blocks", lambda *a: calls.append(1) or gather(*a))
    torch.manual_seed(0)
    _conv_case(XConv2d(32, 16, 1, degree=24, block_size=8, seed=0, backend="block"), torch.randn(3, 32, 5, 4))
    _conv_case(XConv2d(16, 24, 1, 2, degree=8, block_size=8, seed=1, backend="block"), torch.randn(2, 16, 7, 7))
    _linear_case(XLinear(32, 24, degree=16, block_size=8, seed=2, backend="block"), torch.randn(2, 3, 32))
    assert len(calls) == 3  # each of the three layers took the gathered path


@pytest.mark.parametrize("backend", ["masked", "gather", "block", "sparse", "auto"])
def test_empty_batch(backend):
    # a batch of zero samples (e.g. the last shard of a tiny validation set) runs like nn.Conv2d
    b = 8 if backend == "block" else None
    for layer, x in ((XConv2d(32, 16, 1, degree=16, block_size=b, seed=0, backend=backend), torch.randn(0, 32, 4, 4)),
                     (XLinear(32, 16, degree=16, block_size=b, seed=0, backend=backend), torch.randn(0, 32))):
        x.requires_grad_(True)
        y = layer(x)
        y.sum().backward()
        assert y.shape == (0, 16, 4, 4)[:x.dim()] and x.grad.shape == x.shape
        assert not layer.weight.grad.any()
