"""Names of the aggregate's and the paper's output files (standard library only).

The rules (``workflow/rules/common.smk``) and the code that writes the files both read
these, so a file is named in one place.
"""

TABLES_DIR = "results/tables"
FIGURES_DIR = "results/figures"

#: Tables the ``aggregate`` rule writes into ``TABLES_DIR``.
TABLES = (
    "runs.csv",
    "runs.parquet",
    "seeds.csv",
    "summary.csv",
    "summary.md",
    "summary.tex",
    "mitdb_metrics.csv",
    "mitdb_confusion.csv",
    "mitdb_aami.csv",
    "frameworks.csv",
    "claims.csv",
    "rules_history.csv",
    "disclosures.csv",
    "mitdb_excluded.csv",
    "claims.md",
    "claims.tex",
    "missing.csv",
    "software.csv",
    "settings.csv",
    "knn.csv",
    "timing.csv",
    "timing.md",
    "sota.csv",
    "sota.md",
    "sota.tex",
    "sota_resamples.csv",
)

#: Figures (``<name>.png`` and ``<name>.pdf``) the ``figures`` rule draws into
#: ``FIGURES_DIR`` from the tables (its own rule: a figure that fails costs no table).
FIGURES = (
    "accuracy_by_seed",
    "training_curves",
    "mitdb_confusion",
    "time_per_epoch",
    "intra_vs_inter",
    "knn_accuracy_vs_k",
    "sota_accuracy",
    "sota_critical_difference",
)

#: What the ``paper`` rule writes (``paper/``).
PAPER = ("paper/paper.md", "paper/paper.html", "paper/pdf.log")
