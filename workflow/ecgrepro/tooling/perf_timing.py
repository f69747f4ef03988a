"""The timing step: ``python -m ecgrepro.perf timing`` (and the workflow's ``timing`` rule).

Times what one epoch of the real protocols does, for every arm of claims C5 and C8 and
the framework comparison, in one process, alternated in rounds (see
:mod:`ecgrepro.tooling.timing_core` for the measurement, the rejection rule and the
statistics). Two groups of arms, each alternated within itself:

* UCR (default TwoLeadECG), karim2018: LSTM-FCN with and without the dimension shuffle,
  PyTorch and Keras; one unit = ``--ucr-epochs`` epochs (reshuffled batches of 128).
* MIT-BIH, oh2018 fold 0's training part: CNN+LSTM and CNN+GRU, PyTorch and Keras; one
  unit = ``--mitdb-batches`` batches of 64, scaled to one epoch of that fold.

Writes ``comparisons.csv``, ``rounds.csv`` and ``provenance.json`` into ``--out`` and
ends with ``shuffle_ratio_torch=<x> shuffle_ratio_keras=<y> gru_over_lstm_torch=<z>``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np

from ecgrepro.errors import EcgreproError
from ecgrepro.tooling import timing_core as tc

#: one line for ``python -m ecgrepro.perf --help``
HELP = "controlled timing of C5/C8 and the framework comparison (results/timing)"

FRAMEWORKS = ("torch", "keras")
#: MIT-BIH records segmented when the step prepares its own data from a mirror: few,
#: and between them every one of Oh et al.'s five classes (N, L, R, A, V).
SUBSET_RECORDS = ("100", "109", "118", "119", "207")


def comparisons(frameworks=FRAMEWORKS, ucr=True, mitdb=True) -> list[tc.Comparison]:
    """The comparisons of contract #6 for the arms that run."""
    out = []
    if ucr:
        out += [tc.Comparison(f"shuffle_{f}", f"lstm_fcn_noshuffle/{f}", f"lstm_fcn/{f}", f)
                for f in frameworks]
    if mitdb:
        out += [tc.Comparison(f"gru_over_lstm_{f}", f"cnn_gru/{f}", f"cnn_lstm/{f}", f)
                for f in frameworks]
    if set(FRAMEWORKS) <= set(frameworks):
        models = (["lstm_fcn", "lstm_fcn_noshuffle"] if ucr else []) + (
            ["cnn_lstm", "cnn_gru"] if mitdb else [])
        out += [tc.Comparison(f"keras_over_torch_{m}", f"{m}/keras", f"{m}/torch", "keras/torch")
                for m in models]
    return out


# --- data -------------------------------------------------------------------------------

def load_ucr_data(args):
    """The UCR dataset: a prepared .npz, else the TSV files of the mirror."""
    if args.ucr_npz:
        from ecgrepro.data.ucr import load_prepared

        return load_prepared(args.ucr_npz)
    from ecgrepro.data.ucr import load_splits

    folder = Path(args.data_mirror or "resources/data") / "ucr" / args.dataset
    for fmt in ("tsv", "ts"):
        train, test = (folder / f"{args.dataset}_{s}.{fmt}" for s in ("TRAIN", "TEST"))
        if train.is_file() and test.is_file():
            return load_splits(args.dataset, train, test)
    raise EcgreproError(
        f"{args.dataset}: no {args.dataset}_TRAIN/_TEST .tsv or .ts under {folder}; pass "
        "--data-mirror DIR (DIR/ucr/<name>/...) or --ucr-npz FILE (a prepared dataset).")


