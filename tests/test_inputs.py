"""Inputs that used to go wrong (issue 18): a checkout path with a space or a quote,
series with gaps or unequal lengths, a full disk, a training split of one class.

A full disk is a real tmpfs where the test may mount one (root), else a write
monkeypatched to raise ENOSPC; both run where they can. Tiny data the tests make; the
segments and end-to-end tests use the real data beside the checkout (``shared_data``).
"""

from __future__ import annotations

import ast
import errno
import json
import logging
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO, tiny_dataset, write_ucr_tsv
from ecgrepro import cli, io, store
from ecgrepro.data.ucr import check_split, load_splits, read_split
from ecgrepro.errors import DataError, DiskFullError

# --- 1. every path and parameter that reaches a shell is quoted ----------------------


def shell_commands() -> dict[str, str]:
    """``rule -> shell command`` of every rule, the string literals joined."""
    out = {}
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        rule, lines = None, smk.read_text().splitlines()
        for i, line in enumerate(lines):
            if m := re.match(r"^(?:rule|use rule \w+ as) (\w+)", line):
                rule = m[1]
            if line.strip() != "shell:":
                continue
            parts = []
            for nxt in lines[i + 1:]:
                s = nxt.strip()
                if s.startswith("#"):
                    continue
                if not s.startswith(('"', "'")):
                    break
                parts.append(ast.literal_eval(s))
            out[f"{smk.name}:{rule}"] = "".join(parts)
    return out


def test_every_shell_placeholder_is_quoted():
    commands = shell_commands()
    assert len(commands) >= 19, sorted(commands)  # every rule with a shell command
    for rule, cmd in commands.items():
        fields = re.findall(r"(?<!\{)\{([^{}]+)\}(?!\})", cmd)
        unquoted = [f for f in fields if not f.endswith(":q")]
        assert not unquoted, f"{rule}: {unquoted} reach the shell unquoted"
        # a command substitution of a path is quoted as a whole too
        assert not re.search(r'(?<!")\$\(dirname', cmd), f"{rule}: unquoted $(dirname ...)"


def test_shell_prefix_quotes_the_checkout_path():
    common = (REPO / "workflow/rules/common.smk").read_text()
    prefix = common.split("shell.prefix(", 1)[1].split("\n)", 1)[0]
    assert "shlex.quote(PACKAGE_ROOT)" in prefix and "'{PACKAGE_ROOT}'" not in prefix


# --- 2. missing values and series of unequal length ----------------------------------


def znorm(rng, n, length):
    X = rng.normal(size=(n, length))
    return (X - X.mean(1, keepdims=True)) / X.std(1, ddof=1, keepdims=True)


