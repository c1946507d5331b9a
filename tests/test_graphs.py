"""xnet.graphs: constructions, invariants, and the diagnostics of Theorems 1 and 2."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xnet.graphs import (
    BipartiteGraph,
    authors_expander,
    balanced_expander,
    block_expander,
    block_graph,
    cayley_expander,
    detect_block_size,
    grouped_graph,
    mixing_deviation,
    paley_graph,
    random_expander,
    sensitivity_depth,
    sensitivity_profile,
    spectral_gap,
)

sizes = st.integers(min_value=1, max_value=40)


@st.composite
def graph_args(draw):
    n, m = draw(sizes), draw(sizes)
    d = draw(st.integers(min_value=1, max_value=n))
    return n, m, d, draw(st.integers(min_value=0, max_value=2**31 - 1))


@settings(max_examples=40, deadline=None)
@given(graph_args())
def test_random_expander_is_output_regular_with_distinct_inputs(args):
    n, m, d, seed = args
    g = random_expander(n, m, d, seed=seed)
    dense = g.to_dense()
    assert (g.num_inputs, g.num_outputs, g.degree, g.num_edges) == (n, m, d, m * d)
    assert dense.dtype == torch.bool and dense.shape == (m, n)
    assert (dense.sum(1) == d).all()
    assert int(dense.sum()) == g.num_edges


@settings(max_examples=40, deadline=None)
@given(graph_args())
def test_balanced_expander_balances_input_degrees(args):
    n, m, d, seed = args
    g = balanced_expander(n, m, d, seed=seed)
    dense = g.to_dense()
    assert (dense.sum(1) == d).all()  # output-regular, distinct inputs
    indeg = dense.sum(0)
    assert int(indeg.max() - indeg.min()) <= 1
    assert int(indeg.sum()) == m * d


def test_square_balanced_expander_is_regular_on_both_sides():
    g = balanced_expander(96, 96, 12, seed=5)
    assert (g.input_degrees() == 12).all()


def test_same_seed_same_graph_other_seed_other_graph():
    assert random_expander(64, 32, 8, seed=3) == random_expander(64, 32, 8, seed=3)
    assert random_expander(64, 32, 8, seed=3) != random_expander(64, 32, 8, seed=4)
    assert balanced_expander(64, 32, 8, seed=3) == balanced_expander(64, 32, 8, seed=3)
    # independent of the global RNG
    torch.manual_seed(123)
    a = random_expander(16, 16, 4, seed=1)
    torch.manual_seed(456)
    assert a == random_expander(16, 16, 4, seed=1)


def test_random_expander_pinned_values():
    # the same graph for the same seed everywhere: pinned, so a change of the draw is noticed
    # (checkpoints carry their graph, but seeds in configs would silently change meaning)
    assert random_expander(10, 3, 3, seed=0).neighbors.tolist() == [[1, 5, 7], [5, 6, 7], [1, 3, 6]]
    assert balanced_expander(6, 4, 3, seed=0).neighbors.tolist() == [[0, 2, 4], [1, 3, 5], [0, 3, 4], [1, 2, 5]]


def test_grouped_graph_matches_conv_groups():
    g = grouped_graph(12, 6, 3)
    expected = torch.block_diag(*[torch.ones(2, 4, dtype=torch.bool)] * 3)
    assert torch.equal(g.to_dense(), expected)
    # it is exactly the connectivity of nn.Conv2d(groups=3)
    conv = torch.nn.Conv2d(12, 6, 1, groups=3, bias=False)
    torch.nn.init.ones_(conv.weight)
    jac = torch.autograd.functional.jacobian(lambda x: conv(x.view(1, 12, 1, 1)).flatten(), torch.randn(12))
    assert torch.equal(jac != 0, expected)


def test_block_graph_structure():
    base = random_expander(5, 4, 2, seed=1)
    g = block_graph(base, 3)
    assert (g.num_inputs, g.num_outputs, g.degree, g.block_size) == (15, 12, 6, 3)
    expected = torch.kron(base.to_dense().int(), torch.ones(3, 3, dtype=torch.int)).bool()
    assert torch.equal(g.to_dense(), expected)
    assert detect_block_size(g.neighbors, g.num_inputs) % 3 == 0
    assert detect_block_size(random_expander(64, 64, 16, seed=0).neighbors, 64) == 1
    # density and spectral gap are those of the base graph
    assert g.density == pytest.approx(base.density)
    assert spectral_gap(g) == pytest.approx(spectral_gap(base), abs=1e-9)
    bx = block_expander(32, 16, 8, 4, seed=0)
    assert bx.block_size == 4 and bx.degree == 8


def test_cayley_and_paley_are_explicit_expanders():
    p = paley_graph(13)
    assert p.degree == 6 and p == paley_graph(13)  # deterministic
    qr = sorted({(i * i) % 13 for i in range(1, 13)})
    assert p.neighbors[0].tolist() == qr
    s = np.linalg.svd(p.to_dense().double().numpy(), compute_uv=False)
    assert s[0] == pytest.approx(6)
    assert s[1] == pytest.approx((1 + math.sqrt(13)) / 2)  # Paley eigenvalues
    assert s[1] <= 2 * math.sqrt(p.degree - 1)  # Ramanujan
    c = cayley_expander(257, 64)
    assert (c.input_degrees() == 64).all() and spectral_gap(c) > 0.5


@pytest.mark.parametrize(
    "make",
    [
        lambda: random_expander(12, 9, 4, seed=2),
        lambda: balanced_expander(12, 9, 4, seed=2),
        lambda: grouped_graph(12, 9, 3),
        lambda: block_graph(random_expander(4, 3, 2, seed=0), 3),
        lambda: paley_graph(13),
    ],
)
def test_spectral_gap_matches_numpy_svd(make):
    g = make()
    s = np.linalg.svd(g.to_dense().double().numpy(), compute_uv=False)
    assert spectral_gap(g) == pytest.approx(1 - s[1] / s[0], abs=1e-9)


def test_spectral_gap_orders_x_above_g():
    assert spectral_gap(grouped_graph(64, 64, 4)) == pytest.approx(0.0, abs=1e-9)
    assert spectral_gap(random_expander(64, 64, 16, seed=0)) > 0.4
    assert spectral_gap(random_expander(4, 4, 4)) == pytest.approx(1.0)  # complete graph


def test_theorem1_depth_x_vs_g():
    n, d = 256, 16
    x_depth = sensitivity_depth(lambda t: balanced_expander(n, n, d, seed=t), max_depth=20)
    assert x_depth is not None and x_depth <= 2 * math.ceil(math.log(n) / math.log(d)) + 1
    assert x_depth >= math.ceil(math.log(n) / math.log(d))  # a path needs degree^depth >= n
    assert sensitivity_depth(lambda t: grouped_graph(n, n, n // d), max_depth=20) is None
    assert sensitivity_depth([random_expander(n, n, d, seed=t) for t in range(10)]) is not None
    prof = sensitivity_profile([grouped_graph(n, n, 16)] * 3)
    assert prof == pytest.approx([1 / 16] * 3)


def test_sensitivity_depth_exact_small_cases():
    assert sensitivity_depth([random_expander(5, 5, 5)]) == 1  # dense layer
    # a cycle-like shift graph of degree 2 on 8 nodes needs 7 layers
    shift = BipartiteGraph(torch.stack([torch.arange(8), (torch.arange(8) + 1) % 8], 1), 8)
    assert sensitivity_depth([shift] * 10) == 7
    assert sensitivity_depth([shift] * 6) is None
    with pytest.raises(ValueError, match="graphs"):
        sensitivity_depth([random_expander(4, 5, 2), random_expander(4, 4, 2)])


def test_theorem2_mixing_x_vs_g():
    x = random_expander(256, 256, 64, seed=0)
    g = grouped_graph(256, 256, 4)
    assert mixing_deviation(x, sets="intervals") < 0.2
    assert mixing_deviation(g, sets="intervals") > 1.0  # some intervals of G share no edge
    assert mixing_deviation(x) < 0.2
    full = random_expander(16, 16, 16)
    assert mixing_deviation(full) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: random_expander(8, 8, 0), "degree"),
        (lambda: random_expander(8, 8, 9), "degree"),
        (lambda: random_expander(0, 8, 1), "num_inputs"),
        (lambda: balanced_expander(8, 8, 9), "degree"),
        (lambda: grouped_graph(8, 6, 4), "groups"),
        (lambda: cayley_expander(15, 7), "p"),
        (lambda: cayley_expander(13, 5), "degree"),
        (lambda: paley_graph(7), "p"),
        (lambda: block_graph(random_expander(4, 4, 2), 0), "block_size"),
        (lambda: block_expander(30, 32, 8, 4), "num_inputs"),
        (lambda: BipartiteGraph(torch.tensor([[0, 0]]), 3), "neighbors"),
        (lambda: BipartiteGraph(torch.tensor([[0, 3]]), 3), "neighbors"),
        (lambda: mixing_deviation(random_expander(4, 4, 2), set_fraction=0), "set_fraction"),
        (lambda: random_expander(8, 4, 5, regular="input"), "degree"),  # at most num_outputs
        (lambda: random_expander(8, 4, 2, regular="both"), "regular"),
        (lambda: authors_expander(4, 8, 9), "degree"),
        (lambda: authors_expander(0, 8, 1), "num_inputs"),
        (lambda: BipartiteGraph(torch.tensor([[0, 1]]), 1, side="input"), "num_outputs"),
        (lambda: BipartiteGraph(torch.tensor([[0, 1]]), 2, side="input", num_outputs=2), "neighbors"),  # rows
        (lambda: BipartiteGraph(torch.tensor([[0, 2]]), 1, side="input", num_outputs=2), "neighbors"),  # range
        (lambda: BipartiteGraph(torch.tensor([[0.0, 1.0]]), 3), "neighbors"),  # float indices
        (lambda: BipartiteGraph(torch.tensor([[0, 1]]), 3, side="left"), "side"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        call()


def test_cli_prints_x_vs_g(capsys):
    from xnet.graphs.__main__ import main

    main(["--sizes", "64", "--compressions", "4", "--max-depth", "6"])
    out = capsys.readouterr().out
    g_row = next(line for line in out.splitlines() if "G-Conv" in line)
    x_row = next(line for line in out.splitlines() if "X balanced" in line)
    a_row = next(line for line in out.splitlines() if "X authors" in line)
    assert a_row.split()[6].isdigit()
    assert ">6" in g_row.split() and "0.000" in g_row.split()
    assert x_row.split()[6].isdigit()  # a finite depth


@settings(max_examples=40, deadline=None)
@given(graph_args())
def test_input_regular_expander_has_distinct_outputs_per_input(args):
    n, m, d, seed = args
    d = min(d, m)
    g = random_expander(n, m, d, seed=seed, regular="input")
    dense = g.to_dense()
    assert g.side == "input" and g.neighbors.shape == (n, d)
    assert (g.num_inputs, g.num_outputs, g.degree, g.num_edges) == (n, m, d, n * d)
    assert dense.shape == (m, n) and (dense.sum(0) == d).all()  # each input: exactly D distinct outputs
    assert torch.equal(g.input_degrees(), dense.sum(0)) and torch.equal(g.output_degrees(), dense.sum(1))
    assert g.density == pytest.approx(d / m) and int(dense.sum()) == g.num_edges
    assert g == random_expander(n, m, d, seed=seed, regular="input")  # reproducible from the seed
    for row in g.neighbors.tolist():
        assert row == sorted(set(row))


def test_authors_expander_follows_their_rule():
    # ExpanderConv2d / ExpanderLinear: outputs draw inputs only if in > out (strictly)
    wide = authors_expander(64, 256, 32, seed=1)
    assert wide.side == "input" and (wide.input_degrees() == 32).all() and wide.density == pytest.approx(1 / 8)
    assert wide.output_degrees().float().std() > 0  # output degrees vary
    square = authors_expander(32, 32, 8, seed=1)
    assert square.side == "input" and (square.input_degrees() == 8).all()
    narrow = authors_expander(256, 64, 128, seed=1)
    assert narrow.side == "output" and (narrow.output_degrees() == 128).all()
    assert narrow == random_expander(256, 64, 128, seed=1) and narrow.density == pytest.approx(0.5)
    assert authors_expander(64, 256, 32, seed=1) == wide and authors_expander(64, 256, 32, seed=2) != wide
    torch.manual_seed(1)  # independent of the global RNG
    assert authors_expander(64, 256, 32, seed=1) == wide
    # the pinned draw: a change of it is noticed
    assert authors_expander(3, 5, 2, seed=0).neighbors.tolist() == [[0, 1], [0, 2], [0, 1]]


def test_input_regular_graph_equality_and_side():
    a = random_expander(6, 6, 2, seed=0)
    b = BipartiteGraph(a.neighbors, 6, side="input", num_outputs=6)
    assert a != b and torch.equal(a.to_dense(), b.to_dense().t())  # the same table, transposed graph
    assert "input-regular" in repr(b) and "input-regular" not in repr(a)
    blk = block_graph(random_expander(3, 5, 2, seed=0, regular="input"), 4)
    assert blk.side == "input" and (blk.num_inputs, blk.num_outputs, blk.degree) == (12, 20, 8)
    assert (blk.input_degrees() == 8).all() and detect_block_size(blk.neighbors, blk.num_outputs) == 4


def test_diagnostics_on_input_regular_graphs():
    g = authors_expander(64, 128, 16, seed=0)
    s = np.linalg.svd(g.to_dense().double().numpy(), compute_uv=False)
    assert spectral_gap(g) == pytest.approx(1 - s[1] / s[0], abs=1e-9) and spectral_gap(g) > 0.3
    assert mixing_deviation(g) < 0.3  # e(S, T) near E |S||T| / (n m)
    full = random_expander(8, 12, 12, regular="input")
    assert mixing_deviation(full) == pytest.approx(0.0)
    depth = sensitivity_depth(lambda t: authors_expander(64, 64, 8, seed=t), max_depth=10)
    assert depth is not None and depth >= 2
    assert sensitivity_profile([authors_expander(16, 16, 16)]) == [1.0]
