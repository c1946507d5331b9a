# Figures 3-6 (xnet.results.figures): PNG + PDF under figures/ (and the plotted points as CSV);
# the learning curves of every rerun with an authors' log beside it (xnet.results.curves).


rule figure:
    input:
        runs=LAYOUT.experiment_runs("{experiment}"),
        published=lambda wc: PLAN.published_csv(wc.experiment),
    output:
        png=report(
            LAYOUT.figure("{experiment}", "png"),
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "{experiment}"},
        ),
        pdf=LAYOUT.figure("{experiment}", "pdf"),
        csv=LAYOUT.figure("{experiment}", "csv"),
    log:
        LAYOUT.log("{experiment}"),
    wildcard_constraints:
        experiment=r"figure[A-Za-z0-9_]+",
    conda:
        "../envs/analysis.yaml"
    params:
        out=lambda wc, output: output.png[: -len(".png")],
        selection=lambda wc: PLAN.selection_args(wc.experiment),
    shell:
        results_cmd(
            "figure {wildcards.experiment} --runs {input.runs:q} -o {params.out:q}"
            f" --scale {SCALE_NAME} --variant {VARIANT} {{params.selection}}"
        )


rule curves:
    input:
        metrics=PLAN.experiment_metrics(),
        published=PLAN.published_csv("curves"),
    output:
        report(
            directory(LAYOUT.curves_dir),
            patterns=["{name}.png"],
            caption="../report/curves.rst",
            category="Learning curves",
        ),
    log:
        LAYOUT.log("curves"),
    conda:
        "../envs/analysis.yaml"
    shell:
        results_cmd("curves {input.metrics:q} -o {output:q}" f" --scale {SCALE_NAME} --variant {VARIANT}")
