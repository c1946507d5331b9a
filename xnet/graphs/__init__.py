"""Expander graphs for X-layers, and connectivity diagnostics (Theorems 1 and 2 of the paper)."""

from .bipartite import SIDES, BipartiteGraph
from .constructions import (
    authors_expander,
    balanced_expander,
    block_expander,
    block_graph,
    cayley_expander,
    detect_block_size,
    grouped_graph,
    paley_graph,
    random_expander,
)
from .diagnostics import mixing_deviation, sensitivity_depth, sensitivity_profile, singular_values, spectral_gap

__all__ = [
    "BipartiteGraph",
    "SIDES",
    "random_expander",
    "authors_expander",
    "balanced_expander",
    "grouped_graph",
    "cayley_expander",
    "paley_graph",
    "block_graph",
    "block_expander",
    "detect_block_size",
    "spectral_gap",
    "singular_values",
    "sensitivity_depth",
    "sensitivity_profile",
    "mixing_deviation",
]
