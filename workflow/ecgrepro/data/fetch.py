"""Obtain one file from a URL or a local mirror, verify it, never leave a partial file.

Every file goes to ``<dest>.partial`` first, is checked (size, sha256) and only then
renamed into place, so a rerun after any failure starts from nothing. Transient HTTP
failures (5xx, 429, connection resets, truncated bodies) are retried with exponential
backoff; a 404 or a checksum mismatch is final and says what to do.
"""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import os
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from pathlib import Path
from urllib.parse import quote, urlparse

from ecgrepro.errors import ChecksumError, DownloadError
from ecgrepro.io import naming_full_disk

CHUNK = 1 << 20
USER_AGENT = "ecgrepro (+https://github.com/ecgrepro/ecgrepro) python-urllib"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up on a transient failure."""

    attempts: int = 4
    backoff_seconds: float = 2.0
    timeout_seconds: float = 60.0


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def join_source(base: str, relpath: str) -> str:
    """Join a mirror (directory, file:// or http(s) URL) and a relative path."""
    if urlparse(base).scheme in ("http", "https", "file"):
        return base.rstrip("/") + "/" + quote(relpath)
    return str(Path(base) / relpath)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code in (408, 429)
    return isinstance(
        exc,
        (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError),
    )


def _copy_url(url: str, tmp: Path, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
        expected = response.headers.get("Content-Length")
        written = 0
        for block in iter(lambda: response.read(CHUNK), b""):
            out.write(block)
            written += len(block)
    # http.client raises IncompleteRead for most short bodies; this catches the rest.
    if expected is not None and written != int(expected):
        raise http.client.IncompleteRead(b"", int(expected) - written)


def _copy_local(source: str, tmp: Path) -> None:
    path = Path(urlparse(source).path if source.startswith("file://") else source)
    if not path.is_file():
        raise FileNotFoundError(path)
    shutil.copyfile(path, tmp)


def _not_found_message(source: str, what: str) -> str:
    return (
        f"{what} is not at {source}. If you use a mirror (config key data_mirror), it "
        "lacks this file: add it with the layout ucr/<Name>/<Name>_{TRAIN,TEST}.tsv and "
        "mitdb/<file>, or unset data_mirror to download from the public source. If the "
        "name is misspelt, correct it in config (ucr_datasets, mitdb_records)."
    )


def fetch(
    source: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    what: str | None = None,
    retry: RetryPolicy = RetryPolicy(),
    sleep=time.sleep,
    check=None,
    pinned: bool = False,
    lock: str | None = None,
) -> str:
    """Copy ``source`` to ``dest`` through a temporary file, verify it, rename it.

    Parameters
    ----------
    source : str
        An http(s) or file URL, or a local path.
    dest : str or Path
        Final location; only ever holds a complete, verified file.
    sha256, size : optional
        Expected digest and byte count; a mismatch raises :class:`ChecksumError`.
    what : str, optional
        How to name the file in messages; defaults to ``dest``.
    retry : RetryPolicy
        Attempts and backoff for transient failures.
    sleep : callable
        Injected for tests.
    check : callable, optional
        ``check(tmp_path)`` runs on the downloaded file after the digest check and
        raises :class:`~ecgrepro.errors.DataError` to reject it (parse, metadata); a
        rejected file is deleted, never renamed into place.
    pinned : bool
        ``sha256`` is a published digest (shipped in the package or listed by the
        source's own checksum file) rather than one recorded on first use: the
        mismatch message then advises accordingly.
    lock : str, optional
        The lock file's path, for messages.

    Returns
    -------
    str
        The sha256 of the file now at ``dest``.
    """
    dest = Path(dest)
    what = what or str(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    is_remote = urlparse(source).scheme in ("http", "https")
    last_error: BaseException | None = None
    for attempt in range(1, retry.attempts + 1):
        tmp.unlink(missing_ok=True)
        try:
            with naming_full_disk(dest):  # one line naming dest, not a traceback
                if is_remote:
                    _copy_url(source, tmp, retry.timeout_seconds)
                else:
                    _copy_local(source, tmp)
            break
        except urllib.error.HTTPError as exc:
            tmp.unlink(missing_ok=True)
            if exc.code == 404:
                raise DownloadError(_not_found_message(source, what)) from exc
            if not _is_transient(exc):
                raise DownloadError(f"{what}: {source} answered HTTP {exc.code}.") from exc
            last_error = exc
        except FileNotFoundError as exc:
            raise DownloadError(_not_found_message(source, what)) from exc
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            if not _is_transient(exc):
                raise
            last_error = exc
        if attempt < retry.attempts:
            sleep(retry.backoff_seconds * 2 ** (attempt - 1))
    else:
        raise DownloadError(
            f"{what}: {retry.attempts} attempts to get {source} failed; last error: "
            f"{type(last_error).__name__}: {last_error}. Check the network or the mirror "
            "and rerun, or set config key data_mirror to a local copy; nothing partial was kept."
        ) from last_error

    try:
        actual_size = tmp.stat().st_size
        if size is not None and actual_size != size:
            raise ChecksumError(
                f"{what}: got {actual_size} bytes from {source}, expected {size}. The "
                "download was truncated or the source changed; rerun to try again."
            )
        digest = sha256_of(tmp)
        if sha256 is not None and digest != sha256:
            raise ChecksumError(
                mismatch_message(what, sha256, digest, source=source, pinned=pinned, lock=lock)
            )
        if check is not None:
            check(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(dest)
    return digest


def mismatch_message(
    what: str,
    expected: str,
    actual: str,
    source: str | None = None,
    *,
    pinned: bool = False,
    lock: str | None = None,
) -> str:
    """The one message for a checksum mismatch, with advice that works for the file.

    Parameters
    ----------
    what : str
        The file (relative path for downloads, path on disk otherwise).
    source : str, optional
        Where a download came from; None for a file already on disk.
    pinned : bool
        The expected digest is published (package or the source's checksum list):
        editing the lock cannot help, only the right file can.
    lock : str, optional
        The lock file that recorded ``expected`` on first use (when not pinned).
    """
    head = f"sha256 mismatch for {what}"
    if source:
        head += f" from {source}"
    head += f": expected {expected}, got {actual}."
    if pinned:
        if source:
            return (
                f"{head} Nothing was kept. The expected digest is the published one "
                "(pinned in the package or the source's checksum list): the file served "
                "differs from the published file. Fix or replace the mirror's copy, or "
                "unset data_mirror to download the public one, then rerun."
            )
        return (
            f"{head} The file differs from the published one (digest pinned in the "
            f"package or the source's checksum list). Delete {what} and rerun (snakemake "
            "data) to fetch it again; if it came from a mirror, fix the mirror's copy first."
        )
    lock = lock or "resources/data/sha256.lock"
    if source:
        return (
            f"{head} Nothing was kept. The expected digest was recorded in {lock} when "
            "the file was first obtained. Either the source now serves a different or "
            "damaged file (check it, then rerun), or the first file was the bad one: "
            f"once you have checked the new file, remove the line of {what} from {lock} "
            "and rerun to accept it."
        )
    return (
        f"{head} The file was changed after it was obtained (digest recorded in "
        f"{lock}). Delete {what} and rerun (snakemake data): only this file is fetched "
        "again, and nothing made from it reruns."
    )


def verify(path: str | Path, expected: str, *, pinned: bool = False, lock=None) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the sha256 ``expected``."""
    path = Path(path)
    if not path.is_file():
        raise ChecksumError(
            f"{path} is missing. Rerun the workflow to fetch it (snakemake data)."
        )
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumError(
            mismatch_message(str(path), expected, actual, pinned=pinned, lock=lock)
        )


@cache
def known_sha256() -> dict[str, str]:
    """Digests shipped with the package, keyed by path relative to the data root."""
    text = resources.files("ecgrepro.data").joinpath("known_sha256.tsv").read_text()
    rows = [line.split("\t") for line in text.splitlines() if line and line[0] != "#"]
    return {row[0]: row[1] for row in rows}


class Lock:
    """A lock file of ``relpath<TAB>sha256<TAB>bytes<TAB>source<TAB>utc`` lines.

    The first time a file is obtained its digest is recorded here; every later fetch
    or use of the same path must match. Writers hold an exclusive ``flock`` so that
    parallel jobs can record their files safely.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def entries(self) -> dict[str, str]:
        if not self.path.is_file():
            return {}
        rows = [line.split("\t") for line in self.path.read_text().splitlines() if line]
        return {row[0]: row[1] for row in rows if not row[0].startswith("#")}

    def expected(self, relpath: str) -> str | None:
        """The package-known or recorded digest of ``relpath``, if any."""
        return known_sha256().get(relpath) or self.entries().get(relpath)

    @staticmethod
    def is_pinned(relpath: str) -> bool:
        """True when the package ships the digest of ``relpath`` (the lock cannot override it)."""
        return relpath in known_sha256()

    def forget(self, relpath: str) -> bool:
        """Remove the line of ``relpath``: a file recorded on first use failed a later check.

        Returns True when a line was removed.
        """
        if not self.path.is_file():
            return False
        with open(self.path, "r+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            lines = fh.read().splitlines(keepends=True)
            kept = [line for line in lines if line.split("\t")[0] != relpath]
            if len(kept) == len(lines):
                return False
            fh.seek(0)
            fh.writelines(kept)
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
        return True

    def record(self, relpath: str, sha256: str, nbytes: int, source: str) -> None:
        with naming_full_disk(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a+") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                fh.seek(0)
                if any(line.split("\t")[0] == relpath for line in fh.read().splitlines()):
                    return
                size = os.fstat(fh.fileno()).st_size
                stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                text = f"{relpath}\t{sha256}\t{nbytes}\t{source}\t{stamp}\n"
                if size == 0:
                    text = "# relpath\tsha256\tbytes\tsource\tobtained_utc\n" + text
                data = text.encode()
                try:  # unbuffered appends, undone if one fails (a full disk)
                    done = 0
                    while done < len(data):
                        done += os.write(fh.fileno(), data[done:])
                    os.fsync(fh.fileno())
                except OSError:
                    os.ftruncate(fh.fileno(), size)
                    raise

    def verify(self, relpath: str, path: str | Path) -> str:
        """Check ``path`` against the digest recorded for ``relpath``; return it."""
        expected = self.expected(relpath)
        if expected is None:
            raise ChecksumError(
                f"{path} has no recorded sha256 in {self.path}: it was not obtained by "
                "this workflow. Delete it and rerun (snakemake data) to fetch and record it."
            )
        verify(path, expected, pinned=self.is_pinned(relpath), lock=str(self.path))
        return expected


def check_mirror_dir(mirror: str | None) -> None:
    """A local mirror (path or file:// URL) that is not a directory: one clear error."""
    if not mirror or urlparse(mirror).scheme in ("http", "https"):
        return
    root = Path(urlparse(mirror).path if mirror.startswith("file://") else mirror)
    if not root.is_dir():
        raise DownloadError(
            f"the mirror directory {root} (config key data_mirror) does not exist. Give "
            "the directory that holds ucr/ and mitdb/, or unset data_mirror to download."
        )


def fetch_locked(
    source: str,
    dest: str | Path,
    relpath: str,
    lock: Lock,
    *,
    retry: RetryPolicy = RetryPolicy(),
    expected: str | None = None,
    check=None,
) -> str:
    """Fetch ``source`` to ``dest``, checked against (or recorded in) ``lock``.

    The digest is recorded only after the file passed every check: its size and
    digest, then ``check`` (parse, metadata). A file that fails any of them is
    neither kept nor recorded, so fixing the source and rerunning just works.
    ``expected`` given by the caller (a source's own checksum list) counts as pinned.
    """
    pinned = expected is not None or lock.is_pinned(relpath)
    expected = expected or lock.expected(relpath)
    digest = fetch(
        source, dest, sha256=expected, what=relpath, retry=retry, check=check,
        pinned=pinned, lock=str(lock.path),
    )
    lock.record(relpath, digest, Path(dest).stat().st_size, source)
    return digest
