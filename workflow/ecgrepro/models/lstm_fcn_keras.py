"""LSTM-FCN in Keras 3, as in titu1994/LSTM-FCN and the blog's notebook.

See :mod:`ecgrepro.models.lstm_fcn` for the architecture. The input is ``(N, 1, T)``
float32, Karim et al.'s layout; the model outputs softmax probabilities. Layers carry
fixed names (``conv1..3``, ``bn1..3``, ``lstm``, ``dense``) so that weights can be
exported and loaded into the PyTorch model. Set ``KERAS_BACKEND=tensorflow`` before
importing.
"""

from __future__ import annotations

import numpy as np
import keras
from keras import layers

from ecgrepro.models.lstm_fcn import LSTMFCNArch

__all__ = ["build_model", "count_params", "export_weights"]


def build_model(arch: LSTMFCNArch) -> keras.Model:
    """Build (not compile) the Keras LSTM-FCN; seed Keras first for reproducible weights."""
    ip = keras.Input(shape=(1, arch.length), name="series")
    # Shuffle: the LSTM reads (1 step, T features) as given; else the permuted sequence.
    seq = ip if arch.shuffle else layers.Permute((2, 1), name="lstm_permute")(ip)
    x = layers.LSTM(arch.lstm_units, name="lstm")(seq)  # glorot/orthogonal/unit_forget_bias
    x = layers.Dropout(arch.dropout, name="lstm_dropout")(x)
    y = layers.Permute((2, 1), name="fcn_permute")(ip)
    for i, (f, k) in enumerate(zip(arch.filters, arch.kernels), start=1):
        y = layers.Conv1D(
            f, k, padding="same", kernel_initializer="he_uniform", name=f"conv{i}"
        )(y)
        y = layers.BatchNormalization(name=f"bn{i}")(y)
        y = layers.Activation("relu", name=f"relu{i}")(y)
    y = layers.GlobalAveragePooling1D(name="gap")(y)
    x = layers.concatenate([x, y], name="concat")
    out = layers.Dense(arch.n_classes, activation="softmax", name="dense")(x)
    return keras.Model(ip, out, name="lstm_fcn")


def count_params(model: keras.Model) -> dict[str, int]:
    """Total, trainable and non-trainable (BatchNorm moving statistics) counts."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return {
        "total": trainable + non_trainable,
        "trainable": trainable,
        "non_trainable": non_trainable,
    }


def export_weights(model: keras.Model) -> dict[str, list[np.ndarray]]:
    """Weights of the named layers, in Keras layout, as numpy arrays.

    Conv: [kernel (k, in, out), bias]; BatchNorm: [gamma, beta, moving_mean,
    moving_variance]; LSTM: [kernel (F, 4U), recurrent_kernel (U, 4U), bias (4U)];
    Dense: [kernel (in, out), bias].
    """
    names = [l.name for l in model.layers if l.name.startswith(("conv", "bn"))]
    return {
        name: [np.asarray(w) for w in model.get_layer(name).get_weights()]
        for name in [*names, "lstm", "dense"]
    }
