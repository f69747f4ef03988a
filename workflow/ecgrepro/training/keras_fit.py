"""Fit and evaluate a network in Keras 3 (TensorFlow backend); same contract as ``torch_fit``.

Only what is Keras-specific lives here: determinism and threads, the network, the
compiled loss and optimiser, weight snapshots. The loop is :func:`run_protocol`, which
drives Keras through ``train_on_batch`` so that batch order, learning-rate schedule and
checkpoints are the shared ones (Keras's own ``ReduceLROnPlateau``/``ModelCheckpoint``
semantics are reproduced there).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from ecgrepro.errors import EcgreproError  # noqa: E402
from ecgrepro.models import registry  # noqa: E402
from ecgrepro.models.lstm_fcn_keras import count_params  # noqa: E402
from ecgrepro.training.common import PREDICT_BATCH, PROBA_CLIP  # noqa: E402
from ecgrepro.training.loop import prepare_run, run_protocol  # noqa: E402
from ecgrepro.training.presets import Protocol  # noqa: E402
from ecgrepro.training.results import RunResult  # noqa: E402

__all__ = [
    "KerasAdapter", "build_network", "configure", "fit_evaluate", "make_adapter",
]


def build_network(arch) -> keras.Model:
    """The Keras network for an architecture description (its ``keras_builder``)."""
    return registry.build_network(arch, "keras")


def configure(framework_seed: int, device: str = "auto", threads: int = 1):
    """Pin TF threads, seed Keras, enable op determinism, resolve the device.

    TF accepts thread settings only before its runtime initialises; if it already has
    (another run in this process), the current values stay and
    ``threads_applied`` is False unless they equal the request.

    Returns
    -------
    (str, dict)
        The TF device name and the settings in force (for provenance).
    """
    if keras.backend.backend() != "tensorflow":
        raise EcgreproError(
            f"Keras runs on the {keras.backend.backend()!r} backend; ecgrepro's Keras "
            "runs need KERAS_BACKEND=tensorflow set before keras is first imported."
        )
    applied = True
    for setter in (
        tf.config.threading.set_intra_op_parallelism_threads,
        tf.config.threading.set_inter_op_parallelism_threads,
    ):
        try:
            setter(threads)
        except RuntimeError:  # "cannot be modified after initialization"
            applied = False
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    gpus = tf.config.list_physical_devices("GPU")
    if device == "auto":
        device = "cuda" if gpus else "cpu"
    if device == "cuda" and not gpus:
        raise EcgreproError("device='cuda' was asked for but TensorFlow sees no GPU.")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}")
    keras.backend.clear_session()  # fresh graph and layer names for every run
    keras.utils.set_random_seed(framework_seed)  # python, numpy, TF global seeds
    tf.config.experimental.enable_op_determinism()
    flags = {
        "framework": "keras",
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "keras_backend": keras.backend.backend(),
        "device": device,
        "op_determinism": True,
        "jit_compile": False,
        "threads_requested": threads,
        "intra_op_threads": intra,
        "inter_op_threads": inter,
        "threads_applied": applied or (intra == threads and inter == threads),
    }
    return ("/GPU:0" if device == "cuda" else "/CPU:0"), flags


def _bce_on_probabilities(y_true, y_pred):
    """Keras 2's BCE on probabilities; Keras 3's built-in would use the softmax logits."""
    p = ops.clip(y_pred, PROBA_CLIP, 1.0 - PROBA_CLIP)
    return -ops.mean(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p), axis=-1)


def _loss(name: str):
    if name == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy()
    if name == "binary_crossentropy":
        return _bce_on_probabilities
    if name == "binary_crossentropy_keras3":
        return keras.losses.BinaryCrossentropy()
    raise ValueError(f"unknown loss {name!r}")


class KerasAdapter:
    """A compiled Keras model driven batch by batch by :func:`run_protocol`."""

    framework = "keras"

    def __init__(self, model: keras.Model, loss: str, protocol: Protocol, tf_device: str):
        self.model, self.tf_device = model, tf_device
        self.device = "cuda" if "GPU" in tf_device else "cpu"
        with tf.device(tf_device):
            model.compile(
                optimizer=keras.optimizers.Adam(
                    learning_rate=protocol.learning_rate, epsilon=protocol.adam_epsilon
                ),
                loss=_loss(loss),
                metrics=["categorical_accuracy"],
                jit_compile=False,  # "auto" resolves to False under op determinism anyway
            )

    def train_batch(self, x, y, w):
        with tf.device(self.tf_device):
            logs = self.model.train_on_batch(x, y, sample_weight=w, return_dict=True)
        return float(logs["loss"]), float(logs["categorical_accuracy"])

    def predict_proba(self, x):
        with tf.device(self.tf_device):
            out = [
                np.asarray(self.model.predict_on_batch(x[b : b + PREDICT_BATCH]))
                for b in range(0, len(x), PREDICT_BATCH)
            ]
        return np.concatenate(out).astype(np.float32)

    def get_state(self):
        return self.model.get_weights()  # numpy copies, BN moving statistics included

    def set_state(self, state):
        self.model.set_weights(state)

    def get_lr(self) -> float:
        return float(ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def set_lr(self, lr: float) -> None:
        self.model.optimizer.learning_rate = lr

    def param_counts(self) -> dict[str, int]:
        return count_params(self.model)


def make_adapter(arch, protocol: Protocol, loss: str, framework_seed: int, device="auto",
                 threads: int = 1) -> tuple[KerasAdapter, dict]:
    """Configure TF/Keras, build the seeded network and wrap it; returns (adapter, flags)."""
    tf_device, flags = configure(framework_seed, device, threads)
    with tf.device(tf_device):
        model = build_network(arch)
    return KerasAdapter(model, loss, protocol, tf_device), flags


def fit_evaluate(dataset, arch, protocol, seed: int, device: str = "auto", threads: int = 1,
                 log=None, progress_seconds: float = 10.0,
                 progress_epochs: int | None = None) -> RunResult:
    """Train ``arch`` on ``dataset`` under ``protocol`` in Keras and evaluate it.

    Same parameters, return value and errors as
    :func:`ecgrepro.training.torch_fit.fit_evaluate`.
    """
    protocol, inputs, seeds = prepare_run(dataset, arch, protocol, seed)
    adapter, flags = make_adapter(arch, protocol, inputs.loss, seeds["framework_seed"],
                                  device, threads)
    return run_protocol(adapter, inputs, protocol, dataset=dataset, arch=arch, seeds=seeds,
                        determinism=flags, log=log, progress_seconds=progress_seconds,
                        progress_epochs=progress_epochs)
