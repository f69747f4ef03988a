# fetch and prepare: obtain the raw data, verify every byte, store arrays ready to use.
# The mirror and the download settings reach the fetch jobs through the environment
# ($ECGREPRO_DATA_MIRROR, $ECGREPRO_DOWNLOAD, set in common.smk), not as parameters (a
# rerun trigger): where and how patiently a verified file was obtained must not make it,
# and everything made from it, be fetched again.


rule fetch_ucr:
    output:
        f"{DATA}/ucr/{{name}}/{{name}}_{{split}}.{{fmt}}",
    log:
        "logs/data/fetch_ucr/{name}_{split}.{fmt}.log",
    conda:
        "../../envs/data.yaml"
    resources:
        downloads=1,
    params:
        lock=DATA_LOCK,
        template=ucr_url_template,
    shell:
        "python -m ecgrepro.cli fetch-ucr --name {wildcards.name:q}"
        " --split {wildcards.split:q}"
        " --format {wildcards.fmt:q} --dest {output:q} --lock {params.lock:q}"
        " --url-template {params.template:q} > {log:q} 2>&1"


# Verification is its own job: when a raw file fails, only this stamp is removed (a
# failed job loses its outputs), never the prepared arrays that the runs were made from.
rule verify_ucr:
    input:
        unpack(ucr_split_files),
    output:
        f"{DATA}/ucr/{{name}}/verified.json",
    log:
        "logs/data/verify_ucr/{name}.log",
    conda:
        "../../envs/data.yaml"
    params:
        lock=DATA_LOCK,
    shell:
        "python -m ecgrepro.cli verify-ucr --name {wildcards.name:q}"
        " --train {input.train:q}"
        " --test {input.test:q} --lock {params.lock:q} --out {output:q} > {log:q} 2>&1"


# Runs of data the package pins no digest for hold the digest of the verified files in
# their path (ecgrepro.store.data_identity): this checkpoint waits until every such
# dataset is verified, then Snakemake plans their runs (common.smk, data_digests).
checkpoint ucr_verified:
    input:
        unpinned_verified_files,
    output:
        f"{DATA}/ucr/unpinned_verified.json",
    log:
        "logs/data/ucr_verified.log",
    localrule: True
    conda:
        "../../envs/data.yaml"
    shell:
        "cat {input:q} > {output:q} 2> {log:q}"


rule prepare_ucr:
    input:
        unpack(ucr_split_files),
        verified=f"{DATA}/ucr/{{name}}/verified.json",
    output:
        npz="resources/prepared/ucr/{name}.npz",
        summary="results/data/ucr/{name}/summary.json",
    log:
        "logs/data/prepare_ucr/{name}.log",
    conda:
        "../../envs/data.yaml"
    params:
        lock=DATA_LOCK,
    shell:
        "python -m ecgrepro.cli prepare-ucr --name {wildcards.name:q}"
        " --train {input.train:q}"
        " --test {input.test:q} --lock {params.lock:q} --npz {output.npz:q}"
        " --summary {output.summary:q} > {log:q} 2>&1"


rule fetch_mitdb_checksums:
    output:
        f"{DATA}/mitdb/SHA256SUMS.txt",
    log:
        "logs/data/fetch_mitdb/SHA256SUMS.log",
    conda:
        "../../envs/data.yaml"
    resources:
        downloads=1,
    params:
        lock=DATA_LOCK,
        base_url=config["sources"]["mitdb_url"],
    shell:
        "python -m ecgrepro.cli fetch-mitdb --file SHA256SUMS.txt --dest {output:q}"
        " --lock {params.lock:q} --base-url {params.base_url:q}"
        " > {log:q} 2>&1"


rule fetch_mitdb_file:
    input:
        checksums=f"{DATA}/mitdb/SHA256SUMS.txt",
    output:
        f"{DATA}/mitdb/{{record}}.{{ext}}",
    log:
        "logs/data/fetch_mitdb/{record}.{ext}.log",
    conda:
        "../../envs/data.yaml"
    resources:
        downloads=1,
    params:
        lock=DATA_LOCK,
        base_url=config["sources"]["mitdb_url"],
    shell:
        "python -m ecgrepro.cli fetch-mitdb --file {wildcards.record:q}.{wildcards.ext:q}"
        " --dest {output:q} --checksums {input.checksums:q} --lock {params.lock:q}"
        " --base-url {params.base_url:q} > {log:q} 2>&1"


rule mitdb_summary:
    input:
        checksums=f"{DATA}/mitdb/SHA256SUMS.txt",
        records=mitdb_record_files,
    output:
        beat_counts="results/data/mitdb/beat_counts.csv",
        annotations="results/data/mitdb/annotation_counts.csv",
        records="results/data/mitdb/records.csv",
    log:
        "logs/data/mitdb_summary.log",
    conda:
        "../../envs/data.yaml"
    params:
        records=mitdb_records(),
    shell:
        "python -m ecgrepro.cli mitdb-summary --checksums {input.checksums:q}"
        " --records {params.records:q}"
        " --beat-counts {output.beat_counts:q} --annotations {output.annotations:q}"
        " --records-table {output.records:q} > {log:q} 2>&1"


rule data:
    input:
        data_outputs(),
    localrule: True
