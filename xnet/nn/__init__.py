"""X-layers: drop-in replacements of ``nn.Conv2d`` / ``nn.Linear`` on an expander graph."""

from .factory import KINDS, conv, linear
from .layers import XConv2d, XLinear, check_state_dict

__all__ = ["XConv2d", "XLinear", "conv", "linear", "KINDS", "check_state_dict"]
