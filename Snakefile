# xnet: regenerate the tables and figures of "Deep Expander Networks" (ECCV 2018).
#
#   snakemake --cores all                                   # smoke scale (config/config.yaml)
#   snakemake --cores all --configfile config/paper.yaml    # the paper (GPUs, datasets)
#   snakemake --profile workflow/profiles/slurm --configfile config/paper.yaml
#   snakemake --cores all results/tables/table4.md          # one table only
#   snakemake --report report.html                          # HTML report
#
# See docs/workflow.md (configuration keys, variants, validation, where outputs go).

import os

from snakemake.utils import min_version

min_version("9.0")


# the smoke default, found beside this Snakefile from any working directory; a --configfile is
# merged over it
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/gather.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"


# small jobs: never submitted to a cluster
localrules:
    all,
    gather,
    gather_experiment,
    table,
    figure,
    claims,
    curves,


rule all:
    default_target: True
    input:
        all_targets(),
