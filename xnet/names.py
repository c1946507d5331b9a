"""The words runs and models are described in, one home each (torch-free).

Every module that checks or lists one of these imports it from here; :func:`must_be` is the one
wording of the error for a value outside its list.
"""

from __future__ import annotations

CONV_KINDS = ("dense", "x", "g")  # dense convolution, X-Conv (expander), G-Conv (grouped)
VARIANTS = ("original", "paper")  # the networks the authors trained / the networks the paper describes
BACKENDS = ("auto", "masked", "gather", "block", "sparse", "triton")  # how an X-layer computes
DEVICES = ("cpu", "cuda")  # device types a run may train on


def must_be(label: str, value, choices) -> str:
    """The one message for ``value`` outside ``choices``: ``"label: must be one of a, b, got 'c'"``."""
    return f"{label}: must be one of {', '.join(map(str, choices))}, got {value!r}"
