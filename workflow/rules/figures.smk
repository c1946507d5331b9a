# Figures 3-6: PNG + PDF under figures/ (and the plotted points as CSV).


rule figure:
    input:
        runs=f"{RESULTS}/runs/{{experiment}}.csv",
    output:
        png=report(
            f"{FIGURES}/{{experiment}}.png",
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "{experiment}"},
        ),
        pdf=f"{FIGURES}/{{experiment}}.pdf",
        csv=f"{FIGURES}/{{experiment}}.csv",
    params:
        experiment=lambda wc: EXPERIMENTS[wc.experiment],
        scale=SCALE,
    wildcard_constraints:
        experiment=r"figure[A-Za-z0-9_]+",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/figures.py"
