"""LSTM-FCN in PyTorch, built to match the Keras model weight for weight.

See :mod:`ecgrepro.models.lstm_fcn` for the architecture and the table of Keras defaults
mirrored here. The input is ``(N, 1, T)`` float32; :class:`LSTMFCN` returns logits
(softmax is applied by the loss and by the training adapter's ``predict_proba``).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecgrepro.models.lstm_fcn import LSTMFCNArch

__all__ = [
    "KerasBatchNorm1d", "KerasConv1d", "KerasLSTM", "LSTMFCN", "conv_layout", "count_params",
    "load_keras_weights",
]

KERAS_BN_MOMENTUM = 0.99  # Keras: weight of the *old* moving value
KERAS_BN_EPS = 1e-3


class KerasBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d with Keras's defaults and moving-statistics update.

    ``momentum`` is ``1 - 0.99`` (torch weighs the new value), ``eps`` 1e-3, and the
    moving variance is updated with the *biased* batch variance, as Keras does (torch
    uses the unbiased one). Normalisation itself is torch's fused kernel. It accepts
    any layout torch's kernel does: the FCN blocks pass ``(N, C, 1, T)`` channels-last.
    """

    def __init__(self, num_features: int):
        super().__init__(num_features, eps=KERAS_BN_EPS, momentum=1.0 - KERAS_BN_MOMENTUM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias,
                False, 0.0, self.eps,
            )
        out, mean, invstd = torch.native_batch_norm(
            x, self.weight, self.bias, None, None, True, 0.0, self.eps
        )
        with torch.no_grad():
            # The kernel's batch mean and 1/sqrt(var + eps) give the biased variance
            # without a second pass over x (torch.var_mean took ~15% of a step).
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(invstd.pow(-2).sub_(self.eps), self.momentum)
            self.num_batches_tracked.add_(1)
        return out


class KerasConv1d(nn.Conv1d):
    """Conv1D with Keras's ``same`` padding and initialisation, on ``(N, C, 1, T)``.

    The parameters are a Conv1d's (``weight`` (out, in, k), ``bias``); ``forward``
    reads and returns the channels-last 4-D layout of :func:`conv_layout`, where
    oneDNN's convolution and torch's batch norm run without reordering the data
    (``(N, C, T)`` tensors cost a reorder in and out of every convolution).
    Keras's ``same`` puts ``(k-1)//2`` zeros left and ``k//2`` right: for odd ``k``
    the convolution pads itself, for even ``k`` the input is padded first.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(in_channels, out_channels, kernel_size)
        self.same = ((kernel_size - 1) // 2, kernel_size // 2)
        nn.init.kaiming_uniform_(self.weight, nonlinearity="relu")  # he_uniform
        nn.init.zeros_(self.bias)
        # The same values, stored (out, k, in) in memory: the channels-last kernel
        # layout, which the convolution would otherwise copy the weight into per call.
        stored = self.weight.detach().transpose(1, 2).contiguous()
        self.weight = nn.Parameter(stored.transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = self.same
        if left != right:
            x = conv_layout(F.pad(x, (left, right)))
            left = 0
        return F.conv2d(x, self.weight.unsqueeze(2), self.bias, padding=(0, left))


def conv_layout(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, T)`` or ``(N, C, 1, T)`` -> ``(N, C, 1, T)`` channels-last.

    The layout of :class:`KerasConv1d`. The strides are set explicitly: with one channel
    a plain tensor already passes as channels-last, but its strides are ambiguous and
    torch then picks the plain layout for every convolution after it.
    """
    if x.dim() == 3:
        x = x.unsqueeze(2)
    x = x.contiguous(memory_format=torch.channels_last)
    n, c, h, w = x.shape
    return x.as_strided(x.shape, (c * h * w, 1, w * c, c))


