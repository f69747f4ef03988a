"""Train/test splits of MIT-BIH segments, and validation parts carved from training data.

Two protocols, both returning a list of ``(train_idx, test_idx)`` index arrays into a
segment table (:attr:`ecgrepro.data.segments.Segments.table`):

* ``oh2018``: stratified ten-fold cross-validation over segments (sklearn
  ``StratifiedKFold``, shuffled, seeded), as Oh et al. report. Intra-patient: segments of
  one record fall into training and test folds alike (claim C9).
* ``dechazal2004``: one split, train on the DS1 records, test on the DS2 records (de
  Chazal et al. 2004); the paced records 102, 104, 107 and 217 are in neither and are
  dropped. Inter-patient. It takes whatever classes the table has: Oh et al.'s five, or
  the AAMI groups from ``SegmentConfig.aami()`` (which must be segmented anew, as runs
  are formed on the grouped classes).

Early stopping or checkpoint selection must use :func:`validation_split` (through
:func:`carve_validation`), which carves its part out of the *training* indices only;
never the test fold. UCR datasets get stratified resamples of the archive's train/test
split (:func:`ucr_resample`, resample 0 = the archive split, as the UCR/UEA bake-offs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from ecgrepro.data.ucr import UCRDataset
from ecgrepro.errors import DataError

__all__ = [
    "DS1", "DS2", "PACED", "PROTOCOLS", "SplitDataset",
    "carve_validation", "dechazal2004_split", "folds", "oh2018_folds", "resample_index",
    "ucr_resample", "validation_split",
]

log = logging.getLogger(__name__)

#: de Chazal, O'Dwyer & Reilly 2004, IEEE TBME 51(7): training and test records.
DS1 = tuple(str(r) for r in (101, 106, 108, 109, 112, 114, 115, 116, 118, 119, 122, 124,
                             201, 203, 205, 207, 208, 209, 215, 220, 223, 230))
DS2 = tuple(str(r) for r in (100, 103, 105, 111, 113, 117, 121, 123, 200, 202, 210, 212,
                             213, 214, 219, 221, 222, 228, 231, 232, 233, 234))
#: Records with paced beats, excluded by de Chazal et al. (and by AAMI EC57).
PACED = ("102", "104", "107", "217")
PROTOCOLS = ("oh2018", "dechazal2004")


def oh2018_folds(labels, n_folds: int = 10, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold over segments (intra-patient), shuffled with ``seed``.

    Every segment is in exactly one test fold; class proportions are kept per fold.
    """
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(tr.astype(np.int64), te.astype(np.int64))
            for tr, te in skf.split(np.zeros(len(labels)), labels)]


def dechazal2004_split(records) -> list[tuple[np.ndarray, np.ndarray]]:
    """One inter-patient split: segments of DS1 records train, those of DS2 records test.

    Parameters
    ----------
    records : sequence of str
        The record of each segment (the table's ``record`` column).

    Returns
    -------
    list
        One ``(train_idx, test_idx)`` pair; segments of other records (the paced ones)
        are in neither.
    """
    records = np.asarray(records, dtype=str)
    train = np.flatnonzero(np.isin(records, DS1))
    test = np.flatnonzero(np.isin(records, DS2))
    if not len(train) or not len(test):
        raise DataError(
            "dechazal2004 needs segments of DS1 and of DS2 records; got "
            f"{len(train)} DS1 and {len(test)} DS2 segments. Segment all 44 non-paced "
            "records (mitdb minus 102, 104, 107, 217)."
        )
    dropped = sorted(set(records) - set(DS1) - set(DS2))
    if dropped:
        log.info("dechazal2004: segments of records %s are in neither DS1 nor DS2", dropped)
    return [(train.astype(np.int64), test.astype(np.int64))]


def folds(protocol: str, table, n_folds: int = 10, seed: int = 0):
    """``(train_idx, test_idx)`` pairs for ``protocol`` over a segment table.

    ``n_folds`` and ``seed`` apply to ``oh2018`` only; ``dechazal2004`` has one fixed split.
    """
    if protocol == "oh2018":
        return oh2018_folds(table["label"].to_numpy(), n_folds, seed)
    if protocol == "dechazal2004":
        return dechazal2004_split(table["record"].to_numpy())
    raise ValueError(f"unknown split protocol {protocol!r}; choose one of {PROTOCOLS}")


