"""Fit and evaluate a network in PyTorch under a protocol; same contract as ``keras_fit``.

Only what is PyTorch-specific lives here: determinism and threads, the network, the
loss, the optimiser step and weight snapshots. The loop is :func:`run_protocol`.

Training-side Keras 3 behaviour mirrored here (the network's are listed in
:mod:`ecgrepro.models.lstm_fcn`):

=========================  ===================================  ===========================
item                       Keras 3 (TF backend)                 PyTorch here
=========================  ===================================  ===========================
Adam epsilon               1e-7, added to sqrt(v) *before* the  eps_t = 1e-7 / sqrt(1 -
                           bias correction (torch: 1e-8,        0.999^t) set before every
                           after it)                            step: identical updates
learning rate              float32 variable                     float32-rounded floats
class-weighted loss        sum(w * loss) / batch size           same (not / sum of w)
categorical CE             from the softmax's cached logits     ``F.cross_entropy`` on
                           (no clipping) in compiled steps      logits
``binary_crossentropy``    (Keras 3 would use the cached        ecgrepro's explicit BCE on
                           logits in a sigmoid BCE; see         clipped probabilities in
                           ``presets.LOSSES``)                  both frameworks
epoch loss / accuracy      batch means weighted by batch size,  same (shared loop)
                           training mode, before each update
ReduceLROnPlateau,         absolute min_delta 1e-4, strict      shared implementation of
ModelCheckpoint            comparisons, earliest tie kept       Keras's rules (``common``)
=========================  ===================================  ===========================
"""

from __future__ import annotations

import math
import os
import random

import numpy as np
import torch
import torch.nn.functional as F

from ecgrepro.errors import EcgreproError
from ecgrepro.models import registry
from ecgrepro.models.lstm_fcn_torch import count_params
from ecgrepro.training.common import PREDICT_BATCH, PROBA_CLIP
from ecgrepro.training.loop import prepare_run, run_protocol
from ecgrepro.training.malloc import keep_freed_memory
from ecgrepro.training.presets import Protocol
from ecgrepro.training.results import RunResult

__all__ = [
    "TorchAdapter", "build_network", "configure", "fit_evaluate", "make_adapter",
]

ADAM_BETAS = (0.9, 0.999)  # Keras and torch defaults agree


def build_network(arch) -> torch.nn.Module:
    """The PyTorch network for an architecture description (its ``torch_builder``)."""
    return registry.build_network(arch, "torch")


def configure(framework_seed: int, device: str = "auto", threads: int = 1):
    """Seed torch, force deterministic kernels, pin threads, resolve the device.

    Python's and numpy's global seeds are set too, as Keras's ``set_random_seed`` does.

    Returns
    -------
    (torch.device, dict)
        The device and the settings in force (for provenance).
    """
    # cuBLAS reads this when CUDA initialises; :16:8 satisfies both the general and the
    # cuDNN-RNN determinism notes.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise EcgreproError("device='cuda' was asked for but torch sees no CUDA device.")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}")
    random.seed(framework_seed)
    np.random.seed(framework_seed)
    torch.manual_seed(framework_seed)  # CPU and every CUDA device
    torch.use_deterministic_algorithms(True)
    # Deterministic mode also fills every new tensor with NaN, a debugging aid that
    # exposes kernels reading memory before writing it. None here does (reruns are
    # bit-identical with or without it), and the fill cost ~6% of an LSTM-FCN step.
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    malloc_reuse = keep_freed_memory()  # large activations: no page faults per step
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
        interop_applied = True
    except RuntimeError:  # only settable before the first parallel work in the process
        interop_applied = torch.get_num_interop_threads() == threads
    flags = {
        "framework": "torch",
        "torch_version": torch.__version__,
        "device": device,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "fill_uninitialized_memory": torch.utils.deterministic.fill_uninitialized_memory,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "CUBLAS_WORKSPACE_CONFIG": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "threads_requested": threads,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "threads_applied": torch.get_num_threads() == threads and interop_applied,
        "malloc_reuse": malloc_reuse,
    }
    return torch.device(device), flags


