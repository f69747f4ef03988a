"""What a configuration will cost: ``python -m ecgrepro.cost [options]``.

Plans the workflow with a Snakemake dry run (default: the full ``config/config.yaml``,
from an empty working directory, so every job counts) and estimates its cost in core-hours
from the ``benchmark:`` files of runs already made (``benchmarks/**/*.tsv``) and the
metrics those runs wrote (``results/``, for epochs, sizes and timings).

The model, stated so that the numbers can be judged:

* Core-seconds of a measured job are its ``cpu_time`` (what the process used; on a
  shared machine the wall time ``s`` is inflated by waiting). ``s x threads`` (what a
  cluster would bill for the cores it reserved) is printed as an upper bound.
* A training run's wall time is split, from its ``metrics.json``, into fixed overhead
  (start-up, data loading, writing: ``s - fit_seconds - predictions``), training epochs
  (``seconds_per_epoch``), test evaluations every ``test_every`` epochs and the final
  predictions. Training is scaled by ``epochs x n_train x length``, evaluations and
  predictions by ``n_test x length``: linear in the data, the same batch size (same
  protocol). Units are averaged over the measured runs of the same (model, framework,
  protocol), falling back to (framework, protocol), then to every run. Core-seconds =
  scaled wall x the measured ``cpu_time / s``.
* k-NN blocks (``knn_block``, ``knn_window_block``): the mean ``cpu_time`` of measured
  blocks of the same dataset, variant and number of blocks; else the k-NN cost model of
  ``python -m ecgrepro.dtw cost`` (pruned DTW run now on a sample of each block's rows;
  random walks of the dataset's shape unless ``--data-mirror`` gives the real series),
  ``--knn skip`` to leave them out (it takes a minute or two).
* Other rules with benchmark files: their mean ``cpu_time``, unscaled. Rules without
  any: ``--unmeasured-seconds`` each (downloads, small preparation steps). Local rules
  (``localrule: True``): nothing.

The last line is ``jobs=<n> core_hours=<x> core_hours_upper=<y>`` for scripts.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ecgrepro import store

REPO_ROOT = Path(__file__).resolve().parents[2]

#: benchmark path templates of the rules that have one (the run ones from
#: ecgrepro.store, the others as in workflow/rules/*.smk; tests/test_cost.py checks).
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
KNN_BLOCK_RULES = ("knn_block", "knn_window_block")


# --- dry run -------------------------------------------------------------------------


@dataclass
class PlannedJob:
    rule: str
    wildcards: dict[str, str] = field(default_factory=dict)
    group: str | None = None


def parse_dry_run(text: str) -> tuple[list[PlannedJob], dict[str, int]]:
    """Jobs (rule, wildcards, group) and the 'Job stats' counts of a dry run's output."""
    jobs: list[PlannedJob] = []
    group = None
    current = None
    n_groups = 0
    for line in text.splitlines():
        m = re.match(r"^(\s*)\[.*\] Group job (\S+)", line)
        if m:  # one header per group job; several jobs may share a group name
            n_groups += 1
            group = f"{m[2]}#{n_groups}"
            continue
        m = re.match(r"^(\s*)(?:local)?rule (\w+):\s*$", line)
        if m:
            in_group = group is not None and len(m[1]) > 0
            if not in_group:
                group = None
            current = PlannedJob(m[2], group=group if in_group else None)
            jobs.append(current)
            continue
        m = re.match(r"^\s*wildcards: (.*)$", line)
        if m and current is not None:
            current.wildcards = dict(
                item.split("=", 1) for item in m[1].split(", ") if "=" in item
            )
    stats = {}
    if "Job stats:" in text:
        table = text.split("Job stats:", 1)[1].split("\ntotal", 1)[0]
        stats = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}
    return jobs, stats


def dry_run(snakefile: Path, configfiles, config_args, profile: str = "none") -> str:
    """Output of ``snakemake -n all`` in an empty directory (every job is planned)."""
    with tempfile.TemporaryDirectory(prefix="ecgrepro-cost-") as tmp:
        cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-n", "all",
               "--directory", tmp, "--workflow-profile", profile]
        if configfiles:
            cmd += ["--configfile", *map(str, configfiles)]
        if config_args:
            cmd += ["--config", *config_args]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"dry run failed ({' '.join(cmd)}):\n{out.stdout}\n{out.stderr}")
    return out.stdout + out.stderr


