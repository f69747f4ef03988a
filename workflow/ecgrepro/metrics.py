"""Classification metrics from labels or confusion matrices (numpy and pandas only).

Definitions, for a confusion matrix ``C`` with true classes in rows and predicted classes
in columns, ``n = C.sum()``, and class ``c`` taken one-vs-rest:

- ``TP = C[c, c]``, ``FN = C[c, :].sum() - TP``, ``FP = C[:, c].sum() - TP``,
  ``TN = n - TP - FN - FP``;
- sensitivity (recall) ``TP / (TP + FN)``, specificity ``TN / (TN + FP)``,
  PPV (precision) ``TP / (TP + FP)``, F1 ``2 TP / (2 TP + FP + FN)``;
- accuracy ``trace(C) / n``;
- macro averages are unweighted means over the classes that occur in the data (support
  > 0): macro sensitivity is the balanced accuracy. A per-class ratio whose denominator
  is 0 is NaN in :func:`per_class_metrics`.
- macro PPV runs over the classes that are true or predicted at least once (scikit-learn's
  label set) and counts a class that is never predicted as PPV 0, as
  ``sklearn.metrics.precision_score(average="macro", zero_division=0)`` does: dropping it
  would reward a classifier for never naming a class (a model that predicts only N and V
  would keep the PPV of those two alone). ``ppv_undefined`` says for how many classes the
  PPV was 0/0 and so counted as 0.

Oh et al. (2018) report one sensitivity and one specificity for five classes; we read
them as these macro averages (``macro_sensitivity``, ``macro_specificity``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "PER_CLASS",
    "SUMMARY",
    "confusion_matrix",
    "confusion_long",
    "per_class_metrics",
    "summary_metrics",
    "metrics_from_labels",
]

#: Columns of :func:`per_class_metrics`.
PER_CLASS = ("support", "sensitivity", "specificity", "ppv", "f1")
#: Keys of :func:`summary_metrics`.
SUMMARY = (
    "n",
    "accuracy",
    "balanced_accuracy",
    "macro_sensitivity",
    "macro_specificity",
    "macro_ppv",
    "ppv_undefined",
    "macro_f1",
)


def _labels(y_true, y_pred, labels: Sequence | None) -> list:
    if labels is not None:
        return list(labels)
    seen = pd.unique(pd.Series(np.concatenate([np.asarray(y_true), np.asarray(y_pred)])))
    return sorted(seen.tolist(), key=str)


def confusion_matrix(y_true, y_pred, labels: Sequence | None = None) -> pd.DataFrame:
    """Counts of (true, predicted) label pairs.

    Parameters
    ----------
    y_true, y_pred : array-like
        Labels of the same length (any hashable values; compared as given).
    labels : sequence, optional
        Class order of rows and columns; by default the sorted union of both label sets.
        Every label must be one of ``labels``.

    Returns
    -------
    DataFrame
        ``int64`` counts; index named ``true``, columns named ``pred``.

    Raises
    ------
    ValueError
        On different lengths or a label outside ``labels``.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred differ in length: {y_true.shape} vs {y_pred.shape}"
        )
    labels = _labels(y_true, y_pred, labels)
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({*y_true.tolist(), *y_pred.tolist()} - set(index), key=str)
    if unknown:
        raise ValueError(f"labels {unknown} are not among the classes {labels}")
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    rows = [index[v] for v in y_true.tolist()]
    cols = [index[v] for v in y_pred.tolist()]
    np.add.at(counts, (rows, cols), 1)
    return pd.DataFrame(
        counts,
        index=pd.Index(labels, name="true"),
        columns=pd.Index(labels, name="pred"),
    )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = num.astype(float)
    den = den.astype(float)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def per_class_metrics(cm: pd.DataFrame) -> pd.DataFrame:
    """Support, sensitivity, specificity, PPV and F1 of each class, one-vs-rest.

    Parameters
    ----------
    cm : DataFrame
        Square confusion matrix (true in rows, predicted in columns, same class order),
        e.g. from :func:`confusion_matrix` or a sum of several.

    Returns
    -------
    DataFrame
        Indexed by class, columns :data:`PER_CLASS`.
    """
    c = np.asarray(cm, dtype=np.int64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {c.shape}")
    if list(cm.index) != list(cm.columns):
        raise ValueError("confusion matrix rows and columns must list the same classes")
    tp = np.diag(c)
    support = c.sum(axis=1)
    predicted = c.sum(axis=0)
    fn = support - tp
    fp = predicted - tp
    tn = c.sum() - tp - fn - fp
    return pd.DataFrame(
        {
            "support": support,
            "sensitivity": _ratio(tp, tp + fn),
            "specificity": _ratio(tn, tn + fp),
            "ppv": _ratio(tp, tp + fp),
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        },
        index=pd.Index(list(cm.index), name="class"),
    )


def summary_metrics(cm: pd.DataFrame) -> dict:
    """Accuracy and macro averages of a confusion matrix.

    Returns
    -------
    dict
        Keys :data:`SUMMARY`. Macro means run over classes with support > 0 and skip
        NaN ratios; ``balanced_accuracy`` equals ``macro_sensitivity``. ``macro_ppv``
        runs over classes true or predicted at least once, a never-predicted class
        counting 0 (``ppv_undefined`` of them).
    """
    per = per_class_metrics(cm)
    present = per[per["support"] > 0]
    n = int(np.asarray(cm).sum())
    predicted = np.asarray(cm).sum(axis=0)
    seen = per[(per["support"].to_numpy() > 0) | (predicted > 0)]
    ppv = seen["ppv"]

    def macro(col: str) -> float:
        values = present[col].dropna()
        return float(values.mean()) if len(values) else float("nan")

    sens = macro("sensitivity")
    return {
        "n": n,
        "accuracy": float(np.trace(np.asarray(cm)) / n) if n else float("nan"),
        "balanced_accuracy": sens,
        "macro_sensitivity": sens,
        "macro_specificity": macro("specificity"),
        "macro_ppv": float(ppv.fillna(0.0).mean()) if len(ppv) else float("nan"),
        "ppv_undefined": int(ppv.isna().sum()),
        "macro_f1": macro("f1"),
    }


def metrics_from_labels(y_true, y_pred, labels: Sequence | None = None) -> dict:
    """:func:`summary_metrics` straight from labels."""
    return summary_metrics(confusion_matrix(y_true, y_pred, labels))


def confusion_long(cm: pd.DataFrame) -> pd.DataFrame:
    """A confusion matrix as tidy rows ``true, pred, count`` in class order."""
    labels = list(cm.index)
    rows = [
        (t, p, int(cm.loc[t, p])) for t in labels for p in labels
    ]
    return pd.DataFrame(rows, columns=["true", "pred", "count"])
