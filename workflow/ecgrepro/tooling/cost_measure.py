"""What runs already made measured: benchmark files, run metrics, per-unit costs.

Used by :mod:`ecgrepro.tooling.cost` to scale measured jobs to planned ones.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ecgrepro import store

#: benchmark path templates of the rules that have one (see workflow/rules/*.smk;
#: tests/test_cost.py checks that they agree).
_RUN = dict(dataset="{dataset}", model="{model}", framework="{framework}",
            protocol="{protocol}", split="{fold}", seed="{seed}", digest="{digest}")
_KNN = dict(dataset="{dataset}", variant="{variant}", digest="{digest}")
BENCHMARKS = {
    "train": "benchmarks/" + store.TRAIN_BENCHMARK.format(**_RUN),
    "knn_block": "benchmarks/" + store.KNN_BLOCK_BENCHMARKS.format(**_KNN)
    + "/block.{block}-of-{nblocks}.tsv",
    "knn_window_block": "benchmarks/knn/{dataset}/learned/window.{block}-of-{nblocks}.tsv",
    "knn_run": "benchmarks/" + store.KNN_BENCHMARK.format(**_KNN),
    "mitdb_segments": "benchmarks/data/mitdb_segments.tsv",
}
#: where the matching outputs hold sizes and timings
METRICS = {
    "train": store.RUN_TEMPLATE.format(root="results", **_RUN) + "/metrics.json",
}


def protocol_params(cfg: dict, name: str) -> dict:
    from ecgrepro.training.presets import get_protocol

    return get_protocol(name, **(cfg.get("protocols", {}).get(name) or {})).to_dict()


def ucr_sizes() -> dict[str, dict]:
    from importlib.resources import files

    text = files("ecgrepro.data").joinpath("ucr_metadata.csv").read_text()
    return {
        r["name"]: {"n_train": int(r["train_size"]), "n_test": int(r["test_size"]),
                    "length": int(r["length"])}
        for r in csv.DictReader(text.splitlines())
    }


def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    digest = f"[0-9a-f]{{{store.DIGEST_LEN}}}"  # fixed: '<variant>-<digest>' is unambiguous
    rx = "".join(
        re.escape(p) if i % 2 == 0 else f"(?P<{p}>{digest if p == 'digest' else '[^/]+?'})"
        for i, p in enumerate(parts)
    )
    return re.compile(rx + "$")


def read_benchmark(path: Path) -> dict | None:
    """Mean s and cpu_time over the rows of a benchmark TSV (None if unreadable)."""
    try:
        rows = list(csv.DictReader(path.read_text().splitlines(), delimiter="\t"))
        s = [float(r["s"]) for r in rows]
        cpu = [float(r.get("cpu_time") or "nan") for r in rows]
    except (OSError, KeyError, ValueError):
        return None
    if not rows:
        return None
    return {"s": sum(s) / len(s), "cpu_time": sum(cpu) / len(cpu)}


@dataclass
class Measured:
    rule: str
    wildcards: dict
    s: float
    cpu_time: float
    metrics: dict | None

    @property
    def cpu_ratio(self) -> float:
        if self.s > 0 and math.isfinite(self.cpu_time):
            return self.cpu_time / self.s
        return 1.0


def collect(root: Path) -> tuple[list[Measured], list[str]]:
    """Every benchmark under ``root/benchmarks`` (a user's, and the reference's in
    ``benchmarks/reference`` with ``results/reference``) with its run's metrics."""
    found, notes = [], []
    ref = root / store.REFERENCE_BENCHMARKS
    tsvs = []  # (path, its path as the templates spell it, results root)
    for path in sorted((root / "benchmarks").rglob("*.tsv")):
        if ref in path.parents:
            tsvs.append((path, "benchmarks/" + path.relative_to(ref).as_posix(),
                         root / store.REFERENCE))
        else:
            tsvs.append((path, path.relative_to(root).as_posix(), root / "results"))
    for rule, template in BENCHMARKS.items():
        rx = _template_regex(template)
        for path, rel, results in tsvs:
            m = rx.search(rel)
            if not m:
                continue
            bench = read_benchmark(path)
            if bench is None:
                notes.append(f"unreadable benchmark {path}")
                continue
            wc = m.groupdict()
            metrics = None
            if rule in METRICS:
                mpath = results / METRICS[rule].format(**wc).removeprefix("results/")
                try:
                    metrics = json.loads(mpath.read_text())
                except (OSError, ValueError):
                    notes.append(f"{path.relative_to(root)}: no metrics at {mpath.relative_to(root)}; not used")
                    continue
            found.append(Measured(rule, wc, bench["s"], bench["cpu_time"], metrics))
    return found, notes


