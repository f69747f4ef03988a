"""The k-NN algorithm layer: distances, exact pruned DTW searches, window search, votes.

Layering (checked by ``tests/test_imports.py``): modules here import numpy, numba,
aeon, sktime, :mod:`ecgrepro.errors` and each other, nothing else of ecgrepro; the
job layer (:mod:`ecgrepro.knn.jobs`: blocks, gather, run directories, command line)
sits above and imports from here, never the other way round. This ``__init__``
imports nothing, so that a light module (:mod:`~ecgrepro.knn.core.variants`) loads
without numba.

What is here
------------
* :mod:`~ecgrepro.knn.core.variants`: the variants, their definitions, the
  percent-to-radius rule and which search path each takes (no numba);
* :mod:`~ecgrepro.knn.core.distances`: the full matrices (aeon, sktime, the L1 kernel);
* :mod:`~ecgrepro.knn.core.kernels`: envelopes, LB_Keogh/LB_Kim terms, pruned DTW;
* :mod:`~ecgrepro.knn.core.search`: :func:`~ecgrepro.knn.core.search.knn_search`, the
  k nearest training series of each test series (k <= 10 in the benchmarks) under
  banded or unconstrained DTW, squared (aeon's) or absolute (the blog's) point cost,
  and :func:`~ecgrepro.knn.core.search.window_nn`, the leave-one-out nearest
  neighbour of each training series at every candidate window radius (the UCR
  archive's window search);
* :mod:`~ecgrepro.knn.core.window`: the LOO window table and the selected window;
* :mod:`~ecgrepro.knn.core.vote`: the vote rule, every k from one neighbour order;
* :mod:`~ecgrepro.knn.core.threads`: numba's thread count for one call.

The searches are split into row blocks that run as separate jobs by
:mod:`ecgrepro.knn.jobs.scatter` (``python -m ecgrepro.knn --help``); what every job
will cost, naive and pruned: ``python -m ecgrepro.cost knn``.

Why the results are exactly the naive ones
------------------------------------------
Neighbours are ordered by ``(distance, training index)``, as a stable argsort of the
full matrix orders them. A candidate is skipped only with a proof that its distance
is *strictly* larger than the k-th distance so far (which can only go down), so a
candidate at exactly the k-th distance is always computed and wins or loses on its
index. Each step, and why it is safe in floating point:

1. *Same cells.* A DTW that is not abandoned is computed with the very arithmetic of
   the naive kernel (:mod:`ecgrepro.knn.core.kernels`: ``d * d + min(...)`` contracted to
   an FMA like aeon's; ``|d| + min(...)`` like :func:`ecgrepro.knn.core.distances.l1_dtw_matrix`),
   so it is the same float. DTW is symmetric bit for bit (the transposed recurrence
   adds the same numbers in the same order), so either series can be the rows.
2. *Early abandoning.* A DTW value is a chain of additions of non-negative costs
   along a warping path, and ``fl(a + b) >= a`` for ``b >= 0``: a cell's value never
   exceeds the final value of a path through it. A row whose every cell exceeds the
   cutoff proves the DTW exceeds it.
3. *Pruned cells (EAPruned DTW).* A cell whose value plus the least cost of the rows
   still to come exceeds the cutoff is set to infinity. Every cell of the optimal
   path keeps its exact value (its best predecessor is on the path, hence kept), so
   a DTW at or below the cutoff comes out exactly; one above it comes out above it
   (pruning only raises values) or abandoned.
4. *Lower bounds (LB_Kim first/last, LB_Keogh both ways, their cumulative tails).*
   Every warping path visits every row once or more, within the band, and the two
   corner cells; so row ``t`` costs at least the distance of ``x_t`` to the other
   series' envelope over ``[t - r, t + r]`` (or the exact corner cost). The bound and
   the DTW are sums in different orders; each is within a relative ``(2L + 4) u`` of
   its exact value (``u = 2**-53``), so bounds are deflated by
   ``1 - 16 (L + 4) u`` before any comparison: a deflated bound above the cutoff
   proves the computed DTW above it. Candidates are visited in increasing bound
   order and the scan stops at the first bound above the k-th distance.
5. *Window search.* DTW never decreases when the window narrows (fewer paths; the
   same holds for the computed floats, by induction over the cells), so any exact
   value or bound at radius ``r`` bounds every smaller radius from below. If a
   warping path of the DTW at radius ``r`` deviates at most ``d`` from the diagonal,
   the DTW at every radius in ``[d, r]`` is the same float (FastWWSearch, Tan et al.
   2018): the path is still allowed, so the DTW cannot be larger, and it cannot be
   smaller. The deviation is tracked along the path that produced the value (any
   predecessor holding the minimum, so ties are fine). The squared Euclidean
   distance (the radius-0 DTW, computed with the same kernel) of the closest series
   bounds every radius's nearest distance from above.

The tests compare every path with the naive matrices: random walks of several
shapes, integer series full of exact ties, duplicated series, TwoLeadECG.

Which variant takes which path: :func:`ecgrepro.knn.core.variants.search_path`.
"""
