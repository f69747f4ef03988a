"""Framework-free training helpers: inputs, class weights, seeds, LR schedule, checkpoints.

Everything here is shared by the PyTorch and Keras loops, so a difference between the
two frameworks can only come from the framework files.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecgrepro.errors import EcgreproError
from ecgrepro.training.presets import RULES, Protocol, resolve_loss

__all__ = [
    "CheckpointTracker",
    "EarlyStopping",
    "Inputs",
    "PlateauSchedule",
    "Progress",
    "TrainingDivergedError",
    "balanced_class_weights",
    "derive_seeds",
    "numpy_loss",
    "prepare_inputs",
    "select_epochs",
    "z_normalise",
]

PROBA_CLIP = 1e-7  # Keras's backend.epsilon(), used where losses read probabilities
PREDICT_BATCH = 128  # inference batch, as Karim et al.'s evaluate(); fastest on 1 CPU thread


class TrainingDivergedError(EcgreproError):
    """The training loss became NaN or infinite; the history so far is attached.

    Attributes
    ----------
    history : pandas.DataFrame
        One row per finished epoch, the diverged one last, ready to be written.
    epoch : int
        The epoch whose loss was not finite.
    """

    def __init__(self, message: str, history: pd.DataFrame, epoch: int):
        super().__init__(message)
        self.history = history
        self.epoch = epoch


def z_normalise(X: np.ndarray) -> np.ndarray:
    """Per-series ``(x - mean) / (std + 1e-8)``, population std, as Karim et al.'s code."""
    mean = X.mean(axis=-1, keepdims=True)
    return (X - mean) / (X.std(axis=-1, keepdims=True) + 1e-8)


def balanced_class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """``n / (n_classes * count_c)`` per class code, as Karim et al. and sklearn."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0).tolist()
        raise EcgreproError(
            f"class codes {missing} have no training series; balanced class weights "
            "are undefined. Check the dataset split."
        )
    return len(y) / (n_classes * counts)


def derive_seeds(seed: int) -> dict[str, int]:
    """Split one run seed into independent streams (framework init/dropout, batch order).

    ``numpy.random.SeedSequence`` spawning keeps the streams independent, and the same
    run seed gives the same batch order in both frameworks.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    framework, order = np.random.SeedSequence(int(seed)).spawn(2)
    return {
        "seed": int(seed),
        "framework_seed": int(framework.generate_state(1)[0]),
        "shuffle_seed": int(order.generate_state(1)[0]),
    }


