"""X-layers: drop-in replacements of ``nn.Conv2d`` / ``nn.Linear`` on an expander graph."""
from .factory import KINDS, conv, linear
from .layers import XConv2d, XLinear

__all__ = ["XConv2d", "XLinear", "conv", "linear", "KINDS"]
