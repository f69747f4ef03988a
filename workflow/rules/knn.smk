# knn: DTW and Euclidean k-NN baselines; one neighbour search per (dataset, variant),
# every k derived from it. Big searches are scattered: knn_block jobs take blocks of
# config knn.block_size test rows (the learned window search: blocks of training rows,
# knn_window_block), side by side on a cluster; knn_window and knn_run join them in
# row order, so the run directory is the same whatever the number of blocks.
# Cost of every job before running any: python -m ecgrepro.dtw cost --configfile ...


rule knn_window_block:
    input:
        "resources/prepared/ucr/{dataset}.npz",
    output:
        KNN_WINDOW_BLOCK,
    log:
        "logs/knn/{dataset}/learned/window.{block}-of-{nblocks}.log",
    benchmark:
        "benchmarks/knn/{dataset}/learned/window.{block}-of-{nblocks}.tsv"
    conda:
        "../../envs/knn.yaml"
    threads: 4
    resources:
        mem_mb=knn_mem_mb,
    shell:
        "python -m ecgrepro.dtw window-block --npz {input} --block {wildcards.block}"
        " --n-blocks {wildcards.nblocks} --threads {threads} --out {output} > {log} 2>&1"


rule knn_window:
    input:
        npz="resources/prepared/ucr/{dataset}.npz",
        blocks=knn_window_block_files,
    output:
        KNN_WINDOW,
    log:
        "logs/knn/{dataset}/learned/window.log",
    conda:
        "../../envs/knn.yaml"
    shell:
        "python -m ecgrepro.dtw window-gather --npz {input.npz} --blocks {input.blocks}"
        " --out {output} > {log} 2>&1"


rule knn_block:
    input:
        npz="resources/prepared/ucr/{dataset}.npz",
        window=knn_window_file,
    output:
        KNN_BLOCK,
    log:
        "logs/knn/{dataset}/{variant}/block.{block}-of-{nblocks}.log",
    benchmark:
        "benchmarks/knn/{dataset}/{variant}/block.{block}-of-{nblocks}.tsv"
    conda:
        "../../envs/knn.yaml"
    threads: 4
    resources:
        mem_mb=knn_mem_mb,
    params:
        ks=knn_ks_arg(),
        window=knn_window_arg,
        subset=knn_subset_args(),
    shell:
        "python -m ecgrepro.dtw block --npz {input.npz} --variant {wildcards.variant}"
        " --ks {params.ks} --block {wildcards.block} --n-blocks {wildcards.nblocks}"
        " {params.window} {params.subset} --threads {threads} --out {output}"
        " > {log} 2>&1"


rule knn_run:
    input:
        npz="resources/prepared/ucr/{dataset}.npz",
        blocks=knn_block_files,
        window=knn_window_file,
    output:
        accuracy="results/knn/{dataset}/{variant}/accuracy.csv",
        predictions="results/knn/{dataset}/{variant}/predictions.csv",
        confusion="results/knn/{dataset}/{variant}/confusion.csv",
        distances="results/knn/{dataset}/{variant}/distances.npz",
        metrics="results/knn/{dataset}/{variant}/metrics.json",
        provenance="results/knn/{dataset}/{variant}/provenance.json",
    log:
        "logs/knn/{dataset}/{variant}.log",
    benchmark:
        "benchmarks/knn/{dataset}/{variant}.tsv"
    conda:
        "../../envs/knn.yaml"
    params:
        ks=knn_ks_arg(),
        window=knn_window_arg,
    shell:
        "python -m ecgrepro.dtw gather --npz {input.npz} --variant {wildcards.variant}"
        " --ks {params.ks} --blocks {input.blocks} {params.window}"
        " --outdir $(dirname {output.metrics}) > {log} 2>&1"


rule knn_table:
    input:
        knn_accuracy_files(),
    output:
        table=report(
            "results/tables/knn.csv",
            caption="../report/knn.rst",
            category="Tables",
            subcategory="k-NN",
        ),
        png=report(
            "results/figures/knn_accuracy_vs_k.png",
            caption="../report/knn_figure.rst",
            category="Figures",
            subcategory="k-NN",
        ),
        pdf="results/figures/knn_accuracy_vs_k.pdf",
    log:
        "logs/knn/table.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m ecgrepro.cli knn-table --accuracy {input} --table {output.table}"
        " --png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule knn:
    input:
        rules.knn_table.output,
    localrule: True
