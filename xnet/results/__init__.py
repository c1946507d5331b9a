"""Results: the published numbers, and the comparison of reruns with the paper (torch-free).

Importing ``xnet.results`` (or any module below) imports no torch: the analysis environment needs
only the standard library, pandas, numpy, scipy and matplotlib (matplotlib only when drawing).

The run record (:class:`~xnet.runs.record.RunRecord`, ``RUN_DIR/metrics.json``) and the
run-directory layout (:mod:`xnet.runs.layout`) are the run contract, :mod:`xnet.runs`, which this
package reads; it never imports :mod:`xnet.training`.

- :mod:`xnet.results.experiments`: the paper's experiment matrix (``Experiment``, ``Row``).
- :mod:`xnet.results.published`: the published CSVs (``table(name)``, ``path(name)``,
  ``files()``, ``counts()``, ``lookup(experiment, row)``), their units and conventions stated once;
  :mod:`xnet.results.published_schema`: what each file must hold, checked when it is read.
- :mod:`xnet.results.gather`: run records -> one tidy runs DataFrame (one row per run).
- :mod:`xnet.results.verdicts`: the verdict of a rerun against a published number, and its criterion.
- :mod:`xnet.results.tables`: Tables 1-5 (published beside reruns, counts, verdict).
- :mod:`xnet.results.writers`: CSV / Markdown / LaTeX writers and the scale and variant lines.
- :mod:`xnet.results.claims`: the paper's qualitative claims, each judged on the reruns
  (their tests: :mod:`xnet.results.claim_checks`; on a stand-in dataset: :mod:`xnet.results.standin`).
- :mod:`xnet.results.figures`: Figures 3-6.
- :mod:`xnet.results.curves`: rerun learning curves beside the authors' logged curves.

Command line: ``python -m xnet.results gather|table|figure|claims|curves ...`` (see
:mod:`xnet.results.__main__`; ``--help`` on each).
"""
