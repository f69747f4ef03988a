"""Did a training run converge? A stated, checkable criterion on its history.

Under config ``convergence`` (keys below) a run of ``n`` epochs is judged over a window
scaled to its length, ``w = max(min_window, ceil(window_fraction * n))`` epochs, so a
20-epoch run and a 2000-epoch run are held to the same share of their training::

    before = min(loss[: -w]);  last = min(loss[-w:])
    rel_improvement = (before - last) / |before|

Its *training loss has levelled* when ``rel_improvement < min_rel_improvement``, or
when ``last < loss_floor``: an absolute floor, below which the training data are fitted
and a relative change is no budget left (a cross-entropy of 0.003 halving to 0.0015
moves no prediction). A run has *converged* when its training loss has levelled, or
when early stopping stopped it (history column ``stopped_early``) on a levelled
validation loss, shown by either of two routes:

* **the schedule gave up** (runs with a learning-rate schedule): after the epoch of its
  best validation loss (the first epoch at the minimum of ``val_loss``) the learning
  rate was reduced at least ``min_lr_reductions`` times. A reduction is a drop of the
  ``lr`` column between consecutive epochs; the column holds the rate an epoch trained
  with, so a drop into epoch ``e`` was decided on epoch ``e - 1``'s validation loss and
  counts when ``e`` is later than the best epoch. A plateau schedule that halved the
  rate twice without a new validation best is the textbook levelled curve. A history
  without an ``lr`` column (older runs) has no reductions to count and goes by the
  trend alone. That the rate reached its floor (``min_lr``) does not count by itself:
  the history does not record the floor, and a rate that stopped falling cannot be
  told from one whose schedule was never triggered.
* **the trend** (runs without a schedule): the least-squares line through the
  validation loss of the last ``val_span`` of the epochs (at least two windows) falls
  per window, plus one standard error of that fall, by less than
  ``min_rel_improvement`` of its mean level. The standard error makes "levelled"
  something the curve shows, not something its noise hides: a short patience on a
  noisy curve cannot show it. A trend, not a minimum: an early stop comes by
  construction after ``patience`` epochs above the best, so a test on minima cannot
  tell a stop on noise (a validation loss still trending down under jumps longer than
  the patience) from a stop on a levelled or rising curve; the fitted line can.

A run too short for the window (``n <= w``) cannot be judged and counts as not
converged. Used by the aggregate on every run's ``history.csv`` (older runs included)
so a verdict can say "not tested: not converged" instead of blaming the method for a
training budget.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ecgrepro.errors import EcgreproError

__all__ = ["DEFAULTS", "KEYS", "assess", "describe_criterion", "loss_column", "window_for"]

#: The criterion's keys (config ``convergence``), all required.
KEYS = ("window_fraction", "min_window", "min_rel_improvement", "loss_floor", "val_span")

#: Optional keys and their defaults (a criterion written before them keeps its meaning
#: apart from the new route).
DEFAULTS = {"min_lr_reductions": 2}


def loss_column(history: pd.DataFrame) -> str:
    """The training-loss column: ``train_loss`` (contract) or ``loss`` (older runs)."""
    for name in ("train_loss", "loss"):
        if name in history:
            return name
    raise EcgreproError(
        f"history has no training-loss column (train_loss or loss); columns: "
        f"{list(history.columns)}. Re-run the training or check history.csv.")


def _check(criterion: dict) -> dict:
    try:
        c = {"window_fraction": float(criterion["window_fraction"]),
             "min_window": int(criterion["min_window"]),
             "min_rel_improvement": float(criterion["min_rel_improvement"]),
             "loss_floor": float(criterion["loss_floor"]),
             "val_span": float(criterion["val_span"]),
             "min_lr_reductions": int(criterion.get("min_lr_reductions",
                                                    DEFAULTS["min_lr_reductions"]))}
    except (KeyError, TypeError, ValueError) as err:
        raise EcgreproError(
            f"convergence criterion {criterion!r} needs {', '.join(KEYS)} (see config "
            f"'convergence' and workflow/schemas/config.schema.yaml).") from err
    if not (0 < c["window_fraction"] < 1 and 0 < c["val_span"] <= 1) or c["min_window"] < 1 \
            or c["min_lr_reductions"] < 1 or c["min_rel_improvement"] < 0 or c["loss_floor"] < 0:
        raise EcgreproError(
            f"convergence: {c}; window_fraction must be in (0, 1), val_span in (0, 1], "
            f"min_window and min_lr_reductions >= 1, min_rel_improvement and loss_floor >= 0 (config "
            f"'convergence').")
    return c


def window_for(n_epochs: int, criterion: dict) -> int:
    """The window, in epochs, for a run of ``n_epochs``."""
    c = _check(criterion)
    return max(c["min_window"], math.ceil(c["window_fraction"] * n_epochs))


def describe_criterion(criterion: dict) -> str:
    """The criterion in words, for tables and verdicts."""
    c = _check(criterion)
    return (f"best training loss of the last {100 * c['window_fraction']:g}% of the "
            f"epochs (at least {c['min_window']}) improves on the best before by less "
            f"than {100 * c['min_rel_improvement']:g}% or is below {c['loss_floor']:g}; "
            f"an early stop counts only when, after the epoch of its best validation "
            f"loss, the learning rate was reduced at least {c['min_lr_reductions']} "
            f"times (a drop of the rate between consecutive epochs), or when the "
            f"validation loss's linear trend over the last {100 * c['val_span']:g}% of "
            f"the epochs (at least two windows) falls, plus one standard error, by less "
            f"than {100 * c['min_rel_improvement']:g}% per window")


def _stopped_early(history: pd.DataFrame) -> bool:
    if "stopped_early" not in history:
        return False
    flags = history["stopped_early"].dropna()
    if flags.dtype == object:
        flags = flags.astype(str).str.lower().isin(["true", "1", "yes"])
    return bool(flags.astype(bool).any())


def _improvement(values: np.ndarray, window: int) -> float | None:
    """Relative improvement of the best of the last ``window`` values on the best before."""
    values = values[~np.isnan(values)]
    if len(values) <= window:
        return None
    before, last = float(values[:-window].min()), float(values[-window:].min())
    if before != 0:
        return (before - last) / abs(before)
    return 0.0 if last >= before else math.inf


def _trend(values: np.ndarray, window: int, span_fraction: float) -> float | None:
    """Fall of the fitted line per ``window`` epochs plus one standard error of it,
    relative to the line's mean level (None when too short to fit)."""
    values = values[~np.isnan(values)]
    span = min(len(values), max(2 * window, math.ceil(span_fraction * len(values))))
    if len(values) <= window or span < 4:
        return None
    y, t = values[-span:], np.arange(span, dtype=float)
    slope, intercept = np.polyfit(t, y, 1)
    resid = y - (intercept + slope * t)
    se = math.sqrt(resid.var(ddof=2) / ((t - t.mean()) ** 2).sum())
    level = float(np.mean(y))
    return float((-slope + se) * window / abs(level)) if level != 0 else None


