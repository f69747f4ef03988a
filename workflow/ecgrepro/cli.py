"""Command-line entry points that the workflow rules call (``python -m ecgrepro.cli``).

Each subcommand is one step of the house plan; it reads files, writes files and knows
nothing of Snakemake, so it can be run and tested on its own.

One cohesive idea (the argument parsing of every step, thin wrappers around the
package), hence over the ~400 lines of other modules.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ecgrepro.errors import EcgreproError

log = logging.getLogger("ecgrepro")


def _retry(args):
    from ecgrepro.data.fetch import RetryPolicy

    return RetryPolicy(args.attempts, args.backoff, args.timeout)


#: The workflow passes config key download: as JSON in this variable (see MIRROR_ENV).
DOWNLOAD_ENV = "ECGREPRO_DOWNLOAD"


def _download_defaults() -> dict:
    import os

    d = json.loads(os.environ.get(DOWNLOAD_ENV) or "{}")
    return {
        "attempts": int(d.get("attempts", 4)),
        "backoff": float(d.get("backoff_seconds", 2.0)),
        "timeout": float(d.get("timeout_seconds", 60.0)),
    }


def _add_retry(p: argparse.ArgumentParser) -> None:
    d = _download_defaults()
    p.add_argument("--attempts", type=int, default=d["attempts"])
    p.add_argument("--backoff", type=float, default=d["backoff"],
                   help="first wait, seconds; doubles")
    p.add_argument("--timeout", type=float, default=d["timeout"],
                   help="per-request timeout, seconds")


#: The workflow passes the mirror in this environment variable, not on the command
#: line: a job's parameters are a Snakemake rerun trigger, and where a verified file came
#: from must not make it (and everything downstream) be fetched again.
MIRROR_ENV = "ECGREPRO_DATA_MIRROR"
MIRROR_HELP = f"local directory or URL with the mirror layout (default: ${MIRROR_ENV})"


def _env_mirror() -> str | None:
    import os

    return os.environ.get(MIRROR_ENV) or None


def ucr_source(name: str, split: str, fmt: str, mirror: str | None, template: str) -> str:
    """Where one UCR split file comes from: the mirror, else the public archive."""
    from ecgrepro.data.fetch import join_source

    if mirror:
        return join_source(mirror, f"ucr/{name}/{name}_{split}.{fmt}")
    fields = {"name": name, "split": split}
    if "{zenodo_record}" in template:
        from aeon.datasets.tsc_datasets import tsc_zenodo

        if name not in tsc_zenodo:
            raise EcgreproError(
                f"config key ucr_datasets: {name!r} is not a dataset of the UCR/UEA "
                "archive as aeon lists it (aeon.datasets.tsc_datasets.tsc_zenodo). Check "
                "the spelling (2018 names, e.g. CinCECGTorso) or use a data_mirror."
            )
        fields["zenodo_record"] = tsc_zenodo[name]
    return template.format(**fields)


def cmd_fetch_ucr(args) -> None:
    from ecgrepro.data.fetch import Lock, check_mirror_dir, fetch_locked
    from ecgrepro.data.ucr import check_split, read_split

    check_mirror_dir(args.mirror)
    source = ucr_source(args.name, args.split, args.format, args.mirror, args.url_template)
    relpath = f"ucr/{args.name}/{args.name}_{args.split}.{args.format}"

    def check(tmp):  # parse and metadata, before the file is kept or locked
        X, y = read_split(tmp, args.name, fmt=args.format)
        if not check_split(args.name, args.split, X, y, path=source):
            log.warning("%s is not in the package's metadata table; sizes not checked",
                        args.name)

    digest = fetch_locked(
        source, args.dest, relpath, Lock(args.lock), retry=_retry(args), check=check
    )
    log.info("%s <- %s (sha256 %s)", args.dest, source, digest)


def cmd_fetch_mitdb(args) -> None:
    from ecgrepro.data.fetch import Lock, check_mirror_dir, fetch_locked, join_source
    from ecgrepro.data.mitdb import expected_sha256, read_checksums

    check_mirror_dir(args.mirror)
    base = join_source(args.mirror, "mitdb") if args.mirror else args.base_url
    source = join_source(base, args.file)
    expected = None
    if args.checksums:
        expected = expected_sha256(read_checksums(args.checksums), args.file)
    lock = Lock(args.lock)
    digest = fetch_locked(
        source, args.dest, f"mitdb/{args.file}", lock, retry=_retry(args), expected=expected
    )
    log.info("%s <- %s (sha256 %s)", args.dest, source, digest)


def _verified_ucr(args):
    """Both splits verified against the lock, parsed and checked: (dataset, checked, digests).

    A dataset whose files fail together (cross-split checks) is trusted no longer: the
    digests recorded on first use are forgotten and the files removed, so the fixed
    source is fetched and accepted.
    """
    from ecgrepro.data.fetch import Lock
    from ecgrepro.data.ucr import check_metadata, load_splits
    from ecgrepro.errors import ChecksumError, DataError

    lock = Lock(args.lock)
    digests = {}
    relpaths = {path: f"ucr/{args.name}/{Path(path).name}" for path in (args.train, args.test)}
    for path, relpath in relpaths.items():
        digests[Path(path).name] = lock.verify(relpath, path)
    try:
        ds = load_splits(args.name, args.train, args.test)
        checked = check_metadata(args.name, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    except ChecksumError:
        raise
    except DataError as exc:
        dropped = []
        for path, relpath in relpaths.items():
            if not lock.is_pinned(relpath) and lock.forget(relpath):
                Path(path).unlink(missing_ok=True)
                dropped.append(str(path))
        if dropped:
            raise DataError(
                f"{exc} Removed {', '.join(dropped)} and their lines in {args.lock}: "
                "fix the source or mirror and rerun."
            ) from exc
        raise
    if not checked:
        log.warning("%s is not in the package's metadata table; sizes not checked", args.name)
    return ds, checked, digests


def cmd_verify_ucr(args) -> None:
    _, checked, digests = _verified_ucr(args)
    _write_json(args.out, {"name": args.name, "sha256": digests, "metadata_checked": checked})


def cmd_prepare_ucr(args) -> None:
    from ecgrepro.data.ucr import save_prepared, summarise

    ds, checked, digests = _verified_ucr(args)
    summary = summarise(ds, checked) | {"sha256": digests}
    if not save_prepared(ds, args.npz):
        log.info("%s holds the same arrays already; left as it is", args.npz)
    _write_json(args.summary, summary)
    log.info("%s: %s", args.name, json.dumps(summary))


def cmd_mitdb_summary(args) -> None:
    from ecgrepro.data.fetch import verify
    from ecgrepro.data.mitdb import (
        annotation_counts,
        beat_counts,
        check_records,
        expected_sha256,
        read_checksums,
        record_files,
        record_table,
    )

    records = check_records(args.records)
    checksums = read_checksums(args.checksums)
    directory = Path(args.checksums).parent  # the records sit beside PhysioNet's list
    for name in record_files(records):
        verify(directory / name, expected_sha256(checksums, name), pinned=True)
    log.info("verified %d files of %d records against PhysioNet's checksums",
             3 * len(records), len(records))
    annotations = annotation_counts(directory, records)
    _write_csv(beat_counts(annotations), args.beat_counts)
    _write_csv(annotations, args.annotations)
    _write_csv(record_table(directory, records), args.records_table)


def cmd_mitdb_segments(args) -> None:
    from ecgrepro.data.mitdb import check_records
    from ecgrepro.data.segments import SegmentConfig, save_segments, segment_counts
    from ecgrepro.data.segments import segment_records

    cfg = SegmentConfig.from_dict(json.loads(args.config))
    records = check_records(args.records)
    segments = segment_records(Path(args.checksums).parent, records, cfg)
    save_segments(args.npz, segments)
    by_class = segment_counts(segments.table, cfg.classes)
    _write_csv(by_class.reset_index(), args.counts_by_record)
    totals = by_class.loc["total"].rename_axis("class").reset_index(name="segments")
    _write_csv(totals, args.counts_by_class)
    log.info("%d segments from %d records; skipped %s", len(segments.X), len(records),
             list(segments.skipped) or "none")


def cmd_train(args) -> None:
    from ecgrepro.runs import train_run

    metrics = train_run(
        args.data,
        dataset=args.dataset,
        model_name=args.model,
        model=json.loads(args.model_json),
        framework=args.framework,
        protocol=args.protocol,
        protocol_overrides=json.loads(args.protocol_json),
        split=args.split,
        seed=args.seed,
        outdir=args.outdir,
        device=args.device,
        threads=args.threads,
        n_folds=args.n_folds,
        fold_seed=args.fold_seed,
        convergence=json.loads(args.convergence_json) if args.convergence_json else None,
        settings=json.loads(args.settings_json) if args.settings_json else None,
    )
    log.info("accuracy by checkpoint rule: %s", metrics["accuracy_by_rule"])


def cmd_aggregate(args) -> None:
    from ecgrepro.aggregate.build import build
    from ecgrepro.reference import check_clean

    check_clean([d for d in args.expected if Path(d).is_dir()], args.require_clean)
    build(
        args.expected,
        history=_rules_history(args.rules_files),
        default_protocols=_default_protocols(),
        benchmarks=args.benchmarks,
        scan_roots=args.scan,
        claims_cfg=json.loads(args.claims_json),
        protocols=json.loads(args.protocols_json),
        tables_dir=args.tables,
        figures_dir=args.figures,
        draw=not args.no_figures,
        convergence_cfg=json.loads(args.convergence_json),
        timing_dir=args.timing,
        knn_table=not args.no_knn_table,
        data_dir=args.data,
    )


def _rules_history(files):
    """(rule versions, verdict-code commits) from the repository's git history, or None
    outside a git working tree; refuses uncommitted rules ("commit the rules first")."""
    from ecgrepro.aggregate.rules_history import VERDICT_CODE, code_commits, load_history
    from ecgrepro.config import REPO

    versions = load_history(REPO, files)
    return None if versions is None else (versions, code_commits(REPO, VERDICT_CODE))


def _default_protocols() -> dict:
    """``protocols`` of the default config/config.yaml (the budget runs are held to)."""
    import yaml

    from ecgrepro.config import BASE_CONFIG

    return (yaml.safe_load(BASE_CONFIG.read_text()) or {}).get("protocols") or {}


def cmd_knn_table(args) -> None:
    from ecgrepro.aggregate.build import write_knn

    write_knn(args.runs, args.table)


def cmd_figures(args) -> None:
    from ecgrepro.aggregate.build import draw_figures

    draw_figures(args.tables, args.figures, args.expected, args.timing)


def cmd_pilot_figure(args) -> None:
    from ecgrepro.aggregate.pilots import plot_pilots, read_pilots

    plot_pilots(read_pilots(args.pilots), args.png, args.pdf)


def cmd_promote(args) -> None:
    from ecgrepro.reference import promote

    names = promote(args.runs, results=args.results, reference=args.reference,
                    benchmarks=args.benchmarks,
                    reference_benchmarks=args.reference_benchmarks,
                    require_clean=args.require_clean, extra_dirs=args.extra)
    import pandas as pd

    _write_csv(pd.DataFrame({"run": names}), args.manifest)
    log.info("%d runs copied into %s", len(names), args.reference)


def cmd_code_status(args) -> int:
    """Each run against this checkout's HEAD: current, stale (files), or not recorded."""
    from ecgrepro.codeid import code_status

    rows = code_status(args.runs, args.scan)
    if not rows:
        raise EcgreproError("no run directories given or found; name runs "
                            "(results/runs/...) or a folder to --scan.")
    for run, status, files in rows:
        print(f"{status:<13} {run}" + (f"  changed: {', '.join(files)}" if files else ""))
    return 1 if any(status != "current" for _, status, _ in rows) else 0


