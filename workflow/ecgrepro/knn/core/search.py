"""Exact DTW neighbour searches: k nearest training series, and the LOO window search.

Both searches return exactly what the naive full matrices give (see the package
docstring for the argument, step by step); they only skip work that provably cannot
change the answer. Neighbours are ordered by ``(distance, training index)``.
"""

from __future__ import annotations

import numba
import numpy as np

from ecgrepro.knn.core.kernels import dtw_pruned, envelope, keogh_terms, slack, suffix_sums
from ecgrepro.knn.core.threads import numba_threads

INF = np.inf


@numba.njit(cache=True)
def _better(v, j, bd, bj):
    """``(v, j)`` precedes ``(bd, bj)`` in the order (distance, training index)."""
    return v < bd or (v == bd and j < bj)


@numba.njit(cache=True)
def _insert(v, j, bd, bj, count):
    """Insert ``(v, j)`` into the sorted k best ``bd, bj`` holding ``count`` entries."""
    k = bd.shape[0]
    pos = count if count < k else k - 1
    while pos > 0 and _better(v, j, bd[pos - 1], bj[pos - 1]):
        if pos < k:
            bd[pos] = bd[pos - 1]
            bj[pos] = bj[pos - 1]
        pos -= 1
    bd[pos] = v
    bj[pos] = j
    return count + 1 if count < k else k


@numba.njit(parallel=True, cache=True)
def _knn_block(Q, T, r, k, absolute, s):
    """The ``k`` nearest rows of ``T`` to every row of ``Q`` under banded DTW.

    Per query: LB_Kim+LB_Keogh both ways (query envelope against the candidate, the
    candidate's envelope against the query) for every candidate; candidates in
    increasing bound order; a candidate whose deflated bound exceeds the current k-th
    distance ends the scan (all later bounds are larger); the others get a pruned,
    early-abandoned DTW with the k-th distance as cutoff and the larger bound's
    cumulative tail. Rows of ``Q`` are independent and share threads.

    Returns
    -------
    idx : int64 (len(Q), k) ; dist : float64 (len(Q), k) ; cells : int64 (len(Q),)
    """
    numba.literally(absolute)
    nq, n = Q.shape
    nt = T.shape[0]
    tlo = np.empty((nt, n))
    thi = np.empty((nt, n))
    for j in numba.prange(nt):
        envelope(T[j], r, tlo[j], thi[j])
    idx = np.full((nq, k), -1, np.int64)
    dist = np.full((nq, k), INF)
    cells = np.zeros(nq, np.int64)
    for qi in numba.prange(nq):
        q = Q[qi]
        qlo = np.empty(n)
        qhi = np.empty(n)
        envelope(q, r, qlo, qhi)
        terms = np.empty(n)
        tail = np.empty(n + 1)
        prev = np.empty(n + 1)
        curr = np.empty(n + 1)
        dp = np.empty(n + 1, np.int64)
        dc = np.empty(n + 1, np.int64)
        lb_eq = np.empty(nt)
        lb_ec = np.empty(nt)
        if r == 0:
            # the bounds would cost as much as the distances: no bounds, index order
            lb_eq[:] = 0.0
            lb_ec[:] = 0.0
        else:
            for j in range(nt):
                t = T[j]
                lb_eq[j] = keogh_terms(t, qlo, qhi, q[0], q[n - 1], absolute, terms)
                lb_ec[j] = keogh_terms(q, tlo[j], thi[j], t[0], t[n - 1], absolute, terms)
        lb = np.maximum(lb_eq, lb_ec)
        order = np.argsort(lb, kind="mergesort")
        bd = dist[qi]
        bj = idx[qi]
        count = 0
        done = 0
        for o in range(nt):
            j = order[o]
            cutoff = bd[k - 1] if count == k else INF
            if lb[j] * s > cutoff:
                break  # this bound and every later one exceed the k-th distance
            t = T[j]
            # rows = the series whose per-row bounds are the larger sum: tighter tail
            if r == 0:
                tail[:] = 0.0
                v, _, _, c = dtw_pruned(
                    t, q, r, cutoff / s, tail, absolute, False, prev, curr, dp, dc
                )
            elif lb_eq[j] >= lb_ec[j]:
                keogh_terms(t, qlo, qhi, q[0], q[n - 1], absolute, terms)
                suffix_sums(terms, tail)
                v, _, _, c = dtw_pruned(
                    t, q, r, cutoff / s, tail, absolute, False, prev, curr, dp, dc
                )
            else:
                keogh_terms(q, tlo[j], thi[j], t[0], t[n - 1], absolute, terms)
                suffix_sums(terms, tail)
                v, _, _, c = dtw_pruned(
                    q, t, r, cutoff / s, tail, absolute, False, prev, curr, dp, dc
                )
            done += c
            if v <= cutoff and (count < k or _better(v, j, bd[k - 1], bj[k - 1])):
                count = _insert(v, j, bd, bj, count)
        cells[qi] = done
    return idx, dist, cells


