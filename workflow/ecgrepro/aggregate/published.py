"""The published state of the art, read through aeon's own results loader.

aeon ships the 2023 bake-off's accuracies (Middlehurst et al. 2024: HIVE-COTE 2,
InceptionTime, FreshPRINCE, WEASEL-2.0; 30 resamples each, resample 0 the archive split)
under ``aeon/testing/example_results_files``. This is the aggregate's only module that
imports aeon: ``aeon.benchmarking.results_loaders`` needs numpy and pandas alone (no numba,
scikit-learn or deep-learning framework), so the aggregate stays light. No published
number is typed anywhere; every one comes from those files, named with their digests.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

__all__ = ["COLUMNS", "aeon_results_dir", "load_published"]

COLUMNS = ["dataset", "classifier", "resample", "accuracy"]


def aeon_results_dir() -> Path:
    """The results folder aeon installs (``aeon/testing/example_results_files``)."""
    import aeon

    return Path(aeon.__file__).parent / "testing" / "example_results_files"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_published(estimators, datasets, path=None) -> tuple[pd.DataFrame, dict]:
    """Every resample's test accuracy of ``estimators`` on ``datasets``.

    Parameters
    ----------
    estimators : list of str
        Names aeon knows (``aeon.benchmarking.results_loaders.NAME_ALIASES``).
    datasets : list of str
        UCR names; a dataset a file lacks is left out (aeon's loader skips it).
    path : str or Path, optional
        Folder laid out as aeon's (``classification/accuracy/<name>_accuracy.csv``);
        default: the one aeon installs.

    Returns
    -------
    frame : DataFrame
        :data:`COLUMNS`, one row per (dataset, classifier, resample).
    provenance : dict
        ``{classifier: "<file> (aeon <version>, sha256 <digest>)"}``.
    """
    import aeon
    from aeon.benchmarking.results_loaders import estimator_alias, get_estimator_results

    root = Path(path) if path is not None else aeon_results_dir()
    results = get_estimator_results(list(estimators), list(datasets), num_resamples=None,
                                    path=str(root))
    rows, provenance = [], {}
    for name in estimators:
        file = root / "classification" / "accuracy" / f"{estimator_alias(name)}_accuracy.csv"
        provenance[name] = (f"{file.relative_to(root.parent).as_posix()} (aeon "
                            f"{aeon.__version__}, sha256 {_sha256(file)})")
        for dataset, scores in results[name].items():
            rows += [(dataset, name, i, float(a)) for i, a in enumerate(scores)]
    return pd.DataFrame(rows, columns=COLUMNS), provenance
