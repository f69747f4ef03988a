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


# --- lstm_fcn: the PyTorch LSTM-FCN training step against the machine's GEMM --------

LSTM_FCN_MIN_GEMM_FRACTION = 0.4


def lstm_fcn_flops(arch, batch: int) -> dict[str, int]:
    """Analytic multiply-add FLOPs (2 per MAC) of one training step of ``arch``.

    Forward: convolutions (``2 N T Cout Cin k``), the LSTM (``2 N steps 4U (F + U)``)
    and the dense layer. Backward: weight gradients of every layer plus input
    gradients of every layer but the first convolution (its input needs none), i.e.
    about twice the forward. Element-wise work (BatchNorm, ReLU, Adam) is not counted.
    """
    n, t = batch, arch.length
    fwd = bwd = 0
    channels = 1
    for i, (f, k) in enumerate(zip(arch.filters, arch.kernels)):
        conv = 2 * n * t * f * channels * k
        fwd += conv
        bwd += conv * (2 if i else 1)  # weight gradient (+ input gradient)
        channels = f
    steps, features = arch.lstm_steps_features
    u = arch.lstm_units
    lstm = 2 * n * steps * 4 * u * (features + u)
    dense = 2 * n * (u + channels) * arch.n_classes
    return {"forward": fwd + lstm + dense, "backward": bwd + 2 * lstm + 2 * dense,
            "lstm": 3 * lstm}


def _call_times(fn, calls: int) -> list[float]:
    """Wall seconds of each of ``calls`` consecutive calls."""
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _summary(times) -> str:
    """``min ms (median m, n calls)``: the minimum is the least disturbed call."""

    return (f"{min(times) * 1e3:.2f} ms (median {statistics.median(times) * 1e3:.2f}, "
            f"{len(times)} calls)")


