"""xnet.nn: X-Conv / X-Linear against the dense reference, every backend, forward and backward."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import xnet.nn.block as XB
import xnet.nn.functional as XF
import xnet.nn.gather as XG
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
    (13, 7, 3, 2, 0, 1, 4, None),  # odd channel counts, stride
    (9, 11, 5, 1, 2, 2, 3, None),  # dilation
    (16, 16, 1, 1, 0, 1, 4, None),
    (15, 9, 1, 2, 1, 1, 5, None),  # 1x1 with padding and stride
    (24, 16, 3, 1, 1, 1, 12, 4),  # block graph
    (16, 24, 1, 2, 0, 1, 8, 8),  # block graph, 1x1
    (32, 16, 1, 1, 0, 1, 24, 8),  # block graph, 1x1, three input blocks per output block
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
                torch.randn(1, cin, 8, 8)
            )
        return
    if backend == "sparse" and not pointwise:
        with pytest.raises(ValueError, match="^backend:"):
            XConv2d(cin, cout, k, stride, padding, dilation, degree=d, seed=0, backend=backend)(
                torch.randn(1, cin, 8, 8)
            )
        return
    torch.manual_seed(0)
    layer = XConv2d(cin, cout, k, stride, padding, dilation, degree=d, seed=1, block_size=b, backend=backend).to(device)
    _conv_case(layer, torch.randn(3, cin, 11, 10, device=device))


def test_gather_backend_in_chunks(monkeypatch):
    monkeypatch.setattr(XG, "GATHER_CHUNK_BYTES", 4 * 1000)  # force many small chunks
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
@pytest.mark.parametrize(
    "cin, cout, d, b, lead", [(17, 9, 6, None, (5,)), (32, 24, 16, 8, (2, 3)), (64, 16, 4, None, (7,))]
)
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
    assert b.graph is b.graph  # built once, cached on the layer ...
    b.load_state_dict(a.state_dict())
    assert b.graph == a.graph  # ... until the neighbors buffer changes
    x = torch.randn(2, 32, 6, 6)
    assert torch.equal(a(x), b(x))
    # a checkpoint of a block graph restores that network into a channel-level layer of the same
    # shape, and the block structure (fast paths) is recovered from the table
    c = XConv2d(32, 16, 3, padding=1, degree=16, seed=1, block_size=8)
    d = XConv2d(32, 16, 3, padding=1, degree=16, seed=2)
    assert d.block_size == 1
    d.load_state_dict(c.state_dict())
    assert d.block_size == 8 and d._fast_block == 8 and torch.equal(d(x), c(x))
    assert XF.choose_backend(x, d.weight, d.neighbors, d._fast_block) == "block"
    # another degree is a clear error that says how to build a matching layer
    with pytest.raises(RuntimeError, match=r"degree 16.*build XConv2d\(32, 16, \.\.\., degree=16\) to load it"):
        a.load_state_dict(c.state_dict())


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
        "XConv2d(64, 32, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False, degree=16, compression=4)"
    )
    assert "block_size=8" in repr(XConv2d(64, 32, 1, degree=16, block_size=8))
    assert repr(XLinear(64, 10, degree=8)) == (
        "XLinear(in_features=64, out_features=10, bias=True, degree=8, compression=8)"
    )


def test_factory_kinds():
    assert isinstance(conv("x", 32, 64, 3, compression=4), XConv2d)
    g = conv("g", 32, 64, 3, compression=4)
    assert isinstance(g, nn.Conv2d) and g.groups == 4
    assert type(conv("dense", 32, 64, 3)) is nn.Conv2d
    assert isinstance(linear("x", 32, 10, compression=2), XLinear)


@pytest.mark.parametrize(
    "kwargs, match",
    [
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
    ],
)
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


def test_counts_of_a_layer_on_the_meta_device():
    # MAC counting builds models on the meta device: the layer's counts read the table's shape only
    layer = XConv2d(64, 32, 3, degree=16, block_size=8).to("meta")
    assert layer.neighbors.is_meta
    assert (layer.degree, layer.num_edges, layer.compression, layer.density) == (16, 32 * 16, 4, 0.25)


def test_auto_rule(threads):
    threads(2)  # the CPU rule depends on the thread count: two (CI's), then one at the end
    x1, x3 = torch.randn(2, 64, 4, 4), torch.randn(2, 64, 4, 4)
    pick = lambda layer, x: XF.choose_backend(x, layer.weight, layer.neighbors, layer._fast_block, layer.stride)
    assert pick(XConv2d(64, 64, 3, degree=16, block_size=8), x3) == "block"
    assert pick(XConv2d(64, 64, 3, degree=32, block_size=8), x3) == "block"  # 3x3 at C = 2
    assert pick(XConv2d(64, 64, 3, 2, degree=16, block_size=8), x3) == "masked"  # stride 2 on CPU
    assert pick(XConv2d(64, 64, 1, degree=32, block_size=8), x1) == "masked"  # 1x1 at C = 2
    assert pick(XConv2d(64, 64, 3, degree=16, seed=0), x3) == "masked"  # channel-level graph
    assert pick(XConv2d(64, 64, 1, degree=4, seed=0), x1) == "sparse"  # 1x1 at C = 16
    assert XConv2d(64, 64, 1, degree=4, seed=0).auto_backend(x1) == "sparse"  # the layer's own shortcut
    assert XConv2d(64, 64, 3, 2, degree=16, block_size=8).auto_backend(x3) == "masked"  # it passes the stride
    assert XConv2d(64, 64, 1, degree=4, regular="input").auto_backend(x1) == "sparse"  # C = out / D = 16
    assert XConv2d(64, 64, 1, degree=16, block_size=8, regular="input").auto_backend(x1) == "masked"  # no block
    # 1x1 block layers on CPU: blocks >= 16 at C >= 4; on NCHW maps enough samples x pixels per
    # batched matmul (4096 at b = 16, 256 at b = 32), elsewhere enough work in all and per GEMM
    big = torch.empty(16, 128, 64, 64)
    assert pick(XConv2d(128, 128, 1, graph=grouped_graph(128, 128, 8)), big) == "block"  # detected b = 16, C = 8
    assert pick(XConv2d(128, 128, 1, degree=32, block_size=32), big) == "block"  # b = 32 at C = 4
    assert pick(XConv2d(128, 128, 1, degree=32, block_size=16), big) == "block"  # b = 16 at C = 4
    assert pick(XConv2d(128, 128, 1, degree=8, block_size=8), big) == "masked"  # b = 8
    assert pick(XConv2d(128, 128, 1, degree=64, block_size=32), big) == "masked"  # C = 2
    assert pick(XConv2d(128, 128, 1, degree=32, block_size=16), torch.empty(8, 128, 14, 14)) == "masked"  # 1568
    assert pick(XConv2d(128, 128, 1, degree=32, block_size=16), torch.empty(8, 128, 28, 28)) == "block"  # 6272
    assert pick(XConv2d(128, 128, 1, degree=32, block_size=32), torch.empty(8, 128, 7, 7)) == "block"  # 392, b = 32
    assert pick(XConv2d(128, 128, 1, degree=32, block_size=32), torch.empty(8, 128, 4, 4)) == "masked"  # 16 pixels
    stride2 = XConv2d(128, 128, 1, 2, degree=32, block_size=16)  # the output's pixels count: 8 x 14 x 14
    assert pick(stride2, torch.empty(8, 128, 28, 28)) == "masked"
    cl = torch.empty(8, 128, 28, 28).contiguous(memory_format=torch.channels_last)  # the chunked matmul's rule
    assert pick(XConv2d(128, 128, 1, degree=32, block_size=16), cl) == "masked"
    wide = torch.empty(8, 2048, 7, 7)  # 392 samples x pixels per batched matmul
    assert pick(XConv2d(2048, 512, 1, degree=256, block_size=16), wide) == "masked"
    assert pick(XConv2d(2048, 512, 1, degree=512, block_size=32), wide) == "block"
    # one thread: the 1x1 block path on every NCHW map of >= 32 pixels; k x k blocks still not at stride 2
    threads(1)
    assert pick(XConv2d(2048, 512, 1, degree=256, block_size=16), wide) == "block"
    assert pick(XConv2d(128, 128, 1, degree=32, block_size=16), torch.empty(8, 128, 14, 14)) == "block"
    assert pick(XConv2d(128, 128, 1, degree=32, block_size=32), torch.empty(8, 128, 4, 4)) == "masked"  # 16 pixels
    assert pick(XConv2d(64, 64, 3, 2, degree=16, block_size=8), x3) == "masked"
    assert pick(XConv2d(64, 64, 1, degree=32, block_size=8), x1) == "masked"  # still C = 2


@pytest.mark.parametrize("chunk_bytes", [1, 10**9])  # one sample per chunk / one chunk
def test_block_matmul_gradcheck(monkeypatch, chunk_bytes):
    # the CPU block-sparse matmul (1x1 conv and linear) against autograd's numerical gradients, in
    # float64, whether the samples run in one chunk or one by one
    monkeypatch.setattr(XB, "BLOCK_CHUNK_BYTES", chunk_bytes)
    torch.manual_seed(0)
    conv = XConv2d(12, 8, 1, degree=6, block_size=2, seed=3, backend="block").double()
    x = torch.randn(3, 12, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: XF.xconv2d(x, w, conv.neighbors, b, backend="block", block_size=2), (x, conv.weight, conv.bias)
    )
    lin = XLinear(12, 9, degree=6, block_size=3, seed=4, backend="block").double()
    x = torch.randn(4, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w: XF.xlinear(x, w, lin.neighbors, backend="block", block_size=3), (x, lin.weight)
    )


def test_block_conv1x1_on_maps_batches_over_samples(monkeypatch):
    # 1x1 block X-Conv on NCHW maps of >= BLOCK_MAPS_MIN_PIXELS pixels runs _BlockConv1x1 (one
    # batched matmul over the samples per weight block, nothing transposed): numerical gradients
    # in float64, an input block no output reads (zero gradient), weight-only and input-only grads
    calls = []
    apply = XB._BlockConv1x1.apply
    monkeypatch.setattr(XB._BlockConv1x1, "apply", lambda *a: calls.append(1) or apply(*a))
    torch.manual_seed(0)
    conv = XConv2d(32, 8, 1, degree=8, block_size=4, seed=3, backend="block").double()  # 8 input blocks, 4 read
    assert {u for row in XB._block_table(conv.neighbors, 4) for u in row} != set(range(8))
    x = torch.randn(2, 32, 6, 6, dtype=torch.float64, requires_grad=True)  # 36 pixels
    assert torch.autograd.gradcheck(
        lambda x, w, b: XF.xconv2d(x, w, conv.neighbors, b, backend="block", block_size=4), (x, conv.weight, conv.bias)
    )
    assert calls
    ref = F.conv2d(x, conv.dense_weight(), conv.bias)
    (gw,) = torch.autograd.grad(conv(x.detach()).sum(), conv.weight)
    (gw0,) = torch.autograd.grad(ref.sum(), conv.weight)
    _assert_close(gw, gw0)
    w = conv.weight.detach()
    (gx,) = torch.autograd.grad(XF.xconv2d(x, w, conv.neighbors, None, backend="block", block_size=4).sum(), x)
    (gx0,) = torch.autograd.grad(F.conv2d(x, conv.dense_weight().detach()).sum(), x)
    _assert_close(gx, gx0)
    n = len(calls)
    conv.float()(torch.randn(2, 32, 5, 6))  # 30 pixels: the transposing block-sparse matmul
    conv(torch.randn(2, 32, 6, 6).contiguous(memory_format=torch.channels_last))  # and channels_last
    assert len(calls) == n


def test_block_conv1x1_on_maps_under_autocast():
    torch.manual_seed(0)
    layer = XConv2d(64, 64, 1, degree=32, block_size=16, bias=False, seed=0, backend="block")
    x = torch.randn(2, 64, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), F.conv2d(x, layer.dense_weight(), layer.bias), rtol=3e-2, atol=3e-2)


def test_block_matmul_partial_grads_and_layouts():
    torch.manual_seed(0)
    layer = XConv2d(32, 16, 1, degree=16, block_size=8, bias=False, seed=0, backend="block")
    x = torch.randn(4, 32, 5, 6)
    ref = F.conv2d(x, layer.dense_weight())
    _assert_close(layer(x.contiguous(memory_format=torch.channels_last)), ref)  # any input layout
    _assert_close(layer(x[:, :, ::2, :]), F.conv2d(x[:, :, ::2, :], layer.dense_weight()))
    # weight gradient only (first layer of a network: the input needs no gradient)
    (gw,) = torch.autograd.grad(layer(x).sum(), layer.weight)
    (gw0,) = torch.autograd.grad(F.conv2d(x, layer.dense_weight()).sum(), layer.weight)
    _assert_close(gw, gw0)
    # input gradient only (frozen layer)
    layer.weight.requires_grad_(False)
    xx = x.clone().requires_grad_(True)
    (gx,) = torch.autograd.grad(layer(xx).sum(), xx)
    xx0 = x.clone().requires_grad_(True)
    (gx0,) = torch.autograd.grad(F.conv2d(xx0, layer.dense_weight()).sum(), xx0)
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
    for layer, x, ref_fn in (
        (
            conv_layer,
            torch.randn(2, 32, 5, 5),
            lambda x: F.conv2d(x, conv_layer.dense_weight(), conv_layer.bias, padding=k // 2),
        ),
        (lin, torch.randn(4, 32), lambda x: F.linear(x, lin.dense_weight(), lin.bias)),
    ):
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
    # 1x1 / linear block layers take one grouped convolution over gathered blocks on CUDA; the same ops
    # run on CPU, so check that path here too, forward and backward
    monkeypatch.setattr(XB, "_use_block_matmul", lambda x: False)
    calls = []
    gather = XG._gather_blocks
    monkeypatch.setattr(XG, "_gather_blocks", lambda *a: calls.append(1) or gather(*a))
    torch.manual_seed(0)
    _conv_case(XConv2d(32, 16, 1, degree=24, block_size=8, seed=0, backend="block"), torch.randn(3, 32, 5, 4))
    _conv_case(XConv2d(16, 24, 1, 2, degree=8, block_size=8, seed=1, backend="block"), torch.randn(2, 16, 7, 7))
    _linear_case(XLinear(32, 24, degree=16, block_size=8, seed=2, backend="block"), torch.randn(2, 3, 32))
    assert len(calls) == 3  # each of the three layers took the gathered path


@pytest.mark.parametrize("backend", ["masked", "gather", "block", "sparse", "auto"])
def test_empty_batch(backend):
    # a batch of zero samples (e.g. the last shard of a tiny validation set) runs like nn.Conv2d
    b = 8 if backend == "block" else None
    for layer, x in (
        (XConv2d(32, 16, 1, degree=16, block_size=b, seed=0, backend=backend), torch.randn(0, 32, 4, 4)),
        (XLinear(32, 16, degree=16, block_size=b, seed=0, backend=backend), torch.randn(0, 32)),
    ):
        x.requires_grad_(True)
        y = layer(x)
        y.sum().backward()
        assert y.shape == (0, 16, 4, 4)[: x.dim()] and x.grad.shape == x.shape
        assert not layer.weight.grad.any()


# ----------------------------------------------------------------------------------------------
# input-regular graphs (the authors' rule when in <= out): every input feeds D distinct outputs

INPUT_REGULAR_CONV_SHAPES = [
    # in, out, k, stride, padding, degree
    (8, 24, 1, 1, 0, 3),  # in < out, 1x1 (ResNet's expanding conv3)
    (8, 24, 3, 2, 1, 5),  # in < out, 3x3, stride 2
    (12, 12, 3, 1, 1, 4),  # in == out
    (12, 12, 1, 2, 0, 12),  # in == out, dense degree, 1x1 stride 2
    (16, 6, 3, 1, 0, 2),  # in > out, drawn input-regular on request
    (5, 40, 1, 1, 0, 20),  # compression 2 at in << out
    (4, 64, 1, 1, 0, 4),  # compression out / D = 16: auto picks sparse on CPU
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("backend", ["masked", "gather", "block", "sparse", "auto"])
@pytest.mark.parametrize("shape", INPUT_REGULAR_CONV_SHAPES)
def test_input_regular_conv_backends_match_dense(backend, shape, device):
    cin, cout, k, stride, padding, d = shape
    layer = XConv2d(cin, cout, k, stride, padding, degree=d, regular="input", seed=3, backend=backend).to(device)
    assert layer.side == "input" and layer.weight.shape == (cin, d, k, k) and layer.neighbors.shape == (cin, d)
    x = torch.randn(2, cin, 9, 8, device=device)
    if device == "cpu":
        pick = XF.choose_backend(x, layer.weight, layer.neighbors, layer._fast_block, side="input", num_outputs=cout)
        assert pick == ("sparse" if k == 1 and cout // d >= 16 else "masked")
    if backend == "block" or (backend == "sparse" and k != 1):
        with pytest.raises(ValueError, match="^backend:"):
            layer(x)
        return
    torch.manual_seed(0)
    _conv_case(layer, x)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("backend", ["masked", "gather", "block", "sparse", "auto"])
@pytest.mark.parametrize("cin, cout, d, lead", [(6, 20, 4, (5,)), (16, 16, 2, (2, 3)), (32, 8, 8, (7,))])
def test_input_regular_linear_backends_match_dense(backend, cin, cout, d, lead, device):
    layer = XLinear(cin, cout, degree=d, regular="input", seed=4, backend=backend).to(device)
    assert layer.weight.shape == (cin, d)
    x = torch.randn(*lead, cin, device=device)
    if backend == "block":
        with pytest.raises(ValueError, match="^backend: 'block' supports output-regular"):
            layer(x)
        return
    torch.manual_seed(0)
    _linear_case(layer, x)


def test_input_regular_gather_in_chunks(monkeypatch):
    monkeypatch.setattr(XG, "GATHER_CHUNK_BYTES", 2000)  # force chunks of one or two inputs
    torch.manual_seed(0)
    _conv_case(
        XConv2d(10, 14, 3, padding=1, degree=4, regular="input", seed=0, backend="gather"), torch.randn(2, 10, 7, 7)
    )
    _linear_case(XLinear(10, 14, degree=4, regular="input", seed=0, backend="gather"), torch.randn(30, 10))


def test_input_regular_gradcheck():
    # the transposed CSR matmul and the depthwise + index_add gather against numerical gradients
    for backend, k in (("sparse", 1), ("gather", 3)):
        conv = XConv2d(5, 9, k, padding=k // 2, degree=3, regular="input", seed=1, backend=backend).double()
        x = torch.randn(2, 5, 3, 3, dtype=torch.float64, requires_grad=True)

        def f(x, w, b, conv=conv, k=k, backend=backend):
            return XF.xconv2d(x, w, conv.neighbors, b, padding=k // 2, backend=backend, side="input", num_outputs=9)

        assert torch.autograd.gradcheck(f, (x, conv.weight, conv.bias))


def test_authors_rule_in_layers_and_factory():
    from xnet.graphs import authors_expander

    assert XConv2d(64, 256, 1, degree=32, regular="authors").side == "input"  # in <= out
    assert XConv2d(64, 64, 3, degree=32, regular="authors").side == "input"  # in == out
    assert XConv2d(256, 64, 1, degree=128, regular="authors").side == "output"  # in > out: the paper's
    assert XConv2d(64, 64, 3, degree=32).side == "output"  # the layers' default
    g = authors_expander(64, 256, 32, seed=5)
    layer = conv("x", 64, 256, 1, graph=g)
    assert isinstance(layer, XConv2d) and layer.graph == g
    lin = linear("x", 16, 32, degree=4, regular="authors", seed=0)
    assert lin.side == "input" and lin.degree == 4
    assert linear("x", 16, 32, graph=authors_expander(16, 32, 4)).graph == authors_expander(16, 32, 4)
    # ResNet-50 conv3 (64 -> 256) at C = 2: D = 64 // 2 = 32 outputs per input keeps 1/8 of the
    # connections (issue 9, item 1), not 1/2
    c3 = XConv2d(64, 256, 1, degree=32, regular="authors", bias=False)
    assert c3.density == pytest.approx(1 / 8) and c3.compression == 8 and c3.num_edges == 64 * 32
    assert c3.weight.numel() == 64 * 32


def test_input_regular_properties_and_repr():
    layer = XConv2d(8, 24, 3, padding=1, degree=6, regular="input", seed=0, bias=False)
    dense = layer.dense_weight()
    assert dense.shape == (24, 8, 3, 3)
    nonzero = dense.abs().sum((2, 3)) != 0
    assert torch.equal(nonzero, layer.graph.to_dense())
    assert (nonzero.sum(0) == 6).all()  # each input feeds D = 6 outputs
    assert layer.degree == 6 and layer.compression == 4 and layer.density == pytest.approx(0.25)
    assert repr(layer) == (
        "XConv2d(8, 24, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False, "
        "degree=6, compression=4, regular='input')"
    )
    assert "regular" not in repr(XConv2d(8, 24, 3, degree=6))  # shown only when input-regular
    assert XLinear(8, 20, compression=4, regular="input").degree == 5  # compression is out / D here
    torch.manual_seed(0)
    big = XConv2d(256, 512, 3, degree=64, regular="input")
    fan_in = 256 * 64 / 512 * 9  # the mean fan-in of an output
    assert float(big.weight.detach().std()) == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)


def test_input_regular_state_dict_and_seeds():
    a = XConv2d(12, 12, 1, degree=3, regular="input", seed=1)
    sd = a.state_dict()
    assert sd["neighbors"].shape == (12, 3) and bool(sd["input_regular"])
    b = XConv2d(12, 12, 1, degree=3, regular="input", seed=2)  # same shape, another seed
    assert b.graph != a.graph
    b.load_state_dict(sd)
    x = torch.randn(2, 12, 4, 4)
    assert b.graph == a.graph and torch.equal(b(x), a(x))
    # in == out: an output-regular layer of the same table shape refuses it, naming the side
    c = XConv2d(12, 12, 1, degree=3, seed=2)
    with pytest.raises(RuntimeError, match="input-regular graph.*regular='input'"):
        c.load_state_dict(sd)
    # a checkpoint written before the side existed loads as output-regular
    old = {k: v for k, v in c.state_dict().items() if k != "input_regular"}
    XConv2d(12, 12, 1, degree=3, seed=5).load_state_dict(old)


def test_input_regular_sparse_after_loading_another_graph():
    # the transposed CSR pattern cached on the neighbors buffer follows a loaded table
    torch.manual_seed(0)
    a = XConv2d(16, 32, 1, degree=2, regular="input", seed=0, backend="sparse")
    x = torch.randn(2, 16, 3, 3)
    _conv_case(a, x)
    a.load_state_dict(XConv2d(16, 32, 1, degree=2, regular="input", seed=1).state_dict())
    _conv_case(a, x)


def test_input_regular_block_graph_never_takes_block_path():
    from xnet.graphs import block_graph as bg

    g = bg(random_expander(4, 8, 2, seed=0, regular="input"), 8)  # 32 -> 64, blocks of 8
    layer = XConv2d(32, 64, 3, padding=1, graph=g)
    assert layer.block_size == 8 and layer.side == "input"
    x = torch.randn(2, 32, 6, 6)
    assert (
        XF.choose_backend(x, layer.weight, layer.neighbors, layer._fast_block, side="input", num_outputs=64) != "block"
    )
    torch.manual_seed(0)
    _conv_case(layer, x)
    built = XConv2d(32, 64, 1, degree=16, block_size=8, regular="input", seed=0)
    assert built.block_size == 8 and built.graph.input_degrees().eq(16).all()


@pytest.mark.parametrize("method", ["hooks", "thop", "flop_counter"])
def test_counting_sees_real_edges_of_both_sides(method):
    from xnet.counting import profile

    # MACs = out pixels x edges x k x k per sample; params = edges x k x k (+ bias)
    model = nn.Sequential(
        XConv2d(8, 24, 3, stride=2, padding=1, degree=6, regular="input", bias=False),  # 8x8 out
        XConv2d(24, 12, 1, degree=4, bias=False),  # output-reg.
        nn.Flatten(),
        XLinear(12 * 64, 40, degree=10, regular="input"),
    )
    counted = profile(model, (8, 16, 16), method=method)
    edges = (8 * 6, 12 * 4, 12 * 64 * 10)
    assert counted["macs"] == 64 * edges[0] * 9 + 64 * edges[1] + edges[2]
    assert counted["params"] == edges[0] * 9 + edges[1] + edges[2] + 40
    dense_macs = 64 * 24 * 8 * 9
    assert 64 * edges[0] * 9 * 4 == dense_macs  # D / out = 1/4 of the dense layer, not D / in


def test_block_backend_runs_on_the_meta_device():
    """Counting MACs on the meta device goes through the custom backends: no autocast query may raise there."""
    layer = XConv2d(32, 64, 1, compression=4, backend="block", block_size=8).to("meta")
    y = layer(torch.empty(2, 32, 8, 8, device="meta"))
    assert y.shape == (2, 64, 8, 8) and y.device.type == "meta"