# Entry points with the cost as a constant: a Python call of a function that asks
# for a literal argument re-dispatches on every call (tens of milliseconds).
@numba.njit(cache=True)
def _knn_squared(Q, T, r, k, s):
    return _knn_block(Q, T, r, k, False, s)


@numba.njit(cache=True)
def _knn_absolute(Q, T, r, k, s):
    return _knn_block(Q, T, r, k, True, s)


@numba.njit(parallel=True, cache=True)
def _window_block(X, rows, radii, s):
    """Leave-one-out nearest neighbour of ``X[rows]`` for every radius in ``radii``.

    ``radii`` strictly decreasing. For query i the candidates are taken in order of
    their Euclidean (radius-0) DTW; each candidate is followed down the radii:

    * a bound (LB_Keogh at this radius, or anything learned at a larger radius:
      DTW never decreases when the window narrows) strictly above the current
      nearest distance of this radius skips the radius;
    * otherwise a pruned DTW with that distance as cutoff either gives the exact
      value and the largest deviation ``d`` of its warping path, which is the value
      for every radius in ``[d, r]`` (FastWWSearch), or proves the DTW larger.

    The squared Euclidean distance of the closest candidate bounds every radius's
    nearest distance from above and is used as cutoff until one is known.

    Returns
    -------
    nn : int64 (len(rows), len(radii)) ; nnd : float64 likewise ; cells : int64
    """
    N, n = X.shape
    m = radii.shape[0]
    nb = rows.shape[0]
    nn = np.full((nb, m), -1, np.int64)
    nnd = np.full((nb, m), INF)
    cells = np.zeros(nb, np.int64)
    for b in numba.prange(nb):
        i = rows[b]
        q = X[i]
        lo = np.empty((m, n))
        hi = np.empty((m, n))
        for k in range(m):
            envelope(q, radii[k], lo[k], hi[k])
        terms = np.empty(n)
        tail = np.empty(n + 1)
        zero = np.zeros(n + 1)
        prev = np.empty(n + 1)
        curr = np.empty(n + 1)
        dp = np.empty(n + 1, np.int64)
        dc = np.empty(n + 1, np.int64)
        ed = np.empty(N)
        done = 0
        for j in range(N):
            # radius 0 with the DTW kernel itself: bit for bit the radius-0 DTW
            ed[j] = dtw_pruned(X[j], q, 0, INF, zero, False, False, prev, curr, dp, dc)[0]
            done += n
        ed[i] = INF
        order = np.argsort(ed, kind="mergesort")
        ub = ed[order[0]]  # >= the nearest distance at every radius
        bd = nnd[b]
        bj = nn[b]
        for o in range(N - 1):
            j = order[o]
            x = X[j]
            lbj = 0.0  # lower bound of DTW(i, j) at the current and all smaller radii
            k = 0
            while k < m:
                r = radii[k]
                cutoff = bd[k] if bd[k] < ub else ub
                if lbj > cutoff:
                    k += 1
                    continue
                if r == 0:
                    v = ed[j]
                    if _better(v, j, bd[k], bj[k]):
                        bd[k] = v
                        bj[k] = j
                    k += 1
                    continue
                lbk = keogh_terms(x, lo[k], hi[k], q[0], q[n - 1], False, terms) * s
                if lbk > lbj:
                    lbj = lbk
                if lbj > cutoff:
                    k += 1
                    continue
                suffix_sums(terms, tail)
                v, lbv, _, c = dtw_pruned(
                    x, q, r, cutoff / s, tail, False, False, prev, curr, dp, dc
                )
                done += c
                if v <= cutoff:
                    # the path's deviation, again with the exact value as cutoff: only
                    # the cells of optimal paths survive, so this pass is cheap
                    v2, _, dev, c = dtw_pruned(
                        x, q, r, v / s, tail, False, True, prev, curr, dp, dc
                    )
                    done += c
                    if v2 != v:  # cannot happen (same cells); then claim radius r only
                        dev = r
                    # exact, and the same for every radius down to the path's deviation
                    kk = k
                    while kk < m and radii[kk] >= dev:
                        if _better(v, j, bd[kk], bj[kk]):
                            bd[kk] = v
                            bj[kk] = j
                        kk += 1
                    if v > lbj:
                        lbj = v
                    k = kk
                else:
                    # proved larger than the cutoff; keep the best bound for below
                    lbv = lbv * s
                    if lbv > lbj:
                        lbj = lbv
                    if cutoff > lbj:
                        lbj = cutoff
                    k += 1
        cells[b] = done
    return nn, nnd, cells