def perf_lstm_fcn(args) -> dict:
    """LSTM-FCN training step (karim2018) in PyTorch vs GEMM peak, Keras and sktime.

    The step is the one ``ecgrepro.training`` runs: ``TorchAdapter.train_batch`` on
    one batch of the karim2018 protocol (batch 128, i.e. the whole training set when
    it is smaller: 23 series for TwoLeadECG; z-normalised, class-weighted
    cross-entropy; forward, backward, Keras-equivalent Adam step, loss read back).
    FLOPs of the step are counted by ``torch.utils.flop_counter.FlopCounterMode``
    (convolution and matmul forward *and* backward: weight and input gradients;
    cross-checked against an analytic count, which adds the LSTM that the counter
    does not see). The reference throughput is a float32 ``size x size`` torch matmul
    on the same threads. Torch steps, torch epochs (reshuffled batches, as in the
    loop), Keras steps (``KerasAdapter.train_batch``), torch steps without the
    dimension shuffle (like sktime's LSTM; information only) and GEMM calls run in
    ``--repeats`` interleaved rounds of ``--steps`` calls each; every call is timed
    and the minimum (the call least disturbed by other processes; the median is
    printed beside it) enters the ratios. Warm-up (Keras's tracing included) is
    excluded. ``--profile N`` prints the N costliest operators of the torch step
    (``torch.profiler``).
    sktime's ``LSTMFCNClassifier`` is fitted for ``1 + repeats x sktime-epochs``
    epochs; each epoch is timed between consecutive Keras epoch-end callbacks from
    the end of the first epoch on (model build, compile, tracing and the first epoch
    are excluded) and the minimum is kept, as for the other timings.
    """
    import math
    import os
    from dataclasses import replace

    import numpy as np

    from ecgrepro.models.lstm_fcn import LSTMFCNArch
    from ecgrepro.training import torch_fit
    from ecgrepro.training.loop import prepare_run

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    ds = load_ucr(args.dataset, args.data_mirror)
    threads, repeats, steps = args.threads, args.repeats, args.steps
    arch = LSTMFCNArch(
        length=ds.X_train.shape[-1], n_classes=len(ds.classes), lstm_units=args.lstm_units
    )
    protocol, inputs, seeds = prepare_run(ds, arch, "karim2018", args.seed)
    n = len(inputs.y_train)
    batch = min(protocol.batch_size, n)
    xb, yb, wb = inputs.X_train[:batch], inputs.Y_train[:batch], inputs.w_train[:batch]
    per_epoch = math.ceil(n / protocol.batch_size)
    print(
        f"{ds.name}: {n} training series of length {arch.length}, {arch.n_classes} "
        f"classes; LSTM-FCN {arch.lstm_units} cells, karim2018 batch {batch} "
        f"({per_epoch} step(s) per epoch); {threads} thread(s)"
    )
    load, cpus = os.getloadavg()[0], os.cpu_count()
    if load > 0.5:
        print(
            f"    load average {load:.1f} on {cpus} CPUs before starting: other processes "
            "share the cores; timings are noisy (compare minima and medians below)"
        )

    # PyTorch: the adapter the training loop uses (deterministic kernels, threads).
    adapter, flags = torch_fit.make_adapter(
        arch, protocol, inputs.loss, seeds["framework_seed"], "cpu", threads
    )
    rng = np.random.default_rng(0)

    def torch_step():
        adapter.train_batch(xb, yb, wb)

    def torch_epoch():  # the loop's epoch body, without its test evaluation
        order = rng.permutation(n)
        for b in range(0, n, protocol.batch_size):
            idx = order[b : b + protocol.batch_size]
            adapter.train_batch(inputs.X_train[idx], inputs.Y_train[idx], inputs.w_train[idx])

    for _ in range(args.warmup):
        torch_step()

    # FLOPs: forward and backward counted separately, then the whole step.
    model = adapter.model
    model.train()
    x_t, y_t, w_t = (torch.from_numpy(a) for a in (xb, yb, wb))
    with FlopCounterMode(display=False) as fc_fwd:
        loss = (torch_fit._loss(inputs.loss, model(x_t), y_t) * w_t).mean()
    with FlopCounterMode(display=False) as fc_bwd:
        loss.backward()
    model.zero_grad(set_to_none=True)
    with FlopCounterMode(display=False) as fc_step:
        torch_step()
    flops = fc_step.get_total_flops()
    f_fwd, f_bwd = fc_fwd.get_total_flops(), fc_bwd.get_total_flops()
    analytic = lstm_fcn_flops(arch, batch)
    by_op = ", ".join(
        f"{str(op).removeprefix('aten.')} {c / 1e6:.1f}"
        for op, c in fc_step.get_flop_counts()["Global"].items()
    )
    print(
        f"FLOPs per step (FlopCounterMode): {flops / 1e9:.4f} G = forward "
        f"{f_fwd / 1e9:.4f} + backward {f_bwd / 1e9:.4f} (backward/forward "
        f"{f_bwd / f_fwd:.3f}); by op, MFLOP: {by_op}"
    )
    a_total = analytic["forward"] + analytic["backward"]
    print(
        f"    analytic: {a_total / 1e9:.4f} G (forward {analytic['forward'] / 1e9:.4f}, "
        f"backward {analytic['backward'] / 1e9:.4f}); the LSTM's "
        f"{analytic['lstm'] / 1e6:.2f} MFLOP run in a fused kernel the counter does not "
        "see; element-wise BatchNorm/ReLU/Adam work counts in neither"
    )

    # GEMM reference on the same threads.
    size = args.gemm_size
    ga, gb = torch.randn(size, size), torch.randn(size, size)
    gemm_calls = max(1, round(0.1 / max(2 * size**3 / 150e9, 1e-6)))  # ~0.1 s a round

    def gemm():
        torch.mm(ga, gb)

    for _ in range(3):
        gemm()

    # sktime first: as a user runs it, without the op determinism ecgrepro's Keras
    # runs switch on; TF's thread pools are fixed here, before TF initialises.
    sk_epoch = None
    if not (args.no_keras and args.no_sktime):
        import tensorflow as tf

        for setter in (
            tf.config.threading.set_intra_op_parallelism_threads,
            tf.config.threading.set_inter_op_parallelism_threads,
        ):
            try:
                setter(threads)
            except RuntimeError:  # TF already initialised in this process
                pass
    if not args.no_sktime:
        sk_epoch = _sktime_epoch(ds, inputs, protocol, args)

    # Keras (the same network, protocol and batch), warm-up = tracing.
    keras_adapter = None
    if not args.no_keras:
        from ecgrepro.training import keras_fit

        keras_adapter, kflags = keras_fit.make_adapter(
            arch, protocol, inputs.loss, seeds["framework_seed"], "cpu", threads
        )
        t0 = time.perf_counter()
        keras_adapter.train_batch(xb, yb, wb)
        trace = time.perf_counter() - t0
        for _ in range(max(args.warmup - 1, 1)):
            keras_adapter.train_batch(xb, yb, wb)
        print(
            f"Keras {kflags['keras_version']} / TF {kflags['tensorflow_version']}: "
            f"intra/inter-op threads {kflags['intra_op_threads']}/"
            f"{kflags['inter_op_threads']}, first step (tracing) {trace:.2f} s"
        )

    # Like for like with sktime, whose LSTM reads T steps x 1 feature: the same
    # PyTorch step without the dimension shuffle (information only).
    plain_arch = replace(arch, shuffle=False)
    plain, _ = torch_fit.make_adapter(
        plain_arch, protocol, inputs.loss, seeds["framework_seed"], "cpu", threads
    )
    for _ in range(args.warmup):
        plain.train_batch(xb, yb, wb)

    # Interleaved rounds, so that every measurement sees the same machine state.
    times = {"torch": [], "epoch": [], "plain": [], "keras": [], "gemm": []}
    for _ in range(repeats):
        times["torch"] += _call_times(torch_step, steps)
        times["epoch"] += _call_times(torch_epoch, max(1, steps // per_epoch))
        times["plain"] += _call_times(lambda: plain.train_batch(xb, yb, wb), steps)
        if keras_adapter is not None:
            times["keras"] += _call_times(lambda: keras_adapter.train_batch(xb, yb, wb), steps)
        times["gemm"] += _call_times(gemm, gemm_calls)
    best = {k: min(v) if v else math.nan for k, v in times.items()}
    step, epoch, g = best["torch"], best["epoch"], best["gemm"]
    gemm_rate = 2 * size**3 / g
    fraction = flops / step / gemm_rate
    print(
        f"GEMM {size}x{size} float32, torch.mm: {_summary(times['gemm'])} = "
        f"{gemm_rate / 1e9:.1f} GFLOP/s"
    )
    print(
        f"torch {torch.__version__} step: {_summary(times['torch'])} = "
        f"{flops / step / 1e9:.1f} GFLOP/s = {fraction:.3f} of GEMM (required >= "
        f"{LSTM_FCN_MIN_GEMM_FRACTION}); threads {flags['num_threads']}, deterministic "
        f"{flags['deterministic_algorithms']}"
    )
    print(f"torch epoch ({per_epoch} step(s), reshuffled): {_summary(times['epoch'])}")
    print(
        f"torch step without the dimension shuffle (LSTM over {arch.length} steps, as "
        f"sktime's): {_summary(times['plain'])}"
    )
    keras_ratio = math.nan
    if times["keras"]:
        keras_ratio = best["keras"] / step
        print(f"Keras step: {_summary(times['keras'])}; Keras / torch = {keras_ratio:.2f}")

    sktime_ratio = math.nan
    if sk_epoch is not None:
        sktime_ratio = sk_epoch / epoch
        print(
            f"sktime epoch {sk_epoch * 1e3:.2f} ms / torch epoch = {sktime_ratio:.2f} "
            f"(against torch without the shuffle, {per_epoch} step(s) an epoch: "
            f"{sk_epoch / (best['plain'] * per_epoch):.2f})"
        )

    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                torch_step()
        print(f"torch.profiler, {steps} steps, by self CPU time:")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile))

    ok = fraction >= LSTM_FCN_MIN_GEMM_FRACTION
    print("PASS" if ok else "FAIL: a requirement above is not met")
    print(
        f"torch_gemm_fraction={fraction:.3f} keras_over_torch_step={keras_ratio:.2f} "
        f"sktime_over_torch_epoch={sktime_ratio:.2f}"
    )
    return {
        "fraction": fraction, "keras_ratio": keras_ratio, "sktime_ratio": sktime_ratio,
        "step_seconds": step, "flops": flops, "ok": ok,
    }


