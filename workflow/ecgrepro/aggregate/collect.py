"""Read the expected run directories: what exists, what is missing, what each run measured.

Run directories, their files and their benchmark TSVs are those of
:mod:`ecgrepro.store` (``.../runs/<dataset>/<model>/<framework>/<protocol>/<split>/
seed<seed>-<digest>``, ``.../knn/<dataset>/<variant>-<digest>``). A run's
``settings.json`` (where present) names the settings it was made with: runs that would
share a summary row (same dataset, model, framework, protocol) but differ in anything
other than their seed and split are never mixed; the aggregate stops and says which.

Every metric is recomputed from the predictions with :mod:`ecgrepro.metrics`, so
training runs and k-NN runs are scored by one definition. Files only: nothing here
imports a deep-learning framework, aeon or sktime.

One cohesive idea (reading run directories into tables), hence a little over the ~400
lines of other modules.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ecgrepro.codeid import changed_files
from ecgrepro.metrics import confusion_long, confusion_matrix, per_class_metrics
from ecgrepro.errors import EcgreproError
from ecgrepro.metrics import summary_metrics
from ecgrepro.store import KNN_FILES, TRAIN_FILES, RunId, benchmark_paths, digest
from ecgrepro.store import parse_run_dir, read_settings

log = logging.getLogger("ecgrepro")

__all__ = ["Collected", "RunId", "UnreadableRunFile", "collect", "parse_run_dir",
           "unreadable_runs", "CHECKPOINT_ORDER"]

MITDB = "mitdb"  # per-class columns in runs.csv for this dataset (Oh et al.'s 5 classes)
#: Checkpoint rules in reading order (last epoch, lowest training loss, best test epoch,
#: lowest validation loss).
CHECKPOINT_ORDER = {"last": 0, "min_train_loss": 1, "best_test": 2, "best_val": 3}
#: Columns that name a run (and, with ``checkpoint`` and ``k``, a row of runs.csv).
ID_COLUMNS = ["kind", "dataset", "model", "framework", "protocol", "split", "seed"]


@dataclass
class Collected:
    """Everything read from the run directories.

    Attributes
    ----------
    runs : DataFrame
        One row per training run x checkpoint rule with predictions, or per k-NN run x
        k: identity, metrics, timings, parameters, peak memory, commit.
    confusion : DataFrame
        Long confusion counts: identity, ``checkpoint``, ``k``, ``true``, ``pred``,
        ``count``.
    history : DataFrame
        Training histories with the run identity.
    status : DataFrame
        One row per expected (or unexpectedly found) run: ``run, kind, status, reason``;
        status is ``ok``, ``missing``, ``partial``, ``diverged``, ``unreadable`` or
        ``unexpected``.
    software : DataFrame
        ``package, version, n_runs`` over the runs' provenance.
    settings : DataFrame
        ``scope, name, field, value, n_runs``: every protocol field (``protocol_params``)
        and architecture field (``arch``) the training runs recorded, values as JSON.
    classes : dict
        Class labels of each dataset, in the runs' order.
    cases : dict
        ``{(run name, checkpoint): (case_id, y_true, y_pred)}`` arrays of every training
        run's predictions, for the bootstrap over shared test cases
        (:mod:`~ecgrepro.aggregate.cases`).
    """

    runs: pd.DataFrame
    confusion: pd.DataFrame
    history: pd.DataFrame
    status: pd.DataFrame
    software: pd.DataFrame
    settings: pd.DataFrame
    classes: dict
    cases: dict = field(default_factory=dict)


class UnreadableRunFile(Exception):
    """A file of a finished run that cannot be read (truncated, not JSON/CSV, ...).

    ``str()`` names the file, what is wrong and what to do; ``file`` is the path.
    """

    def __init__(self, path: Path, exc: Exception):
        self.file = Path(path)
        self.what = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        super().__init__(f"{self.file} is unreadable ({self.what})")


def _guarded(reader):
    """``reader(path, ...)`` raising :class:`UnreadableRunFile` naming ``path``."""

    def read(path, *args, **kwargs):
        try:
            return reader(path, *args, **kwargs)
        except UnreadableRunFile:
            raise
        except (OSError, ValueError, KeyError, UnicodeDecodeError,
                pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise UnreadableRunFile(path, exc) from exc

    return read


@_guarded
def _read_json(path: Path) -> dict:
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"a JSON object was expected, found {type(data).__name__}")
    return data


_read_csv = _guarded(pd.read_csv)


def _benchmark(paths) -> dict:
    """Wall seconds and peak RSS (MB) from a run's benchmark TSVs.

    Seconds: the mean over a file's repeats, summed over files (a scattered k-NN run:
    its blocks and the gather). Peak RSS: the largest of any job. NaN without a file.
    """
    seconds, rss = [], []
    for path in paths:
        try:
            bench = _read_csv(path, sep="\t", na_values=["-", "NA"])
        except UnreadableRunFile as exc:  # timing only: the run itself stays in
            log.warning("%s; its job's time and memory are left empty", exc)
            continue
        seconds.append(pd.to_numeric(bench["s"], errors="coerce").mean())
        rss.append(pd.to_numeric(bench["max_rss"], errors="coerce").max())
    return {"job_seconds": float(np.nansum(seconds)) if seconds else np.nan,
            "max_rss_mb": float(np.nanmax(rss)) if rss and not np.all(np.isnan(rss))
            else np.nan}


def _bench_paths(run: RunId, benchmarks: Path | None) -> list[Path]:
    """The benchmark TSVs of a run (:func:`ecgrepro.store.benchmark_paths`)."""
    return benchmark_paths(run, benchmarks)


def _provenance(path: Path) -> tuple[dict, dict]:
    """(commit facts, package versions) of a run's provenance.json."""
    prov = _read_json(path)
    git = prov.get("git") or {}
    code = prov.get("code") or {}
    facts = {"commit": git.get("commit") or "", "dirty": git.get("dirty"),
             "diff_sha256": git.get("diff_sha256") or "",
             "settings_digest": _settings_digest(path.parent),
             "code_digest": code.get("digest") or "",
             "code_current": _code_current(code),
             "rules_digest": (prov.get("rules") or {}).get("digest") or ""}
    return facts, {k: v for k, v in (prov.get("packages") or {}).items() if v}


