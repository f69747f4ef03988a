"""UCR archive datasets: parse the 2018 TSV and the ``.ts`` format, check, prepare.

Parsing is aeon's (``load_from_tsv_file``, ``load_from_ts_file``); this module adds what
a benchmark needs on top: labels in one canonical form, a check against the archive's
metadata table, a z-normalisation check and one prepared ``.npz`` per dataset that every
later step reads.

One cohesive idea (a UCR dataset from file to prepared arrays), hence a little over the
~400 lines of other modules.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from ecgrepro.data.ucr_checks import check_complete, check_two_classes
from ecgrepro.errors import DataError

SPLITS = ("TRAIN", "TEST")
FORMATS = ("tsv", "ts")


@dataclass(frozen=True)
class UCRDataset:
    """One UCR dataset, ready to use.

    Attributes
    ----------
    name : str
        Archive name, e.g. ``"TwoLeadECG"``.
    X_train, X_test : np.ndarray of float64, shape (n_cases, length)
        Univariate series. Unequal-length series are right-padded with NaN, as the
        archive's TSV files do.
    y_train, y_test : np.ndarray of int64
        Class codes, indices into ``classes``.
    classes : np.ndarray of str
        The archive's labels in ascending order (numeric order when all labels are
        numbers), so code 0 is the "smallest label".
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: np.ndarray

    @property
    def length(self) -> int:
        return self.X_train.shape[1]


def canonical_labels(raw) -> np.ndarray:
    """Return labels as strings, integral numbers written without a decimal point.

    The TSV files store ``1`` where the ``.ts`` files may store ``1`` or ``1.0``; both
    must name the same class.
    """
    out = []
    for value in np.asarray(raw).ravel():
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            out.append(text)
            continue
        out.append(str(int(number)) if number.is_integer() else repr(number))
    return np.asarray(out, dtype=str)


def sorted_classes(labels: np.ndarray) -> np.ndarray:
    """Sort labels numerically when they are all numbers, else lexically."""
    unique = np.unique(labels)
    try:
        return np.asarray(sorted(unique, key=float), dtype=str)
    except ValueError:
        return unique


def _as_2d(name: str, split: str, data) -> np.ndarray:
    """Turn aeon's output (3D array or list of 2D arrays) into a NaN-padded 2D array."""
    if isinstance(data, np.ndarray) and data.ndim == 3:
        if data.shape[1] != 1:
            raise DataError(
                f"{name} {split}: {data.shape[1]} channels; ecgrepro handles univariate "
                "UCR datasets only."
            )
        return data[:, 0, :].astype(np.float64)
    series = [np.asarray(s, dtype=np.float64) for s in data]
    if any(s.ndim == 2 and s.shape[0] != 1 for s in series):
        raise DataError(
            f"{name} {split}: multivariate series; ecgrepro handles univariate only."
        )
    series = [s.reshape(-1) for s in series]
    out = np.full((len(series), max(len(s) for s in series)), np.nan)
    for i, s in enumerate(series):
        out[i, : len(s)] = s
    return out


