"""Figures of the aggregate (seaborn, Agg backend), each written as PNG and PDF.

Every function takes tables the aggregate already built and two output paths, and
always writes both files: with nothing to show, the figure says so. Output is
byte-for-byte reproducible: strip-plot jitter comes from a fixed seed, error bars are
standard deviations (no bootstrap), and neither PNG nor PDF carries a creation date
or library version (:data:`METADATA`).
"""

from __future__ import annotations

import contextlib
import os

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import ticker  # noqa: E402

from ecgrepro.aggregate.collect import CHECKPOINT_ORDER  # noqa: E402
from ecgrepro.io import replacing  # noqa: E402

__all__ = ["plot_accuracy", "plot_confusion", "plot_curves", "plot_intra_inter",
           "save", "separate_identical"]

FRAMEWORK_ORDER = ["torch", "keras"]
RULE_ORDER = sorted(CHECKPOINT_ORDER, key=CHECKPOINT_ORDER.get)


@contextlib.contextmanager
def _pinned_date():
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)


#: No creation date and no library version in the files: the same tables give the same
#: bytes on any day and with any matplotlib patch release.
METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None,
                                               "Creator": None}}

#: Lines with at most this many points also get markers, so that one epoch (or one k)
#: is a visible point rather than an empty panel.
MARKER_POINTS = 25


def _save(fig, path, fmt: str) -> None:
    """Save beside the target, then rename: never a half-written figure."""
    with replacing(path) as tmp:
        fig.savefig(tmp, format=fmt, bbox_inches="tight", metadata=METADATA[fmt])


def save(fig, png, pdf) -> None:
    """Write ``fig`` to both paths atomically, then close it."""
    with _pinned_date(), plt.rc_context({"savefig.dpi": 150}):
        _save(fig, png, "png")
        _save(fig, pdf, "pdf")
    plt.close(fig)


def _dodge(n_hue: int, width: float = 0.4):
    """seaborn's ``dodge`` for ``n_hue`` levels: ``False`` for one level (seaborn 0.13
    divides by ``n_hue - 1``)."""
    return width if n_hue > 1 else False


def _mark_short_lines(ax) -> None:
    """Markers on lines of few points: a single epoch still shows."""
    for line in ax.get_lines():
        bare = line.get_marker() in ("None", None, "")
        if bare and 0 < len(line.get_xdata()) <= MARKER_POINTS:
            line.set_marker("o")
            line.set_markersize(4)
    lo, hi = ax.get_xlim()
    if hi - lo < 2:  # one epoch: an axis around it, not 0.950 ... 1.050
        mid = round((lo + hi) / 2)
        ax.set_xlim(mid - 1, mid + 1)


def separate_identical(ax, note: str | None = "identical lines overlap: the wider "
                                               "one lies beneath") -> int:
    """Make lines with the same points all visible: the earlier drawn of each set of
    identical lines is widened and put beneath (a halo around the one on top), and
    ``note`` is written in the panel. Returns how many lines were widened."""
    groups: dict = {}
    for line in ax.get_lines():
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        if len(x) == 0 or np.isnan(y).all():
            continue
        key = (tuple(np.round(x, 9)), tuple(np.round(y, 9)))
        groups.setdefault(key, []).append(line)
    widened = 0
    for lines in groups.values():
        for depth, line in enumerate(reversed(lines[:-1]), 1):
            line.set_linewidth(line.get_linewidth() * (1 + 1.6 * depth))
            line.set_markersize(line.get_markersize() * (1 + 0.6 * depth))
            line.set_alpha(0.55)
            line.set_zorder(line.get_zorder() - 0.1 * depth)
            widened += 1
    if widened and note:
        ax.text(0.02, 0.02, note, transform=ax.transAxes, fontsize=6, color="0.35",
                ha="left", va="bottom")
    return widened


def _log_ticks(ax) -> None:
    """A log y axis with plain labels at 1, 2, 5 x 10^k and no minor labels: labels
    that fit beside a panel and never reach into its neighbour."""
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    decades = np.log10(high / low) if low > 0 and high > low else 1.0
    # about three to eight labels, whatever the span
    subs = (1.0,) if decades > 3 else (1.0, 2.0, 5.0) if decades > 1 else \
        tuple(float(i) for i in range(1, 10))
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=subs, numticks=8))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.tick_params(axis="both", labelsize=7)


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
                       hue_order=hue_order, dodge=_dodge(len(hue_order)), errorbar="sd",
                       linestyle="none",
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
        _log_ticks(ax)  # losses run over decades; the late epochs matter
        ax.xaxis.set_major_locator(ticker.MaxNLocator(5, integer=True))
        _mark_short_lines(ax)
        separate_identical(ax)
    grid.set_titles("{col_name}", size=8)
    grid.set_axis_labels("epoch", "loss (log scale)")
    grid.tight_layout(w_pad=1.5)
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
    hue = list(dict.fromkeys(long["model | framework"]))
    grid = sns.catplot(data=long, x="protocol", y="value", hue="model | framework",
                       hue_order=hue, col="metric", order=order, kind="point",
                       errorbar="sd", dodge=_dodge(len(hue), 0.3), height=3.2, aspect=1.0,
                       sharey=False, capsize=0.1)
    grid.set_titles("{col_name}", size=9)
    grid.set_axis_labels("evaluation", "score")
    save(grid.figure, png, pdf)