def _as_rows(X) -> np.ndarray:
    return np.ascontiguousarray(X, dtype=np.float64)


def knn_search(
    Q, T, radius: int | None, k: int, absolute: bool = False, threads: int = 1
):
    """The ``k`` nearest training series of every query under banded DTW, exactly.

    Parameters
    ----------
    Q, T : array (n_queries, L), array (n_train, L)
        Queries and training series, equal lengths.
    radius : int or None
        Sakoe-Chiba radius; None (or ``>= L - 1``) is the unconstrained window.
    k : int
        Neighbours kept, ``1 <= k <= len(T)``.
    absolute : bool
        Point cost ``|x - y|`` (the blog's DTW) instead of aeon's ``(x - y)**2``.
    threads : int
        numba threads; queries are independent, so results do not depend on it.

    Returns
    -------
    neighbours : int64 array (n_queries, k)
        Training indices, nearest first, equal distances by training index: exactly
        the first ``k`` columns of a stable argsort of the full distance matrix.
    distances : float64 array (n_queries, k)
        Their DTW distances, bit for bit those of the full matrix.
    cells : int64 array (n_queries,)
        DTW cells computed per query (the full matrix would need
        ``len(T) * band_cells(L, radius)``).
    """

    Q, T = _as_rows(Q), _as_rows(T)
    if Q.shape[1] != T.shape[1]:
        raise ValueError(f"equal lengths needed, got {Q.shape[1]} and {T.shape[1]}")
    if not 1 <= k <= len(T):
        raise ValueError(f"k = {k} outside 1..{len(T)}")
    n = Q.shape[1]
    r = n - 1 if radius is None else min(int(radius), n - 1)
    if len(Q) == 0:
        return np.empty((0, k), np.int64), np.empty((0, k)), np.empty(0, np.int64)
    with numba_threads(threads):
        entry = _knn_absolute if absolute else _knn_squared
        return entry(Q, T, r, int(k), slack(n))


def window_nn(X, rows, radii, threads: int = 1):
    """Leave-one-out nearest neighbour of ``X[rows]`` within ``X`` for each radius.

    Parameters
    ----------
    X : array (n, L)
        The training set.
    rows : array of int
        The left-out series to search for (all of them, or one block).
    radii : iterable of int
        Band radii (any order, duplicates allowed; ``>= L - 1`` is unconstrained).
    threads : int
        numba threads; the rows are independent, results do not depend on it.

    Returns
    -------
    radii : int64 array (m,)
        The distinct radii, decreasing, clipped to ``L - 1``.
    nn : int64 array (len(rows), m)
        The nearest other series at each radius; equal distances to the smallest
        index, as ``argmin`` over a matrix with an infinite diagonal.
    dist : float64 array (len(rows), m)
        Its DTW distance.
    cells : int64 array (len(rows),)
        DTW cells computed per row.
    """

    X = _as_rows(X)
    n = X.shape[1]
    radii = np.array(sorted({min(int(r), n - 1) for r in radii}, reverse=True), np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    if len(X) < 2:
        raise ValueError("leave-one-out needs at least two series")
    if len(rows) == 0:
        return (
            radii,
            np.empty((0, len(radii)), np.int64),
            np.empty((0, len(radii))),
            np.empty(0, np.int64),
        )
    with numba_threads(threads):
        nn, dist, cells = _window_block(X, rows, radii, slack(n))
    return radii, nn, dist, cells


def band_cells(length: int, radius: int | None) -> int:
    """Cells of one DTW in the band ``|i - j| <= radius`` on two series of ``length``."""
    n = int(length)
    r = n - 1 if radius is None else min(int(radius), n - 1)
    return n * (2 * r + 1) - r * (r + 1)
