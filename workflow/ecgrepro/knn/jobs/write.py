"""One k-NN run directory: its tables, ``metrics.json`` and provenance, atomically."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ecgrepro.data.ucr import UCRDataset
from ecgrepro.knn.core import variants as kv
from ecgrepro.knn.core.threads import numba_jobs
from ecgrepro.knn.core.vote import (
    NEIGHBOUR_TIE_RULE,
    VOTE_RULE,
    VOTE_TIE_RULE,
    check_ks,
)
from ecgrepro.knn.jobs.result import KnnResult
from ecgrepro.provenance import collect_provenance, write_json
from ecgrepro.store import atomic_dir, check_dir_matches, write_settings

log = logging.getLogger("ecgrepro")


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
        "threads_used": numba_jobs(threads),
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


def write_run(
    ds, var, result: KnnResult, ks, threads, outdir, inputs, extra, settings=None
) -> dict:
    """Write one run directory atomically (:func:`ecgrepro.store.atomic_dir`).

    ``settings`` (:func:`ecgrepro.store.knn_settings`) go to ``settings.json``; their
    digest must be the one in ``outdir``'s name.
    """
    if settings is not None:
        check_dir_matches(settings, outdir)
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
        write_json(tmp / "provenance.json", collect_provenance(None, inputs, extra, outdir=tmp))
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
