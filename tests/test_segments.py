"""MIT-BIH segmentation and splits: a tiny record written with wfdb, and the real database."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb

from ecgrepro.data import segments as seg_module
from ecgrepro.data.mitdb import ALL_RECORDS
from ecgrepro.data.segments import (
    SegmentConfig,
    load_segments,
    save_segments,
    segment_counts,
    segment_record,
    segment_records,
)
from ecgrepro.data.splits import (
    DS1,
    DS2,
    PACED,
    dechazal2004_split,
    folds,
    oh2018_folds,
    validation_split,
)
from ecgrepro.errors import DataError

MITDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "mitdb"
FS, N_SAMPLES, GAIN = 360, 3800, 200

# Record 900: (sample, symbol). Non-beat marks: '+' rhythm, '~' noise, '!' flutter wave.
ANNOTATIONS = [
    (50, "N"), (350, "N"), (650, "N"), (950, "N"), (1250, "N"),  # 5 N, first near the start
    (1400, "+"), (1550, "N"), (1850, "N"),  # '+' splits the N run, or not
    (2000, "V"), (2200, "~"), (2300, "V"),  # '~' splits the V run, or not
    (2500, "/"),  # paced: not a class, always ends a run
    (2700, "A"), (2750, "!"), (2900, "A"),  # a flutter mark always ends a run
    (3100, "L"), (3400, "L"),
    (3700, "R"),  # window end clipped by the record end (3800)
]


def ramp(t):
    """Lead MLII of the tiny record: sample t holds t / GAIN mV (exact after reading)."""
    return np.asarray(t) / GAIN


@pytest.fixture
def mitdb_dir(tmp_path):
    """Records 900 (MLII + V1, known beat runs) and 901 (V5 + V2: no MLII)."""
    t = np.arange(N_SAMPLES)
    for record, names in (("900", ["MLII", "V1"]), ("901", ["V5", "V2"])):
        signal = np.stack([ramp(t), -ramp(t)], axis=1)  # V1 is the negated ramp
        wfdb.wrsamp(record, fs=FS, units=["mV", "mV"], sig_name=names, p_signal=signal,
                    fmt=["16", "16"], adc_gain=[GAIN, GAIN], baseline=[0, 0],
                    write_dir=str(tmp_path))
        samples, symbols = zip(*ANNOTATIONS)
        wfdb.wrann(record, "atr", np.array(samples), symbol=list(symbols),
                   write_dir=str(tmp_path))
    return tmp_path


def rows(table):
    return [tuple(r) for r in table[["class", "start", "end", "n_beats", "n_beats_kept"]]
            .itertuples(index=False)]


def test_default_segmentation_follows_tsfedl_rules(mitdb_dir):
    s = segment_record(mitdb_dir, "900")
    # Every annotation ends a run; windows [first - 99, last + 160), clipped to the record.
    assert rows(s.table) == [
        ("N", 0, 1410, 5, 4),  # start clipped at 0; 1410 samples truncated: R at 1250 cut off
        ("N", 1451, 2010, 2, 2),
        ("V", 1901, 2160, 1, 1),
        ("V", 2201, 2460, 1, 1),
        ("A", 2601, 2860, 1, 1),
        ("A", 2801, 3060, 1, 1),
        ("L", 3001, 3560, 2, 2),
        ("R", 3601, 3800, 1, 1),  # end clipped at the record end
    ]
    assert s.X.dtype == np.float32 and s.X.shape == (8, 1000)
    assert s.table["length"].tolist() == [1410, 559, 259, 259, 259, 259, 559, 199]
    assert s.table["label"].tolist() == [0, 0, 4, 4, 3, 3, 1, 2]  # N, L, R, A, V order
    # Truncation keeps the first 1000 samples; padding is zeros on the right.
    np.testing.assert_array_equal(s.X[0], ramp(np.arange(1000)).astype(np.float32))
    np.testing.assert_array_equal(s.X[1, :559], ramp(np.arange(1451, 2010)).astype(np.float32))
    assert not s.X[1, 559:].any() and not s.X[7, 199:].any()


def test_all_beats_splits_runs_and_skips_marks(mitdb_dir):
    s = segment_record(mitdb_dir, "900", SegmentConfig.all_beats())
    # '+' and '~' no longer break; the 7-beat N run splits into 3 + 2 + 2 (max 3 beats).
    assert rows(s.table) == [
        ("N", 0, 810, 3, 3),
        ("N", 851, 1410, 2, 2),
        ("N", 1451, 2010, 2, 2),
        ("V", 1901, 2460, 2, 2),
        ("A", 2601, 2860, 1, 1),  # the flutter mark '!' still breaks
        ("A", 2801, 3060, 1, 1),
        ("L", 3001, 3560, 2, 2),
        ("R", 3601, 3800, 1, 1),
    ]
    two = segment_record(mitdb_dir, "900", SegmentConfig.all_beats(max_beats=2))
    assert two.table["n_beats"].tolist()[:4] == [2, 2, 2, 1]  # 7 beats -> 2 + 2 + 2 + 1
    assert two.table["n_beats"].sum() == s.table["n_beats"].sum() == 14


def test_lead_by_name_index_and_missing(mitdb_dir):
    by_index = segment_record(mitdb_dir, "900", SegmentConfig.tsfedl())  # channel 1 = V1
    np.testing.assert_array_equal(by_index.X, -segment_record(mitdb_dir, "900").X)
    with pytest.raises(DataError, match="record 901 has leads V5, V2, no MLII"):
        segment_record(mitdb_dir, "901")
    with pytest.raises(DataError, match="no MLII"):
        segment_records(mitdb_dir, ["900", "901"])
    both = segment_records(mitdb_dir, ["901", "900"], SegmentConfig(missing_lead="skip"))
    assert both.skipped == ("901",) and set(both.table["record"]) == {"900"}
    with pytest.raises(DataError, match="no index 2"):
        segment_record(mitdb_dir, "900", SegmentConfig(lead=2))


def test_aami_runs_are_formed_on_grouped_classes(mitdb_dir):
    s = segment_record(mitdb_dir, "900", SegmentConfig.aami())
    assert s.classes == ("N", "SVEB", "VEB", "F", "Q")
    # L, L, R are one N run of three beats; the paced beat is class Q.
    assert rows(s.table)[-1] == ("N", 3001, 3800, 3, 3)
    assert s.table["class"].tolist().count("Q") == 1


def test_segments_are_a_pure_function_of_records_and_config(mitdb_dir):
    cfg = SegmentConfig.all_beats()
    a = segment_records(mitdb_dir, ["900", "900"], cfg)
    b = segment_records(mitdb_dir, ["900", "900"], SegmentConfig.from_dict(cfg.to_dict()))
    one = segment_record(mitdb_dir, "900", cfg)
    np.testing.assert_array_equal(a.X, b.X)
    pd.testing.assert_frame_equal(a.table, b.table)
    np.testing.assert_array_equal(a.X, np.concatenate([one.X, one.X]))
    counts = segment_counts(a.table, cfg.classes)
    assert counts.loc["900"].tolist() == [6, 2, 2, 4, 2, 16]  # N L R A V total, twice
    assert counts.loc["total"].tolist() == counts.loc["900"].tolist()
    assert hash(cfg) == hash(SegmentConfig.from_dict(cfg.to_dict()))


def test_save_load_roundtrip_and_atomic_write(mitdb_dir, tmp_path, monkeypatch):
    s = segment_records(mitdb_dir, ["900", "901"], SegmentConfig(missing_lead="skip"))
    path = tmp_path / "out" / "segments.npz"
    save_segments(path, s)
    back = load_segments(path)
    np.testing.assert_array_equal(back.X, s.X)
    pd.testing.assert_frame_equal(back.table, s.table)
    assert back.cfg == s.cfg and back.skipped == ("901",)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(seg_module.np, "savez_compressed", broken)
    with pytest.raises(OSError):
        save_segments(path, segment_record(mitdb_dir, "900", SegmentConfig.all_beats()))
    assert sorted(p.name for p in path.parent.iterdir()) == ["segments.npz"]  # no partial
    np.testing.assert_array_equal(load_segments(path).X, s.X)  # the old file is intact


def test_config_is_validated():
    with pytest.raises(ValueError, match="not beat symbols"):
        SegmentConfig(class_map={"+": "N"})
    with pytest.raises(ValueError, match="max_beats"):
        SegmentConfig(max_beats=0)
    with pytest.raises(ValueError, match="missing_lead"):
        SegmentConfig(missing_lead="fallback")


# --- splits -------------------------------------------------------------------------


def test_oh2018_folds_partition_and_stratify():
    labels = np.repeat(np.arange(5), [100, 30, 20, 40, 60])
    fs = oh2018_folds(labels, 10, seed=3)
    tests = np.concatenate([te for _, te in fs])
    assert len(fs) == 10 and np.array_equal(np.sort(tests), np.arange(len(labels)))
    for train, test in fs:
        assert not np.intersect1d(train, test).size  # no test case in its own training data
        assert len(train) + len(test) == len(labels)
        assert np.abs(np.bincount(labels[test], minlength=5) - np.bincount(labels) / 10).max() <= 1
    again = oh2018_folds(labels, 10, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(fs, again))
    assert not np.array_equal(fs[0][1], oh2018_folds(labels, 10, seed=4)[0][1])


def test_dechazal_split_is_record_disjoint():
    assert not set(DS1) & set(DS2) and len(DS1) == len(DS2) == 22
    assert set(DS1) | set(DS2) | set(PACED) == set(ALL_RECORDS)
    records = np.repeat(np.array(ALL_RECORDS), 3)
    table = pd.DataFrame({"record": records, "label": np.arange(len(records)) % 5})
    ((train, test),) = folds("dechazal2004", table)
    assert set(records[train]) == set(DS1) and set(records[test]) == set(DS2)
    assert not set(records[train]) & set(records[test])
    assert not set(records[np.r_[train, test]]) & set(PACED)
    with pytest.raises(DataError, match="DS1 and of DS2"):
        dechazal2004_split(np.array(DS1))
    with pytest.raises(ValueError, match="unknown split protocol"):
        folds("random", table)


def test_validation_is_carved_from_training_only():
    labels = np.repeat(np.arange(5), [100, 30, 20, 40, 60])
    groups = np.arange(len(labels)) % 25  # 25 "records"
    for train, test in oh2018_folds(labels, 10, seed=0)[:3]:
        fit, val = validation_split(train, labels, 0.1, seed=1)
        assert set(val) <= set(train) and set(fit) | set(val) == set(train)
        assert not set(val) & set(test) and not set(fit) & set(val)
        assert set(np.unique(labels[val])) == set(range(5))  # stratified
        fit, val = validation_split(train, labels, 0.2, seed=1, groups=groups)
        assert set(val) <= set(train) and not set(groups[fit]) & set(groups[val])
    with pytest.raises(DataError, match="cannot carve"):
        validation_split(np.arange(3), np.array([0, 1, 2]), 0.5)


# --- the real database --------------------------------------------------------------

# Pinned: a change here changes the data every MIT-BIH result rests on.
DEFAULT_COUNTS = {"N": 8149, "L": 344, "R": 660, "A": 1004, "V": 6240}  # MLII: no 102, 104
TSFEDL_COUNTS = {"N": 8245, "L": 344, "R": 660, "A": 1004, "V": 6246}  # all 48, 16,499
BEAT_TOTALS = {"N": 75052, "L": 8075, "R": 7259, "A": 2546, "V": 7130}  # anchors.md §3


@pytest.mark.shared_data
def test_real_database_counts_are_sane_and_stable():
    if not (MITDB / "100.atr").is_file():
        pytest.skip(f"MIT-BIH records not found at {MITDB} (only CI and dev machines have them)")
    s = segment_records(MITDB, ALL_RECORDS, SegmentConfig(missing_lead="skip"))
    assert s.skipped == ("102", "104")
    counts = segment_counts(s.table, s.classes)
    assert counts.loc["total"].drop("total").to_dict() == DEFAULT_COUNTS
    assert s.X.shape == (sum(DEFAULT_COUNTS.values()), 1000) and np.isfinite(s.X).all()
    short = s.table["length"].to_numpy() < 1000
    assert not (s.X[short] * (np.arange(1000) >= s.table["length"].to_numpy()[short, None])).any()

    t = segment_records(MITDB, ALL_RECORDS, SegmentConfig.tsfedl())
    assert segment_counts(t.table, t.classes).loc["total"].drop("total").to_dict() == TSFEDL_COUNTS
    # Each N/L/R/A/V beat lies in exactly one run, so runs account for every beat.
    assert t.table.groupby("class")["n_beats"].sum().to_dict() == BEAT_TOTALS
