"""The full distance matrices of the k-NN variants (aeon, sktime, the L1 DTW kernel).

The matrix path of :mod:`ecgrepro.knn.core.variants` (the naive reference of every
pruned search, sktime's cross-check and Euclidean distance). Every cell is computed by
the same sequential code on any thread, so no matrix depends on ``threads``.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numba
import numpy as np

from ecgrepro.errors import EcgreproError
from ecgrepro.knn.core.threads import numba_jobs, numba_threads
from ecgrepro.knn.core.variants import Variant, aeon_window

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
