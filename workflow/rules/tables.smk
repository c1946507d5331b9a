# Tables 1-5 (xnet.results.tables): CSV + Markdown + LaTeX under results/tables/, each row with
# its verdict; the claims table (xnet.results.claims).  The published CSVs are inputs: editing one
# remakes what compares with it.


rule table:
    input:
        runs=LAYOUT.experiment_runs("{experiment}"),
        published=lambda wc: PLAN.published_csv(wc.experiment),
    output:
        csv=report(
            LAYOUT.table("{experiment}", "csv"),
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{experiment}", "format": "csv"},
        ),
        md=LAYOUT.table("{experiment}", "md"),
        tex=LAYOUT.table("{experiment}", "tex"),
    log:
        LAYOUT.log("{experiment}"),
    wildcard_constraints:
        experiment=r"table[A-Za-z0-9_]+",
    conda:
        "../envs/analysis.yaml"
    params:
        out=lambda wc, output: output.csv[: -len(".csv")],
        selection=lambda wc: PLAN.selection_args(wc.experiment),
    shell:
        results_cmd(
            "table {wildcards.experiment} --runs {input.runs:q} -o {params.out:q}"
            f" --scale {SCALE_NAME} --variant {VARIANT} {{params.selection}}"
        )


rule claims:
    input:
        runs=LAYOUT.runs_csv,
        published=PUBLISHED_CSVS,
    output:
        csv=report(LAYOUT.claims("csv"), caption="../report/claims.rst", category="Claims"),
        md=LAYOUT.claims("md"),
    log:
        LAYOUT.log("claims"),
    conda:
        "../envs/analysis.yaml"
    params:
        out=lambda wc, output: output.csv[: -len(".csv")],
    shell:
        results_cmd("claims --runs {input.runs:q} -o {params.out:q}" f" --scale {SCALE_NAME} --variant {VARIANT}")
