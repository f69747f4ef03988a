"""Did a training run converge? A stated, checkable criterion on its history.

A run has *converged* under ``criterion = {"window": w, "min_rel_improvement": r}`` when
the best training loss of its last ``w`` epochs improves on the best training loss before
them by less than the fraction ``r`` of the latter::

    before = min(loss[: -w]);  last = min(loss[-w:])
    rel_improvement = (before - last) / |before|
    converged = rel_improvement < r

(a loss still falling by 1% or more over the last ``w`` epochs had budget left). A run
that the early-stopping rule stopped (validation loss no longer improving: history
column ``stopped_early`` true) has converged by that rule, whatever its training loss
does. A run shorter than ``w + 1`` epochs cannot be judged and counts as not converged.

Used by the aggregate on every run's ``history.csv`` (older runs included) so a verdict
can say "not tested: not converged" instead of blaming the method for a training budget.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ecgrepro.errors import EcgreproError

__all__ = ["assess", "describe_criterion", "loss_column"]


def loss_column(history: pd.DataFrame) -> str:
    """The training-loss column: ``train_loss`` (contract) or ``loss`` (older runs)."""
    for name in ("train_loss", "loss"):
        if name in history:
            return name
    raise EcgreproError(
        f"history has no training-loss column (train_loss or loss); columns: "
        f"{list(history.columns)}. Re-run the training or check history.csv.")


def _check(criterion: dict) -> tuple[int, float]:
    try:
        window = int(criterion["window"])
        rel = float(criterion["min_rel_improvement"])
    except (KeyError, TypeError, ValueError) as err:
        raise EcgreproError(
            f"convergence criterion {criterion!r} needs window (int epochs >= 1) and "
            f"min_rel_improvement (float >= 0); set config 'convergence'.") from err
    if window < 1 or rel < 0:
        raise EcgreproError(
            f"convergence: window = {window}, min_rel_improvement = {rel}; window must be "
            f">= 1 and min_rel_improvement >= 0 (config 'convergence').")
    return window, rel


def describe_criterion(criterion: dict) -> str:
    """The criterion in words, for tables and verdicts."""
    window, rel = _check(criterion)
    return (f"best training loss of the last {window} epochs improves on the best before "
            f"by less than {100 * rel:g}%, or early stopping stopped the run")


def _stopped_early(history: pd.DataFrame) -> bool:
    if "stopped_early" not in history:
        return False
    flags = history["stopped_early"].dropna()
    if flags.dtype == object:
        flags = flags.astype(str).str.lower().isin(["true", "1", "yes"])
    return bool(flags.astype(bool).any())


def assess(history: pd.DataFrame, criterion: dict) -> dict:
    """Judge one run's convergence from its training history.

    Parameters
    ----------
    history : DataFrame
        The run's ``history.csv``: ``epoch`` and ``train_loss`` (or ``loss``); optional
        ``stopped_early``.
    criterion : dict
        Config ``convergence``: ``window`` (epochs), ``min_rel_improvement`` (fraction).

    Returns
    -------
    dict
        ``converged`` (bool), ``criterion`` (text), ``epochs`` (int, epochs trained),
        ``rel_improvement`` (float, or None when too short to judge), ``stopped_early``
        (bool).
    """
    window, rel = _check(criterion)
    text = describe_criterion(criterion)
    h = history.sort_values("epoch") if "epoch" in history else history
    loss = pd.to_numeric(h[loss_column(h)], errors="coerce").to_numpy(dtype=float)
    loss = loss[~np.isnan(loss)]
    stopped = _stopped_early(h)
    out = {"converged": stopped, "criterion": text, "epochs": int(len(loss)),
           "rel_improvement": None, "stopped_early": stopped}
    if len(loss) <= window:
        return out
    before, last = float(loss[:-window].min()), float(loss[-window:].min())
    improvement = (before - last) / abs(before) if before != 0 else (
        0.0 if last >= before else math.inf)
    out["rel_improvement"] = float(improvement)
    out["converged"] = bool(stopped or improvement < rel)
    return out
