"""The k-NN table and figure, from the runs' ``accuracy.csv`` files.

pandas, seaborn and matplotlib (Agg) only: no aeon, sktime or deep-learning import.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from ecgrepro.aggregate.figures import save, separate_identical  # noqa: E402
from ecgrepro.errors import EcgreproError  # noqa: E402

COLUMNS = (
    "dataset",
    "variant",
    "k",
    "accuracy",
    "n_test",
    "n_correct",
    "distance",
    "vote_rule",
)

# UCR 2018 DataSummary 1-NN figures (anchors.md section 1.1), for plot_knn's references.
UCR_REFERENCES = {
    "TwoLeadECG": {
        "UCR 1-NN ED": 0.7471,
        "UCR 1-NN DTW full": 0.9043,
        "UCR 1-NN DTW learned w=4%": 0.8683,
    },
}


def knn_table(accuracy_csvs) -> pd.DataFrame:
    """One row per (dataset, variant, k) from the runs' ``accuracy.csv`` files.

    Raises
    ------
    EcgreproError
        When no file is given, a file lacks a column of :data:`COLUMNS` (it names the
        file), or two files hold the same (dataset, variant, k).
    """
    frames = []
    for path in map(Path, accuracy_csvs):
        frame = pd.read_csv(path, dtype={"dataset": str, "variant": str})
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise EcgreproError(
                f"{path}: missing column(s) {missing}; it is not a k-NN accuracy.csv "
                "or was written by an older ecgrepro. Rerun that k-NN job."
            )
        frames.append(frame.assign(source=str(path)))
    if not frames:
        raise EcgreproError("knn_table: no accuracy.csv given; run the k-NN jobs first.")
    table = pd.concat(frames, ignore_index=True)
    dup = table.duplicated(["dataset", "variant", "k"], keep=False)
    if dup.any():
        rows = table.loc[dup, ["dataset", "variant", "k", "source"]].to_string(
            index=False
        )
        raise EcgreproError(f"knn_table: the same (dataset, variant, k) twice:\n{rows}")
    return table.sort_values(["dataset", "variant", "k"], ignore_index=True)


def identical_variants(table: pd.DataFrame) -> list[list[str]]:
    """Sets (two or more) of variants whose accuracy is the same at every k."""
    curves: dict = {}
    for variant, part in table.sort_values("k").groupby("variant", sort=True):
        key = tuple(zip(part["k"], part["accuracy"].round(12)))
        curves.setdefault(key, []).append(str(variant))
    return [names for names in curves.values() if len(names) > 1]


def plot_knn(table: pd.DataFrame, out_png, out_pdf, references=None) -> None:
    """Accuracy against k, one line per variant, one panel per dataset.

    Parameters
    ----------
    table : DataFrame
        From :func:`knn_table`.
    out_png, out_pdf : str or Path
        The figure, written in both formats.
    references : dict, optional
        ``{dataset: {label: accuracy}}``, drawn as horizontal dashed lines in that
        dataset's panel, e.g. :data:`UCR_REFERENCES`.
    """
    references = references or {}
    datasets = list(dict.fromkeys(table["dataset"]))
    grid = sns.relplot(
        data=table,
        x="k",
        y="accuracy",
        hue="variant",
        style="variant",
        col="dataset",
        col_order=datasets,
        col_wrap=min(3, len(datasets)),
        kind="line",
        markers=True,
        dashes=False,
        height=3.6,
        aspect=1.25,
        facet_kws={"sharey": False},
    )
    styles = ["--", ":", "-.", (0, (5, 1, 1, 1))]
    for dataset, ax in grid.axes_dict.items():
        for i, (label, value) in enumerate(references.get(dataset, {}).items()):
            ax.axhline(value, color="0.35", lw=1, ls=styles[i % len(styles)], zorder=0)
            ax.annotate(
                f"{label} {value:.4f}",
                (1.0, value),
                xycoords=("axes fraction", "data"),
                xytext=(-2, 2),
                textcoords="offset points",
                ha="right",
                va="bottom",
                fontsize=7,
                color="0.3",
            )
        ks = sorted(table.loc[table["dataset"] == dataset, "k"].unique())
        ax.set_xticks(ks)
        same = identical_variants(table[table["dataset"] == dataset])
        note = "; ".join(" = ".join(g) for g in same)
        # Identical variants (aeon-dtw and sktime-dtw, say) would hide one another.
        separate_identical(ax, f"identical: {note} (wider line beneath)" if note else None)
    grid.set_axis_labels("k (neighbours)", "test accuracy")
    grid.set_titles("{col_name}")
    save(grid.figure, out_png, out_pdf)
