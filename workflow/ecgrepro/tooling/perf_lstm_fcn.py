"""``python -m ecgrepro.perf lstm_fcn``: the PyTorch LSTM-FCN training step against GEMM.

Beside it, the same step in Keras, FCN's step in both frameworks, both models on a
NonInvasiveFetalECGThorax-sized batch (:mod:`ecgrepro.tooling.perf_shapes`) and an
epoch of sktime's ``LSTMFCNClassifier``. Ends with ``torch_gemm_fraction=<a>
keras_over_torch_step=<b> fcn_keras_over_torch_step=<c> big_keras_over_torch_step=<d>
big_torch_gemm_fraction=<e>``; targets (idle 2-core machine, one thread): b, c, d >= 1
(PyTorch at least as fast as Keras on every shape), e >= 0.7, a >= 0.4.
"""

from __future__ import annotations

import time

from ecgrepro.tooling.perf_common import call_times as _call_times
from ecgrepro.tooling.perf_common import load_ucr, parser, run
from ecgrepro.tooling.perf_common import summary as _summary
from ecgrepro.tooling.perf_shapes import BIG_SHAPE, extra_pairs, parse_shape

HELP = "LSTM-FCN training step vs GEMM, Keras and sktime"
LSTM_FCN_MIN_GEMM_FRACTION = 0.4
BIG_MIN_GEMM_FRACTION = 0.7
MIN_KERAS_OVER_TORCH = 1.0  # PyTorch at least as fast as Keras


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
    FCN's step on the same batch, and LSTM-FCN's and FCN's on a ``--big-shape`` batch
    (random series), run in both frameworks in the same rounds (``--big-steps`` calls
    each for the big shape); their GEMM fractions use their own FlopCounterMode counts.
    """
    import math
    import os
    import statistics
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

    pairs = extra_pairs(ds, args, keras_adapter is not None)

    # Interleaved rounds, so that every measurement sees the same machine state.
    times = {"torch": [], "epoch": [], "plain": [], "keras": [], "gemm": []}
    for pair in pairs:
        times[pair.name], times[f"{pair.name}_keras"] = [], []
    for _ in range(repeats):
        times["torch"] += _call_times(torch_step, steps)
        times["epoch"] += _call_times(torch_epoch, max(1, steps // per_epoch))
        times["plain"] += _call_times(lambda: plain.train_batch(xb, yb, wb), steps)
        if keras_adapter is not None:
            times["keras"] += _call_times(lambda: keras_adapter.train_batch(xb, yb, wb), steps)
        for pair in pairs:
            calls = steps if pair.name == "fcn" else args.big_steps
            times[pair.name] += _call_times(pair.torch_step, calls)
            if pair.keras_step is not None:
                times[f"{pair.name}_keras"] += _call_times(pair.keras_step, calls)
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

    shapes = {}
    for pair in pairs:
        t_best, k_times = best[pair.name], times[f"{pair.name}_keras"]
        frac = pair.flops / t_best / gemm_rate
        ratio = best[f"{pair.name}_keras"] / t_best if k_times else math.nan
        shapes[pair.name] = (frac, ratio)
        n_b, t_b, c_b = pair.batch
        keras_part = (f"; Keras {_summary(k_times)}, Keras / torch = {ratio:.2f} (medians "
                      f"{statistics.median(k_times) / statistics.median(times[pair.name]):.2f})"
                      if k_times else "")
        print(f"{pair.name} ({n_b} x {t_b}, {c_b} classes): torch {_summary(times[pair.name])}"
              f" = {frac:.3f} of GEMM ({pair.flops / 1e9:.3f} GFLOP){keras_part}")
    fcn_ratio = shapes.get("fcn", (math.nan, math.nan))[1]
    big_fraction, big_ratio = shapes.get("big", (math.nan, math.nan))

    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                torch_step()
        print(f"torch.profiler, {steps} steps, by self CPU time:")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile))

    # Requirements; a ratio not measured (NaN: --no-keras, --big-shape 0) is not judged.
    checks = {
        f"torch_gemm_fraction >= {LSTM_FCN_MIN_GEMM_FRACTION}":
            fraction >= LSTM_FCN_MIN_GEMM_FRACTION,
        f"big_torch_gemm_fraction >= {BIG_MIN_GEMM_FRACTION}":
            not big_fraction < BIG_MIN_GEMM_FRACTION,
        **{f"{name} >= {MIN_KERAS_OVER_TORCH}": not value < MIN_KERAS_OVER_TORCH
           for name, value in (("keras_over_torch_step", keras_ratio),
                               ("fcn_keras_over_torch_step", fcn_ratio),
                               ("big_keras_over_torch_step", big_ratio))},
    }
    failed = [name for name, good in checks.items() if not good]
    ok = not failed
    print("PASS" if ok else "FAIL: not met: " + ", ".join(failed))
    print(f"sktime_over_torch_epoch={sktime_ratio:.2f} big_fcn_keras_over_torch_step="
          f"{shapes.get('big_fcn', (math.nan, math.nan))[1]:.2f}")
    print(
        f"torch_gemm_fraction={fraction:.3f} keras_over_torch_step={keras_ratio:.2f} "
        f"fcn_keras_over_torch_step={fcn_ratio:.2f} big_keras_over_torch_step="
        f"{big_ratio:.2f} big_torch_gemm_fraction={big_fraction:.3f}"
    )
    return {
        "fraction": fraction, "keras_ratio": keras_ratio, "sktime_ratio": sktime_ratio,
        "fcn_keras_ratio": fcn_ratio, "big_keras_ratio": big_ratio,
        "big_fraction": big_fraction, "step_seconds": step, "flops": flops, "ok": ok,
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


def build_parser():
    lf = parser("lstm_fcn", perf_lstm_fcn, HELP)
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
    lf.add_argument(
        "--big-shape", type=parse_shape, default=BIG_SHAPE, metavar="N,T,C",
        help="series, length and classes of the big batch (default 128,750,42: "
        "NonInvasiveFetalECGThorax); 0 skips it",
    )
    lf.add_argument("--big-steps", type=int, default=2,
                    help="big-shape training steps per round and arm (default 2)")
    lf.add_argument("--no-keras", action="store_true", help="skip the Keras step")
    lf.add_argument("--no-sktime", action="store_true", help="skip sktime")
    lf.add_argument(
        "--profile", type=int, default=0, metavar="N",
        help="print the N costliest operators of the torch step (torch.profiler)",
    )
    return lf


def main(argv=None) -> int:
    return run(build_parser(), argv)