def write_rows(path: Path, X, y) -> Path:
    """A UCR TSV; NaN written as the archive writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join([str(lab), *("NaN" if np.isnan(v) else f"{v:.8g}" for v in row)])
             for lab, row in zip(y, X)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def gappy(tmp_path):
    """A mirror with MyNaN (one NaN in training series 4, position 11) and MyShort
    (training series 6 of 40 values, the others 50, padded with NaN)."""
    rng = np.random.default_rng(1)
    labels = [str(1 + i % 2) for i in range(8)]
    mirror = tmp_path / "mirror"
    X = znorm(rng, 8, 50)
    X[3, 10] = np.nan
    write_rows(mirror / "ucr/MyNaN/MyNaN_TRAIN.tsv", X, labels)
    write_rows(mirror / "ucr/MyNaN/MyNaN_TEST.tsv", znorm(rng, 8, 50), labels)
    X = znorm(rng, 8, 50)
    X[5, :40] = znorm(rng, 1, 40)
    X[5, 40:] = np.nan
    write_rows(mirror / "ucr/MyShort/MyShort_TRAIN.tsv", X, labels)
    write_rows(mirror / "ucr/MyShort/MyShort_TEST.tsv", znorm(rng, 8, 50), labels)
    return mirror


def fetch_ucr(mirror, work, name, split="TRAIN"):
    """Run the fetch-ucr job in-process: (return code, dest, lock)."""
    dest = work / f"resources/data/ucr/{name}/{name}_{split}.tsv"
    lock = work / "resources/data/sha256.lock"
    rc = cli.main(["fetch-ucr", "--name", name, "--split", split, "--format", "tsv",
                   "--dest", str(dest), "--lock", str(lock), "--mirror", str(mirror),
                   "--attempts", "1"])
    return rc, dest, lock


@pytest.mark.parametrize("name, problem", [
    ("MyNaN", "MyNaN TRAIN ({src}): series 4 has a missing value (NaN) at position 11 "),
    ("MyShort", "MyShort TRAIN ({src}): series 6 has 40 values, the others 50 "),
])
def test_gaps_and_short_series_are_named_and_nothing_is_kept(gappy, tmp_path, caplog,
                                                             name, problem):
    caplog.set_level(logging.ERROR)
    rc, dest, lock = fetch_ucr(gappy, tmp_path / "work", name)
    text = caplog.text
    src = gappy / f"ucr/{name}/{name}_TRAIN.tsv"
    assert rc == 1 and problem.format(src=src) in text, text
    assert "equal length without missing values" in text
    assert "equal-length version" in text and "resample" in text
    assert "not z-normalised" not in text and "corrupted digit" not in text
    assert not dest.exists() and not list(dest.parent.glob("*.partial"))
    assert name not in (lock.read_text() if lock.exists() else "")


def test_gaps_are_refused_when_the_files_are_prepared_too(gappy):
    """Files obtained before the check existed: verify/prepare refuse them as well."""
    with pytest.raises(DataError, match=r"MyNaN TRAIN \(.*MyNaN_TRAIN.tsv\): series 4 has a "
                                        r"missing value \(NaN\) at position 11 "):
        load_splits("MyNaN", gappy / "ucr/MyNaN/MyNaN_TRAIN.tsv",
                    gappy / "ucr/MyNaN/MyNaN_TEST.tsv")


def test_several_gaps_list_positions_and_stop_at_five():
    rng = np.random.default_rng(2)
    X = znorm(rng, 9, 30)
    X[0, [2, 4]] = np.nan
    for i in range(1, 8):
        X[i, 25:] = np.nan
    with pytest.raises(DataError) as err:
        check_split("Gaps", "TEST", X, np.array(["1", "2"] * 4 + ["1"]))
    msg = str(err.value)
    assert "series 1 has 2 missing values (NaN) at positions 3, 5" in msg
    assert "series 2 has 25 values, the others 30" in msg and "; and 3 more" in msg


def test_a_changed_digit_still_reads_as_one():
    """The new checks come first, and do not take over the z-normalisation message."""
    rng = np.random.default_rng(3)
    X = znorm(rng, 8, 40)
    X[2, 5] += 0.5
    with pytest.raises(DataError, match=r"series 3 \(1-based\) not z-normalised"):
        check_split("Digit", "TRAIN", X, np.array(["1", "2"] * 4))


# --- 4. one class in training ----------------------------------------------------------


def test_one_class_in_training_is_refused_when_fetched(tmp_path, caplog):
    caplog.set_level(logging.ERROR)
    Xtr, _, Xte, yte = tiny_dataset(n_train=6, n_test=6, labels=("a", "b"))
    mirror = tmp_path / "mirror"
    write_ucr_tsv(mirror / "ucr/OneClass/OneClass_TRAIN.tsv", Xtr, ["a"] * 6)
    write_ucr_tsv(mirror / "ucr/OneClass/OneClass_TEST.tsv", Xte, ["a"] * 6)
    rc, dest, lock = fetch_ucr(mirror, tmp_path / "work", "OneClass")
    assert rc == 1
    assert "OneClass TRAIN (" in caplog.text and "only class 'a' in 6 training" in caplog.text
    assert "at least two classes in training" in caplog.text
    assert not dest.exists() and not lock.exists()
    # the test split may hold one class: it is fetched
    assert fetch_ucr(mirror, tmp_path / "work", "OneClass", "TEST")[0] == 0


def test_one_class_in_training_is_refused_when_prepared(tmp_path):
    Xtr, _, Xte, _ = tiny_dataset(n_train=6, n_test=6)
    train = write_ucr_tsv(tmp_path / "One_TRAIN.tsv", Xtr, ["7"] * 6)
    test = write_ucr_tsv(tmp_path / "One_TEST.tsv", Xte, ["7"] * 6)
    with pytest.raises(DataError, match=r"One TRAIN \(.*One_TRAIN.tsv\): only class '7' "
                                        r"in 6 training series; a classifier needs at "
                                        r"least two classes in training"):
        load_splits("One", train, test)


# --- 3. a full disk --------------------------------------------------------------------


@pytest.fixture
def small_fs(tmp_path):
    """A 1 MiB tmpfs (root, where mount works), else a skip that says why."""
    where = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
                             capture_output=True, text=True) if shutil.which("mount") else None
    if mounted is None or mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the monkeypatched tests stand "
                    "in for it")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def one_line(text: str) -> str:
    errors = [line for line in text.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "Traceback" not in text, text
    return errors[0]


def check_full_disk_message(msg: str, path) -> None:
    assert f"no space left on device writing {path} (" in msg, msg
    assert re.search(r"\((\d+ bytes|[\d.]+ [KMG]iB) free on its filesystem\)", msg), msg
    assert "Free space there" in msg and "rerun" in msg and "\n" not in msg


def test_full_tmpfs_write_is_one_line_and_leaves_nothing(small_fs):
    target = small_fs / "big.txt"
    with pytest.raises(DiskFullError) as err:
        io.write_text(target, "x" * (2 << 20))
    check_full_disk_message(str(err.value), target)
    assert list(small_fs.iterdir()) == []  # no partial file
    io.write_text(target, "x" * (256 << 10))  # room enough now: written whole
    assert target.stat().st_size == 256 << 10


class _FullFile:
    """A file object whose writes fail as on a full disk."""

    def __init__(self, real):
        self.real = real

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def full_open(real_open):
    def fake(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        return _FullFile(fh) if ("w" in mode or "a" in mode) else fh
    return fake


def test_monkeypatched_full_disk_in_the_shared_writer(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "open", full_open(open), raising=False)
    target = tmp_path / "out/table.csv"
    with pytest.raises(DiskFullError) as err:
        io.write_text(target, "a,b\n")
    check_full_disk_message(str(err.value), target)
    assert list(target.parent.iterdir()) == []


def test_full_disk_in_a_run_directory_names_it(tmp_path, monkeypatch):
    """Writers into store.atomic_dir (k-NN, training) name the run directory."""
    run = tmp_path / "results/knn/Tiny/euclidean-0123456789"
    with pytest.raises(DiskFullError) as err:
        with store.atomic_dir(run) as tmp:
            (tmp / "a.csv").write_text("1\n")
            raise OSError(errno.ENOSPC, "No space left on device")
    check_full_disk_message(str(err.value), run)
    assert not run.exists() and list(run.parent.iterdir()) == []


def test_full_disk_while_fetching_keeps_neither_file_nor_lock_line(tmp_path, monkeypatch,
                                                                    caplog):
    from ecgrepro.data import fetch

    caplog.set_level(logging.ERROR)
    Xtr, ytr, _, _ = tiny_dataset()
    write_ucr_tsv(tmp_path / "mirror/ucr/Tiny/Tiny_TRAIN.tsv", Xtr, ytr)

    def full_copy(src, dst):
        Path(dst).write_bytes(b"1\t0.5")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fetch.shutil, "copyfile", full_copy)
    rc, dest, lock = fetch_ucr(tmp_path / "mirror", tmp_path / "work", "Tiny")
    assert rc == 1
    check_full_disk_message(one_line(caplog.text), dest)
    assert not dest.exists() and not list(dest.parent.glob("*.partial"))
    assert not lock.exists()


def test_lock_line_is_undone_when_the_disk_fills(tmp_path, monkeypatch):
    from ecgrepro.data import fetch

    lock = fetch.Lock(tmp_path / "sha256.lock")
    lock.record("ucr/A/A_TRAIN.tsv", "0" * 64, 10, "src")
    before = lock.path.read_bytes()
    real_write = fetch.os.write

    def half_then_full(fd, data):
        if len(data) > 20:
            return real_write(fd, data[:20])  # a short write, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fetch.os, "write", half_then_full)
    with pytest.raises(DiskFullError, match=re.escape(f"writing {lock.path} (")):
        lock.record("ucr/B/B_TRAIN.tsv", "1" * 64, 10, "src")
    assert lock.path.read_bytes() == before  # no half line


def test_cli_turns_any_other_full_disk_into_one_line(tmp_path, monkeypatch, caplog):
    """A full disk outside the write helpers (a framework's own file) is one line too."""
    caplog.set_level(logging.ERROR)

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli, "cmd_verify_ucr", full)
    rc = cli.main(["verify-ucr", "--name", "X", "--train", "a", "--test", "b", "--lock", "l",
                   "--out", "o"])
    assert rc == 1
    msg = one_line(caplog.text)
    assert "no space left on device writing the outputs of ecgrepro verify-ucr (" in msg
    assert "Snakemake removes the outputs of the failed job" in msg  # no false claim


