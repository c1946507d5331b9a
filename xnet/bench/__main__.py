"""``python -m xnet.bench layers | models | gpu``: see :mod:`xnet.bench`."""

from . import main

if __name__ == "__main__":
    raise SystemExit(main())