@dataclass(frozen=True)
class Inputs:
    """Arrays as both frameworks consume them.

    ``X_*`` are float32 of shape ``(n, 1, T)`` (one channel, Karim's layout);
    ``Y_train`` one-hot float32; ``w_train`` per-sample loss weights (ones without
    class weights). ``X_val``/``y_val``: the validation part carved from the training
    data (None without one); ``validation`` says how it was carved; ``test_records``
    the record of every test case (MIT-BIH; None for UCR).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    Y_train: np.ndarray
    w_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    class_weights: np.ndarray | None
    loss: str
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    validation: str = ""
    test_records: np.ndarray | None = None


def prepare_inputs(dataset, protocol: Protocol) -> Inputs:
    """Turn a :class:`~ecgrepro.data.ucr.UCRDataset` into :class:`Inputs`.

    A validation part comes from the dataset (``X_val``/``y_val`` of a
    :class:`~ecgrepro.data.splits.SplitDataset`), never from here: where it is carved
    depends on the data (records, folds), so :func:`ecgrepro.runs.load_task` does it.

    Raises
    ------
    EcgreproError
        When a series holds NaN or infinite values (e.g. NaN-padded unequal-length
        series) or overflows float32, which would otherwise surface as a NaN loss; or
        when the protocol needs a validation part and the dataset has none.
    """
    n_classes = len(dataset.classes)
    has_val = getattr(dataset, "X_val", None) is not None
    if protocol.has_validation and not has_val:
        raise EcgreproError(
            f"{dataset.name}: protocol {protocol.name} needs a validation part "
            f"({protocol.validation_text}), and the dataset has none. Carve it with "
            "ecgrepro.data.splits.carve_validation (runs.load_task does), or set "
            "early_stopping_patience, validation_fraction and validation_records to null."
        )
    arrays = {}
    for split in ("train", "val", "test") if has_val else ("train", "test"):
        X = np.asarray(getattr(dataset, f"X_{split}"), dtype=np.float64)
        if protocol.z_normalise:
            X = z_normalise(X)
        with np.errstate(over="ignore"):
            X = X[:, None, :].astype(np.float32)
        bad = ~np.isfinite(X).all(axis=(1, 2))
        if bad.any():
            raise EcgreproError(
                f"{dataset.name}: {int(bad.sum())} {split} series contain NaN, inf or "
                f"values beyond float32 (first index {int(np.flatnonzero(bad)[0])}); the "
                "networks need equal-length, complete, finite series."
            )
        arrays[split] = X
    y_train = np.asarray(dataset.y_train, dtype=np.int64)
    weights = (
        balanced_class_weights(y_train, n_classes)
        if protocol.class_weight == "balanced"
        else None
    )
    w = weights[y_train] if weights is not None else np.ones(len(y_train))
    return Inputs(
        X_train=arrays["train"],
        y_train=y_train,
        Y_train=np.eye(n_classes, dtype=np.float32)[y_train],
        w_train=w.astype(np.float32),
        X_test=arrays["test"],
        y_test=np.asarray(dataset.y_test, dtype=np.int64),
        n_classes=n_classes,
        class_weights=weights,
        loss=resolve_loss(protocol.loss, n_classes),
        X_val=arrays.get("val"),
        y_val=np.asarray(dataset.y_val, dtype=np.int64) if has_val else None,
        validation=getattr(dataset, "validation", "") if has_val else "",
        test_records=getattr(dataset, "test_records", None),
    )


def numpy_loss(loss: str, proba: np.ndarray, y: np.ndarray) -> float:
    """Unweighted mean loss from probabilities, for the test-set curve.

    Computed by ecgrepro, identically for both frameworks, from the float32
    probabilities with Keras 2's clipping; for ``binary_crossentropy_keras3`` (which
    needs logits) the probability-based BCE is reported.
    """
    p = np.clip(proba.astype(np.float64), PROBA_CLIP, 1 - PROBA_CLIP)
    onehot = np.eye(proba.shape[1])[y]
    if loss == "categorical_crossentropy":
        return float(-np.mean(np.log(p[np.arange(len(y)), y])))
    bce = onehot * np.log(p) + (1 - onehot) * np.log(1 - p)
    return float(-np.mean(bce.mean(axis=1)))


class PlateauSchedule:
    """ReduceLROnPlateau in ``mode="min"`` with Keras 3's exact semantics.

    An epoch improves when ``current < best - min_delta`` (absolute delta). After
    ``patience`` epochs without improvement the rate becomes
    ``max(lr * factor, min_lr)`` if ``lr > float32(min_lr)``; the wait counter resets
    only when the rate actually changed. Rates are rounded to float32, as Keras stores
    them in a float32 variable.
    """

    def __init__(self, factor, patience, min_lr, min_delta=1e-4, cooldown=0):
        self.factor, self.patience, self.min_lr = factor, patience, min_lr
        self.min_delta, self.cooldown = abs(min_delta), cooldown
        self.best = None
        self.wait = self.cooldown_counter = 0

    def step(self, current: float, lr: float) -> float:
        """Return the learning rate for the next epoch given this epoch's loss."""
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.best is None or current < self.best - self.min_delta:
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience and lr > np.float32(self.min_lr):
                lr = float(np.float32(max(lr * self.factor, self.min_lr)))
                self.cooldown_counter, self.wait = self.cooldown, 0
        return lr


class EarlyStopping:
    """Keras ``EarlyStopping(monitor="val_loss", mode="min")`` semantics, framework-free.

    An epoch improves when ``val_loss < best - min_delta`` (absolute delta; NaN never
    improves). After ``patience`` epochs in a row without improvement training stops;
    the caller restores the weights of :attr:`best_epoch` (``restore_best_weights``),
    which :class:`CheckpointTracker`'s ``best_val`` rule keeps by the same test. The
    first ``start_epoch`` epochs are a warm-up that is not monitored at all (Keras's
    ``start_from_epoch``): they can neither stop the run nor be its best epoch.
    """

    def __init__(self, patience: int, min_delta: float = 0.0, start_epoch: int = 0):
        self.patience, self.min_delta = int(patience), abs(min_delta)
        self.start_epoch = int(start_epoch)
        self.best, self.best_epoch, self.wait = math.inf, None, 0
        self.stopped_epoch = None

    def step(self, epoch: int, val_loss: float) -> bool:
        """Record one epoch's (1-based) validation loss; True when training must stop now."""
        if epoch <= self.start_epoch:
            return False
        self.wait += 1
        if val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = val_loss, epoch, 0
            return False
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False


