# Tables 1-5: CSV + Markdown + LaTeX under results/tables/.


rule table:
    input:
        runs=f"{RESULTS}/runs/{{experiment}}.csv",
    output:
        csv=report(
            f"{RESULTS}/tables/{{experiment}}.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{experiment}", "format": "csv"},
        ),
        md=f"{RESULTS}/tables/{{experiment}}.md",
        tex=f"{RESULTS}/tables/{{experiment}}.tex",
    params:
        experiment=lambda wc: EXPERIMENTS[wc.experiment],
        scale=SCALE,
    wildcard_constraints:
        experiment=r"table[A-Za-z0-9_]+",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/tables.py"
