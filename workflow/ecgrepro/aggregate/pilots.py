"""The MIT-BIH pilot learning curves the oh2018/dechazal2004 presets were chosen from.

``results/reference/pilots/`` holds each pilot's ``history.csv`` (copied from an
ordinary run, predictions left out) and ``pilots.json``, which says how each was made
(config file, run directory, commit, epochs, cap, seconds per epoch, whether it was cut
short). :func:`plot_pilots` draws them for the paper; :func:`patience_stop` says where
an early-stopping patience would have stopped a curve trained without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ecgrepro.aggregate.figures import plt, save
from ecgrepro.errors import EcgreproError
from ecgrepro.training.common import EarlyStopping

__all__ = ["MANIFEST", "manifest_entry", "patience_stop", "plot_pilots", "read_pilots"]

MANIFEST = "pilots.json"
_NEEDED = ("epoch", "loss", "val_loss", "lr", "test_accuracy")


def manifest_entry(run_dir, file: str, schedule: str, config_file: str) -> dict:
    """How one pilot was made, from its run directory (for ``pilots.json``).

    ``file`` is the name its ``history.csv`` is committed under; ``schedule`` labels
    its curves; ``config_file`` is the configfile it was run with.
    """
    run = Path(run_dir)
    metrics = json.loads((run / "metrics.json").read_text())
    prov = json.loads((run / "provenance.json").read_text())
    settings = json.loads((run / "settings.json").read_text())
    h = pd.read_csv(run / "history.csv")
    es = metrics.get("early_stopping") or {}
    return {
        "file": file, "schedule": schedule, "config_file": config_file,
        "run_dir": "/".join(run.parts[-7:]), "protocol": metrics["protocol"],
        "split": metrics["split"], "model": metrics["model"],
        "framework": metrics["framework"], "seed": metrics["seed"],
        "protocol_settings": settings["settings"]["protocol_settings"],
        "digest": settings["digest"],
        "epochs_cap": metrics["epochs"], "epochs_run": metrics["epochs_run"],
        "stopped_early": bool(es.get("stopped_early", False)),
        "cut_short": metrics["epochs_run"] < metrics["epochs"] and not es.get("stopped_early"),
        "seconds_per_epoch_median": float(h["seconds"].iloc[1:].median()),
        "fit_seconds": metrics["fit_seconds"], "finished_utc": prov["timestamp_utc"],
        "git": prov["git"], "threads": 1, "device": metrics["device"],
    }


def read_pilots(folder) -> pd.DataFrame:
    """Every pilot's history, long, with its manifest's labels.

    Parameters
    ----------
    folder : path
        The pilots folder: ``pilots.json`` and the CSVs it lists.

    Returns
    -------
    DataFrame
        The history columns plus ``schedule`` (e.g. "constant lr"), ``panel``
        (protocol and split), ``cut_short`` and ``cap``, in manifest order.
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise EcgreproError(f"{folder / MANIFEST}: unreadable pilot manifest ({err}).") from err
    frames = []
    for p in manifest["pilots"]:
        h = pd.read_csv(folder / p["file"])
        missing = [c for c in _NEEDED if c not in h]
        if missing:
            raise EcgreproError(f"{folder / p['file']}: no column(s) {missing}.")
        frames.append(h.assign(schedule=p["schedule"], panel=f"{p['protocol']} {p['split']}",
                               cut_short=bool(p["cut_short"]), cap=int(p["epochs_cap"])))
    return pd.concat(frames, ignore_index=True)


def patience_stop(val_loss, patience: int, start_epoch: int = 0) -> int | None:
    """The epoch at which early stopping with ``patience`` would have stopped (None: never)."""
    rule = EarlyStopping(patience, 0.0, start_epoch)
    for epoch, v in enumerate(val_loss, start=1):
        if rule.step(epoch, float(v)):
            return epoch
    return None


def plot_pilots(pilots: pd.DataFrame, png, pdf, start_epoch: int = 10) -> None:
    """Training and validation loss (top) and test accuracy (bottom) per pilot split.

    Constant-rate pilots get a dotted line where patience 10 (the old preset) would
    have stopped them; a pilot cut short says so in its panel title.
    """
    panels = list(dict.fromkeys(pilots["panel"]))
    fig, axes = plt.subplots(2, len(panels), figsize=(4.2 * len(panels), 6), squeeze=False,
                             sharex="col")
    colours = dict(zip(dict.fromkeys(pilots["schedule"]), ["tab:blue", "tab:orange",
                                                          "tab:green"]))
    for j, panel in enumerate(panels):
        top, bottom = axes[0, j], axes[1, j]
        cut = []
        for schedule, h in pilots[pilots["panel"] == panel].groupby("schedule", sort=False):
            c = colours[schedule]
            top.plot(h["epoch"], h["loss"], color=c, lw=1, label=f"{schedule}: train")
            top.plot(h["epoch"], h["val_loss"], color=c, lw=1, ls="--", alpha=0.8,
                     label=f"{schedule}: validation")
            acc = h.dropna(subset=["test_accuracy"])
            bottom.plot(acc["epoch"], acc["test_accuracy"], color=c, lw=1, label=schedule)
            if h["cut_short"].iloc[0]:
                cut.append(f"{schedule} cut short at {int(h['epoch'].max())} of "
                           f"{int(h['cap'].iloc[0])}")
            if h["lr"].nunique() == 1:
                stop = patience_stop(h["val_loss"], 10, start_epoch)
                if stop is not None:
                    for ax in (top, bottom):
                        ax.axvline(stop, color=c, ls=":", lw=1)
        top.set_yscale("log")
        top.set_title(panel + ("\n" + "; ".join(cut) if cut else ""), size=9)
        top.set_ylabel("loss (log scale)")
        bottom.set_ylabel("test accuracy (curve only)")
        bottom.set_xlabel("epoch")
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].legend(fontsize=7, title="dotted: patience 10 would stop", title_fontsize=7)
    fig.tight_layout()
    save(fig, png, pdf)