def load_mitdb_fold(args):
    """oh2018 fold ``--fold`` of prepared segments, or of a few records of the mirror."""
    from ecgrepro.data.segments import SegmentConfig, segment_records
    from ecgrepro.runs import MITDB, load_task

    if args.segments_npz:
        return load_task(args.segments_npz, MITDB, "oh2018", f"fold{args.fold}",
                         args.n_folds, args.fold_seed), \
            f"{args.segments_npz} (all segments)"
    folder = Path(args.data_mirror or "resources/data") / "mitdb"
    if not (folder / f"{SUBSET_RECORDS[0]}.hea").is_file():
        raise EcgreproError(
            f"no MIT-BIH record {SUBSET_RECORDS[0]} under {folder}; pass --data-mirror DIR "
            "(DIR/mitdb/<record>.hea/.dat/.atr) or --segments-npz FILE.")
    cfg = SegmentConfig(missing_lead="skip")
    segments = segment_records(folder, list(SUBSET_RECORDS), cfg)
    import tempfile

    from ecgrepro.data.segments import save_segments

    with tempfile.TemporaryDirectory() as tmp:  # load_task reads a file: the one path
        path = Path(tmp) / "segments.npz"
        save_segments(path, segments)
        ds = load_task(path, MITDB, "oh2018", f"fold{args.fold}", args.n_folds,
                       args.fold_seed)
    return ds, f"records {','.join(SUBSET_RECORDS)} of {folder} (a subset)"


# --- arms -------------------------------------------------------------------------------

def make_adapter(framework, arch, protocol, loss, seed, threads):
    """The training loop's adapter for ``framework`` on the CPU: (adapter, flags)."""
    if framework == "torch":
        from ecgrepro.training import torch_fit

        return torch_fit.make_adapter(arch, protocol, loss, seed, "cpu", threads)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from ecgrepro.training import keras_fit

    return keras_fit.make_adapter(arch, protocol, loss, seed, "cpu", threads)


def epoch_unit(adapter, inputs, batch, epochs, seed):
    """``epochs`` epochs of reshuffled batches: the loop's epoch body, no evaluation."""
    rng = np.random.default_rng(seed)
    n = len(inputs.y_train)

    def unit():
        for _ in range(epochs):
            order = rng.permutation(n)
            for b in range(0, n, batch):
                idx = order[b : b + batch]
                adapter.train_batch(inputs.X_train[idx], inputs.Y_train[idx], inputs.w_train[idx])
    return unit


def batch_unit(adapter, inputs, batch, batches, seed):
    """``batches`` consecutive batches of a seeded permutation of the training part."""
    order = np.random.default_rng(seed).permutation(len(inputs.y_train))
    state = {"pos": 0}

    def unit():
        for _ in range(batches):
            if state["pos"] + batch > len(order):
                state["pos"] = 0
            idx = order[state["pos"] : state["pos"] + batch]
            state["pos"] += batch
            adapter.train_batch(inputs.X_train[idx], inputs.Y_train[idx], inputs.w_train[idx])
    return unit


