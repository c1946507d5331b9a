"""Graph constructions for X-layers.

- :func:`random_expander`: the paper's random bipartite expander (Section 3.2); with
  ``regular="input"`` every input draws its outputs instead.
- :func:`authors_expander`: the graph the authors' released code draws (output-regular if
  ``in > out``, input-regular otherwise).
- :func:`balanced_expander`: the same, but also balanced on the input side (a union of matchings).
- :func:`grouped_graph`: the G-Conv graph (block diagonal), so X and G compare as graphs.
- :func:`paley_graph` / :func:`cayley_expander`: explicit, deterministic expanders (Cayley graphs of
  the cyclic group Z_p; the Paley graph's bipartite double cover is Ramanujan).
- :func:`block_graph` / :func:`block_expander`: every vertex a block of ``b`` channels, every edge a
  dense ``b x b`` block, which GEMM-friendly kernels exploit.

Every construction draws from its own CPU ``torch.Generator`` seeded with ``seed``, so the same seed
gives the same graph on every machine and device.
"""

from __future__ import annotations

import math
import operator

import torch

from .bipartite import BipartiteGraph

SEED_RANGE = (-(2**63), 2**64)  # what torch.Generator.manual_seed accepts


def _generator(seed: int | None) -> torch.Generator:
    if seed is None:
        seed = 0
    try:
        value = operator.index(seed)
    except TypeError:
        value = None
    if value is None or isinstance(seed, bool) or not SEED_RANGE[0] <= value < SEED_RANGE[1]:
        raise ValueError(f"seed: must be an integer in [-2**63, 2**64), got {seed!r}")
    g = torch.Generator()
    g.manual_seed(value)
    return g


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")
    return value


def _check_degree(degree, limit: int, limit_name: str = "num_inputs") -> int:
    if isinstance(degree, bool) or not isinstance(degree, int) or not 1 <= degree <= limit:
        raise ValueError(f"degree: must be an integer between 1 and {limit_name}={limit}, got {degree!r}")
    return degree


def _check_regular(regular) -> str:
    if regular not in ("output", "input"):
        raise ValueError(f"regular: must be 'output' or 'input', got {regular!r}")
    return regular


# The draw of :func:`random_expander`: every row of the table is the ``degree`` largest of
# ``num_cols`` uniform scores (a uniformly random ``degree``-subset).  Drawn row chunk by row
# chunk (the generator's stream is the same as for one dense draw, so the graphs of every seed
# are those of the original ``torch.rand(rows, cols).topk(degree)``) while the score matrix is
# small (``rows * cols <= EXACT_DRAW_LIMIT``, every layer of the model zoo) or the degree is a
# large fraction of ``cols`` (then the scores are O(edges) anyway).  Above that, a sparse draw of
# O(edges) memory and time: ``degree`` random indices per row, duplicates redrawn until the row
# is distinct (still a uniformly random subset: the procedure commutes with relabelling the
# columns), but not the graph the dense draw would give for that seed.
EXACT_DRAW_LIMIT = 2**26  # scores (67M: the largest zoo layer, AlexNet's 9216 x 4096 fc, has 38M)
_CHUNK_SCORES = 2**22  # scores drawn at once by the exact draw (16 MiB)
_SPARSE_BELOW = 8  # the sparse draw is used when degree < cols / 8 (few duplicates to redraw)


