# Run records (metrics.json) -> runs tables, one row per run (xnet.results.gather); a record that
# is not the run its directory names (model, paper dataset, variant, seed, this scale), whose
# identity is another run's, or that the scale as configured now would not train (--expect: a run
# kept through an edit of the scale that kept its name) stops the job, naming the file and the
# field (docs/workflow.md, "What a config edit does").


rule gather:
    input:
        metrics=PLAN.experiment_metrics(),
    output:
        LAYOUT.runs_csv,
    log:
        LAYOUT.log("gather"),
    conda:
        "../envs/analysis.yaml"
    params:
        expect=EXPECT,
    shell:
        results_cmd("gather {input.metrics:q} -o {output:q} --expect {params.expect:q}" f" --scale {SCALE_NAME}")


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
    params:
        expect=EXPECT,
    shell:
        results_cmd("gather {input.metrics:q} -o {output:q} --expect {params.expect:q}" f" --scale {SCALE_NAME}")
