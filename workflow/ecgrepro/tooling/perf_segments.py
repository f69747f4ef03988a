"""``python -m ecgrepro.perf segments``: MIT-BIH segmentation, wall time and peak memory."""

from __future__ import annotations

import time
from pathlib import Path

from ecgrepro.tooling.perf_common import parser, run

HELP = "MIT-BIH segmentation time and memory"
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


def build_parser():
    p = parser("segments", perf_segments, HELP)
    p.add_argument(
        "--data-mirror",
        help="directory holding mitdb/<record>.{hea,dat,atr}; default resources/data",
    )
    p.add_argument("--records", help="comma-separated records; default all 48")
    p.add_argument(
        "--preset", choices=("default", "all_beats", "tsfedl"), default="default"
    )
    p.add_argument("--lead", help="lead name or channel index; default the preset's")
    p.add_argument("--repeats", type=int, default=1, help="timed runs; min kept")
    p.add_argument("--tracemalloc", action="store_true", help="one more traced run")
    return p


def main(argv=None) -> int:
    return run(build_parser(), argv)
