"""Downloads against a server on 127.0.0.1 and local mirrors: success and every failure."""

import hashlib

import pytest

from ecgrepro.data.fetch import Lock, RetryPolicy, fetch, fetch_locked, join_source, verify
from ecgrepro.errors import ChecksumError, DownloadError

BODY = b"1\t0.5\t-0.5\n2\t-0.5\t0.5\n" * 50
DIGEST = hashlib.sha256(BODY).hexdigest()
FAST = RetryPolicy(attempts=3, backoff_seconds=0.01, timeout_seconds=5)


def no_partials(folder):
    return not list(folder.glob("*.partial"))


def test_success(http_server, tmp_path):
    base, routes, _ = http_server
    routes["/ucr/A/A_TRAIN.tsv"] = [(200, BODY, None)]
    digest = fetch(join_source(base, "ucr/A/A_TRAIN.tsv"), tmp_path / "A.tsv", sha256=DIGEST)
    assert digest == DIGEST and (tmp_path / "A.tsv").read_bytes() == BODY


def test_404_is_final_and_says_what_to_do(http_server, tmp_path):
    base, _, hits = http_server
    with pytest.raises(DownloadError, match="data_mirror"):
        fetch(f"{base}/ucr/Nope/Nope_TRAIN.tsv", tmp_path / "x.tsv", retry=FAST)
    assert hits["/ucr/Nope/Nope_TRAIN.tsv"] == 1  # not retried
    assert not (tmp_path / "x.tsv").exists() and no_partials(tmp_path)


def test_truncated_body_is_retried_then_fails_leaving_nothing(http_server, tmp_path):
    base, routes, hits = http_server
    routes["/t"] = [(200, BODY[:100], len(BODY))]
    with pytest.raises(DownloadError, match="3 attempts"):
        fetch(f"{base}/t", tmp_path / "t.tsv", retry=FAST)
    assert hits["/t"] == 3
    assert not (tmp_path / "t.tsv").exists() and no_partials(tmp_path)


def test_truncated_once_then_complete(http_server, tmp_path):
    base, routes, _ = http_server
    routes["/t"] = [(200, BODY[:100], len(BODY)), (200, BODY, None)]
    assert fetch(f"{base}/t", tmp_path / "t.tsv", sha256=DIGEST, retry=FAST) == DIGEST


def test_wrong_checksum_names_file_and_both_digests(http_server, tmp_path):
    base, routes, _ = http_server
    routes["/c"] = [(200, BODY + b"x", None)]
    with pytest.raises(ChecksumError) as err:
        fetch(f"{base}/c", tmp_path / "c.tsv", sha256=DIGEST, what="ucr/A/A_TEST.tsv")
    message = str(err.value)
    actual = hashlib.sha256(BODY + b"x").hexdigest()
    assert "ucr/A/A_TEST.tsv" in message and DIGEST in message and actual in message
    assert not (tmp_path / "c.tsv").exists() and no_partials(tmp_path)


def test_wrong_size_is_caught(http_server, tmp_path):
    base, routes, _ = http_server
    routes["/s"] = [(200, BODY, None)]
    with pytest.raises(ChecksumError, match="expected 10"):
        fetch(f"{base}/s", tmp_path / "s.tsv", size=10)


def test_one_transient_503_then_success(http_server, tmp_path):
    base, routes, hits = http_server
    routes["/r"] = [(503, b"busy", None), (200, BODY, None)]
    waits = []
    digest = fetch(f"{base}/r", tmp_path / "r.tsv", sha256=DIGEST, retry=FAST, sleep=waits.append)
    assert digest == DIGEST and hits["/r"] == 2 and waits == [FAST.backoff_seconds]


def test_backoff_doubles(http_server, tmp_path):
    base, routes, _ = http_server
    routes["/b"] = [(503, b"", None)]
    waits = []
    with pytest.raises(DownloadError):
        fetch(f"{base}/b", tmp_path / "b", retry=RetryPolicy(4, 1.0, 5), sleep=waits.append)
    assert waits == [1.0, 2.0, 4.0]


def test_rerun_never_reuses_a_half_written_file(http_server, tmp_path):
    base, routes, _ = http_server
    routes["/h"] = [(200, BODY, None)]
    (tmp_path / "h.tsv.partial").write_bytes(b"stale half download")
    assert fetch(f"{base}/h", tmp_path / "h.tsv", sha256=DIGEST) == DIGEST
    assert no_partials(tmp_path)