class KerasLSTM(nn.Module):
    """A one-layer, batch-first LSTM with Keras's parameters and initialisation.

    Exactly three parameters, as in Keras: ``weight_ih`` (4U, F), ``weight_hh`` (4U, U)
    and a single ``bias`` (4U), gates in the order i, f, g(=c), o. It calls the fused
    kernel ``nn.LSTM`` uses (``torch.lstm``), passing a constant zero as the second bias
    (a non-persistent buffer: not a parameter, not in the state dict).

    Returns the last hidden state, shape (N, U).
    """

    def __init__(self, input_size: int, units: int):
        super().__init__()
        self.units = units
        self.weight_ih = nn.Parameter(torch.empty(4 * units, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * units, units))
        self.bias = nn.Parameter(torch.empty(4 * units))
        self.register_buffer("zero_bias", torch.zeros(4 * units), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """glorot_uniform kernel, orthogonal recurrent kernel, unit_forget_bias."""
        nn.init.xavier_uniform_(self.weight_ih)
        nn.init.orthogonal_(self.weight_hh)
        with torch.no_grad():
            self.bias.zero_()
            self.bias[self.units : 2 * self.units] = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = x.new_zeros(1, x.shape[0], self.units)
        params = [self.weight_ih, self.weight_hh, self.bias, self.zero_bias]
        with warnings.catch_warnings():
            # cuDNN compacts the four tensors on every call; tiny here, so no warning.
            warnings.filterwarnings("ignore", message="RNN module weights are not part")
            _, h, _ = torch.lstm(x, (h0, h0), params, True, 1, 0.0, self.training, False, True)
        return h[0]


class LSTMFCN(nn.Module):
    """LSTM-FCN; ``forward`` maps ``(N, 1, T)`` to logits ``(N, n_classes)``.

    Parameters
    ----------
    arch : LSTMFCNArch
        The shared description. Initialisation follows Keras (see module docs); seed
        torch before constructing for reproducible weights.
    """

    def __init__(self, arch: LSTMFCNArch):
        super().__init__()
        self.arch = arch
        self.convs, self.bns = nn.ModuleList(), nn.ModuleList()
        channels = 1
        for f, k in zip(arch.filters, arch.kernels):
            self.convs.append(KerasConv1d(channels, f, k))
            self.bns.append(KerasBatchNorm1d(f))
            channels = f
        _, features = arch.lstm_steps_features
        self.lstm = KerasLSTM(features, arch.lstm_units)
        self.dropout = nn.Dropout(arch.dropout)
        self.dense = nn.Linear(arch.lstm_units + channels, arch.n_classes)
        nn.init.xavier_uniform_(self.dense.weight)
        nn.init.zeros_(self.dense.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Shuffle: the LSTM reads (N, 1 step, T features); else (N, T steps, 1 feature).
        seq = x if self.arch.shuffle else x.transpose(1, 2)
        h = self.dropout(self.lstm(seq))
        y = conv_layout(x)  # the FCN reads T time points of 1 channel
        for conv, bn in zip(self.convs, self.bns):
            # In place: batch norm's backward needs its input, not its output.
            y = F.relu(bn(conv(y)), inplace=True)
        y = y.mean(dim=(2, 3))  # global average pooling
        return self.dense(torch.cat([h, y], dim=1))


def count_params(model: nn.Module) -> dict[str, int]:
    """Parameter counts in Keras's convention.

    Trainable: parameters with ``requires_grad``. Non-trainable: frozen parameters plus
    BatchNorm ``running_mean``/``running_var`` (Keras's moving statistics);
    ``num_batches_tracked`` and non-persistent buffers are not counted.
    """
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    stats = sum(
        m.running_mean.numel() + m.running_var.numel()
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    )
    return {
        "total": trainable + frozen + stats,
        "trainable": trainable,
        "non_trainable": frozen + stats,
    }


def load_keras_weights(model: LSTMFCN, weights: dict[str, list[np.ndarray]]) -> None:
    """Copy Keras weights (as from ``lstm_fcn_keras.export_weights``) into ``model``.

    Layouts: Conv1D kernel (k, in, out) -> (out, in, k); BatchNorm [gamma, beta,
    moving_mean, moving_variance] -> weight, bias, running_mean, running_var; LSTM
    kernel (F, 4U) and recurrent kernel (U, 4U) are transposed, gate blocks keep their
    order (Keras i, f, c, o = torch i, f, g, o); Dense kernel (in, out) -> (out, in).
    """

    def put(param: torch.Tensor, value: np.ndarray) -> None:
        value = torch.as_tensor(np.ascontiguousarray(value), dtype=param.dtype)
        if value.shape != param.shape:
            raise ValueError(f"shape {tuple(value.shape)} does not fit {tuple(param.shape)}")
        param.copy_(value)

    with torch.no_grad():
        for i, (conv, bn) in enumerate(zip(model.convs, model.bns), start=1):
            kernel, bias = weights[f"conv{i}"]
            put(conv.weight, kernel.transpose(2, 1, 0))
            put(conv.bias, bias)
            for target, value in zip(
                (bn.weight, bn.bias, bn.running_mean, bn.running_var), weights[f"bn{i}"]
            ):
                put(target, value)
        kernel, recurrent, bias = weights["lstm"]
        put(model.lstm.weight_ih, kernel.T)
        put(model.lstm.weight_hh, recurrent.T)
        put(model.lstm.bias, bias)
        kernel, bias = weights["dense"]
        put(model.dense.weight, kernel.T)
        put(model.dense.bias, bias)
