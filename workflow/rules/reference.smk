# reference: the committed reference results, apart from a user's (ecgrepro.reference).
#   produce:  snakemake --cores 2 reference_runs --configfile config/reference.yaml
#             (trains what is missing into results/, checks provenance, copies the runs
#             into results/reference/ and benchmarks/reference/), then
#   rebuild:  snakemake --cores 2 reference_tables --configfile config/reference.yaml
#             (results/reference -> results/reference/{tables,figures} and paper/)
# With config reference.require_clean, both refuse runs from a changed working tree or
# from more than one commit.


rule reference_runs:
    input:
        runs=train_and_knn_outputs,
        data=data_outputs(),
        timing=timing_outputs(),
    output:
        manifest=f"{REFERENCE}/manifest.csv",
    log:
        "logs/reference/promote.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        runs=expected_runs,
        strict=require_clean_arg(),
    shell:
        # the roots are the CLI's defaults, ecgrepro.store's RESULTS, REFERENCE, ...
        "python -m ecgrepro.cli promote --runs {params.runs:q} --extra data timing"
        " {params.strict:q} --manifest {output.manifest:q} > {log:q} 2>&1"


# The committed reference tree: the same aggregate over the runs in results/reference
# (those that exist: nothing is trained), into results/reference/{tables,figures}.
# Changed-tree or mixed-commit runs stop it when config reference.require_clean is set.
use rule aggregate as reference_aggregate with:
    input:
        runs=reference_run_inputs,
        code=aggregate_code,
    output:
        **{
            name: str(path).replace(f"{RESULTS}/", f"{REFERENCE}/", 1)
            for name, path in rules.aggregate.output.items()
        },
    log:
        "logs/reference/aggregate.log",
    params:
        expected=expected_run_dirs(REFERENCE),
        claims=claims_json,
        protocols=protocols_json,
        benchmarks=REFERENCE_BENCHMARKS,
        scan=[f"{REFERENCE}/runs", f"{REFERENCE}/knn"],
        timing=REFERENCE_TIMING,
        strict=require_clean_arg(),
        code=aggregate_code_digest(),
        convergence=convergence_json,
        data=f"{REFERENCE}/data",


# The reference k-NN table, from the k-NN runs in results/reference.
use rule knn_table as reference_knn_table with:
    input:
        reference_knn_files,
    output:
        table=f"{REFERENCE}/tables/knn.csv",
    log:
        "logs/reference/knn_table.log",


# The reference figures, from the reference tables (and the reference timing step).
use rule figures as reference_figures with:
    input:
        seeds=rules.reference_aggregate.output.seeds,
        runs=rules.reference_aggregate.output.runs,
        mitdb_confusion=rules.reference_aggregate.output.mitdb_confusion,
        knn=rules.reference_knn_table.output.table,
        timing=rules.reference_aggregate.output.timing,
        sota=rules.reference_aggregate.output.sota_resamples,
        sota_table=rules.reference_aggregate.output.sota,
        code=aggregate_code,
    output:
        **{
            name: str(path).replace(f"{RESULTS}/", f"{REFERENCE}/", 1)
            for name, path in rules.figures.output.items()
        },
    log:
        "logs/reference/figures.log",
    params:
        expected=expected_run_dirs(REFERENCE),
        timing=REFERENCE_TIMING,
        code=aggregate_code_digest(),


# The reference paper (paper/), from the reference tables and figures.
use rule paper as reference_paper with:
    input:
        unpack(paper_sources),
        code=aggregate_code,
        claims=rules.reference_aggregate.output.claims,
        tables=[
            rules.reference_aggregate.output.summary,
            rules.reference_aggregate.output.runs,
            rules.reference_aggregate.output.mitdb_metrics,
            rules.reference_aggregate.output.frameworks,
            rules.reference_aggregate.output.missing,
            rules.reference_aggregate.output.software,
            rules.reference_aggregate.output.settings,
            rules.reference_aggregate.output.sota,
            rules.reference_aggregate.output.sota_md,
            rules.reference_aggregate.output.rules_history,
            rules.reference_aggregate.output.disclosures,
            rules.reference_aggregate.output.mitdb_excluded,
        ],
        accuracy_png=rules.reference_figures.output.accuracy_png,
        figures=[
            rules.reference_figures.output.sota_png,
            rules.reference_figures.output.cd_png,
            rules.reference_figures.output.curves_png,
            rules.reference_figures.output.confusion_png,
            rules.reference_figures.output.time_png,
            rules.reference_figures.output.intra_inter_png,
            f"{REFERENCE}/figures/pilot_curves.png",
        ],
    output:
        md=f"{REFERENCE_PAPER_DIR}/paper.md",
        html=f"{REFERENCE_PAPER_DIR}/paper.html",
        pdf_log=f"{REFERENCE_PAPER_DIR}/pdf.log",
    log:
        "logs/reference/paper.log",


# Rebuild the committed reference tables, figures and paper from results/reference,
# byte for byte (CI checks it):
#   snakemake --cores 2 reference_tables --configfile config/reference.yaml
rule reference_tables:
    input:
        reference_outputs(),
    localrule: True


# Did my run reproduce the reference? Run by run and claim by claim, after `all`:
#   snakemake --cores 2 reproduce_check   (results/reproduce/reproduce.{csv,md})
rule reproduce_check:
    input:
        runs=train_and_knn_outputs,
        data=data_outputs(),
        claims=f"{RESULTS}/tables/claims.csv",
    output:
        csv=f"{RESULTS}/reproduce/reproduce.csv",
        md=f"{RESULTS}/reproduce/reproduce.md",
    log:
        "logs/reference/reproduce_check.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        # this configuration's runs and data summaries, not all of results/
        runs=expected_runs,
        data=ucr_summaries(),
    shell:
        # --results and --reference: the CLI's defaults, results and results/reference
        'python -m ecgrepro.cli reproduce-check --out "$(dirname {output.csv:q})"'
        " --runs {params.runs:q} --data {params.data:q} > {log:q} 2>&1"
