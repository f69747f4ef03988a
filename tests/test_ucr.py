import numpy as np
import pytest

from conftest import tiny_dataset, write_ucr_tsv
from ecgrepro.data.ucr import (
    canonical_labels,
    check_metadata,
    is_z_normalised,
    load_prepared,
    load_splits,
    read_split,
    save_prepared,
    summarise,
)
from ecgrepro.errors import DataError


def write_ts(path, X, y, name="Tiny"):
    """A univariate equal-length .ts file, the format of the public per-dataset source."""
    classes = " ".join(sorted(set(map(str, y))))
    header = [
        f"@problemName {name}",
        "@timeStamps false",
        "@missing false",
        "@univariate true",
        "@equalLength true",
        f"@seriesLength {X.shape[1]}",
        f"@classLabel true {classes}",
        "@data",
    ]
    rows = [",".join(f"{v:.8g}" for v in row) + f":{label}" for row, label in zip(X, y)]
    path.write_text("\n".join(header + rows) + "\n")
    return path


def test_tsv_and_ts_parse_to_the_same_arrays(tmp_path):
    X, y, _, _ = tiny_dataset(n_train=5, n_test=1, labels=("-1", "1"))
    X_tsv, y_tsv = read_split(write_ucr_tsv(tmp_path / "Tiny_TRAIN.tsv", X, y))
    X_ts, y_ts = read_split(write_ts(tmp_path / "Tiny_TRAIN.ts", X, y))
    assert X_tsv.shape == X_ts.shape == (5, 12)
    np.testing.assert_allclose(X_tsv, X_ts, rtol=1e-7)
    np.testing.assert_array_equal(y_tsv, ["-1", "1", "-1", "1", "-1"])
    np.testing.assert_array_equal(y_tsv, y_ts)


def test_labels_are_canonical_and_sorted_numerically(tmp_path):
    assert list(canonical_labels(["1.0", 2, "-1", "abc", 10.0])) == ["1", "2", "-1", "abc", "10"]
    Xtr, ytr, Xte, yte = tiny_dataset(n_train=6, n_test=3, labels=("10", "2", "1"))
    ds = load_splits(
        "Tiny",
        write_ucr_tsv(tmp_path / "Tiny_TRAIN.tsv", Xtr, ytr),
        write_ucr_tsv(tmp_path / "Tiny_TEST.tsv", Xte, yte),
    )
    assert list(ds.classes) == ["1", "2", "10"]  # numeric order, not "1" < "10" < "2"
    assert [ds.classes[c] for c in ds.y_train] == ytr


def test_unequal_lengths_are_nan_padded_and_reported(tmp_path):
    path = tmp_path / "Ragged_TRAIN.tsv"
    path.write_text("1\t0.5\t1.5\t2.5\n2\t1.0\t2.0\n")
    X, y = read_split(path)
    assert X.shape == (2, 3) and np.isnan(X[1, 2])


def test_metadata_mismatch_is_a_clear_error(tmp_path):
    X, y, Xt, yt = tiny_dataset(n_train=22, n_test=4, length=82)
    with pytest.raises(DataError, match=r"TwoLeadECG .*train_size is 22, expected 23"):
        check_metadata("TwoLeadECG", X, np.array(y), Xt, np.array(yt))
    # A dataset outside the table is not checked, and says so.
    assert check_metadata("SomethingElse", X, np.array(y), Xt, np.array(yt)) is False


def test_broken_file_names_the_dataset(tmp_path):
    path = tmp_path / "Bad_TRAIN.tsv"
    path.write_text("1\t0.1\tnot-a-number\n")
    with pytest.raises(DataError, match="Bad"):
        read_split(path, "Bad")
    with pytest.raises(DataError, match="does not exist"):
        read_split(tmp_path / "Missing_TRAIN.tsv", "Missing")


def test_test_labels_must_occur_in_training(tmp_path):
    Xtr, _, Xte, _ = tiny_dataset()
    with pytest.raises(DataError, match=r"test labels \['3'\]"):
        load_splits(
            "Tiny",
            write_ucr_tsv(tmp_path / "a_TRAIN.tsv", Xtr, ["1"] * len(Xtr)),
            write_ucr_tsv(tmp_path / "a_TEST.tsv", Xte, ["3"] * len(Xte)),
        )


