"""Fault cases of X-layers (issue 10, items 2 and 3, and ``kernel_size=0``).

X-layers check their input like ``nn.Conv2d`` / ``nn.Linear`` (wrong width, wrong rank) and their
constructor arguments (one-line ``ValueError``); ``load_state_dict`` validates the graph before it
changes anything, copies into the existing tensors, and says how to build a layer that matches.
Plus property-based tests (hypothesis) of ``load_state_dict`` with random valid and invalid tables.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import xnet.nn.functional as XF
from xnet.nn import XConv2d, XLinear


def _snapshot(layer):
    return {k: v.clone() for k, v in layer.state_dict().items()}


def _assert_unchanged(layer, before):
    after = layer.state_dict()
    assert after.keys() == before.keys()
    for k, v in before.items():
        assert after[k].dtype == v.dtype and torch.equal(after[k], v), k


# ---- item 2: inputs of the wrong width or rank -------------------------------------------------


def test_conv_too_many_channels_is_refused():
    layer = XConv2d(16, 8, 3, degree=4, seed=0)
    with pytest.raises(ValueError, match=r"^input: XConv2d\(16, 8, .*expected 16 channels.*\[2, 32, 5, 5\]"):
        layer(torch.randn(2, 32, 5, 5))


def test_block_conv_too_many_channels_is_refused():
    # the block path used to take 48 of 64 channels
    layer = XConv2d(16, 8, 1, degree=8, block_size=8, seed=0, backend="block")
    with pytest.raises(ValueError, match="expected 16 channels"):
        layer(torch.randn(2, 64, 4, 4))


def test_conv_too_few_channels_is_refused():
    layer = XConv2d(16, 8, 3, degree=4, seed=0)
    with pytest.raises(ValueError, match="^input: .*expected 16 channels"):
        layer(torch.randn(2, 8, 5, 5))


def test_conv_wrong_rank_is_refused():
    layer = XConv2d(16, 8, 3, degree=4, seed=0)
    for shape in ((2, 16), (1, 2, 16, 5, 5)):
        with pytest.raises(ValueError, match=r"^input: .*expected 3D \(unbatched\) or 4D \(batched\) input"):
            layer(torch.randn(*shape))


def test_conv_unbatched_input_works_like_nn_conv2d():
    layer = XConv2d(6, 4, 3, padding=1, degree=3, seed=0)
    x = torch.randn(6, 5, 5)
    ref = nn.functional.conv2d(x.unsqueeze(0), layer.dense_weight(), layer.bias, padding=1).squeeze(0)
    torch.testing.assert_close(layer(x), ref)


def test_linear_wrong_width_is_refused():
    layer = XLinear(16, 8, degree=4, seed=0)
    for shape in ((3, 32), (3, 8), (16, 3)):
        with pytest.raises(ValueError, match="^input: XLinear.*expected 16 features"):
            layer(torch.randn(*shape))
    with pytest.raises(ValueError, match="^input: .*at least 1 dimension"):
        layer(torch.tensor(1.0))


def test_input_regular_layer_checks_its_input_too():
    layer = XConv2d(8, 24, 1, degree=6, regular="input", seed=0)
    with pytest.raises(ValueError, match="expected 8 channels"):
        layer(torch.randn(2, 24, 3, 3))


# ---- bad constructor arguments -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kernel_size=0), "kernel_size"),
        (dict(kernel_size=(3, 0)), "kernel_size"),
        (dict(kernel_size=2.5), "kernel_size"),
        (dict(stride=0), "stride"),
        (dict(padding=-1), "padding"),
        (dict(padding="full"), "padding"),
        (dict(padding="same", stride=2), "padding"),
        (dict(dilation=0), "dilation"),
        (dict(regular="both"), "regular"),
        (dict(seed=2**64), "seed"),
        (dict(seed=1.5), "seed"),
    ],
)
def test_bad_conv_arguments_are_one_line_value_errors(kwargs, match):
    args = dict(kernel_size=3, degree=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{match}: [^\n]*$"):
        XConv2d(16, 8, args.pop("kernel_size"), **args)


def test_regular_with_graph_is_refused():
    from xnet.graphs import authors_expander

    with pytest.raises(ValueError, match="^regular:"):
        XLinear(8, 16, graph=authors_expander(8, 16, 2), regular="input")


# ---- item 3: load_state_dict -------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda nb: nb.index_fill(1, torch.tensor([0]), 99), r"input indices must lie in \[0, 16\), got \[\d+, 99\]"),
        (lambda nb: nb.index_fill(1, torch.tensor([0]), -1), r"indices must lie in \[0, 16\)"),
        (lambda nb: torch.cat([nb[:, :1], nb[:, :1], nb[:, 2:]], 1), "lists the same channel twice"),
        (lambda nb: nb.float(), "must be integers"),
        (lambda nb: nb.bool(), "must be integers"),
        (lambda nb: nb[0], r"expected a \(rows, degree\) table"),
    ],
)
def test_invalid_graph_tables_are_refused_and_change_nothing(bad, match):
    layer = XConv2d(16, 8, 3, degree=4, seed=0)
    sd = XConv2d(16, 8, 3, degree=4, seed=1).state_dict()
    sd["neighbors"] = bad(sd["neighbors"])
    before = _snapshot(layer)
    with pytest.raises(RuntimeError, match=f"neighbors: .*{match}"):
        layer.load_state_dict(sd)
    _assert_unchanged(layer, before)


def test_other_degree_is_a_clear_error_that_changes_nothing():
    layer = XConv2d(16, 8, 3, degree=4, seed=0)
    weight = layer.weight
    before = _snapshot(layer)
    with pytest.raises(RuntimeError, match=r"degree 8.*build XConv2d\(16, 8, \.\.\., degree=8\) to load it"):
        layer.load_state_dict(XConv2d(16, 8, 3, degree=8, seed=1).state_dict())
    _assert_unchanged(layer, before)
    assert layer.weight is weight


def test_weight_shape_mismatch_changes_nothing():
    # a valid table of the right shape, but the weight of another kernel size: nothing is copied
    layer = XConv2d(16, 8, 3, degree=4, seed=0)
    sd = XConv2d(16, 8, 5, degree=4, seed=1).state_dict()
    before = _snapshot(layer)
    with pytest.raises(RuntimeError, match=r"weight: the checkpoint's has shape \(8, 4, 5, 5\)"):
        layer.load_state_dict(sd)
    _assert_unchanged(layer, before)


def test_load_copies_in_place_and_an_earlier_optimizer_still_trains_the_weight():
    layer = XLinear(16, 8, degree=4, seed=0)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    weight, neighbors = layer.weight, layer.neighbors
    src = XLinear(16, 8, degree=4, seed=1)
    layer.load_state_dict(src.state_dict())
    assert layer.weight is weight and layer.neighbors is neighbors  # the same tensors, new contents
    assert torch.equal(layer.weight, src.weight) and torch.equal(layer.neighbors, src.neighbors)
    layer(torch.randn(4, 16)).sum().backward()
    old = layer.weight.detach().clone()
    opt.step()
    assert not torch.equal(layer.weight, old)  # the optimizer's tensor is the layer's


def test_strict_false_with_the_weight_missing_keeps_its_initialisation():
    torch.manual_seed(0)
    layer = XConv2d(16, 8, 3, degree=4, seed=0)
    init = layer.weight.detach().clone()
    sd = XConv2d(16, 8, 3, degree=4, seed=1).state_dict()
    del sd["weight"]
    result = layer.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["weight"]
    assert torch.equal(layer.weight, init) and torch.isfinite(layer.weight).all()
    assert torch.equal(layer.neighbors, sd["neighbors"])


def test_checkpoint_loads_into_a_layer_built_with_another_seed_both_sides():
    x = torch.randn(2, 12, 4, 4)
    for regular in ("output", "input"):
        src = XConv2d(12, 20, 3, padding=1, degree=4, regular=regular, seed=1)
        dst = XConv2d(12, 20, 3, padding=1, degree=4, regular=regular, seed=2)
        assert not torch.equal(dst.neighbors, src.neighbors)
        dst.load_state_dict(src.state_dict())
        assert dst.graph == src.graph and torch.equal(dst(x), src(x))


def test_side_mismatch_is_a_clear_error_that_changes_nothing():
    src = XConv2d(12, 12, 3, degree=4, regular="input", seed=1)  # same table shape as below (in == out)
    dst = XConv2d(12, 12, 3, degree=4, seed=2)
    before = _snapshot(dst)
    with pytest.raises(RuntimeError, match=r"input-regular graph of degree 4.*regular='input'\) to load it"):
        dst.load_state_dict(src.state_dict())
    _assert_unchanged(dst, before)
    assert dst.side == "output"


def test_block_structure_is_detected_after_a_load():
    src = XConv2d(32, 16, 3, padding=1, degree=16, block_size=8, seed=1)
    dst = XConv2d(32, 16, 3, padding=1, degree=16, seed=2)
    assert dst._fast_block == 1
    dst.load_state_dict(src.state_dict())
    assert dst.block_size == 8 and dst._fast_block == 8


def test_whole_model_error_names_the_layer():
    model = nn.Sequential(nn.Conv2d(3, 16, 1), XConv2d(16, 8, 1, degree=4, seed=0))
    sd = model.state_dict()
    sd["1.neighbors"] = sd["1.neighbors"].index_fill(1, torch.tensor([0]), 99)
    with pytest.raises(RuntimeError, match=r"1\.neighbors: input indices must lie in \[0, 16\)"):
        model.load_state_dict(sd)


# ---- property-based: random valid and invalid tables ---------------------------------------------


@st.composite
def layer_and_checkpoint(draw):
    regular = draw(st.sampled_from(["output", "input"]))
    cin, cout = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    limit = cin if regular == "output" else cout
    d = draw(st.integers(1, limit))
    linear = draw(st.booleans())
    seeds = draw(st.tuples(st.integers(0, 2**32), st.integers(0, 2**32)))

    def make(seed):
        if linear:
            return XLinear(cin, cout, degree=d, regular=regular, seed=seed)
        return XConv2d(cin, cout, 1, degree=d, regular=regular, seed=seed)

    return make(seeds[0]), make(seeds[1]), limit


@settings(max_examples=60, deadline=None)
@given(layer_and_checkpoint())
def test_valid_loads_round_trip_exactly(case):
    dst, src, _ = case
    # any valid table: each row a random choice of distinct columns, in any order
    gen = torch.Generator().manual_seed(int(src.neighbors.sum()))
    rows, d = src.neighbors.shape
    cols = src._num_cols
    table = torch.stack([torch.randperm(cols, generator=gen)[:d] for _ in range(rows)])
    sd = src.state_dict()
    sd["neighbors"] = table
    weight = dst.weight
    dst.load_state_dict(sd)
    out = dst.state_dict()
    assert out.keys() == sd.keys() and all(torch.equal(out[k], sd[k]) for k in sd)
    assert dst.weight is weight
    kwargs = {"side": "input", "num_outputs": src.num_outputs} if src.side == "input" else {}
    assert torch.equal(dst.dense_weight(), XF.dense_weight(sd["weight"], table, src.num_inputs, **kwargs))


@settings(max_examples=60, deadline=None)
@given(layer_and_checkpoint(), st.data())
def test_invalid_loads_raise_and_leave_the_layer_unchanged(case, data):
    dst, src, limit = case
    sd = {k: v.clone() for k, v in src.state_dict().items()}
    nb = sd["neighbors"]
    kind = data.draw(st.sampled_from(["high", "negative", "duplicate", "float", "degree", "rows", "side", "weight"]))
    r = data.draw(st.integers(0, nb.shape[0] - 1))
    if kind == "high":
        nb[r, data.draw(st.integers(0, nb.shape[1] - 1))] = data.draw(st.integers(limit, 10**6))
    elif kind == "negative":
        nb[r, 0] = data.draw(st.integers(-(10**6), -1))
    elif kind == "duplicate":
        if nb.shape[1] < 2:
            nb[r, 0] = limit  # out of range instead
        else:
            nb[r, 1] = nb[r, 0]
    elif kind == "float":
        sd["neighbors"] = nb.double()
    elif kind == "degree":
        sd["neighbors"] = torch.cat([nb, nb[:, :1]], 1)  # one more column: another degree
    elif kind == "rows":
        sd["neighbors"] = nb[:0] if data.draw(st.booleans()) else torch.cat([nb, nb[:1]], 0)
    elif kind == "side":
        sd["input_regular"] = ~sd["input_regular"]
    else:
        sd["weight"] = torch.cat([sd["weight"], sd["weight"][:1]], 0)
    before = _snapshot(dst)
    weight = dst.weight
    with pytest.raises((ValueError, RuntimeError)) as info:
        dst.load_state_dict(sd)
    assert "neighbors" in str(info.value) or "input_regular" in str(info.value) or "weight" in str(info.value)
    _assert_unchanged(dst, before)
    assert dst.weight is weight


def test_check_state_dict_makes_a_whole_model_load_all_or_nothing():
    from xnet.nn import check_state_dict

    model = nn.Sequential(nn.Conv2d(3, 16, 1), XConv2d(16, 8, 1, degree=4, seed=0), nn.Conv2d(8, 4, 1))
    good = nn.Sequential(nn.Conv2d(3, 16, 1), XConv2d(16, 8, 1, degree=4, seed=1), nn.Conv2d(8, 4, 1)).state_dict()
    check_state_dict(model, good)  # nothing to say
    bad = dict(good)
    bad["1.neighbors"] = bad["1.neighbors"].index_fill(1, torch.tensor([0]), 99)
    bad["2.weight"] = torch.zeros(4, 8, 3, 3)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"^state_dict: 1\.neighbors: .*99\]; 2\.weight: .*\(4, 8, 3, 3\)[^\n]*$"):
        check_state_dict(model, bad)
    _assert_unchanged(model, before)
