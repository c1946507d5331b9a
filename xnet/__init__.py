"""xnet: Deep Expander Networks (Prabhu, Varma, Namboodiri, ECCV 2018), reproduced.

Importing ``xnet`` loads nothing heavy (``import xnet.results`` works without torch); the parts
live in subpackages: ``xnet.graphs``, ``xnet.nn``, ``xnet.models``, ``xnet.counting`` (``profile``),
``xnet.results``, ...
"""

__version__ = "0.1.0"
