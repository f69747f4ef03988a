"""One-time migration (run once, kept as the record): the v1 reference results into
the reference tree, keyed by their settings.

The v1 runs were committed at ``results/runs/.../seed<n>`` and ``results/knn/<ds>/<v>``,
without a settings digest. This script computes each run's settings the way the
workflow does (:mod:`ecgrepro.store`, with ``config/reference.yaml`` over
``config/config.yaml``), checks them against what the run recorded (the model and
protocol JSON and fold settings on its command line, the effective protocol in
``metrics.json``, the k in ``metrics.json``), writes ``settings.json`` into the run and
``git mv``s everything committed under ``results/`` and ``benchmarks/`` into
``results/reference/`` and ``benchmarks/reference/``. Nothing is retrained.

    PYTHONPATH=workflow python workflow/scripts/migrate_reference_v1.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from snakemake.utils import update_config, validate

from ecgrepro import store

REPO = Path(__file__).resolve().parents[2]


def reference_config() -> dict:
    """config.yaml, then reference.yaml over it, validated with the schema's defaults."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "config/reference.yaml").read_text()))
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    return config


def _arg(argv: list, flag: str) -> str:
    return argv[argv.index(flag) + 1]


def train_settings(run_dir: Path, config: dict) -> dict:
    run = store.parse_run_dir(run_dir)
    settings = store.train_settings(config, run.dataset, run.model, run.framework,
                                    run.protocol, run.split, run.seed)
    prov = json.loads((run_dir / "provenance.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    argv = prov["argv"]
    recorded = {
        "model_settings": json.loads(_arg(argv, "--model-json")),
        "protocol_overrides": json.loads(_arg(argv, "--protocol-json")),
        "n_folds": int(_arg(argv, "--n-folds")),
        "fold_seed": int(_arg(argv, "--fold-seed")),
    }
    if recorded["model_settings"] != settings["model_settings"]:
        sys.exit(f"{run_dir}: model {recorded['model_settings']} != config")
    if recorded["protocol_overrides"] != config["protocols"].get(run.protocol, {}):
        sys.exit(f"{run_dir}: protocol overrides {recorded['protocol_overrides']} != config")
    params = {k: v for k, v in metrics["protocol_params"].items() if k != "description"}
    if json.loads(json.dumps(params)) != json.loads(json.dumps(settings["protocol_settings"])):
        sys.exit(f"{run_dir}: recorded protocol {params} != {settings['protocol_settings']}")
    if "folds" in settings and settings["folds"] != {
            "n_folds": recorded["n_folds"], "fold_seed": recorded["fold_seed"]}:
        sys.exit(f"{run_dir}: folds differ from the config")
    return settings


def knn_settings(run_dir: Path, config: dict) -> dict:
    run = store.parse_run_dir(run_dir)
    settings = store.knn_settings(config, run.dataset, run.model)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if metrics["ks"] != settings["ks"]:
        sys.exit(f"{run_dir}: ks {metrics['ks']} != config {settings['ks']}")
    return settings


def git_mv(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "-C", str(REPO), "mv", str(src), str(dst)], check=True)


def main() -> int:
    config = reference_config()
    results, bench = REPO / "results", REPO / "benchmarks"
    ref, ref_bench = REPO / store.REFERENCE, REPO / store.REFERENCE_BENCHMARKS
    moved = 0
    for metrics in sorted((results / "runs").rglob("metrics.json")):
        run_dir = metrics.parent
        run = store.parse_run_dir(run_dir)
        settings = train_settings(run_dir, config)
        new = Path(store.run_dir(settings, str(ref)))
        store.write_settings(run_dir, settings)
        subprocess.run(["git", "-C", str(REPO), "add", str(run_dir / store.SETTINGS)],
                       check=True)
        git_mv(run_dir, new)
        parts = [run.dataset, run.model, run.framework, run.protocol, run.split]
        old_b = bench.joinpath("train", *parts, f"seed{run.seed}.tsv")
        if old_b.is_file():
            git_mv(old_b, ref_bench.joinpath("train", *parts, f"seed{run.seed}-{store.digest(settings)}.tsv"))
        moved += 1
    for metrics in sorted((results / "knn").glob("*/*/metrics.json")):
        run_dir = metrics.parent
        run = store.parse_run_dir(run_dir)
        settings = knn_settings(run_dir, config)
        d = store.digest(settings)
        new = Path(store.run_dir(settings, str(ref)))
        store.write_settings(run_dir, settings)
        subprocess.run(["git", "-C", str(REPO), "add", str(run_dir / store.SETTINGS)],
                       check=True)
        git_mv(run_dir, new)
        kb = bench / "knn" / run.dataset
        if (kb / f"{run.model}.tsv").is_file():
            git_mv(kb / f"{run.model}.tsv", ref_bench / "knn" / run.dataset / f"{run.model}-{d}.tsv")
        for tsv in sorted((kb / run.model).glob("block.*.tsv")):
            git_mv(tsv, ref_bench / "knn" / run.dataset / f"{run.model}-{d}" / tsv.name)
        moved += 1
    # everything else committed under results/ and benchmarks/: as it is, one level down
    for root, dest in ((results, ref), (bench, ref_bench)):
        tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", str(root)],
                                 capture_output=True, text=True, check=True).stdout.split()
        for rel in tracked:
            src = REPO / rel
            if dest in src.parents or not src.exists():
                continue
            git_mv(src, dest / src.relative_to(root))
    print(f"migrated {moved} runs into {ref.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