def read_split(
    path: str | Path, name: str | None = None, fmt: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read one UCR split file in the 2018 TSV format or the ``.ts`` format.

    Parameters
    ----------
    path : str or Path
        ``<Name>_<SPLIT>.tsv`` or ``<Name>_<SPLIT>.ts``.
    name : str, optional
        Dataset name for messages; defaults to the file name.
    fmt : {"tsv", "ts"}, optional
        The format, for a file whose name does not say it (a download's ``.partial``).

    Returns
    -------
    X : np.ndarray of float64, shape (n_cases, length)
    y : np.ndarray of str
        Canonical labels (see :func:`canonical_labels`).
    """
    from aeon.datasets import load_from_ts_file, load_from_tsv_file

    path = Path(path)
    label = name or path.stem
    if not path.is_file():
        raise DataError(f"{label}: file {path} does not exist.")
    fmt = fmt or path.suffix.lstrip(".")
    try:
        if fmt == "tsv":
            data, y = load_from_tsv_file(str(path))
        elif fmt == "ts":
            data, y = load_from_ts_file(str(path))
        else:
            raise DataError(f"{label}: {path} is neither .tsv nor .ts.")
        X = _as_2d(label, path.stem, data)
    except DataError:
        raise
    except Exception as exc:  # aeon raises IOError, ValueError, pandas errors…
        raise DataError(
            f"{label}: could not parse {path} ({type(exc).__name__}: {exc}). "
            "The file may be truncated or not a UCR file; delete it and rerun to "
            "fetch it again."
        ) from exc
    if len(X) == 0:
        raise DataError(f"{label}: {path} holds no series.")
    return X, canonical_labels(y)


@cache
def metadata_table() -> dict[str, dict]:
    """The package's table of UCR dataset facts, keyed by dataset name."""
    text = resources.files("ecgrepro.data").joinpath("ucr_metadata.csv").read_text()
    rows = csv.DictReader(text.splitlines())
    return {
        r["name"]: {k: int(r[k]) for k in ("train_size", "test_size", "length", "n_classes")}
        for r in rows
    }


def check_metadata(name: str, X_train, y_train, X_test, y_test) -> bool:
    """Check sizes, length and class count against the metadata table.

    Returns
    -------
    bool
        True when the dataset is in the table and matches; False when it is not in
        the table (nothing to check against).

    Raises
    ------
    DataError
        When the dataset is in the table and any fact differs.
    """
    expected = metadata_table().get(name)
    if expected is None:
        return False
    found = {
        "train_size": len(X_train),
        "test_size": len(X_test),
        "length": X_train.shape[1],
        "n_classes": len(np.unique(np.concatenate([y_train, y_test]))),
    }
    wrong = [f"{k} is {found[k]}, expected {v}" for k, v in expected.items() if found[k] != v]
    if wrong:
        raise DataError(
            f"{name} does not match the UCR 2018 metadata: {'; '.join(wrong)}. The files "
            "may be truncated, from another archive version, or of another dataset. "
            "Delete them under resources/data/ucr/ and rerun to fetch them again; if the "
            "archive itself changed, correct workflow/ecgrepro/data/ucr_metadata.csv."
        )
    return True


def check_split(name: str, split: str, X: np.ndarray, y: np.ndarray, path=None) -> bool:
    """Check one split on its own (before its digest is recorded in the lock).

    First what the suite needs of any split (:func:`~ecgrepro.data.ucr_checks.
    check_complete`; two classes in training), then its size (``train_size`` or
    ``test_size``), length and class count (at most ``n_classes``) against the metadata
    table, and :func:`check_altered_values`. ``path`` names the file in messages.

    Returns
    -------
    bool
        True when the dataset is in the metadata table (and matched).

    Raises
    ------
    DataError
        When a fact differs or a series looks altered.
    """
    check_complete(name, split, X, path, at_fetch=True)  # a gap is no changed digit
    if split.upper() == "TRAIN":
        check_two_classes(name, y, path, at_fetch=True)
    check_altered_values(name, split, X)
    expected = metadata_table().get(name)
    if expected is None:
        return False
    size_key = "train_size" if split.upper() == "TRAIN" else "test_size"
    wrong = []
    if len(X) != expected[size_key]:
        wrong.append(f"{size_key} is {len(X)}, expected {expected[size_key]}")
    if X.shape[1] != expected["length"]:
        wrong.append(f"length is {X.shape[1]}, expected {expected['length']}")
    n_classes = len(np.unique(y))
    if n_classes > expected["n_classes"]:
        wrong.append(f"{n_classes} classes, expected {expected['n_classes']}")
    if wrong:
        raise DataError(
            f"{name} {split.upper()} does not match the UCR 2018 metadata: "
            f"{'; '.join(wrong)}. The file may be truncated, from another archive version "
            "or of another dataset; it was not kept or recorded. Check the source (or the "
            "mirror's copy) and rerun; if the archive itself changed, correct "
            "workflow/ecgrepro/data/ucr_metadata.csv."
        )
    return True


#: A split counts as z-normalised when most of its series are, to this tolerance (the
#: archive writes 8 significant digits: deviations of ~1e-8)...
Z_BULK_TOL = 1e-6
#: ...and then a series that deviates by more than this was altered.
Z_OUTLIER_TOL = 1e-5


def _z_deviation(X: np.ndarray) -> np.ndarray:
    mean = np.abs(np.nanmean(X, axis=1))
    sd0, sd1 = np.nanstd(X, axis=1), np.nanstd(X, axis=1, ddof=1)
    return np.maximum(mean, np.minimum(np.abs(sd0 - 1), np.abs(sd1 - 1)))


def check_altered_values(name: str, split: str, X: np.ndarray) -> None:
    """Catch a changed value in a z-normalised split that still parses.

    In a split whose series are z-normalised to the written precision, one series
    that is not (its mean or standard deviation off by more than ``Z_OUTLIER_TOL``)
    was changed after the archive wrote it: a corrupted digit. Constant series (all
    zero after normalisation) are left out. This catches changes of roughly
    ``1e-5 * length`` or more; smaller ones, and any change in a split that is not
    z-normalised, need a pinned digest (``known_sha256.tsv``).
    """
    if len(X) < 2:
        return
    with np.errstate(all="ignore"):
        constant = np.nanstd(X, axis=1) < 1e-8
        dev = _z_deviation(X[~constant])
    if len(dev) < 2 or np.median(dev) > Z_BULK_TOL:
        return
    bad = np.flatnonzero(~constant)[dev > Z_OUTLIER_TOL]
    if len(bad):
        rows = ", ".join(str(i + 1) for i in bad[:5])
        raise DataError(
            f"{name} {split.upper()}: series {rows} (1-based) not z-normalised "
            f"(deviation up to {dev.max():.2g}) while the other {len(dev) - len(bad)} are "
            f"to {Z_BULK_TOL:g}: a value was changed (a corrupted digit?). The file was "
            "not kept or recorded. Check the source or the mirror's copy and rerun."
        )


def is_z_normalised(X: np.ndarray, atol: float = 1e-3) -> bool:
    """True when every series has mean 0 and standard deviation 1 (either ddof)."""
    mean = np.nanmean(X, axis=1)
    sd0, sd1 = np.nanstd(X, axis=1), np.nanstd(X, axis=1, ddof=1)
    unit = np.isclose(sd0, 1, atol=atol) | np.isclose(sd1, 1, atol=atol)
    return bool(np.all(np.abs(mean) < atol) and np.all(unit))


def load_splits(name: str, train_path, test_path) -> UCRDataset:
    """Read both splits, encode labels with one shared class list, check metadata.

    Splits with missing values or unequal lengths, and a training split of one class,
    are refused (:mod:`ecgrepro.data.ucr_checks`).
    """
    X_train, y_train = read_split(train_path, name)
    X_test, y_test = read_split(test_path, name)
    check_complete(name, "TRAIN", X_train, train_path)
    check_complete(name, "TEST", X_test, test_path)
    if X_train.shape[1] != X_test.shape[1]:
        raise DataError(
            f"{name}: train series are {X_train.shape[1]} long, test series "
            f"{X_test.shape[1]}; the two files do not belong to one dataset."
        )
    classes = sorted_classes(np.concatenate([y_train, y_test]))
    unseen = sorted(set(y_test.tolist()) - set(y_train.tolist()))
    if unseen:
        raise DataError(f"{name}: test labels {unseen} never occur in the training split.")
    check_two_classes(name, y_train, train_path)
    index = {c: i for i, c in enumerate(classes)}
    return UCRDataset(
        name=name,
        X_train=X_train,
        y_train=np.array([index[c] for c in y_train], dtype=np.int64),
        X_test=X_test,
        y_test=np.array([index[c] for c in y_test], dtype=np.int64),
        classes=classes,
    )


def summarise(ds: UCRDataset, metadata_checked: bool) -> dict:
    """What a user wants to know about a prepared dataset, JSON-ready."""

    def counts(y):
        return {str(ds.classes[c]): int(n) for c, n in zip(*np.unique(y, return_counts=True))}

    equal_length = not (np.isnan(ds.X_train).any() or np.isnan(ds.X_test).any())
    return {
        "name": ds.name,
        "train_size": int(len(ds.X_train)),
        "test_size": int(len(ds.X_test)),
        "length": int(ds.length),
        "n_classes": int(len(ds.classes)),
        "classes": [str(c) for c in ds.classes],
        "train_class_counts": counts(ds.y_train),
        "test_class_counts": counts(ds.y_test),
        "equal_length_no_missing": bool(equal_length),
        "z_normalised": is_z_normalised(ds.X_train) and is_z_normalised(ds.X_test),
        "metadata_checked": metadata_checked,
    }


def _same_prepared(ds: UCRDataset, path: Path) -> bool:
    """True when ``path`` already holds exactly these arrays."""
    try:
        old = load_prepared(path)
    except Exception:  # missing, truncated, another layout: write it anew
        return False
    fields = ("X_train", "y_train", "X_test", "y_test", "classes")
    return old.name == ds.name and all(
        getattr(old, f).shape == getattr(ds, f).shape
        and getattr(old, f).dtype == getattr(ds, f).dtype
        and np.array_equal(getattr(old, f), getattr(ds, f), equal_nan=getattr(ds, f).dtype.kind == "f")
        for f in fields
    )


def save_prepared(ds: UCRDataset, path: str | Path) -> bool:
    """Write the prepared arrays to one compressed ``.npz``.

    A file that already holds the same arrays is left byte for byte as it is (only
    its time stamp is renewed, so Snakemake sees it as up to date): the zip archive
    stores write times, and a rewrite would change the bytes of identical data.

    Returns
    -------
    bool
        True when the file was written, False when it was already identical.
    """
    import os

    from ecgrepro.io import replacing

    path = Path(path)
    if _same_prepared(ds, path):
        os.utime(path)
        return False
    with replacing(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            name=ds.name,
            X_train=ds.X_train,
            y_train=ds.y_train,
            X_test=ds.X_test,
            y_test=ds.y_test,
            classes=ds.classes,
        )
    return True


#: What np.load raises on a truncated or damaged .npz (zipfile.BadZipFile is an
#: Exception subclass of its own; a short member: EOFError or ValueError).
PREPARED_ERRORS = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile)


def unreadable_prepared(path, exc: BaseException) -> DataError:
    """The error for a prepared file that exists but cannot be read: it names the file,
    what went wrong and what to do (delete it, rerun: it is rebuilt from the verified
    raw data)."""
    if isinstance(exc, FileNotFoundError):
        return DataError(f"{path}: prepared data file not found. Rerun the workflow to "
                         "prepare it (rule prepare_ucr or mitdb_segments).")
    return DataError(
        f"{path}: prepared data file is unreadable ({type(exc).__name__}: {exc}); it is "
        "truncated or damaged (a full disk, an interrupted copy?). Delete it and rerun "
        "the workflow: it is rebuilt from the verified raw data, and finished runs are "
        "kept."
    )


def load_prepared(path: str | Path) -> UCRDataset:
    """Read a dataset written by :func:`save_prepared`.

    Raises
    ------
    DataError
        When the file is missing, truncated or damaged (:func:`unreadable_prepared`).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            return UCRDataset(
                name=str(z["name"]),
                X_train=z["X_train"],
                y_train=z["y_train"],
                X_test=z["X_test"],
                y_test=z["y_test"],
                classes=z["classes"],
            )
    except PREPARED_ERRORS as exc:
        raise unreadable_prepared(path, exc) from exc
