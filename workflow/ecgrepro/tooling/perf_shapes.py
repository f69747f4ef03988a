"""The step pairs ``python -m ecgrepro.perf lstm_fcn`` times beside its main one.

FCN on the main dataset's batch, and LSTM-FCN and FCN on a NonInvasiveFetalECGThorax-
sized batch (``--big-shape``, default 128 series of length 750, 42 classes: random
series of that shape, prepared by the karim2018 protocol like real data). Each pair is
a PyTorch and a Keras adapter of the training loop, built from the same description
and seed, with the batch they train on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

BIG_SHAPE = (128, 750, 42)  # NonInvasiveFetalECGThorax1/2: batch 128, length 750, 42 classes


@dataclass
class StepPair:
    """A PyTorch step and (unless skipped) the same step in Keras, on one batch."""

    name: str
    torch_step: Callable[[], Any]
    keras_step: Callable[[], Any] | None
    flops: int
    batch: tuple[int, int, int]  # series, length, classes


def random_dataset(n: int, length: int, n_classes: int, seed: int = 0):
    """A :class:`~ecgrepro.data.ucr.UCRDataset` of random walks, every class present."""
    import numpy as np

    from ecgrepro.data.ucr import UCRDataset

    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.normal(size=(n, length)).cumsum(axis=1)
    classes = np.array([str(c + 1) for c in range(n_classes)])
    return UCRDataset("Random", X, y, X[: n_classes].copy(), y[:n_classes].copy(), classes)


def step_flops(adapter, x, y, w) -> int:
    """FLOPs of one ``train_batch`` (``FlopCounterMode``: convolutions and matmuls)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        adapter.train_batch(x, y, w)
    return counter.get_total_flops()


def step_pair(name: str, arch, dataset, seed: int, threads: int, keras: bool,
              warmup: int) -> StepPair:
    """Build, warm up (Keras: trace) and FLOP-count one pair on ``dataset``'s first batch."""
    from ecgrepro.training import torch_fit
    from ecgrepro.training.loop import prepare_run

    protocol, inputs, seeds = prepare_run(dataset, arch, "karim2018", seed)
    batch = min(protocol.batch_size, len(inputs.y_train))
    x, y, w = inputs.X_train[:batch], inputs.Y_train[:batch], inputs.w_train[:batch]
    adapter, _ = torch_fit.make_adapter(arch, protocol, inputs.loss, seeds["framework_seed"],
                                        "cpu", threads)
    for _ in range(warmup):
        adapter.train_batch(x, y, w)
    flops = step_flops(adapter, x, y, w)
    keras_step = None
    if keras:
        from ecgrepro.training import keras_fit

        k_adapter, _ = keras_fit.make_adapter(arch, protocol, inputs.loss,
                                              seeds["framework_seed"], "cpu", threads)
        for _ in range(max(warmup, 1)):
            k_adapter.train_batch(x, y, w)

        def keras_step():
            k_adapter.train_batch(x, y, w)

    def torch_step():
        adapter.train_batch(x, y, w)

    return StepPair(name, torch_step, keras_step, flops, (batch, arch.length, arch.n_classes))


def extra_pairs(ds, args, keras: bool) -> list[StepPair]:
    """FCN on ``ds``, then LSTM-FCN and FCN on the ``--big-shape`` batch (unless 0)."""
    from ecgrepro.models.fcn import FCNArch
    from ecgrepro.models.lstm_fcn import LSTMFCNArch

    pairs = [step_pair("fcn", FCNArch(length=ds.X_train.shape[-1], n_classes=len(ds.classes)),
                       ds, args.seed, args.threads, keras, args.warmup)]
    n, length, n_classes = args.big_shape
    if n:
        big = random_dataset(n, length, n_classes, args.seed)
        warm = min(args.warmup, 2)  # seconds a step: two suffice
        pairs.append(step_pair(
            "big", LSTMFCNArch(length=length, n_classes=n_classes, lstm_units=args.lstm_units),
            big, args.seed, args.threads, keras, warm))
        pairs.append(step_pair("big_fcn", FCNArch(length=length, n_classes=n_classes), big,
                               args.seed, args.threads, keras, warm))
    return pairs


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"128,750,42"`` -> (series, length, classes); ``"0"`` skips the big shape."""
    parts = tuple(int(p) for p in text.split(","))
    if parts == (0,):
        return (0, 0, 0)
    if len(parts) != 3 or min(parts) < 1 or parts[2] < 2:
        raise ValueError(f"--big-shape wants SERIES,LENGTH,CLASSES (classes >= 2), got {text!r}")
    return parts
