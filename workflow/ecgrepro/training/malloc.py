"""Keep freed memory in the process: no page faults for the large tensors of a step.

glibc's ``malloc`` serves blocks above its mmap threshold (at most 32 MiB by default)
with fresh ``mmap`` pages and returns them on ``free``. A NonInvasiveFetalECGThorax-sized
LSTM-FCN step allocates activations of ~100 MB, so every step faulted in ~1 GB of zeroed
pages again: ~240,000 minor faults and ~20% of the step's CPU time in the kernel (TF's
allocator keeps its memory, which is part of why Keras was faster there). Raising the
mmap and trim thresholds makes ``malloc`` reuse freed heap memory instead; the process
keeps its peak memory, as TF's does. Nothing computed changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["THRESHOLD", "keep_freed_memory"]

THRESHOLD = 1 << 30  # bytes: blocks below stay on the heap; freed heap kept up to this
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds to :data:`THRESHOLD` once per process.

    Returns
    -------
    bool
        True where applied (Linux with glibc); False elsewhere (other C libraries
        manage memory their own way), where nothing is changed.
    """
    global _applied
    if _applied is None:
        _applied = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                mallopt = libc.mallopt
            except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
                return False
            _applied = bool(mallopt(_M_MMAP_THRESHOLD, THRESHOLD)) and bool(
                mallopt(_M_TRIM_THRESHOLD, THRESHOLD))
    return _applied