def _loss(name: str, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample loss, mirroring Keras 3 (TF) for the model's softmax output."""
    if name == "categorical_crossentropy":  # Keras uses the cached logits: same formula
        return F.cross_entropy(logits, y, reduction="none")
    if name == "binary_crossentropy":  # on clipped probabilities (Keras 2 formula)
        p = torch.softmax(logits, dim=1).clamp(PROBA_CLIP, 1.0 - PROBA_CLIP)
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean(dim=1)
    if name == "binary_crossentropy_keras3":  # sigmoid BCE on the softmax's logits
        return F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(dim=1)
    raise ValueError(f"unknown loss {name!r}")


class TorchAdapter:
    """A PyTorch network with Keras's Adam, driven by :func:`run_protocol`."""

    framework = "torch"

    def __init__(self, model: torch.nn.Module, loss: str, protocol: Protocol, device):
        self.model = model.to(device)
        self.device = str(device)
        self._torch_device = device
        self.loss = loss
        self.keras_epsilon = protocol.adam_epsilon
        self.steps = 0
        # fused: one kernel for all parameters instead of ~10 ops each (same formula).
        self.opt = torch.optim.Adam(
            model.parameters(), lr=protocol.learning_rate, betas=ADAM_BETAS,
            eps=protocol.adam_epsilon, fused=True,
        )

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(self._torch_device)

    def train_batch(self, x, y, w):
        self.model.train()
        x, y, w = self._tensor(x), self._tensor(y), self._tensor(w)
        logits = self.model(x)
        loss = (_loss(self.loss, logits, y) * w).mean()  # Keras: sum(w*l) / batch size
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.steps += 1
        # Keras adds epsilon to sqrt(v) *before* bias correction, torch after it:
        # eps_torch = eps_keras / sqrt(1 - beta2^t) makes the two updates identical.
        eps = self.keras_epsilon / math.sqrt(1.0 - ADAM_BETAS[1] ** self.steps)
        for group in self.opt.param_groups:
            group["eps"] = eps
        self.opt.step()
        accuracy = (logits.argmax(dim=1) == y.argmax(dim=1)).float().mean()
        return float(loss.item()), float(accuracy.item())

    def predict_proba(self, x):
        self.model.eval()
        out = []
        with torch.inference_mode():
            for b in range(0, len(x), PREDICT_BATCH):
                logits = self.model(self._tensor(x[b : b + PREDICT_BATCH]))
                out.append(torch.softmax(logits, dim=1).cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def get_state(self):
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def set_state(self, state):
        self.model.load_state_dict(state)

    def get_lr(self) -> float:
        return float(self.opt.param_groups[0]["lr"])

    def set_lr(self, lr: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lr

    def param_counts(self) -> dict[str, int]:
        return count_params(self.model)


def make_adapter(arch, protocol: Protocol, loss: str, framework_seed: int, device="auto",
                 threads: int = 1) -> tuple[TorchAdapter, dict]:
    """Configure torch, build the seeded network and wrap it; returns (adapter, flags)."""
    dev, flags = configure(framework_seed, device, threads)
    return TorchAdapter(build_network(arch), loss, protocol, dev), flags


def fit_evaluate(dataset, arch, protocol, seed: int, device: str = "auto", threads: int = 1,
                 log=None, progress_seconds: float = 10.0,
                 progress_epochs: int | None = None) -> RunResult:
    """Train ``arch`` on ``dataset`` under ``protocol`` in PyTorch and evaluate it.

    Parameters
    ----------
    dataset : ecgrepro.data.ucr.UCRDataset
        Train and test splits (test used for evaluation and, only for rule
        ``best_test``, for selection).
    arch : architecture description
        A registered family's description (``ecgrepro.models.registry``); its length and class count must match the data.
    protocol : Protocol or str
        A :class:`Protocol` or the name of a preset (``"karim2018"``, ``"blog2020"``).
    seed : int
        Run seed; split into framework and batch-order seeds by ``derive_seeds``.
    device : {"auto", "cpu", "cuda"}
    threads : int
        Intra- and inter-op threads.
    log : callable, optional
        Receives progress lines (default: the ``ecgrepro.training`` logger).
    progress_seconds, progress_epochs : float, int or None
        Log progress every so many seconds (default 10) or epochs.

    Returns
    -------
    RunResult

    Raises
    ------
    TrainingDivergedError
        NaN or infinite training loss; the history so far is in ``.history``.
    """
    protocol, inputs, seeds = prepare_run(dataset, arch, protocol, seed)
    adapter, flags = make_adapter(arch, protocol, inputs.loss, seeds["framework_seed"],
                                  device, threads)
    return run_protocol(adapter, inputs, protocol, dataset=dataset, arch=arch, seeds=seeds,
                        determinism=flags, log=log, progress_seconds=progress_seconds,
                        progress_epochs=progress_epochs)