def _mean(xs):
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return sum(xs) / len(xs) if xs else None


def train_units(m: Measured) -> dict | None:
    """Per-unit wall seconds of one measured training run."""
    x = m.metrics
    try:
        n_tr, n_te, L = x["n_train"], x["n_test"], x["arch"]["length"]
        epochs, spe = x["epochs"], x["seconds_per_epoch"]
        fit, pred = x["fit_seconds"], x["predict_seconds"]
        te = x["protocol_params"]["test_every"]
    except (KeyError, TypeError):
        return None
    n_pred = sum(v is not None for v in (x.get("accuracy_by_rule") or {}).values()) or 1
    pred = pred if pred is not None and math.isfinite(pred) else 0.0
    evals = epochs // te if te else 0
    eval_total = x.get("eval_seconds_per_epoch", 0.0) * epochs
    return {
        "overhead": max(0.0, m.s - fit - n_pred * pred),
        "train": spe / (n_tr * L),
        "eval": (eval_total / evals) / (n_te * L) if evals else pred / (n_te * L),
        "predict": n_pred * pred / (n_te * L),
        "cpu_ratio": m.cpu_ratio,
    }


def _average(units: list[dict]) -> dict:
    return {k: _mean([u[k] for u in units]) for k in units[0]}


def mitdb_sizes(measured: list[Measured], cfg: dict, root: Path) -> tuple[dict, str]:
    """(protocol, is_fold) -> MIT-BIH run sizes, and where they come from.

    From MIT-BIH runs already made (the largest seen), else from the segment counts per
    record of a segmentation already made (``results/data/mitdb/segments_by_record.csv``):
    oh2018 trains on (n_folds - 1) / n_folds of the segments, dechazal2004 on DS1, tests
    on DS2.
    """
    out: dict[tuple, dict] = {}
    for m in measured:
        if m.rule == "train" and m.wildcards["dataset"] == "mitdb" and m.metrics:
            key = (m.wildcards["protocol"], m.wildcards["fold"].startswith("fold"))
            size = {"n_train": m.metrics["n_train"], "n_test": m.metrics["n_test"],
                    "length": m.metrics["arch"]["length"]}
            if key not in out or size["n_train"] > out[key]["n_train"]:
                out[key] = size
    basis = "MIT-BIH runs already made"
    table = root / "results" / "data" / "mitdb" / "segments_by_record.csv"
    if table.is_file():
        from ecgrepro.data.splits import DS1, DS2

        rows = list(csv.DictReader(table.read_text().splitlines()))
        per = {r["record"]: int(r["total"]) for r in rows if r["record"].isdigit()}
        total = sum(per.values())
        folds = cfg["training"]["n_folds"]  # required by the schema
        length = cfg["mitdb_segments"]["length"]
        fallback = {
            ("oh2018", True): {"n_train": total * (folds - 1) // folds,
                               "n_test": total // folds, "length": length},
            ("dechazal2004", False): {"n_train": sum(per.get(r, 0) for r in DS1),
                                      "n_test": sum(per.get(r, 0) for r in DS2),
                                      "length": length},
        }
        for key, size in fallback.items():
            if key not in out:
                out[key] = size
                basis = f"{table.relative_to(root)} ({len(per)} records, {total} segments)"
    return out, basis