def torch_kernels(unit) -> str:
    """Recurrent operators torch ran in one call of ``unit`` (torch.profiler names)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        unit()
    # Forward operators and custom Functions; autograd's own entries and backward
    # nodes repeat them.
    names = sorted({e.key for e in prof.key_averages()
                    if any(w in e.key.lower() for w in ("rnn", "lstm", "gru"))
                    and not e.key.startswith("autograd::") and "Backward" not in e.key})
    return "torch CPU: " + ("; ".join(names) or "no recurrent operator seen")


def keras_kernel(adapter) -> str:
    """What Keras runs for the recurrent layer: on CPU never cuDNN, a TF while loop."""
    import tensorflow as tf

    layers = [l for l in adapter.model.layers if l.__class__.__name__ in ("LSTM", "GRU")]
    gpu = bool(tf.config.list_physical_devices("GPU"))
    kinds = ", ".join(sorted({l.__class__.__name__ for l in layers})) or "no RNN layer"
    path = ("cuDNN if the layer's settings allow" if gpu
            else "generic tf.while_loop over time steps (cuDNN kernel is GPU-only)")
    return f"keras {kinds} on {adapter.device}: {path}"


def build_arms(args, log=print):
    """Every arm's unit callable, kernel note and unit-to-epoch scale, plus data notes."""
    from dataclasses import replace

    from ecgrepro.models.cnn_rnn import CNNRNNArch
    from ecgrepro.models.lstm_fcn import LSTMFCNArch
    from ecgrepro.training.loop import prepare_run

    arms, kernels, scales, notes = {}, {}, {}, {}
    frameworks = args.frameworks
    if not args.skip_ucr:
        ds = load_ucr_data(args)
        base = LSTMFCNArch(length=ds.length, n_classes=len(ds.classes),
                           lstm_units=args.lstm_units)
        for shuffle, model in ((True, "lstm_fcn"), (False, "lstm_fcn_noshuffle")):
            arch = replace(base, shuffle=shuffle)
            protocol, inputs, seeds = prepare_run(ds, arch, "karim2018", args.seed)
            for f in frameworks:
                adapter, _ = make_adapter(f, arch, protocol, inputs.loss,
                                          seeds["framework_seed"], args.threads)
                name = f"{model}/{f}"
                arms[name] = epoch_unit(adapter, inputs, protocol.batch_size,
                                         args.ucr_epochs, seeds["shuffle_seed"])
                scales[name] = 1.0 / args.ucr_epochs
                kernels[name] = torch_kernels(arms[name]) if f == "torch" else keras_kernel(adapter)
        notes["ucr"] = (f"{ds.name}: {len(ds.y_train)} training series of length {ds.length}; "
                        f"karim2018 batch 128; unit = {args.ucr_epochs} epochs")
    if not args.skip_mitdb:
        ds, source = load_mitdb_fold(args)
        for cell in ("lstm", "gru"):
            arch = CNNRNNArch(length=ds.length, n_classes=len(ds.classes), cell=cell,
                              units=args.cnn_units)
            protocol, inputs, seeds = prepare_run(ds, arch, "oh2018", args.seed)
            per_epoch = math.ceil(len(inputs.y_train) / protocol.batch_size)
            for f in frameworks:
                adapter, _ = make_adapter(f, arch, protocol, inputs.loss,
                                          seeds["framework_seed"], args.threads)
                name = f"cnn_{cell}/{f}"
                arms[name] = batch_unit(adapter, inputs, protocol.batch_size,
                                         args.mitdb_batches, seeds["shuffle_seed"])
                scales[name] = per_epoch / args.mitdb_batches
                kernels[name] = torch_kernels(arms[name]) if f == "torch" else keras_kernel(adapter)
        notes["mitdb"] = (f"oh2018 fold {args.fold} of {source}: {len(inputs.y_train)} training "
                          f"segments = {per_epoch} batches of 64 an epoch; unit = "
                          f"{args.mitdb_batches} batches, scaled to an epoch")
    for key, text in notes.items():
        log(f"{key}: {text}")
    return arms, kernels, scales, notes


def run(args, log=print) -> dict:
    """Prepare, time, judge, write; return the comparisons table and file paths."""
    from ecgrepro.provenance import collect_provenance, write_json

    out = Path(args.out)
    load_before = os.getloadavg()
    pin_threads(args.threads)
    arms, kernels, scales, notes = build_arms(args, log)
    log(f"{len(arms)} arms, {args.rounds} rounds after {args.warmup} warm-up call(s) each, "
        f"{args.threads} thread(s); load average before {load_before[0]:.2f}")
    rounds = tc.run_rounds(arms, args.rounds, args.warmup, log=log if args.verbose else None)
    judged = tc.keep_rounds(rounds, args.threads, args.tolerance)
    judged["seconds_reported"] = judged["wall_s"] * judged["arm"].map(scales)
    table = tc.compare(judged, comparisons(args.frameworks, not args.skip_ucr,
                                           not args.skip_mitdb),
                       args.threads, kernels, scales, seed=args.seed)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "comparisons.csv", index=False, float_format="%.6g")
    judged.to_csv(out / "rounds.csv", index=False, float_format="%.6g")
    extra = {
        "threads": args.threads, "rounds": args.rounds, "warmup": args.warmup,
        "tolerance": args.tolerance, "load_before": list(load_before),
        "load_after": list(os.getloadavg()), "cpu_count": os.cpu_count(),
        "data": notes, "kernels": kernels, "unit_to_epoch_scale": scales,
        "thread_settings": thread_settings(),
        "rule": "kept when wall * max(1, u_ref) <= (1 + tolerance) * cpu; "
                "see ecgrepro.tooling.timing_core",
    }
    write_json(out / "provenance.json", collect_provenance(seed=args.seed, extra=extra,
                                                              outdir=out))
    return {"table": table, "rounds": judged}


