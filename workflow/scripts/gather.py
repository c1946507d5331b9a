"""Gather metrics.json files into one tidy CSV (one row per run).

Snakemake: rules `gather` (all runs -> results/runs.csv) and `gather_experiment`
(the runs of one table / figure, with its row labels -> results/runs/{experiment}.csv).

Command line (compare your own reruns):
    python workflow/scripts/gather.py RUNS_DIR [RUNS_DIR ...] -o runs.csv [--scale NAME]
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wflib  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("roots", nargs="+", help="directories searched recursively for metrics.json (or files)")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--scale", default="", help="scale name to record in the table")
    a = ap.parse_args(argv)
    paths = []
    for r in a.roots:
        paths += [Path(r)] if Path(r).is_file() else wflib.find_metrics(r)
    df = wflib.gather(paths, a.scale)
    wflib.ensure_dir(a.out)
    df.to_csv(a.out, index=False)
    print(f"{len(df)} runs -> {a.out}")


if "snakemake" in globals():
    sm = globals()["snakemake"]
    df = wflib.gather(list(sm.input.metrics), sm.params.scale, list(sm.params.datasets))
    exp = sm.params.get("experiment") if hasattr(sm.params, "get") else getattr(sm.params, "experiment", None)
    if exp:
        df = wflib.experiment_frame(df, exp)
        df.insert(0, "experiment", sm.wildcards.experiment)
    wflib.ensure_dir(sm.output[0])
    df.to_csv(sm.output[0], index=False)
elif __name__ == "__main__":
    main()
