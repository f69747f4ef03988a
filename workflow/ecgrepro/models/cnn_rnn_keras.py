"""Oh et al.'s CNN+LSTM / CNN+GRU in Keras 3, as TSFEDL's ``OhShuLih``.

See :mod:`ecgrepro.models.cnn_rnn` for the architecture. The input is ``(N, 1, T)``
float32, as for the PyTorch model and LSTM-FCN; the model outputs softmax
probabilities. Layers carry fixed names (``pad1..3``, ``conv1..3``, ``pool1..3``,
``rnn``, ``dense1..3``, the last being the softmax layer) so that weights can be
exported to the PyTorch model. Set ``KERAS_BACKEND=tensorflow`` before importing.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from ecgrepro.models.cnn_rnn import CNNRNNArch
from ecgrepro.models.lstm_fcn_keras import count_params

__all__ = ["build_model", "conv_model", "count_params", "export_weights"]


def build_model(arch: CNNRNNArch) -> keras.Model:
    """Build (not compile) the Keras CNN+RNN; seed Keras first for reproducible weights."""
    ip = keras.Input(shape=(1, arch.length), name="segment")
    x = layers.Permute((2, 1), name="channels_last")(ip)
    for i, (f, k, pad) in enumerate(zip(arch.filters, arch.kernels, arch.pads), start=1):
        if pad != (0, 0):
            x = layers.ZeroPadding1D(pad, name=f"pad{i}")(x)
        # No bias, so the zero-padded tail stays exactly zero (glorot_uniform kernel).
        x = layers.Conv1D(f, k, use_bias=False, activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling1D(arch.pool, name=f"pool{i}")(x)
    if arch.cell == "lstm":
        rnn = layers.LSTM(arch.units, recurrent_dropout=arch.recurrent_dropout, name="rnn")
    else:
        # reset_after=True (Keras 3's default, pinned): two biases, torch's equations.
        rnn = layers.GRU(arch.units, recurrent_dropout=arch.recurrent_dropout,
                         reset_after=True, name="rnn")
    x = layers.Dropout(arch.dropout, name="dropout")(rnn(x))
    for i, units in enumerate(arch.dense, start=1):
        x = layers.Dense(units, activation="relu", name=f"dense{i}")(x)
    out = layers.Dense(arch.n_classes, activation="softmax", name=f"dense{len(arch.dense) + 1}")(x)
    return keras.Model(ip, out, name=arch.name)


def conv_model(model: keras.Model) -> keras.Model:
    """A model giving each convolution's output after ReLU, before pooling, as
    channels-last (N, length, filters) arrays."""
    convs = [l.output for l in model.layers if l.name.startswith("conv")]
    return keras.Model(model.inputs, convs, name=f"{model.name}_convs")


def export_weights(model: keras.Model) -> dict[str, list[np.ndarray]]:
    """Weights of the named layers, in Keras layout, as numpy arrays.

    Conv: [kernel (k, in, out)]; LSTM: [kernel (F, 4U), recurrent_kernel (U, 4U),
    bias (4U)]; GRU: [kernel (F, 3U), recurrent_kernel (U, 3U), bias (2, 3U)];
    Dense: [kernel (in, out), bias].
    """
    names = [l.name for l in model.layers if l.name.startswith(("conv", "rnn", "dense"))]
    return {name: [np.asarray(w) for w in model.get_layer(name).get_weights()] for name in names}
