"""numba kernels: envelopes, LB_Keogh/LB_Kim terms and early-abandoned, pruned DTW.

Every kernel here computes DTW cells with exactly the arithmetic of the library code
it stands in for, so that a pair that is computed to the end gets the very same
float as the naive path:

* squared cost: ``d = x_i - y_j; D = d * d + min(diag, top, left)``, compiled with
  floating-point contraction allowed, as aeon's ``_dtw_distance_sakoe_equal`` (the
  kernel of ``dtw_pairwise_distance`` for equal lengths) is; on CPUs with FMA both
  fuse the multiply-add the same way. The tests compare bit for bit.
* absolute cost: ``D = |x_i - y_j| + min(...)``, as
  :func:`ecgrepro.knn.core.distances.l1_dtw_matrix` (no multiply, nothing to fuse).

Only ``contract`` is enabled, not numba's full ``fastmath``: the pruning logic
compares with infinity, which ``fastmath``'s no-infinities assumption could fold away.

Floating point and the bounds
-----------------------------
A computed DTW is a chain of non-negative additions along one warping path, so it
never decreases along the path (``fl(a + b) >= a`` for ``b >= 0``): early abandoning
on a partial cost is exact as it is. Lower bounds (LB_Kim, LB_Keogh, the cumulative
LB_Keogh "tail") are sums computed in another order than the DTW, so each of the two
can be off by a relative ``(2n + 4) * 2**-53``; every comparison of a bound against a
cutoff therefore deflates the bound by :func:`slack` (``1 - 16 (n + 4) 2**-53``, about
``1 - 1.3e-12`` for ``n = 750``), which is what makes the pruning exact rather than
"exact up to rounding". Ties are never pruned: a candidate is dropped only when its
(deflated) bound is strictly greater than the cutoff.
"""

from __future__ import annotations

import numba
import numpy as np

# Contraction only (FMA), as aeon's compiled DTW; no no-inf/no-nan assumptions.
FLAGS = {"contract"}
U = 2.0**-53


def slack(n: int) -> float:
    """Factor that deflates a lower bound before it is compared with a DTW cutoff.

    ``lb * slack(n) > cutoff`` implies that the DTW *as computed* exceeds ``cutoff``,
    whatever the rounding in either sum (both have at most ``2n + 4`` additions).
    """
    return 1.0 - 16.0 * (n + 4) * U


@numba.njit(cache=True)
def envelope(y, r, lo, hi):
    """Running min/max of ``y`` over ``[t - r, t + r]`` (the Sakoe-Chiba envelope), O(n).

    Monotone deques (Lemire 2009); ``r >= n - 1`` gives the global min and max.
    """
    n = y.shape[0]
    if r >= n - 1:
        mn = y[0]
        mx = y[0]
        for t in range(1, n):
            if y[t] < mn:
                mn = y[t]
            if y[t] > mx:
                mx = y[t]
        lo[:] = mn
        hi[:] = mx
        return
    qmax = np.empty(n, np.int64)
    qmin = np.empty(n, np.int64)
    amax = 0
    bmax = 0
    amin = 0
    bmin = 0
    # window of output t is [t - r, t + r]; push index s = t + r before emitting t
    for s in range(n + r):
        if s < n:
            v = y[s]
            while bmax > amax and y[qmax[bmax - 1]] <= v:
                bmax -= 1
            qmax[bmax] = s
            bmax += 1
            while bmin > amin and y[qmin[bmin - 1]] >= v:
                bmin -= 1
            qmin[bmin] = s
            bmin += 1
        t = s - r
        if t >= 0:
            while qmax[amax] < t - r:
                amax += 1
            while qmin[amin] < t - r:
                amin += 1
            hi[t] = y[qmax[amax]]
            lo[t] = y[qmin[amin]]


@numba.njit(cache=True, fastmath=FLAGS)
def keogh_terms(x, lo, hi, y0, yn, absolute, terms):
    """Per-row lower bounds of the DTW cost of row series ``x`` against column series y.

    Row ``t`` of any warping path in the band meets some ``y_j`` inside the envelope
    ``[lo_t, hi_t]`` of y, so its cost is at least the distance of ``x_t`` to that
    interval (LB_Keogh). The first and last rows hold the fixed corner cells
    ``(0, 0)`` and ``(n-1, n-1)``, whose exact costs are used instead (LB_Kim's
    first/last points; never smaller than the envelope term). Returns the sum.
    """
    n = x.shape[0]
    total = 0.0
    for t in range(n):
        v = x[t]
        if t == 0:
            d = v - y0
        elif t == n - 1:
            d = v - yn
        elif v > hi[t]:
            d = v - hi[t]
        elif v < lo[t]:
            d = lo[t] - v
        else:
            d = 0.0
        c = abs(d) if absolute else d * d
        terms[t] = c
        total += c
    return total


