"""One training run, from prepared data to its run directory.

A run is named by ``dataset / model / framework / protocol / split / seed`` and the
digest of its settings (:mod:`ecgrepro.store` owns the path, the files and the atomic
write) and writes ``metrics.json``, ``predictions.csv``, ``history.csv``,
``provenance.json`` and ``settings.json`` into its own directory, nothing else. The
LSTM-FCN runs on UCR data and Oh et al.'s runs on MIT-BIH segments go through the same
function; only :func:`load_task` tells them apart.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ecgrepro.data.ucr import UCRDataset, load_prepared
from ecgrepro.errors import EcgreproError
from ecgrepro.provenance import collect_provenance, write_json
from ecgrepro.store import atomic_dir, check_dir_matches, eval_splits, write_settings

log = logging.getLogger("ecgrepro")

FRAMEWORKS = ("torch", "keras")
MITDB = "mitdb"


def split_names(dataset: str, protocol: str, n_folds: int, resamples: int = 1) -> list[str]:
    """The evaluation splits of a (dataset, protocol) (:func:`ecgrepro.store.eval_splits`)."""
    return eval_splits(dataset, protocol, n_folds, resamples)


def load_task(data_path, dataset: str, protocol: str, split: str, n_folds: int,
              fold_seed: int, proto=None) -> UCRDataset:
    """Train, validation and test arrays of one split, as a ``SplitDataset``.

    UCR: the archive's train/test split (``test``) or its stratified resample
    ``resample<i>``. MIT-BIH: the segments of the training and test part of fold
    ``split`` (``oh2018``: ``fold<i>`` of a stratified ``n_folds``-fold split seeded by
    ``fold_seed``; ``dechazal2004``: ``ds2``), with the record of every test segment.
    The validation part of ``proto`` (default: the preset ``protocol``) is carved from
    the training part (``data.splits.carve_validation``, seeded by ``fold_seed``), so
    every run of a split sees the same data whatever its training seed.
    """
    from ecgrepro.data.splits import carve_validation, folds, resample_index, ucr_resample

    if proto is None:
        from ecgrepro.training.presets import get_protocol

        proto = get_protocol(protocol)
    if dataset != MITDB:
        i = resample_index(split)
        if i is None:
            raise EcgreproError(
                f"{dataset}: UCR splits are 'test' (the archive split) or 'resample<i>' "
                f"(i >= 1, stratified resamples), not {split!r}"
            )
        return carve_validation(ucr_resample(load_prepared(data_path), i), proto,
                                seed=fold_seed)
    from ecgrepro.data.segments import load_segments

    segments = load_segments(data_path)
    pairs = folds(protocol, segments.table, n_folds=n_folds, seed=fold_seed)
    names = split_names(dataset, protocol, n_folds)
    if split not in names:
        raise EcgreproError(f"{dataset}/{protocol}: no split {split!r}; splits are {names}")
    train, test = pairs[names.index(split)]
    y = segments.y.astype(np.int64)
    ds = UCRDataset(
        name=MITDB,
        X_train=segments.X[train].astype(np.float64),
        y_train=y[train],
        X_test=segments.X[test].astype(np.float64),
        y_test=y[test],
        classes=np.asarray(segments.classes, dtype=str),
    )
    records = segments.table["record"].astype(str).to_numpy()
    return carve_validation(ds, proto, seed=fold_seed, train_records=records[train],
                            test_records=records[test])


def build_arch(model: dict, ds: UCRDataset, name: str = "model"):
    """The network description of a configured model, sized to the data (see
    :mod:`ecgrepro.models.registry`)."""
    from ecgrepro.models.registry import build_arch as build

    return build(model, length=ds.length, n_classes=len(ds.classes), label=f"models.{name}")


def _check_model_source(model: dict, settings: dict | None) -> None:
    """Refuse to train a model module of one's own edited since the run was planned:
    its source is part of the run's path (:func:`ecgrepro.store.model_source`)."""
    from ecgrepro.store import model_source

    planned = (settings or {}).get("model_source")
    if planned and model_source(model) != planned:
        raise EcgreproError(
            f"model module {planned['module']} changed after this run was planned (blob "
            f"{planned['blob'][:12]}, now {model_source(model)['blob'][:12]}); rerun "
            "snakemake, which plans the run of the module as it is now."
        )


def _fit_evaluate(framework: str):
    if framework == "torch":
        from ecgrepro.training.torch_fit import fit_evaluate
    elif framework == "keras":
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        from ecgrepro.training.keras_fit import fit_evaluate
    else:
        raise EcgreproError(f"framework must be one of {FRAMEWORKS}, got {framework!r}")
    return fit_evaluate


def train_run(
    data_path,
    *,
    dataset: str,
    model_name: str,
    model: dict,
    framework: str,
    protocol: str,
    protocol_overrides: dict,
    split: str,
    seed: int,
    outdir,
    device: str = "auto",
    threads: int = 1,
    n_folds: int = 10,
    fold_seed: int = 0,
    data_files=(),
    convergence: dict | None = None,
    settings: dict | None = None,
) -> dict:
    """Train and evaluate one run and write its directory; return its metrics.

    The directory is assembled in a temporary sibling and renamed into place only when
    complete. A diverged run (NaN loss) keeps its history in ``<outdir>.failed/`` and
    raises, so nothing partial is mistaken for a result. ``settings`` (from
    :func:`ecgrepro.store.train_settings`) are written to ``settings.json``; their
    digest must be the one in ``outdir``'s name.
    """
    from ecgrepro.training import TrainingDivergedError, get_protocol, write_run_dir
    from ecgrepro.training.results import write_history

    if settings is not None:
        check_dir_matches(settings, outdir)
    proto = get_protocol(protocol, **protocol_overrides)
    ds = load_task(data_path, dataset, protocol, split, n_folds, fold_seed, proto=proto)
    arch = build_arch(model, ds, model_name)
    _check_model_source(model, settings)
    fit_evaluate = _fit_evaluate(framework)
    outdir = Path(outdir)
    try:
        result = fit_evaluate(ds, arch, proto, seed, device=device, threads=threads)
    except TrainingDivergedError as exc:
        failed = outdir.with_name(outdir.name + ".failed")
        write_history(exc.history, failed / "history.csv")
        raise EcgreproError(f"{exc} History so far: {failed / 'history.csv'}.") from exc

    result.metrics.update(model=model_name, split=split, fold_seed=fold_seed)
    if convergence:
        # Recorded with the run under the criterion in force; the aggregate judges
        # every run again from history.csv under the current criterion.
        from ecgrepro.convergence import assess

        result.metrics["convergence"] = assess(result.history, convergence)
    with atomic_dir(outdir) as tmp:
        write_run_dir(result, tmp)
        extra = {
            "step": "train",
            "run": {"dataset": dataset, "model": model_name, "framework": framework,
                    "protocol": protocol, "split": split, "seed": seed},
            "determinism": result.determinism,
            "device_requested": device,
            "threads": threads,
        }
        write_json(tmp / "provenance.json",
                   collect_provenance(seed, [data_path, *data_files], extra, outdir=tmp))
        if settings is not None:
            write_settings(tmp, settings)
    return result.metrics
