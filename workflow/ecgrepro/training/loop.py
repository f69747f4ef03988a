"""The epoch loop and its bookkeeping, shared by both frameworks.

A framework file supplies an *adapter*: a built, compiled network that can train on one
batch, predict probabilities, save/restore its weights and set its learning rate. All
else (batch order, learning-rate schedule, checkpoint rules, validation and early
stopping, test evaluation, NaN detection, timing, progress logging, the returned
:class:`RunResult`) happens here, once, so both frameworks stop by the same rule.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Protocol as TypingProtocol

import numpy as np
import pandas as pd

from ecgrepro.errors import EcgreproError
from ecgrepro.training.common import (
    CheckpointTracker,
    EarlyStopping,
    Inputs,
    PlateauSchedule,
    Progress,
    TrainingDivergedError,
    derive_seeds,
    numpy_loss,
    prepare_inputs,
)
from ecgrepro.training.presets import RULES, Protocol, get_protocol
from ecgrepro.training.results import RunResult

__all__ = ["Adapter", "HISTORY_COLUMNS", "check_output_shape", "prepare_run", "run_protocol"]

HISTORY_COLUMNS = [
    "epoch", "loss", "accuracy", "lr", "test_loss", "test_accuracy", "seconds", "eval_seconds",
]
#: Added where a validation part exists: its unweighted loss and accuracy (computed by
#: ecgrepro from the probabilities, identically in both frameworks) and, under early
#: stopping, whether the rule stopped the run at that epoch (True on that row only).
VALIDATION_COLUMNS = ["val_loss", "val_accuracy"]
STOP_COLUMN = "stopped_early"
_LOG = logging.getLogger("ecgrepro.training")


class Adapter(TypingProtocol):
    """What the loop needs from a framework (see ``torch_fit`` and ``keras_fit``)."""

    framework: str
    device: str

    def train_batch(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
        """One optimiser step; return the batch's (loss, accuracy) before the step.

        ``y`` is one-hot, ``w`` per-sample loss weights; the loss is
        ``sum(w * loss) / batch_size`` (Keras's ``sum_over_batch_size``).
        """

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities in inference mode (no dropout, BN moving statistics)."""

    def get_state(self) -> Any:
        """A copy of all weights and BN statistics."""

    def set_state(self, state: Any) -> None:
        """Restore a copy made by :meth:`get_state`."""

    def get_lr(self) -> float: ...

    def set_lr(self, lr: float) -> None: ...

    def param_counts(self) -> dict[str, int]:
        """``total``, ``trainable``, ``non_trainable`` in Keras's convention."""


def prepare_run(dataset, arch, protocol, seed) -> tuple[Protocol, Inputs, dict]:
    """The framework-free start of ``fit_evaluate``: protocol, inputs, seeds, checks.

    ``protocol`` may be a preset name or a :class:`Protocol`.
    """
    if isinstance(protocol, str):
        protocol = get_protocol(protocol)
    inputs = prepare_inputs(dataset, protocol)
    if arch.length != inputs.X_train.shape[-1] or arch.n_classes != inputs.n_classes:
        raise EcgreproError(
            f"{dataset.name}: the network expects length {arch.length} and "
            f"{arch.n_classes} classes, the data have {inputs.X_train.shape[-1]} and "
            f"{inputs.n_classes}. Build the architecture from the dataset."
        )
    return protocol, inputs, derive_seeds(seed)


def check_output_shape(adapter: Adapter, inputs: Inputs, arch) -> None:
    """Refuse a network whose output is not (batch, n_classes), before any epoch.

    Probabilities of two training series in inference mode (no weights or statistics
    change), so a builder's mistake is named here in one line, not deep in the loss.

    Raises
    ------
    EcgreproError
        Naming the builder, the shape it returned and the shape expected.
    """
    from ecgrepro.models.registry import builder_name

    x = inputs.X_train[:2]
    expected = (len(x), arch.n_classes)
    builder = builder_name(type(arch), adapter.framework)
    what = (f"model {arch.name!r}: the {adapter.framework} network built by {builder}")
    try:
        got = tuple(np.shape(adapter.predict_proba(x)))
    except Exception as exc:  # a wrong layer size, say: name the builder, keep the cause
        raise EcgreproError(
            f"{what} fails on a batch of shape {tuple(x.shape)} (batch, channels, "
            f"length): {type(exc).__name__}: {exc}. Fix the builder."
        ) from exc
    if got != expected:
        raise EcgreproError(
            f"{what} returns shape {got} for a batch of shape {tuple(x.shape)} (batch, "
            f"channels, length); expected {expected} (batch, n_classes = "
            f"{arch.n_classes}, one output per class of the data). Fix the builder."
        )


def run_protocol(
    adapter: Adapter,
    inputs: Inputs,
    protocol: Protocol,
    *,
    dataset,
    arch,
    seeds: dict,
    determinism: dict,
    log=None,
    progress_seconds: float = 10.0,
    progress_epochs: int | None = None,
) -> RunResult:
    """Train ``adapter`` under ``protocol`` and evaluate every checkpoint rule.

    Progress lines (epoch, loss, lr, test accuracy, elapsed, ETA) go to ``log`` at the
    first and last epoch and every ``progress_seconds`` (or ``progress_epochs``).

    With a validation part (``inputs.X_val``) its loss and accuracy are computed after
    every epoch; under ``protocol.early_stopping_patience`` they stop training (Keras
    ``EarlyStopping`` semantics, :class:`~ecgrepro.training.common.EarlyStopping`) and
    the ``best_val`` checkpoint holds the restored best weights. ``epochs`` is then the
    maximum.

    Raises
    ------
    TrainingDivergedError
        When an epoch's training loss is NaN or infinite; ``.history`` holds every
        epoch up to and including that one.
    """
    log = log or _LOG.info
    label = f"{dataset.name}/{arch.name}/{adapter.framework}/seed{seeds['seed']}/{protocol.name}"
    rng = np.random.default_rng(seeds["shuffle_seed"])
    schedule = (
        PlateauSchedule(
            protocol.plateau_factor,
            protocol.plateau_patience,
            protocol.plateau_min_lr,
            protocol.plateau_min_delta,
            protocol.plateau_cooldown,
        )
        if protocol.plateau_factor
        else None
    )
    # the warm-up exists only with early stopping (without, it is no part of a run's
    # identity: ecgrepro.store.effective_protocol)
    warm_up = protocol.early_stopping_start_epoch if protocol.early_stopping_patience else 0
    validating = inputs.X_val is not None
    stopper = (
        EarlyStopping(protocol.early_stopping_patience, protocol.early_stopping_min_delta,
                      protocol.early_stopping_start_epoch)
        if protocol.early_stopping_patience is not None
        else None
    )
    if stopper is not None and not validating:
        raise EcgreproError(
            f"{dataset.name}: protocol {protocol.name} stops early on a validation part, "
            "and the inputs have none (see ecgrepro.data.splits.carve_validation)."
        )
    columns = HISTORY_COLUMNS + (VALIDATION_COLUMNS if validating else []) + (
        [STOP_COLUMN] if stopper is not None else []
    )
    tracker = CheckpointTracker(protocol.early_stopping_min_delta,
                                protocol.early_stopping_start_epoch)
    snapshots, rows = {}, []
    progress = Progress(protocol.epochs, label, log, progress_seconds, progress_epochs)
    lr = float(np.float32(protocol.learning_rate))  # Keras keeps the rate in float32
    adapter.set_lr(lr)
    n = len(inputs.y_train)
    budget = (
        f"at most {protocol.epochs} epochs (early stopping, patience "
        f"{protocol.early_stopping_patience})" if stopper else f"{protocol.epochs} epochs"
    )
    val = f"{len(inputs.y_val)} validation / " if validating else ""
    log(
        f"{label}: {n} train / {val}{len(inputs.y_test)} test series, loss {inputs.loss}, "
        f"{budget} on {adapter.device}, {adapter.param_counts()['total']:,} params"
    )
    check_output_shape(adapter, inputs, arch)

    fit_start = time.perf_counter()
    for epoch in range(1, protocol.epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(n) if protocol.shuffle else np.arange(n)
        loss_sum = correct_sum = 0.0
        for b in range(0, n, protocol.batch_size):
            idx = order[b : b + protocol.batch_size]
            loss_b, acc_b = adapter.train_batch(
                inputs.X_train[idx], inputs.Y_train[idx], inputs.w_train[idx]
            )
            loss_sum += loss_b * len(idx)  # Keras averages batch losses by batch size
            correct_sum += acc_b * len(idx)
        loss, accuracy = loss_sum / n, correct_sum / n
        seconds = time.perf_counter() - start

        test_loss = test_acc = math.nan
        eval_seconds = 0.0
        evaluate = protocol.test_every and epoch % protocol.test_every == 0
        if evaluate and math.isfinite(loss):
            start = time.perf_counter()
            proba = adapter.predict_proba(inputs.X_test)
            eval_seconds = time.perf_counter() - start
            test_acc = float(np.mean(proba.argmax(axis=1) == inputs.y_test))
            test_loss = numpy_loss(inputs.loss, proba, inputs.y_test)
        row = dict(zip(HISTORY_COLUMNS, (
            epoch, loss, accuracy, lr, test_loss, test_acc, seconds, eval_seconds,
        )))
        val_loss = None
        if validating:
            val_loss = val_acc = math.nan
            if math.isfinite(loss):
                start = time.perf_counter()
                proba = adapter.predict_proba(inputs.X_val)
                row["eval_seconds"] += time.perf_counter() - start
                val_acc = float(np.mean(proba.argmax(axis=1) == inputs.y_val))
                val_loss = numpy_loss(inputs.loss, proba, inputs.y_val)
            row.update(val_loss=val_loss, val_accuracy=val_acc)
        if stopper is not None:
            row[STOP_COLUMN] = False
        rows.append(row)
        if not math.isfinite(loss):
            raise TrainingDivergedError(
                f"{dataset.name}: the training loss became {loss} at epoch {epoch} of "
                f"{protocol.epochs} ({adapter.framework}, seed {seeds['seed']}, protocol "
                f"{protocol.name}, lr {lr:.3g}); the run stopped. The history up to this "
                "epoch is attached to this error as .history. Check the inputs for "
                "extreme values or lower the learning rate.",
                history=pd.DataFrame(rows, columns=columns),
                epoch=epoch,
            )
        # The test accuracy feeds only the best_test rule, never the schedule or the stop.
        for rule in tracker.update(epoch, loss, test_acc if evaluate else None, val_loss):
            snapshots[rule] = adapter.get_state()
        # Like early stopping, the schedule sits out its warm-up (a plateau near the
        # start is not the one it is for); karim2018 has none.
        if schedule is not None and epoch > warm_up:
            watched = val_loss if protocol.plateau_monitor == "val_loss" else loss
            new_lr = schedule.step(watched, lr)
            if new_lr != lr:
                adapter.set_lr(new_lr)
                lr = new_lr
        stop = stopper is not None and stopper.step(epoch, val_loss)
        progress.update(epoch, loss, rows[-1]["lr"], test_acc, final=stop, val_loss=val_loss)
        if stop:
            row[STOP_COLUMN] = True
            log(
                f"{label}: stopped early at epoch {epoch} of at most {protocol.epochs}: "
                f"no lower validation loss for {protocol.early_stopping_patience} epoch(s); "
                f"best epoch {stopper.best_epoch} (val_loss {stopper.best:.5g}) restored"
            )
            break
    fit_seconds = time.perf_counter() - fit_start

    snapshots["last"] = adapter.get_state()
    if validating and tracker.epochs["best_val"] is None:
        # The run ended inside the unmonitored warm-up (epochs <= start epoch): as
        # Keras, which then restores nothing, the best_val checkpoint is the last epoch.
        tracker.epochs["best_val"], snapshots["best_val"] = epoch, snapshots["last"]
    history = pd.DataFrame(rows, columns=columns)
    predictions, accuracy_by_rule, predict_seconds = [], {}, math.nan
    for rule in RULES:
        if tracker.epochs[rule] is None:
            accuracy_by_rule[rule] = None
            continue
        adapter.set_state(snapshots[rule])
        start = time.perf_counter()
        proba = adapter.predict_proba(inputs.X_test)
        if rule == "last":
            predict_seconds = time.perf_counter() - start
        predictions.append(
            _prediction_frame(rule, proba, inputs.y_test, dataset.classes, inputs.test_records)
        )
        accuracy_by_rule[rule] = float(np.mean(proba.argmax(axis=1) == inputs.y_test))
    # Leave the adapter as Keras's restore_best_weights would: at the best epoch.
    adapter.set_state(snapshots["best_val" if stopper is not None else "last"])

    train_s = history["seconds"].to_numpy()
    steady = train_s[1:] if len(train_s) > 1 else train_s  # epoch 1 includes warm-up
    metrics = {
        "dataset": dataset.name,
        "model": arch.name,
        "framework": adapter.framework,
        "device": adapter.device,
        "protocol": protocol.name,
        "seed": seeds["seed"],
        "checkpoint_rule": protocol.checkpoint,
        "test_set_selection": protocol.selects_on_test,
        "accuracy": accuracy_by_rule[protocol.checkpoint],
        "accuracy_by_rule": accuracy_by_rule,
        "epoch_by_rule": dict(tracker.epochs),
        **{f"accuracy_{r}": accuracy_by_rule[r] for r in RULES},
        **{f"epoch_{r}": tracker.epochs[r] for r in RULES},
        "epochs": protocol.epochs,
        "epochs_run": int(len(history)),
        "early_stopping": _early_stopping_facts(protocol, stopper, tracker, inputs, epoch),
        "n_val": int(len(inputs.y_val)) if validating else 0,
        "final_lr": lr,
        "min_train_loss": tracker.best_loss,
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "seconds_per_epoch": float(np.mean(steady)),
        "first_epoch_seconds": float(train_s[0]),
        "eval_seconds_per_epoch": float(history["eval_seconds"].mean()),
        **{f"n_params{s}": v for s, v in _suffixed(adapter.param_counts()).items()},
        "loss": inputs.loss,
        "class_weights": None if inputs.class_weights is None else inputs.class_weights.tolist(),
        "n_train": int(n),
        "n_test": int(len(inputs.y_test)),
        "arch": arch.to_dict(),
        "protocol_params": protocol.to_dict(),
    }
    determinism = dict(determinism, **seeds)
    log(
        f"{label}: done in {fit_seconds:.1f} s; test accuracy "
        + ", ".join(f"{r} {a:.4f}" for r, a in accuracy_by_rule.items() if a is not None)
    )
    return RunResult(history, pd.concat(predictions, ignore_index=True), metrics, determinism)


def _early_stopping_facts(protocol, stopper, tracker, inputs, last_epoch) -> dict | None:
    """metrics.json's ``early_stopping`` record (None when the protocol has none)."""
    if stopper is None:
        return None
    return {
        "monitor": "val_loss",
        "patience": int(protocol.early_stopping_patience),
        "min_delta": float(protocol.early_stopping_min_delta),
        "start_epoch": int(protocol.early_stopping_start_epoch),
        "max_epochs": int(protocol.epochs),
        "best_epoch": tracker.epochs["best_val"],
        "best_val_loss": None if stopper.best_epoch is None else float(stopper.best),
        "stopped_epoch": int(last_epoch),
        "stopped_early": stopper.stopped_epoch is not None,
        "restored": "best_val",
        "validation": inputs.validation or protocol.validation_text,
        "n_val": int(len(inputs.y_val)),
    }


def _suffixed(counts: dict[str, int]) -> dict[str, int]:
    return {"" if k == "total" else f"_{k}": int(v) for k, v in counts.items()}


def _prediction_frame(rule, proba, y_true, classes, records=None) -> pd.DataFrame:
    labels = np.asarray(classes).astype(str)
    frame = pd.DataFrame(
        {
            "checkpoint": rule,
            "case_id": np.arange(len(y_true)),
            "y_true": labels[y_true],
            "y_pred": labels[proba.argmax(axis=1)],
        }
    )
    if records is not None:  # MIT-BIH: per-record (AAMI EC57 style) metrics need it
        frame.insert(2, "record", np.asarray(records).astype(str))
    for j, lab in enumerate(labels):
        frame[f"proba_{lab}"] = proba[:, j].astype(np.float64)
    return frame
