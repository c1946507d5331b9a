# Run records (metrics.json) -> runs tables, one row per run (xnet.results.gather); a record that
# is not the run its directory names (model, dataset, variant, seed, this scale) stops the job.


rule gather:
    input:
        metrics=PLAN.experiment_metrics(),
    output:
        LAYOUT.runs_csv,
    log:
        LAYOUT.log("gather"),
    conda:
        "../envs/analysis.yaml"
    shell:
        results_cmd("gather {input.metrics:q} -o {output:q}" f" --scale {SCALE_NAME}")


# the runs of one table / figure only: `snakemake results/tables/table4.md` trains Table 4's runs only
rule gather_experiment:
    input:
        metrics=lambda wc: PLAN.experiment_metrics(wc.experiment),
    output:
        LAYOUT.experiment_runs("{experiment}"),
    log:
        LAYOUT.log("gather_{experiment}"),
    conda:
        "../envs/analysis.yaml"
    shell:
        results_cmd("gather {input.metrics:q} -o {output:q}" f" --scale {SCALE_NAME}")
