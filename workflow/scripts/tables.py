"""One paper table: published value, rerun mean +- std over seeds (min/max, range where the
paper shows them), difference; written as CSV, Markdown and LaTeX.

Snakemake: rule `table` (results/runs/{table}.csv -> results/tables/{table}.{csv,md,tex}).

Command line (compare your own reruns, gathered with gather.py, with the published table):
    python workflow/scripts/tables.py --config config/paper.yaml --runs runs.csv \
        --experiment table4 --outdir my_tables
"""
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
import wflib  # noqa: E402


def make_table(exp, runs_exp, scale, csv, md, tex, published_dir=None):
    pub = wflib.load_published(exp["published"], published_dir)
    summary = wflib.summarize(exp, runs_exp, pub)
    text = wflib.scale_line(scale, runs_exp, seeds=exp["seeds"])
    wflib.write_table(summary, exp["title"], text, csv, md, tex)
    return summary


def main(argv=None):
    cfg, exp, runs, out = wflib.experiment_cli(__doc__, "table4", argv)
    s = make_table(exp, runs, cfg["scale"], f"{out}.csv", f"{out}.md", f"{out}.tex")
    print(Path(f"{out}.md").read_text())
    return s


if "snakemake" in globals():
    sm = globals()["snakemake"]
    make_table(sm.params.experiment, wflib.read_runs(sm.input.runs), sm.params.scale,
               sm.output.csv, sm.output.md, sm.output.tex)
elif __name__ == "__main__":
    main()
