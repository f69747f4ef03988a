"""Oh et al.'s CNN+LSTM / CNN+GRU in PyTorch, built to match the Keras model weight for weight.

See :mod:`ecgrepro.models.cnn_rnn` for the architecture and the Keras defaults mirrored
here. The input is ``(N, 1, T)`` float32; :class:`CNNRNN` returns logits.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecgrepro.models.cnn_rnn import CNNRNNArch
from ecgrepro.models.lstm_fcn_torch import KerasLSTM, count_params

__all__ = ["CNNRNN", "GRURecurrence", "KerasGRU", "KerasLSTM", "count_params", "load_keras_weights"]

# Keras GRU gate blocks are z, r, h; torch's are r, z, n: torch block i = Keras block GRU_ORDER[i].
GRU_ORDER = (1, 0, 2)


class KerasGRU(nn.Module):
    """A one-layer, batch-first GRU with Keras 3's parameters and initialisation.

    Keras's default ``reset_after=True`` GRU has an input and a recurrent bias (its
    ``bias`` has shape (2, 3U)) and computes ``n = tanh(W_in x + b_in + r * (W_hn h +
    b_hn))``, exactly torch's equations; only the gate order differs (Keras z, r, h;
    here torch's r, z, n). Tensors: ``weight_ih`` (3U, F), ``weight_hh`` (3U, U),
    ``bias_ih`` and ``bias_hh`` (3U), exactly ``nn.GRU``'s names and shapes.

    On CUDA it runs the kernel ``nn.GRU`` uses (cuDNN). On CPU, PyTorch has no fused
    GRU kernel (its fused oneDNN path is LSTM-only) and runs a per-step loop of about a
    dozen autograd-recorded operators forward and twice that backward. Here instead the
    input projections of all steps are one GEMM and the recurrence runs in
    :class:`GRURecurrence`, a TorchScript loop with a hand-written backward: the same
    equations (tests compare it with ``torch.gru``, forward and gradients, to float
    tolerance), about half the time.

    Returns the last hidden state, shape (N, U).
    """

    def __init__(self, input_size: int, units: int):
        super().__init__()
        self.units = units
        self.weight_ih = nn.Parameter(torch.empty(3 * units, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * units, units))
        self.bias_ih = nn.Parameter(torch.empty(3 * units))
        self.bias_hh = nn.Parameter(torch.empty(3 * units))
        # False: torch's own GRU kernel on CPU too (benchmarks compare the two).
        self.cpu_recurrence = True
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """glorot_uniform kernel, orthogonal recurrent kernel, zero biases (Keras)."""
        nn.init.xavier_uniform_(self.weight_ih)
        nn.init.orthogonal_(self.weight_hh)
        nn.init.zeros_(self.bias_ih)
        nn.init.zeros_(self.bias_hh)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and self.cpu_recurrence:
            gi = F.linear(x, self.weight_ih, self.bias_ih).transpose(0, 1).contiguous()
            h0 = x.new_zeros(x.shape[0], self.units)
            return GRURecurrence.apply(gi, h0, self.weight_hh, self.bias_hh)
        h0 = x.new_zeros(1, x.shape[0], self.units)
        params = [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]
        with warnings.catch_warnings():
            # cuDNN compacts the four tensors on every call; tiny here, so no warning.
            warnings.filterwarnings("ignore", message="RNN module weights are not part")
            _, h = torch.gru(x, h0, params, True, 1, 0.0, self.training, False, True)
        return h[0]


def _gru_forward_loop(gi: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor,
                      b_hh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """GRU recurrence over ``gi`` (T, N, 3U): hidden states (T+1, N, U), gates r, z, n
    (T, N, 3U) and the recurrent candidate term ``W_hn h + b_hn`` (T, N, U)."""
    steps = gi.shape[0]
    u = h0.shape[1]
    w_t = w_hh.t()
    h = h0
    hs: list[torch.Tensor] = [h0]
    rzs: list[torch.Tensor] = []
    ns: list[torch.Tensor] = []
    ghns: list[torch.Tensor] = []
    for t in range(steps):
        gh = torch.addmm(b_hh, h, w_t)
        git = gi[t]
        rz = torch.sigmoid(git[:, : 2 * u] + gh[:, : 2 * u])
        ghn = gh[:, 2 * u :]
        n = torch.tanh(torch.addcmul(git[:, 2 * u :], rz[:, :u], ghn))
        h = torch.lerp(n, h, rz[:, u:])  # (1 - z) n + z h
        hs.append(h)
        rzs.append(rz)
        ns.append(n)
        ghns.append(ghn)
    gates = torch.cat([torch.stack(rzs), torch.stack(ns)], 2)
    return torch.stack(hs), gates, torch.stack(ghns)


def _gru_backward_loop(grad_h: torch.Tensor, hs: torch.Tensor, gates: torch.Tensor,
                       ghn: torch.Tensor, w_hh: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients through the recurrence, from the last hidden state's gradient.

    With ``h' = n + z (h - n)``, ``n = tanh(a_n + r g_n)``, ``r, z = sigmoid(a + g)``
    (``a`` input, ``g`` recurrent projections): ``da_n = dh' (1 - z)(1 - n^2)``,
    ``dg_n = da_n r``, ``da_r = dg_r = da_n g_n r (1 - r)``, ``da_z = dg_z = dh' (h - n)
    z (1 - z)``, ``dh = dh' z + dg W_hh``. The step-independent factors are computed
    for all steps at once, so the loop runs few operators. Returns ``dh0``, ``dg``
    (T, N, 3U) and ``da_n`` (T, N, U).
    """
    steps = gates.shape[0]
    u = hs.shape[2]
    r = gates[:, :, :u]
    z = gates[:, :, u : 2 * u]
    n = gates[:, :, 2 * u :]
    a_z = (hs[:-1] - n) * z * (1 - z)
    b_n = (1 - z) * (1 - n * n)
    c_r = ghn * r * (1 - r)
    dgs: list[torch.Tensor] = []
    dans: list[torch.Tensor] = []
    dh = grad_h
    for i in range(steps):
        t = steps - 1 - i
        dan = dh * b_n[t]
        dg = torch.cat([dan * c_r[t], dh * a_z[t], dan * r[t]], 1)
        dh = torch.addmm(dh * z[t], dg, w_hh)
        dgs.append(dg)
        dans.append(dan)
    dgs.reverse()
    dans.reverse()
    return dh, torch.stack(dgs), torch.stack(dans)