def test_local_mirror_and_missing_file(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "ucr" / "A").mkdir(parents=True)
    (mirror / "ucr" / "A" / "A_TRAIN.tsv").write_bytes(BODY)
    out = tmp_path / "out"
    assert fetch(join_source(str(mirror), "ucr/A/A_TRAIN.tsv"), out / "a.tsv") == DIGEST
    with pytest.raises(DownloadError, match=r"ucr/B/B_TRAIN.tsv.*mirror"):
        fetch(join_source(str(mirror), "ucr/B/B_TRAIN.tsv"), out / "b.tsv", what="ucr/B/B_TRAIN.tsv")


def test_lock_records_first_digest_and_enforces_it(http_server, tmp_path):
    base, routes, _ = http_server
    routes["/a"] = [(200, BODY, None)]
    lock = Lock(tmp_path / "sha256.lock")
    fetch_locked(f"{base}/a", tmp_path / "a.tsv", "ucr/A/A_TRAIN.tsv", lock)
    assert lock.expected("ucr/A/A_TRAIN.tsv") == DIGEST
    # The source changes: the lock refuses the new bytes.
    routes["/a"] = [(200, BODY + b"changed", None)]
    (tmp_path / "a.tsv").unlink()
    with pytest.raises(ChecksumError, match="remove the line of ucr/A/A_TRAIN.tsv"):
        fetch_locked(f"{base}/a", tmp_path / "a.tsv", "ucr/A/A_TRAIN.tsv", lock)
    assert not (tmp_path / "a.tsv").exists()


def test_a_file_that_fails_its_check_is_neither_kept_nor_locked(http_server, tmp_path):
    from ecgrepro.errors import DataError

    base, routes, _ = http_server
    routes["/a"] = [(200, BODY, None)]
    lock = Lock(tmp_path / "sha256.lock")

    def reject(path):
        raise DataError("does not parse")

    with pytest.raises(DataError, match="does not parse"):
        fetch_locked(f"{base}/a", tmp_path / "a.tsv", "ucr/A/A_TRAIN.tsv", lock, check=reject)
    assert lock.expected("ucr/A/A_TRAIN.tsv") is None
    assert not (tmp_path / "a.tsv").exists() and no_partials(tmp_path)
    # The source is fixed (here: the check passes): the file is accepted and recorded.
    fetch_locked(f"{base}/a", tmp_path / "a.tsv", "ucr/A/A_TRAIN.tsv", lock, check=lambda p: None)
    assert lock.expected("ucr/A/A_TRAIN.tsv") == DIGEST


def test_pinned_digest_advice_is_to_fix_the_file_not_the_lock(http_server, tmp_path):
    base, routes, _ = http_server
    routes["/SHA256SUMS.txt"] = [(200, BODY, None)]
    lock = Lock(tmp_path / "sha256.lock")
    with pytest.raises(ChecksumError) as err:
        fetch_locked(f"{base}/SHA256SUMS.txt", tmp_path / "S.txt", "mitdb/SHA256SUMS.txt", lock)
    assert "differs from the published file" in str(err.value)
    assert "remove" not in str(err.value) and "lock" not in str(err.value)
    path = tmp_path / "S.txt"
    path.write_bytes(BODY)
    with pytest.raises(ChecksumError) as err:
        lock.verify("mitdb/SHA256SUMS.txt", path)
    assert f"Delete {path} and rerun" in str(err.value) and "published" in str(err.value)


def test_forget_removes_only_that_line(tmp_path):
    lock = Lock(tmp_path / "sha256.lock")
    lock.record("ucr/A/A_TRAIN.tsv", DIGEST, 1, "x")
    lock.record("ucr/A/A_TEST.tsv", DIGEST, 1, "x")
    assert lock.forget("ucr/A/A_TRAIN.tsv") and not lock.forget("ucr/A/A_TRAIN.tsv")
    assert set(lock.entries()) == {"ucr/A/A_TEST.tsv"}


def test_flipped_byte_is_detected(tmp_path):
    path = tmp_path / "f.dat"
    path.write_bytes(BODY)
    data = bytearray(BODY)
    data[7] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=rf"f.dat: expected {DIGEST}, got [0-9a-f]{{64}}"):
        verify(path, DIGEST)
