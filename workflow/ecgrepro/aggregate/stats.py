"""Spread over seeds, intervals and the two-sample test the aggregate reports.

numpy and scipy only. Every function is deterministic: the bootstrap draws from a
generator seeded by its caller (config ``claims.interval.seed``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["describe", "interval", "interval_label", "mann_whitney", "holm"]

METHODS = ("t", "bootstrap")


def interval_label(method: str, level: float, n_boot: int = 0, seed: int = 0) -> str:
    """How an interval was computed, in words, for tables and captions."""
    pct = f"{100 * level:g}%"
    if method == "t":
        return f"{pct} t-interval over seeds (mean +/- t(n-1) sd/sqrt(n))"
    if method == "bootstrap":
        return f"{pct} percentile bootstrap over seeds ({n_boot} resamples, seed {seed})"
    raise ValueError(f"interval method must be one of {METHODS}, got {method!r}")


def interval(values, method: str = "t", level: float = 0.95, n_boot: int = 10000,
             seed: int = 0) -> tuple[float, float]:
    """A two-sided interval for the mean of ``values``.

    Parameters
    ----------
    values : array-like of float
        One value per seed (NaNs are dropped).
    method : {"t", "bootstrap"}
        ``t``: Student t-interval, ``mean +/- t_{(1+level)/2, n-1} * sd / sqrt(n)``.
        ``bootstrap``: percentile interval of ``n_boot`` resampled means drawn by
        ``numpy.random.default_rng(seed)``.
    level : float
        Coverage, e.g. 0.95.

    Returns
    -------
    tuple of float
        ``(low, high)``; NaNs when fewer than two values (no spread to estimate).
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) < 2:
        return (float("nan"), float("nan"))
    if method == "t":
        half = stats.t.ppf((1 + level) / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
        return (float(x.mean() - half), float(x.mean() + half))
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        means = rng.choice(x, size=(n_boot, len(x)), replace=True).mean(axis=1)
        alpha = (1 - level) / 2
        low, high = np.quantile(means, [alpha, 1 - alpha])
        return (float(low), float(high))
    raise ValueError(f"interval method must be one of {METHODS}, got {method!r}")


def describe(values, **interval_kw) -> dict:
    """n, mean, sd (n-1), min, max and :func:`interval` of the non-NaN values."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    low, high = interval(x, **interval_kw)
    nan = float("nan")
    return {
        "n": len(x),
        "mean": float(x.mean()) if len(x) else nan,
        "sd": float(x.std(ddof=1)) if len(x) > 1 else nan,
        "min": float(x.min()) if len(x) else nan,
        "max": float(x.max()) if len(x) else nan,
        "ci_low": low,
        "ci_high": high,
    }


def mann_whitney(a, b) -> dict:
    """Two-sided Mann-Whitney U test of ``a`` against ``b``, with its effect size.

    Returns
    -------
    dict
        ``u`` (U of ``a``: pairs with a > b, ties counted one half), ``p_value``
        (scipy's ``method="auto"``: exact for small samples without ties),
        ``rank_biserial`` (``2 U / (n_a n_b) - 1``, which equals Cliff's delta:
        P(a > b) - P(a < b)), ``min_p`` (the smallest two-sided p-value any data of
        these sizes can give, ``2 / C(n_a + n_b, n_a)``: a test whose ``min_p`` is above
        the significance level cannot reject, whatever the data). NaNs when a sample is
        empty.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    nan = float("nan")
    if len(a) == 0 or len(b) == 0:
        return {"u": nan, "p_value": nan, "rank_biserial": nan, "min_p": nan}
    res = stats.mannwhitneyu(a, b, alternative="two-sided", method="auto")
    min_p = min(1.0, 2.0 / math.comb(len(a) + len(b), len(a)))
    return {
        "u": float(res.statistic),
        "p_value": float(res.pvalue),
        "rank_biserial": float(2 * res.statistic / (len(a) * len(b)) - 1),
        "min_p": min_p,
    }


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment (NaNs stay NaN and do not count as tests)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    if len(idx) == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out
