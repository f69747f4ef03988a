# timing: the controlled timing step for claims C5 and C8 and the framework speed
# columns (ecgrepro.tooling.perf_timing). Every arm runs in this one job, on the same
# prepared data and code, warmed up and alternated in rounds, threads fixed by
# config timing.threads; rounds whose wall time exceeds their CPU time by more than 10%
# are rejected (see ecgrepro.tooling.timing_core).
#
# Alone on the machine: `threads: workflow.cores` claims every core Snakemake may use,
# and every other job holds at least one, so locally the scheduler starts this job only
# when nothing else runs and starts nothing beside it. The measurement itself runs on
# timing.threads threads (pinned in the job); the other reserved cores stay idle on
# purpose. On SLURM each job is its own allocation, so profiles/slurm adds
# `slurm_extra: --exclusive` for this rule: no other job (of this workflow or any
# other) shares its node.


rule timing:
    input:
        ucr=f"resources/prepared/ucr/{config['timing']['dataset']}.npz",
        segments="resources/prepared/mitdb/segments.npz",
    output:
        comparisons=f"{TIMING}/comparisons.csv",
        rounds=f"{TIMING}/rounds.csv",
        provenance=f"{TIMING}/provenance.json",
    log:
        "logs/timing/timing.log",
    benchmark:
        f"{BENCHMARKS}/timing/timing.tsv"
    conda:
        "../../envs/timing.yaml"
    threads: workflow.cores
    resources:
        mem_mb=4000,
    params:
        out=subpath(output.comparisons, parent=True),
        threads=config["timing"]["threads"],
        rounds=config["timing"]["rounds"],
        warmup=config["timing"]["warmup"],
        ucr_epochs=config["timing"]["ucr_epochs"],
        mitdb_batches=config["timing"]["mitdb_batches"],
        fold=config["timing"]["fold"],
        n_folds=config["training"]["n_folds"],
        fold_seed=config["training"]["fold_seed"],
        lstm_units=lookup(dpath="models/lstm_fcn/lstm_units", within=config, default=8),
        cnn_units=lookup(dpath="models/cnn_lstm/units", within=config, default=20),
    shell:
        "OMP_NUM_THREADS={params.threads:q} MKL_NUM_THREADS={params.threads:q}"
        " python -m ecgrepro.perf timing --ucr-npz {input.ucr:q}"
        " --segments-npz {input.segments:q} --out {params.out:q}"
        " --threads {params.threads:q}"
        " --rounds {params.rounds:q} --warmup {params.warmup:q}"
        " --ucr-epochs {params.ucr_epochs:q} --mitdb-batches {params.mitdb_batches:q}"
        " --fold {params.fold:q} --n-folds {params.n_folds:q}"
        " --fold-seed {params.fold_seed:q}"
        " --lstm-units {params.lstm_units:q}"
        " --cnn-units {params.cnn_units:q} > {log:q} 2>&1"