@functools.cache
def _scripted(name: str):
    """The TorchScript version of a loop, compiled on first use (not at import)."""
    fn = {"forward": _gru_forward_loop, "backward": _gru_backward_loop}[name]
    with warnings.catch_warnings():
        # torch 2.10+ deprecates TorchScript in favour of torch.compile, which needs a
        # C++ compiler at run time; TorchScript still runs and needs none.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return torch.jit.script(fn)


class GRURecurrence(torch.autograd.Function):
    """``h_T`` of the GRU recurrence, given the input projections ``gi`` (T, N, 3U,
    ``W_ih x + b_ih`` in gate order r, z, n), ``h0`` (N, U), ``W_hh`` and ``b_hh``.

    The loops run in TorchScript (Python's per-operator overhead dominates at this
    size); the backward is hand-written, so autograd records one node, not ~10 per step.
    """

    @staticmethod
    def forward(ctx, gi, h0, w_hh, b_hh):
        hs, gates, ghn = _scripted("forward")(gi, h0, w_hh, b_hh)
        ctx.save_for_backward(hs, gates, ghn, w_hh)
        return hs[-1].clone()

    @staticmethod
    def backward(ctx, grad_h):
        hs, gates, ghn, w_hh = ctx.saved_tensors
        u = hs.shape[2]
        dh0, dg, dan = _scripted("backward")(grad_h.contiguous(), hs, gates, ghn, w_hh)
        flat = dg.reshape(-1, 3 * u)
        grad_w_hh = flat.t().mm(hs[:-1].reshape(-1, u))  # all steps in one GEMM
        grad_gi = torch.cat([dg[..., : 2 * u], dan], 2)  # r, z gradients are shared
        return grad_gi, dh0, grad_w_hh, flat.sum(0)