def segments_args(tmp_path, npz: Path, mirror: Path) -> list[str]:
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())["mitdb_segments"]
    return ["mitdb-segments", "--checksums", str(mirror / "mitdb/SHA256SUMS.txt"),
            "--records", "100", "119", "--config", json.dumps(cfg), "--npz", str(npz),
            "--counts-by-class", str(tmp_path / "by_class.csv"),
            "--counts-by-record", str(tmp_path / "by_record.csv")]


@pytest.mark.shared_data
def test_segments_on_a_full_tmpfs_one_line_then_a_rerun_completes(small_fs, tmp_path,
                                                                  shared_data, caplog):
    """The observed failure: mitdb_segments on a small filesystem."""
    caplog.set_level(logging.ERROR)
    filler = small_fs / "filler"
    filler.write_bytes(b"\0" * (700 << 10))  # ~300 KiB left; the segments take ~560
    npz = small_fs / "resources/prepared/mitdb/segments.npz"
    assert cli.main(segments_args(tmp_path, npz, shared_data)) == 1
    check_full_disk_message(one_line(caplog.text), npz)
    assert not npz.exists() and list(npz.parent.iterdir()) == []  # nothing partial

    filler.unlink()  # space freed: the rerun completes, the same arrays as on a big disk
    assert cli.main(segments_args(tmp_path, npz, shared_data)) == 0
    big = tmp_path / "big/segments.npz"
    assert cli.main(segments_args(tmp_path, big, shared_data)) == 0
    with np.load(npz) as a, np.load(big) as b:
        assert sorted(a.files) == sorted(b.files)
        assert all(np.array_equal(a[k], b[k]) for k in a.files)


@pytest.mark.shared_data
def test_segments_with_a_monkeypatched_full_disk(tmp_path, shared_data, monkeypatch, caplog):
    from ecgrepro.data import segments

    caplog.set_level(logging.ERROR)
    monkeypatch.setattr(segments, "open", full_open(open), raising=False)
    npz = tmp_path / "resources/prepared/mitdb/segments.npz"
    assert cli.main(segments_args(tmp_path, npz, shared_data)) == 1
    check_full_disk_message(one_line(caplog.text), npz)
    assert list(npz.parent.iterdir()) == []


def test_read_split_of_the_archive_padding_keeps_positions(gappy):
    """The padding NaN stays where the file has it, so positions are the file's."""
    X, _ = read_split(gappy / "ucr/MyShort/MyShort_TRAIN.tsv")
    assert np.isnan(X[5, 40:]).all() and not np.isnan(X[5, :40]).any()
