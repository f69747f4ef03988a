"""The k-NN variants: what each distance is, and how its test x train matrix is computed.

A variant is named by a short readable string:

========================  ==========================================================
``aeon-dtw``              aeon's DTW, squared point cost, unconstrained window
``sktime-dtw``            sktime's own numba DTW (the kernel of
                          ``sktime.dists_kernels.DtwDist``), squared point cost,
                          unconstrained window
``aeon-dtw-w<p>``         aeon's DTW in a Sakoe-Chiba band of ``p`` % of the length
``learned``               aeon's DTW in the band the UCR archive would learn:
                          leave-one-out 1-NN on the training set over 0..100 %
``euclidean``             Euclidean distance (aeon)
``blog-dtw-l1``           DTW with point cost ``|x - y|``, unconstrained window (the
                          blog's k-NN); neither aeon nor sktime offers this cost, so
                          it is :func:`l1_dtw_matrix`, a numba kernel of this module
========================  ==========================================================

Percent to band radius (the UCR archive's rule)
-----------------------------------------------
A window of ``p`` % on series of length ``L`` is the Sakoe-Chiba band
``|i - j| <= r`` with ``r = ceil(p * L / 100)``, computed here in integers, and the
learned ``p`` is the smallest one whose leave-one-out 1-NN accuracy on the training
set is the highest. Evidence: on TwoLeadECG (L = 82) the archive reports w = 4 % and
test accuracy 0.8683; ``ceil`` gives r = ceil(3.28) = 4, LOO picks r = 4 first at
p = 4, and r = 4 scores 0.8683 on the test set, whereas ``floor`` or ``round`` would
map 4 % to r = 3 (test accuracy 0.8551) and would first reach r = 4 at p = 5. The
same ``ceil`` is in the Monash 1-NN CDTW code (``getWindowSize = ceil(r * n)`` with
``r = paramId / 100``), and the archive's notes on the DTW baseline choose "the
smallest value of w that minimizes the average train error rate".

How each variant is computed
----------------------------
Exact acceleration only: every path returns the neighbours, predictions and
accuracies of the naive test x train matrix (see :mod:`ecgrepro.dtw` for why).

========================  ==========================================================
``aeon-dtw``              pruned k-NN search (:func:`ecgrepro.dtw.knn_search`):
``aeon-dtw-w<p>``         LB_Kim/LB_Keogh cascade, early-abandoned pruned DTW whose
``blog-dtw-l1``           cells are aeon's (squared) or :func:`l1_dtw_matrix`'s
                          (absolute) arithmetic, bit for bit; only the k nearest
                          are kept
``learned``               window search by :func:`ecgrepro.dtw.window_nn`
                          (FastWWSearch-style validity ranges, bounds, pruning),
                          then the pruned k-NN search at the learned radius
``sktime-dtw``            the full matrix, by sktime's own kernel: it is the
                          independent cross-check of aeon, so it shares no code
                          with the pruned path (on big sets, optionally a subset
                          of the test rows)
``euclidean``             the full matrix (aeon); O(L) per pair, nothing to prune
========================  ==========================================================

:func:`search_path` says which path a variant takes; ``search="matrix"`` in
:func:`ecgrepro.knn.fit_predict` forces the naive matrix for any variant.

aeon's ``window`` fraction
--------------------------
For equal lengths aeon bands DTW to ``|i - j| <= int(window * L)`` (floor of a float
product). Passing ``window = (r + 0.5) / L`` makes ``int(window * L) == r`` exactly:
the product is ``r + 0.5`` up to a rounding error far below 0.5, so the floor cannot
land on a neighbour (:func:`aeon_window` asserts it; the tests check every
``r < L <= 600`` and compare aeon's bounding matrix with the band). ``r >= L - 1``
covers the whole matrix and is passed as ``None``.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version

import numba
import numpy as np

from ecgrepro.errors import EcgreproError

FIXED_WINDOW = re.compile(r"aeon-dtw-w(\d{1,3})")
NAMES = ("aeon-dtw", "sktime-dtw", "aeon-dtw-w<p>", "learned", "euclidean", "blog-dtw-l1")
LEARN_PERCENTS = range(0, 101)


@dataclass(frozen=True)
class Variant:
    """One k-NN variant: a distance, its point cost, its window and its library.

    Attributes
    ----------
    name : str
        The readable name, e.g. ``"aeon-dtw-w4"``.
    label : str
        A longer description for tables and figure legends.
    distance : str
        ``"dtw"`` or ``"euclidean"``.
    point_cost : str
        ``"squared"`` (``(x - y)**2``) or ``"absolute"`` (``|x - y|``); for Euclidean
        the squared differences are summed and the square root taken.
    window : str
        ``"full"`` (unconstrained), ``"fixed"`` (``percent`` given) or ``"learned"``.
    percent : int or None
        The Sakoe-Chiba window in percent of the length, for ``window == "fixed"``.
    library : str
        The package whose code computes the distance (``"ecgrepro"`` for the L1 kernel).
    """

    name: str
    label: str
    distance: str
    point_cost: str
    window: str
    library: str
    percent: int | None = None


def parse_variant(name: str) -> Variant:
    """Return the :class:`Variant` a name stands for.

    Raises
    ------
    EcgreproError
        When the name is not one of :data:`NAMES` (``<p>`` an integer 0..100).
    """
    fixed = {
        "aeon-dtw": Variant(name, "DTW full (aeon)", "dtw", "squared", "full", "aeon"),
        "sktime-dtw": Variant(
            name, "DTW full (sktime)", "dtw", "squared", "full", "sktime"
        ),
        "learned": Variant(
            name, "DTW learned window (aeon)", "dtw", "squared", "learned", "aeon"
        ),
        "euclidean": Variant(
            name, "Euclidean (aeon)", "euclidean", "squared", "full", "aeon"
        ),
        "blog-dtw-l1": Variant(
            name, "DTW |x-y| full (blog)", "dtw", "absolute", "full", "ecgrepro"
        ),
    }
    if name in fixed:
        return fixed[name]
    match = FIXED_WINDOW.fullmatch(name)
    if match and int(match.group(1)) <= 100:
        p = int(match.group(1))
        return Variant(name, f"DTW w={p}% (aeon)", "dtw", "squared", "fixed", "aeon", p)
    raise EcgreproError(
        f"unknown k-NN variant {name!r}; use one of {', '.join(NAMES)} "
        "(<p> an integer percentage 0..100, e.g. aeon-dtw-w4)."
    )


def percent_to_radius(percent: int, length: int) -> int:
    """Radius of a ``percent`` % Sakoe-Chiba window: ``ceil(percent * length / 100)``.

    Integer arithmetic, so 7 % of 100 is 7 (a float ``0.07 * 100`` would be 7.000…01
    and its ceiling 8). See the module docstring for why ``ceil``.
    """
    if not 0 <= percent <= 100:
        raise EcgreproError(f"window percentage {percent} is outside 0..100.")
    return -(-percent * length // 100)


def aeon_window(radius: int, length: int) -> float | None:
    """aeon's ``window`` argument for the band ``|i - j| <= radius`` on ``length`` points.

    aeon uses ``int(window * length)`` as the radius; ``(radius + 0.5) / length``
    floors back to ``radius`` exactly. ``None`` (unconstrained) when the band covers the
    whole matrix.
    """
    if radius >= length - 1:
        return None
    window = (radius + 0.5) / length
    if int(window * length) != radius:  # cannot happen; guards the reasoning above
        raise EcgreproError(f"aeon window for radius {radius} of {length} is inexact.")
    return window


IMPLEMENTATIONS = {
    ("dtw", "aeon"): "aeon.distances.dtw_pairwise_distance",
    ("dtw", "sktime"): "sktime.dists_kernels._numba_distances.distance_factory"
    "(metric='dtw'), the kernel of sktime.dists_kernels.DtwDist",
    ("euclidean", "aeon"): "aeon.distances.euclidean_pairwise_distance",
    ("dtw", "ecgrepro"): "ecgrepro.knn_variants.l1_dtw_matrix (numba)",
}
PRUNED_IMPLEMENTATION = (
    "ecgrepro.dtw.knn_search: exact pruned k-NN search (LB_Kim/LB_Keogh, early-"
    "abandoned pruned DTW); cell arithmetic identical to {reference}"
)


def search_path(variant: Variant) -> str:
    """``"pruned"`` (exact k-NN search, k nearest kept) or ``"matrix"`` (full matrix).

    DTW computed by aeon's or ecgrepro's arithmetic takes the pruned search; sktime's
    DTW (the independent cross-check) and Euclidean distance take the matrix.
    """
    if variant.distance == "dtw" and variant.library in ("aeon", "ecgrepro"):
        return "pruned"
    return "matrix"


def describe(
    variant: Variant, length: int, radius: int | None, search: str = "matrix"
) -> dict:
    """The variant's definition, JSON-ready, for ``metrics.json``.

    ``search`` is how the neighbours were found (:func:`search_path`); it only
    changes the ``implementation`` entry, never the distance.
    """
    costs = {"squared": "(x - y)^2", "absolute": "|x - y|"}
    if variant.distance == "euclidean":
        formula = "sqrt(sum_t (x_t - y_t)^2)"
        window = {"kind": "none (lock-step)"}
    else:
        formula = (
            f"DTW: minimum over warping paths of the sum of {costs[variant.point_cost]} "
            "along the path (no square root)"
        )
        full = radius is None or radius >= length - 1
        window = {
            "kind": variant.window,
            "percent": variant.percent,
            "radius": None if radius is None else int(radius),
            "band": "unconstrained" if full else f"Sakoe-Chiba |i - j| <= {radius}",
            "percent_to_radius": "radius = ceil(percent * length / 100)",
            "aeon_window": None if radius is None else aeon_window(radius, length),
        }
    lib = variant.library
    if variant.distance == "euclidean":
        summary = "Euclidean"
    else:
        summary = f"DTW, {costs[variant.point_cost]}, {window['band']}"
    return {
        "name": variant.name,
        "label": variant.label,
        "summary": summary,
        "distance": variant.distance,
        "point_cost": costs[variant.point_cost] if variant.distance == "dtw" else None,
        "formula": formula,
        "window": window,
        "library": lib,
        "library_version": version("ecgrepro" if lib == "ecgrepro" else lib),
        "implementation": (
            PRUNED_IMPLEMENTATION.format(
                reference=IMPLEMENTATIONS[(variant.distance, variant.library)]
            )
            if search == "pruned"
            else IMPLEMENTATIONS[(variant.distance, variant.library)]
        ),
    }


@contextmanager
def numba_threads(threads: int):
    """Run numba parallel code on ``threads`` threads (capped at numba's pool size)."""
    before = numba.get_num_threads()
    numba.set_num_threads(numba_jobs(threads))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def numba_jobs(threads: int) -> int:
    """numba cannot run more threads than its pool (``NUMBA_NUM_THREADS``)."""
    return max(1, min(threads, numba.config.NUMBA_NUM_THREADS))


@contextmanager
def _quiet_aeon():
    """Silence numba's warning about aeon's own uint64 -> int64 index cast (harmless)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaTypeSafetyWarning)
        yield


def aeon_dtw_matrix(X, Y, radius: int | None, threads: int) -> np.ndarray:
    """aeon DTW (squared cost) between rows of ``X`` and rows of ``Y``.

    ``Y`` None is ``X`` against itself (aeon computes one triangle and mirrors it).
    ``radius`` None is the unconstrained window. Each cell is computed by one thread
    with the same sequential code, so the matrix does not depend on ``threads``.
    """
    from aeon.distances import dtw_pairwise_distance

    window = None if radius is None else aeon_window(radius, X.shape[1])
    with _quiet_aeon():
        return dtw_pairwise_distance(X, Y, window=window, n_jobs=numba_jobs(threads))


def euclidean_matrix(X, Y, threads: int) -> np.ndarray:
    """aeon's Euclidean distance between rows of ``X`` and rows of ``Y``."""
    from aeon.distances import euclidean_pairwise_distance

    with _quiet_aeon():
        return euclidean_pairwise_distance(X, Y, n_jobs=numba_jobs(threads))


@numba.njit(parallel=True)
def _pairs_parallel(X, Y, dist):
    """``dist(X[i], Y[j])`` for all pairs, rows shared among numba threads."""
    out = np.empty((X.shape[0], Y.shape[0]))
    for i in numba.prange(X.shape[0]):
        for j in range(Y.shape[0]):
            out[i, j] = dist(X[i], Y[j])
    return out


def sktime_dtw_matrix(X, Y, threads: int) -> np.ndarray:
    """sktime's own DTW (squared cost, unconstrained) between rows of ``X`` and ``Y``.

    The distance is sktime's compiled DTW (the callable its ``DtwDist`` and
    ``pairwise_distance`` use, from ``distance_factory(metric="dtw")``); sktime loops
    over the pairs in Python, holding the GIL, so this module runs that same compiled
    callable in a numba ``prange`` loop instead. Each cell is computed by the same
    sequential code on any thread, so the matrix does not depend on ``threads``; the
    tests check it equals ``sktime.dists_kernels.DtwDist().transform`` exactly.
    """
    from sktime.dists_kernels._numba_distances import distance_factory

    X3 = np.ascontiguousarray(X, dtype=np.float64)[:, None, :]  # (n, channels, length)
    Y3 = np.ascontiguousarray(Y, dtype=np.float64)[:, None, :]
    dist = distance_factory(X3[0], Y3[0], metric="dtw")
    with numba_threads(threads):
        return _pairs_parallel(X3, Y3, dist)


@numba.njit(cache=True)
def _l1_dtw_pair(x, y, radius, prev, curr):
    """DTW with point cost |x - y| in the band |i - j| <= radius; two rolling rows."""
    n = x.shape[0]
    prev[:] = np.inf
    prev[0] = 0.0  # the virtual cell before (0, 0)
    for i in range(n):
        curr[:] = np.inf
        lo = max(0, i - radius)
        hi = min(n, i + radius + 1)
        for j in range(lo, hi):
            best = min(prev[j], prev[j + 1], curr[j])  # diagonal, up, left
            curr[j + 1] = abs(x[i] - y[j]) + best
        prev, curr = curr, prev
    return prev[n]


@numba.njit(parallel=True, cache=True)
def _l1_dtw_rows(X, Y, radius):
    out = np.empty((X.shape[0], Y.shape[0]))
    n = X.shape[1]
    for i in numba.prange(X.shape[0]):
        prev = np.empty(n + 1)
        curr = np.empty(n + 1)
        for j in range(Y.shape[0]):
            out[i, j] = _l1_dtw_pair(X[i], Y[j], radius, prev, curr)
    return out


def l1_dtw_matrix(X, Y, radius: int | None, threads: int) -> np.ndarray:
    """DTW with point cost ``|x - y|`` between rows of ``X`` and rows of ``Y``.

    Neither aeon 1.6 nor sktime 1.2 lets DTW's point cost be the absolute difference
    (both hard-code the squared one), hence this kernel. It is checked in the tests
    against aeon's multivariate DTW on integer series embedded as threshold
    indicators, where the squared cost summed over channels equals ``|x - y|``, and
    against brute-force enumeration of warping paths.

    Parameters
    ----------
    X, Y : np.ndarray of float64, shape (n, L) and (m, L)
        Equal-length univariate series.
    radius : int or None
        Sakoe-Chiba radius; None is unconstrained.
    threads : int
        numba threads; rows of ``X`` are shared among them, every cell is computed
        by the same sequential code, so the result does not depend on ``threads``.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    if X.shape[1] != Y.shape[1]:
        raise EcgreproError(
            f"L1 DTW needs equal lengths, got {X.shape[1]} and {Y.shape[1]}."
        )
    r = X.shape[1] if radius is None else int(radius)
    with numba_threads(threads):
        return _l1_dtw_rows(X, Y, r)


def distance_matrix(
    variant: Variant, X, Y, radius: int | None, threads: int
) -> np.ndarray:
    """The ``len(X) x len(Y)`` distance matrix of ``variant`` (radius None = full)."""
    if variant.distance == "euclidean":
        return euclidean_matrix(X, Y, threads)
    if variant.library == "sktime":
        return sktime_dtw_matrix(X, Y, threads)
    if variant.library == "ecgrepro":
        return l1_dtw_matrix(X, Y, radius, threads)
    return aeon_dtw_matrix(X, Y, radius, threads)


def variant_radius(variant: Variant, length: int) -> int | None:
    """The band radius of a fixed-window variant; None for full windows and Euclidean."""
    if variant.window == "fixed":
        return percent_to_radius(variant.percent, length)
    return None


def learn_window(
    X_train, y_train, threads: int, percents=LEARN_PERCENTS, method: str = "pruned"
) -> list[dict]:
    """Leave-one-out 1-NN accuracy on the training set for each window percentage.

    Each distinct radius is computed once. The nearest neighbour of a left-out series
    is the one with the smallest distance, ties to the smallest training index (as
    everywhere in ecgrepro). Select with :func:`select_window`.

    ``method="pruned"`` (default) finds every left-out series' nearest neighbour at
    every radius with :func:`ecgrepro.dtw.window_nn`; ``"naive"`` computes one full
    training matrix per radius with aeon. Both give the same rows (tested).

    Returns
    -------
    list of dict
        One row per percentage: percent, radius, loo_correct, loo_accuracy.
    """
    if len(X_train) < 2:
        raise EcgreproError("learning a DTW window by leave-one-out needs >= 2 series.")
    if method not in ("pruned", "naive"):
        raise EcgreproError(f"learn_window method {method!r}: use pruned or naive.")
    length = X_train.shape[1]
    percents = list(percents)
    radii = [min(percent_to_radius(p, length), length - 1) for p in percents]
    if method == "pruned":
        from ecgrepro.dtw import window_nn

        y = np.asarray(y_train)
        found, nn, _, _ = window_nn(X_train, np.arange(len(y)), radii, threads)
        by_radius = {int(r): int(np.sum(y[nn[:, c]] == y)) for c, r in enumerate(found)}
        return window_rows(percents, length, by_radius, len(y))
    by_radius: dict[int, int] = {}
    for r in radii:
        if r not in by_radius:
            D = aeon_dtw_matrix(X_train, None, r, threads)  # symmetric: half the work
            np.fill_diagonal(D, np.inf)
            nearest = np.argmin(D, axis=1)  # first minimum: smallest index on ties
            by_radius[r] = int(np.sum(y_train[nearest] == y_train))
    return window_rows(percents, length, by_radius, len(y_train))


def window_rows(percents, length: int, by_radius: dict, n: int) -> list[dict]:
    """The window-search table: one row per percentage from LOO counts per radius."""
    rows = []
    for p in percents:
        r = min(percent_to_radius(p, length), length - 1)
        rows.append(
            {
                "percent": p,
                "radius": percent_to_radius(p, length),
                "loo_correct": by_radius[r],
                "loo_accuracy": by_radius[r] / n,
            }
        )
    return rows


def select_window(rows: list[dict]) -> dict:
    """The row with the highest LOO accuracy; ties to the smallest percentage."""
    best = max(r["loo_correct"] for r in rows)
    return min((r for r in rows if r["loo_correct"] == best), key=lambda r: r["percent"])
