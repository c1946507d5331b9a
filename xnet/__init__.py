"""xnet: Deep Expander Networks (Prabhu, Varma, Namboodiri, ECCV 2018), reproduced."""
__version__ = "0.1.0"
from .counting import profile  # noqa: E402  (xnet.profile(model, input_size) -> {"params", "macs"})
