"""Tables and the time-per-epoch figure from the timing step (results/timing/).

Reads ``comparisons.csv`` (and optionally ``rounds.csv``) written by
:mod:`ecgrepro.tooling.perf_timing`; imports no deep-learning framework. Arms are named
``<model>/<framework>``; their seconds are per epoch of the real protocol (LSTM-FCN:
karim2018 on the UCR dataset; CNN+RNN: an oh2018 fold, scaled from timed batches).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecgrepro.errors import EcgreproError

__all__ = ["COLUMNS", "arm_table", "comparison_table", "plot_time_per_epoch",
           "read_comparisons", "write_timing_outputs"]

#: comparisons.csv columns (contract #6; ecgrepro.tooling.timing_core.COMPARISON_COLUMNS).
COLUMNS = [
    "comparison", "numerator", "denominator", "framework", "threads",
    "median_num_s", "median_den_s", "iqr_num_s", "iqr_den_s",
    "ratio", "ratio_low", "ratio_high", "rounds_kept", "rounds_rejected",
    "kernel_num", "kernel_den",
]
#: Figure panels: which models each shows.
PANELS = {
    "LSTM-FCN, UCR (karim2018)": ("lstm_fcn", "lstm_fcn_noshuffle"),
    "CNN+RNN, MIT-BIH (oh2018 fold)": ("cnn_lstm", "cnn_gru"),
}
FRAMEWORK_ORDER = ("torch", "keras")


def read_comparisons(path) -> pd.DataFrame:
    """Read comparisons.csv and check its columns."""
    path = Path(path)
    if not path.is_file():
        raise EcgreproError(f"{path}: no timing comparisons; run `snakemake timing` "
                            "(or python -m ecgrepro.perf timing --out DIR) first.")
    frame = pd.read_csv(path, keep_default_na=True)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise EcgreproError(f"{path}: columns {missing} missing; expected {COLUMNS}. "
                            "Rerun the timing step with this version.")
    for col in ("kernel_num", "kernel_den"):
        frame[col] = frame[col].fillna("")
    return frame


def arm_table(comparisons: pd.DataFrame) -> pd.DataFrame:
    """One row per arm: model, framework, median and IQR seconds per epoch, kernel."""
    rows = {}
    for side in ("num", "den"):
        arm_col = "numerator" if side == "num" else "denominator"
        for r in comparisons.itertuples(index=False):
            arm = getattr(r, arm_col)
            model, _, framework = arm.partition("/")
            rows.setdefault(arm, {
                "arm": arm, "model": model, "framework": framework,
                "median_s": getattr(r, f"median_{side}_s"), "iqr_s": getattr(r, f"iqr_{side}_s"),
                "threads": r.threads, "kernel": getattr(r, f"kernel_{side}"),
            })
    return pd.DataFrame(list(rows.values()),
                        columns=["arm", "model", "framework", "median_s", "iqr_s",
                                 "threads", "kernel"])


def comparison_table(comparisons: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """The comparisons as read: ratio with its bootstrap interval, rounds, kernels."""
    def fmt(x):
        return "n/a" if pd.isna(x) else f"{x:.{digits}f}"

    out = pd.DataFrame({
        "comparison": comparisons["comparison"],
        "numerator": comparisons["numerator"],
        "denominator": comparisons["denominator"],
        "ratio": comparisons["ratio"].map(fmt),
        "95% interval": [f"[{fmt(lo)}, {fmt(hi)}]" for lo, hi in
                         zip(comparisons["ratio_low"], comparisons["ratio_high"])],
        "median s/epoch (num, den)": [f"{fmt(a)}, {fmt(b)}" for a, b in
                                      zip(comparisons["median_num_s"],
                                          comparisons["median_den_s"])],
        "rounds kept/rejected": [f"{k}/{j}" for k, j in
                                 zip(comparisons["rounds_kept"], comparisons["rounds_rejected"])],
        "threads": comparisons["threads"],
    })
    return out


def plot_time_per_epoch(comparisons: pd.DataFrame, png, pdf, rounds: pd.DataFrame | None = None
                        ) -> None:
    """Median seconds per epoch of every arm, the interquartile range as a bar around
    it, and (with ``rounds``) every kept round as a dot; one panel per model family."""
    from ecgrepro.aggregate.figures import plt, save

    arms = arm_table(comparisons)
    panels = {t: m for t, m in PANELS.items() if arms["model"].isin(m).any()}
    if not panels:
        fig, ax = plt.subplots(figsize=(5, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "No timing comparisons in these results.", ha="center")
        return save(fig, png, pdf)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 2.8), squeeze=False)
    colours = {"torch": "tab:red", "keras": "tab:blue"}
    for ax, (title, models) in zip(axes[0], panels.items()):
        present = [m for m in models if m in set(arms["model"])]
        for i, model in enumerate(present):
            for j, fw in enumerate(FRAMEWORK_ORDER):
                sel = arms[(arms["model"] == model) & (arms["framework"] == fw)]
                if sel.empty:
                    continue
                y = i + (j - 0.5) * 0.3
                med, iqr = float(sel["median_s"].iloc[0]), float(sel["iqr_s"].iloc[0])
                if rounds is not None and "seconds_reported" in rounds:
                    pts = rounds[(rounds["arm"] == f"{model}/{fw}") & rounds["kept"]]
                    ax.plot(pts["seconds_reported"], np.full(len(pts), y), "|",
                            color=colours[fw], alpha=0.5, ms=6)
                if np.isfinite(med):
                    ax.errorbar(med, y, xerr=[[iqr / 2], [iqr / 2]], fmt="o",
                                color=colours[fw], capsize=3,
                                label=fw if i == 0 else None)
        ax.set_yticks(range(len(present)), present, fontsize=8)
        ax.set_ylim(-0.6, len(present) - 0.4)
        ax.set_xlabel("seconds per epoch (median; bar: IQR width)", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    # one legend, outside the panels: it never covers a point
    handles, labels = axes[0][-1].get_legend_handles_labels()
    if handles:
        axes[0][-1].legend(handles, labels, fontsize=7, loc="upper left",
                           bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    threads = ", ".join(str(t) for t in sorted(set(arms["threads"])))
    fig.suptitle(f"Timing step: all arms in one process, alternated rounds, {threads} "
                 "thread(s)", fontsize=9)
    fig.tight_layout()
    save(fig, png, pdf)


def write_timing_outputs(timing_dir, table_csv, table_md, png, pdf) -> pd.DataFrame:
    """Everything the aggregate shows of the timing step, from ``timing_dir``.

    Writes the comparisons table (CSV, with every column of comparisons.csv, and a
    Markdown view) and the time-per-epoch figure (PNG and PDF; with the kept rounds
    when ``rounds.csv`` is there). Returns the comparisons.
    """
    from ecgrepro.io import replacing

    timing_dir = Path(timing_dir)
    comparisons = read_comparisons(timing_dir / "comparisons.csv")
    rounds_path = timing_dir / "rounds.csv"
    rounds = pd.read_csv(rounds_path) if rounds_path.is_file() else None
    for path in (table_csv, table_md):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    with replacing(table_csv) as tmp:
        comparisons.to_csv(tmp, index=False, float_format="%.6g")
    with replacing(table_md) as tmp:
        Path(tmp).write_text(comparison_table(comparisons).to_markdown(
            index=False, tablefmt="pipe", disable_numparse=True) + "\n")
    plot_time_per_epoch(comparisons, png, pdf, rounds)
    return comparisons
