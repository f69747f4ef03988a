"""The test cases behind seed-level rows, for the two-level bootstrap.

:class:`CaseStore` finds, for seed-level rows of :func:`ecgrepro.aggregate.tables.seed_table`,
the predictions they were scored from and returns them as a
:class:`~ecgrepro.aggregate.bootstrap.CaseSet`: a training seed's cases are its run's
predictions (cross-validation: all folds of the seed, each case keyed by its fold); a
k-NN row (one deterministic run) is expanded from its confusion counts, which for one
run is the same resampling. Scores of seeds sharing one test set (same case keys and true
labels) are then resampled on the same case indices. Without predictions (a table built
by hand) :func:`score_draws` falls back to :func:`~ecgrepro.aggregate.bootstrap.comonotone`.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from ecgrepro.aggregate.bootstrap import (
    SCORE_NAMES,
    CaseSet,
    comonotone,
    joint_draws,
    n_cases,
)

__all__ = ["CaseStore", "diff_draws", "score_draws"]


def _key(split: str, case_id) -> np.ndarray:
    """Case keys unique across the splits of one dataset (fold, then case)."""
    return (np.int64(zlib.crc32(str(split).encode())) << 32) + np.asarray(case_id, np.int64)


class CaseStore:
    """Per-case predictions of collected runs, looked up by seed-level rows.

    Parameters
    ----------
    col : Collected or None
        What :func:`ecgrepro.aggregate.collect.collect` read (None: no predictions).
    """

    def __init__(self, col=None):
        self.col = col
        self._draws: dict = {}
        # class codes per dataset: the runs' order, then any label seen only here
        self._index = {d: {str(c): i for i, c in enumerate(labels)}
                       for d, labels in (col.classes if col is not None else {}).items()}

    def _codes(self, dataset: str, labels) -> np.ndarray:
        index = self._index.setdefault(dataset, {})
        labels = np.asarray(labels, dtype=str)
        for v in pd.unique(labels):
            index.setdefault(v, len(index))
        return np.array([index[v] for v in labels], dtype=np.int64)

    def _train(self, row) -> tuple | None:
        runs = self.col.runs
        hit = runs[(runs["kind"] == "train") & (runs["dataset"] == row["dataset"])
                   & (runs["model"] == row["model"]) & (runs["framework"] == row["framework"])
                   & (runs["protocol"] == row["protocol"]) & (runs["seed"] == row["seed"])
                   & (runs["checkpoint"] == row["checkpoint"])]
        parts = [(r.split, self.col.cases.get((r.run, r.checkpoint))) for r in hit.itertuples()]
        if not parts or any(p is None for _, p in parts):
            return None
        keys = np.concatenate([_key(split, p[0]) for split, p in parts])
        true = np.concatenate([p[1] for _, p in parts])
        pred = np.concatenate([p[2] for _, p in parts])
        return keys, true, pred

    def _knn(self, row) -> tuple | None:
        conf = self.col.confusion
        hit = conf[(conf["kind"] == "knn") & (conf["dataset"] == row["dataset"])
                   & (conf["model"] == row["model"]) & (conf["framework"] == row["framework"])
                   & (conf["k"] == row["k"])]
        if not len(hit):
            return None
        counts = hit["count"].to_numpy(np.int64)
        true = np.repeat(hit["true"].to_numpy(), counts)
        pred = np.repeat(hit["pred"].to_numpy(), counts)
        return _key(f"knn:{row['model']}", np.arange(len(true))), true, pred

    def case_set(self, rows: pd.DataFrame) -> CaseSet | None:
        """The cases of ``rows`` (status ``ok``), or None when any row has none."""
        if self.col is None or not len(rows) or self.col.runs.empty:
            return None
        found = []
        for _, row in rows.iterrows():
            got = self._knn(row) if row["kind"] == "knn" else self._train(row)
            if got is None:
                return None
            found.append((row["dataset"], *got))
        keys, trues, preds = [], [], []
        for dataset, k, t, p in found:
            order = np.argsort(k, kind="stable")
            keys.append(k[order])
            trues.append(self._codes(dataset, t)[order])
            preds.append(self._codes(dataset, p)[order])
        return CaseSet(trues, preds, keys,
                       max(len(self._index[d]) for d in {f[0] for f in found}))


IDENT = ["kind", "dataset", "model", "framework", "protocol", "checkpoint", "k", "seed"]


def _cases(store: CaseStore | None, rows: pd.DataFrame) -> tuple[CaseSet | None, str]:
    """The rows' cases (``cases``), stand-in cases from accuracy and test size
    (``stand-in``), or (None, "")."""
    cs = store.case_set(rows) if store is not None else None
    if cs is not None:
        return cs, "cases"
    if not len(rows) or "n_test" not in rows or "accuracy" not in rows:
        return None, ""
    n_test = pd.to_numeric(rows["n_test"], errors="coerce")
    acc = pd.to_numeric(rows["accuracy"], errors="coerce")
    if n_test.isna().any() or acc.isna().any():
        return None, ""
    return comonotone(acc, n_test), "stand-in"


def score_draws(store: CaseStore | None, rows: pd.DataFrame, n_boot: int,
                seed: int) -> tuple[dict, str, int]:
    """Two-level bootstrap draws of the mean scores of seed-level ``rows``.

    Returns
    -------
    (dict, str, int)
        ``{metric: draws}`` (:data:`~ecgrepro.aggregate.bootstrap.SCORE_NAMES`; only
        accuracy from stand-in cases; empty when nothing can be drawn), how the cases
        were found (``cases``, ``stand-in`` or "") and the number of distinct test cases.
    """
    key = (tuple(map(str, rows.reindex(columns=IDENT).itertuples(index=False))), n_boot,
           seed)
    if store is not None and key in store._draws:
        return store._draws[key]
    cs, how = _cases(store, rows)
    if cs is None:
        return {}, "", 0
    metrics = SCORE_NAMES if how == "cases" else ("accuracy",)
    out = (joint_draws([cs], metrics, n_boot, seed)[0], how, n_cases([cs]))
    if store is not None:
        store._draws[key] = out
    return out


def diff_draws(store: CaseStore | None, a: pd.DataFrame, b: pd.DataFrame, metric: str,
               n_boot: int, seed: int, pair_seeds: bool = False):
    """Draws of mean ``metric`` of ``a`` minus that of ``b``, resampled jointly.

    A test set both sides were scored on is resampled once per draw for both (the same
    case indices on each side); test sets of one side only are resampled on their own.
    ``pair_seeds``: row i of ``a`` goes with row i of ``b`` (same run, another
    checkpoint; or the same seed and split) and they are resampled together.

    Returns
    -------
    (ndarray or None, str)
        The draws (None when a side has no cases) and how the cases were found.
    """
    ca, how_a = _cases(store, a)
    cb, how_b = _cases(store, b)
    if ca is None or cb is None:
        return None, ""
    if metric != "accuracy" and "stand-in" in (how_a, how_b):
        return None, ""
    pair = pair_seeds and ca.n_seeds == cb.n_seeds
    da, db = joint_draws([ca, cb], (metric,), n_boot, seed, pair_seeds=pair)
    how = "stand-in" if "stand-in" in (how_a, how_b) else "cases"
    return da[metric] - db[metric], how