def _code_current(code: dict):
    """Whether every file the run loaded is byte-equal at this checkout's HEAD (None:
    not recorded, or no git); see :mod:`ecgrepro.codeid`."""
    if not code.get("files"):
        return None
    changed = changed_files(code["files"], "HEAD")
    return None if changed is None else not changed


def _settings_digest(run_dir: Path) -> str:
    settings = read_settings(run_dir)
    return digest(settings) if settings is not None else ""


def _group_settings(run_dir: Path, prov: dict) -> str | None:
    """What must agree between runs of one summary row: settings less seed and split,
    and the prepared data read (for data without a pinned digest)."""
    settings = read_settings(run_dir)
    if settings is None:
        return None
    shared = {k: v for k, v in settings.items() if k not in ("seed", "split")}
    data = sorted(f.get("sha256") or "" for f in prov.get("data_files") or []
                  if str(f.get("path", "")).endswith(".npz"))
    return digest({"settings": shared, "prepared_data": data})


def check_one_setting(runs) -> None:
    """Refuse runs of one summary row made under different settings (or data)."""
    groups: dict = {}
    for run in runs:
        prov = run.path / "provenance.json"
        if not prov.is_file():
            continue
        key = _group_settings(run.path, _read_json(prov))
        if key is None:
            continue
        row = (run.kind, run.dataset, run.model, run.protocol,
               run.framework if run.kind == "train" else "")
        groups.setdefault(row, {}).setdefault(key, []).append(run.name)
    mixed = {row: found for row, found in groups.items() if len(found) > 1}
    if mixed:
        lines = [f"{'/'.join(map(str, row))}: " + "; ".join(
            f"{key}: {', '.join(names[:3])}" for key, names in found.items())
            for row, found in mixed.items()]
        raise EcgreproError(
            "runs of one summary row were made under different settings or data:\n"
            + "\n".join(lines) + "\nAggregate one configuration at a time (the "
            "expected runs of one config file never mix)."
        )


