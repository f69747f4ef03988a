"""Run identity: where a run lives, what it writes, and what made it.

A run is identified by everything that determines its result: the dataset and its
data digest, the model's settings, the framework, the effective protocol (the preset
after every config override), the split and the seed (MIT-BIH oh2018: also the folds'
count and seed). Those settings, as canonical JSON, hash to a short digest that ends
the run's directory name::

    results/runs/<dataset>/<model>/<framework>/<protocol>/<split>/seed<n>-<digest>
    results/knn/<dataset>/<variant>-<digest>

so a changed setting is a new path, which Snakemake builds on a fresh clone as on a
cluster, without any metadata or file times, and the old run stays where it was. Every
run also writes ``settings.json``, the digest's input, which the aggregate reads to
refuse mixing runs of different settings.

This module is the one place that spells these paths, the files of a run, the
evaluation splits, the benchmark files and the atomic directory write. Standard
library only (plus :mod:`ecgrepro.training.presets`, which imports numpy), so the
Snakefile and the light aggregate environment import it.

One cohesive idea, run identity, hence a little over the ~400 lines of other modules.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from ecgrepro.errors import EcgreproError
from ecgrepro.io import naming_full_disk

__all__ = [
    "DIGEST_LEN", "KNN_FILES", "REFERENCE", "REFERENCE_BENCHMARKS", "RESULTS", "BENCHMARKS",
    "RunId", "TRAIN_FILES", "atomic_dir", "benchmark_paths", "digest", "eval_splits",
    "knn_dir", "knn_settings", "parse_run_dir", "read_settings", "replace_dir",
    "run_dir", "train_settings", "write_settings",
]

#: Hex characters of the settings digest in a run's directory name.
DIGEST_LEN = 10
#: A user's results and benchmarks (git-ignored) and the committed reference ones.
RESULTS = "results"
BENCHMARKS = "benchmarks"
REFERENCE = "results/reference"
REFERENCE_BENCHMARKS = "benchmarks/reference"
MITDB = "mitdb"
#: Files a complete run has (``settings.json`` comes on top; see :data:`SETTINGS`).
TRAIN_FILES = ("metrics.json", "predictions.csv", "history.csv", "provenance.json")
KNN_FILES = ("accuracy.csv", "confusion.csv", "metrics.json", "provenance.json")
#: The run's settings, the input of its digest.
SETTINGS = "settings.json"

RUN_TEMPLATE = "{root}/runs/{dataset}/{model}/{framework}/{protocol}/{split}/seed{seed}-{digest}"
KNN_TEMPLATE = "{root}/knn/{dataset}/{variant}-{digest}"
#: Snakemake benchmark files, relative to a benchmarks root.
TRAIN_BENCHMARK = "train/{dataset}/{model}/{framework}/{protocol}/{split}/seed{seed}-{digest}.tsv"
KNN_BENCHMARK = "knn/{dataset}/{variant}-{digest}.tsv"
#: Where a k-NN run's block benchmarks sit (a folder beside its own benchmark).
KNN_BLOCK_BENCHMARKS = "knn/{dataset}/{variant}-{digest}"

_DIGEST = rf"[0-9a-f]{{{DIGEST_LEN}}}"
_TRAIN_RE = re.compile(
    r"(?:^|/)runs/(?P<dataset>[^/]+)/(?P<model>[^/]+)/(?P<framework>[^/]+)/"
    rf"(?P<protocol>[^/]+)/(?P<split>[^/]+)/seed(?P<seed>\d+)(?:-(?P<digest>{_DIGEST}))?/*$"
)
_KNN_RE = re.compile(
    rf"(?:^|/)knn/(?P<dataset>[^/]+)/(?P<variant>[^/]+?)(?:-(?P<digest>{_DIGEST}))?/*$"
)


# --- settings and their digest ------------------------------------------------------


def canonical_json(obj) -> str:
    """Sorted keys, no spaces, ASCII: the same text for equal settings everywhere."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def digest(settings: dict) -> str:
    """The first :data:`DIGEST_LEN` hex characters of sha256 over canonical JSON."""
    return hashlib.sha256(canonical_json(settings).encode()).hexdigest()[:DIGEST_LEN]


def eval_splits(dataset: str, protocol: str, n_folds: int, resamples: int = 1) -> list[str]:
    """The evaluation splits of a (dataset, protocol): the test set, folds, or DS2.

    UCR: ``test`` (the archive split, resample 0), then ``resample1`` ..
    ``resample<resamples-1>`` (stratified resamples, see ``data.splits.ucr_resample``).
    """
    if dataset != MITDB:
        return ["test"] + [f"resample{i}" for i in range(1, resamples)]
    if protocol == "dechazal2004":
        return ["ds2"]
    return [f"fold{i}" for i in range(n_folds)]


