# One training job per run: (model, paper dataset, seed) of the selected experiments, at the
# configuration's scale and variant; the directory is xnet.runs.layout.RUN_DIR.  The rule's
# only output is metrics.json, written by the trainer when the run is finished; the checkpoint
# lives beside it.  Snakemake only ever deletes declared outputs, so a failed or killed job
# leaves its checkpoint, and the next `snakemake` call restarts `xnet train` on the same --out
# dir, which resumes from it.  A failed job shows its one-line `xnet: error: ...` on the console
# (from this attempt's part of the log; its last lines if there is none) and keeps its exit status.


rule train:
    output:
        metrics=LAYOUT.metrics("{scale}", "{paper_dataset}", "{model}", "{variant}", "{seed}"),
    log:
        LAYOUT.train_log("{scale}", "{paper_dataset}", "{model}", "{variant}", "{seed}"),
    conda:
        "../envs/xnet.yaml"
    threads: lambda wc: train_resources(wc)["cpus_per_task"]
    resources:
        gpu=lambda wc: train_resources(wc)["gpu"],
        mem_mb=lambda wc: train_resources(wc)["mem_mb"],
        runtime=lambda wc: train_resources(wc)["runtime"],
        cpus_per_task=lambda wc: train_resources(wc)["cpus_per_task"],
    params:
        outdir=lambda wc, output: os.path.dirname(output.metrics),
        args=train_args,
        repo=REPO,
    # gpu > 1: one process per GPU via torchrun (single node); otherwise plain python.
    shell:
        "export OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads}"
        " PYTHONPATH={params.repo:q}${{PYTHONPATH:+:$PYTHONPATH}}; "
        "if [ {resources.gpu} -gt 1 ]; then"
        " LAUNCH='torchrun --standalone --nproc_per_node={resources.gpu}'; else LAUNCH=python; fi; "
        "start=0; if [ -f {log:q} ]; then start=$(wc -c < {log:q}); fi; "
        "$LAUNCH -m xnet train --model {wildcards.model:q} --seed {wildcards.seed}"
        " --out {params.outdir:q} {params.args} >> {log:q} 2>&1"
        " || {{ rc=$?; tail -c +$((start + 1)) {log:q} | grep 'xnet: error:' >&2"
        " || tail -n 3 {log:q} >&2; exit $rc; }}"