def _scores(cm: pd.DataFrame, per_class: bool) -> dict:
    row = summary_metrics(cm)
    row["n_test"] = row.pop("n")
    if per_class:
        per = per_class_metrics(cm)
        for label in per.index:
            row[f"sensitivity_{label}"] = per.loc[label, "sensitivity"]
            row[f"specificity_{label}"] = per.loc[label, "specificity"]
    return row


def _train_run(run: RunId, benchmarks: Path | None):
    metrics = _read_json(run.path / "metrics.json")
    facts, packages = _provenance(run.path / "provenance.json")
    preds = _read_csv(run.path / "predictions.csv", dtype={"y_true": str, "y_pred": str,
                                                           "checkpoint": str})
    if "checkpoint" not in preds or "y_true" not in preds or "y_pred" not in preds:
        raise UnreadableRunFile(run.path / "predictions.csv",
                                ValueError("no checkpoint, y_true or y_pred column"))
    classes = [c.removeprefix("proba_") for c in preds.columns if c.startswith("proba_")]
    history = _read_csv(run.path / "history.csv")
    stopped = (metrics.get("early_stopping") or {}).get("stopped_early")
    if stopped is not None and "stopped_early" not in history:  # for convergence.assess
        history["stopped_early"] = bool(stopped)
    bench = _benchmark(_bench_paths(run, benchmarks))
    reported = metrics.get("checkpoint_rule")
    rows, confusions, cases = [], [], {}
    for rule in sorted(preds["checkpoint"].unique(), key=lambda r: CHECKPOINT_ORDER.get(r, 9)):
        p = preds[preds["checkpoint"] == rule]
        case_id = (p["case_id"].to_numpy(np.int64) if "case_id" in p
                   else np.arange(len(p), dtype=np.int64))
        cases[(run.name, rule)] = (case_id, p["y_true"].to_numpy(), p["y_pred"].to_numpy())
        cm = confusion_matrix(p["y_true"], p["y_pred"], classes)
        score = _scores(cm, per_class=run.dataset == MITDB)
        recorded = (metrics.get("accuracy_by_rule") or {}).get(rule)
        if recorded is not None and abs(recorded - score["accuracy"]) > 1e-9:
            log.warning("%s: %s accuracy %s in metrics.json, %s from predictions.csv",
                        run.name, rule, recorded, score["accuracy"])
        rows.append({
            "checkpoint": rule,
            "reported": rule == reported,
            "selects_on_test": rule == "best_test",
            "epochs": metrics.get("epochs"),
            "epoch": (metrics.get("epoch_by_rule") or {}).get(rule),
            **score,
            "train_seconds": metrics.get("fit_seconds"),
            "predict_seconds": metrics.get("predict_seconds"),
            "seconds_per_epoch": metrics.get("seconds_per_epoch"),
            "first_epoch_seconds": metrics.get("first_epoch_seconds"),
            **bench,
            "n_params": metrics.get("n_params"),
            "n_params_trainable": metrics.get("n_params_trainable"),
            "device": metrics.get("device") or "",
            **facts,
        })
        confusions.append(confusion_long(cm).assign(checkpoint=rule))
    settings = [("protocol", run.protocol, k, v)
                for k, v in (metrics.get("protocol_params") or {}).items()]
    settings += [("model", run.model, k, v) for k, v in (metrics.get("arch") or {}).items()]
    return rows, confusions, history, packages, classes, settings, cases


