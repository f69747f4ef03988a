"""Validation parts carved from training data, and stratified UCR resamples."""

import numpy as np
import pandas as pd
import pytest

from ecgrepro.data.mitdb import ALL_RECORDS
from ecgrepro.data.segments import TABLE_COLUMNS, SegmentConfig, Segments, save_segments
from ecgrepro.data.splits import (
    DS1,
    DS2,
    carve_validation,
    folds,
    resample_index,
    ucr_resample,
)
from ecgrepro.data.ucr import UCRDataset, save_prepared
from ecgrepro.errors import DataError, EcgreproError
from ecgrepro.runs import load_task, split_names
from ecgrepro.training import get_protocol
from ecgrepro.training.presets import DECHAZAL2004_VALIDATION

CLASSES = ("N", "L", "R", "A", "V")
# Oh et al.'s classes in the DS1 records that hold L or R, and in the held-out ones.
RECORD_CLASSES = {"109": "LV", "118": "RAV", "124": "RAV", "207": "LRAV", "220": "NA",
                  "223": "NAV"}


def _segments(n_per_record=12, length=16, seed=0) -> Segments:
    """Segments of every non-paced record; records named above get their classes."""
    rng = np.random.default_rng(seed)
    records, labels = [], []
    for r in DS1 + DS2:
        present = RECORD_CLASSES.get(r, "NV")
        labels += [CLASSES.index(present[i % len(present)]) for i in range(n_per_record)]
        records += [r] * n_per_record
    n = len(records)
    table = pd.DataFrame({c: np.zeros(n, np.int64) for c in TABLE_COLUMNS})
    table["record"], table["label"] = records, labels
    table["class"] = [CLASSES[i] for i in labels]
    X = rng.normal(size=(n, length)).astype(np.float32)
    return Segments(X, table, SegmentConfig(length=length))


def _ds(train, test, y, X=None, name="mitdb"):
    X = np.arange(len(y), dtype=float)[:, None] * np.ones(3) if X is None else X
    return UCRDataset(name, X[train], y[train], X[test], y[test], np.asarray(CLASSES))


def test_oh2018_validation_is_stratified_disjoint_and_seed_free():
    labels = np.repeat(np.arange(5), [300, 40, 60, 80, 200])
    proto = get_protocol("oh2018")
    for train, test in folds("oh2018", pd.DataFrame({"label": labels}), 10, seed=0)[:3]:
        data = carve_validation(_ds(train, test, labels), proto, seed=0)
        fit_ids, val_ids = data.X_train[:, 0].astype(int), data.X_val[:, 0].astype(int)
        test_ids = data.X_test[:, 0].astype(int)
        assert not set(val_ids) & set(test_ids) and not set(val_ids) & set(fit_ids)
        assert set(val_ids) | set(fit_ids) == set(train)
        want = np.bincount(labels[train], minlength=5) * 0.1
        assert np.abs(np.bincount(data.y_val, minlength=5) - want).max() <= 1  # stratified
        again = carve_validation(_ds(train, test, labels), proto, seed=0)
        assert np.array_equal(again.X_val, data.X_val)  # no run seed involved
        assert "10% of each training split" in data.validation and "seed 0" in data.validation


def test_dechazal2004_validation_holds_out_whole_ds1_records(tmp_path):
    segments = _segments()
    save_segments(tmp_path / "segments.npz", segments)
    data = load_task(tmp_path / "segments.npz", "mitdb", "dechazal2004", "ds2", 10, 0)
    records = segments.table["record"].to_numpy()
    ids = {tuple(x) for x in segments.X}
    by_row = {tuple(x): r for x, r in zip(segments.X, records)}
    fit = {by_row[tuple(x)] for x in data.X_train}
    val = {by_row[tuple(x)] for x in data.X_val}
    test = {by_row[tuple(x)] for x in data.X_test}
    assert val == set(DECHAZAL2004_VALIDATION) and val <= set(DS1)
    assert not fit & val and not val & test and not fit & test and test == set(DS2)
    assert len(data.X_train) + len(data.X_val) + len(data.X_test) == len(ids)
    assert set(data.y_val) == set(range(5))  # the held-out records cover every class
    assert {CLASSES[c] for c in data.y_train} == set(CLASSES)  # and training keeps them
    assert list(data.test_records) == [by_row[tuple(x)] for x in data.X_test]
    assert "whole training records 109, 124, 220, 223" in data.validation


