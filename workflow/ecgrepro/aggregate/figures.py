"""Figures of the aggregate (seaborn, Agg backend), each written as PNG and PDF.

Every function takes tables the aggregate already built and two output paths, and
always writes both files: with nothing to show, the figure says so. Output is
byte-for-byte reproducible: strip-plot jitter comes from a fixed seed, error bars are
standard deviations (no bootstrap), and a PDF carries no creation date (or
``SOURCE_DATE_EPOCH``'s, when set; ``knn._save``).
"""

from __future__ import annotations


import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from ecgrepro.aggregate.collect import CHECKPOINT_ORDER  # noqa: E402
from ecgrepro.aggregate.knn import _save  # noqa: E402

__all__ = ["plot_accuracy", "plot_confusion", "plot_curves", "plot_intra_inter",
           "plot_time", "save"]

FRAMEWORK_ORDER = ["torch", "keras"]
RULE_ORDER = sorted(CHECKPOINT_ORDER, key=CHECKPOINT_ORDER.get)


def save(fig, png, pdf) -> None:
    """Write ``fig`` to both paths atomically (``knn._save``), then close it."""
    with plt.rc_context({"savefig.dpi": 150}):
        _save(fig, png, "png")
        _save(fig, pdf, "pdf")
    plt.close(fig)


def _empty(png, pdf, what: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, f"No {what} in these results.", ha="center", va="center")
    save(fig, png, pdf)


def _panel(frame: pd.DataFrame, cols) -> pd.Series:
    return frame[list(cols)].astype(str).agg(" | ".join, axis=1)


def _strip_point(grid, x, y, order, hue_order) -> None:
    np.random.seed(0)  # seaborn's strip jitter draws from numpy's global generator
    grid.map_dataframe(sns.stripplot, x=x, y=y, hue="framework", order=order,
                       hue_order=hue_order, dodge=True, alpha=0.45, size=4,
                       palette="deep", jitter=0.15)
    grid.map_dataframe(sns.pointplot, x=x, y=y, hue="framework", order=order,
                       hue_order=hue_order, dodge=0.4, errorbar="sd", linestyle="none",
                       markers="D", palette="dark", capsize=0.1)
    grid.add_legend(title="framework")


def plot_accuracy(seeds: pd.DataFrame, png, pdf) -> None:
    """Test accuracy per seed by checkpoint rule and framework, a panel per
    dataset | model | protocol; diamonds with bars: mean +/- sd over seeds.
    MIT-BIH ten-fold runs: one point per seed, folds pooled."""
    data = seeds[(seeds["kind"] == "train") & (seeds["status"] == "ok")].copy()
    if data.empty:
        return _empty(png, pdf, "training runs")
    data["panel"] = _panel(data, ["dataset", "model", "protocol"])
    order = [r for r in RULE_ORDER if r in set(data["checkpoint"])]
    hue = [f for f in FRAMEWORK_ORDER if f in set(data["framework"])]
    panels = list(dict.fromkeys(data["panel"]))
    grid = sns.FacetGrid(data, col="panel", col_order=panels, col_wrap=min(3, len(panels)),
                         height=3.2, aspect=1.2, sharey=False, legend_out=True)
    _strip_point(grid, "checkpoint", "accuracy", order, hue)
    grid.set_titles("{col_name}", size=8)
    grid.set_axis_labels("checkpoint rule", "test accuracy")
    save(grid.figure, png, pdf)


def plot_curves(history: pd.DataFrame, png, pdf) -> None:
    """Training and test loss per epoch, mean +/- sd over runs (seeds; folds too), on a
    log scale."""
    if history.empty:
        return _empty(png, pdf, "training histories")
    h = history.copy()
    h["panel"] = _panel(h, ["dataset", "model", "protocol"])
    long = h.melt(id_vars=["panel", "framework", "run", "epoch"],
                  value_vars=["loss", "test_loss"], var_name="curve", value_name="value")
    long = long.dropna(subset=["value"])
    long["curve"] = long["curve"].map({"loss": "train loss", "test_loss": "test loss"})
    panels = list(dict.fromkeys(h["panel"]))
    grid = sns.relplot(data=long, x="epoch", y="value", hue="framework", style="curve",
                       hue_order=[f for f in FRAMEWORK_ORDER if f in set(long["framework"])],
                       style_order=["train loss", "test loss"], col="panel",
                       col_order=panels, col_wrap=min(3, len(panels)), kind="line",
                       errorbar="sd", estimator="mean", height=3.2, aspect=1.3,
                       facet_kws={"sharey": False, "sharex": False})
    for ax in grid.axes.flat:
        ax.set_yscale("log")  # losses run over decades; the late epochs matter
    grid.set_titles("{col_name}", size=8)
    grid.set_axis_labels("epoch", "loss (log scale)")
    save(grid.figure, png, pdf)


