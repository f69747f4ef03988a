"""LSTM-FCN (Karim et al. 2018): the one architecture description both frameworks build.

The network, as in titu1994/LSTM-FCN and the blog's notebook, for an input of shape
``(N, 1, T)`` (one channel, ``T`` time points):

* FCN branch: the input permuted to ``T`` steps x 1 channel; Conv1D 128/8 -> BN -> ReLU ->
  Conv1D 256/5 -> BN -> ReLU -> Conv1D 128/3 -> BN -> ReLU, ``same`` padding, he_uniform
  kernels; global average pooling over time.
* LSTM branch: an LSTM with 8, 64 or 128 cells reading the *dimension-shuffled* input
  (``shuffle=True``: 1 time step of ``T`` features, the original) or the plain sequence
  (``shuffle=False``: ``T`` steps of 1 feature, the C5 ablation); its last hidden state
  goes through Dropout 0.8.
* ``concatenate([lstm, fcn])`` (LSTM features first) -> Dense softmax.

Keras defaults mirrored in PyTorch
----------------------------------
The Keras model uses Keras 3 defaults; the PyTorch model is built to match them. Where
the two frameworks differ, PyTorch follows Keras:

==========================  ==============================  ==================================
item                        Keras 3 (reference)             PyTorch as built here
==========================  ==============================  ==================================
Conv1D kernel init          he_uniform (given)              kaiming_uniform_, relu gain,
                                                            fan_in = in_ch*k (same bound
                                                            sqrt(6/fan_in)); torch default
                                                            is kaiming(a=sqrt 5)
Conv1D bias init            zeros                           zeros (torch: uniform)
``same`` padding, even k    left (k-1)//2, right k//2       explicit ``F.pad`` (left 3, right
                                                            4 for k=8; torch's "same" agrees
                                                            but copies the input and warns);
                                                            checked by the transfer test
BatchNorm momentum          0.99 (weight of the old value)  0.01 (torch: weight of the new
                                                            value; default 0.1)
BatchNorm eps               1e-3                            1e-3 (torch default 1e-5)
BN moving variance update   biased batch variance           biased (torch updates
                                                            running_var with the unbiased
                                                            one; overridden here)
LSTM kernel init            glorot_uniform                  xavier_uniform_ on weight_ih
LSTM recurrent init         orthogonal                      orthogonal_ on weight_hh
LSTM bias                   one vector, zeros, forget       one vector (see below), zeros,
                            gate ones (unit_forget_bias)    forget gate ones (torch: two
                                                            uniform vectors b_ih, b_hh)
LSTM gate order             i, f, c, o                      i, f, g, o: the same order (g is
                                                            Keras's c), so weights transfer
                                                            by transposition only
LSTM activations            tanh, sigmoid recurrent         tanh, sigmoid (same)
Dense init                  glorot_uniform, zero bias       xavier_uniform_, zero bias
                                                            (torch: kaiming(a=sqrt 5),
                                                            uniform bias)
Dropout                     inverted, rate 0.8              inverted, p 0.8 (same)
Output                      softmax probabilities           logits; softmax applied by
                                                            ``predict_proba`` and the loss
==========================  ==============================  ==================================

The single LSTM bias: ``torch.nn.LSTM`` always carries ``b_ih`` and ``b_hh`` (both
trainable), which would add ``4 * units`` parameters and, trained together, move the
effective bias twice as fast as Keras's one vector under Adam. The PyTorch file therefore
defines its own small LSTM module with exactly Keras's three parameters (``weight_ih``,
``weight_hh``, ``bias``) and calls the same fused kernel ``nn.LSTM`` uses
(``torch.lstm``), passing a constant zero vector (a non-persistent buffer, neither a
parameter nor in the state dict) as ``b_hh``.

Parameter counts: Keras counts BatchNorm moving mean and variance as non-trainable
weights; PyTorch keeps them as buffers. ``count_params`` in the PyTorch file counts
``running_mean`` and ``running_var`` as non-trainable parameters (not
``num_batches_tracked``, which Keras has no equivalent of), so both frameworks report
the same total and trainable numbers: 268,914 and 267,890 for length 82, 2 classes,
8 cells.

Training-side defaults (Adam epsilon and its placement, loss reduction with class
weights, ReduceLROnPlateau semantics) are mirrored in ``ecgrepro.training``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["LSTMFCNArch"]


@dataclass(frozen=True)
class LSTMFCNArch:
    """Hyperparameters of an LSTM-FCN; framework-free.

    Parameters
    ----------
    length : int
        Number of time points ``T`` of each (univariate) series.
    n_classes : int
        Number of output classes.
    filters : tuple of int
        Filters of the three convolutions.
    kernels : tuple of int
        Kernel sizes of the three convolutions.
    lstm_units : int
        LSTM cells (Karim et al. search 8, 64, 128; 8 for TwoLeadECG).
    dropout : float
        Dropout rate after the LSTM.
    shuffle : bool
        True: the LSTM reads 1 time step of ``T`` features (the dimension shuffle);
        False: ``T`` time steps of 1 feature.
    """

    length: int
    n_classes: int
    filters: tuple[int, ...] = (128, 256, 128)
    kernels: tuple[int, ...] = (8, 5, 3)
    lstm_units: int = 8
    dropout: float = 0.8
    shuffle: bool = True
    name: str = field(default="lstm_fcn", init=False)

    # Builders, by import path (see ecgrepro.models.registry).
    torch_builder = "ecgrepro.models.lstm_fcn_torch:LSTMFCN"
    keras_builder = "ecgrepro.models.lstm_fcn_keras:build_model"

    def __post_init__(self):
        if len(self.filters) != len(self.kernels) or not self.filters:
            raise ValueError("filters and kernels must be non-empty and of equal length")
        if self.length < 1 or self.n_classes < 2 or self.lstm_units < 1:
            raise ValueError("length >= 1, n_classes >= 2 and lstm_units >= 1 are required")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        # Tuples, so the frozen dataclass stays hashable when built from YAML lists.
        object.__setattr__(self, "filters", tuple(int(f) for f in self.filters))
        object.__setattr__(self, "kernels", tuple(int(k) for k in self.kernels))

    @property
    def lstm_steps_features(self) -> tuple[int, int]:
        """(time steps, features per step) the LSTM reads."""
        return (1, self.length) if self.shuffle else (self.length, 1)

    def param_counts(self) -> dict[str, int]:
        """Keras-convention parameter counts, computed from the hyperparameters.

        Returns
        -------
        dict
            ``total``, ``trainable`` and ``non_trainable`` (BatchNorm moving statistics).
        """
        trainable = non_trainable = 0
        channels = 1
        for f, k in zip(self.filters, self.kernels):
            trainable += channels * k * f + f + 2 * f  # conv kernel+bias, BN gamma+beta
            non_trainable += 2 * f  # BN moving mean and variance
            channels = f
        units, features = self.lstm_units, self.lstm_steps_features[1]
        trainable += 4 * units * (features + units + 1)
        trainable += (units + channels) * self.n_classes + self.n_classes
        return {
            "total": trainable + non_trainable,
            "trainable": trainable,
            "non_trainable": non_trainable,
        }

    def to_dict(self) -> dict:
        """JSON-ready hyperparameters (``name`` included)."""
        out = asdict(self)
        out["filters"], out["kernels"] = list(self.filters), list(self.kernels)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> LSTMFCNArch:
        """Inverse of :meth:`to_dict`; ignores ``name``."""
        return cls(**{k: v for k, v in d.items() if k != "name"})

    @classmethod
    def test_params(cls, length: int = 30, n_classes: int = 2, **overrides) -> LSTMFCNArch:
        """A tiny network for fast tests (as aeon's ``_get_test_params``)."""
        kw = dict(filters=(4, 8, 4), kernels=(8, 5, 3), lstm_units=3, dropout=0.8)
        kw.update(overrides)
        return cls(length=length, n_classes=n_classes, **kw)
