"""Files written whole or not at all.

Every output of the suite is written beside its target and renamed into place, so a
killed job never leaves a half-written file that looks finished. Files get the
permissions of an ordinary file (0644 less the umask), not the 0600 of a temporary file:
results on a shared filesystem are for the whole group to read. A whole run directory
is written the same way by :func:`ecgrepro.store.atomic_dir`.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replacing", "write_json", "write_text"]


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def replacing(path: str | Path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
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