def _sktime_epoch(ds, inputs, protocol, args) -> float | None:
    """Steady-state seconds per epoch of sktime's LSTMFCNClassifier, or None."""
    import numpy as np

    try:
        from keras.callbacks import LambdaCallback
        from sktime.classification.deep_learning.lstmfcn import LSTMFCNClassifier

        import sktime
    except ImportError as exc:  # sktime, or the tensorflow distribution it checks
        print(f"sktime: not measured ({exc})")
        return None
    stamps: list[float] = []  # a closure survives the deepcopy sktime makes of callbacks
    block, repeats = args.sktime_epochs, args.repeats
    clf = LSTMFCNClassifier(
        n_epochs=1 + repeats * block,
        batch_size=protocol.batch_size,
        lstm_size=args.lstm_units,
        random_state=args.seed,
        callbacks=[LambdaCallback(on_epoch_end=lambda e, logs: stamps.append(time.perf_counter()))],
    )
    X = inputs.X_train.astype(np.float64)  # (n, 1, T), z-normalised as in karim2018
    t0 = time.perf_counter()
    try:
        clf.fit(X, ds.classes[inputs.y_train])
    except ModuleNotFoundError as exc:  # soft-dependency check at fit time
        print(f"sktime: not measured ({exc})")
        return None
    total = time.perf_counter() - t0
    if len(stamps) != 1 + repeats * block:
        print(f"sktime: {len(stamps)} epoch callbacks, expected {1 + repeats * block}")
        return None
    gaps = np.diff(stamps).tolist()  # epochs 2..E, each from the previous epoch's end
    first = stamps[0] - t0
    print(
        f"sktime {sktime.__version__} LSTMFCNClassifier (LSTM reads {inputs.X_train.shape[-1]} "
        f"steps x 1 feature: no dimension shuffle), batch {protocol.batch_size}: epoch "
        f"{_summary(gaps)}; fit {total:.1f} s, of which build, compile, tracing and "
        f"epoch 1 {first:.1f} s (excluded)"
    )
    return min(gaps)


