"""Derived tables: one value per configuration and seed, summaries, MIT-BIH metrics.

A *configuration* is ``kind, dataset, model, framework, protocol, checkpoint, k``. Its
seed-level value comes from one run (a UCR test set, MIT-BIH DS2, one k-NN run) or, for
cross-validation (splits ``fold<i>``), from the confusion matrix pooled over all folds of
that seed: the CV estimate. A seed whose runs are missing, or whose folds are
incomplete, is kept as a row with status ``missing`` or ``partial`` and no value, so a
summary always says how many runs it rests on and which are absent.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ecgrepro.aggregate.collect import CHECKPOINT_ORDER, Collected, RunId
from ecgrepro.aggregate.frameworks import frameworks_table
from ecgrepro.aggregate.bootstrap import effective_wilson, percentile, shared_label
from ecgrepro.aggregate.cases import CaseStore, score_draws
from ecgrepro.aggregate.stats import describe, interval_label, score_label, wilson
from ecgrepro.convergence import assess
from ecgrepro.metrics import per_class_metrics, summary_metrics

__all__ = [
    "CONFIG",
    "SCORES",
    "SEED_METRICS",
    "add_convergence",
    "frameworks_table",
    "mitdb_tables",
    "seed_table",
    "summary_table",
]

CONFIG = ["kind", "dataset", "model", "framework", "protocol", "checkpoint", "k"]
SCORES = ["accuracy", "balanced_accuracy", "macro_sensitivity", "macro_specificity",
          "macro_ppv", "macro_f1"]
COSTS = ["seconds_per_epoch", "train_seconds", "predict_seconds", "max_rss_mb"]
SEED_METRICS = [*SCORES, "ppv_undefined", "n_test", *COSTS, "n_params", "epochs", "epoch"]
SUMMARY_METRICS = [*SCORES, *COSTS, "n_params"]
POOLED = "pooled"


def _is_fold(split: str) -> bool:
    return re.fullmatch(r"fold\d+", str(split)) is not None


def _pool(rows: pd.DataFrame, confusion: pd.DataFrame) -> dict:
    """Seed-level values of one configuration from its runs (several folds: pooled)."""
    if len(rows) == 1 and not _is_fold(rows["split"].iloc[0]):
        return {m: rows[m].iloc[0] for m in SEED_METRICS if m in rows}
    cells = confusion.merge(rows[["run", "checkpoint"]], on=["run", "checkpoint"])
    labels = list(dict.fromkeys(cells["true"]))
    cm = (cells.groupby(["true", "pred"], sort=False)["count"].sum().unstack("pred")
          .reindex(index=labels, columns=labels).fillna(0).astype(np.int64))
    out = summary_metrics(cm)
    out["n_test"] = out.pop("n")
    out.update(
        seconds_per_epoch=rows["seconds_per_epoch"].mean(),
        train_seconds=rows["train_seconds"].sum(),
        predict_seconds=rows["predict_seconds"].sum(),
        max_rss_mb=rows["max_rss_mb"].max(),
        n_params=rows["n_params"].iloc[0],
        epochs=rows["epochs"].iloc[0],
        epoch=rows["epoch"].mean(),
    )
    return out


def seed_table(col: Collected, expected: list[RunId], reported_rules: dict) -> pd.DataFrame:
    """One row per configuration x seed, expected or found.

    Parameters
    ----------
    col : Collected
        What :func:`ecgrepro.aggregate.collect.collect` read.
    expected : list of RunId
        The configured runs.
    reported_rules : dict
        ``{protocol: checkpoint rule it reports}``, used for configurations of which no
        run exists (their other rules are unknown until one does).

    Returns
    -------
    DataFrame
        :data:`CONFIG`, ``reported, selects_on_test, seed, split, n_splits, status,
        note`` and :data:`SEED_METRICS` (NaN unless status is ``ok``).
    """
    runs = col.runs
    out = []
    units: dict = {}
    for r in expected:
        units.setdefault((r.kind, r.dataset, r.model, r.framework, r.protocol, r.seed),
                         []).append(r)
    for (kind, dataset, model, framework, protocol, seed), members in units.items():
        names = [r.name for r in members]
        present = runs[runs["run"].isin(names)] if len(runs) else runs
        if kind == "knn":
            out.extend(_knn_rows(present, members[0]))
            continue
        same = runs[(runs["kind"] == "train") & (runs["dataset"] == dataset)
                    & (runs["model"] == model) & (runs["protocol"] == protocol)] \
            if len(runs) else runs
        found = set(same["checkpoint"].dropna()) if len(same) else set()
        rules = sorted(found or {reported_rules.get(protocol, "last")},
                       key=CHECKPOINT_ORDER.get)
        splits = [r.split for r in members]
        pooled = len(splits) > 1 or _is_fold(splits[0])
        for rule in rules:
            rows = present[present["checkpoint"] == rule] if len(present) else present
            have = set(rows["split"]) if len(rows) else set()
            lacking = [s for s in splits if s not in have]
            row = {"kind": kind, "dataset": dataset, "model": model, "framework": framework,
                   "protocol": protocol, "checkpoint": rule, "k": pd.NA,
                   "reported": bool(rows["reported"].iloc[0]) if len(rows)
                   else rule == reported_rules.get(protocol, rule),
                   "selects_on_test": rule == "best_test", "seed": seed,
                   "split": POOLED if pooled else splits[0], "n_splits": len(splits)}
            if not lacking:
                row.update(status="ok", note="", **_pool(rows, col.confusion))
            elif len(lacking) == len(splits):
                row.update(status="missing", note="no run" if not pooled else
                           f"all {len(splits)} folds missing")
            else:
                row.update(status="partial", note=f"{len(lacking)} of {len(splits)} folds "
                           f"missing: {', '.join(lacking)}; not pooled")
            out.append(row)
    cols = [*CONFIG, "reported", "selects_on_test", "seed", "split", "n_splits", "status",
            "note", *SEED_METRICS]
    frame = pd.DataFrame(out)
    for c in cols:
        if c not in frame:
            frame[c] = np.nan
    frame["seed"] = frame["seed"].astype("Int64")
    frame["k"] = frame["k"].astype("Int64")
    for c in ("n_test", "n_params", "epochs", "ppv_undefined"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("Int64")
    frame["reported"] = frame["reported"].astype(bool)
    frame["selects_on_test"] = frame["selects_on_test"].astype(bool)
    return _sort(frame[cols])


def _knn_rows(present: pd.DataFrame, run: RunId) -> list[dict]:
    base = {"kind": "knn", "dataset": run.dataset, "model": run.model, "protocol": "knn",
            "checkpoint": pd.NA, "reported": True, "selects_on_test": False,
            "seed": pd.NA, "split": run.split, "n_splits": 1}
    if not len(present):
        return [{**base, "framework": "", "k": pd.NA, "status": "missing", "note": "no run"}]
    return [{**base, "framework": row["framework"], "k": row["k"], "status": "ok",
             "note": "", **{m: row.get(m, np.nan) for m in SEED_METRICS}}
            for _, row in present.iterrows()]


def _sort(frame: pd.DataFrame, extra=("seed",)) -> pd.DataFrame:
    keys = frame[["kind", "dataset", "model", "framework", "protocol"]].astype(str)
    keys = keys.assign(
        checkpoint=frame["checkpoint"].map(lambda r: CHECKPOINT_ORDER.get(r, -1)),
        k=frame["k"].fillna(-1).astype(int),
        **{c: frame[c].fillna(-1).astype(int) for c in extra if c in frame},
        position=np.arange(len(frame)),
    )
    return frame.loc[keys.sort_values(list(keys.columns)).index].reset_index(drop=True)


def score_describe(rows: pd.DataFrame, metric: str, interval_cfg: dict,
                   store: CaseStore | None = None) -> tuple[dict, str]:
    """:func:`describe` of a score over seed-level ``rows``, with an interval in [0, 1].

    The interval comes from a two-level bootstrap (seeds, and once per draw the cases of
    each shared test set: :mod:`~ecgrepro.aggregate.bootstrap`), so one test set's own
    sampling error is counted once, not averaged away over the seeds that share it.
    Accuracy: the Wilson interval at the bootstrap's effective number of cases
    (:func:`~ecgrepro.aggregate.bootstrap.effective_wilson`); macro means: percentiles of
    the draws. Without per-case predictions accuracy uses stand-in cases
    (:func:`~ecgrepro.aggregate.bootstrap.comonotone`) and macro means a bootstrap over
    seeds alone, and the label says so.

    Returns
    -------
    (dict, str)
        The statistics (and ``n_cases``, the distinct test cases, 0 when unknown) and
        the label of the interval ("" when there is none).
    """
    level, n_boot, seed = (interval_cfg[k] for k in ("level", "n_boot", "seed"))
    rows = rows[pd.to_numeric(rows[metric], errors="coerce").notna()]
    values = rows[metric].astype(float)
    stats = describe(values, method="t", level=level)
    draws, how, n = score_draws(store, rows, n_boot, seed) if len(rows) else ({}, "", 0)
    stats["n_cases"] = n
    if metric in draws:
        if metric == "accuracy":
            stats["ci_low"], stats["ci_high"] = effective_wilson(
                draws[metric], stats["mean"], n, level)
        else:
            stats["ci_low"], stats["ci_high"] = percentile(draws[metric], level)
        return stats, shared_label(level, n_boot, seed, how, wilson=metric == "accuracy")
    boot = describe(values, method="bootstrap", level=level, n_boot=n_boot, seed=seed)
    stats["ci_low"], stats["ci_high"] = boot["ci_low"], boot["ci_high"]
    return stats, score_label(level, n_boot, seed, test_cases=False) if stats["n"] > 1 else ""


def summary_table(seeds: pd.DataFrame, interval_cfg: dict,
                  store: CaseStore | None = None) -> pd.DataFrame:
    """Mean, sd, min, max and an interval over seeds, per configuration and metric.

    Scores (:data:`SCORES`) get intervals inside [0, 1] from the two-level bootstrap
    (:func:`score_describe`); accuracy also the Wilson interval of its mean on the
    distinct test cases (``wilson_low, wilson_high``: one test set's own sampling error
    alone, never pooled over seeds that share it); costs get the configured interval
    over seeds.

    Parameters
    ----------
    seeds : DataFrame
        From :func:`seed_table`.
    interval_cfg : dict
        ``method`` (t or bootstrap), ``level``, ``n_boot``, ``seed`` (config
        ``claims.interval``).
    store : CaseStore, optional
        The runs' predictions (None: stand-in cases, see :func:`score_describe`).

    Returns
    -------
    DataFrame
        One row per configuration x metric: ``n_expected, n_runs, complete, missing``
        (which seeds lack a value, and why), ``mean, sd, min, max, ci_low, ci_high,
        interval`` (how the interval was computed), ``wilson_low, wilson_high`` and
        ``ppv_undefined`` (for macro_ppv: classes never predicted, counted as PPV 0,
        summed over the seeds).
    """
    kw = {k: interval_cfg[k] for k in ("method", "level", "n_boot", "seed")}
    label = interval_label(**kw)
    out = []
    keys = [*CONFIG, "reported", "selects_on_test", "split"]
    for key, group in seeds.groupby(keys, dropna=False, sort=False):
        ok = group[group["status"] == "ok"]
        lacking = group[group["status"] != "ok"]
        missing = "; ".join(f"seed {'-' if pd.isna(s) else s}: {n}"
                            for s, n in zip(lacking["seed"], lacking["note"]))
        for metric in SUMMARY_METRICS:
            if metric not in group:
                continue
            values = ok[metric].astype(float).dropna()
            if group["kind"].iloc[0] == "knn" and metric in ("seconds_per_epoch",
                                                            "n_params", "train_seconds"):
                continue
            if not len(values) and len(ok):
                continue  # not measured by this kind of run
            extra = {"wilson_low": np.nan, "wilson_high": np.nan, "ppv_undefined": pd.NA}
            if metric in SCORES:
                stats, how = score_describe(ok, metric, interval_cfg, store)
                n_cases = stats.pop("n_cases")
                if metric == "accuracy" and n_cases and len(values):
                    lo, hi = wilson(stats["mean"] * n_cases, n_cases, interval_cfg["level"])
                    extra.update(wilson_low=lo, wilson_high=hi)
                if metric == "macro_ppv" and "ppv_undefined" in ok:
                    und = pd.to_numeric(ok["ppv_undefined"], errors="coerce").dropna()
                    extra["ppv_undefined"] = int(und.sum()) if len(und) else pd.NA
            else:
                stats = describe(values, **kw)
                how = label if len(values) > 1 else ""
                if len(values) > 1 and stats["ci_low"] < 0 <= values.min():
                    # seconds, memory, counts: never negative, nor is their interval
                    stats["ci_low"] = 0.0
                    how += ", truncated at 0"
            out.append({**dict(zip(keys, key)), "metric": metric,
                        "n_expected": len(group), "n_runs": stats.pop("n"),
                        "complete": len(lacking) == 0, "missing": missing, **stats,
                        "interval": how, **extra})
    frame = pd.DataFrame(out, columns=[*keys, "metric", "n_expected", "n_runs", "complete",
                                       "missing", "mean", "sd", "min", "max", "ci_low",
                                       "ci_high", "interval", "wilson_low", "wilson_high",
                                       "ppv_undefined"])
    frame["k"] = frame["k"].astype("Int64")
    frame["ppv_undefined"] = frame["ppv_undefined"].astype("Int64")
    order = {m: i for i, m in enumerate(SUMMARY_METRICS)}
    frame = frame.assign(_m=frame["metric"].map(order))
    return _sort(frame, extra=("_m",)).drop(columns="_m")


def add_convergence(seeds: pd.DataFrame, history: pd.DataFrame,
                    criterion: dict) -> pd.DataFrame:
    """Seeds with ``converged, n_converged, n_judged, rel_improvement`` of their runs.

    Each training run is judged by :func:`ecgrepro.convergence.assess` on its
    ``history.csv``; a CV seed (several folds) has converged when every fold has, and its
    ``rel_improvement`` is the largest of its folds'. k-NN rows and runs without a
    history get NA.
    """
    out = seeds.copy()
    ident = ["dataset", "model", "framework", "protocol", "seed"]
    for c in ("converged", "n_converged", "n_judged", "rel_improvement"):
        out[c] = pd.NA
    if history is None or history.empty:
        return out
    judged = []
    for key, h in history.groupby([*ident, "split"], sort=False):
        a = assess(h, criterion)
        judged.append({**dict(zip([*ident, "split"], key)), "converged": a["converged"],
                       "rel": a["rel_improvement"]})
    judged = pd.DataFrame(judged)
    per = judged.groupby(ident, sort=False).agg(
        n_converged=("converged", "sum"), n_judged=("converged", "size"),
        rel_improvement=("rel", lambda r: pd.to_numeric(r, errors="coerce").max()))
    for i, row in out.iterrows():
        if row["kind"] != "train" or row["status"] != "ok":
            continue
        key = tuple(row[c] for c in ident)
        if key in per.index:
            p = per.loc[key]
            out.at[i, "n_converged"] = int(p["n_converged"])
            out.at[i, "n_judged"] = int(p["n_judged"])
            out.at[i, "converged"] = bool(p["n_converged"] == p["n_judged"])
            out.at[i, "rel_improvement"] = p["rel_improvement"]
    out["converged"] = out["converged"].astype("boolean")
    for c in ("n_converged", "n_judged"):
        out[c] = out[c].astype("Int64")
    out["rel_improvement"] = pd.to_numeric(out["rel_improvement"], errors="coerce")
    return out


def mitdb_tables(col: Collected, seeds: pd.DataFrame, dataset: str = "mitdb"):
    """Per-fold, DS2 and pooled metrics per class, and the confusion counts behind them.

    Only the checkpoint rule each protocol reports. Pooled rows (``split`` ``pooled``)
    sum the confusion matrices of all folds of a seed, and exist only for seeds whose
    folds are all present (see :func:`seed_table`).

    Returns
    -------
    (DataFrame, DataFrame)
        ``metrics``: identity, ``split, class`` (each class and ``macro``),
        ``support, sensitivity, specificity, ppv, f1, accuracy, ppv_undefined`` (class
        rows: 1 when the class was never predicted, its PPV 0/0; the macro row: how many
        such classes its macro PPV counts as 0); ``confusion``:
        identity, ``split, true, pred, count``.
    """
    conf = col.confusion
    if conf.empty or not (conf["dataset"] == dataset).any():
        return pd.DataFrame(), pd.DataFrame()
    runs = col.runs[(col.runs["dataset"] == dataset) & col.runs["reported"]]
    conf = conf.merge(runs[["run", "checkpoint"]], on=["run", "checkpoint"])
    ident = ["model", "framework", "protocol", "checkpoint", "seed"]
    parts = [conf[[*ident, "split", "true", "pred", "count"]]]
    complete = seeds[(seeds["dataset"] == dataset) & (seeds["split"] == POOLED)
                     & (seeds["status"] == "ok") & seeds["reported"]]
    for _, s in complete.iterrows():
        sel = conf[(conf["model"] == s["model"]) & (conf["framework"] == s["framework"])
                   & (conf["protocol"] == s["protocol"])
                   & (conf["checkpoint"] == s["checkpoint"]) & (conf["seed"] == s["seed"])]
        cells = sel.groupby(["true", "pred"], sort=False)["count"].sum().reset_index()
        parts.append(cells.assign(**{c: s[c] for c in ident}, split=POOLED))
    confusion = pd.concat(parts, ignore_index=True)[[*ident, "split", "true", "pred", "count"]]
    metrics = []
    for key, cells in confusion.groupby([*ident, "split"], sort=False):
        labels = list(dict.fromkeys(cells["true"]))
        cm = (cells.pivot_table(index="true", columns="pred", values="count", aggfunc="sum")
              .reindex(index=labels, columns=labels).fillna(0).astype(np.int64))
        per = per_class_metrics(cm)
        summ = summary_metrics(cm)
        base = dict(zip([*ident, "split"], key))
        for label, row in per.iterrows():
            metrics.append({**base, "class": label, **row.to_dict(),
                            "accuracy": summ["accuracy"],
                            "ppv_undefined": int(np.isnan(row["ppv"]))})
        metrics.append({**base, "class": "macro", "support": summ["n"],
                        "sensitivity": summ["macro_sensitivity"],
                        "specificity": summ["macro_specificity"], "ppv": summ["macro_ppv"],
                        "f1": summ["macro_f1"], "accuracy": summ["accuracy"],
                        "ppv_undefined": summ["ppv_undefined"]})
    metrics = pd.DataFrame(metrics)
    metrics["support"] = metrics["support"].astype(int)
    metrics["ppv_undefined"] = metrics["ppv_undefined"].astype(int)
    return _mitdb_sort(metrics, "class"), _mitdb_sort(confusion, "true")


def _mitdb_sort(frame: pd.DataFrame, cls: str) -> pd.DataFrame:
    split = frame["split"].astype(str)
    keys = pd.DataFrame({
        **{c: frame[c].astype(str) for c in ("model", "framework", "protocol")},
        "checkpoint": frame["checkpoint"].map(lambda r: CHECKPOINT_ORDER.get(r, -1)),
        "seed": frame["seed"].astype(int),
        "split_group": split.map(lambda s: 2 if s == POOLED else int(_is_fold(s))),
        "split_num": split.map(lambda s: int(s[4:]) if _is_fold(s) else 0),
        "position": np.arange(len(frame)),
    })
    return frame.loc[keys.sort_values(list(keys.columns)).index].reset_index(drop=True)