def _distinct_rows(rows: int, cols: int, degree: int, gen: torch.Generator) -> torch.Tensor:
    """A ``(rows, degree)`` table, every row ``degree`` distinct columns drawn uniformly (see above)."""
    if rows * cols <= EXACT_DRAW_LIMIT or degree * _SPARSE_BELOW >= cols:
        step = max(1, _CHUNK_SCORES // cols)
        parts = [
            torch.rand(min(step, rows - r), cols, generator=gen).topk(degree, dim=1).indices
            for r in range(0, rows, step)
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts)
    table = torch.randint(cols, (rows, degree), generator=gen)
    todo = torch.arange(rows)
    while todo.numel():
        sub = table[todo].sort(dim=1).values
        dup = torch.zeros_like(sub, dtype=torch.bool)
        dup[:, 1:] = sub[:, 1:] == sub[:, :-1]
        sub[dup] = torch.randint(cols, (int(dup.sum()),), generator=gen)
        table[todo] = sub
        todo = todo[dup.any(dim=1)]
    return table


def random_expander(
    num_inputs: int, num_outputs: int, degree: int, seed: int | None = 0, regular: str = "output"
) -> BipartiteGraph:
    """The paper's random bipartite expander (Section 3.2).

    ``regular="output"`` (the paper): every output picks ``degree`` distinct inputs uniformly at
    random (``degree <= num_inputs``).  ``regular="input"``: every input picks ``degree``
    distinct outputs (``degree <= num_outputs``), so output degrees vary and the density is
    ``degree / num_outputs``.  The draw uses its own CPU generator seeded with ``seed``, so the
    same seed gives the same graph on every machine.  Memory and time are O(edges) for large
    sparse layers (``XLinear(100000, 100000, degree=8)``: no dense score matrix is drawn); layers
    with at most :data:`EXACT_DRAW_LIMIT` connections get the graphs of xnet's original dense draw.
    """
    _check_size("num_inputs", num_inputs)
    _check_size("num_outputs", num_outputs)
    _check_regular(regular)
    gen = _generator(seed)
    if regular == "output":
        _check_degree(degree, num_inputs)
        return BipartiteGraph(_distinct_rows(num_outputs, num_inputs, degree, gen), num_inputs, name="random")
    _check_degree(degree, num_outputs, "num_outputs")
    return BipartiteGraph(
        _distinct_rows(num_inputs, num_outputs, degree, gen),
        num_inputs,
        name="random",
        side="input",
        num_outputs=num_outputs,
    )


def authors_expander(num_inputs: int, num_outputs: int, degree: int, seed: int | None = 0) -> BipartiteGraph:
    """The graph of the authors' released X-layer (``expandSize`` = ``degree``).

    ``ExpanderConv2d`` / ``ExpanderLinear`` (``code/models/layers/expandergraphlayer.py:140-149``
    and ``:63-72``) let every output draw ``degree`` distinct inputs when ``in > out`` (strictly),
    and otherwise let every *input* draw ``degree`` distinct outputs.  So this is
    :func:`random_expander` with ``regular="output"`` if ``num_inputs > num_outputs`` and
    ``regular="input"`` otherwise (density ``degree / num_outputs``).  Same seed, same graph (own
    CPU generator); the authors' masks came from the global RNG and are not reproduced bit for bit.
    """
    _check_size("num_inputs", num_inputs)
    _check_size("num_outputs", num_outputs)
    regular = "output" if num_inputs > num_outputs else "input"
    g = random_expander(num_inputs, num_outputs, degree, seed=seed, regular=regular)
    return BipartiteGraph(g.neighbors, num_inputs, name="authors", side=g.side, num_outputs=num_outputs)


def balanced_expander(num_inputs: int, num_outputs: int, degree: int, seed: int | None = 0) -> BipartiteGraph:
    """A random expander that is also balanced on the input side.

    Every output has ``degree`` distinct inputs and every input feeds either ``floor`` or ``ceil`` of
    ``num_outputs * degree / num_inputs`` outputs (input degrees differ by at most one).  Outputs
    are taken one by one and each picks the ``degree`` inputs with the most remaining quota, ties
    broken uniformly at random (Ryser's greedy construction, which always succeeds for these
    degree sequences).  Each pass over the inputs is thus a random partition of them, and with
    ``num_inputs == num_outputs`` the graph is a union of ``degree`` random matchings, i.e.
    ``degree``-regular on both sides.
    """
    _check_size("num_inputs", num_inputs)
    _check_size("num_outputs", num_outputs)
    _check_degree(degree, num_inputs)
    gen = _generator(seed)
    n, m = num_inputs, num_outputs
    base, extra = divmod(m * degree, n)
    quota = torch.full((n,), float(base))
    quota[torch.randperm(n, generator=gen)[:extra]] += 1
    rows = []
    for _ in range(m):
        # ties < 1 order only inputs of equal quota; drawn a row at a time (the same stream as one
        # (m, n) draw, so the same graphs, in O(n) memory; the time stays O(m * n))
        ties = torch.rand(n, generator=gen) * 0.5
        pick = (quota + ties).topk(degree).indices
        quota[pick] -= 1
        rows.append(pick)
    if bool((quota != 0).any()):  # pragma: no cover - impossible by Gale-Ryser
        raise RuntimeError("balanced_expander: quota not exhausted")
    return BipartiteGraph(torch.stack(rows), n, name="balanced")


def grouped_graph(num_inputs: int, num_outputs: int, groups: int) -> BipartiteGraph:
    """The G-Conv graph: block diagonal with ``groups`` blocks, as ``nn.Conv2d(groups=...)``."""
    _check_size("num_inputs", num_inputs)
    _check_size("num_outputs", num_outputs)
    bad = isinstance(groups, bool) or not isinstance(groups, int) or groups < 1
    if bad or num_inputs % groups or num_outputs % groups:
        raise ValueError(f"groups: must divide num_inputs={num_inputs} and num_outputs={num_outputs}, got {groups!r}")
    d = num_inputs // groups
    group_of_output = torch.arange(num_outputs) // (num_outputs // groups)
    neighbors = group_of_output[:, None] * d + torch.arange(d)[None, :]
    return BipartiteGraph(neighbors, num_inputs, name="grouped")


def _is_prime(p: int) -> bool:
    return p >= 2 and all(p % q for q in range(2, int(p**0.5) + 1))


def _primitive_root(p: int) -> int:
    phi = p - 1
    factors = {q for q in range(2, phi + 1) if phi % q == 0 and _is_prime(q)}
    for g in range(2, p):
        if all(pow(g, phi // q, p) != 1 for q in factors):
            return g
    return 1  # p == 2


def cayley_expander(p: int, degree: int) -> BipartiteGraph:
    """Explicit expander: the Cayley graph of Z_p generated by the subgroup of order ``degree`` of F_p^*.

    Output ``v`` is connected to inputs ``v + s (mod p)`` for every ``s`` in the multiplicative
    subgroup ``S = {g^(k*i)}`` of order ``degree`` (``k = (p-1)/degree``, ``g`` a primitive root).
    This is the *generalized Paley graph* (cyclotomic graph); its bipartite double cover has
    singular values given by Gauss periods, at most about ``(k-1) sqrt(p) / k + 1``, so it is a
    near-Ramanujan expander for small ``k`` (``k = 2`` is the Paley graph, see :func:`paley_graph`).
    Deterministic: no seed.  Requires ``p`` prime and ``degree`` dividing ``p - 1``; it is
    input-regular and a union of ``degree`` cyclic shifts.

    References: R. E. A. C. Paley, *On orthogonal matrices*, J. Math. Phys. 12 (1933);
    T. K. Lim and C. E. Praeger, *On generalised Paley graphs and their automorphism groups*,
    Michigan Math. J. 58 (2009); F. Chung, *Spectral Graph Theory* (1997), Ch. 1 (Cayley graphs).
    """
    if isinstance(p, bool) or not isinstance(p, int) or not _is_prime(p):
        raise ValueError(f"p: must be a prime number, got {p!r}")
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1 or (p - 1) % degree:
        raise ValueError(f"degree: must divide p-1={p - 1}, got {degree!r}")
    k = (p - 1) // degree
    g = _primitive_root(p)
    gens = torch.tensor(sorted(pow(g, k * i, p) for i in range(degree)), dtype=torch.long)
    neighbors = (torch.arange(p)[:, None] + gens[None, :]) % p
    return BipartiteGraph(neighbors, p, name=f"cayley(Z_{p})")


def paley_graph(p: int) -> BipartiteGraph:
    """Bipartite double cover of the Paley graph on Z_p (p prime, p = 1 mod 4), degree (p-1)/2.

    Output ``v`` is connected to inputs ``v + r`` for every nonzero quadratic residue ``r``.  Its
    non-trivial singular values are ``(1 +- sqrt(p)) / 2``, below the Ramanujan bound
    ``2 sqrt(D - 1)``, so it is a bipartite Ramanujan graph.

    References: R. E. A. C. Paley, *On orthogonal matrices*, J. Math. Phys. 12 (1933); A. Lubotzky,
    R. Phillips, P. Sarnak, *Ramanujan graphs*, Combinatorica 8 (1988) for the Ramanujan bound.
    """
    if isinstance(p, bool) or not isinstance(p, int) or not _is_prime(p) or p % 4 != 1:
        raise ValueError(f"p: must be a prime with p % 4 == 1, got {p!r}")
    graph = cayley_expander(p, (p - 1) // 2)
    return BipartiteGraph(graph.neighbors, p, name=f"paley({p})")


def block_graph(graph: BipartiteGraph, block_size: int) -> BipartiteGraph:
    """Blow every vertex of ``graph`` up into ``block_size`` channels and every edge into a dense block.

    Output channel ``o * b + i`` sees input channels ``u * b + j`` for every neighbour ``u`` of
    ``o`` and every ``j < b``: sizes and degree grow by ``b``, the density (1/compression) and the
    spectral gap stay those of ``graph``.  The result is coarser (channels in a block share their
    inputs) but maps onto dense GEMMs / one grouped convolution.  An input-regular graph stays
    input-regular (its table lists outputs, and the roles above swap).
    """
    if not isinstance(graph, BipartiteGraph):
        raise ValueError(f"graph: expected a BipartiteGraph, got {type(graph).__name__}")
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size: must be a positive integer, got {block_size!r}")
    b = block_size
    nb = graph.neighbors  # (O, D)
    chans = (nb[:, :, None] * b + torch.arange(b)).reshape(nb.shape[0], -1)  # (O, D*b)
    neighbors = chans.repeat_interleave(b, dim=0)
    return BipartiteGraph(
        neighbors,
        graph.num_inputs * b,
        block_size=graph.block_size * b,
        name=f"block{b}({graph.name})",
        side=graph.side,
        num_outputs=graph.num_outputs * b,
    )


def block_expander(
    num_inputs: int, num_outputs: int, degree: int, block_size: int, seed: int | None = 0, balanced: bool = False
) -> BipartiteGraph:
    """A random (or balanced) expander on blocks of ``block_size`` channels, made a channel graph.

    ``num_inputs``, ``num_outputs`` and ``degree`` are in channels and must be multiples of
    ``block_size``.  Same parameters and FLOPs as the channel-level expander of that degree, but
    the graph is coarser: it is an expander on ``num_inputs / block_size`` vertices.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size: must be a positive integer, got {block_size!r}")
    for name, v in (("num_inputs", num_inputs), ("num_outputs", num_outputs), ("degree", degree)):
        _check_size(name, v)
        if v % block_size:
            raise ValueError(f"{name}: {v} is not a multiple of block_size={block_size}")
    _check_degree(degree, num_inputs)
    make = balanced_expander if balanced else random_expander
    base = make(num_inputs // block_size, num_outputs // block_size, degree // block_size, seed=seed)
    return block_graph(base, block_size)


def detect_block_size(neighbors: torch.Tensor, num_inputs: int) -> int:
    """The largest ``b`` for which the ``(rows, D)`` table is a block graph (1 if none).

    ``num_inputs`` is the number of columns the table indexes: inputs for an output-regular
    table, outputs for an input-regular one.
    """
    nb = torch.as_tensor(neighbors).cpu()
    out, d = nb.shape
    # Any block graph has rows 0 and 1 equal and starts with two consecutive inputs: random
    # channel-level graphs fail this at once, which keeps layer construction cheap.
    if out < 2 or d < 2 or not torch.equal(nb[0], nb[1]) or int(nb[0, 1]) != int(nb[0, 0]) + 1:
        return 1
    g = math.gcd(math.gcd(out, d), num_inputs)
    for b in sorted((b for b in range(2, g + 1) if g % b == 0), reverse=True):
        rows = nb.view(out // b, b, d)
        if not bool((rows == rows[:, :1]).all()):
            continue
        blocks = nb.view(out, d // b, b)
        if bool((blocks[..., 0] % b == 0).all()) and bool((blocks == blocks[..., :1] + torch.arange(b)).all()):
            return b
    return 1