def _lr_reductions_after_best(history: pd.DataFrame) -> int | None:
    """Drops of the learning rate between consecutive epochs after the epoch of the
    best validation loss; None without an ``lr`` or ``val_loss`` column to read."""
    if "lr" not in history or "val_loss" not in history:
        return None
    lr = pd.to_numeric(history["lr"], errors="coerce").to_numpy(dtype=float)
    val = pd.to_numeric(history["val_loss"], errors="coerce").to_numpy(dtype=float)
    if np.isnan(val).all() or np.isnan(lr).all():
        return None
    best = int(np.nanargmin(val))  # position of the first epoch at the minimum
    # lr[e] is the rate epoch e trained with: a drop into e was decided after e - 1.
    # A relative tolerance keeps float32 rates read back from text from counting.
    after = lr[best:]
    prev, cur = after[:-1], after[1:]
    drops = (cur < prev * (1 - 1e-6)) & ~np.isnan(prev) & ~np.isnan(cur)
    return int(drops.sum())


def assess(history: pd.DataFrame, criterion: dict) -> dict:
    """Judge one run's convergence from its training history.

    Parameters
    ----------
    history : DataFrame
        The run's ``history.csv``: ``epoch`` and ``train_loss`` (or ``loss``); optional
        ``val_loss``, ``lr`` (the rate each epoch trained with) and ``stopped_early``.
    criterion : dict
        Config ``convergence``: ``window_fraction``, ``min_window`` (epochs),
        ``min_rel_improvement`` (fraction), ``loss_floor`` (loss units), ``val_span``
        (fraction of the epochs), ``min_lr_reductions`` (optional, default 2).

    Returns
    -------
    dict
        ``converged`` (bool), ``criterion`` (text), ``epochs`` (int, epochs trained),
        ``window`` (int), ``rel_improvement`` (training loss; None when too short to
        judge), ``best_loss`` (best training loss of the window), ``below_floor``,
        ``stopped_early``, ``val_rel_improvement`` (the validation loss's fitted fall
        per window plus one standard error, relative; None without one or when too
        short), ``val_levelled`` (the trend route), ``lr_reductions_after_best`` (None
        without an ``lr`` or ``val_loss`` column), ``lr_reduced`` (the schedule route).
    """
    c = _check(criterion)
    h = history.sort_values("epoch") if "epoch" in history else history
    loss = pd.to_numeric(h[loss_column(h)], errors="coerce").to_numpy(dtype=float)
    loss = loss[~np.isnan(loss)]
    window = window_for(len(loss), c)
    stopped = _stopped_early(h)
    rel = _improvement(loss, window)
    best = float(loss[-window:].min()) if len(loss) > window else None
    below = best is not None and best < c["loss_floor"]
    val_rel = None
    if "val_loss" in h:
        val = pd.to_numeric(h["val_loss"], errors="coerce").to_numpy(dtype=float)
        val_rel = _trend(val, window, c["val_span"])
    val_levelled = val_rel is not None and val_rel < c["min_rel_improvement"]
    reductions = _lr_reductions_after_best(h)
    lr_reduced = reductions is not None and reductions >= c["min_lr_reductions"]
    train_levelled = rel is not None and (below or rel < c["min_rel_improvement"])
    return {
        "converged": bool(train_levelled or (stopped and (val_levelled or lr_reduced))),
        "criterion": describe_criterion(c), "epochs": int(len(loss)), "window": window,
        "rel_improvement": None if rel is None else float(rel),
        "best_loss": best, "below_floor": bool(below), "stopped_early": stopped,
        "val_rel_improvement": None if val_rel is None else float(val_rel),
        "val_levelled": bool(val_levelled),
        "lr_reductions_after_best": reductions, "lr_reduced": bool(lr_reduced),
    }
