# aggregate: tables, claim verdicts and figures from the run directories. Reads files
# only and imports no deep-learning framework, aeon or sktime (ecgrepro.aggregate).


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
    log:
        "logs/aggregate/aggregate.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        expected=expected_run_dirs(),
        claims=claims_json,
        protocols=protocols_json,
        benchmarks=BENCHMARKS,
        scan=[f"{RESULTS}/runs", f"{RESULTS}/knn"],
        strict="",
        code=aggregate_code_digest(),
    shell:
        "python -m ecgrepro.cli aggregate --expected {params.expected}"
        " --benchmarks {params.benchmarks} --scan {params.scan} {params.strict}"
        " --claims-json {params.claims:q} --protocols-json {params.protocols:q}"
        " --tables $(dirname {output.runs}) --figures $(dirname {output.accuracy_png})"
        " > {log} 2>&1"
