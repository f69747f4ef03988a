"""Performance benchmarks: ``python -m ecgrepro.perf <benchmark> [options]``.

One subcommand per benchmark (``knn`` here; others add theirs with
:func:`add_benchmark`). Each prints its details and ends with one ``name=value`` line
that scripts can parse.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

KNN_MAX_RATIO = 1.2
KNN_MIN_SPEEDUP = 1.7


def load_ucr(name: str, mirror: str | None):
    """Read a UCR dataset from ``<mirror>/ucr/<name>/`` (default ``resources/data``)."""
    from ecgrepro.data.ucr import load_splits
    from ecgrepro.errors import DataError

    root = Path(mirror) if mirror else Path("resources/data")
    folder = root / "ucr" / name
    for fmt in ("tsv", "ts"):
        train, test = (folder / f"{name}_{s}.{fmt}" for s in ("TRAIN", "TEST"))
        if train.is_file() and test.is_file():
            return load_splits(name, train, test)
    raise DataError(
        f"{name}: no {name}_TRAIN/_TEST .tsv or .ts under {folder}; pass "
        "--data-mirror DIR (DIR/ucr/<name>/...) or fetch the data first."
    )


def _best(fn, repeats: int) -> tuple[float, list[float]]:
    """Minimum wall time of ``repeats`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), times


def perf_knn(args) -> dict:
    """aeon 1-NN DTW vs our k=1..10 sweep; then the DTW matrix on 1 vs N threads.

    Both sides of each comparison run on the same data in the same process after a
    warm-up call, so numba compile time is not measured; each timing is the minimum
    of ``--repeats`` runs, because other processes share the cores.
    """
    import numpy as np
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    from ecgrepro import knn_variants as kv
    from ecgrepro.knn import fit_predict

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
    t_a, all_a = _best(aeon_1nn, args.repeats)
    t_b, all_b = _best(sweep, args.repeats)
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
    kv.aeon_dtw_matrix(ds.X_test[:8], train, None, n)  # warm-up
    t_1, all_1 = _best(
        lambda: kv.aeon_dtw_matrix(ds.X_test, train, None, 1), args.repeats
    )
    t_n, all_n = _best(
        lambda: kv.aeon_dtw_matrix(ds.X_test, train, None, n), args.repeats
    )
    speedup = t_1 / t_n
    print(
        f"DTW matrix {len(ds.X_test)} x {len(train)} (train tiled x{args.scale}), "
        f"numba pool {kv.numba.config.NUMBA_NUM_THREADS}, "
        f"layer {kv.numba.threading_layer()}:"
    )
    print(f"    1 thread:  {t_1:.3f} s (runs {', '.join(f'{t:.3f}' for t in all_1)})")
    print(f"    {n} threads: {t_n:.3f} s (runs {', '.join(f'{t:.3f}' for t in all_n)})")
    print(f"    speedup = {speedup:.3f} (required >= {KNN_MIN_SPEEDUP})")
    ok = ratio <= KNN_MAX_RATIO and speedup >= KNN_MIN_SPEEDUP and agree
    print("PASS" if ok else "FAIL: a requirement above is not met")
    print(f"knn_sweep_ratio={ratio:.3f} dtw_thread_speedup={speedup:.3f}")
    return {"ratio": ratio, "speedup": speedup, "ok": ok}


def add_benchmark(sub, name: str, func, help: str) -> argparse.ArgumentParser:
    """Register a benchmark subcommand whose handler is ``func(args)``."""
    p = sub.add_parser(name, help=help, description=func.__doc__)
    p.set_defaults(func=func)
    p.add_argument(
        "--strict", action="store_true", help="exit 1 when a requirement fails"
    )
    return p


# --- segments: MIT-BIH segmentation (ecgrepro.data.segments) -------------------------

SEGMENTS_MAX_SECONDS = 60.0
SEGMENTS_MAX_MIB = 2048.0


def _rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def perf_segments(args) -> dict:
    """Segment MIT-BIH records from ``<mirror>/mitdb``: wall time and peak memory.

    Peak memory is the process's maximum resident set size (``ru_maxrss``), imports
    included, so it bounds what segmentation needs; the RSS before the first run is
    printed too. Time is the minimum of ``--repeats`` runs (the first reads cold files).
    With ``--tracemalloc``, one more run reports the peak of traced (numpy included)
    allocations.
    """
    from ecgrepro.data.mitdb import ALL_RECORDS
    from ecgrepro.data.segments import SegmentConfig, segment_counts, segment_records
    from ecgrepro.errors import DataError

    folder = (Path(args.data_mirror) if args.data_mirror else Path("resources/data")) / "mitdb"
    records = args.records.split(",") if args.records else list(ALL_RECORDS)
    missing = [r for r in records if not (folder / f"{r}.hea").is_file()]
    if missing:
        raise DataError(
            f"no {missing[0]}.hea (and {len(missing) - 1} more) under {folder}; pass "
            "--data-mirror DIR (DIR/mitdb/<record>.hea, .dat, .atr) or fetch mitdb first."
        )
    presets = {
        "default": SegmentConfig,
        "all_beats": SegmentConfig.all_beats,
        "tsfedl": SegmentConfig.tsfedl,
    }
    kw = {"missing_lead": "skip"}
    if args.lead is not None:
        kw["lead"] = int(args.lead) if args.lead.isdigit() else args.lead
    cfg = presets[args.preset](**kw)
    rss_before = _rss_mib()
    seg, times = None, []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        seg = segment_records(folder, records, cfg)
        times.append(time.perf_counter() - t0)
    seconds, peak = min(times), _rss_mib()
    counts = segment_counts(seg.table, cfg.classes).loc["total"]
    print(f"{len(records)} records from {folder}, preset {args.preset}, lead {cfg.lead}")
    print(f"    skipped (no lead {cfg.lead}): {', '.join(seg.skipped) or 'none'}")
    print(f"    segments {seg.X.shape} {seg.X.dtype}, {seg.X.nbytes / 2**20:.1f} MiB; "
          + ", ".join(f"{c} {n}" for c, n in counts.items()))
    print(f"    time {seconds:.3f} s (runs {', '.join(f'{t:.3f}' for t in times)}; "
          f"required < {SEGMENTS_MAX_SECONDS:.0f})")
    print(f"    peak RSS {peak:.1f} MiB (before segmenting {rss_before:.1f}; "
          f"required < {SEGMENTS_MAX_MIB:.0f})")
    if args.tracemalloc:
        import tracemalloc

        del seg
        tracemalloc.start()
        segment_records(folder, records, cfg)
        print(f"    tracemalloc peak {tracemalloc.get_traced_memory()[1] / 2**20:.1f} MiB")
        tracemalloc.stop()
    ok = seconds < SEGMENTS_MAX_SECONDS and peak < SEGMENTS_MAX_MIB
    print("PASS" if ok else "FAIL: a requirement above is not met")
    print(f"segments_seconds={seconds:.3f} peak_mib={peak:.1f}")
    return {"seconds": seconds, "peak_mib": peak, "ok": ok}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ecgrepro.perf", description=__doc__)
    sub = parser.add_subparsers(dest="benchmark", required=True)
    knn = add_benchmark(sub, "knn", perf_knn, "k-NN sweep cost and DTW thread scaling")
    knn.add_argument(
        "--data-mirror",
        help="directory holding ucr/<dataset>/*.tsv; " "default resources/data",
    )
    knn.add_argument("--dataset", default="TwoLeadECG")
    knn.add_argument(
        "--repeats", type=int, default=3, help="timings per measurement; min kept"
    )
    knn.add_argument("--threads", type=int, default=2, help="threads compared with 1")
    knn.add_argument(
        "--scale",
        type=int,
        default=4,
        help="tile the training set this many times for the thread test",
    )
    seg = add_benchmark(sub, "segments", perf_segments, "MIT-BIH segmentation time and memory")
    seg.add_argument(
        "--data-mirror",
        help="directory holding mitdb/<record>.{hea,dat,atr}; default resources/data",
    )
    seg.add_argument("--records", help="comma-separated records; default all 48")
    seg.add_argument(
        "--preset", choices=("default", "all_beats", "tsfedl"), default="default"
    )
    seg.add_argument("--lead", help="lead name or channel index; default the preset's")
    seg.add_argument("--repeats", type=int, default=1, help="timed runs; min kept")
    seg.add_argument("--tracemalloc", action="store_true", help="one more traced run")
    return parser


def main(argv=None) -> int:
    from ecgrepro.errors import EcgreproError

    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except EcgreproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if args.strict and not result.get("ok", True) else 0



if __name__ == "__main__":
    sys.exit(main())
