"""``python -m ecgrepro.perf knn_scale``: naive versus pruned, at the length of the big sets.

Synthetic data: z-normalised random walks of length 750 (NonInvasiveFetalECGThorax1's),
the standard test data of DTW search methods. Both paths run in one process, on the
same data and threads, after a warm-up that compiles them, and must agree exactly.
"""

from __future__ import annotations

import time

import numpy as np

from ecgrepro.tooling.perf_common import parser, run

HELP = "pruned vs naive DTW window search and k-NN"

WINDOW_MIN_SPEEDUP = 50.0
KNN_MIN_SPEEDUP = 3.0


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def perf_knn_scale(args) -> dict:
    """Learned-window search and k-NN at length 750: naive (aeon matrices) vs pruned.

    (a) window search: leave-one-out 1-NN over the window percentages 0..100 on
    ``--n-window`` training series, naive (one aeon training matrix per radius, as
    the UCR archive does it) against :func:`ecgrepro.knn.core.search.window_nn`; the LOO tables
    must be identical. (b) k-NN, k = 1..10, unconstrained DTW (aeon-dtw):
    ``--n-test`` x ``--n-train`` full matrix and stable sort against
    :func:`ecgrepro.knn.core.search.knn_search`; neighbours, distances and predictions must be
    identical; then the same at the learned radius of (a) (the learned variant's test
    pass). Sizes default to a naive path of a few minutes on one core.
    """
    from ecgrepro.knn.core import variants as kv
    from ecgrepro.knn.core.distances import aeon_dtw_matrix
    from ecgrepro.knn.core.search import band_cells, knn_search, window_nn
    from ecgrepro.knn.core.vote import sweep, vote
    from ecgrepro.knn.core.window import learn_window, select_window
    from ecgrepro.tooling.cost_knn import random_walks

    rng = np.random.default_rng(args.seed)
    L, th, ks = args.length, args.threads, tuple(range(1, 11))
    Xw = random_walks(args.n_window, L, rng)
    yw = rng.integers(0, args.classes, args.n_window)
    T = random_walks(args.n_train, L, rng)
    yt = rng.integers(0, args.classes, args.n_train)
    Q = random_walks(args.n_test, L, rng)
    print(
        f"random walks, length {L}, {args.classes} random classes, {th} thread(s); "
        f"window search on {args.n_window} series; k-NN {args.n_test} x {args.n_train}"
    )
    # warm-up: compile every kernel outside the timings
    small = random_walks(12, 20, rng)
    learn_window(small, np.arange(12) % 2, th, [0, 50, 100], method="naive")
    learn_window(small, np.arange(12) % 2, th, [0, 50, 100], method="pruned")
    knn_search(small[:2], small, None, 10, False, th)
    aeon_dtw_matrix(small[:2], small, None, th)

    naive_rows, t_wn = _timed(lambda: learn_window(Xw, yw, th, method="naive"))
    pruned_rows, t_wp = _timed(lambda: learn_window(Xw, yw, th, method="pruned"))
    radii = sorted({min(kv.percent_to_radius(p, L), L - 1) for p in kv.LEARN_PERCENTS})
    _, _, _, wcells = window_nn(Xw, np.arange(args.n_window), radii, th)
    w_naive = (
        args.n_window * (args.n_window - 1) / 2 * sum(band_cells(L, r) for r in radii)
    )
    same_window = naive_rows == pruned_rows
    sel = select_window(pruned_rows)
    w_speed = t_wn / t_wp
    print(
        f"(a) window search, {len(radii)} radii: naive {t_wn:.2f} s, pruned {t_wp:.2f} s, "
        f"speed-up {w_speed:.1f} (required >= {WINDOW_MIN_SPEEDUP:.0f})"
    )
    print(
        f"    DTW cells: naive {w_naive:.3e}, pruned {wcells.sum():.3e} "
        f"({w_naive / wcells.sum():.1f}x fewer); learned {sel['percent']} % "
        f"(radius {sel['radius']}); LOO tables identical: {same_window}"
    )

    results = {}
    for name, radius in (
        ("full window", None),
        (f"radius {sel['radius']}", sel["radius"]),
    ):

        def naive():
            D = aeon_dtw_matrix(Q, T, radius, th)
            order = np.argsort(D, axis=1, kind="stable")[:, :10]
            return D, order, sweep(D, yt, ks, args.classes)

        def pruned():
            idx, dist, cells = knn_search(Q, T, radius, 10, False, th)
            return idx, dist, cells, vote(idx, yt, ks, args.classes)

        (D, order, p_naive), t_n = _timed(naive)
        (idx, dist, cells, p_pruned), t_p = _timed(pruned)
        same = (
            np.array_equal(order, idx)
            and np.array_equal(np.take_along_axis(D, order, 1), dist)
            and all(np.array_equal(p_naive[k], p_pruned[k]) for k in ks)
        )
        full = args.n_test * args.n_train * band_cells(L, radius)
        results[name] = (t_n / t_p, same)
        print(
            f"(b) k-NN k=1..10, {name}: naive matrix {t_n:.2f} s, pruned {t_p:.2f} s, "
            f"speed-up {t_n / t_p:.1f}; cells {full:.3e} -> {cells.sum():.3e} "
            f"({full / cells.sum():.1f}x fewer); neighbours, distances and predictions "
            f"identical: {same}"
        )
    knn_speed, same_full = results["full window"]
    exact = same_window and all(s for _, s in results.values())
    ok = exact and w_speed >= WINDOW_MIN_SPEEDUP and knn_speed >= KNN_MIN_SPEEDUP
    print(
        f"    k-NN speed-up reported: full window (aeon-dtw), required >= "
        f"{KNN_MIN_SPEEDUP:.0f}"
    )
    print("PASS" if ok else "FAIL: a requirement above is not met")
    print(f"window_search_speedup={w_speed:.1f} knn_speedup={knn_speed:.1f}")
    return {
        "window_search_speedup": w_speed,
        "knn_speedup": knn_speed,
        "ok": ok,
        "exact": exact,
    }


def build_parser():
    p = parser("knn_scale", perf_knn_scale, HELP)
    p.add_argument("--length", type=int, default=750, help="series length")
    p.add_argument(
        "--n-window",
        type=int,
        default=40,
        help="training series of the window search (naive ~ n^2 / 2 x 68 "
        "full DTWs at length 750)",
    )
    p.add_argument("--n-train", type=int, default=400, help="k-NN training series")
    p.add_argument("--n-test", type=int, default=50, help="k-NN test series")
    p.add_argument("--classes", type=int, default=5, help="random class labels")
    p.add_argument("--threads", type=int, default=1, help="threads for both paths")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None) -> int:
    return run(build_parser(), argv)
