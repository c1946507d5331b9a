"""``python -m xnet.graphs``: X (random expander) graphs vs G-Conv graphs of equal degree.

For a few sizes n and compressions C (degree D = n / C; "X authors" is the input-regular graph that
the authors' code draws when in <= out) it prints the spectral gap (gamma), the
Theorem 1 sensitivity depth of a stack of freshly drawn layers (G-Conv stacks never get there
without a channel shuffle) and the Theorem 2 mixing deviation over random and interval sets.  Bad arguments: one line
(``xnet: error: ...``), exit status 2.
"""

from __future__ import annotations

import math
import time

import torch

from ..arguments import OneLineParser, positive_int
from . import (
    authors_expander,
    balanced_expander,
    block_expander,
    cayley_expander,
    grouped_graph,
    mixing_deviation,
    random_expander,
    sensitivity_depth,
    spectral_gap,
)


def rows(sizes, compressions, max_depth):
    for n in sizes:
        for c in compressions:
            d = n // c
            kinds = {
                "X random": (lambda t, n=n, d=d: random_expander(n, n, d, seed=t)),
                "X balanced": (lambda t, n=n, d=d: balanced_expander(n, n, d, seed=t)),
                # the authors' rule at in == out: every input draws its D outputs
                "X authors": (lambda t, n=n, d=d: authors_expander(n, n, d, seed=t)),
                "X block8": (lambda t, n=n, d=d: block_expander(n, n, d, 8, seed=t)),
                "G-Conv": (lambda t, n=n, c=c: grouped_graph(n, n, c)),
            }
            if d % 8:
                del kinds["X block8"]
            for name, draw in kinds.items():
                g = draw(0)
                depth = sensitivity_depth(draw, max_depth=max_depth)
                yield (
                    n,
                    c,
                    d,
                    name,
                    spectral_gap(g),
                    depth,
                    mixing_deviation(g, num_samples=100),
                    mixing_deviation(g, num_samples=100, sets="intervals"),
                )


def parser() -> OneLineParser:
    ap = OneLineParser(prog="python -m xnet.graphs", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=positive_int, nargs="+", default=[64, 256, 1024], metavar="N")
    ap.add_argument(
        "--compressions",
        type=positive_int,
        nargs="+",
        default=[4, 16],
        metavar="C",
        help="each must divide every size, leaving a degree D = N / C >= 2",
    )
    ap.add_argument("--max-depth", type=positive_int, default=12)
    ap.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch threads (default 1: the small SVDs get no faster with more, and on a "
        "busy machine multi-threaded LAPACK can be 50x slower)",
    )
    return ap


def parse(argv=None):
    """The parsed arguments; a combination that cannot be drawn is a one-line error, exit status 2."""
    ap = parser()
    args = ap.parse_args(argv)
    for n in args.sizes:
        if n < 4:  # the mixing deviation samples sets of n / 4 vertices
            ap.error(f"argument --sizes: must be at least 4, got {n}")
        for c in args.compressions:
            if n % c:
                ap.error(f"argument --compressions: {c} does not divide --sizes {n} (degree D = N / C)")
            if n // c < 2:  # log_D n is printed
                ap.error(f"argument --compressions: {c} leaves degree {n // c} at --sizes {n} (D = N / C must be >= 2)")
    return args


def main(argv=None):
    args = parse(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        t0 = time.time()
        print(
            f"{'n':>5} {'C':>3} {'D':>4}  {'graph':<11} {'gap':>6} {'depth':>7} {'log_D n':>7} "
            f"{'mix(rand)':>9} {'mix(intv)':>9}"
        )
        for n, c, d, name, gap, depth, mix_r, mix_i in rows(args.sizes, args.compressions, args.max_depth):
            dep = str(depth) if depth is not None else f">{args.max_depth}"
            print(
                f"{n:>5} {c:>3} {d:>4}  {name:<11} {gap:>6.3f} {dep:>7} {math.log(n) / math.log(d):>7.2f} "
                f"{mix_r:>9.3f} {mix_i:>9.3f}"
            )
        p = 257
        for d in (128, 64, 16):
            g = cayley_expander(p, d)
            depth = sensitivity_depth([g] * args.max_depth)
            dep = str(depth) if depth is not None else f">{args.max_depth}"
            print(
                f"{p:>5} {(p - 1) // d:>3} {d:>4}  {'X cayley':<11} {spectral_gap(g):>6.3f} "
                f"{dep:>7} {math.log(p) / math.log(d):>7.2f} "
                f"{mixing_deviation(g, num_samples=100):>9.3f} "
                f"{mixing_deviation(g, num_samples=100, sets='intervals'):>9.3f}"
            )
        print(
            "gap: 1 - s2/s1 (paper's gamma); depth: stacked layers (random ones freshly drawn, Cayley repeated) "
            "until every output\nsees every input (Theorem 1); mix: max relative deviation of e(S,T) "
            "from D|S||T|/n over 100 "
            f"set pairs of size n/4 (Theorem 2).  [{time.time() - t0:.1f}s]"
        )
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
