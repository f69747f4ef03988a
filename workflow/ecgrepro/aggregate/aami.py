"""MIT-BIH beat-class statistics in the style of ANSI/AAMI EC57.

Per class, one-vs-rest: sensitivity ``Se = TP / (TP + FN)``, positive predictivity
``+P = TP / (TP + FP)`` and false-positive rate ``FPR = FP / (FP + TN)``, each

- *gross*: from the counts summed over all test segments of a run (and, for
  cross-validation, over all folds of a seed: split ``pooled``);
- *record by record*: the same per MIT-BIH record (predictions.csv column ``record``),
  and their unweighted mean over the records where the statistic is defined
  (``record_mean``; EC57's "average" statistic, which weighs a patient with few beats of
  a class as much as one with many).

Each statistic is given for the suite's own classes (``grouping = classes``: N, L, R, A,
V) and for the AAMI EC57 beat groups they fall into (``grouping = aami``: N, L, R -> N;
A -> SVEB; V -> VEB; see :data:`AAMI_GROUPS`), since EC57 scores the groups.

Runs whose predictions.csv has no ``record`` column (written before it existed) get the
gross rows only, and their ``note`` says so. A statistic whose denominator is 0 (e.g.
``+P`` of a class never predicted) is empty, never 0: the table says what was undefined.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgrepro.metrics import confusion_matrix

__all__ = ["AAMI_COLUMNS", "aami_counts", "aami_table"]

AAMI_COLUMNS = ["model", "framework", "protocol", "checkpoint", "seed", "split", "grouping",
                "scope", "record", "class", "tp", "fn", "fp", "tn", "sensitivity", "ppv", "fpr",
                "n_records", "note"]
#: MIT-BIH beat symbols -> AAMI EC57 groups (ANSI/AAMI EC57; de Chazal et al. 2004).
AAMI_GROUPS = {
    "N": "N", "L": "N", "R": "N", "e": "N", "j": "N",
    "A": "SVEB", "a": "SVEB", "J": "SVEB", "S": "SVEB",
    "V": "VEB", "E": "VEB", "F": "F", "/": "Q", "f": "Q", "Q": "Q",
}
NO_RECORD = ("gross only: predictions.csv has no record column (run predates it), so "
             "record-by-record statistics cannot be computed")


def _ratio(num, den) -> float:
    return float(num) / float(den) if den > 0 else np.nan


def aami_counts(y_true, y_pred, labels) -> pd.DataFrame:
    """TP, FN, FP, TN, Se, +P and FPR per class of one set of predictions."""
    c = confusion_matrix(y_true, y_pred, labels).to_numpy()
    tp = np.diag(c)
    fn = c.sum(axis=1) - tp
    fp = c.sum(axis=0) - tp
    tn = c.sum() - tp - fn - fp
    return pd.DataFrame({
        "class": list(labels), "tp": tp, "fn": fn, "fp": fp, "tn": tn,
        "sensitivity": [_ratio(a, a + b) for a, b in zip(tp, fn)],
        "ppv": [_ratio(a, a + b) for a, b in zip(tp, fp)],
        "fpr": [_ratio(a, a + b) for a, b in zip(fp, tn)],
    })


def _groupings(preds: pd.DataFrame, labels) -> list[tuple[str, pd.DataFrame, list]]:
    """The predictions under the suite's classes and, where every class maps, AAMI groups."""
    out = [("classes", preds, list(labels))]
    if all(c in AAMI_GROUPS for c in labels):
        groups = list(dict.fromkeys(AAMI_GROUPS[c] for c in labels))
        mapped = preds.assign(y_true=preds["y_true"].map(AAMI_GROUPS),
                              y_pred=preds["y_pred"].map(AAMI_GROUPS))
        out.append(("aami", mapped, groups))
    return out