def known_digests() -> dict[str, str]:
    """Data files whose sha256 the package pins (``data/known_sha256.tsv``)."""
    out = {}
    text = files("ecgrepro.data").joinpath("known_sha256.tsv").read_text()
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            path, sha = line.split("\t")[:2]
            out[path] = sha
    return out


def _mitdb_records(config: dict) -> list[int]:
    from ecgrepro.data.mitdb import ALL_RECORDS, check_records

    records = config.get("mitdb_records", "all")
    chosen = ALL_RECORDS if records == "all" else check_records(records)
    return sorted(int(r) for r in chosen)


def data_identity(dataset: str, config: dict, verified: dict | None = None) -> dict:
    """What the data of a run are: the content of its files, pinned or verified.

    UCR: the dataset's name and the sha256 of its raw files: the package's pinned ones,
    or (``pinned: false``) those its ``verified.json`` records, ``verified`` (the workflow
    reads it once the files are verified, a Snakemake checkpoint, so a replaced dataset
    is a new run path); ``{}`` before. MIT-BIH: the pinned digest of PhysioNet's checksum
    list (which pins every record), the records and the segmentation settings.
    """
    known = known_digests()
    if dataset == MITDB:
        return {"name": MITDB, "checksums_sha256": known.get("mitdb/SHA256SUMS.txt"),
                "records": _mitdb_records(config), "segments": config["mitdb_segments"]}
    prefix = f"ucr/{dataset}/"
    pinned = {p.removeprefix(prefix): s for p, s in known.items() if p.startswith(prefix)}
    if pinned:
        return {"name": dataset, "pinned": True, "sha256": pinned}
    return {"name": dataset, "pinned": False, "sha256": dict(sorted((verified or {}).items()))}


def model_source(model: dict) -> dict | None:
    """The source of a model family given by import path (None for the package's own).

    ``{"module", "blob"}``: the module defining the class and its file's git blob id
    (:mod:`ecgrepro.codeid`), so an edited model file is a new run path. The package's
    families are left out: its code marks runs stale, never retrains them.
    """
    family = model.get("family") if isinstance(model, dict) else None
    if not isinstance(family, str) or ":" not in family:
        return None
    from ecgrepro.codeid import module_blob
    from ecgrepro.models.registry import resolve

    return module_blob(resolve(family).__module__)


def raw_files_changed(directory, verified: dict | None) -> bool:
    """Whether a dataset's raw files differ from the digests its ``verified.json``
    records (True when it has none or a file is absent): it will be verified again."""
    if not verified:
        return True
    for name, sha in verified.items():
        path = Path(directory) / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            return True
    return False


def effective_protocol(protocol: str, overrides: dict) -> dict:
    """The preset with the config's overrides applied, every field (no description)."""
    from ecgrepro.training.presets import get_protocol

    try:
        proto = get_protocol(protocol, **(overrides or {})).to_dict()
    except (KeyError, TypeError, ValueError) as exc:
        raise EcgreproError(
            f"config key protocols.{protocol}: {exc}. Use a preset of "
            "ecgrepro.training.presets and fields of its Protocol."
        ) from exc
    proto.pop("description", None)
    # Settings that change nothing are no part of a run's identity: without early
    # stopping its minimum delta and warm-up, and an absent validation set. So a field
    # added with a neutral default keeps the runs made before it valid.
    if proto.get("early_stopping_patience") is None:
        for key in ("early_stopping_patience", "early_stopping_min_delta",
                    "early_stopping_start_epoch"):
            proto.pop(key, None)
    for key in ("validation_fraction", "validation_records"):
        if proto.get(key) is None:
            proto.pop(key, None)
    if proto.get("plateau_monitor") == "loss":  # the default, older than the field
        proto.pop("plateau_monitor")
    return proto


def train_settings(config: dict, dataset: str, model: str, framework: str, protocol: str,
                   split: str, seed: int, data_digests: dict | None = None) -> dict:
    """The settings that determine one training run (the digest's input).

    Parameters
    ----------
    config : dict
        The workflow's config (``models``, ``protocols``, ``training``,
        ``mitdb_records``, ``mitdb_segments``).
    dataset, model, framework, protocol, split : str
        The run's coordinates, as in its path.
    seed : int
        The training seed.
    data_digests : dict, optional
        ``{dataset: {file: sha256}}`` of verified datasets the package pins no digest
        for (their ``verified.json``; see :func:`data_identity`).
    """
    if model not in config["models"]:
        raise EcgreproError(f"config key models: no model {model!r}; "
                            f"configured: {sorted(config['models'])}.")
    settings = {
        "kind": "train",
        "dataset": dataset,
        "data": data_identity(dataset, config, (data_digests or {}).get(dataset)),
        "model": model,
        "model_settings": config["models"][model],
        "framework": framework,
        "protocol": protocol,
        "protocol_settings": effective_protocol(protocol, config["protocols"].get(protocol)),
        "split": split,
        "seed": int(seed),
    }
    source = model_source(config["models"][model])
    if source is not None:  # only then: the runs of the package's models keep their path
        settings["model_source"] = source
    if dataset == MITDB and protocol == "oh2018":
        # the folds are part of what a run is evaluated on
        settings["folds"] = {"n_folds": int(config["training"]["n_folds"]),
                             "fold_seed": int(config["training"]["fold_seed"])}
    return settings


