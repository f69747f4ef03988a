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
  ``python -m ecgrepro.cost knn`` (pruned DTW run now on a sample of each block's rows;
  random walks of the dataset's shape unless ``--data-mirror`` gives the real series),
  ``--knn skip`` to leave them out (it takes a minute or two).
* Other rules with benchmark files: their mean ``cpu_time``, unscaled. Rules without
  any: ``--unmeasured-seconds`` each (downloads, small preparation steps). Local rules
  (``localrule: True``): nothing.

The last line is ``jobs=<n> core_hours=<x> core_hours_upper=<y>`` for scripts.
"""

from __future__ import annotations

import argparse
import math
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from ecgrepro.config import load_config
from ecgrepro.tooling.cost_measure import (  # noqa: F401 (BENCHMARKS: the tests' view)
    BENCHMARKS,
    Measured,
    _average,
    _mean,
    collect,
    mitdb_sizes,
    protocol_params,
    train_units,
    ucr_sizes,
)
from ecgrepro.tooling.cost_plan import (
    PlannedJob,
    dry_run,
    local_rules,
    parse_dry_run,
    rule_threads,
    slurm_submissions,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
KNN_BLOCK_RULES = ("knn_block", "knn_window_block")


def knn_estimates(cfg: dict, mirror, log=None) -> dict[tuple, list[float]]:
    """(rule, dataset, variant) -> pruned core-seconds of each block, in block order,
    from the k-NN cost model (``python -m ecgrepro.cost knn``: pruned DTW measured now on
    a sample of each job's rows, on this machine)."""
    from ecgrepro.tooling.cost_knn import estimate as dtw_estimate

    jobs, _ = dtw_estimate(cfg, mirror, log=log or (lambda m: None))
    out: dict[tuple, list[float]] = defaultdict(list)
    for j in jobs:
        rule = "knn_window_block" if j.job.startswith("window") else "knn_block"
        out[(rule, j.dataset.split(" (")[0], j.variant)].append(j.pruned_s)
    return out


@dataclass
class Estimate:
    rule: str
    key: tuple
    jobs: int = 0
    core_s: float = 0.0
    upper_s: float = 0.0
    basis: str = ""


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
                basis = "python -m ecgrepro.cost knn (pruned DTW, sampled now)"
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
                             "ecgrepro.tooling.cost_knn (default; 1-2 min) or skip them")
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
    base = snakefile.parent / "config" / "config.yaml"
    cfg = load_config(configfiles, args.config_args, base=base)
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
          + ("python -m ecgrepro.cost knn (pruned DTW sampled now"
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