def _knn_run(run: RunId, benchmarks: Path | None):
    metrics = _read_json(run.path / "metrics.json")
    facts, packages = _provenance(run.path / "provenance.json")
    library = (metrics.get("definition") or {}).get("library") or "unknown"
    classes = [str(c) for c in metrics.get("classes", [])]
    conf = _read_csv(run.path / "confusion.csv", dtype={"true": str, "pred": str})
    timings = metrics.get("timings") or {}
    bench = _benchmark(_bench_paths(run, benchmarks))
    search = timings.get("distance_matrix_s", timings.get("neighbour_search_s", np.nan))
    rows, confusions = [], []
    for k, part in conf.groupby("k", sort=True):
        labels = classes or sorted({*part["true"], *part["pred"]})
        cm = (part.pivot_table(index="true", columns="pred", values="count", aggfunc="sum")
              .reindex(index=labels, columns=labels).fillna(0).astype(np.int64))
        cm.index.name, cm.columns.name = "true", "pred"
        rows.append({
            "k": int(k),
            "checkpoint": pd.NA,
            "reported": True,
            "selects_on_test": False,
            **_scores(cm, per_class=False),
            "train_seconds": timings.get("window_search_s", 0.0),
            "predict_seconds": search + timings.get("sweep_s", 0.0),
            **bench,
            **facts,
        })
        confusions.append(confusion_long(cm).assign(k=int(k)))
    return library, rows, confusions, packages, classes


def _missing_reason(run: RunId, files) -> tuple[str, str]:
    failed = run.path.with_name(run.path.name + ".failed")
    if not run.path.is_dir():
        if failed.is_dir():
            return "diverged", f"training diverged; partial history in {run.name}.failed/"
        return "missing", "no run directory (not run, or not finished)"
    absent = [f for f in files if not (run.path / f).is_file()]
    return "partial", "lacks " + ", ".join(absent)


def _unexpected(roots, known: set[str]) -> list[dict]:
    rows = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        marker = "metrics.json"
        for metrics in sorted(root.rglob(marker)):
            try:
                run = parse_run_dir(metrics.parent)
            except ValueError:
                continue
            if run.name not in known:
                rows.append({"run": run.name, "kind": run.kind, "status": "unexpected",
                             "reason": "not in the configured experiments (or made under other "
                             "settings); not aggregated"})
    return rows


