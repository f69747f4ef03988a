"""Quiet one misleading Snakemake warning: restoring the output of a run that had none.

The train rule's outputs are ``update()`` (rules/train.smk): before a job runs,
Snakemake (9.x) backs up those of its outputs that exist, and when the job fails it
restores each output, warning ``Cannot restore <file>: no backup found.`` for every one
that had no backup, i.e. that did not exist before the job. For a new run that fails
(a wrong builder, say) that is five lines about files that never were, after the real
error. :func:`quiet_missing_backups` drops exactly those lines in Snakemake's process;
a restore that does happen (``Restored previous version of ...``) is still reported.
"""

from __future__ import annotations

import logging
import re

__all__ = ["quiet_missing_backups"]

_NO_BACKUP = re.compile(r"Cannot restore .*: no backup found\.")


class _NoBackupFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _NO_BACKUP.fullmatch(str(record.getMessage()))


def quiet_missing_backups(logger: logging.Logger | None = None) -> None:
    """Add the filter to Snakemake's logger (or ``logger``), once."""
    if logger is None:
        from snakemake.logging import logger
    if not any(isinstance(f, _NoBackupFilter) for f in logger.filters):
        logger.addFilter(_NoBackupFilter())
