"""MIT-BIH reading on a tiny record the test writes with wfdb, and the real database."""

import numpy as np
import pandas as pd
import pytest
import wfdb

from ecgrepro.data.mitdb import (
    ALL_RECORDS,
    annotation_counts,
    beat_counts,
    check_records,
    expected_sha256,
    read_checksums,
    record_table,
)
from ecgrepro.errors import DataError


@pytest.fixture
def tiny_record(tmp_path):
    """Record 900: two leads, 2 s at 360 Hz, five beats and two non-beat marks."""
    fs = 360
    t = np.arange(2 * fs) / fs
    signal = np.stack([np.sin(2 * np.pi * t), np.cos(2 * np.pi * t)], axis=1)
    wfdb.wrsamp(
        "900", fs=fs, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=signal,
        fmt=["212", "212"], write_dir=str(tmp_path),
    )
    samples = np.array([10, 100, 200, 300, 400, 500, 600])
    symbols = ["+", "N", "N", "V", "A", "~", "N"]
    wfdb.wrann("900", "atr", samples, symbol=symbols, aux_note=["(N"] + [""] * 6,
               write_dir=str(tmp_path))
    return tmp_path


def test_tiny_record_reads_back_and_counts_beats(tiny_record):
    annotations = annotation_counts(tiny_record, ["900"])
    counts = dict(zip(annotations["symbol"], annotations["count"]))
    assert counts == {"+": 1, "N": 3, "V": 1, "A": 1, "~": 1}
    beats = beat_counts(annotations)
    assert list(beats.columns) == ["symbol", "count"]
    assert beats.to_dict("list") == {"symbol": ["N", "A", "V"], "count": [3, 1, 1]}
    table = record_table(tiny_record, ["900"])
    assert table.loc[0, ["fs", "n_signals", "n_samples", "leads"]].tolist() == [360, 2, 720, "MLII+V1"]


def test_checksum_list_parsing(tmp_path):
    path = tmp_path / "SHA256SUMS.txt"
    path.write_text(f"{'a' * 64} 100.dat\n{'b' * 64} mitdbdir/x.htm\n\n")
    sums = read_checksums(path)
    assert expected_sha256(sums, "100.dat") == "a" * 64
    with pytest.raises(DataError, match="lists no file 999.dat"):
        expected_sha256(sums, "999.dat")
    path.write_text("garbage\n")
    with pytest.raises(DataError, match="SHA256SUMS.txt:1"):
        read_checksums(path)


def test_record_names_are_checked():
    assert len(ALL_RECORDS) == 48
    assert check_records([119, "100"]) == ["100", "119"]
    with pytest.raises(DataError, match=r"mitdb_records.*'110'"):
        check_records([110])


def test_real_database_beat_counts(shared_data):
    mitdb = shared_data / "mitdb"
    beats = beat_counts(annotation_counts(mitdb, ALL_RECORDS)).set_index("symbol")["count"]
    assert beats[["N", "L", "R", "A", "V"]].tolist() == [75052, 8075, 7259, 2546, 7130]
    assert beats.sum() == 109494
