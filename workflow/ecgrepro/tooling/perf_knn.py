"""``python -m ecgrepro.perf knn``: the k = 1..10 sweep against aeon's 1-NN; DTW threads."""

from __future__ import annotations

from ecgrepro.tooling.perf_common import best_of, load_ucr, parser, run

HELP = "k-NN sweep cost and DTW thread scaling"
KNN_MAX_RATIO = 1.2
KNN_MIN_SPEEDUP = 1.7


def perf_knn(args) -> dict:
    """aeon 1-NN DTW vs our k=1..10 sweep; then the DTW matrix on 1 vs N threads.

    Both sides of each comparison run on the same data in the same process after a
    warm-up call, so numba compile time is not measured; each timing is the minimum
    of ``--repeats`` runs, because other processes share the cores.
    """
    import numpy as np
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    import numba

    from ecgrepro.knn.core.distances import aeon_dtw_matrix
    from ecgrepro.knn.jobs.run import fit_predict

    ds = load_ucr(args.dataset, args.data_mirror)
    ks = tuple(range(1, 11))
    print(
        f"{ds.name}: train {ds.X_train.shape}, test {ds.X_test.shape}, k = 1..10"
    )

    def aeon_1nn():
        clf = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw", n_jobs=1)
        return clf.fit(ds.X_train[:, None, :], ds.y_train).predict(ds.X_test[:, None, :])

    def sweep():
        return fit_predict(ds, "aeon-dtw", ks, threads=1)

    ours, theirs = sweep(), aeon_1nn()  # warm-up: JIT compile both
    agree = bool(np.array_equal(ours.predictions[1], theirs))
    t_a, all_a = best_of(aeon_1nn, args.repeats)
    t_b, all_b = best_of(sweep, args.repeats)
    ratio = t_b / t_a
    print(
        f"(a) aeon KNeighborsTimeSeriesClassifier(1, dtw) fit+predict: {t_a:.3f} s "
        f"(runs {', '.join(f'{t:.3f}' for t in all_a)})"
    )
    print(
        f"(b) ecgrepro aeon-dtw matrix + k=1..10 sweep:              {t_b:.3f} s "
        f"(runs {', '.join(f'{t:.3f}' for t in all_b)})"
    )
    print(f"    k=1 predictions identical to aeon's: {agree}")
    print(f"    ratio b/a = {ratio:.3f} (required <= {KNN_MAX_RATIO})")

    # A larger query set so that thread start-up does not dominate.
    train = np.tile(ds.X_train, (args.scale, 1))
    n = args.threads
    aeon_dtw_matrix(ds.X_test[:8], train, None, n)  # warm-up
    t_1, all_1 = best_of(
        lambda: aeon_dtw_matrix(ds.X_test, train, None, 1), args.repeats
    )
    t_n, all_n = best_of(
        lambda: aeon_dtw_matrix(ds.X_test, train, None, n), args.repeats
    )
    speedup = t_1 / t_n
    print(
        f"DTW matrix {len(ds.X_test)} x {len(train)} (train tiled x{args.scale}), "
        f"numba pool {numba.config.NUMBA_NUM_THREADS}, "
        f"layer {numba.threading_layer()}:"
    )
    print(f"    1 thread:  {t_1:.3f} s (runs {', '.join(f'{t:.3f}' for t in all_1)})")
    print(f"    {n} threads: {t_n:.3f} s (runs {', '.join(f'{t:.3f}' for t in all_n)})")
    print(f"    speedup = {speedup:.3f} (required >= {KNN_MIN_SPEEDUP})")
    ok = ratio <= KNN_MAX_RATIO and speedup >= KNN_MIN_SPEEDUP and agree
    print("PASS" if ok else "FAIL: a requirement above is not met")
    print(f"knn_sweep_ratio={ratio:.3f} dtw_thread_speedup={speedup:.3f}")
    return {"ratio": ratio, "speedup": speedup, "ok": ok}


def build_parser():
    p = parser("knn", perf_knn, HELP)
    p.add_argument(
        "--data-mirror",
        help="directory holding ucr/<dataset>/*.tsv; default resources/data",
    )
    p.add_argument("--dataset", default="TwoLeadECG")
    p.add_argument(
        "--repeats", type=int, default=3, help="timings per measurement; min kept"
    )
    p.add_argument("--threads", type=int, default=2, help="threads compared with 1")
    p.add_argument(
        "--scale",
        type=int,
        default=4,
        help="tile the training set this many times for the thread test",
    )
    return p


def main(argv=None) -> int:
    return run(build_parser(), argv)
