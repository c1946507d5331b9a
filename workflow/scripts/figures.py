"""One paper figure: top-1 error against MACs (Figures 4-6) or compression (Figure 3), one
series per family, rerun points with error bars over seeds, published points hollow.

Snakemake: rule `figure` (results/runs/{figure}.csv -> figures/{figure}.png/.pdf/.csv).

Command line:
    python workflow/scripts/figures.py --config config/paper.yaml --runs runs.csv \
        --experiment figure4 --outdir my_figures
"""
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
import wflib  # noqa: E402


def make_figure(exp, runs_exp, scale, png, pdf, csv=None, published_dir=None):
    pub = wflib.load_published(exp["published"], published_dir)
    pts = wflib.figure_points(exp, runs_exp, pub)
    text = wflib.scale_line(scale, runs_exp, seeds=exp["seeds"])
    wflib.draw_figure(exp, pts, text, png, pdf, csv)
    return pts


def main(argv=None):
    cfg, exp, runs, out = wflib.experiment_cli(__doc__, "figure4", argv)
    return make_figure(exp, runs, cfg["scale"], f"{out}.png", f"{out}.pdf", f"{out}.csv")


if "snakemake" in globals():
    sm = globals()["snakemake"]
    make_figure(sm.params.experiment, wflib.read_runs(sm.input.runs), sm.params.scale,
                sm.output.png, sm.output.pdf, sm.output.csv)
elif __name__ == "__main__":
    main()
