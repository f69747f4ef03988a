# aggregate: tables and claim verdicts from the run directories; figures: drawn from
# those tables in a rule of their own, so a figure that fails never costs a table.
# Both read files only and import no deep-learning framework or sktime; of aeon, only its
# results loader (numpy and pandas: the published accuracies of claim C11) and, from
# five datasets up, its critical difference diagram.


rule aggregate:
    input:
        runs=aggregate_run_inputs,
        code=aggregate_code,
    output:
        runs=report(
            "results/tables/runs.csv",
            caption="../report/runs.rst",
            category="Tables",
        ),
        runs_parquet="results/tables/runs.parquet",
        seeds=report(
            "results/tables/seeds.csv",
            caption="../report/seeds.rst",
            category="Tables",
        ),
        summary=report(
            "results/tables/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
        ),
        summary_md="results/tables/summary.md",
        summary_tex="results/tables/summary.tex",
        mitdb_metrics=report(
            "results/tables/mitdb_metrics.csv",
            caption="../report/mitdb_metrics.rst",
            category="Tables",
            subcategory="MIT-BIH",
        ),
        mitdb_confusion=report(
            "results/tables/mitdb_confusion.csv",
            caption="../report/mitdb_confusion_table.rst",
            category="Tables",
            subcategory="MIT-BIH",
        ),
        mitdb_aami=report(
            "results/tables/mitdb_aami.csv",
            caption="../report/mitdb_aami.rst",
            category="Tables",
            subcategory="MIT-BIH",
        ),
        frameworks=report(
            "results/tables/frameworks.csv",
            caption="../report/frameworks.rst",
            category="Tables",
        ),
        claims=report(
            "results/tables/claims.csv",
            caption="../report/claims.rst",
            category="Claims",
        ),
        claims_md="results/tables/claims.md",
        claims_tex="results/tables/claims.tex",
        missing=report(
            "results/tables/missing.csv",
            caption="../report/missing.rst",
            category="Claims",
        ),
        software=report(
            "results/tables/software.csv",
            caption="../report/software.rst",
            category="Provenance",
        ),
        settings=report(
            "results/tables/settings.csv",
            caption="../report/settings.rst",
            category="Provenance",
        ),
        timing=report(
            "results/tables/timing.csv",
            caption="../report/timing.rst",
            category="Tables",
        ),
        timing_md="results/tables/timing.md",
        sota=report(
            "results/tables/sota.csv",
            caption="../report/sota.rst",
            category="Claims",
        ),
        sota_md="results/tables/sota.md",
        sota_tex="results/tables/sota.tex",
        sota_resamples=report(
            "results/tables/sota_resamples.csv",
            caption="../report/sota_resamples.rst",
            category="Claims",
        ),
        rules_history=report(
            "results/tables/rules_history.csv",
            caption="../report/rules_history.rst",
            category="Claims",
        ),
        disclosures=report(
            "results/tables/disclosures.csv",
            caption="../report/disclosures.rst",
            category="Provenance",
        ),
        mitdb_excluded="results/tables/mitdb_excluded.csv",
    log:
        "logs/aggregate/aggregate.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        expected=expected_runs,
        claims=claims_json,
        protocols=protocols_json,
        convergence=convergence_json,
        benchmarks=BENCHMARKS,
        scan=[f"{RESULTS}/runs", f"{RESULTS}/knn"],
        timing=TIMING,
        strict="",
        code=aggregate_code_digest(),
        data=f"{RESULTS}/data",
        rules_files=rules_config_files(),
    shell:
        "python -m ecgrepro.cli aggregate --expected {params.expected:q}"
        " --benchmarks {params.benchmarks:q} --scan {params.scan:q} {params.strict:q}"
        " --claims-json {params.claims:q} --protocols-json {params.protocols:q}"
        " --convergence-json {params.convergence:q} --timing {params.timing:q}"
        ' --tables "$(dirname {output.runs:q})" --no-figures --no-knn-table'
        " --data {params.data:q} --rules-files {params.rules_files:q} > {log:q} 2>&1"


# The k-NN accuracy table (the aggregate's code), from the k-NN runs alone: the `knn`
# target builds it without waiting for any training.
rule knn_table:
    input:
        knn_accuracy_files,
    output:
        table=report(
            "results/tables/knn.csv",
            caption="../report/knn.rst",
            category="Tables",
            subcategory="k-NN",
        ),
    log:
        "logs/aggregate/knn_table.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        runs=lambda wildcards, input: [os.path.dirname(f) for f in input],
        code=aggregate_code_digest(),
    shell:
        "python -m ecgrepro.cli knn-table --runs {params.runs:q} --table {output.table:q}"
        " > {log:q} 2>&1"


rule figures:
    input:
        seeds=rules.aggregate.output.seeds,
        runs=rules.aggregate.output.runs,
        mitdb_confusion=rules.aggregate.output.mitdb_confusion,
        knn=rules.knn_table.output.table,
        timing=rules.aggregate.output.timing,
        sota=rules.aggregate.output.sota_resamples,
        sota_table=rules.aggregate.output.sota,
        code=aggregate_code,
    output:
        accuracy_png=report(
            "results/figures/accuracy_by_seed.png",
            caption="../report/accuracy_by_seed.rst",
            category="Figures",
        ),
        accuracy_pdf="results/figures/accuracy_by_seed.pdf",
        curves_png=report(
            "results/figures/training_curves.png",
            caption="../report/training_curves.rst",
            category="Figures",
        ),
        curves_pdf="results/figures/training_curves.pdf",
        confusion_png=report(
            "results/figures/mitdb_confusion.png",
            caption="../report/mitdb_confusion.rst",
            category="Figures",
            subcategory="MIT-BIH",
        ),
        confusion_pdf="results/figures/mitdb_confusion.pdf",
        time_png=report(
            "results/figures/time_per_epoch.png",
            caption="../report/time_per_epoch.rst",
            category="Figures",
        ),
        time_pdf="results/figures/time_per_epoch.pdf",
        intra_inter_png=report(
            "results/figures/intra_vs_inter.png",
            caption="../report/intra_vs_inter.rst",
            category="Figures",
            subcategory="MIT-BIH",
        ),
        intra_inter_pdf="results/figures/intra_vs_inter.pdf",
        knn_png=report(
            "results/figures/knn_accuracy_vs_k.png",
            caption="../report/knn_figure.rst",
            category="Figures",
            subcategory="k-NN",
        ),
        knn_pdf="results/figures/knn_accuracy_vs_k.pdf",
        sota_png=report(
            "results/figures/sota_accuracy.png",
            caption="../report/sota_figure.rst",
            category="Figures",
        ),
        sota_pdf="results/figures/sota_accuracy.pdf",
        cd_png=report(
            "results/figures/sota_critical_difference.png",
            caption="../report/sota_critical_difference.rst",
            category="Figures",
        ),
        cd_pdf="results/figures/sota_critical_difference.pdf",
    log:
        "logs/aggregate/figures.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        expected=expected_runs,
        timing=TIMING,
        code=aggregate_code_digest(),
    shell:
        "python -m ecgrepro.cli figures --expected {params.expected:q}"
        ' --tables "$(dirname {input.seeds:q})"'
        ' --figures "$(dirname {output.accuracy_png:q})"'
        " --timing {params.timing:q}"
        " > {log:q} 2>&1"