def plot_confusion(confusion: pd.DataFrame, png, pdf) -> None:
    """MIT-BIH confusion matrices, summed over seeds (ten-fold: pooled over folds),
    colour = row-normalised share, text = counts; a panel per model, framework and
    protocol."""
    if confusion.empty:
        return _empty(png, pdf, "MIT-BIH runs")
    c = confusion[(confusion["split"] == "pooled") | ~confusion["split"].astype(str)
                  .str.fullmatch(r"fold\d+")]
    keys = ["model", "framework", "protocol"]
    groups = list(c.groupby(keys, sort=True))
    ncol = min(4, len(groups))
    nrow = int(np.ceil(len(groups) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 3.1 * nrow), squeeze=False)
    for ax, (key, cells) in zip(axes.flat, groups):
        labels = list(dict.fromkeys(cells["true"]))
        counts = (cells.groupby(["true", "pred"], sort=False)["count"].sum().unstack("pred")
                  .reindex(index=labels, columns=labels).fillna(0).astype(int))
        rows = counts.sum(axis=1).replace(0, 1)
        share = counts.div(rows, axis=0)
        sns.heatmap(share, annot=counts.to_numpy(), fmt="d", cmap="Blues", vmin=0, vmax=1,
                    cbar=False, square=True, ax=ax, annot_kws={"size": 7})
        ax.set_title(" | ".join(map(str, key)), fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.tight_layout()
    save(fig, png, pdf)


def plot_time(seeds: pd.DataFrame, png, pdf) -> None:
    """Training seconds per epoch (first epoch excluded) by model (LSTM vs GRU cell;
    shuffled vs unshuffled input) and framework; log scale."""
    data = seeds[(seeds["kind"] == "train") & (seeds["status"] == "ok") & seeds["reported"]]
    data = data.dropna(subset=["seconds_per_epoch"]).copy()
    if data.empty:
        return _empty(png, pdf, "timed training runs")
    data["panel"] = _panel(data, ["dataset", "protocol"])
    panels = list(dict.fromkeys(data["panel"]))
    grid = sns.FacetGrid(data, col="panel", col_order=panels, col_wrap=min(3, len(panels)),
                         height=3.2, aspect=1.2, sharey=False, sharex=False)
    _strip_point(grid, "model", "seconds_per_epoch", None,  # each panel: its own models
                 [f for f in FRAMEWORK_ORDER if f in set(data["framework"])])
    for ax in grid.axes.flat:
        ax.set_yscale("log")
        ax.tick_params(axis="x", labelsize=7, rotation=20)
    grid.set_titles("{col_name}", size=8)
    grid.set_axis_labels("model", "seconds per epoch")
    save(grid.figure, png, pdf)


def plot_intra_inter(seeds: pd.DataFrame, png, pdf, dataset: str = "mitdb",
                     intra: str = "oh2018", inter: str = "dechazal2004") -> None:
    """Intra-patient (ten-fold, folds pooled per seed) against inter-patient (DS1 -> DS2)
    accuracy, macro sensitivity and macro specificity, per model and framework."""
    data = seeds[(seeds["dataset"] == dataset) & (seeds["status"] == "ok")
                 & seeds["reported"] & seeds["protocol"].isin([intra, inter])]
    if data.empty:
        return _empty(png, pdf, "MIT-BIH runs")
    long = data.melt(id_vars=["model", "framework", "protocol", "seed"],
                     value_vars=["accuracy", "macro_sensitivity", "macro_specificity"],
                     var_name="metric", value_name="value")
    long["model | framework"] = long["model"] + " | " + long["framework"]
    order = [p for p in (intra, inter) if p in set(long["protocol"])]
    grid = sns.catplot(data=long, x="protocol", y="value", hue="model | framework",
                       col="metric", order=order, kind="point", errorbar="sd", dodge=0.3,
                       height=3.2, aspect=1.0, sharey=False, capsize=0.1)
    grid.set_titles("{col_name}", size=9)
    grid.set_axis_labels("evaluation", "score")
    save(grid.figure, png, pdf)