def pin_threads(threads: int) -> None:
    """Fix torch's and TF's thread pools before either runs anything."""
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    for setter in (tf.config.threading.set_intra_op_parallelism_threads,
                   tf.config.threading.set_inter_op_parallelism_threads):
        try:
            setter(threads)
        except RuntimeError:  # TF already initialised in this process
            pass


def thread_settings() -> dict:
    """Thread counts in force, for provenance."""
    import tensorflow as tf
    import torch

    return {
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "torch_mkldnn_enabled": bool(torch.backends.mkldnn.enabled),
        "torch_mkldnn_available": bool(torch.backends.mkldnn.is_available()),
        "tf_intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def _fmt(x: float) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.3f}"


def report_lines(table) -> list[str]:
    """One line per comparison, then the final ``name=value`` line."""
    lines = []
    for row in table.itertuples(index=False):
        lines.append(
            f"{row.comparison}: {row.numerator} {_fmt(row.median_num_s)} s (IQR "
            f"{_fmt(row.iqr_num_s)}) / {row.denominator} {_fmt(row.median_den_s)} s (IQR "
            f"{_fmt(row.iqr_den_s)}) = {_fmt(row.ratio)} [95% {_fmt(row.ratio_low)}, "
            f"{_fmt(row.ratio_high)}]; rounds kept {row.rounds_kept}, rejected "
            f"{row.rounds_rejected}")
        if row.rounds_kept == 0:
            lines.append("    every round rejected (wall time > CPU time + 10%: the machine "
                         "was busy); rounds.csv holds them all")
        if row.kernel_num or row.kernel_den:
            lines.append(f"    kernels: {row.kernel_num} | {row.kernel_den}")
    ratio = dict(zip(table["comparison"], table["ratio"]))
    lines.append(" ".join(f"{k}={_fmt(ratio.get(c, math.nan))}" for k, c in (
        ("shuffle_ratio_torch", "shuffle_torch"), ("shuffle_ratio_keras", "shuffle_keras"),
        ("gru_over_lstm_torch", "gru_over_lstm_torch"))))
    return lines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ecgrepro.perf timing", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-mirror", help="directory with ucr/<name>/*.tsv and mitdb/; "
                   "default resources/data")
    p.add_argument("--ucr-npz", help="prepared UCR dataset (instead of the mirror)")
    p.add_argument("--segments-npz", help="prepared MIT-BIH segments (instead of the mirror)")
    p.add_argument("--dataset", default="TwoLeadECG")
    p.add_argument("--out", default="results/timing")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--warmup", type=int, default=2, help="untimed calls of each arm first")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tolerance", type=float, default=tc.TOLERANCE,
                   help="reject a round whose wall time exceeds its CPU time by more")
    p.add_argument("--ucr-epochs", type=int, default=20, help="epochs per UCR unit")
    p.add_argument("--mitdb-batches", type=int, default=10, help="batches per MIT-BIH unit")
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--n-folds", type=int, default=10, help="oh2018 folds (config training)")
    p.add_argument("--fold-seed", type=int, default=0, help="seed of the oh2018 folds")
    p.add_argument("--lstm-units", type=int, default=8)
    p.add_argument("--cnn-units", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(FRAMEWORKS))
    p.add_argument("--skip-ucr", action="store_true")
    p.add_argument("--skip-mitdb", action="store_true")
    p.add_argument("--verbose", action="store_true", help="print every round")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = run(args)
    except EcgreproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in report_lines(result["table"]):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
