"""Results: the run record, the published numbers, and the comparison of reruns with the paper (torch-free).

Importing ``xnet.results`` (or any module below) imports no torch: the analysis environment needs
only the standard library, pandas, numpy, scipy and matplotlib (matplotlib only when drawing).

- :mod:`xnet.results.record`: :class:`RunRecord`, the run record (``RUN_DIR/metrics.json``).
- :mod:`xnet.results.experiments`: the paper's experiment matrix (``Experiment``, ``Row``).
- :mod:`xnet.results.paths`: the run-directory template and the names of every output.
- :mod:`xnet.results.published`: the published CSVs (``table(name)``, ``path(name)``,
  ``files()``, ``counts()``, ``accuracy_of(row)``), their units and conventions stated once.
- :mod:`xnet.results.gather`: run records -> one tidy runs DataFrame (one row per run).
- :mod:`xnet.results.verdicts`: the verdict of a rerun against a published number, and its criterion.
- :mod:`xnet.results.tables`: Tables 1-5 (published beside reruns, counts, verdict).
- :mod:`xnet.results.writers`: CSV / Markdown / LaTeX writers and the scale and variant lines.
- :mod:`xnet.results.claims`: the paper's qualitative claims, each judged on the reruns.
- :mod:`xnet.results.figures`: Figures 3-6.
- :mod:`xnet.results.curves`: rerun learning curves beside the authors' logged curves.

Command line: ``python -m xnet.results gather|table|figure|claims|curves ...`` (see
:mod:`xnet.results.__main__`; ``--help`` on each).
"""
