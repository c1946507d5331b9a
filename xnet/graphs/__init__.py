"""Expander graphs for X-layers, and connectivity diagnostics (Theorems 1 and 2 of the paper)."""
from .bipartite import BipartiteGraph
from .constructions import grouped_graph, random_expander

__all__ = ["BipartiteGraph", "random_expander", "grouped_graph"]
