# prepare (MIT-BIH): records -> beat segments, stored once, read by every training run.


rule mitdb_segments:
    input:
        checksums=f"{DATA}/mitdb/SHA256SUMS.txt",
        records=mitdb_record_files,
    output:
        npz="resources/prepared/mitdb/segments.npz",
        by_class="results/data/mitdb/segments_by_class.csv",
        by_record="results/data/mitdb/segments_by_record.csv",
    log:
        "logs/data/mitdb_segments.log",
    benchmark:
        "benchmarks/data/mitdb_segments.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
    params:
        records=mitdb_records(),
        config=segments_config_json(),
    shell:
        "python -m ecgrepro.cli mitdb-segments --checksums {input.checksums:q}"
        " --records {params.records:q} --config {params.config:q} --npz {output.npz:q}"
        " --counts-by-class {output.by_class:q} --counts-by-record {output.by_record:q}"
        " > {log:q} 2>&1"