def _run_rows(preds: pd.DataFrame, labels, ident: dict) -> list[pd.DataFrame]:
    out = []
    for grouping, p, classes in _groupings(preds, labels):
        out += _scoped_rows(p, classes, {**ident, "grouping": grouping})
    return out


def _scoped_rows(preds: pd.DataFrame, labels, ident: dict) -> list[pd.DataFrame]:
    out = [aami_counts(preds["y_true"], preds["y_pred"], labels).assign(
        **ident, scope="gross", record="", n_records=pd.NA,
        note="" if "record" in preds else NO_RECORD)]
    if "record" not in preds:
        return out
    per = []
    for record, p in preds.groupby(preds["record"].astype(str), sort=True):
        per.append(aami_counts(p["y_true"], p["y_pred"], labels).assign(
            **ident, scope="record", record=record, n_records=1, note=""))
    per = pd.concat(per, ignore_index=True)
    mean = per.groupby("class", sort=False).agg(
        tp=("tp", "sum"), fn=("fn", "sum"), fp=("fp", "sum"), tn=("tn", "sum"),
        sensitivity=("sensitivity", "mean"), ppv=("ppv", "mean"), fpr=("fpr", "mean"),
        n_records=("sensitivity", "count")).reset_index()
    mean = mean.assign(**ident, scope="record_mean", record="",
                       note="unweighted mean over the records where each is defined "
                            "(n_records: records with the class present)")
    return out + [per, mean]


def aami_table(run_ids, runs: pd.DataFrame, classes: dict,
               dataset: str = "mitdb") -> pd.DataFrame:
    """AAMI-style statistics of every present MIT-BIH run (its reported checkpoint).

    Parameters
    ----------
    run_ids : list of RunId
        The expected runs (:func:`ecgrepro.aggregate.collect.parse_run_dir`).
    runs : DataFrame
        ``Collected.runs`` (which runs are present, and their reported checkpoint).
    classes : dict
        ``Collected.classes``: ``{dataset: class order}``.

    Returns
    -------
    DataFrame
        :data:`AAMI_COLUMNS`; scopes ``gross``, ``record``, ``record_mean``; split
        ``pooled`` sums the folds of a seed (gross only).
    """
    if runs.empty or dataset not in classes:
        return pd.DataFrame(columns=AAMI_COLUMNS)
    labels = list(classes[dataset])
    present = runs[(runs["dataset"] == dataset) & runs["reported"]]
    parts, pooled = [], {}
    for r in run_ids:
        if r.kind != "train" or r.dataset != dataset:
            continue
        hit = present[present["run"] == r.name]
        if hit.empty:
            continue
        rule = hit["checkpoint"].iloc[0]
        preds = pd.read_csv(r.path / "predictions.csv", dtype=str)
        preds = preds[preds["checkpoint"] == rule]
        ident = {"model": r.model, "framework": r.framework, "protocol": r.protocol,
                 "checkpoint": rule, "seed": r.seed, "split": r.split}
        parts += _run_rows(preds, labels, ident)
        if r.split.startswith("fold"):
            pooled.setdefault((r.model, r.framework, r.protocol, rule, r.seed), []).append(
                preds)
    for (model, fw, protocol, rule, seed), frames in pooled.items():
        if len(frames) < 2:
            continue
        for grouping, p, classes in _groupings(pd.concat(frames, ignore_index=True),
                                               labels):
            parts.append(aami_counts(p["y_true"], p["y_pred"], classes).assign(
                model=model, framework=fw, protocol=protocol, checkpoint=rule, seed=seed,
                split="pooled", grouping=grouping, scope="gross", record="",
                n_records=pd.NA, note=f"gross over {len(frames)} folds"))
    if not parts:
        return pd.DataFrame(columns=AAMI_COLUMNS)
    out = pd.concat(parts, ignore_index=True)[AAMI_COLUMNS]
    out["n_records"] = out["n_records"].astype("Int64")
    return out.reset_index(drop=True)