class CheckpointTracker:
    """Which epoch each checkpoint rule keeps, with Keras ModelCheckpoint semantics.

    ``min_train_loss``: strictly lower training loss than any earlier epoch;
    ``best_test``: strictly higher test accuracy (epochs without a test evaluation
    are skipped); ``best_val``: validation loss lower than the best so far by more
    than ``val_min_delta``, from epoch ``val_start_epoch + 1`` on (:class:`EarlyStopping`'s
    test, so the two agree). Ties keep the earliest epoch. ``last`` is always the
    latest epoch.
    """

    def __init__(self, val_min_delta: float = 0.0, val_start_epoch: int = 0):
        self.best_loss = math.inf
        self.best_test = -math.inf
        self.best_val, self.val_min_delta = math.inf, abs(val_min_delta)
        self.val_start_epoch = int(val_start_epoch)
        self.epochs = {"last": None, "min_train_loss": None, "best_test": None,
                       "best_val": None}

    def update(self, epoch: int, loss: float, test_accuracy: float | None = None,
               val_loss: float | None = None) -> list[str]:
        """Record one epoch; return the rules (besides ``last``) that moved to it."""
        moved = []
        self.epochs["last"] = epoch
        if loss < self.best_loss:
            self.best_loss = loss
            self.epochs["min_train_loss"] = epoch
            moved.append("min_train_loss")
        if test_accuracy is not None and not np.isnan(test_accuracy):
            if test_accuracy > self.best_test:
                self.best_test = test_accuracy
                self.epochs["best_test"] = epoch
                moved.append("best_test")
        if (val_loss is not None and epoch > self.val_start_epoch
                and val_loss < self.best_val - self.val_min_delta):
            self.best_val = val_loss
            self.epochs["best_val"] = epoch
            moved.append("best_val")
        return moved


def select_epochs(history: pd.DataFrame, val_min_delta: float = 0.0,
                  val_start_epoch: int = 0) -> dict[str, int | None]:
    """Epoch chosen by each rule in ``RULES`` for a finished history."""
    tracker = CheckpointTracker(val_min_delta, val_start_epoch)
    test = history["test_accuracy"] if "test_accuracy" in history else None
    val = history["val_loss"] if "val_loss" in history else None
    for i, row in enumerate(history.itertuples(index=False)):
        tracker.update(int(row.epoch), float(row.loss), None if test is None else test.iloc[i],
                       None if val is None else float(val.iloc[i]))
    return {rule: tracker.epochs[rule] for rule in RULES}


class Progress:
    """Log progress every ``every_seconds`` (or ``every_epochs``), plus first and last epoch."""

    def __init__(self, total: int, label: str, log, every_seconds=10.0, every_epochs=None):
        self.total, self.label, self.log = total, label, log
        self.every_seconds, self.every_epochs = every_seconds, every_epochs
        self.start = self.last = time.perf_counter()

    def update(self, epoch: int, loss: float, lr: float, test_accuracy=None,
               final: bool = False, val_loss=None) -> None:
        now = time.perf_counter()
        due = (
            final
            or epoch in (1, self.total)
            or now - self.last >= self.every_seconds
            or (self.every_epochs and epoch % self.every_epochs == 0)
        )
        if not due:
            return
        self.last = now
        elapsed = now - self.start
        eta = 0.0 if final else elapsed / epoch * (self.total - epoch)
        test = "" if test_accuracy is None or np.isnan(test_accuracy) else (
            f" test_acc {test_accuracy:.4f}"
        )
        if val_loss is not None and not np.isnan(val_loss):
            test = f" val_loss {val_loss:.5g}{test}"
        self.log(
            f"{self.label} epoch {epoch}/{self.total} loss {loss:.5g} lr {lr:.3g}{test} "
            f"elapsed {_hms(elapsed)} ETA {_hms(eta)}"
        )


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"