def collect(expected, benchmarks=None, scan_roots=()) -> Collected:
    """Read every expected run directory that exists and account for the others.

    Parameters
    ----------
    expected : iterable of str or Path
        Run directories the configuration asks for (training and k-NN), e.g. from the
        rule's ``params``. Only these are aggregated.
    benchmarks : str or Path, optional
        Root of Snakemake's benchmark TSVs (``benchmarks``); peak memory is NaN without.
    scan_roots : iterable of str or Path
        Directories (``results/runs``, ``results/knn``) searched for runs that exist but
        were not expected; they are listed with status ``unexpected``.
    """
    benchmarks = Path(benchmarks) if benchmarks else None
    runs = sorted({parse_run_dir(p) for p in expected},
                  key=lambda r: (r.kind, r.dataset, r.model, r.framework, r.protocol,
                                 _split_key(r.split), r.seed if r.seed is not None else -1))
    rows, confusions, histories, status, software, classes = [], [], [], [], {}, {}
    settings: dict = {}
    cases: dict = {}
    ok_names: set = set()
    for run in runs:
        files = KNN_FILES if run.kind == "knn" else TRAIN_FILES
        ident = {"kind": run.kind, "dataset": run.dataset, "model": run.model,
                 "framework": run.framework, "protocol": run.protocol, "split": run.split,
                 "seed": run.seed, "run": run.name}
        if not all((run.path / f).is_file() for f in files):
            state, reason = _missing_reason(run, files)
            status.append({"run": run.name, "kind": run.kind, "status": state,
                           "reason": reason})
            continue
        try:
            if run.kind == "knn":
                library, r, c, packages, labels = _knn_run(run, benchmarks)
                ident["framework"] = library
            else:
                r, c, hist, packages, labels, sets, cs = _train_run(run, benchmarks)
                cases.update(cs)
                histories.append(hist.assign(**ident))
                for scope, name, key, value in sets:
                    text = json.dumps(value, sort_keys=True)
                    settings.setdefault((scope, name, key, text), set()).add(run.name)
        except UnreadableRunFile as exc:
            # Relative names only (tables hold no machine paths); the log has the full one.
            where = f"{run.name}/{exc.file.relative_to(run.path)}" \
                if exc.file.is_relative_to(run.path) else exc.file.name
            reason = (f"{where} is unreadable ({exc.what}), so this run is left out. "
                      f"To redo it, delete the run directory {run.name}/ and rerun the "
                      "workflow")
            log.warning("%s (%s)", reason, exc.file)
            status.append({"run": run.name, "kind": run.kind, "status": "unreadable",
                           "reason": reason})
            continue
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            reason = (f"{type(exc).__name__}: {exc}; a file of {run.name} does not hold "
                      "what a finished run writes. Delete the run directory and rerun "
                      "the workflow to redo it")
            log.warning("%s: %s", run.name, reason)
            status.append({"run": run.name, "kind": run.kind, "status": "unreadable",
                           "reason": reason})
            continue
        classes.setdefault(run.dataset, labels)
        rows.extend({**ident, **row} for row in r)
        confusions.extend(frame.assign(**ident) for frame in c)
        for package, version in packages.items():
            software.setdefault((package, version), set()).add(run.name)
        status.append({"run": run.name, "kind": run.kind, "status": "ok", "reason": ""})
        ok_names.add(run.name)
    check_one_setting([r for r in runs if r.name in ok_names])
    known = {r.name for r in runs}
    status.extend(_unexpected(scan_roots, known))
    return Collected(
        runs=_order(pd.DataFrame(rows)),
        confusion=_order(pd.concat(confusions, ignore_index=True)) if confusions
        else pd.DataFrame(),
        history=pd.concat(histories, ignore_index=True) if histories else pd.DataFrame(),
        status=pd.DataFrame(status, columns=["run", "kind", "status", "reason"])
        .sort_values(["kind", "run"], ignore_index=True),
        software=pd.DataFrame(
            [(p, v, len(names)) for (p, v), names in sorted(software.items())],
            columns=["package", "version", "n_runs"],
        ),
        settings=pd.DataFrame(
            [(*key, len(names)) for key, names in sorted(settings.items())],
            columns=["scope", "name", "field", "value", "n_runs"],
        ),
        classes=classes,
        cases=cases,
    )


def unreadable_runs(status: pd.DataFrame) -> dict[str, str]:
    """``{run name: reason}`` of the runs :func:`collect` could not read."""
    if status.empty:
        return {}
    bad = status[status["status"] == "unreadable"]
    return dict(zip(bad["run"], bad["reason"]))


def _split_key(split: str) -> tuple:
    m = re.fullmatch(r"fold(\d+)", str(split))
    return (1, int(m[1])) if m else (0, str(split))


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    """Identity columns first, then the rest; rows in a fixed order.

    Rows sort by identity, split (folds numerically), seed, k and checkpoint rule; rows
    that tie (the cells of one confusion matrix) keep the order they were made in.
    """
    if frame.empty:
        return frame
    frame = frame.copy()
    for col in ("k", "checkpoint"):
        if col not in frame.columns:
            frame[col] = pd.NA
    frame["seed"] = frame["seed"].astype("Int64")
    frame["k"] = frame["k"].astype("Int64")
    split = frame["split"].map(_split_key)
    keys = pd.DataFrame({
        **{c: frame[c].astype(str) for c in ("kind", "dataset", "model", "framework",
                                              "protocol")},
        "split_group": [s[0] for s in split],
        "split_name": [str(s[1]).zfill(6) for s in split],
        "seed": frame["seed"].fillna(-1).astype(int),
        "k": frame["k"].fillna(-1).astype(int),
        "checkpoint": frame["checkpoint"].map(lambda r: CHECKPOINT_ORDER.get(r, -1)),
        "position": np.arange(len(frame)),
    })
    order = keys.sort_values(list(keys.columns)).index
    first = [*ID_COLUMNS, "k", "checkpoint", "run"]
    frame = frame.loc[order].reset_index(drop=True)
    return frame[[c for c in first if c in frame] + [c for c in frame if c not in first]]