class CNNRNN(nn.Module):
    """CNN+LSTM or CNN+GRU; ``forward`` maps ``(N, 1, T)`` to logits ``(N, n_classes)``.

    Parameters
    ----------
    arch : CNNRNNArch
        The shared description. Initialisation follows Keras (see
        :mod:`ecgrepro.models.cnn_rnn`); seed torch before constructing.
    """

    def __init__(self, arch: CNNRNNArch):
        super().__init__()
        if arch.recurrent_dropout:
            raise ValueError(
                f"recurrent_dropout={arch.recurrent_dropout}: PyTorch's fused LSTM/GRU "
                "kernels have no recurrent dropout; use 0 (the default) for both frameworks."
            )
        self.arch = arch
        self.pads = arch.pads
        self.convs = nn.ModuleList()
        channels = 1
        for f, k in zip(arch.filters, arch.kernels):
            conv = nn.Conv1d(channels, f, k, bias=False)  # no bias: zero padding stays 0
            nn.init.xavier_uniform_(conv.weight)  # glorot_uniform
            self.convs.append(conv)
            channels = f
        cell = KerasLSTM if arch.cell == "lstm" else KerasGRU
        self.rnn = cell(channels, arch.units)
        self.dropout = nn.Dropout(arch.dropout)
        widths = [arch.units, *arch.dense, arch.n_classes]
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        for layer in self.dense:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def conv_activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each convolution's output after ReLU, before pooling: (N, filters, length)."""
        return self._features(x)[1]

    def _features(self, x: torch.Tensor):
        acts = []
        for conv, pad in zip(self.convs, self.pads):
            x = F.relu(conv(F.pad(x, pad)))
            acts.append(x)
            x = F.max_pool1d(x, self.arch.pool)
        return x, acts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self._features(x)
        h = self.dropout(self.rnn(y.transpose(1, 2)))  # (N, steps, channels) for the RNN
        for layer in self.dense[:-1]:
            h = F.relu(layer(h))
        return self.dense[-1](h)


def _gru_blocks(a: np.ndarray, axis: int) -> np.ndarray:
    """Reorder the three gate blocks along ``axis`` from Keras z, r, h to torch r, z, n."""
    return np.concatenate([np.split(a, 3, axis=axis)[i] for i in GRU_ORDER], axis=axis)


def load_keras_weights(model: CNNRNN, weights: dict[str, list[np.ndarray]]) -> None:
    """Copy Keras weights (as from ``cnn_rnn_keras.export_weights``) into ``model``.

    Layouts: Conv1D kernel (k, in, out) -> (out, in, k). LSTM kernel (F, 4U), recurrent
    kernel (U, 4U) transposed, bias (4U) as is (Keras i, f, c, o = torch i, f, g, o).
    GRU kernel (F, 3U) and recurrent kernel (U, 3U) transposed, bias (2, 3U) split into
    input and recurrent bias, and every gate block reordered z, r, h -> r, z, n.
    Dense kernel (in, out) -> (out, in).
    """

    def put(param: torch.Tensor, value: np.ndarray) -> None:
        value = torch.as_tensor(np.ascontiguousarray(value), dtype=param.dtype)
        if value.shape != param.shape:
            raise ValueError(f"shape {tuple(value.shape)} does not fit {tuple(param.shape)}")
        param.copy_(value)

    with torch.no_grad():
        for i, conv in enumerate(model.convs, start=1):
            (kernel,) = weights[f"conv{i}"]
            put(conv.weight, kernel.transpose(2, 1, 0))
        kernel, recurrent, bias = weights["rnn"]
        rnn = model.rnn
        if model.arch.cell == "lstm":
            put(rnn.weight_ih, kernel.T)
            put(rnn.weight_hh, recurrent.T)
            put(rnn.bias, bias)
        else:
            if bias.shape != (2, 3 * rnn.units):
                raise ValueError(f"GRU bias {bias.shape}: need reset_after=True's (2, 3U)")
            put(rnn.weight_ih, _gru_blocks(kernel, 1).T)
            put(rnn.weight_hh, _gru_blocks(recurrent, 1).T)
            put(rnn.bias_ih, _gru_blocks(bias[0], 0))
            put(rnn.bias_hh, _gru_blocks(bias[1], 0))
        for i, layer in enumerate(model.dense, start=1):
            kernel, bias = weights[f"dense{i}"]
            put(layer.weight, kernel.T)
            put(layer.bias, bias)