def local_rules(snakefile: Path) -> set[str]:
    """Rules declared ``localrule: True`` in the Snakefile and workflow/rules/*.smk."""
    files = [snakefile, *sorted((snakefile.parent / "workflow" / "rules").glob("*.smk"))]
    names = set()
    for f in files:
        for block in re.split(r"^(?=rule )", f.read_text(), flags=re.M):
            m = re.match(r"rule (\w+):", block)
            if m and re.search(r"^\s+localrule:\s*True", block, re.M):
                names.add(m[1])
    return names


# --- configuration -------------------------------------------------------------------


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(snakefile: Path, configfiles) -> dict:
    """config/config.yaml with the given config files merged over it, as Snakemake does."""
    import yaml

    cfg = yaml.safe_load((snakefile.parent / "config" / "config.yaml").read_text())
    for f in configfiles or ():
        cfg = _merge(cfg, yaml.safe_load(Path(f).read_text()) or {})
    return cfg


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


# --- measurements --------------------------------------------------------------------


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


# --- unit costs ----------------------------------------------------------------------


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


def knn_estimates(cfg: dict, mirror, log=None) -> dict[tuple, list[float]]:
    """(rule, dataset, variant) -> pruned core-seconds of each block, in block order,
    from the k-NN cost model (``python -m ecgrepro.dtw cost``: pruned DTW measured now on
    a sample of each job's rows, on this machine)."""
    from ecgrepro.dtw.cost import estimate as dtw_estimate

    jobs, _ = dtw_estimate(cfg, mirror, log=log or (lambda m: None))
    out: dict[tuple, list[float]] = defaultdict(list)
    for j in jobs:
        rule = "knn_window_block" if j.job.startswith("window") else "knn_block"
        out[(rule, j.dataset.split(" (")[0], j.variant)].append(j.pruned_s)
    return out


def _average(units: list[dict]) -> dict:
    return {k: _mean([u[k] for u in units]) for k in units[0]}


# --- the estimate --------------------------------------------------------------------


@dataclass
class Estimate:
    rule: str
    key: tuple
    jobs: int = 0
    core_s: float = 0.0
    upper_s: float = 0.0
    basis: str = ""


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
        folds = cfg.get("training", {}).get("n_folds", 10)
        length = cfg.get("mitdb_segments", {}).get("length", 1000)
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