def knn_settings(config: dict, dataset: str, variant: str,
                 data_digests: dict | None = None) -> dict:
    """The settings that determine one k-NN run: data, variant, the k, any subset.

    The block size is not among them: the blocks join into the same run whatever it is.
    ``data_digests`` as for :func:`train_settings`.
    """
    settings = {
        "kind": "knn",
        "dataset": dataset,
        "data": data_identity(dataset, config, (data_digests or {}).get(dataset)),
        "variant": variant,
        "ks": [int(k) for k in config["knn"]["ks"]],
    }
    if variant == "sktime-dtw":
        sub = config["knn"].get("sktime_subset") or {}
        settings["sktime_subset"] = {"max_cells": sub.get("max_cells"),
                                     "rows": sub.get("rows")}
    return settings


def run_dir(settings: dict, root: str = RESULTS) -> str:
    """The directory of the training or k-NN run with these settings, under ``root``."""
    if settings["kind"] == "knn":
        return KNN_TEMPLATE.format(root=root, dataset=settings["dataset"],
                                   variant=settings["variant"], digest=digest(settings))
    return RUN_TEMPLATE.format(root=root, dataset=settings["dataset"],
                               model=settings["model"], framework=settings["framework"],
                               protocol=settings["protocol"], split=settings["split"],
                               seed=settings["seed"], digest=digest(settings))


def knn_dir(config: dict, dataset: str, variant: str, root: str = RESULTS,
            data_digests: dict | None = None) -> str:
    """Shortcut: the directory of a configured k-NN run."""
    return run_dir(knn_settings(config, dataset, variant, data_digests), root)


def write_settings(directory, settings: dict) -> None:
    """Write ``settings.json`` (sorted, with its digest) into a run directory."""
    from ecgrepro.io import write_json

    write_json(Path(directory) / SETTINGS, {"digest": digest(settings), "settings": settings},
               sort_keys=True)


def read_settings(directory) -> dict | None:
    """A run's recorded settings (None when it has no ``settings.json``)."""
    path = Path(directory) / SETTINGS
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("settings")


def short(value, width: int = 60) -> str:
    """``repr`` of a value, a long list or dict shortened (for messages)."""
    text = repr(value)
    if len(text) <= width:
        return text
    if isinstance(value, (list, tuple)) and len(value) > 3:
        return f"[{value[0]!r}, {value[1]!r}, ..., {value[-1]!r}] ({len(value)} items)"
    return text[: width - 3] + "..."


#: Settings whose change is said in words: (dotted key prefix, what changed).
_NAMED = (("data.sha256.", "data changed"), ("model_source.", "model source changed"))


def _hex(value) -> str:
    return value[:12] if isinstance(value, str) else "none"


