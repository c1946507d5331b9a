"""Connectivity diagnostics of X-layer graphs (Section 3.3-3.4 of the paper).

- :func:`spectral_gap`: ``1 - s2/s1`` of the bi-adjacency's singular values (the paper's gamma).
- :func:`sensitivity_depth`: Theorem 1, how many stacked layers until every output depends on
  every input.
- :func:`mixing_deviation`: Theorem 2, how far edge counts ``e(S, T)`` stray from ``D|S||T|/n``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .bipartite import BipartiteGraph


def _check_graph(g) -> BipartiteGraph:
    if not isinstance(g, BipartiteGraph):
        raise ValueError(f"g: expected a BipartiteGraph, got {type(g).__name__}")
    return g


def singular_values(g: BipartiteGraph) -> torch.Tensor:
    """Singular values of the bi-adjacency matrix, largest first (float64)."""
    return torch.linalg.svdvals(_check_graph(g).to_dense().double())


def spectral_gap(g: BipartiteGraph) -> float:
    """The paper's gamma: ``1 - s2 / s1`` for the two largest singular values of the bi-adjacency.

    For a D-regular bipartite graph ``s1 = D`` and ``s2`` is the largest non-trivial eigenvalue in
    absolute value, so this is ``1 - lambda / D`` of Section 3.2.  A disconnected graph (G-Conv
    with groups > 1) has ``s2 = s1`` and gap 0.  Graphs regular on the input side only work too.
    """
    s = singular_values(g)
    if len(s) < 2 or float(s[0]) == 0.0:
        return 0.0
    return float(1.0 - s[1] / s[0])


def _layers(graphs, max_depth: int):
    if callable(graphs):
        for t in range(max_depth):
            yield graphs(t)
    else:
        for t, g in enumerate(graphs):
            if t >= max_depth:
                return
            yield g


def sensitivity_profile(
    graphs: Sequence[BipartiteGraph] | Callable[[int], BipartiteGraph], max_depth: int = 64
) -> list[float]:
    """Fraction of (output, input) pairs connected by a path after 1, 2, ... stacked layers.

    ``graphs`` is a list of graphs (layer t maps the outputs of layer t-1) or a callable
    ``t -> graph`` that draws layer ``t``; at most ``max_depth`` layers are stacked, and the profile
    stops at the first layer that reaches 1.0.
    """
    reach = None  # (outputs of layer t, inputs of layer 0), 1.0 where a path exists
    profile = []
    prev = None
    for t, g in enumerate(_layers(graphs, max_depth)):
        a = _check_graph(g).to_dense().float()
        if reach is None:
            reach = a
        else:
            if g.num_inputs != reach.shape[0]:
                raise ValueError(
                    f"graphs: layer {t} has {g.num_inputs} inputs but layer {t - 1} has {reach.shape[0]} outputs"
                )
            new = ((a @ reach) > 0).float()
            if g == prev and torch.equal(new, reach):
                # the same graph again changed nothing: a fixed point, later layers repeat it
                total = max_depth if callable(graphs) else min(max_depth, len(graphs))
                profile.extend([profile[-1]] * (total - len(profile)))
                break
            reach = new
        prev = g
        profile.append(float(reach.mean()))
        if profile[-1] == 1.0:
            break
    return profile


def sensitivity_depth(
    graphs: Sequence[BipartiteGraph] | Callable[[int], BipartiteGraph], max_depth: int = 64
) -> int | None:
    """Theorem 1: the number of stacked layers until every output depends on every input.

    ``graphs`` is a list of graphs or a callable ``t -> graph`` drawing layer ``t`` (e.g.
    ``lambda t: random_expander(n, n, d, seed=t)``).  Returns the smallest depth at which all
    (output, input) pairs are joined by a path, or ``None`` if that never happens within the given
    layers / ``max_depth`` (a G-Conv stack without a shuffle never gets there).  For expanders it is
    ``O(log n)``.
    """
    profile = sensitivity_profile(graphs, max_depth)
    return len(profile) if profile and profile[-1] == 1.0 else None


def mixing_deviation(
    g: BipartiteGraph,
    set_fraction: float = 0.25,
    num_samples: int = 200,
    seed: int | None = 0,
    sets: str = "random",
    reduce: str = "max",
) -> float:
    """Theorem 2: relative deviation of the edge count ``e(S, T)`` from ``E |S| |T| / (n m)``.

    ``E`` is the number of edges, ``n`` / ``m`` the numbers of inputs / outputs: for an
    output-regular graph of degree D that is the paper's ``D |S| |T| / n``; it holds for
    input-regular graphs too.

    Draws ``num_samples`` pairs (S inputs, T outputs) of sizes ``set_fraction * n`` and returns the
    ``max`` (or ``mean``) over samples of ``|e(S, T) - E|S||T|/(nm)| / (E|S||T|/(nm))``.
    ``sets="random"`` draws uniform subsets; ``sets="intervals"`` draws runs of consecutive
    channels (where the block structure of G-Conv shows: some intervals share no edge).
    The expander mixing lemma bounds the absolute deviation by ``s2 * sqrt(|S||T|)``.
    """
    _check_graph(g)
    if not 0.0 < set_fraction <= 1.0:
        raise ValueError(f"set_fraction: must be in (0, 1], got {set_fraction!r}")
    if sets not in ("random", "intervals"):
        raise ValueError(f"sets: must be 'random' or 'intervals', got {sets!r}")
    if reduce not in ("max", "mean"):
        raise ValueError(f"reduce: must be 'max' or 'mean', got {reduce!r}")
    gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
    n, m = g.num_inputs, g.num_outputs
    s_size, t_size = max(1, round(set_fraction * n)), max(1, round(set_fraction * m))
    a = g.to_dense().double()
    s_ind = torch.zeros(num_samples, n, dtype=torch.double)
    t_ind = torch.zeros(num_samples, m, dtype=torch.double)
    for i in range(num_samples):
        if sets == "random":
            s_ind[i, torch.randperm(n, generator=gen)[:s_size]] = 1
            t_ind[i, torch.randperm(m, generator=gen)[:t_size]] = 1
        else:
            s_ind[i, (int(torch.randint(n, (1,), generator=gen)) + torch.arange(s_size)) % n] = 1
            t_ind[i, (int(torch.randint(m, (1,), generator=gen)) + torch.arange(t_size)) % m] = 1
    edges = ((t_ind @ a) * s_ind).sum(1)  # e(S, T) = 1_T^T A 1_S
    expected = g.num_edges * s_size * t_size / (n * m)
    devs = (edges - expected).abs() / expected
    return float(devs.max() if reduce == "max" else devs.mean())