@numba.njit(cache=True)
def suffix_sums(terms, tail):
    """``tail[t] = sum(terms[t:])``, ``tail[n] = 0``: the least cost of rows t.. n-1."""
    n = terms.shape[0]
    tail[n] = 0.0
    for t in range(n - 1, -1, -1):
        tail[t] = tail[t + 1] + terms[t]


@numba.njit(cache=True, fastmath=FLAGS)
def dtw_pruned(x, y, r, cut_s, tail, absolute, track, prev, curr, dprev, dcurr):
    """DTW of rows ``x`` and columns ``y`` in the band ``|i - j| <= r``, pruned at a cutoff.

    Cells whose cost plus the least cost of the remaining rows (``tail``) exceeds
    ``cut_s`` are pruned (EAPruned DTW, Herrmann & Webb 2021, with the UCR Suite's
    cumulative LB_Keogh); rows are scanned only from the first cell with a live
    predecessor to the last; the computation is abandoned when a row has no live cell.

    Parameters
    ----------
    x, y : float64 arrays of equal length n
    r : int
        Band radius; ``r >= n - 1`` is the unconstrained window.
    cut_s : float
        The cutoff divided by :func:`slack` (``inf``: nothing is pruned).
    tail : float64 array, length n + 1
        ``tail[t]`` a lower bound of the cost of rows ``t..n-1`` (zeros: none).
    absolute : bool
        Point cost ``|x - y|`` instead of ``(x - y)**2``.
    track : bool
        Also track, for every cell, the largest ``|i - j|`` on the path its value came
        from (ties between predecessors: the smallest such deviation).
    prev, curr : float64 work arrays of length n + 1; dprev, dcurr : int64 likewise.

    Returns
    -------
    value : float
        The DTW when the last cell survived (exact whenever ``value <= cutoff``; the
        caller compares), else ``inf``.
    lb : float
        Lower bound (before :func:`slack`) of the DTW: the least ``cost + tail`` over
        the pruned cells and the surviving last cell. Every warping path leaves the
        surviving cells through a computed pruned cell, or stays in them to the end.
    dev : int
        The warping path's largest ``|i - j|`` (``track``), else -1.
    cells : int
        Cells computed.
    """
    # compile-time constants: each (cost, tracking) pair gets its own machine code, and
    # the squared cost's multiply-add stays one expression that contracts as aeon's
    numba.literally(absolute)
    numba.literally(track)
    n = x.shape[0]
    inf = np.inf
    if r > n - 1:
        r = n - 1
    for t in range(n + 1):
        prev[t] = inf
        curr[t] = inf
    prev[0] = 0.0
    dprev[0] = 0
    plo = 0  # live range of the previous row, in buffer indices (column + 1)
    phi = 0
    hi_dirty_prev = 0  # highest buffer index that may hold a finite value
    hi_dirty_curr = 0
    lb = inf
    cells = 0
    for i in range(n):
        thr = cut_s - tail[i + 1]
        xi = x[i]
        blo = i - r
        if blo < 0:
            blo = 0
        bhi = i + r
        if bhi > n - 1:
            bhi = n - 1
        j0 = plo - 1
        if j0 < blo:
            j0 = blo
        curr[j0] = inf
        clo = -1
        chi = -1
        j = j0
        while j <= bhi:
            left = curr[j]
            if j > phi and left == inf:
                break  # no live predecessor from here on
            a = prev[j]
            b = prev[j + 1]
            m = a
            if b < m:
                m = b
            if left < m:
                m = left
            d = xi - y[j]
            if absolute:
                v = abs(d) + m
            else:
                v = d * d + m
            if v > thr:
                w = v + tail[i + 1]
                if w < lb:
                    lb = w
                curr[j + 1] = inf
            else:
                curr[j + 1] = v
                if clo < 0:
                    clo = j + 1
                chi = j + 1
                if track:
                    # any predecessor holding the minimum gives a valid path; prefer
                    # the diagonal, then up (no search for the smallest deviation)
                    if a == m:
                        dv = dprev[j]
                    elif b == m:
                        dv = dprev[j + 1]
                    else:
                        dv = dcurr[j]
                    dij = i - j
                    if dij < 0:
                        dij = -dij
                    dcurr[j + 1] = dv if dv > dij else dij
            j += 1
        cells += j - j0
        # stale values right of this row must read as infinity for the next rows
        for t in range(j + 1, hi_dirty_curr + 1):
            curr[t] = inf
        hi_dirty_curr = j
        if clo < 0:
            return inf, lb, -1, cells
        plo = clo
        phi = chi
        prev, curr = curr, prev
        dprev, dcurr = dcurr, dprev
        hi_dirty_prev, hi_dirty_curr = hi_dirty_curr, hi_dirty_prev
    value = prev[n]
    if value == inf:
        return inf, lb, -1, cells
    if value < lb:
        lb = value
    return value, lb, dprev[n] if track else -1, cells