def estimate(jobs: list[PlannedJob], measured: list[Measured], cfg: dict, locals_: set,
             unmeasured_seconds: float, threads: dict[str, int], root: Path,
             knn: dict | None = None):
    """Core-seconds per (rule, item) of the planned ``jobs``.

    ``knn``: per-block estimates for the k-NN block rules (:func:`knn_estimates`), used
    where no block of the same (dataset, variant, number of blocks) was measured.
    """
    sizes = ucr_sizes()
    mitdb, mitdb_basis = mitdb_sizes(measured, cfg, root)
    assumptions: list[str] = []
    by_rule = defaultdict(list)
    for m in measured:
        by_rule[m.rule].append(m)

    train_by = defaultdict(list)
    for m in by_rule["train"]:
        u = train_units(m)
        if u:
            w = m.wildcards
            train_by[(w["model"], w["framework"], w["protocol"])].append(u)
            train_by[("*", w["framework"], w["protocol"])].append(u)
            train_by[("*", "*", "*")].append(u)
    blocks_by = defaultdict(list)  # measured k-NN blocks
    for r in KNN_BLOCK_RULES:
        for m in by_rule[r]:
            w = m.wildcards
            blocks_by[(r, w["dataset"], w.get("variant", "learned"), w["nblocks"])].append(
                m.cpu_time if math.isfinite(m.cpu_time) else m.s)
    plain = {r: _mean([m.cpu_time for m in ms]) for r, ms in by_rule.items()
             if r != "train" and r not in KNN_BLOCK_RULES}

    results: dict[tuple, Estimate] = {}
    missing: Counter = Counter()

    def add(rule, key, core_s, upper_s, basis):
        e = results.setdefault((rule, key), Estimate(rule, key, basis=basis))
        e.jobs += 1
        e.core_s += core_s
        e.upper_s += upper_s

    for job in jobs:
        r, w = job.rule, job.wildcards
        if r in locals_:
            continue
        th = threads.get(r, 1)
        if r == "train":
            key = (w["model"], w["framework"], w["protocol"])
            for k, label in ((key, "same model/framework/protocol"),
                             (("*", key[1], key[2]), "same framework/protocol, other model"),
                             (("*", "*", "*"), "all measured runs: other models/protocols")):
                if train_by.get(k):
                    u, basis = _average(train_by[k]), f"{len(train_by[k])} runs, {label}"
                    break
            else:
                missing[r] += 1
                continue
            if w["dataset"] == "mitdb":
                size = mitdb.get((w["protocol"], w["fold"].startswith("fold")))
                if size is None:
                    missing[r] += 1
                    continue
            elif w["dataset"] in sizes:
                size = sizes[w["dataset"]]
            else:
                missing[r] += 1
                continue
            p = protocol_params(cfg, w["protocol"])
            n_tr, n_te, L = size["n_train"], size["n_test"], size["length"]
            evals = p["epochs"] // p["test_every"] if p["test_every"] else 0
            wall = (u["overhead"] + p["epochs"] * u["train"] * n_tr * L
                    + evals * u["eval"] * n_te * L + u["predict"] * n_te * L)
            add(r, (w["dataset"],) + key, wall * u["cpu_ratio"], wall * th, basis)
        elif r in KNN_BLOCK_RULES:
            v = w.get("variant", "learned")
            seen = blocks_by.get((r, w["dataset"], v, w["nblocks"]))
            est = (knn or {}).get((r, w["dataset"], v))
            if seen:
                core, basis = _mean(seen), f"mean cpu_time of {len(seen)} measured blocks"
            elif est:
                i = int(w["block"])
                core = est[i] if len(est) == int(w["nblocks"]) else sum(est) / int(w["nblocks"])
                basis = "python -m ecgrepro.dtw cost (pruned DTW, sampled now)"
            else:
                missing[r] += 1
                continue
            # blocks use their threads well (numba prange over rows): wall x threads ~ core
            add(r, (w["dataset"], v), core, core, basis)
        elif plain.get(r) is not None:
            add(r, (), plain[r], plain[r] * th, f"mean cpu_time of {len(by_rule[r])} runs")
        else:
            add(r, (), unmeasured_seconds, unmeasured_seconds * th,
                f"no benchmark: {unmeasured_seconds:g} core-s assumed")
    if any(j.rule == "train" and j.wildcards.get("dataset") == "mitdb" for j in jobs):
        assumptions.append(f"MIT-BIH run sizes from {mitdb_basis}.")
    if missing:
        assumptions.append(
            "not estimated (no comparable measurement or unknown size): "
            + ", ".join(f"{r} x{n}" for r, n in sorted(missing.items()))
        )
    return results, missing, assumptions


