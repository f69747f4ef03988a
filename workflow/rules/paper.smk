# paper: the manuscript, filled from results/tables and results/figures (nothing typed);
# HTML always, PDF where pandoc and a LaTeX engine are installed (paper/pdf.log says).


rule paper:
    input:
        unpack(paper_sources),
        code=aggregate_code,
        claims=rules.aggregate.output.claims,
        tables=[
            rules.aggregate.output.summary,
            rules.aggregate.output.runs,
            rules.aggregate.output.mitdb_metrics,
            rules.aggregate.output.frameworks,
            rules.aggregate.output.missing,
            rules.aggregate.output.software,
            rules.aggregate.output.settings,
        ],
        accuracy_png=rules.aggregate.output.accuracy_png,
        figures=[
            rules.aggregate.output.curves_png,
            rules.aggregate.output.confusion_png,
            rules.aggregate.output.time_png,
            rules.aggregate.output.intra_inter_png,
        ],
    output:
        md=f"{PAPER_DIR}/paper.md",
        html=report(
            f"{PAPER_DIR}/paper.html",
            caption="../report/paper.rst",
            category="Paper",
        ),
        pdf_log=f"{PAPER_DIR}/pdf.log",
    log:
        "logs/paper/paper.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        config=config_json,
        code=aggregate_code_digest(),
    shell:
        "python -m ecgrepro.cli paper --template {input.template} --bib {input.bib}"
        " --tables $(dirname {input.claims}) --figures $(dirname {input.accuracy_png})"
        " --config-json {params.config:q} --md {output.md} --html {output.html}"
        " --pdf-log {output.pdf_log} > {log} 2>&1"


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
        ],
        accuracy_png=rules.reference_aggregate.output.accuracy_png,
        figures=[
            rules.reference_aggregate.output.curves_png,
            rules.reference_aggregate.output.confusion_png,
            rules.reference_aggregate.output.time_png,
            rules.reference_aggregate.output.intra_inter_png,
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
