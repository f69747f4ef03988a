"""k-NN baselines: one neighbour search per (dataset, variant), every k derived from it.

The variants and their distances are in :mod:`ecgrepro.knn.core.variants`; this module
checks the inputs, finds the neighbours once, sweeps k (:mod:`ecgrepro.knn.core.vote`)
and writes one run directory (:mod:`ecgrepro.knn.jobs.write`). DTW variants find their
k nearest neighbours with the exact pruned search of :mod:`ecgrepro.knn.core` (the
same neighbours as the full matrix); the others compute the full test x train matrix
(:func:`ecgrepro.knn.core.variants.search_path`). Large runs are split into row
blocks that run as separate jobs and are joined by :mod:`ecgrepro.knn.jobs.scatter`
into the very same run directory.
"""

from __future__ import annotations

import time

import numpy as np

from ecgrepro.data.ucr import UCRDataset, load_prepared
from ecgrepro.errors import DataError, EcgreproError
from ecgrepro.knn.core import variants as kv
from ecgrepro.knn.core.distances import distance_matrix
from ecgrepro.knn.core.search import band_cells, knn_search
from ecgrepro.knn.core.vote import DEFAULT_KS, check_ks, sweep, vote
from ecgrepro.knn.core.window import learn_window, select_window
from ecgrepro.knn.jobs.result import KnnResult
from ecgrepro.knn.jobs.write import write_run


def _first_bad_row(X: np.ndarray) -> tuple[int, str] | None:
    bad = ~np.isfinite(X)
    if not bad.any():
        return None
    i = int(np.flatnonzero(bad.any(axis=1))[0])
    row = bad[i]
    first = int(np.argmax(row))
    if np.isnan(X[i, first:]).all():  # NaN only at the end: the archive's padding
        return i, f"is {first} points long, others {X.shape[1]} (unequal lengths)"
    where = np.flatnonzero(row)
    return i, f"has {len(where)} missing or infinite values (first at t = {where[0]})"


def check_dataset(ds: UCRDataset) -> None:
    """Equal lengths, no missing values, labels that are class codes.

    Raises
    ------
    DataError
        Naming the dataset, the split and the row (0-based) of the first offender.
    """
    for split, X in (("TRAIN", ds.X_train), ("TEST", ds.X_test)):
        if X.ndim != 2 or len(X) == 0:
            raise DataError(f"{ds.name} {split}: expected a non-empty (n, length) array.")
        found = _first_bad_row(X)
        if found:
            i, what = found
            n_bad = int((~np.isfinite(X)).any(axis=1).sum())
            raise DataError(
                f"{ds.name}: {split} row {i} {what}; {n_bad} {split} row(s) affected. "
                "The k-NN baselines need equal-length series without missing values: "
                "resample or interpolate them when preparing the dataset, or leave "
                f"{ds.name} out of the k-NN runs."
            )
    if ds.X_train.shape[1] != ds.X_test.shape[1]:
        raise DataError(
            f"{ds.name}: TRAIN series are {ds.X_train.shape[1]} long, TEST series "
            f"{ds.X_test.shape[1]}; prepare the dataset again."
        )
    for split, y in (("TRAIN", ds.y_train), ("TEST", ds.y_test)):
        if len(y) and (y.min() < 0 or y.max() >= len(ds.classes)):
            raise DataError(f"{ds.name} {split}: labels are not codes into classes.")