def rule_threads(snakefile: Path) -> dict[str, int]:
    """``threads:`` of each rule, from the rule files (default 1)."""
    out = {}
    for f in sorted((snakefile.parent / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^(?=rule )", f.read_text(), flags=re.M):
            m = re.match(r"rule (\w+):", block)
            t = re.search(r"^\s+threads:\s*(\d+)", block, re.M)
            if m and t:
                out[m[1]] = int(t[1])
    return out


def slurm_submissions(dry_text: str, locals_: set) -> tuple[int, int]:
    """(SLURM jobs, of which group jobs) in a dry run made with profiles/slurm."""
    jobs, _ = parse_dry_run(dry_text)
    groups = {j.group for j in jobs if j.group}
    single = sum(1 for j in jobs if j.group is None and j.rule not in locals_)
    return single + len(groups), len(groups)


def _h(seconds: float) -> str:
    return f"{seconds / 3600:,.1f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ecgrepro.cost",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--configfile", nargs="*", default=[],
                        help="config files merged over config/config.yaml (default: none, "
                             "i.e. the full configuration)")
    parser.add_argument("--config", nargs="*", default=[], dest="config_args",
                        help="KEY=VALUE overrides, as for snakemake --config")
    parser.add_argument("--measured", type=Path, default=Path("."),
                        help="directory holding benchmarks/ and results/ of runs already "
                             "made (default: the current directory)")
    parser.add_argument("--snakefile", type=Path, default=REPO_ROOT / "Snakefile")
    parser.add_argument("--unmeasured-seconds", type=float, default=5.0,
                        help="core-seconds assumed per job of a rule without benchmark "
                             "files (default 5: downloads, small preparation steps)")
    parser.add_argument("--slurm-profile", default=str(REPO_ROOT / "profiles" / "slurm"),
                        help="also count SLURM submissions with this workflow profile "
                             "('none' to skip; needs snakemake-executor-plugin-slurm)")
    parser.add_argument("--knn", choices=("estimate", "skip"), default="estimate",
                        help="k-NN blocks not measured yet: estimate them with "
                             "ecgrepro.dtw.cost (default; 1-2 min) or skip them")
    parser.add_argument("--data-mirror", default=None,
                        help="real UCR series for the k-NN estimate (default: random walks "
                             "of each dataset's shape, on the safe side)")
    parser.add_argument("--top", type=int, default=12, help="largest items to list")
    args = parser.parse_args(argv)

    snakefile = args.snakefile.resolve()
    configfiles = [Path(f).resolve() for f in args.configfile]
    text = dry_run(snakefile, configfiles, args.config_args)
    jobs, stats = parse_dry_run(text)
    locals_ = local_rules(snakefile)
    cfg = load_config(snakefile, configfiles)
    measured, notes = collect(args.measured.resolve())
    knn = None
    if args.knn == "estimate" and any(j.rule in KNN_BLOCK_RULES for j in jobs):
        knn = knn_estimates(cfg, args.data_mirror)
    results, missing, assumptions = estimate(
        jobs, measured, cfg, locals_, args.unmeasured_seconds, rule_threads(snakefile),
        args.measured.resolve(), knn,
    )

    total_jobs = sum(stats.values()) if stats else len(jobs)
    name = ", ".join(str(f) for f in configfiles) or "config/config.yaml (full)"
    print(f"configuration: {name}")
    print(f"dry run: {total_jobs} jobs "
          f"({', '.join(f'{r} {n}' for r, n in sorted(stats.items(), key=lambda x: -x[1]))})")
    if args.slurm_profile != "none":
        try:
            sl_text = dry_run(snakefile, configfiles, args.config_args, args.slurm_profile)
            n, g = slurm_submissions(sl_text, locals_)
            print(f"with {args.slurm_profile}: {n} SLURM jobs ({g} of them group jobs); "
                  f"local rules run on the submit host")
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            print(f"with {args.slurm_profile}: not planned ({str(exc).splitlines()[0]})")
    counts = Counter(m.rule for m in measured)
    print(f"measured: {args.measured.resolve()}: "
          + (", ".join(f"{r} {n}" for r, n in sorted(counts.items())) or "nothing")
          + " benchmark files with metrics")

    per_rule = defaultdict(lambda: [0, 0.0, 0.0, set()])
    for e in results.values():
        pr = per_rule[e.rule]
        pr[0] += e.jobs
        pr[1] += e.core_s
        pr[2] += e.upper_s
        pr[3].add(e.basis)
    print(f"\n{'rule':<22}{'jobs':>7}{'core-h':>12}{'upper':>12}  basis")
    total = upper = 0.0
    for rule, (n, c, u, bases) in sorted(per_rule.items(), key=lambda x: -x[1][1]):
        basis = next(iter(bases)) if len(bases) == 1 else "per item, see below"
        print(f"{rule:<22}{n:>7}{_h(c):>12}{_h(u):>12}  {basis}")
        total += c
        upper += u
    for rule, n in sorted(missing.items()):
        print(f"{rule:<22}{n:>7}{'?':>12}{'?':>12}  not estimated")
    print(f"{'total':<22}{sum(v[0] for v in per_rule.values()):>7}{_h(total):>12}{_h(upper):>12}")

    items = sorted(results.values(), key=lambda e: -e.core_s)[: args.top]
    if items:
        print("\nlargest items (core-h; jobs):")
        for e in items:
            print(f"  {e.rule:<10} {'/'.join(e.key):<58} {_h(e.core_s):>10}  {e.jobs:>4}  ({e.basis})")

    print("\nassumptions:")
    print("  core-h = measured cpu_time scaled to the planned job; 'upper' = scaled wall time x "
          "the rule's threads (what a cluster bills for reserved cores).")
    print("  training scales with epochs x n_train x length, evaluations with n_test x length "
          "(same protocol, same batch size); k-NN blocks: measured blocks, else "
          + ("python -m ecgrepro.dtw cost (pruned DTW sampled now"
             + (", real series)" if args.data_mirror else ", random walks)")
             if knn is not None else "not estimated (--knn skip)") + ".")
    print("  UCR sizes from the package's ucr_metadata.csv; a unit cost measured on another "
          "model or protocol is marked so in its basis (rougher).")
    for a in assumptions:
        print(f"  {a}")
    for n in notes[:5]:
        print(f"  note: {n}")
    if len(notes) > 5:
        print(f"  note: ... and {len(notes) - 5} more benchmark files without metrics (runs in progress?)")
    print(f"\njobs={total_jobs} core_hours={total / 3600:.1f} core_hours_upper={upper / 3600:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
