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
            raise ChecksumError(mismatch_message(what, sha256, digest, source=source))
    except ChecksumError:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(dest)
    return digest


def mismatch_message(what: str, expected: str, actual: str, source: str | None = None) -> str:
    """The one message for a checksum mismatch, wherever it is found."""
    if source:
        return (
            f"sha256 mismatch for {what} downloaded from {source}: expected {expected}, "
            f"got {actual}. Nothing was kept. The source or mirror serves a different or "
            "damaged file: check it, then rerun. If a dataset was deliberately replaced, "
            "remove its line from the lock file (resources/data/sha256.lock) to accept it."
        )
    return (
        f"sha256 mismatch for {what}: expected {expected}, got {actual}. The file is "
        "corrupt or was changed after it was obtained. Delete it and rerun: only this "
        "file is fetched again."
    )


def verify(path: str | Path, expected: str) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the sha256 ``expected``."""
    path = Path(path)
    if not path.is_file():
        raise ChecksumError(
            f"{path} is missing. Rerun the workflow to fetch it (snakemake data)."
        )
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumError(mismatch_message(str(path), expected, actual))


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
        """The recorded or package-known digest of ``relpath``, if any."""
        return self.entries().get(relpath) or known_sha256().get(relpath)

    def record(self, relpath: str, sha256: str, nbytes: int, source: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            if any(line.split("\t")[0] == relpath for line in fh.read().splitlines()):
                return
            if fh.tell() == 0:
                fh.write("# relpath\tsha256\tbytes\tsource\tobtained_utc\n")
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            fh.write(f"{relpath}\t{sha256}\t{nbytes}\t{source}\t{stamp}\n")
            fh.flush()
            os.fsync(fh.fileno())

    def verify(self, relpath: str, path: str | Path) -> str:
        """Check ``path`` against the digest recorded for ``relpath``; return it."""
        expected = self.expected(relpath)
        if expected is None:
            raise ChecksumError(
                f"{path} has no recorded sha256 in {self.path}: it was not obtained by "
                "this workflow. Delete it and rerun (snakemake data) to fetch and record it."
            )
        verify(path, expected)
        return expected


def fetch_locked(
    source: str,
    dest: str | Path,
    relpath: str,
    lock: Lock,
    *,
    retry: RetryPolicy = RetryPolicy(),
    expected: str | None = None,
) -> str:
    """Fetch ``source`` to ``dest``, checked against (or recorded in) ``lock``."""
    expected = expected or lock.expected(relpath)
    digest = fetch(source, dest, sha256=expected, what=relpath, retry=retry)
    lock.record(relpath, digest, Path(dest).stat().st_size, source)
    return digest
