"""Training: protocols as data, one shared epoch loop, one thin file per framework.

``presets`` (protocols), ``common`` (inputs, class weights, seeds, LR schedule,
checkpoint rules), ``loop`` (the epoch loop) and ``results`` (RunResult, run directory)
import no framework; ``torch_fit`` and ``keras_fit`` do, and offer the same
``fit_evaluate(dataset, arch, protocol, seed, device, threads, log) -> RunResult``.
"""

from ecgrepro.training.common import TrainingDivergedError
from ecgrepro.training.presets import PRESETS, RULES, Protocol, get_protocol
from ecgrepro.training.results import RunResult, write_history, write_run_dir

__all__ = [
    "PRESETS",
    "RULES",
    "Protocol",
    "RunResult",
    "TrainingDivergedError",
    "get_protocol",
    "write_history",
    "write_run_dir",
]