def test_validation_records_must_be_training_records():
    segments = _segments()
    records = segments.table["record"].to_numpy()
    ((train, test),) = folds("dechazal2004", segments.table)
    ds = _ds(train, test, segments.y)
    wrong = get_protocol("dechazal2004", validation_records=[DS2[0]])
    with pytest.raises(DataError, match="none of validation_records"):
        carve_validation(ds, wrong, train_records=records[train])
    with pytest.raises(DataError, match="no records"):
        carve_validation(ds, get_protocol("dechazal2004"))
    # a record subset lacking some listed records holds out those it has
    some = get_protocol("dechazal2004", validation_records=["109", DS2[0]])
    data = carve_validation(ds, some, train_records=records[train])
    assert "records 109 held out" in data.validation


def test_oh2018_runs_carry_test_records(tmp_path):
    segments = _segments()
    save_segments(tmp_path / "segments.npz", segments)
    data = load_task(tmp_path / "segments.npz", "mitdb", "oh2018", "fold3", 5, 0)
    assert len(data.test_records) == len(data.y_test) and len(data.y_val)
    plain = get_protocol("oh2018", early_stopping_patience=None, validation_fraction=None,
                         checkpoint="last", plateau_factor=None)
    same = load_task(tmp_path / "segments.npz", "mitdb", "oh2018", "fold3", 5, 0,
                     proto=plain)
    assert same.X_val is None and len(same.y_train) == len(data.y_train) + len(data.y_val)
    assert np.array_equal(same.test_records, data.test_records)


# --- UCR resamples ------------------------------------------------------------------


@pytest.fixture()
def ucr(tmp_path):
    rng = np.random.default_rng(1)
    y_train, y_test = np.repeat([0, 1, 2], [5, 3, 2]), np.repeat([0, 1, 2], [20, 12, 8])
    X = rng.normal(size=(50, 7))
    ds = UCRDataset("Toy", X[:10], y_train, X[10:], y_test, np.array(["a", "b", "c"]))
    save_prepared(ds, tmp_path / "Toy.npz")
    return ds, tmp_path / "Toy.npz"


def test_resample_zero_is_the_archive_split(ucr):
    ds, path = ucr
    data = load_task(path, "Toy", "karim2018", "test", 10, 0)
    for part in ("X_train", "y_train", "X_test", "y_test"):
        assert np.array_equal(getattr(data, part), getattr(ds, part))
    assert data.X_val is None and data.test_records is None
    assert ucr_resample(ds, 0) is ds


def test_resamples_are_stratified_deterministic_and_distinct(ucr):
    ds, path = ucr
    pooled = {tuple(x) for x in np.r_[ds.X_train, ds.X_test]}
    first = load_task(path, "Toy", "karim2018", "resample1", 10, 0)
    assert np.array_equal(np.bincount(first.y_train), np.bincount(ds.y_train))
    assert np.array_equal(np.bincount(first.y_test), np.bincount(ds.y_test))
    train, test = {tuple(x) for x in first.X_train}, {tuple(x) for x in first.X_test}
    assert not train & test and train | test == pooled
    assert train != {tuple(x) for x in ds.X_train}
    again = load_task(path, "Toy", "karim2018", "resample1", 10, 7)  # other fold_seed
    assert np.array_equal(again.X_train, first.X_train)
    second = ucr_resample(ds, 2)
    assert not np.array_equal(second.X_train, first.X_train)
    for x, y in zip(first.X_train, first.y_train):  # labels travel with their series
        i = np.flatnonzero((np.r_[ds.X_train, ds.X_test] == x).all(axis=1))[0]
        assert y == np.r_[ds.y_train, ds.y_test][i]


def test_split_names_and_bad_splits(ucr):
    _, path = ucr
    assert split_names("Toy", "karim2018", 10, resamples=3) == ["test", "resample1",
                                                               "resample2"]
    assert split_names("Toy", "karim2018", 10) == ["test"]
    assert split_names("mitdb", "dechazal2004", 10, resamples=3) == ["ds2"]
    assert [resample_index(s) for s in ("test", "resample4", "resample0", "fold1")] == [
        0, 4, None, None]
    with pytest.raises(EcgreproError, match="resample<i>"):
        load_task(path, "Toy", "karim2018", "resample0", 10, 0)
    assert set(ALL_RECORDS) >= set(DS1)
