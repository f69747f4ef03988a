# ecgrepro: one workflow from the public ECG datasets to the claims table and the paper.
# Thin on purpose: rules live in workflow/rules/*.smk, code in the package workflow/ecgrepro.
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# Defaults travel with the workflow, so it also runs from another working directory.
configfile: Path(workflow.basedir) / "config" / "config.yaml"


report: "workflow/report/workflow.rst"


# load rules
# -----------------------------------------------------
include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/knn.smk"
include: "workflow/rules/mitdb.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/paper.smk"
include: "workflow/rules/timing.smk"
include: "workflow/rules/reference.smk"


# One SIGTERM or Ctrl-C stops the running jobs too, not only the queue (ecgrepro.stop);
# a failed new run is not followed by "Cannot restore" lines (ecgrepro.snakemake_log).
onstart:
    from ecgrepro.snakemake_log import quiet_missing_backups
    from ecgrepro.stop import install_snakemake_handlers

    install_snakemake_handlers()
    quiet_missing_backups()


# Repeat what was skipped (common.smk NOTICES) where it does not scroll away.
onsuccess:
    print_notices()


onerror:
    print_notices()


# targets
# -----------------------------------------------------
rule all:
    default_target: True
    input:
        final_outputs,
    localrule: True
