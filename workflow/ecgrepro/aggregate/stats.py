"""Spread over seeds, intervals and the two-sample test the aggregate reports.

numpy and scipy only. Every function is deterministic: the bootstrap draws from a
generator seeded by its caller (config ``claims.interval.seed``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["describe", "interval", "interval_label", "mann_whitney", "holm",
           "score_draws", "score_interval", "score_label", "wilson", "tost"]

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


def score_draws(values, n_test, n_boot: int = 10000, seed: int = 0) -> np.ndarray:
    """Bootstrap draws of a mean accuracy over seeds on *independent* test sets.

    Not for seeds scored on one shared test set: redrawing each seed's accuracy on its
    own averages that test set's error away (by about the square root of the number of
    seeds); :mod:`ecgrepro.aggregate.bootstrap` resamples shared cases once per draw.

    Each draw resamples the seeds with replacement, then redraws each chosen seed's
    accuracy as ``Binomial(n_test, accuracy) / n_test``: resampling the test cases of
    that seed's run (accuracy is the mean of per-case 0/1 outcomes, so the binomial is
    exactly the case bootstrap). The spread thus holds both the seed-to-seed variation
    and the sampling error of the test set itself; with one seed only the latter.
    Draws stay in [0, 1] by construction.

    Parameters
    ----------
    values : array-like of float
        One accuracy per seed.
    n_test : array-like of int
        The number of test cases behind each value (pooled over folds for CV).

    Returns
    -------
    ndarray
        ``n_boot`` means; empty when no value is usable.
    """
    x = np.asarray(values, dtype=float)
    n = np.asarray(n_test, dtype=float)
    keep = ~np.isnan(x) & ~np.isnan(n) & (n > 0)
    x, n = x[keep], n[keep].astype(np.int64)
    if not len(x):
        return np.empty(0)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(x), size=(n_boot, len(x)))
    correct = rng.binomial(n[pick], np.clip(x[pick], 0.0, 1.0))
    return (correct / n[pick]).mean(axis=1)


def score_interval(values, n_test, level: float = 0.95, n_boot: int = 10000,
                   seed: int = 0) -> tuple[float, float]:
    """Percentile interval of :func:`score_draws` (NaNs when no value)."""
    draws = score_draws(values, n_test, n_boot=n_boot, seed=seed)
    if not len(draws):
        return (float("nan"), float("nan"))
    alpha = (1 - level) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return (float(low), float(high))


def score_label(level: float, n_boot: int, seed: int, test_cases: bool = True) -> str:
    """How a score interval was computed, in words."""
    pct = f"{100 * level:g}%"
    if test_cases:
        return (f"{pct} percentile bootstrap over seeds and test cases ({n_boot} "
                f"resamples, seed {seed})")
    return f"{pct} percentile bootstrap over seeds ({n_boot} resamples, seed {seed})"


def wilson(successes: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n`` (NaNs when n = 0).

    It stays in [0, 1] and keeps its coverage near 0 and 1, where the normal
    approximation does not.
    """
    if not n or n <= 0 or np.isnan(successes):
        return (float("nan"), float("nan"))
    z = stats.norm.ppf((1 + level) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def tost(a, b, margin: float, alpha: float = 0.05, paired: bool = False) -> dict:
    """Two one-sided t-tests (TOST) for equivalence of the means of ``a`` and ``b``.

    H0: ``|mean(a) - mean(b)| >= margin``; rejected at ``alpha`` when both one-sided
    tests reject, i.e. when the ``1 - 2 alpha`` interval of the difference lies inside
    ``(-margin, margin)``. ``paired``: ``a[i]`` and ``b[i]`` belong together (same seed
    and split) and the test runs on their differences (paired t); otherwise Welch's t.
    Non-significance of a difference test is never evidence of equivalence; this test
    is.

    Returns
    -------
    dict
        ``n`` (pairs, or ``n_a + n_b``), ``difference`` (mean a - mean b), ``low``,
        ``high`` (the 1 - 2 alpha interval), ``p_value`` (max of the one-sided p),
        ``equivalent`` (p < alpha), ``outside`` (the interval lies wholly outside the
        margin: shown not equivalent), ``test`` (its name). NaNs and False when the data
        cannot decide (fewer than 2 values a side, or 2 pairs).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    nan = float("nan")
    name = "paired t TOST" if paired else "Welch t TOST"
    out = {"n": 0, "difference": nan, "low": nan, "high": nan, "p_value": nan,
           "equivalent": False, "outside": False, "test": name}
    if paired:
        d = a - b
        d = d[~np.isnan(d)]
        out["n"] = len(d)
        if len(d) < 2:
            return out
        diff, df = float(d.mean()), len(d) - 1
        se = float(d.std(ddof=1) / math.sqrt(len(d)))
    else:
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        out["n"] = len(a) + len(b)
        if len(a) < 2 or len(b) < 2:
            return out
        diff = float(a.mean() - b.mean())
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        se = float(math.sqrt(va + vb))
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) \
            if va + vb > 0 else len(a) + len(b) - 2
    out["difference"] = diff
    if se == 0:
        inside = abs(diff) < margin
        out.update(low=diff, high=diff, p_value=0.0 if inside else 1.0,
                   equivalent=inside, outside=not inside)
        return out
    tq = stats.t.ppf(1 - alpha, df)
    p_low = float(stats.t.sf((diff + margin) / se, df))   # H0: diff <= -margin
    p_high = float(stats.t.cdf((diff - margin) / se, df))  # H0: diff >= +margin
    low, high = diff - tq * se, diff + tq * se
    out.update(low=float(low), high=float(high), p_value=max(p_low, p_high),
               equivalent=max(p_low, p_high) < alpha,
               outside=bool(low >= margin or high <= -margin))
    return out