def validation_split(train_idx, labels, fraction: float = 0.1, seed: int = 0, groups=None):
    """Carve a stratified validation part out of the training indices.

    Parameters
    ----------
    train_idx : array of int
        Indices (into ``labels``) of the training fold; nothing outside it is used.
    labels : array
        Labels of *all* segments (indexed by ``train_idx``).
    fraction : float
        Share of the training fold held out, in (0, 1).
    seed : int
        Seed of the shuffle.
    groups : array, optional
        Group (record) of every segment. If given, whole records are held out
        (sklearn ``StratifiedGroupKFold`` with ``round(1 / fraction)`` folds, first fold),
        so that validation of an inter-patient protocol is itself inter-patient.

    Returns
    -------
    fit_idx, val_idx : ndarray of int
        Disjoint, sorted, and together equal to ``train_idx``.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedShuffleSplit

    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    train_idx = np.asarray(train_idx, dtype=np.int64)
    y = np.asarray(labels)[train_idx]
    try:
        if groups is None:
            splitter = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
            fit, val = next(splitter.split(np.zeros(len(y)), y))
        else:
            g = np.asarray(groups)[train_idx]
            splitter = StratifiedGroupKFold(n_splits=max(2, round(1 / fraction)), shuffle=True,
                                            random_state=seed)
            fit, val = next(splitter.split(np.zeros(len(y)), y, g))
    except ValueError as exc:
        raise DataError(
            f"cannot carve a stratified {fraction:.0%} validation part from {len(y)} "
            f"training segments (class counts {np.unique(y, return_counts=True)[1].tolist()}"
            f"{'' if groups is None else ', grouped by record'}): {exc}"
        ) from exc
    return np.sort(train_idx[fit]), np.sort(train_idx[val])


@dataclass(frozen=True)
class SplitDataset(UCRDataset):
    """A dataset with a validation part carved from its training data.

    Attributes (besides :class:`~ecgrepro.data.ucr.UCRDataset`'s)
    ----------------------------------------------------------
    X_val, y_val : np.ndarray or None
        The validation part (None without one); ``X_train``/``y_train`` no longer hold it.
    validation : str
        How it was carved, in words (written to every run's metrics.json).
    test_records : np.ndarray of str or None
        The record of every test case (MIT-BIH), for record-by-record metrics.
    """

    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    validation: str = ""
    test_records: np.ndarray | None = None


def carve_validation(ds: UCRDataset, protocol, *, seed: int = 0, train_records=None,
                     test_records=None) -> SplitDataset:
    """Move ``protocol``'s validation part out of ``ds``'s training data.

    Parameters
    ----------
    ds : UCRDataset
        Training and test arrays of one split.
    protocol : ecgrepro.training.presets.Protocol
        ``validation_records`` (whole records held out; needs ``train_records``) or
        ``validation_fraction`` (stratified share); neither: no validation part.
    seed : int
        Seed of the stratified share: the split's seed (e.g. ``fold_seed``), never the
        run seed, so every run of a split validates on the same cases.
    train_records, test_records : array of str, optional
        The record of every training / test case (MIT-BIH).

    Raises
    ------
    DataError
        When a listed record has no training case (e.g. a DS2 record), or when nothing
        would be left to train on.
    """
    n = len(ds.y_train)
    base = dict(name=ds.name, X_test=ds.X_test, y_test=ds.y_test, classes=ds.classes,
                test_records=None if test_records is None else np.asarray(test_records, str))
    if protocol.validation_records:
        if train_records is None:
            raise DataError(
                f"{ds.name}: protocol {protocol.name} holds out validation records "
                f"{list(protocol.validation_records)}, but the data have no records; use "
                "validation_fraction for datasets without records."
            )
        records = np.asarray(train_records, dtype=str)
        held = [r for r in protocol.validation_records if r in set(records)]
        if not held:
            raise DataError(
                f"{ds.name}/{protocol.name}: none of validation_records "
                f"{list(protocol.validation_records)} has training segments (training "
                f"records: {sorted(set(records))}). List training records (for "
                "dechazal2004: DS1 records) that the configured mitdb_records include."
            )
        absent = sorted(set(protocol.validation_records) - set(held))
        if absent:  # a record subset (mitdb_records) may lack some; say so, go on
            log.warning("%s/%s: validation records %s have no training segments; holding "
                        "out %s", ds.name, protocol.name, absent, held)
        is_val = np.isin(records, held)
        fit, val = np.flatnonzero(~is_val), np.flatnonzero(is_val)
        missing = sorted(set(ds.y_train[fit]) - set(ds.y_train[val]))
        if missing:
            log.warning("%s/%s: validation records %s hold no %s segments", ds.name,
                        protocol.name, list(protocol.validation_records),
                        [str(ds.classes[c]) for c in missing])
    elif protocol.validation_fraction is not None:
        fit, val = validation_split(np.arange(n), ds.y_train, protocol.validation_fraction,
                                    seed=seed)
    else:
        return SplitDataset(X_train=ds.X_train, y_train=ds.y_train, **base)
    if not len(fit):
        raise DataError(f"{ds.name}/{protocol.name}: the validation part takes every "
                        f"training case ({n}); nothing is left to train on.")
    counts = np.bincount(ds.y_train[val], minlength=len(ds.classes))
    how = protocol.validation_text
    if protocol.validation_records:
        how = replace(protocol, validation_records=tuple(held)).validation_text
    text = (f"{how}: {len(val)} of {n} training cases (by class "
            + ", ".join(f"{c} {k}" for c, k in zip(np.asarray(ds.classes, str), counts))
            + (f"; seed {seed})" if not protocol.validation_records else ")"))
    return SplitDataset(X_train=ds.X_train[fit], y_train=ds.y_train[fit],
                        X_val=ds.X_train[val], y_val=ds.y_train[val], validation=text, **base)


def resample_index(split: str) -> int | None:
    """0 for ``test`` (the archive split), ``i`` for ``resample<i>`` (i >= 1), else None."""
    if split == "test":
        return 0
    if split.startswith("resample") and split[8:].isdigit() and int(split[8:]) >= 1:
        return int(split[8:])
    return None


def ucr_resample(ds: UCRDataset, i: int) -> UCRDataset:
    """Stratified resample ``i`` of a UCR dataset's train/test split.

    Resample 0 is the archive's split, unchanged. Resample ``i >= 1`` pools train and
    test and redraws both with the archive's sizes per class
    (``aeon.benchmarking.resampling.stratified_resample_data_indices`` seeded by ``i``,
    as the UCR/UEA bake-offs): deterministic, the same for every model, framework and
    run seed.
    """
    if i == 0:
        return ds
    from aeon.benchmarking.resampling import stratified_resample_data_indices

    train, test = stratified_resample_data_indices(ds.y_train, ds.y_test, random_state=i)
    train, test = np.sort(train), np.sort(test)  # archive order, not grouped by class
    X = np.concatenate([ds.X_train, ds.X_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    return replace(ds, X_train=X[train], y_train=y[train], X_test=X[test], y_test=y[test])
