"""What a UCR split must be for this suite, checked before anything else about it.

The models and the k-NN baselines take equal-length series without missing values, and
a classifier needs two classes to tell apart. The archive's TSV files store varying
lengths and gaps as NaN, so such a file parses; these checks say what is wrong with it
(and where) before the z-normalisation check would mistake a gap for a changed digit.
"""

from __future__ import annotations

import numpy as np

from ecgrepro.errors import DataError

__all__ = ["check_complete", "check_two_classes"]

#: At most this many series are named in a message; the rest are counted.
MAX_NAMED = 5

_FIX = (
    "The suite needs series of equal length without missing values: use the archive's "
    "equal-length version of this dataset (UCR 2018 ships adjusted copies of the "
    "datasets with gaps or varying lengths), or fill the gaps or resample the series "
    "to one length first."
)


def _where(name: str, split: str, path) -> str:
    return f"{name} {split.upper()}" + (f" ({path})" if path else "")


def _outcome(at_fetch: bool) -> str:
    # at fetch the file is refused before it is kept or its digest recorded
    return " The file was not kept or recorded." if at_fetch else ""


def _positions(idx: np.ndarray) -> str:
    shown = ", ".join(str(i + 1) for i in idx[:MAX_NAMED])
    return shown + (f" and {len(idx) - MAX_NAMED} more" if len(idx) > MAX_NAMED else "")


def _problems(X: np.ndarray) -> list[str]:
    """One phrase per series with a gap or fewer values than the others (1-based)."""
    present = ~np.isnan(X)
    # a series' length: up to its last value; NaN after it is padding, before it a gap
    lengths = np.where(present.any(1), X.shape[1] - np.argmax(present[:, ::-1], 1), 0)
    full = int(lengths.max())
    others = set(lengths[lengths == full].tolist())
    problems = []
    for i in np.flatnonzero(~present.all(1)):
        gaps = np.flatnonzero(~present[i, : lengths[i]])
        if len(gaps):
            what = "a missing value" if len(gaps) == 1 else f"{len(gaps)} missing values"
            where = "position" if len(gaps) == 1 else "positions"
            at = f"{where} {_positions(gaps)}"
            problems.append(f"series {i + 1} has {what} (NaN) at {at}")
        if lengths[i] < full:
            problems.append(f"series {i + 1} has {lengths[i]} values, the others "
                            f"{full if others == {full} else f'up to {full}'}")
    if not problems:  # every series ends in the same NaN columns (a trailing tab?)
        problems.append(f"every series ends in {X.shape[1] - full} missing values (NaN) "
                        f"after position {full}")
    return problems


def check_complete(
    name: str, split: str, X: np.ndarray, path=None, at_fetch: bool = False
) -> None:
    """Refuse a split with missing values or series of unequal length.

    Parameters
    ----------
    name, split : str
        Dataset and split, for the message.
    X : np.ndarray of float, shape (n_cases, length)
        The parsed split, shorter series right-padded with NaN.
    path : str or Path, optional
        The file, named in the message.
    at_fetch : bool
        The file is being fetched (the message says it was not kept or recorded).

    Raises
    ------
    DataError
        Naming the file, the series and positions (1-based), and what to do.
    """
    if not np.isnan(X).any():
        return
    problems = _problems(X)
    more = len(problems) - MAX_NAMED
    listed = "; ".join(problems[:MAX_NAMED]) + (f"; and {more} more" if more > 0 else "")
    raise DataError(
        f"{_where(name, split, path)}: {listed} (counting from 1). {_FIX}"
        f"{_outcome(at_fetch)}"
    )


def check_two_classes(name: str, y_train: np.ndarray, path=None, at_fetch=False) -> None:
    """Refuse a training split that holds a single class.

    A classifier trained on one class predicts it everywhere: on a test set of that
    class every k-NN variant would report accuracy 1.0. ``path`` and ``at_fetch`` as
    in :func:`check_complete`.

    Raises
    ------
    DataError
        Naming the file and the one class found, and what to do.
    """
    classes = np.unique(np.asarray(y_train))
    if len(classes) >= 2:
        return
    found = f"only class {str(classes[0])!r}" if len(classes) else "no class"
    raise DataError(
        f"{_where(name, 'TRAIN', path)}: {found} in {len(y_train)} training series; a "
        "classifier needs at least two classes in training. Check that this is the right "
        "file (a split cut short, a mislabelled copy?) and give it series of the other "
        f"classes.{_outcome(at_fetch)}"
    )
