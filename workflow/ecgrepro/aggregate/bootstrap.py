"""Two-level bootstrap of scores over seeds and the test cases they were scored on.

Seeds that were scored on one test set share its sampling error: redrawing each seed's
accuracy on its own would average that error away (by about the square root of the
number of seeds). Each bootstrap draw here therefore resamples

1. the seeds, with replacement (seed-to-seed variation), and
2. once per draw, the cases of every distinct test set, with replacement; every seed
   scored on that test set is rescored on *the same* resampled case indices.

A score of a seed under a draw is recomputed from the confusion matrix of the resampled
cases (:func:`scores_from_confusion`, the definitions of :mod:`ecgrepro.metrics`), so the
macro means get the same treatment as accuracy. Test sets are recognised by their case
keys and true labels (:class:`CaseSet`): seeds whose cases differ are resampled
independently, as independent test sets are. Two sides of a difference that share a test
set get the same case indices on both sides (:func:`joint_draws`); seeds are paired
across sides only where asked.

numpy and scipy only; deterministic for a given ``seed``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ecgrepro.aggregate.stats import wilson

__all__ = ["CaseSet", "SCORE_NAMES", "comonotone", "effective_wilson", "joint_draws",
           "n_cases", "percentile", "scores_from_confusion", "shared_label"]

#: Scores :func:`scores_from_confusion` computes.
SCORE_NAMES = ("accuracy", "balanced_accuracy", "macro_sensitivity", "macro_specificity",
               "macro_ppv", "macro_f1")
#: Upper bound on draws x cases held in memory at once.
_CELLS = 4_000_000


@dataclass
class CaseSet:
    """The test cases of one configuration's seeds.

    Attributes
    ----------
    y_true, y_pred : list of ndarray
        Per seed, integer class codes ``0..n_classes-1`` of its cases, sorted by case key.
    keys : list of ndarray
        Per seed, the case keys (int64, sorted).
    n_classes : int
    """

    y_true: list
    y_pred: list
    keys: list
    n_classes: int

    @property
    def n_seeds(self) -> int:
        return len(self.y_true)

    def test_sets(self) -> list[str]:
        """Per seed, a fingerprint of its test set (case keys and true labels)."""
        out = []
        for k, t in zip(self.keys, self.y_true):
            h = hashlib.sha256(np.ascontiguousarray(k, dtype=np.int64).tobytes())
            h.update(np.ascontiguousarray(t, dtype=np.int64).tobytes())
            out.append(h.hexdigest())
        return out

    def shared(self) -> bool:
        """Every seed scored on one and the same test set."""
        return len(set(self.test_sets())) == 1


def comonotone(accuracies, n_test) -> CaseSet:
    """Stand-in cases when only each seed's accuracy and test size are known.

    Seeds with the same test size are taken to share one test set, with their errors on
    the same cases (errors nested): the outcomes then correlate as much as they can, so
    the test-set part of the interval is as wide as any real case pattern would make it.
    """
    acc = np.asarray(accuracies, dtype=float)
    n = np.asarray(n_test, dtype=float).astype(np.int64)
    trues, preds, keys = [], [], []
    for a, m in zip(acc, n):
        wrong = int(round((1 - a) * m))
        trues.append(np.zeros(m, dtype=np.int64))
        preds.append((np.arange(m) < wrong).astype(np.int64))
        keys.append(np.arange(m, dtype=np.int64))
    return CaseSet(trues, preds, keys, 2)


def _nanmean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    keep = mask & ~np.isnan(values)
    total = np.where(keep, values, 0.0).sum(axis=-1)
    count = keep.sum(axis=-1)
    out = np.full(total.shape, np.nan)
    np.divide(total, count, out=out, where=count > 0)
    return out


def _ratio(num, den):
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def scores_from_confusion(cm: np.ndarray) -> dict:
    """:data:`SCORE_NAMES` of a stack of confusion matrices ``(..., K, K)``.

    Same definitions as :func:`ecgrepro.metrics.summary_metrics`: macro means over the
    classes present (support > 0) skipping undefined ratios; macro PPV over the classes
    true or predicted at least once, a never-predicted class counting 0.
    """
    cm = np.asarray(cm, dtype=float)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support, predicted = cm.sum(axis=-1), cm.sum(axis=-2)
    n = support.sum(axis=-1, keepdims=True)
    fn, fp = support - tp, predicted - tp
    tn = n - tp - fn - fp
    present = support > 0
    sens = _nanmean(_ratio(tp, tp + fn), present)
    ppv = np.where(predicted > 0, _ratio(tp, tp + fp), 0.0)
    return {
        "accuracy": _ratio(tp.sum(axis=-1), n[..., 0]),
        "balanced_accuracy": sens,
        "macro_sensitivity": sens,
        "macro_specificity": _nanmean(_ratio(tn, tn + fp), present),
        "macro_ppv": _nanmean(ppv, present | (predicted > 0)),
        "macro_f1": _nanmean(_ratio(2 * tp, 2 * tp + fp + fn), present),
    }


def _case_counts(rng, n_cases: int, n_draws: int) -> np.ndarray:
    """How often each case is drawn in each of ``n_draws`` resamples (n_draws, n)."""
    idx = rng.integers(0, n_cases, size=(n_draws, n_cases))
    idx += (np.arange(n_draws) * n_cases)[:, None]
    return np.bincount(idx.ravel(), minlength=n_draws * n_cases).reshape(n_draws, n_cases)


def _cells(cs: CaseSet, s: int) -> sparse.csr_matrix:
    """Case x (true, predicted) indicator of seed ``s``: counts @ it = confusion."""
    k = cs.n_classes
    cell = cs.y_true[s] * k + cs.y_pred[s]
    n = len(cell)
    return sparse.csr_matrix((np.ones(n), (np.arange(n), cell)), shape=(n, k * k))


def joint_draws(sets: list[CaseSet], metrics=("accuracy",), n_boot: int = 10000,
                seed: int = 0, pair_seeds: bool = False) -> list[dict]:
    """Bootstrap draws of the mean score over seeds, for one or several case sets.

    Parameters
    ----------
    sets : list of CaseSet
        One per side (e.g. the two arms of a difference). A test set found in several
        sets (same fingerprint) is resampled once per draw, for all of them.
    metrics : sequence of str
        Among :data:`SCORE_NAMES`.
    n_boot, seed : int
        Number of draws; seed of ``numpy.random.default_rng``.
    pair_seeds : bool
        Resample seed *positions* jointly across sets (seed i of one set goes with seed
        i of the others: paired runs); needs the same number of seeds in every set.

    Returns
    -------
    list of dict
        Per set, ``{metric: ndarray of n_boot means}`` (empty arrays for a set without
        seeds). Draws of a mean of scores in [0, 1] stay in [0, 1].
    """
    rng = np.random.default_rng(seed)
    fps = [cs.test_sets() for cs in sets]
    size = {}
    for cs, fp in zip(sets, fps):
        for f, k in zip(fp, cs.keys):
            size[f] = len(k)
    order = sorted(size)
    if pair_seeds and len({cs.n_seeds for cs in sets}) > 1:
        raise ValueError("pair_seeds needs the same number of seeds on every side")
    out = [{m: [] for m in metrics} for _ in sets]
    chunk = max(1, min(n_boot, _CELLS // max(1, max(size.values(), default=1))))
    mats = [[_cells(cs, s) for s in range(cs.n_seeds)] for cs in sets]
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        counts = {f: _case_counts(rng, size[f], b) for f in order}
        picks = None
        for i, cs in enumerate(sets):
            if not cs.n_seeds:
                continue
            if picks is None or not pair_seeds:
                picks = rng.integers(0, cs.n_seeds, size=(b, cs.n_seeds))
            per_seed = {m: np.empty((b, cs.n_seeds)) for m in metrics}
            for s in range(cs.n_seeds):
                cm = (mats[i][s].T @ counts[fps[i][s]].T).T
                sc = scores_from_confusion(cm.reshape(b, cs.n_classes, cs.n_classes))
                for m in metrics:
                    per_seed[m][:, s] = sc[m]
            for m in metrics:
                out[i][m].append(np.nanmean(np.take_along_axis(per_seed[m], picks, 1),
                                            axis=1))
    return [{m: np.concatenate(v) if v else np.empty(0) for m, v in o.items()}
            for o in out]


def percentile(draws, level: float) -> tuple[float, float]:
    """The percentile interval of ``draws`` at coverage ``level`` (NaNs when empty)."""
    d = np.asarray(draws, dtype=float)
    d = d[~np.isnan(d)]
    if not len(d):
        return (float("nan"), float("nan"))
    alpha = (1 - level) / 2
    low, high = np.quantile(d, [alpha, 1 - alpha])
    return (float(low), float(high))


def n_cases(sets: list[CaseSet]) -> int:
    """Distinct test cases behind the sets: the sizes of their distinct test sets."""
    size = {}
    for cs in sets:
        for f, k in zip(cs.test_sets(), cs.keys):
            size[f] = len(k)
    return int(sum(size.values()))


def effective_wilson(draws, mean: float, n: int, level: float) -> tuple[float, float]:
    """Wilson interval of an accuracy at the effective size of the two-level bootstrap.

    ``n_eff = mean (1 - mean) / var(draws)``, at most ``n`` (the distinct test cases),
    and the Wilson interval of ``mean`` on ``n_eff`` cases (Korn and Graubard 1998's
    interval for proportions from clustered samples). The bootstrap variance carries the
    seed-to-seed spread and the shared test set's sampling error; the Wilson form keeps
    the coverage near 0 and 1, where percentiles of a few resampled errors do not (one
    error in 1,139 cases resamples to at most a handful). With ``n_eff <= n`` the
    interval is never narrower than one test set's own Wilson interval at that mean.
    """
    d = np.asarray(draws, dtype=float)
    d = d[~np.isnan(d)]
    if not len(d) or np.isnan(mean) or n <= 0:
        return (float("nan"), float("nan"))
    var = float(d.var(ddof=1)) if len(d) > 1 else 0.0
    n_eff = min(float(n), mean * (1 - mean) / var) if var > 0 else float(n)
    return wilson(mean * n_eff, n_eff, level)


def shared_label(level: float, n_boot: int, seed: int, how: str = "cases",
                 wilson: bool = False) -> str:
    """How a two-level interval was computed, in words.

    ``how``: ``cases`` (the runs' own predictions), ``stand-in`` (only accuracy and test
    size known: errors taken on shared cases, see :func:`comonotone`). ``wilson``: the
    accuracy form (:func:`effective_wilson`), else percentiles of the draws.
    """
    pct = f"{100 * level:g}%"
    form = ("Wilson interval at the effective number of cases of" if wilson
            else "percentile")
    base = (f"{pct} {form} two-level bootstrap: seeds resampled, and once per draw "
            f"the cases of each test set (the same case indices for every seed scored on "
            f"it) ({n_boot} resamples, seed {seed})")
    if how == "stand-in":
        base += "; per-case predictions unavailable: errors taken on shared cases"
    return base
