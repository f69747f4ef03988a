"""Oh et al. (2018) CNN+LSTM, and its GRU variant: the one description both frameworks build.

The network, as TSFEDL's ``OhShuLih`` (ari-dasci/S-TSFE-DL), for an input of shape
``(N, 1, T)`` (one lead, ``T`` = 1000 samples):

* three convolutions without bias, 3 filters of 20, 6 of 10, 6 of 5, stride 1, ReLU,
  each followed by max-pooling of 2 (floor);
* a recurrent layer of 20 units (LSTM, or GRU for claim C8) reading the pooled
  sequence, its last hidden state through Dropout 0.2;
* Dense 20 ReLU -> Dense 10 ReLU -> Dense ``n_classes`` softmax.

Why no bias, and the padding
----------------------------
Segments are zero-padded on the right to 1000 samples. A convolution without bias maps
an all-zero window to exactly 0, ReLU and max-pooling keep 0, so the padded tail stays
exactly zero through all three blocks and the recurrent layer sees zeros there (its own
biases still act; the padding is neutral for the convolutions, not for the RNN).
:meth:`CNNRNNArch.zero_from` gives, per convolution, the first output index that must
be exactly zero for a signal of ``n`` samples; the tests check it in both frameworks.

Every padding here is zero padding, so all keep the tail at zero; they differ at the
edges. The default is ``"full"`` (``k - 1`` zeros on both sides, TSFEDL's
``full_convolution``): it is the published reimplementation, and every input sample,
including the first ones (the P wave 99 samples before the first R peak), meets all
``k`` kernel taps. Lengths 1000 -> 1019 -> 509 -> 518 -> 259 -> 263 -> 131 steps.
``"same"`` (Keras/TF rule: ``(k-1)//2`` left, ``k//2`` right; 125 steps), ``"valid"``
(no padding; 981 -> 490 -> 481 -> 240 -> 236 -> 118 steps) and ``"causal"``
(``k - 1`` left) are switchable. The paper's own layer table was not retrieved: if its
output shapes read 981/490/.../118, it used ``"valid"``.

Keras defaults mirrored in PyTorch
----------------------------------
==========================  ============================  ===================================
item                        Keras 3 (reference)           PyTorch as built here
==========================  ============================  ===================================
input layout                (N, 1, T), permuted inside    (N, 1, T), torch's channels-first
                            to channels-last (N, T, 1)
padding                     explicit ZeroPadding1D        explicit ``F.pad``, same amounts
Conv1D kernel init          glorot_uniform                xavier_uniform_ (same fans: in*k,
                                                          out*k; torch default kaiming a=sqrt5)
LSTM                        one bias (4U), zeros with     ``KerasLSTM`` from ``lstm_fcn_torch``:
                            forget gate ones; i, f, c, o  the same three tensors, i, f, g, o
GRU (``reset_after=True``,  bias shape (2, 3U): input     ``KerasGRU``: ``bias_ih`` and
Keras 3's default)          and recurrent bias, like      ``bias_hh`` (3U each), the same
                            torch; gates z, r, h          equations; torch gates r, z, n, so
                                                          blocks are reordered on transfer
RNN init                    glorot_uniform kernel,        xavier_uniform_ / orthogonal_ /
                            orthogonal recurrent, zero    zeros (torch: uniform +-1/sqrt U)
                            bias (+ LSTM forget ones)
recurrent_dropout           supported (TSFEDL: 0.2)       not in torch's fused kernels: must
                                                          be 0 (default here), else an error
Dense init                  glorot_uniform, zero bias     xavier_uniform_, zero bias
Dropout                     inverted, rate 0.2            inverted, p 0.2 (same)
output                      softmax probabilities         logits (softmax in loss/predict)
==========================  ============================  ===================================

The default ``recurrent_dropout`` is 0, not TSFEDL's 0.2: the paper does not mention it,
PyTorch cannot run it in its fused LSTM/GRU kernels (TSFEDL's PyTorch port drops it),
and claim C10 needs the same network in both frameworks. Keras's GRU with
``reset_after=False`` has one bias (3U) and a different candidate equation; it is not
offered, since torch has no such kernel.

Parameter counts (no BatchNorm, so all trainable), 5 classes: convolutions
60 + 180 + 180 = 420; LSTM 4*20*(6+20+1) = 2,160 or GRU 3*20*(6+20+2) = 1,680; dense
20*20+20 + 20*10+10 + 10*5+5 = 685. Total 3,265 (LSTM) and 2,785 (GRU), in both
frameworks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["CELLS", "PADDINGS", "CNNRNNArch"]

CELLS = ("lstm", "gru")
PADDINGS = ("full", "same", "valid", "causal")


@dataclass(frozen=True)
class CNNRNNArch:
    """Hyperparameters of Oh et al.'s CNN+RNN; framework-free.

    Parameters
    ----------
    length : int
        Samples per segment ``T`` (1000).
    n_classes : int
        Output classes (5: N, L, R, A, V).
    cell : {"lstm", "gru"}
        Recurrent layer (LSTM as Oh et al.; GRU for claim C8).
    filters, kernels : tuple of int
        Filters and kernel sizes of the bias-free convolutions.
    pool : int
        Max-pooling size and stride after each convolution.
    padding : {"full", "same", "valid", "causal"}
        Zero padding of each convolution (see module docs; default TSFEDL's "full").
    units : int
        Recurrent units.
    dropout : float
        Dropout after the recurrent layer.
    dense : tuple of int
        Hidden dense layers (ReLU) before the softmax layer.
    recurrent_dropout : float
        Keras only; PyTorch refuses anything but 0.
    """

    length: int = 1000
    n_classes: int = 5
    cell: str = "lstm"
    filters: tuple[int, ...] = (3, 6, 6)
    kernels: tuple[int, ...] = (20, 10, 5)
    pool: int = 2
    padding: str = "full"
    units: int = 20
    dropout: float = 0.2
    dense: tuple[int, ...] = (20, 10)
    recurrent_dropout: float = 0.0
    name: str = field(default="", init=False)

    # Builders, by import path (see ecgrepro.models.registry).
    torch_builder = "ecgrepro.models.cnn_rnn_torch:CNNRNN"
    keras_builder = "ecgrepro.models.cnn_rnn_keras:build_model"

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {self.padding!r}")
        if len(self.filters) != len(self.kernels) or not self.filters:
            raise ValueError("filters and kernels must be non-empty and of equal length")
        if self.n_classes < 2 or self.units < 1 or self.pool < 1:
            raise ValueError("n_classes >= 2, units >= 1 and pool >= 1 are required")
        for rate in (self.dropout, self.recurrent_dropout):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"dropout rates must be in [0, 1), got {rate}")
        # Tuples, so the frozen dataclass stays hashable when built from YAML lists.
        for key in ("filters", "kernels", "dense"):
            object.__setattr__(self, key, tuple(int(v) for v in getattr(self, key)))
        object.__setattr__(self, "name", f"cnn_{self.cell}")
        if self.steps < 1:
            raise ValueError(f"length {self.length} leaves no time step for the {self.cell}")

    @property
    def pads(self) -> list[tuple[int, int]]:
        """(left, right) zeros added before each convolution."""
        rule = {
            "full": lambda k: (k - 1, k - 1),
            "same": lambda k: ((k - 1) // 2, k // 2),  # TF/Keras: the extra zero goes right
            "valid": lambda k: (0, 0),
            "causal": lambda k: (k - 1, 0),
        }[self.padding]
        return [rule(k) for k in self.kernels]

    def lengths(self) -> list[tuple[int, int]]:
        """(convolution output, pooling output) length of each block."""
        out, n = [], self.length
        for k, (left, right) in zip(self.kernels, self.pads):
            conv = n + left + right - k + 1
            n = conv // self.pool
            out.append((conv, n))
        return out

    @property
    def steps(self) -> int:
        """Time steps the recurrent layer reads."""
        return self.lengths()[-1][1]

    def zero_from(self, n_signal: int) -> list[int]:
        """First index of each convolution's output that is exactly 0 for any input
        whose samples from ``n_signal`` on are 0 (bias-free kernels, ReLU, max-pooling).

        A convolution output ``t`` reads input ``[t - left, t - left + k - 1]``, so it is 0
        from ``z + left`` on when its input is 0 from ``z`` on; pooling output ``j`` reads
        ``[pool*j, pool*j + pool - 1]``, 0 from ``ceil(z / pool)``.
        """
        out, z = [], n_signal
        for (left, _), (conv, _) in zip(self.pads, self.lengths()):
            z = min(z + left, conv)
            out.append(z)
            z = -(-z // self.pool)
        return out

    def param_counts(self) -> dict[str, int]:
        """Parameter counts from the hyperparameters (all trainable)."""
        total, channels = 0, 1
        for f, k in zip(self.filters, self.kernels):
            total += channels * k * f  # no bias
            channels = f
        gates, biases = (4, 1) if self.cell == "lstm" else (3, 2)  # Keras GRU: 2 biases
        total += gates * self.units * (channels + self.units + biases)
        width = self.units
        for u in (*self.dense, self.n_classes):
            total += width * u + u
            width = u
        return {"total": total, "trainable": total, "non_trainable": 0}

    def to_dict(self) -> dict:
        """JSON-ready hyperparameters (``name`` included)."""
        out = asdict(self)
        for key in ("filters", "kernels", "dense"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, d: dict) -> CNNRNNArch:
        """Inverse of :meth:`to_dict`; ignores ``name``."""
        return cls(**{k: v for k, v in d.items() if k != "name"})

    @classmethod
    def test_params(cls, length: int = 120, n_classes: int = 5, **overrides) -> CNNRNNArch:
        """A short input for fast tests; the layers keep Oh et al.'s sizes."""
        return cls(length=length, n_classes=n_classes, **overrides)