# --- knn_scale: exact pruned DTW searches vs the naive matrices (ecgrepro.dtw) --------


def perf_knn_scale(args) -> dict:
    from ecgrepro.dtw.bench import knn_scale

    return knn_scale(args)


perf_knn_scale.__doc__ = (
    "Learned-window search and k-NN at length 750: naive (aeon matrices) vs pruned "
    "(ecgrepro.dtw); see ecgrepro.dtw.bench.knn_scale."
)


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
    from ecgrepro.dtw.bench import add_arguments as knn_scale_arguments

    knn_scale_arguments(
        add_benchmark(
            sub, "knn_scale", perf_knn_scale, "pruned vs naive DTW window search and k-NN"
        )
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
    lf = add_benchmark(
        sub, "lstm_fcn", perf_lstm_fcn, "LSTM-FCN training step vs GEMM, Keras and sktime"
    )
    lf.add_argument(
        "--data-mirror", help="directory holding ucr/<dataset>/*.tsv; default resources/data"
    )
    lf.add_argument("--dataset", default="TwoLeadECG")
    lf.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for torch, TF and the GEMM (default 1: training jobs run one "
        "thread each, one job per core)",
    )
    lf.add_argument(
        "--repeats", type=int, default=5, help="interleaved timing rounds (min call kept)"
    )
    lf.add_argument("--steps", type=int, default=20, help="training steps per round")
    lf.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    lf.add_argument("--gemm-size", type=int, default=1024, help="square GEMM size")
    lf.add_argument("--lstm-units", type=int, default=8)
    lf.add_argument("--seed", type=int, default=0)
    lf.add_argument(
        "--sktime-epochs", type=int, default=10, help="timed sktime epochs per round"
    )
    lf.add_argument("--no-keras", action="store_true", help="skip the Keras step")
    lf.add_argument("--no-sktime", action="store_true", help="skip sktime")
    lf.add_argument(
        "--profile", type=int, default=0, metavar="N",
        help="print the N costliest operators of the torch step (torch.profiler)",
    )
    return parser


#: Subcommands with a module of their own: name -> module exposing ``main(argv)``.
MODULES = {
    "timing": "ecgrepro.tooling.perf_timing",
    "cnn_rnn": "ecgrepro.tooling.perf_cnn_rnn",
}


def main(argv=None) -> int:
    from ecgrepro.errors import EcgreproError

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in MODULES:
        import importlib

        return importlib.import_module(MODULES[argv[0]]).main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except EcgreproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if args.strict and not result.get("ok", True) else 0



if __name__ == "__main__":
    sys.exit(main())
