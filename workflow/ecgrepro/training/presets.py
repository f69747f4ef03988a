"""Training protocols as data: what the published runs did, one frozen record each.

``PRESETS`` is the single source the config mirrors. A protocol names the rule that picks
the reported checkpoint (``checkpoint``); every run nevertheless records the test
accuracy under all rules it can (last epoch, lowest training loss, best test epoch,
lowest validation loss), so honest and test-selected numbers come from the same run.

A protocol's :attr:`Protocol.description` (written to every run's metrics.json, read by
the paper) is derived from its fields, so it always says what a run actually did,
overrides included; only :attr:`Protocol.source` is typed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

__all__ = ["LOSSES", "PRESETS", "RULES", "Protocol", "get_protocol", "resolve_loss"]

#: Checkpoint rules a run can report. ``best_test`` selects on the test set;
#: ``best_val`` (lowest validation loss) on a part carved from the training data.
RULES = ("last", "min_train_loss", "best_test", "best_val")

#: Losses the training loops implement identically in both frameworks.
#: ``binary_crossentropy`` is the Keras 2 formula on the softmax *probabilities*
#: (clipped to [1e-7, 1-1e-7], mean over the one-hot columns; equal to categorical CE
#: for two classes up to the clipping). ``binary_crossentropy_keras3`` is what Keras
#: >= 2.7 and Keras 3 (TF backend) silently compute for ``loss="binary_crossentropy"``
#: after a softmax layer: a sigmoid BCE on the pre-softmax logits (the activation
#: caches them as ``_keras_logits``); kept for a sensitivity check only.
LOSSES = ("categorical_crossentropy", "binary_crossentropy", "binary_crossentropy_keras3")


@dataclass(frozen=True)
class Protocol:
    """One training protocol.

    Parameters
    ----------
    name : str
        Preset name.
    epochs, batch_size : int
        Maximum epochs (all of them without early stopping) and mini-batch size; the
        last batch may be smaller.
    learning_rate : float
        Initial Adam learning rate (Keras Adam: beta 0.9/0.999, epsilon 1e-7 added to
        the un-bias-corrected sqrt(v); mirrored exactly in PyTorch).
    adam_epsilon : float
        Keras's Adam epsilon.
    loss : str
        One of ``LOSSES``. A binary loss on more than two classes falls back to
        categorical cross-entropy (see :func:`resolve_loss`).
    class_weight : {"balanced", None}
        ``"balanced"``: weight ``n / (n_classes * count_c)``, Karim et al.'s formula and
        sklearn's ``compute_class_weight("balanced")``; Keras multiplies each sample's
        loss by it and divides by the batch size (not by the sum of weights).
    plateau_factor : float or None
        ReduceLROnPlateau with Keras semantics (absolute ``plateau_min_delta``,
        ``patience`` epochs, ``min_lr``) on the loss ``plateau_monitor`` names; None
        disables it.
    plateau_monitor : {"loss", "val_loss"}
        The loss the schedule watches: the training loss (Karim et al.) or the
        validation loss (needs a validation part). Under early stopping the schedule
        is idle during its ``early_stopping_start_epoch`` warm-up too.
    checkpoint : str
        The rule whose accuracy the protocol reports (one of ``RULES``).
    test_every : int
        Evaluate the test set every ``test_every`` epochs (0: never). Results are
        logged and drive only the ``best_test`` rule, never training, the learning rate
        or the other checkpoints. ``best_test`` needs ``test_every == 1``.
    z_normalise : bool
        Per-sample z-normalisation ``(x - mean) / (std + 1e-8)`` (population std), as
        ``normalize_timeseries=True`` in Karim et al.'s code. UCR data already are.
    shuffle : bool
        Reshuffle the training set every epoch (seeded; the same order in both
        frameworks for the same seed).
    early_stopping_patience : int or None
        Stop after this many epochs without a lower validation loss (Keras
        ``EarlyStopping(monitor="val_loss", restore_best_weights=True)`` semantics: an
        epoch improves when ``val_loss < best - early_stopping_min_delta``); the weights
        of the best epoch are restored, i.e. the ``best_val`` checkpoint. None: no early
        stopping. Needs a validation part.
    early_stopping_min_delta : float
        Absolute improvement the validation loss must make to count.
    early_stopping_start_epoch : int
        Warm-up epochs not monitored at all (Keras ``start_from_epoch``): the run lasts
        at least ``start + patience`` epochs (unless ``epochs`` is smaller) and its best
        epoch is a later one. Guards against a stop on an early loss plateau.
    validation_fraction : float or None
        Carve a validation part of this share out of the training data, stratified by
        class and seeded by the split, so the same for every run seed
        (:func:`ecgrepro.data.splits.carve_validation`). Never the test set.
    validation_records : tuple of str or None
        Hold out these whole records of the training data instead (MIT-BIH,
        inter-patient protocols: no patient on both sides). Takes precedence over
        ``validation_fraction``.
    source : str
        Where the protocol comes from and what it does on purpose; the settings
        themselves are described from the fields (:attr:`description`).
    """

    name: str
    epochs: int
    batch_size: int = 128
    learning_rate: float = 1e-3
    adam_epsilon: float = 1e-7
    loss: str = "categorical_crossentropy"
    class_weight: str | None = None
    plateau_factor: float | None = None
    plateau_patience: int = 100
    plateau_min_lr: float = 1e-4
    plateau_min_delta: float = 1e-4
    plateau_cooldown: int = 0
    plateau_monitor: str = "loss"
    checkpoint: str = "min_train_loss"
    test_every: int = 1
    z_normalise: bool = False
    shuffle: bool = True
    early_stopping_patience: int | None = None
    early_stopping_min_delta: float = 0.0
    early_stopping_start_epoch: int = 0
    validation_fraction: float | None = None
    validation_records: tuple[str, ...] | None = None
    source: str = ""

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.checkpoint not in RULES:
            raise ValueError(f"checkpoint must be one of {RULES}, got {self.checkpoint!r}")
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.test_every < 0:
            raise ValueError("epochs >= 1, batch_size >= 1 and test_every >= 0 are required")
        if self.checkpoint == "best_test" and self.test_every != 1:
            raise ValueError("checkpoint='best_test' needs test_every=1")
        if self.plateau_factor is not None and not 0 < self.plateau_factor < 1:
            raise ValueError(f"plateau_factor must be in (0, 1), got {self.plateau_factor}")
        if self.plateau_monitor not in ("loss", "val_loss"):
            raise ValueError(
                f"plateau_monitor must be 'loss' or 'val_loss', got {self.plateau_monitor!r}"
            )
        if self.validation_fraction is not None and not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be in (0, 1) or None, got {self.validation_fraction}"
            )
        if self.validation_records is not None:
            # JSON/YAML give lists (and maybe ints): one canonical, hashable form.
            object.__setattr__(
                self, "validation_records", tuple(str(r) for r in self.validation_records)
            )
        if self.early_stopping_patience is not None:
            if self.early_stopping_patience < 1 or self.early_stopping_start_epoch < 0:
                raise ValueError(
                    f"early_stopping_patience must be >= 1 or None and "
                    f"early_stopping_start_epoch >= 0, got {self.early_stopping_patience} "
                    f"and {self.early_stopping_start_epoch}"
                )
            if not self.has_validation:
                raise ValueError(
                    "early stopping needs a validation part: set validation_fraction or "
                    "validation_records"
                )
        if self.plateau_factor and self.plateau_monitor == "val_loss" and not self.has_validation:
            raise ValueError("plateau_monitor='val_loss' needs a validation part")
        if self.checkpoint == "best_val" and not self.has_validation:
            raise ValueError("checkpoint='best_val' needs a validation part")

    @property
    def selects_on_test(self) -> bool:
        """True when the reported checkpoint is chosen with the test set."""
        return self.checkpoint == "best_test"

    @property
    def has_validation(self) -> bool:
        """True when the protocol carves a validation part out of the training data."""
        return bool(self.validation_records) or self.validation_fraction is not None

    @property
    def validation_text(self) -> str:
        """How the validation part is carved, in words ('' without one)."""
        if self.validation_records:
            return (
                f"whole training records {', '.join(self.validation_records)} held out "
                "(no patient in both)"
            )
        if self.validation_fraction is not None:
            return (
                f"{self.validation_fraction:.0%} of each training split, stratified by "
                "class, seeded by the split (the same for every run seed)"
            )
        return ""

    @property
    def description(self) -> str:
        """The source, then the settings in force, in words (derived, never typed)."""
        return f"{self.source} {describe_settings(self)}".strip()

    def to_dict(self) -> dict:
        """Every setting, ``source`` folded into ``description`` (which begins with it)."""
        fields = asdict(self)
        del fields["source"]
        return dict(fields, description=self.description)


_RULE_TEXT = {
    "last": "the last epoch",
    "min_train_loss": "the epoch of lowest training loss",
    "best_test": "the epoch of highest test accuracy (TEST-SET SELECTION)",
    "best_val": "the epoch of lowest validation loss",
}


def _n(k: int, noun: str) -> str:
    return f"{k} {noun}" + ("" if k == 1 else "s")


def describe_settings(p: Protocol) -> str:
    """The settings of a protocol as sentences, for run records and the paper."""
    loss = p.loss.replace("_", " ")
    parts = [
        f"Adam (learning rate {p.learning_rate:g}), batch {p.batch_size}, {loss}"
        + (" with balanced class weights" if p.class_weight == "balanced" else "")
        + ("" if p.shuffle else ", no shuffling")
        + (", per-sample z-normalisation" if p.z_normalise else "")
        + "."
    ]
    if p.plateau_factor:
        watched = "validation" if p.plateau_monitor == "val_loss" else "training"
        warm = (" after the warm-up" if p.early_stopping_patience is not None
                and p.early_stopping_start_epoch else "")
        parts.append(
            f"ReduceLROnPlateau on the {watched} loss (factor {p.plateau_factor:.3g}, "
            f"patience {p.plateau_patience}, min_lr {p.plateau_min_lr:g}){warm}."
        )
    if p.early_stopping_patience is not None:
        delta = (
            f", min_delta {p.early_stopping_min_delta:g}" if p.early_stopping_min_delta else ""
        )
        warm = (
            f" after a warm-up of {_n(p.early_stopping_start_epoch, 'epoch')} that is not "
            "monitored" if p.early_stopping_start_epoch else ""
        )
        parts.append(
            f"At most {p.epochs} epochs, stopped early when the validation loss has not "
            f"improved for {_n(p.early_stopping_patience, 'epoch')}{delta}{warm}; the "
            "weights of the lowest validation loss are restored. Validation: "
            f"{p.validation_text}."
        )
    else:
        parts.append(f"{p.epochs} epochs, no early stopping.")
        if p.has_validation:
            parts.append(f"Validation (monitored only): {p.validation_text}.")
    parts.append(f"Reported: {_RULE_TEXT[p.checkpoint]}.")
    if p.test_every:
        each = "every epoch" if p.test_every == 1 else f"every {p.test_every} epochs"
        steer = "" if p.selects_on_test else " for the curves only, never steering training"
        parts.append(f"Test set evaluated {each}{steer}.")
    return " ".join(parts)


PRESETS: dict[str, Protocol] = {
    "karim2018": Protocol(
        name="karim2018",
        epochs=2000,
        batch_size=128,
        learning_rate=1e-3,
        loss="categorical_crossentropy",
        class_weight="balanced",
        plateau_factor=float(1.0 / np.cbrt(2.0)),
        plateau_patience=100,
        plateau_min_lr=1e-4,
        checkpoint="min_train_loss",
        test_every=1,
        z_normalise=True,
        source=(
            "Karim et al. 2018 (titu1994/LSTM-FCN after f0776e0), its ModelCheckpoint "
            "and ReduceLROnPlateau callbacks:"
        ),
    ),
    "blog2020": Protocol(
        name="blog2020",
        epochs=50,
        batch_size=128,
        learning_rate=1e-3,
        loss="binary_crossentropy",
        class_weight=None,
        plateau_factor=None,
        checkpoint="best_test",
        test_every=1,
        z_normalise=False,
        source=(
            "The blog's notebook: binary cross-entropy on the one-hot softmax, the test "
            "set passed as validation data and the best-test-accuracy epoch kept. "
            "Reproduced on purpose: TEST-SET SELECTION."
        ),
    ),
    # Oh et al. 2018 give no optimiser, epochs or batch size; these are our choices,
    # documented in config and the paper. Trained to convergence: early stopping on a
    # validation part carved from the training folds (never the test fold), the
    # best-validation-loss weights reported. No z-normalisation: it would turn the zero
    # padding into non-zero values.
    # Patience, schedule and cap come from pilot learning curves (results/reference/
    # pilots/, config/pilots.yaml): at a constant rate the validation loss went up to
    # 30 epochs without a new best while still falling, so patience 10 stopped on noise.
    "oh2018": Protocol(
        name="oh2018",
        epochs=400,
        batch_size=64,
        learning_rate=1e-3,
        loss="categorical_crossentropy",
        class_weight=None,
        plateau_factor=0.5,
        plateau_patience=10,
        plateau_min_lr=1e-5,
        plateau_monitor="val_loss",
        checkpoint="best_val",
        test_every=0,
        z_normalise=False,
        early_stopping_patience=30,
        early_stopping_start_epoch=10,
        validation_fraction=0.1,
        source=(
            "Oh et al. 2018 as far as published: stratified ten-fold cross-validation "
            "over segments (intra-patient). Optimiser, batch, epochs and early stopping "
            "are our choices where the paper is silent:"
        ),
    ),
}

#: DS1 records held out for dechazal2004's validation: together they hold every one of
#: Oh et al.'s five classes (109: L, V; 124: R, A, V; 220: N, A; 223: N, A, V), about
#: 13% of DS1's segments, while the training part keeps L (207) and R (118, 207).
DECHAZAL2004_VALIDATION = ("109", "124", "220", "223")


# The same training, evaluated inter-patient (the split is the only difference).
PRESETS["dechazal2004"] = replace(
    PRESETS["oh2018"],
    name="dechazal2004",
    validation_fraction=None,
    validation_records=DECHAZAL2004_VALIDATION,
    source=(
        "The same training as oh2018, evaluated inter-patient: train on de Chazal et "
        "al.'s DS1 records, test on DS2 (paced records excluded); validation on whole "
        "DS1 records, so model selection never sees DS2:"
    ),
)


def get_protocol(name: str, **overrides) -> Protocol:
    """A preset, optionally with some fields replaced (e.g. ``epochs=3`` in tests)."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown protocol {name!r}; known: {sorted(PRESETS)}") from None
    if "description" in overrides:
        raise KeyError(
            f"protocol {name!r}: 'description' is derived from the settings; override "
            "the settings (or 'source') instead"
        )
    return replace(base, **overrides) if overrides else base


def resolve_loss(loss: str, n_classes: int) -> str:
    """The loss actually trained: a binary loss on > 2 classes becomes categorical CE."""
    if loss.startswith("binary") and n_classes > 2:
        return "categorical_crossentropy"
    return loss
