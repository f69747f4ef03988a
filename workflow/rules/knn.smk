# knn: DTW and Euclidean k-NN baselines; one neighbour search per (dataset, variant),
# every k derived from it. Big searches are scattered: knn_block jobs take blocks of
# config knn.block_size test rows (the learned window search: blocks of training rows,
# knn_window_block), side by side on a cluster; knn_window and knn_run join them in
# row order, so the run directory is the same whatever the number of blocks.
# The table and figure of every k-NN run (knn.csv, knn_accuracy_vs_k) come from the
# aggregate, which reads these run directories with the training runs.
# Cost of every job before running any: python -m ecgrepro.cost knn --configfile ...


rule knn_window_block:
    input:
        prepared_ucr,
    output:
        KNN_WINDOW_BLOCK,
    log:
        "logs/knn/{dataset}/learned{tag}/window.{block}-of-{nblocks}.log",
    benchmark:
        "benchmarks/knn/{dataset}/learned{tag}/window.{block}-of-{nblocks}.tsv"
    conda:
        "../../envs/knn.yaml"
    threads: 4
    resources:
        mem_mb=knn_mem_mb,
    shell:
        "python -m ecgrepro.knn window-block --npz {input:q} --block {wildcards.block:q}"
        " --n-blocks {wildcards.nblocks:q} --threads {threads:q} --out {output:q}"
        " > {log:q} 2>&1"


rule knn_window:
    input:
        npz=prepared_ucr,
        blocks=knn_window_block_files,
    output:
        KNN_WINDOW,
    log:
        "logs/knn/{dataset}/learned{tag}/window.log",
    conda:
        "../../envs/knn.yaml"
    shell:
        "python -m ecgrepro.knn window-gather --npz {input.npz:q}"
        " --blocks {input.blocks:q}"
        " --out {output:q} > {log:q} 2>&1"


rule knn_block:
    input:
        npz=prepared_ucr,
        window=knn_window_file,
    output:
        KNN_BLOCK,
    log:
        "logs/knn/{dataset}/{variant}-{digest}/block.{block}-of-{nblocks}.log",
    benchmark:
        f"{KNN_BLOCK_BENCHMARKS}/block.{{block}}-of-{{nblocks}}.tsv"
    conda:
        "../../envs/knn.yaml"
    threads: 4
    resources:
        mem_mb=knn_mem_mb,
    params:
        ks=knn_ks_arg(),
        window=knn_window_arg,
        subset=knn_subset_args(),
        settings=knn_settings_json,
    shell:
        "python -m ecgrepro.knn block --npz {input.npz:q} --variant {wildcards.variant:q}"
        " --ks {params.ks:q} --block {wildcards.block:q} --n-blocks {wildcards.nblocks:q}"
        " {params.window:q} {params.subset:q} --threads {threads:q} --out {output:q}"
        " > {log:q} 2>&1"


rule knn_run:
    input:
        npz=prepared_ucr,
        blocks=knn_block_files,
        window=knn_window_file,
    output:
        accuracy=f"{KNN_DIR}/accuracy.csv",
        predictions=f"{KNN_DIR}/predictions.csv",
        confusion=f"{KNN_DIR}/confusion.csv",
        distances=f"{KNN_DIR}/distances.npz",
        metrics=f"{KNN_DIR}/metrics.json",
        provenance=f"{KNN_DIR}/provenance.json",
        settings=f"{KNN_DIR}/settings.json",
    log:
        "logs/knn/{dataset}/{variant}-{digest}.log",
    benchmark:
        KNN_BENCHMARK
    conda:
        "../../envs/knn.yaml"
    params:
        ks=knn_ks_arg(),
        window=knn_window_arg,
        settings=knn_settings_json,
    shell:
        "python -m ecgrepro.knn gather --npz {input.npz:q}"
        " --variant {wildcards.variant:q}"
        " --ks {params.ks:q} --blocks {input.blocks:q} {params.window:q}"
        " --settings-json {params.settings:q}"
        ' --outdir "$(dirname {output.metrics:q})" > {log:q} 2>&1'


rule knn:
    input:
        knn_accuracy_files,
        raw_ucr_files,
        f"{RESULTS}/tables/knn.csv",  # rule knn_table (rules/aggregate.smk)
    localrule: True
