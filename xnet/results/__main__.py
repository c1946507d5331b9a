"""``python -m xnet.results gather|table|figure|claims|curves|published``: the analysis from the command line.

    python -m xnet.results gather RUNS_DIR_OR_FILE ... -o results/runs.csv [--scale smoke] [--expect JSON]
    python -m xnet.results table table4 --runs results/runs.csv -o results/tables/table4 [--scale smoke]
    python -m xnet.results figure figure4 --runs results/runs.csv -o figures/figure4 [--scale smoke]
    python -m xnet.results claims --runs results/runs.csv -o results/tables/claims [--scale smoke]
    python -m xnet.results curves RUNS_DIR_OR_FILE ... -o figures/curves [--scale smoke]
    python -m xnet.results published [NAME]          # list the published files, or print one's path

``gather`` refuses a record that is not the run its run directory names (and, with ``--expect``, one
that is not a run of the scale as configured now: :func:`xnet.results.gather.check_against_scale`)
and writes the runs CSV atomically.  ``table`` / ``figure`` write ``OUT.{csv,md,tex}`` /
``OUT.{png,pdf,csv}``; ``claims`` writes ``OUT.{csv,md}``; ``curves`` writes
``OUT/<model>_<dataset>_<variant>.png`` and ``OUT/index.csv``. ``--variant`` picks the variant when
the runs hold both; ``--rows`` / ``--seeds`` restrict a table or figure to some rows and seeds of
the paper's experiment.  Errors: one line (``xnet: error: ...``), exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from ..arguments import OneLineParser, nonnegative_int
from ..errors import UserError, one_line


def _common(p, out_help):
    p.add_argument("-o", "--out", required=True, help=out_help)
    p.add_argument("--scale", default=None, help="the scale name to print (smoke, paper, ...)")
    p.add_argument(
        "--variant",
        default=None,
        choices=("original", "paper"),
        help="the variant to show (default: the one in the runs)",
    )


def _expect(text: str) -> dict:
    """argparse ``type`` of ``gather --expect``: JSON of the shape :func:`xnet.results.gather.check_expect` takes."""
    import json

    from .gather import check_expect

    try:
        return check_expect(json.loads(text))
    except (ValueError, UserError) as e:
        why = str(e).removeprefix("expect: ") if isinstance(e, UserError) else f"not JSON ({e})"
        raise argparse.ArgumentTypeError(why) from None


def parser() -> argparse.ArgumentParser:
    ap = OneLineParser(
        prog="python -m xnet.results", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gather", help="run records -> one runs CSV")
    g.add_argument("roots", nargs="+", help="run directories (searched for metrics.json) or metrics.json files")
    g.add_argument("-o", "--out", required=True, help="the runs CSV to write")
    g.add_argument(
        "--scale",
        default=None,
        help="the scale gathered: a record in a run directory of another scale is an error",
    )
    g.add_argument(
        "--expect",
        default=None,
        type=_expect,
        metavar="JSON",
        help="what the scale says its runs are: {paper_dataset: {family: {field: value}}} (the workflow passes it)",
    )
    for name, helptext, out in (
        ("table", "one of Tables 1-5", "output prefix: OUT.csv, OUT.md, OUT.tex"),
        ("figure", "one of Figures 3-6", "output prefix: OUT.png, OUT.pdf, OUT.csv"),
    ):
        t = sub.add_parser(name, help=helptext)
        t.add_argument("experiment", help="table1..table5 or figure3..figure6")
        t.add_argument("--runs", required=True, help="the runs CSV of gather")
        t.add_argument("--rows", nargs="+", default=None, help="only these row labels")
        t.add_argument("--seeds", nargs="+", type=nonnegative_int, default=None, help="only these seeds")
        _common(t, out)
    c = sub.add_parser("claims", help="the paper's claims, judged on the reruns")
    c.add_argument("--runs", required=True, help="the runs CSV of gather")
    _common(c, "output prefix: OUT.csv, OUT.md")
    k = sub.add_parser("curves", help="rerun learning curves beside the authors' logs")
    k.add_argument("roots", nargs="+", help="run directories (searched for metrics.json) or metrics.json files")
    _common(k, "output directory")
    p = sub.add_parser("published", help="list the published files, or print the path of one")
    p.add_argument("name", nargs="?", default=None)
    return ap


def main(argv=None) -> int:
    a = parser().parse_args(argv)
    try:
        return _run(a)
    except (UserError, ValueError, OSError) as e:
        print(f"xnet: error: {one_line(e)}", file=sys.stderr)
        return 2


def _run(a) -> int:
    from . import gather as g

    if a.cmd == "gather":
        paths = g.find_records(*a.roots)
        if not paths:
            raise UserError(f"no run record (metrics.json) under {', '.join(a.roots)}")
        df = g.gather(paths, scale=a.scale, expect=a.expect)
        g.write_runs(df, a.out)
        print(f"{len(df)} runs -> {a.out}")
    elif a.cmd in ("table", "figure"):
        from .experiments import experiment

        exp = experiment(a.experiment)
        if exp.kind != a.cmd:
            raise UserError(f"{a.experiment} is a {exp.kind}: use `python -m xnet.results {exp.kind}`")
        if a.rows is not None or a.seeds is not None:
            exp = exp.select(a.rows, a.seeds, where="--rows/--seeds")
        runs = g.read_runs(a.runs)
        if a.cmd == "table":
            from .tables import make_table

            make_table(exp, runs, a.out, a.scale, a.variant)
            print(f"{exp.name} -> {a.out}.csv, .md, .tex")
        else:
            from .figures import make_figure

            make_figure(exp, runs, a.out, a.scale, a.variant)
            print(f"{exp.name} -> {a.out}.png, .pdf, .csv")
    elif a.cmd == "claims":
        from .claims import make_claims

        t = make_claims(g.read_runs(a.runs), a.out, a.scale, a.variant)
        print(f"{len(t)} claims -> {a.out}.csv, .md")
    elif a.cmd == "curves":
        from .curves import make_curves

        recs = g.find_records(*a.roots)
        if a.variant is not None:
            from ..runs.record import RunRecord

            recs = [r for r in (RunRecord.load(p) for p in recs) if r.variant == a.variant]
        index = make_curves(recs, a.out, a.scale)
        print(f"{len(index)} curve figures -> {a.out}/")
    elif a.cmd == "published":
        from . import published

        if a.name is None:
            print("\n".join(published.files()))
        else:
            print(published.path(a.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