def fit_predict(
    ds: UCRDataset, variant, ks=DEFAULT_KS, threads: int = 1, search: str = "auto"
) -> KnnResult:
    """Check, learn the window if asked, find the neighbours once, sweep k.

    ``search="auto"`` takes the variant's path (:func:`ecgrepro.knn.core.variants.search_path`:
    the exact pruned k-NN and window searches for DTW, the full matrix otherwise);
    ``"matrix"`` forces the naive full matrices and the naive window search, e.g. to
    check the pruned path. The predictions are the same either way.
    """
    variant = kv.parse_variant(variant) if isinstance(variant, str) else variant
    if search not in ("auto", "matrix"):
        raise EcgreproError(f"search {search!r}: use auto or matrix.")
    path = kv.search_path(variant) if search == "auto" else "matrix"
    check_dataset(ds)
    ks = check_ks(ks, len(ds.X_train), ds.name)
    timings = {"window_search_s": 0.0}
    rows, selected, method = [], None, None
    radius = kv.variant_radius(variant, ds.length)
    if variant.window == "learned":
        t0 = time.perf_counter()
        method = "pruned" if path == "pruned" else "naive"
        rows = learn_window(ds.X_train, ds.y_train, threads, method=method)
        selected = select_window(rows)
        radius = selected["radius"]
        timings["window_search_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = find_neighbours(variant, path, ds.X_test, ds.X_train, radius, ks, threads)
    timings[found["timing"]] = time.perf_counter() - t0
    return finish(
        ds, variant, found, radius, ks, timings, rows, selected, window_method=method
    )


def find_neighbours(variant, path, X_test, X_train, radius, ks, threads) -> dict:
    """The test rows' k nearest (``path="pruned"``) or their rows of the full matrix.

    Returns a dict: ``neighbours`` (None on the matrix path), ``distances``, and on
    the pruned path ``cells`` (DTW cells computed) and ``cells_naive`` (the matrix's).
    """
    if path == "pruned":
        absolute = variant.point_cost == "absolute"
        idx, dist, cells = knn_search(X_test, X_train, radius, ks[-1], absolute, threads)
        naive = len(X_test) * len(X_train) * band_cells(X_train.shape[1], radius)
        return {
            "neighbours": idx,
            "distances": dist,
            "cells": int(cells.sum()),
            "cells_naive": int(naive),
            "timing": "neighbour_search_s",
        }
    D = distance_matrix(variant, X_test, X_train, radius, threads)
    return {"neighbours": None, "distances": D, "timing": "distance_matrix_s"}


def finish(
    ds,
    variant,
    found: dict,
    radius,
    ks,
    timings: dict,
    window_rows,
    selected,
    *,
    rows=None,
    blocks: int = 1,
    window_method: str | None = None,
) -> KnnResult:
    """Vote for every k and assemble the :class:`KnnResult` (the gather uses it too).

    ``found`` is :func:`find_neighbours`'s dict (or the blocks' joined); ``rows`` the
    test cases it covers (None: all).
    """
    t0 = time.perf_counter()
    if found["neighbours"] is not None:
        preds = vote(found["neighbours"], ds.y_train, ks, len(ds.classes))
        search = {
            "path": "pruned",
            "method": "exact k-NN search: LB_Kim/LB_Keogh cascade in increasing bound "
            "order, early-abandoned pruned DTW (EAPruned) with the k-th distance as "
            "cutoff; neighbours ordered by (distance, training index)",
            "dtw_cells": found["cells"],
            "dtw_cells_full_matrix": found["cells_naive"],
        }
    else:
        preds = sweep(found["distances"], ds.y_train, ks, len(ds.classes))
        search = {"path": "matrix", "method": "full test x train distance matrix"}
    timings["sweep_s"] = time.perf_counter() - t0
    if window_method is not None:
        search["window_search"] = {
            "pruned": "ecgrepro.knn.core.search.window_nn: exact LOO nearest neighbour per radius "
            "(validity ranges of warping paths, LB_Keogh, pruned DTW)",
            "naive": "one full aeon training matrix per radius",
        }[window_method]
    search["blocks"] = blocks
    return KnnResult(
        found["distances"],
        radius,
        preds,
        timings,
        window_rows,
        selected,
        neighbours=found["neighbours"],
        rows=rows,
        search=search,
    )


def run_knn(
    prepared_npz,
    variant: str,
    ks=DEFAULT_KS,
    threads: int = 1,
    outdir=None,
    search: str = "auto",
) -> dict:
    """Run one k-NN variant on one prepared dataset and write its run directory.

    Parameters
    ----------
    prepared_npz : str or Path
        A dataset written by :func:`ecgrepro.data.ucr.save_prepared`.
    variant : str
        A variant name, see :mod:`ecgrepro.knn.core.variants`.
    ks : iterable of int
        The k to evaluate, each at most the training-set size (default 1..10).
    threads : int
        Workers for the distance matrices; results do not depend on it.
    outdir : str or Path
        The run directory, e.g. ``results/knn/<dataset>/<variant>``. It is written
        in a temporary sibling and renamed into place only when complete.
    search : str
        ``"auto"`` (the variant's path) or ``"matrix"`` (naive full matrices).

    Returns
    -------
    dict
        The content of ``metrics.json``.

    Notes
    -----
    Files written: ``distances.npz``, ``predictions.csv`` (case_id, k, y_true, y_pred;
    the archive's labels), ``accuracy.csv``, ``confusion.csv`` (k, true, pred,
    count), ``timings.json``, ``metrics.json``, ``provenance.json`` and, for
    ``learned``, ``window_search.csv``.

    ``distances.npz`` holds ``layout``: ``"matrix"`` with ``distances`` the test x
    train matrix, or ``"neighbours"`` (pruned DTW search) with ``neighbours`` and
    ``distances`` the k nearest training indices and distances of each test row,
    nearest first (the first k columns of the matrix's stable argsort, and their
    values, bit for bit). ``rows`` are the test cases computed (all, unless a subset).
    """
    if outdir is None:
        raise EcgreproError("run_knn needs an output directory (outdir).")
    var = kv.parse_variant(variant)
    ds = load_prepared(prepared_npz)
    ks = check_ks(ks, len(ds.y_train), ds.name)
    result = fit_predict(ds, var, ks, threads, search)
    extra = {"step": "knn", "variant": var.name, "ks": list(ks), "threads": threads}
    return write_run(ds, var, result, ks, threads, outdir, [prepared_npz], extra)
