# metrics.json -> tidy tables of runs.


rule gather:
    input:
        metrics=experiment_metrics(),
    output:
        f"{RESULTS}/runs.csv",
    params:
        scale=SCALE_NAME,
        datasets=experiment_datasets(),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/gather.py"


rule gather_experiment:
    input:
        metrics=lambda wc: experiment_metrics([wc.experiment]),
    output:
        f"{RESULTS}/runs/{{experiment}}.csv",
    params:
        scale=SCALE_NAME,
        datasets=lambda wc: experiment_datasets([wc.experiment]),
        experiment=lambda wc: EXPERIMENTS[wc.experiment],
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/gather.py"
