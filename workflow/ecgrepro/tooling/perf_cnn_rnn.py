"""CNN+LSTM and CNN+GRU seconds per epoch: ``python -m ecgrepro.perf cnn_rnn``.

One oh2018 fold (stratified ten-fold over the segments, fold 0's training part, batch
64) in PyTorch and Keras, beside the share of the machine's float32 GEMM throughput the
step reaches (analytic FLOPs of a training step / seconds per step / GEMM FLOP/s of a
``--gemm-size`` torch matmul on the same threads). All arms, and the GEMM, run in this
one process, warmed up, alternated in rounds of ``--batches`` batches; an epoch is the
median seconds per batch times the fold's batches per epoch (extrapolated from the
timed batches, as printed). Rounds are judged as in the timing step
(:mod:`ecgrepro.tooling.timing_core`); when fewer than half of an arm's rounds pass, its
median CPU time stands in for the wall time (said beside the number).
``--reference-gru`` adds an arm with torch's own GRU kernel (the per-step loop of
aten/native/RNN.cpp) for a before/after comparison of
:class:`ecgrepro.models.cnn_rnn_torch.GRURecurrence`.

Ends with ``cnn_lstm_torch_epoch_s=<a> cnn_gru_torch_epoch_s=<b>
cnn_lstm_keras_epoch_s=<c> cnn_gru_keras_epoch_s=<d>``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from ecgrepro.errors import EcgreproError
from ecgrepro.tooling import timing_core as tc

#: one line for ``python -m ecgrepro.perf --help``
HELP = "CNN+LSTM/GRU seconds per epoch in both frameworks vs GEMM throughput"

#: The slowest of the four epochs may take at most this many times the fastest.
MAX_SPREAD = 2.0


def cnn_rnn_flops(arch, batch: int) -> dict[str, int]:
    """Analytic FLOPs (2 per multiply-add) of one training step of ``arch``.

    Forward: convolutions ``2 N L_out C_out C_in k``, the recurrent layer
    ``2 N steps G U (F + U)`` (G = 4 gates for LSTM, 3 for GRU), dense layers.
    Backward: weight gradients of every layer plus input gradients of every layer but
    the first convolution, i.e. about twice the forward. Element-wise work (gates,
    ReLU, pooling, Adam) is not counted.
    """
    n = batch
    fwd = bwd = 0
    channels = 1
    for i, ((f, k), (conv_len, _)) in enumerate(zip(zip(arch.filters, arch.kernels),
                                                     arch.lengths())):
        conv = 2 * n * conv_len * f * channels * k
        fwd += conv
        bwd += conv * (2 if i else 1)
        channels = f
    gates = 4 if arch.cell == "lstm" else 3
    rnn = 2 * n * arch.steps * gates * arch.units * (channels + arch.units)
    dense, width = 0, arch.units
    for u in (*arch.dense, arch.n_classes):
        dense += 2 * n * width * u
        width = u
    return {"forward": fwd + rnn + dense, "backward": bwd + 2 * rnn + 2 * dense,
            "rnn": 3 * rnn, "total": fwd + bwd + 3 * rnn + 3 * dense}


def load_fold(args):
    """oh2018 fold ``--fold``: prepared segments, or records of the mirror segmented here."""
    from ecgrepro.data.segments import SegmentConfig, save_segments, segment_records
    from ecgrepro.runs import MITDB, load_task

    if args.segments_npz:
        return load_task(args.segments_npz, MITDB, "oh2018", f"fold{args.fold}", 10, 0), \
            str(args.segments_npz)
    folder = Path(args.data_mirror or "resources/data") / "mitdb"
    if not (folder / "100.hea").is_file():
        raise EcgreproError(f"no MIT-BIH record 100 under {folder}; pass --data-mirror DIR "
                            "(DIR/mitdb/<record>.hea/.dat/.atr) or --segments-npz FILE.")
    if args.records == "all":
        records = sorted(p.stem for p in folder.glob("*.hea"))
    else:
        records = args.records.split(",")
    segments = segment_records(folder, records, SegmentConfig(missing_lead="skip"))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "segments.npz"
        save_segments(path, segments)
        ds = load_task(path, MITDB, "oh2018", f"fold{args.fold}", 10, 0)
    return ds, f"{len(records)} records of {folder} ({len(segments.X)} segments)"


def run(args, log=print) -> dict:
    from ecgrepro.models.cnn_rnn import CNNRNNArch
    from ecgrepro.tooling.perf_timing import batch_unit, make_adapter, pin_threads
    from ecgrepro.training.loop import prepare_run

    pin_threads(args.threads)
    import torch

    ds, source = load_fold(args)
    arms, flops, per_epoch, batch = {}, {}, None, None
    for cell in ("lstm", "gru"):
        arch = CNNRNNArch(length=ds.length, n_classes=len(ds.classes), cell=cell,
                          units=args.units)
        protocol, inputs, seeds = prepare_run(ds, arch, "oh2018", args.seed)
        batch = protocol.batch_size
        per_epoch = math.ceil(len(inputs.y_train) / batch)
        flops[f"cnn_{cell}"] = cnn_rnn_flops(arch, batch)["total"]
        variants = [("torch", False), ("keras", False)]
        if cell == "gru" and args.reference_gru:
            variants.insert(1, ("torch", True))
        for framework, reference in variants:
            if framework == "keras" and args.no_keras:
                continue
            adapter, _ = make_adapter(framework, arch, protocol, inputs.loss,
                                  seeds["framework_seed"], args.threads)
            name = f"cnn_{cell}_{framework}" + ("_torchgru" if reference else "")
            if reference:
                adapter.model.rnn.cpu_recurrence = False
            arms[name] = batch_unit(adapter, inputs, batch, args.batches, seeds["shuffle_seed"])
    size = args.gemm_size
    ga, gb = torch.randn(size, size), torch.randn(size, size)
    gemm_calls = 5

    def gemm():
        for _ in range(gemm_calls):
            torch.mm(ga, gb)

    arms["gemm"] = gemm
    log(f"oh2018 fold {args.fold} of {source}: {len(inputs.y_train)} training segments, "
        f"batch {batch}, {per_epoch} batches an epoch; timing {args.batches} batches per "
        f"round x {args.rounds} rounds per arm, {args.threads} thread(s), load average "
        f"{os.getloadavg()[0]:.2f}; epochs below are extrapolated from those batches")
    t0 = time.perf_counter()
    rounds = tc.keep_rounds(tc.run_rounds(arms, args.rounds, args.warmup, log=None), args.threads)
    log(f"timed in {time.perf_counter() - t0:.1f} s; rounds kept by the CPU-vs-wall check: "
        f"{int(rounds['kept'].sum())} of {len(rounds)}")

    def per_call(arm):
        """Median seconds of one call: wall time of the kept rounds; on a machine so
        busy that fewer than half the rounds pass the check, the CPU time of all rounds
        (with one thread, what an undisturbed round's wall time would be, near enough)."""
        sel = rounds[rounds["arm"] == arm]
        kept = sel[sel["kept"]]
        if 2 * len(kept) >= len(sel):
            return float(np.median(kept["wall_s"])), len(kept), len(sel), "wall"
        return float(np.median(sel["cpu_s"])), len(kept), len(sel), "cpu"

    g_t, _, _, g_clock = per_call("gemm")
    gemm_rate = 2 * size**3 * gemm_calls / g_t
    log(f"GEMM {size}x{size} float32 (torch.mm): {gemm_rate / 1e9:.1f} GFLOP/s (median "
        f"{g_clock} time of {gemm_calls} calls a round)")
    epochs = {}
    for name in arms:
        if name == "gemm":
            continue
        t, kept, total, clock = per_call(name)
        step = t / args.batches
        epochs[name] = step * per_epoch
        model = name.split("_torch")[0].split("_keras")[0]
        share = flops[model] / step / gemm_rate
        note = "" if clock == "wall" else " (machine busy: median CPU time, not wall)"
        log(f"{name:22s} {step * 1e3:8.2f} ms/batch  {epochs[name]:7.2f} s/epoch  "
            f"{flops[model] / 1e6:7.1f} MFLOP/step = {share:.4f} of GEMM throughput; "
            f"rounds kept {kept}/{total}{note}")
    main4 = {k: epochs.get(k, math.nan) for k in
             ("cnn_lstm_torch", "cnn_gru_torch", "cnn_lstm_keras", "cnn_gru_keras")}
    finite = [v for v in main4.values() if math.isfinite(v)]
    spread = max(finite) / min(finite)
    ok = spread <= MAX_SPREAD
    if "cnn_gru_torch_torchgru" in epochs:
        log(f"torch GRU: torch's own kernel {epochs['cnn_gru_torch_torchgru']:.2f} s/epoch, "
            f"GRURecurrence {epochs['cnn_gru_torch']:.2f} s/epoch (x"
            f"{epochs['cnn_gru_torch_torchgru'] / epochs['cnn_gru_torch']:.2f} faster); torch "
            f"GRU / LSTM {epochs['cnn_gru_torch'] / epochs['cnn_lstm_torch']:.2f} (was "
            f"{epochs['cnn_gru_torch_torchgru'] / epochs['cnn_lstm_torch']:.2f})")
    log(f"slowest / fastest of the four = {spread:.2f} (required <= {MAX_SPREAD})")
    log("PASS" if ok else "FAIL: a requirement above is not met")
    log(" ".join(f"{k}_epoch_s={v:.3f}" for k, v in main4.items()))
    return {"epochs": epochs, "spread": spread, "ok": ok}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ecgrepro.perf cnn_rnn", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-mirror", help="directory holding mitdb/; default resources/data")
    p.add_argument("--segments-npz", help="prepared MIT-BIH segments (instead of the mirror)")
    p.add_argument("--records", default="all", help="comma-separated records, or all")
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--units", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batches", type=int, default=10, help="timed batches per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--gemm-size", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reference-gru", action="store_true",
                   help="also time torch GRU through torch's own kernel")
    p.add_argument("--no-keras", action="store_true")
    p.add_argument("--strict", action="store_true", help="exit 1 when a requirement fails")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = run(args)
    except EcgreproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if args.strict and not result["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
