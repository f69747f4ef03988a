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
            rules.aggregate.output.sota,
            rules.aggregate.output.sota_md,
            rules.aggregate.output.rules_history,
            rules.aggregate.output.disclosures,
            rules.aggregate.output.mitdb_excluded,
        ],
        accuracy_png=rules.figures.output.accuracy_png,
        figures=[
            rules.figures.output.sota_png,
            rules.figures.output.cd_png,
            rules.figures.output.curves_png,
            rules.figures.output.confusion_png,
            rules.figures.output.time_png,
            rules.figures.output.intra_inter_png,
            f"{RESULTS}/figures/pilot_curves.png",
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
        "python -m ecgrepro.cli paper --template {input.template:q} --bib {input.bib:q}"
        ' --tables "$(dirname {input.claims:q})"'
        ' --figures "$(dirname {input.accuracy_png:q})"'
        " --config-json {params.config:q} --md {output.md:q} --html {output.html:q}"
        " --pdf-log {output.pdf_log:q} > {log:q} 2>&1"


# The MIT-BIH pilot learning curves the oh2018/dechazal2004 presets were chosen from,
# for both papers: read from the workflow's own committed results/reference/pilots/,
# so a user's paper in another working directory has them too.
PILOTS = Path(workflow.basedir, REFERENCE, "pilots")


rule pilot_figure:
    input:
        manifest=PILOTS / "pilots.json",
        histories=sorted(PILOTS.glob("*.csv")),
        code=aggregate_code,
    output:
        png=report(
            "{root}/figures/pilot_curves.png",
            caption="../report/pilot_curves.rst",
            category="Figures",
            subcategory="MIT-BIH",
        ),
        pdf="{root}/figures/pilot_curves.pdf",
    log:
        "logs/{root}/pilot_figure.log",
    wildcard_constraints:
        root="results|results/reference",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    shell:
        'python -m ecgrepro.cli pilot-figure --pilots "$(dirname {input.manifest:q})"'
        " --png {output.png:q} --pdf {output.pdf:q} > {log:q} 2>&1"