def diff_settings(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every (dotted) key whose value differs.

    A changed data file reads ``data changed: <file> sha256 <old> -> <new>``, an edited
    model module ``model source changed: <module> <old blob> -> <new blob>`` (short).
    """
    named = next((what for key, what in _NAMED if prefix.startswith(key)), None)
    if named and (isinstance(old, dict) or isinstance(new, dict)):
        old, new = old or {}, new or {}  # a run made before the key existed
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            out += diff_settings(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    if old == new:
        return []
    if named == "data changed":
        return [f"{named}: {prefix[len(_NAMED[0][0]):-1]} sha256 {_hex(old)} -> {_hex(new)}"]
    if named and prefix == "model_source.blob.":
        return [f"{named}: blob {_hex(old)} -> {_hex(new)}"]
    if named:
        return [f"{named}: {prefix[len(_NAMED[1][0]):-1]} {short(old)} -> {short(new)}"]
    return [f"{prefix[:-1]}: {short(old)} -> {short(new)}"]


def changed_runs(planned) -> list[str]:
    """Why planned runs are new: for each missing run directory beside which a run of
    the same coordinates under other settings exists, what changed (that run is kept).

    Parameters
    ----------
    planned : iterable of (str, dict)
        Run directories and their settings, as the workflow plans them.
    """
    out = []
    for path, settings in planned:
        d = Path(path)
        if d.exists() or not d.parent.is_dir():
            continue
        run = parse_run_dir(d)
        stem = f"seed{run.seed}-" if run.kind == "train" else f"{run.model}-"
        others = [(o, read_settings(o)) for o in d.parent.glob(stem + "?" * DIGEST_LEN)
                  if o.is_dir()]
        others = [(o, s) for o, s in others if s is not None]
        if not others:
            continue
        old, old_settings = max(others, key=lambda x: x[0].stat().st_mtime)
        what = "; ".join(diff_settings(old_settings, settings)[:4]) or "no recorded change"
        out.append(f"{run.name}: settings changed since {old.name} (kept): {what}")
    return out


def check_dir_matches(settings: dict, outdir) -> None:
    """Refuse to write a run into a directory whose digest names other settings."""
    run = parse_run_dir(outdir)
    if run.digest and run.digest != digest(settings):
        raise EcgreproError(
            f"{outdir}: the directory's digest {run.digest} is not that of the settings "
            f"given ({digest(settings)}). Ask for the run by the path the workflow "
            "plans (snakemake -n lists it); never reuse a run directory for other settings."
        )


# --- parsing a run directory ---------------------------------------------------------


@dataclass(frozen=True)
class RunId:
    """Identity of one run, parsed from its directory.

    ``name`` is the directory from ``runs/`` or ``knn/`` on: relative, the same on every
    machine, used in tables. For k-NN runs ``model`` is the variant, ``framework`` the
    library (filled in once ``metrics.json`` is read), ``protocol`` is ``"knn"``.
    ``digest`` is the settings digest of the directory name ("" for a run made before
    runs were keyed by their settings).
    """

    kind: str
    dataset: str
    model: str
    framework: str
    protocol: str
    split: str
    seed: int | None
    path: Path = field(compare=False)
    name: str = field(compare=False)
    digest: str = ""


def parse_run_dir(path) -> RunId:
    """The :class:`RunId` of a training or k-NN run directory.

    Raises
    ------
    ValueError
        When the path follows neither layout.
    """
    text = str(path).replace("\\", "/").rstrip("/")
    m = _TRAIN_RE.search(text)
    if m:
        d = m.groupdict()
        tail = f"seed{d['seed']}" + (f"-{d['digest']}" if d["digest"] else "")
        name = "runs/" + "/".join(
            [d["dataset"], d["model"], d["framework"], d["protocol"], d["split"], tail])
        return RunId("train", d["dataset"], d["model"], d["framework"], d["protocol"],
                     d["split"], int(d["seed"]), Path(path), name, d["digest"] or "")
    m = _KNN_RE.search(text)
    if m:
        d = m.groupdict()
        tail = d["variant"] + (f"-{d['digest']}" if d["digest"] else "")
        return RunId("knn", d["dataset"], d["variant"], "", "knn", "test", None,
                     Path(path), f"knn/{d['dataset']}/{tail}", d["digest"] or "")
    raise ValueError(
        f"{path}: not a run directory (expected .../runs/<dataset>/<model>/<framework>/"
        "<protocol>/<split>/seed<n>-<digest> or .../knn/<dataset>/<variant>-<digest>)"
    )


def benchmark_paths(run: RunId, benchmarks) -> list[Path]:
    """The benchmark TSVs of a run that exist: its job's, and for k-NN its blocks'."""
    if benchmarks is None:
        return []
    benchmarks = Path(benchmarks)
    suffix = f"-{run.digest}" if run.digest else ""
    if run.kind == "knn":
        blocks = benchmarks / "knn" / run.dataset / f"{run.model}{suffix}"
        paths = [benchmarks / "knn" / run.dataset / f"{run.model}{suffix}.tsv"]
        paths += sorted(blocks.glob("*.tsv")) if blocks.is_dir() else []
        if run.model == "learned":  # its window search, shared by every learned run
            paths += sorted((benchmarks / "knn" / run.dataset / "learned").glob("window.*.tsv"))
    else:
        parts = [run.dataset, run.model, run.framework, run.protocol, run.split]
        paths = [benchmarks.joinpath("train", *parts, f"seed{run.seed}{suffix}.tsv")]
    return [p for p in paths if p.is_file()]


# --- writing a run directory ---------------------------------------------------------


def replace_dir(tmp, outdir) -> None:
    """Move a finished temporary directory into place, replacing an older one."""
    tmp, outdir = Path(tmp), Path(outdir)
    old = outdir.with_name(f".{outdir.name}.old-{os.getpid()}")
    if outdir.exists():
        outdir.rename(old)
    tmp.rename(outdir)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_dir(outdir):
    """Yield an empty temporary sibling of ``outdir``; rename it into place on success.

    A killed job leaves a hidden ``.<name>.partial-<pid>`` (never the run directory
    itself), so nothing half-written is ever taken for a result.
    """
    outdir = Path(outdir)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = outdir.with_name(f".{outdir.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        with naming_full_disk(outdir):  # a full disk: one line naming the directory
            yield tmp
            replace_dir(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
