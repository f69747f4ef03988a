# knn: DTW and Euclidean k-NN baselines; one distance matrix per (dataset, variant),
# every k derived from it.


rule knn_run:
    input:
        "resources/prepared/ucr/{dataset}.npz",
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
    threads: 4
    resources:
        mem_mb=knn_mem_mb,
    params:
        ks=knn_ks_arg(),
    shell:
        "python -m ecgrepro.cli knn --npz {input} --variant {wildcards.variant}"
        " --ks {params.ks} --threads {threads} --outdir $(dirname {output.metrics})"
        " > {log} 2>&1"


rule knn_table:
    input:
        knn_accuracy_files(),
    output:
        table="results/tables/knn.csv",
        png="results/figures/knn_accuracy_vs_k.png",
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
