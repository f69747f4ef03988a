"""Files written whole or not at all.

Every output of the suite is written beside its target and renamed into place, so a
killed job never leaves a half-written file that looks finished. Files get the
permissions of an ordinary file (0644 less the umask), not the 0600 of a temporary file:
results on a shared filesystem are for the whole group to read. A whole run directory
is written the same way by :func:`ecgrepro.store.atomic_dir`.

A full disk (or quota) is reported in one line that names the file being written, the
free space left and what to do (:func:`naming_full_disk`), not as a raw traceback.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ecgrepro.errors import DiskFullError

__all__ = [
    "disk_full_error",
    "is_disk_full",
    "naming_full_disk",
    "replacing",
    "write_json",
    "write_text",
]

#: errno values that mean "this filesystem has no room for the file"
_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` is an OSError for a full filesystem or an exceeded quota."""
    return isinstance(exc, OSError) and exc.errno in _FULL


def _free_space(path: Path) -> str:
    """Free space on the filesystem of ``path`` (its nearest existing ancestor)."""
    for where in (path, *path.parents):
        try:
            free = shutil.disk_usage(where).free
        except OSError:
            continue
        for unit in ("bytes", "KiB", "MiB", "GiB"):
            if free < 1024 or unit == "GiB":
                return f"{free:.0f} {unit}" if unit == "bytes" else f"{free:.1f} {unit}"
            free /= 1024
    return "unknown free space"


def disk_full_error(
    path: str | Path,
    exc: OSError | None = None,
    what: str | None = None,
    atomic: bool = True,
) -> DiskFullError:
    """The one-line error for ``path`` not written for lack of space.

    Parameters
    ----------
    path : str or Path
        The file (or run directory) being written; its filesystem's free space is given.
    exc : OSError, optional
        The ENOSPC/EDQUOT error, for its wording (quota or device).
    what : str, optional
        How to name what was written when ``path`` is only where (default: ``path``).
    atomic : bool
        The write went through a temporary file that is now removed (say so); False for
        a write outside these helpers, whose job's outputs Snakemake removes instead.

    Returns
    -------
    DiskFullError
        Names the file, the free space left on its filesystem and what to do.
    """
    path = Path(path)
    quota = exc is not None and exc.errno == errno.EDQUOT
    reason = "disk quota exceeded" if quota else "no space left on device"
    kept = ("nothing partial was kept" if atomic else
            "Snakemake removes the outputs of the failed job")
    return DiskFullError(
        f"{reason} writing {what or path} ({_free_space(path.absolute())} free on its "
        f"filesystem); {kept}. Free space there (or run from a directory on a larger "
        "disk) and rerun: finished outputs are kept and only what is missing is redone."
    )


@contextmanager
def naming_full_disk(path: str | Path):
    """Turn a full-disk OSError raised inside the block into :func:`disk_full_error`."""
    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(path, exc) from exc
        raise


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def replacing(path: str | Path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left as it was; a
    full disk is raised as :class:`~ecgrepro.errors.DiskFullError` naming ``path``.
    """
    path = Path(path)
    with naming_full_disk(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
        )
        os.close(fd)
        try:
            yield Path(tmp)
            os.chmod(tmp, _file_mode())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) atomically."""
    with replacing(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)


def write_json(path: str | Path, obj, default=None, sort_keys: bool = False) -> None:
    """Write ``obj`` as indented JSON atomically."""
    text = json.dumps(obj, indent=2, default=default, sort_keys=sort_keys, allow_nan=True)
    write_text(path, text + "\n")
