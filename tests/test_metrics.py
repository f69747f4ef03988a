"""ecgrepro.metrics: confusion matrices and per-class / macro scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecgrepro.metrics import (
    confusion_long,
    confusion_matrix,
    metrics_from_labels,
    per_class_metrics,
    summary_metrics,
)

Y_TRUE = ["N", "N", "N", "N", "L", "L", "V", "V", "V", "A"]
Y_PRED = ["N", "N", "N", "L", "L", "N", "V", "V", "N", "V"]
LABELS = ["N", "L", "R", "A", "V"]


def test_confusion_matrix_counts_in_the_given_order():
    cm = confusion_matrix(Y_TRUE, Y_PRED, LABELS)
    assert list(cm.index) == LABELS and list(cm.columns) == LABELS
    assert cm.index.name == "true" and cm.columns.name == "pred"
    assert cm.loc["N", "N"] == 3 and cm.loc["N", "L"] == 1
    assert cm.loc["V", "N"] == 1 and cm.loc["A", "V"] == 1
    assert cm.to_numpy().sum() == len(Y_TRUE)
    assert cm.loc["R"].sum() == 0 and cm["R"].sum() == 0  # a class absent from both


def test_default_labels_are_the_sorted_union():
    cm = confusion_matrix([2, 1, 1], [1, 1, 3])
    assert list(cm.index) == [1, 2, 3]


def test_confusion_matrix_rejects_unknown_labels_and_length_mismatch():
    with pytest.raises(ValueError, match="not among the classes"):
        confusion_matrix(["N", "Q"], ["N", "N"], ["N", "L"])
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix(["N"], ["N", "N"])


def test_per_class_metrics_one_vs_rest_by_hand():
    per = per_class_metrics(confusion_matrix(Y_TRUE, Y_PRED, LABELS))
    # N: TP 3, FN 1, FP 2 (L->N, V->N), TN 4
    assert per.loc["N", "support"] == 4
    assert per.loc["N", "sensitivity"] == pytest.approx(3 / 4)
    assert per.loc["N", "specificity"] == pytest.approx(4 / 6)
    assert per.loc["N", "ppv"] == pytest.approx(3 / 5)
    assert per.loc["N", "f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    # A: never predicted correctly; R: absent (ratios undefined -> NaN)
    assert per.loc["A", "sensitivity"] == 0 and np.isnan(per.loc["A", "ppv"])
    assert np.isnan(per.loc["R", "sensitivity"]) and per.loc["R", "specificity"] == 1


def test_summary_metrics_macro_means_skip_absent_classes():
    s = summary_metrics(confusion_matrix(Y_TRUE, Y_PRED, LABELS))
    assert s["n"] == 10 and s["accuracy"] == pytest.approx(0.6)
    sens = [3 / 4, 1 / 2, 0.0, 2 / 3]  # N, L, A, V (R has no support)
    assert s["macro_sensitivity"] == pytest.approx(np.mean(sens))
    assert s["balanced_accuracy"] == s["macro_sensitivity"]


def test_agrees_with_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y_true = rng.choice(LABELS, 300, p=[0.6, 0.1, 0.1, 0.1, 0.1])
    y_pred = np.where(rng.random(300) < 0.8, y_true, rng.choice(LABELS, 300))
    ours = metrics_from_labels(y_true, y_pred, LABELS)
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(y_true, y_pred))
    assert ours["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y_true, y_pred))
    assert ours["macro_f1"] == pytest.approx(
        sk.f1_score(y_true, y_pred, labels=LABELS, average="macro"))
    cm = confusion_matrix(y_true, y_pred, LABELS).to_numpy()
    assert (cm == sk.confusion_matrix(y_true, y_pred, labels=LABELS)).all()


def test_pooled_confusion_is_the_sum_of_folds():
    a = confusion_matrix(["N", "L"], ["N", "N"], ["N", "L"])
    b = confusion_matrix(["L", "L"], ["L", "N"], ["N", "L"])
    pooled = summary_metrics(a + b)
    assert pooled["accuracy"] == pytest.approx(2 / 4)
    assert pooled["macro_sensitivity"] == pytest.approx((1 / 1 + 1 / 3) / 2)


def test_confusion_long_is_tidy_and_ordered():
    cm = confusion_matrix(["b", "a"], ["a", "a"], ["b", "a"])
    long = confusion_long(cm)
    assert long.to_dict("records") == [
        {"true": "b", "pred": "b", "count": 0}, {"true": "b", "pred": "a", "count": 1},
        {"true": "a", "pred": "b", "count": 0}, {"true": "a", "pred": "a", "count": 1},
    ]
    with pytest.raises(ValueError, match="square"):
        per_class_metrics(pd.DataFrame([[1, 2]], index=["a"], columns=["a", "b"]))


@pytest.mark.parametrize("y_pred", [
    # a model that predicts only N and V: three classes never predicted
    ["N", "N", "N", "N", "V", "N", "V", "V", "N", "V", "N", "V"],
    # every class predicted once at least, one predicted but never true (R)
    ["N", "L", "N", "R", "L", "A", "V", "V", "N", "V", "A", "N"],
])
def test_macro_ppv_counts_never_predicted_classes_as_zero_like_sklearn(y_pred):
    sk = pytest.importorskip("sklearn.metrics")
    y_true = ["N", "N", "N", "N", "L", "L", "V", "V", "V", "A", "A", "N"]
    ours = metrics_from_labels(y_true, y_pred, LABELS)
    want = sk.precision_score(y_true, y_pred, average="macro", zero_division=0)
    assert ours["macro_ppv"] == pytest.approx(want)
    never = len({*y_true} - {*y_pred})
    assert ours["ppv_undefined"] == never


def test_macro_ppv_of_an_n_and_v_only_model_by_hand():
    # N: 3 of 5 N-predictions right, V: 2 of 3; L and A never predicted (PPV 0), R absent
    y_true = ["N", "N", "N", "L", "L", "A", "V", "V"]
    y_pred = ["N", "N", "N", "N", "N", "V", "V", "V"]
    s = metrics_from_labels(y_true, y_pred, LABELS)
    assert s["macro_ppv"] == pytest.approx((3 / 5 + 2 / 3 + 0 + 0) / 4)
    assert s["ppv_undefined"] == 2
    assert np.isnan(per_class_metrics(confusion_matrix(y_true, y_pred, LABELS)).loc["L", "ppv"])
