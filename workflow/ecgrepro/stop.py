"""Stopping promptly: one SIGTERM or Ctrl-C ends the running jobs, not just the queue.

Snakemake (9.x) answers SIGTERM by starting no new job and *waiting* for the running
ones, hours for a full training. :func:`install_snakemake_handlers` (called from the
Snakefile's ``onstart``, i.e. in Snakemake's own process, after its scheduler has set
its handlers) keeps that behaviour and also passes an interrupt (SIGINT) to the local
job processes, as a Ctrl-C in a terminal does for the whole process group. The jobs
stop (:func:`interruptible` in each job's command line cleans up and exits non-zero),
Snakemake records them as failed, restores the previous version of their ``update()``
outputs and exits.

Standard library only, plus ``psutil`` (a dependency of Snakemake) in the Snakemake
process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading

log = logging.getLogger("ecgrepro")

__all__ = ["Interrupted", "install_snakemake_handlers", "interrupt_children",
           "interruptible"]


class Interrupted(KeyboardInterrupt):
    """Raised in a job process by SIGTERM or SIGINT (a KeyboardInterrupt, so that
    ``except Exception`` blocks do not swallow it and ``finally`` blocks run)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


def interrupt_children(sig: int = signal.SIGINT) -> int:
    """Send ``sig`` to every descendant process of this one; returns how many."""
    import psutil

    sent = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            child.send_signal(sig)
            sent += 1
    return sent


def install_snakemake_handlers() -> None:
    """In the Snakemake process: SIGTERM and SIGINT also interrupt the running jobs.

    Each handler first does what Snakemake would (SIGTERM: its own handler, no new
    jobs; SIGINT: KeyboardInterrupt), after interrupting the local jobs.
    """
    if os.environ.get("ECGREPRO_KEEP_JOBS_ON_SIGTERM"):  # the old, waiting behaviour
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):
        n = interrupt_children()
        log.warning("SIGTERM: interrupted %d job process(es); stopping", n)
        if callable(previous):
            previous(signum, frame)

    def on_int(signum, frame):
        interrupt_children()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_int)


@contextlib.contextmanager
def interruptible():
    """In a job process: SIGTERM and SIGINT raise :class:`Interrupted` (once; a second
    signal during clean-up is ignored, so the clean-up finishes)."""

    def handler(signum, frame):
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in old:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
