# train: one job per run (dataset x model x framework x protocol x split x seed); each
# writes its own directory and reads nothing but the prepared data. The directory ends
# in the digest of the run's settings (ecgrepro.store), written to its settings.json.


rule train:
    input:
        data=train_data,
    # update(): Snakemake neither deletes a finished run before its job reruns nor after
    # it fails (it backs the files up and restores them); the job replaces the run
    # directory only once the new one is complete (ecgrepro.runs.train_run).
    output:
        metrics=update(RUN_METRICS),
        predictions=update(f"{RUN_DIR}/predictions.csv"),
        history=update(f"{RUN_DIR}/history.csv"),
        provenance=update(f"{RUN_DIR}/provenance.json"),
        settings=update(f"{RUN_DIR}/settings.json"),
    log:
        "logs/train/{dataset}/{model}/{framework}/{protocol}/{fold}/seed{seed}-{digest}.log",
    benchmark:
        RUN_BENCHMARK
    conda:
        train_env
    threads: 1
    resources:
        mem_mb=train_mem_mb,
    params:
        model=model_json,
        protocol=protocol_json,
        device=config["training"]["device"],
        n_folds=config["training"]["n_folds"],
        fold_seed=config["training"]["fold_seed"],
        settings=train_settings_json,
    shell:
        "python -m ecgrepro.cli train --data {input.data:q}"
        " --dataset {wildcards.dataset:q}"
        " --model {wildcards.model:q} --model-json {params.model:q}"
        " --framework {wildcards.framework:q} --protocol {wildcards.protocol:q}"
        " --protocol-json {params.protocol:q} --split {wildcards.fold:q}"
        ' --seed {wildcards.seed:q} --outdir "$(dirname {output.metrics:q})"'
        " --device {params.device:q} --threads {threads:q} --n-folds {params.n_folds:q}"
        " --fold-seed {params.fold_seed:q} --settings-json {params.settings:q}"
        " > {log:q} 2>&1"


rule train_all:
    input:
        runs=train_outputs,
        raw=raw_ucr_files,
    localrule: True
