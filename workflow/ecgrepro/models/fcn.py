"""FCN (Wang et al. 2017): the plain fully convolutional network LSTM-FCN extends.

The worked example of README "Adding a model": one file holds the framework-free
description and both builders, which import their framework only when called.

The network, for an input of shape ``(N, 1, T)``: Conv1D 128/8 -> BN -> ReLU ->
Conv1D 256/5 -> BN -> ReLU -> Conv1D 128/3 -> BN -> ReLU (``same`` padding, stride 1),
global average pooling over time, Dense softmax. It is LSTM-FCN's FCN branch alone, built
with the same Keras defaults and their PyTorch mirrors (:mod:`ecgrepro.models.lstm_fcn`
lists them: he_uniform kernels, zero biases, BatchNorm momentum 0.99 and eps 1e-3 with
the biased moving variance, Keras's ``same`` padding for even kernels, glorot_uniform
Dense), so the two models differ by the LSTM branch only.

Parameter counts (Keras convention, BatchNorm moving statistics non-trainable) do not
depend on the length: 265,986 in total, 264,962 trainable, for 2 classes.

Reference: Z. Wang, W. Yan, T. Oates, "Time series classification from scratch with
deep neural networks: a strong baseline", IJCNN 2017.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["FCNArch", "build_keras", "build_torch", "load_keras_weights"]


@dataclass(frozen=True)
class FCNArch:
    """Hyperparameters of an FCN; framework-free.

    Parameters
    ----------
    length : int
        Time points ``T`` of each (univariate) series.
    n_classes : int
        Output classes.
    filters, kernels : tuple of int
        Filters and kernel sizes of the convolution blocks (Wang et al.: 128/256/128,
        8/5/3).
    """

    length: int
    n_classes: int
    filters: tuple[int, ...] = (128, 256, 128)
    kernels: tuple[int, ...] = (8, 5, 3)
    name: str = field(default="fcn", init=False)

    # Builders, by import path relative to this module (see ecgrepro.models.registry).
    torch_builder = ":build_torch"
    keras_builder = ":build_keras"

    def __post_init__(self):
        if len(self.filters) != len(self.kernels) or not self.filters:
            raise ValueError("filters and kernels must be non-empty and of equal length")
        if self.length < 1 or self.n_classes < 2:
            raise ValueError("length >= 1 and n_classes >= 2 are required")
        # Tuples, so the frozen dataclass stays hashable when built from YAML lists.
        object.__setattr__(self, "filters", tuple(int(f) for f in self.filters))
        object.__setattr__(self, "kernels", tuple(int(k) for k in self.kernels))

    def param_counts(self) -> dict[str, int]:
        """Keras-convention parameter counts, from the hyperparameters."""
        trainable = non_trainable = 0
        channels = 1
        for f, k in zip(self.filters, self.kernels):
            trainable += channels * k * f + f + 2 * f  # kernel + bias, BN gamma + beta
            non_trainable += 2 * f  # BN moving mean and variance
            channels = f
        trainable += channels * self.n_classes + self.n_classes
        return {"total": trainable + non_trainable, "trainable": trainable,
                "non_trainable": non_trainable}

    def to_dict(self) -> dict:
        """JSON-ready hyperparameters (``name`` included)."""
        out = asdict(self)
        out["filters"], out["kernels"] = list(self.filters), list(self.kernels)
        return out

    @classmethod
    def test_params(cls, length: int = 30, n_classes: int = 2, **overrides) -> FCNArch:
        """A tiny network for fast tests."""
        kw = dict(filters=(4, 8, 4), kernels=(8, 5, 3), **overrides)
        return cls(length=length, n_classes=n_classes, **kw)


def build_torch(arch: FCNArch):
    """The PyTorch FCN: ``(N, 1, T)`` float32 -> logits; Keras initialisation.

    An ``nn.Sequential``: the input moved to the channels-last ``(N, 1, 1, T)`` layout
    the convolutions run in, ``conv, bn, relu`` per block (``KerasConv1d``: Keras's
    ``same`` padding, which puts an even kernel's extra zero on the right), then the
    mean over time and the linear layer.
    """
    import torch
    from torch import nn

    from ecgrepro.models.lstm_fcn_torch import KerasBatchNorm1d, KerasConv1d, conv_layout

    class ConvLayout(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return conv_layout(x)

    class GlobalAveragePool(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean(dim=(2, 3))

    layers, channels = [ConvLayout()], 1
    for f, k in zip(arch.filters, arch.kernels):
        layers += [KerasConv1d(channels, f, k), KerasBatchNorm1d(f), nn.ReLU(inplace=True)]
        channels = f
    dense = nn.Linear(channels, arch.n_classes)
    nn.init.xavier_uniform_(dense.weight)
    nn.init.zeros_(dense.bias)
    return nn.Sequential(*layers, GlobalAveragePool(), dense)


def build_keras(arch: FCNArch):
    """The Keras FCN (not compiled): ``(N, 1, T)`` -> softmax probabilities.

    Layers are named ``conv1..``, ``bn1..``, ``dense`` so weights can be exported.
    """
    import keras
    from keras import layers

    ip = keras.Input(shape=(1, arch.length), name="series")
    y = layers.Permute((2, 1), name="channels_last")(ip)
    for i, (f, k) in enumerate(zip(arch.filters, arch.kernels), start=1):
        y = layers.Conv1D(f, k, padding="same", kernel_initializer="he_uniform",
                          name=f"conv{i}")(y)
        y = layers.BatchNormalization(name=f"bn{i}")(y)
        y = layers.Activation("relu", name=f"relu{i}")(y)
    y = layers.GlobalAveragePooling1D(name="gap")(y)
    out = layers.Dense(arch.n_classes, activation="softmax", name="dense")(y)
    return keras.Model(ip, out, name=arch.name)


def load_keras_weights(model, keras_model) -> None:
    """Copy a Keras FCN's weights into a PyTorch FCN built from the same description.

    Conv1D kernel (k, in, out) -> (out, in, k); BatchNorm [gamma, beta, moving_mean,
    moving_variance] -> weight, bias, running_mean, running_var; Dense (in, out) ->
    (out, in).
    """
    import numpy as np
    import torch

    convs = [m for m in model if isinstance(m, torch.nn.Conv1d)]
    bns = [m for m in model if isinstance(m, torch.nn.BatchNorm1d)]

    def put(target, value):
        value = torch.as_tensor(np.ascontiguousarray(value), dtype=target.dtype)
        if value.shape != target.shape:
            raise ValueError(f"shape {tuple(value.shape)} does not fit {tuple(target.shape)}")
        target.copy_(value)

    with torch.no_grad():
        for i, (conv, bn) in enumerate(zip(convs, bns), start=1):
            kernel, bias = keras_model.get_layer(f"conv{i}").get_weights()
            put(conv.weight, kernel.transpose(2, 1, 0))
            put(conv.bias, bias)
            targets = (bn.weight, bn.bias, bn.running_mean, bn.running_var)
            for target, value in zip(targets, keras_model.get_layer(f"bn{i}").get_weights()):
                put(target, value)
        kernel, bias = keras_model.get_layer("dense").get_weights()
        put(model[-1].weight, kernel.T)
        put(model[-1].bias, bias)
