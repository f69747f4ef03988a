"""Figures of claim C11: accuracy per classifier beside the published state of the art,
and aeon's critical difference diagram from five datasets up."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ecgrepro.aggregate.figures import save

__all__ = ["MIN_CD_DATASETS", "plot_sota", "plot_critical_difference"]

#: Fewer datasets and a critical difference diagram says little (docs: evidence.md).
MIN_CD_DATASETS = 5


def _note(png, pdf, text: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    save(fig, png, pdf)


def plot_sota(table: pd.DataFrame, long: pd.DataFrame, png, pdf) -> None:
    """One panel per dataset: every resample's accuracy (dots) and each classifier's mean
    with its interval (``sota.csv``'s ``ci_low``/``ci_high``); ours in colour."""
    if table.empty:
        return _note(png, pdf, "No classifiers to compare (claim C11) in these results.")
    datasets = sorted(table["dataset"].unique())
    n = max(len(table[table["dataset"] == d]) for d in datasets)
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 0.45 * n + 1.2),
                             squeeze=False)
    rng = np.random.default_rng(0)  # fixed jitter: the same bytes every time
    for ax, dataset in zip(axes[0], datasets):
        t = table[table["dataset"] == dataset].sort_values(["mean", "classifier"])
        for y, row in enumerate(t.itertuples()):
            ours = row.source.startswith("this project")
            colour = "tab:red" if ours else "tab:blue"
            x = long[(long["dataset"] == dataset) & (long["classifier"] == row.classifier)]
            ax.scatter(x["accuracy"], y + rng.uniform(-0.15, 0.15, len(x)), s=6,
                       color=colour, alpha=0.35, linewidths=0)
            if row.ci_low == row.ci_low:
                ax.plot([row.ci_low, row.ci_high], [y, y], color=colour, lw=1.5)
            ax.plot(row.mean, y, "D", color=colour, ms=5)
        ax.set_yticks(range(len(t)))
        ax.set_yticklabels([f"{c} ({r})" for c, r in zip(t["classifier"], t["resamples"])],
                           fontsize=7)
        ax.set_title(dataset, fontsize=9)
        ax.set_xlabel("test accuracy", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("red: this project; blue: Middlehurst et al. 2024 (aeon's files); "
                 "(n) resamples", fontsize=7)
    fig.tight_layout()
    save(fig, png, pdf)


def plot_critical_difference(table: pd.DataFrame, png, pdf, alpha: float = 0.05) -> None:
    """aeon's ``plot_critical_difference`` of the mean accuracies, over the datasets
    where every classifier has one; fewer than :data:`MIN_CD_DATASETS`: says so.

    Ours enter by name without the variant (the best DTW variant may differ by dataset).
    aeon's plotting module imports numba and scikit-learn, so only here, and only then.
    """
    t = table.assign(classifier=table["classifier"].str.replace(r" \(.*\)$", "",
                                                                 regex=True))
    wide = t.pivot_table(index="dataset", columns="classifier", values="mean").dropna()
    if len(wide) < MIN_CD_DATASETS:
        return _note(png, pdf, f"No critical difference diagram: it needs "
                     f"{MIN_CD_DATASETS} datasets with every classifier;\nthese results "
                     f"have {len(wide)}.")
    from aeon.visualisation import plot_critical_difference as aeon_cd

    fig, _ = aeon_cd(wide.to_numpy(), list(wide.columns), test="wilcoxon",
                     correction="holm", alpha=alpha)
    save(fig, png, pdf)
