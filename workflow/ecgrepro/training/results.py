"""What one training run returns, and how it is written to its run directory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecgrepro.io import write_text

__all__ = ["RunResult", "atomic_write_text", "write_history", "write_run_dir"]


@dataclass
class RunResult:
    """One fitted and evaluated run.

    Attributes
    ----------
    history : pandas.DataFrame
        One row per epoch: ``epoch, loss, accuracy, lr, test_loss, test_accuracy,
        seconds, eval_seconds``. ``loss``/``accuracy`` are Keras's training-mode
        figures (mean over the epoch's batches, weighted by batch size; the loss
        includes class weights); ``lr`` is the rate used during the epoch;
        ``seconds`` is training time only, ``eval_seconds`` the test and validation
        evaluation. With a validation part: ``val_loss, val_accuracy`` (unweighted);
        under early stopping also ``stopped_early`` (True on the epoch the rule stopped
        the run, False elsewhere). An early-stopped run has fewer rows than
        ``metrics["epochs"]`` (the maximum).
    predictions : pandas.DataFrame
        Tidy, one row per (checkpoint rule, test case): ``checkpoint, case_id,
        [record,] y_true, y_pred, proba_<label>...`` with the archive's labels;
        ``record`` (MIT-BIH) is the record of each test segment.
    metrics : dict
        JSON-ready: accuracies and epochs per rule, timings, parameter counts,
        protocol, architecture, seeds; ``epochs`` (maximum), ``epochs_run`` and
        ``early_stopping`` (None, or monitor, patience, min_delta, max_epochs,
        best_epoch, best_val_loss, stopped_epoch, stopped_early, restored, validation,
        n_val).
    determinism : dict
        The seeding, determinism and threading settings actually in force.
    """

    history: pd.DataFrame
    predictions: pd.DataFrame
    metrics: dict
    determinism: dict

    def accuracy(self, rule: str) -> float | None:
        """Test accuracy under one checkpoint rule (None if the rule was not tracked)."""
        return self.metrics["accuracy_by_rule"].get(rule)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` beside ``path``, then rename it into place (:mod:`ecgrepro.io`)."""
    write_text(path, text)


def write_history(history: pd.DataFrame, path: str | Path) -> None:
    """Write a history table atomically (also for a diverged run's partial history)."""
    atomic_write_text(path, history.to_csv(index=False))


def write_run_dir(result: RunResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``metrics.json``, ``predictions.csv`` and ``history.csv`` atomically.

    ``provenance.json`` is not written here (the caller's provenance module does it).

    Returns
    -------
    dict
        Paths written, keyed ``metrics``, ``predictions``, ``history``.
    """
    out = Path(out_dir)
    paths = {
        "metrics": out / "metrics.json",
        "predictions": out / "predictions.csv",
        "history": out / "history.csv",
    }
    metrics = dict(result.metrics, determinism=result.determinism)
    atomic_write_text(paths["metrics"], json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    atomic_write_text(paths["predictions"], result.predictions.to_csv(index=False))
    write_history(result.history, paths["history"])
    return paths