def cmd_reproduce_check(args) -> None:
    from ecgrepro.reproduce import reproduce_check

    table = reproduce_check(args.results, args.reference, args.out, runs=args.runs,
                            data=args.data)
    width = max(map(len, table["run"]), default=3)
    print(f"{'verdict':<29} {'run':<{width}} reason")
    for row in table.itertuples():
        reason = str(row.reason)
        reason = reason if len(reason) <= 110 else reason[:107] + "..."
        print(f"{row.verdict:<29} {row.run:<{width}} {reason}")
    print(f"(full table: {Path(args.out) / 'reproduce.csv'}, report: reproduce.md)")


def cmd_paper(args) -> None:
    from ecgrepro.aggregate.paper import build_paper

    build_paper(
        template=args.template,
        bibliography=args.bib,
        tables_dir=args.tables,
        figures_dir=args.figures,
        config=json.loads(args.config_json),
        out_md=args.md,
        out_html=args.html,
        pdf_log=args.pdf_log,
    )


def _write_csv(frame, path) -> None:
    from ecgrepro.io import write_text

    write_text(path, frame.to_csv(index=False))


def _write_json(path, obj) -> None:
    from ecgrepro.io import write_json

    write_json(path, obj, sort_keys=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecgrepro", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fetch-ucr", help="obtain and verify one UCR split file")
    p.add_argument("--name", required=True)
    p.add_argument("--split", required=True, choices=["TRAIN", "TEST"])
    p.add_argument("--format", required=True, choices=["tsv", "ts"])
    p.add_argument("--dest", required=True)
    p.add_argument("--lock", required=True)
    p.add_argument("--mirror", default=_env_mirror(), help=MIRROR_HELP)
    p.add_argument("--url-template", default="")
    _add_retry(p)
    p.set_defaults(func=cmd_fetch_ucr)

    p = sub.add_parser("fetch-mitdb", help="obtain and verify one MIT-BIH file")
    p.add_argument("--file", required=True, help="e.g. 100.dat or SHA256SUMS.txt")
    p.add_argument("--dest", required=True)
    p.add_argument("--lock", required=True)
    p.add_argument("--checksums", default=None, help="PhysioNet's SHA256SUMS.txt")
    p.add_argument("--mirror", default=_env_mirror(), help=MIRROR_HELP)
    p.add_argument("--base-url", default="https://physionet.org/files/mitdb/1.0.0")
    _add_retry(p)
    p.set_defaults(func=cmd_fetch_mitdb)

    p = sub.add_parser("prepare-ucr", help="verify, parse, check and store a UCR dataset")
    p.add_argument("--name", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--lock", required=True)
    p.add_argument("--npz", required=True)
    p.add_argument("--summary", required=True)
    p.set_defaults(func=cmd_prepare_ucr)

    p = sub.add_parser("verify-ucr", help="verify, parse and check a UCR dataset's raw files")
    p.add_argument("--name", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--lock", required=True)
    p.add_argument("--out", required=True, help="JSON stamp: digests of the verified files")
    p.set_defaults(func=cmd_verify_ucr)

    p = sub.add_parser("mitdb-summary", help="verify MIT-BIH records and count beats")
    p.add_argument("--checksums", required=True, help="SHA256SUMS.txt beside the records")
    p.add_argument("--records", nargs="+", required=True)
    p.add_argument("--beat-counts", required=True)
    p.add_argument("--annotations", required=True)
    p.add_argument("--records-table", required=True)
    p.set_defaults(func=cmd_mitdb_summary)

    p = sub.add_parser("mitdb-segments", help="cut MIT-BIH records into beat segments")
    p.add_argument("--checksums", required=True, help="SHA256SUMS.txt beside the records")
    p.add_argument("--records", nargs="+", required=True)
    p.add_argument("--config", required=True, help="SegmentConfig fields as JSON")
    p.add_argument("--npz", required=True)
    p.add_argument("--counts-by-class", required=True)
    p.add_argument("--counts-by-record", required=True)
    p.set_defaults(func=cmd_mitdb_segments)

    p = sub.add_parser("train", help="train and evaluate one run")
    p.add_argument("--data", required=True, help="prepared UCR .npz or MIT-BIH segments")
    p.add_argument("--dataset", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--model-json", required=True, help="the model's config as JSON")
    p.add_argument("--framework", required=True, choices=["torch", "keras"])
    p.add_argument("--protocol", required=True)
    p.add_argument("--protocol-json", default="{}", help="overrides of the preset")
    p.add_argument("--split", default="test")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--outdir", required=True)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n-folds", type=int, default=10)
    p.add_argument("--fold-seed", type=int, default=0)
    p.add_argument("--convergence-json", default=None,
                   help="config 'convergence' as JSON: record whether the run converged")
    p.add_argument("--settings-json", default=None,
                   help="the run's settings (ecgrepro.store.train_settings) as JSON; "
                   "written to settings.json, their digest must end --outdir")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("aggregate", help="tables, claim verdicts and figures from run dirs")
    p.add_argument("--expected", nargs="*", default=[],
                   help="run directories the config expects (training and k-NN)")
    p.add_argument("--benchmarks", default="benchmarks", help="Snakemake benchmark TSVs")
    p.add_argument("--scan", nargs="*", default=["results/runs", "results/knn"],
                   help="where to look for runs that exist but were not expected")
    p.add_argument("--claims-json", required=True, help="config 'claims' as JSON")
    p.add_argument("--protocols-json", default="{}", help="config 'protocols' as JSON")
    p.add_argument("--convergence-json", required=True,
                   help="config 'convergence' as JSON (when a run counts as converged)")
    p.add_argument("--timing", default=None,
                   help="the timing step's folder (comparisons.csv); absent: speed claims "
                        "are not tested")
    p.add_argument("--tables", default="results/tables")
    p.add_argument("--figures", default="results/figures")
    p.add_argument("--no-figures", action="store_true", help="tables only (quicker)")
    p.add_argument("--no-knn-table", action="store_true",
                   help="leave knn.csv to the knn-table command (the workflow's knn_table)")
    p.add_argument("--require-clean", action="store_true",
                   help="fail if a run came from a changed tree or runs from >1 commit")
    p.add_argument("--data", default=None,
                   help="the prepared data (ucr/<name>/summary.json: class labels, for "
                        "the check that our resamples are the bake-off's)")
    p.add_argument("--rules-files", nargs="*", default=["config/config.yaml"],
                   help="config files (from the repository root, merged in order) whose "
                        "git history dates each change of the claims/convergence rules")
    p.set_defaults(func=cmd_aggregate)

    p = sub.add_parser("knn-table", help="knn.csv of the aggregate from k-NN run dirs")
    p.add_argument("--runs", nargs="*", default=[], help="k-NN run directories")
    p.add_argument("--table", required=True, help="the knn.csv to write")
    p.set_defaults(func=cmd_knn_table)

    p = sub.add_parser("figures", help="the aggregate's figures, from its tables")
    p.add_argument("--expected", nargs="*", default=[],
                   help="run directories the config expects (for training histories)")
    p.add_argument("--tables", default="results/tables", help="written by 'aggregate'")
    p.add_argument("--figures", default="results/figures")
    p.add_argument("--timing", default=None,
                   help="the timing step's folder (time_per_epoch); absent: a figure saying so")
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("pilot-figure", help="the MIT-BIH pilot learning curves (paper)")
    p.add_argument("--pilots", default="results/reference/pilots",
                   help="folder with pilots.json and the pilot histories")
    p.add_argument("--png", required=True)
    p.add_argument("--pdf", required=True)
    p.set_defaults(func=cmd_pilot_figure)


    p = sub.add_parser("promote", help="copy finished runs into the reference tree")
    p.add_argument("--runs", nargs="+", required=True, help="run directories")
    p.add_argument("--results", default="results")
    p.add_argument("--reference", default="results/reference")
    p.add_argument("--benchmarks", default="benchmarks")
    p.add_argument("--reference-benchmarks", default="benchmarks/reference")
    p.add_argument("--extra", nargs="*", default=["data"],
                   help="folders under --results copied as they are")
    p.add_argument("--require-clean", action="store_true")
    p.add_argument("--manifest", required=True, help="CSV of the runs copied")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("code-status",
                       help="is each run's loaded code byte-equal at HEAD? current / stale")
    p.add_argument("runs", nargs="*", help="run directories (results/runs/..., knn/...)")
    p.add_argument("--scan", nargs="*", default=[],
                   help="folders searched for runs (every provenance.json below)")
    p.set_defaults(func=cmd_code_status)

    p = sub.add_parser("reproduce-check",
                       help="compare a user's results with the reference, run by run")
    p.add_argument("--results", default="results")
    p.add_argument("--reference", default="results/reference")
    p.add_argument("--out", required=True, help="folder for the CSV and Markdown report")
    p.add_argument("--runs", nargs="*", default=None,
                   help="the configuration's run directories under --results (the "
                   "workflow passes them); default: every run found there")
    p.add_argument("--data", nargs="*", default=None,
                   help="the configuration's data summaries (summary.json); default: "
                   "every one found there")
    p.set_defaults(func=cmd_reproduce_check)

    p = sub.add_parser("paper", help="fill the manuscript template from results/")
    p.add_argument("--template", default="paper/paper.md.j2")
    p.add_argument("--bib", default="paper/references.bib")
    p.add_argument("--tables", default="results/tables")
    p.add_argument("--figures", default="results/figures")
    p.add_argument("--config-json", required=True, help="the workflow config as JSON")
    p.add_argument("--md", default="paper/paper.md")
    p.add_argument("--html", default="paper/paper.html")
    p.add_argument("--pdf-log", default="paper/pdf.log",
                   help="what happened to the PDF (built, or skipped and why)")
    p.set_defaults(func=cmd_paper)
    return parser


def main(argv=None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    from ecgrepro.stop import Interrupted, interruptible

    args = build_parser().parse_args(argv)
    try:
        with interruptible():  # SIGTERM/SIGINT: clean up (finally blocks), exit fast
            rc = args.func(args)
    except EcgreproError as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:  # a full disk outside the write helpers: one line still
        from ecgrepro.io import disk_full_error, is_disk_full

        if not is_disk_full(exc):
            raise
        where = exc.filename or Path.cwd()
        what = exc.filename or f"the outputs of ecgrepro {args.command}"
        log.error("%s", disk_full_error(where, exc, what=what, atomic=False))
        return 1
    except Interrupted as exc:
        log.error("ecgrepro %s: %s; nothing partial is kept (outputs are written whole "
                  "or not at all). Rerun the workflow to redo this step.", args.command,
                  exc)
        return 128 + exc.signum
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
