"""xnet: Deep Expander Networks (Prabhu, Varma, Namboodiri, ECCV 2018), reproduced."""
__version__ = "0.1.0"