def test_prepared_roundtrip_and_summary(tmp_path):
    Xtr, ytr, Xte, yte = tiny_dataset()
    ds = load_splits(
        "Tiny",
        write_ucr_tsv(tmp_path / "Tiny_TRAIN.tsv", Xtr, ytr),
        write_ucr_tsv(tmp_path / "Tiny_TEST.tsv", Xte, yte),
    )
    save_prepared(ds, tmp_path / "Tiny.npz")
    back = load_prepared(tmp_path / "Tiny.npz")
    np.testing.assert_array_equal(back.X_test, ds.X_test)
    assert back.name == "Tiny" and list(back.classes) == ["1", "2"]
    summary = summarise(back, metadata_checked=False)
    assert summary["z_normalised"] is True
    assert summary["train_class_counts"] == {"1": 3, "2": 3}
    assert is_z_normalised(ds.X_train * 3) is False


def test_real_twoleadecg_matches_metadata(shared_data):
    folder = shared_data / "ucr" / "TwoLeadECG"
    ds = load_splits(
        "TwoLeadECG", folder / "TwoLeadECG_TRAIN.tsv", folder / "TwoLeadECG_TEST.tsv"
    )
    assert check_metadata("TwoLeadECG", ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    assert summarise(ds, True)["test_class_counts"] == {"1": 569, "2": 570}


def test_split_checked_on_its_own_against_metadata():
    from ecgrepro.data.ucr import check_split

    X, y, _, _ = tiny_dataset(n_train=22, n_test=1, length=82)
    with pytest.raises(DataError, match=r"TwoLeadECG TRAIN .*train_size is 22, expected 23"):
        check_split("TwoLeadECG", "TRAIN", X, np.array(y))
    X, y, _, _ = tiny_dataset(n_train=23, n_test=1, length=82)
    assert check_split("TwoLeadECG", "TRAIN", X, np.array(y)) is True
    assert check_split("NotInTable", "TRAIN", X, np.array(y)) is False


def test_one_changed_digit_in_a_z_normalised_split_is_caught(tmp_path):
    from ecgrepro.data.ucr import check_split

    X, y, _, _ = tiny_dataset(n_train=23, n_test=1, length=82)
    path = write_ucr_tsv(tmp_path / "TwoLeadECG_TRAIN.tsv", X, y)
    X, y = read_split(path)
    check_split("TwoLeadECG", "TRAIN", X, y)  # 8 significant digits: passes
    lines = path.read_text().splitlines()
    fields = lines[4].split("\t")
    value = fields[10]
    digit = next(i for i, c in enumerate(value) if c.isdigit() and c != "0")
    fields[10] = value[:digit] + str((int(value[digit]) + 1) % 10) + value[digit + 1:]
    lines[4] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")
    X, y = read_split(path)
    with pytest.raises(DataError, match=r"series 5 .*not z-normalised.*changed"):
        check_split("TwoLeadECG", "TRAIN", X, y)
    # A split that is not z-normalised is not judged this way.
    check_split("Other", "TRAIN", X * 3 + 1, y)


def test_identical_prepared_file_is_not_rewritten(tmp_path):
    Xtr, ytr, Xte, yte = tiny_dataset()
    ds = load_splits(
        "Tiny",
        write_ucr_tsv(tmp_path / "Tiny_TRAIN.tsv", Xtr, ytr),
        write_ucr_tsv(tmp_path / "Tiny_TEST.tsv", Xte, yte),
    )
    path = tmp_path / "Tiny.npz"
    assert save_prepared(ds, path) is True
    before = path.read_bytes()
    import time

    time.sleep(1.1)  # zip entries carry times: a rewrite would change the bytes
    assert save_prepared(ds, path) is False
    assert path.read_bytes() == before
    path.write_bytes(before[:100])  # truncated: written anew
    assert save_prepared(ds, path) is True
    np.testing.assert_array_equal(load_prepared(path).X_train, ds.X_train)


def test_package_name_list_is_aeons_archive_list():
    """ucr_names.csv (parse-time name check) is aeon's list; regenerate it when aeon adds names."""
    tsc = pytest.importorskip("aeon.datasets.tsc_datasets")
    from ecgrepro.config_check import ucr_names
    from ecgrepro.data.ucr import metadata_table

    assert set(tsc.tsc_zenodo) | set(metadata_table()) == set(ucr_names())
