"""k-NN baselines: one neighbour search per (dataset, variant), every k derived from it.

The variants and their distances are in :mod:`ecgrepro.knn_variants`; this module
checks the inputs, sweeps k, and writes one run directory. DTW variants find their k
nearest neighbours with the exact pruned search of :mod:`ecgrepro.dtw` (the same
neighbours as the full matrix); the others compute the full test x train matrix
(:func:`ecgrepro.knn_variants.search_path`). Large runs are split into row blocks that
run as separate jobs and are joined by :mod:`ecgrepro.dtw.scatter` into the very same
run directory.

Vote rule (written into every run's ``metrics.json`` and ``accuracy.csv``):

* neighbours are the training series ordered by distance, equal distances in
  training-set order (a stable sort), and the first ``k`` of that order vote;
* each neighbour has one vote (plain majority);
* a tie between classes goes to the smallest label, i.e. the smallest class code
  (classes are sorted numerically when numeric, see :mod:`ecgrepro.data.ucr`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ecgrepro.data.ucr import UCRDataset, load_prepared
from ecgrepro.errors import DataError, EcgreproError
from ecgrepro.provenance import collect_provenance, write_json
from ecgrepro.store import atomic_dir, check_dir_matches, write_settings

log = logging.getLogger("ecgrepro")

DEFAULT_KS = tuple(range(1, 11))
VOTE_RULE = "plain majority vote of the k nearest training series (one vote each)"
NEIGHBOUR_TIE_RULE = "equal distances ordered by training index (stable sort)"
VOTE_TIE_RULE = "a tie between classes goes to the smallest label (class code)"


def parse_ks(text: str) -> tuple[int, ...]:
    """Parse ``"1-10"``, ``"1..10"`` or ``"1,3,5"`` into sorted unique positive ints."""
    ks: set[int] = set()
    for part in str(text).replace("..", "-").split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            ks.update(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            raise EcgreproError(f"ks {text!r}: write e.g. 1-10 or 1,3,5.") from None
    return check_ks(ks)


def check_ks(ks, n_train: int | None = None, name: str = "") -> tuple[int, ...]:
    """Sorted unique ks; an error when one is not a positive int or exceeds n_train."""
    ks = tuple(sorted(set(ks)))
    if not ks or any(not isinstance(k, (int, np.integer)) or k < 1 for k in ks):
        raise EcgreproError(f"ks must be positive integers, got {list(ks)}.")
    if n_train is not None and ks[-1] > n_train:
        raise EcgreproError(
            f"{name}: k = {ks[-1]} is larger than the training set ({n_train} series); "
            f"k-NN cannot have more neighbours than that. Use ks up to {n_train}."
        )
    return tuple(int(k) for k in ks)


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


def sweep(
    D: np.ndarray, y_train: np.ndarray, ks, n_classes: int
) -> dict[int, np.ndarray]:
    """Predicted class codes for every k from one test x train distance matrix.

    Applies the module's vote rule: stable order by distance, one vote per
    neighbour, ties to the smallest code (``argmax`` returns the first maximum).
    """
    ks = check_ks(ks, D.shape[1])
    order = np.argsort(D, axis=1, kind="stable")[:, : ks[-1]]
    return vote(order, y_train, ks, n_classes)


def vote(
    neighbours: np.ndarray, y_train: np.ndarray, ks, n_classes: int
) -> dict[int, np.ndarray]:
    """Predicted class codes for every k from each test series' ordered neighbours.

    ``neighbours[i]`` lists training indices, nearest first and equal distances in
    training order (as :func:`sweep`'s stable sort, or :func:`ecgrepro.dtw.knn_search`),
    at least ``max(ks)`` of them. One vote each, ties to the smallest code.
    """
    ks = check_ks(ks, neighbours.shape[1])
    labels = y_train[neighbours[:, : ks[-1]]]
    counts = np.zeros((neighbours.shape[0], n_classes), dtype=np.int64)
    rows = np.arange(neighbours.shape[0])
    out = {}
    for k in range(1, ks[-1] + 1):
        counts[rows, labels[:, k - 1]] += 1
        if k in ks:
            out[k] = counts.argmax(axis=1)
    return out


@dataclass
class KnnResult:
    """Everything one (dataset, variant) run computes, before it is written.

    ``distances`` is the (test rows x train) matrix on the matrix path; on the pruned
    path it holds each test row's k nearest distances and ``neighbours`` their
    training indices (nearest first, ties by index). ``rows`` are the test cases
    computed (None: all of them; a subset for a cross-check on a large set).
    """

    distances: np.ndarray
    radius: int | None
    predictions: dict[int, np.ndarray]
    timings: dict[str, float]
    window_search: list[dict] = field(default_factory=list)
    selected: dict | None = None
    neighbours: np.ndarray | None = None
    rows: np.ndarray | None = None
    search: dict = field(default_factory=dict)


def fit_predict(
    ds: UCRDataset, variant, ks=DEFAULT_KS, threads: int = 1, search: str = "auto"
) -> KnnResult:
    """Check, learn the window if asked, find the neighbours once, sweep k.

    ``search="auto"`` takes the variant's path (:func:`ecgrepro.knn_variants.search_path`:
    the exact pruned k-NN and window searches for DTW, the full matrix otherwise);
    ``"matrix"`` forces the naive full matrices and the naive window search, e.g. to
    check the pruned path. The predictions are the same either way.
    """
    from ecgrepro import knn_variants as kv

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
        rows = kv.learn_window(ds.X_train, ds.y_train, threads, method=method)
        selected = kv.select_window(rows)
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
    from ecgrepro import knn_variants as kv

    if path == "pruned":
        from ecgrepro.dtw import band_cells, knn_search

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
    D = kv.distance_matrix(variant, X_test, X_train, radius, threads)
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
            "pruned": "ecgrepro.dtw.window_nn: exact LOO nearest neighbour per radius "
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


def _tables(ds: UCRDataset, variant, result: KnnResult, definition: dict):
    classes = np.asarray(ds.classes, dtype=str)
    case_ids = np.arange(len(ds.y_test)) if result.rows is None else result.rows
    y_test = ds.y_test[case_ids]
    n = len(case_ids)
    test_rows = (
        "all"
        if result.rows is None
        else f"{n} of {len(ds.y_test)} (evenly spaced; case_ids in predictions.csv)"
    )
    preds, acc, conf = [], [], []
    for k, pred in result.predictions.items():
        preds.append(
            pd.DataFrame(
                {
                    "case_id": case_ids,
                    "k": k,
                    "y_true": classes[y_test],
                    "y_pred": classes[pred],
                }
            )
        )
        correct = int(np.sum(pred == y_test))
        acc.append(
            {
                "dataset": ds.name,
                "variant": variant.name,
                "k": k,
                "accuracy": correct / n,
                "n_test": n,
                "n_correct": correct,
                "distance": definition["summary"],
                "window_radius": result.radius,
                "vote_rule": VOTE_RULE,
                "tie_rule": f"{NEIGHBOUR_TIE_RULE}; {VOTE_TIE_RULE}",
                "test_rows": test_rows,
            }
        )
        counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
        np.add.at(counts, (y_test, pred), 1)
        t, p = np.meshgrid(
            np.arange(len(classes)), np.arange(len(classes)), indexing="ij"
        )
        conf.append(
            pd.DataFrame(
                {
                    "k": k,
                    "true": classes[t.ravel()],
                    "pred": classes[p.ravel()],
                    "count": counts.ravel(),
                }
            )
        )
    return pd.concat(preds), pd.DataFrame(acc), pd.concat(conf)


def _metrics(ds, variant, result, definition, accuracy, ks, threads) -> dict:
    from ecgrepro import knn_variants as kv

    best = accuracy.loc[accuracy["accuracy"].idxmax()]  # first maximum: smallest k
    out = {
        "dataset": ds.name,
        "variant": variant.name,
        "definition": definition,
        "vote_rule": VOTE_RULE,
        "neighbour_tie_rule": NEIGHBOUR_TIE_RULE,
        "vote_tie_rule": VOTE_TIE_RULE,
        "ks": list(ks),
        "accuracy": {
            int(k): float(a) for k, a in zip(accuracy["k"], accuracy["accuracy"])
        },
        "best_k": int(best["k"]),
        "best_accuracy": float(best["accuracy"]),
        "n_train": len(ds.y_train),
        "n_test": len(ds.y_test) if result.rows is None else len(result.rows),
        "length": ds.length,
        "classes": [str(c) for c in ds.classes],
        "threads_requested": threads,
        "threads_used": kv.numba_jobs(threads),
        "timings": result.timings,
        "search": result.search,
    }
    if result.rows is not None:
        out["test_rows"] = {
            "checked": len(result.rows),
            "of": len(ds.y_test),
            "case_ids": [int(i) for i in result.rows],
            "why": "a cross-check on a subset of the test set: the full matrix would "
            "exceed the configured cost (knn.sktime_subset)",
        }
    if result.selected is not None:
        out["window_search"] = {
            "protocol": "leave-one-out 1-NN accuracy on the training set for window "
            "percentages 0..100; the highest accuracy wins, ties to the smallest "
            "percentage; radius = ceil(percent * length / 100)",
            "selected_percent": result.selected["percent"],
            "selected_radius": result.selected["radius"],
            "loo_accuracy": result.selected["loo_accuracy"],
        }
    return out


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
        A variant name, see :mod:`ecgrepro.knn_variants`.
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
    from ecgrepro import knn_variants as kv

    if outdir is None:
        raise EcgreproError("run_knn needs an output directory (outdir).")
    var = kv.parse_variant(variant)
    ds = load_prepared(prepared_npz)
    ks = check_ks(ks, len(ds.y_train), ds.name)
    result = fit_predict(ds, var, ks, threads, search)
    extra = {"step": "knn", "variant": var.name, "ks": list(ks), "threads": threads}
    return write_run(ds, var, result, ks, threads, outdir, [prepared_npz], extra)


def write_run(
    ds, var, result: KnnResult, ks, threads, outdir, inputs, extra, settings=None
) -> dict:
    """Write one run directory atomically (:func:`ecgrepro.store.atomic_dir`).

    ``settings`` (:func:`ecgrepro.store.knn_settings`) go to ``settings.json``; their
    digest must be the one in ``outdir``'s name.
    """
    if settings is not None:
        check_dir_matches(settings, outdir)
    from ecgrepro import knn_variants as kv

    ks = check_ks(ks, len(ds.y_train), ds.name)
    path = result.search.get("path", "matrix")
    definition = kv.describe(var, ds.length, result.radius, path)
    predictions, accuracy, confusion = _tables(ds, var, result, definition)
    metrics = _metrics(ds, var, result, definition, accuracy, ks, threads)

    outdir = Path(outdir)
    with atomic_dir(outdir) as tmp:
        arrays = {"layout": "matrix", "distances": result.distances}
        if result.neighbours is not None:
            arrays = {
                "layout": "neighbours",
                "neighbours": result.neighbours,
                "distances": result.distances,
            }
        rows = np.arange(len(ds.y_test)) if result.rows is None else result.rows
        np.savez_compressed(
            tmp / "distances.npz",
            **arrays,
            rows=rows,
            y_train=ds.y_train,
            y_test=ds.y_test,
            classes=np.asarray(ds.classes, dtype=str),
            radius=-1 if result.radius is None else result.radius,
        )
        predictions.to_csv(tmp / "predictions.csv", index=False)
        accuracy.to_csv(tmp / "accuracy.csv", index=False)
        confusion.to_csv(tmp / "confusion.csv", index=False)
        if result.window_search:
            pd.DataFrame(result.window_search).to_csv(
                tmp / "window_search.csv", index=False
            )
        write_json(tmp / "timings.json", result.timings)
        write_json(tmp / "metrics.json", metrics)
        write_json(tmp / "provenance.json", collect_provenance(None, inputs, extra))
        if settings is not None:
            write_settings(tmp, settings)
    log.info(
        "%s %s: k=%d best, accuracy %.4f (%s)",
        ds.name,
        var.name,
        metrics["best_k"],
        metrics["best_accuracy"],
        outdir,
    )
    return metrics
