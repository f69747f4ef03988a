"""numba's thread count for one call: the one knob every parallel kernel here shares."""

from __future__ import annotations

from contextlib import contextmanager

import numba


def numba_jobs(threads: int) -> int:
    """numba cannot run more threads than its pool (``NUMBA_NUM_THREADS``)."""
    return max(1, min(threads, numba.config.NUMBA_NUM_THREADS))


@contextmanager
def numba_threads(threads: int):
    """Run numba parallel code on ``threads`` threads (capped at numba's pool size)."""
    before = numba.get_num_threads()
    numba.set_num_threads(numba_jobs(threads))
    try:
        yield
    finally:
        numba.set_num_threads(before)
