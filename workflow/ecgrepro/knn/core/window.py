"""The UCR archive's window search: leave-one-out 1-NN accuracy per window percentage.

The percent-to-radius rule and why the smallest best percentage wins are in
:mod:`ecgrepro.knn.core.variants`.
"""

from __future__ import annotations

import numpy as np

from ecgrepro.errors import EcgreproError
from ecgrepro.knn.core.distances import aeon_dtw_matrix
from ecgrepro.knn.core.search import window_nn
from ecgrepro.knn.core.variants import LEARN_PERCENTS, percent_to_radius

def learn_window(
    X_train, y_train, threads: int, percents=LEARN_PERCENTS, method: str = "pruned"
) -> list[dict]:
    """Leave-one-out 1-NN accuracy on the training set for each window percentage.

    Each distinct radius is computed once. The nearest neighbour of a left-out series
    is the one with the smallest distance, ties to the smallest training index (as
    everywhere in ecgrepro). Select with :func:`select_window`.

    ``method="pruned"`` (default) finds every left-out series' nearest neighbour at
    every radius with :func:`ecgrepro.knn.core.search.window_nn`; ``"naive"`` computes one full
    training matrix per radius with aeon. Both give the same rows (tested).

    Returns
    -------
    list of dict
        One row per percentage: percent, radius, loo_correct, loo_accuracy.
    """
    if len(X_train) < 2:
        raise EcgreproError("learning a DTW window by leave-one-out needs >= 2 series.")
    if method not in ("pruned", "naive"):
        raise EcgreproError(f"learn_window method {method!r}: use pruned or naive.")
    length = X_train.shape[1]
    percents = list(percents)
    radii = [min(percent_to_radius(p, length), length - 1) for p in percents]
    if method == "pruned":

        y = np.asarray(y_train)
        found, nn, _, _ = window_nn(X_train, np.arange(len(y)), radii, threads)
        by_radius = {int(r): int(np.sum(y[nn[:, c]] == y)) for c, r in enumerate(found)}
        return window_rows(percents, length, by_radius, len(y))
    by_radius: dict[int, int] = {}
    for r in radii:
        if r not in by_radius:
            D = aeon_dtw_matrix(X_train, None, r, threads)  # symmetric: half the work
            np.fill_diagonal(D, np.inf)
            nearest = np.argmin(D, axis=1)  # first minimum: smallest index on ties
            by_radius[r] = int(np.sum(y_train[nearest] == y_train))
    return window_rows(percents, length, by_radius, len(y_train))


def window_rows(percents, length: int, by_radius: dict, n: int) -> list[dict]:
    """The window-search table: one row per percentage from LOO counts per radius."""
    rows = []
    for p in percents:
        r = min(percent_to_radius(p, length), length - 1)
        rows.append(
            {
                "percent": p,
                "radius": percent_to_radius(p, length),
                "loo_correct": by_radius[r],
                "loo_accuracy": by_radius[r] / n,
            }
        )
    return rows


def select_window(rows: list[dict]) -> dict:
    """The row with the highest LOO accuracy; ties to the smallest percentage."""
    best = max(r["loo_correct"] for r in rows)
    return min((r for r in rows if r["loo_correct"] == best), key=lambda r: r["percent"])
