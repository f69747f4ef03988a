import itertools
import json
import os
import sys
from pathlib import Path

# Rules run `python -m ecgrepro.cli`; make the package importable in every job,
# including conda environments and cluster jobs, which re-read this file.
PACKAGE_ROOT = str(Path(workflow.basedir) / "workflow")
# The prefix is itself formatted like a shell command, hence the doubled braces.
shell.prefix(
    "set -euo pipefail; export PYTHONPATH="
    + f"'{PACKAGE_ROOT}'"
    + "${{PYTHONPATH:+:$PYTHONPATH}}; "
)
sys.path.insert(0, PACKAGE_ROOT)

# Types --config values as the schema says, validates (defaults filled in) and checks
# protocols, models, UCR names, MIT-BIH records and the mirror: a wrong value stops the
# run here, in two lines; the full validation error goes to logs/config_error.log.
from ecgrepro.config_check import (
    ConfigError,
    config_problem,
    mitdb_needed,
    skipped_datasets,
)

_problem = config_problem(config, Path(PACKAGE_ROOT) / "schemas" / "config.schema.yaml")
if _problem:
    raise ConfigError(_problem)

# Light imports only: the package keeps frameworks out of these modules.
from ecgrepro.data.mitdb import ALL_RECORDS as MITDB_ALL_RECORDS, check_records
from ecgrepro import store
from ecgrepro.errors import EcgreproError

DATA = "resources/data"
DATA_LOCK = f"{DATA}/sha256.lock"
# Run identity lives in ecgrepro.store: a run's directory ends in the digest of the
# settings that determine it, so changed settings are a new path (no file times, no
# Snakemake metadata needed) and the runs made under other settings stay as they were.
RESULTS = store.RESULTS
REFERENCE = store.REFERENCE
BENCHMARKS = store.BENCHMARKS
REFERENCE_BENCHMARKS = store.REFERENCE_BENCHMARKS
# The timing step's folder (rules/timing.smk): comparisons.csv, rounds.csv, provenance.
TIMING = f"{RESULTS}/timing"
REFERENCE_TIMING = f"{REFERENCE}/timing"
_RUN_WILDCARDS = dict(
    dataset="{dataset}",
    model="{model}",
    framework="{framework}",
    protocol="{protocol}",
    split="{fold}",
    seed="{seed}",
    digest="{digest}",
)
RUN_DIR = store.RUN_TEMPLATE.format(root=RESULTS, **_RUN_WILDCARDS)
RUN_METRICS = f"{RUN_DIR}/metrics.json"
_KNN_WILDCARDS = dict(dataset="{dataset}", variant="{variant}", digest="{digest}")
RUN_BENCHMARK = os.path.join(BENCHMARKS, store.TRAIN_BENCHMARK.format(**_RUN_WILDCARDS))
KNN_DIR = store.KNN_TEMPLATE.format(root=RESULTS, **_KNN_WILDCARDS)
KNN_BENCHMARK = os.path.join(BENCHMARKS, store.KNN_BENCHMARK.format(**_KNN_WILDCARDS))
KNN_BLOCK_BENCHMARKS = os.path.join(
    BENCHMARKS, store.KNN_BLOCK_BENCHMARKS.format(**_KNN_WILDCARDS)
)


wildcard_constraints:
    name=r"[A-Za-z0-9_]+",
    dataset=r"[A-Za-z0-9_]+",
    variant=r"[a-z0-9-]+",
    split="TRAIN|TEST",
    fmt="tsv|ts",
    record=r"\d{3}",
    ext="hea|dat|atr",
    model=r"[a-z][a-z0-9_]*",
    framework="torch|keras",
    protocol=r"[a-z0-9]+",
    fold=r"test|ds2|fold\d+|resample\d+",
    seed=r"\d+",
    digest=r"[0-9a-f]{%d}" % store.DIGEST_LEN,


def data_mirror():
    """The configured mirror as an absolute path or URL, or None."""
    mirror = config.get("data_mirror")
    if not mirror:
        return None
    if "://" in mirror:
        return mirror
    return os.path.abspath(mirror)


# Fetch jobs read the mirror from the environment (ecgrepro.cli.MIRROR_ENV); every job,
# local or on a cluster node, parses this file first, so it is always set.
os.environ["ECGREPRO_DATA_MIRROR"] = data_mirror() or ""


envvars:
    "ECGREPRO_DATA_MIRROR",


# Download settings likewise (ecgrepro.cli.DOWNLOAD_ENV): not a rerun trigger.
_DOWNLOAD = json.dumps(config["download"])
os.environ["ECGREPRO_DOWNLOAD"] = _DOWNLOAD


envvars:
    "ECGREPRO_DOWNLOAD",


def ucr_url_template(wildcards):
    """A function, not a string, so Snakemake leaves the template's braces alone."""
    return config["sources"]["ucr_url_template"]


def ucr_format(name=None):
    """The format of a dataset's raw files: the one on disk, else the source's.

    Mirrors hold the archive's 2018 TSV files, the public per-dataset source .ts files.
    Both parse to the same prepared arrays, so a dataset already obtained in one format
    keeps it when the source changes: switching data_mirror re-plans nothing.
    """
    if name is not None:
        stem = f"{DATA}/ucr/{name}/{name}"
        for fmt in ("tsv", "ts"):
            if all(os.path.exists(f"{stem}_{s}.{fmt}") for s in ("TRAIN", "TEST")):
                return fmt
    return "tsv" if data_mirror() else "ts"


def ucr_split_files(wildcards):
    fmt = ucr_format(wildcards.name)
    stem = f"{DATA}/ucr/{wildcards.name}/{wildcards.name}"
    return {split.lower(): f"{stem}_{split}.{fmt}" for split in ("TRAIN", "TEST")}


def mitdb_records():
    records = config["mitdb_records"]
    return MITDB_ALL_RECORDS if records == "all" else check_records(records)


def mitdb_record_files(wildcards=None):
    return [
        f"{DATA}/mitdb/{r}.{ext}"
        for r in mitdb_records()
        for ext in ("hea", "dat", "atr")
    ]


def ucr_summaries():
    """The data summaries of this configuration's UCR datasets."""
    return expand("results/data/ucr/{name}/summary.json", name=config["ucr_datasets"])


def data_outputs():
    """Summaries, and the verification stamps: a raw file deleted after a mismatch is
    fetched and verified again by `snakemake data` or `all`, and nothing else reruns.
    MIT-BIH only where an experiment or the timing step needs it (config_check)."""
    names = config["ucr_datasets"]
    mitdb = ["results/data/mitdb/beat_counts.csv", "results/data/mitdb/records.csv"]
    return (
        ucr_summaries()
        + expand(f"{DATA}/ucr/{{name}}/verified.json", name=names)
        + (mitdb if mitdb_needed(config) else [])
    )


def knn_ks_arg():
    return ",".join(map(str, config["knn"]["ks"]))


def knn_run_dirs(root=RESULTS):
    """The k-NN run directories of this configuration under ``root``."""
    return [
        store.knn_dir(config, dataset, variant, root)
        for dataset in config["ucr_datasets"]
        for variant in config["knn"]["variants"]
    ]


def knn_accuracy_files(root=RESULTS):
    return [f"{d}/accuracy.csv" for d in knn_run_dirs(root)]


def knn_settings_json(wildcards):
    """The k-NN run's settings; refuses a path whose digest names other settings."""
    settings = store.knn_settings(config, wildcards.dataset, wildcards.variant)
    _check_digest(settings, wildcards.digest)
    return json.dumps(settings, sort_keys=True)


def _check_digest(settings, wanted):
    got = store.digest(settings)
    if got != wanted:
        raise EcgreproError(
            f"run digest {wanted} is not that of this configuration's settings ({got}); "
            "ask for the paths `snakemake -n` plans (a run of other settings is never "
            "redone under these)"
        )


def knn_mem_mb(wildcards, input):
    """The test x train matrix and its inputs are small; leave room for numba."""
    return max(1000, int(20 * input.size_mb) + 1000)


def segments_config_json():
    return json.dumps(config["mitdb_segments"])  # key order = class label order


def experiment_datasets(exp):
    """An experiment's datasets that this configuration obtains."""
    return [d for d in exp["datasets"] if d == "mitdb" or d in config["ucr_datasets"]]


# Datasets of an experiment left out of ucr_datasets are skipped (narrowing a run; typos
# were refused by config_check). Said at the start and again at the end (Snakefile
# onsuccess/onerror), where it does not scroll away.
NOTICES = [
    f"Notice: experiments[{i}] lists {', '.join(names)}, not in ucr_datasets: not "
    "trained (add to ucr_datasets to train)."
    for i, names in skipped_datasets(config["experiments"], config["ucr_datasets"])
]


def print_notices():
    for line in NOTICES:
        print(line, file=sys.stderr)


if workflow.is_main_process:
    print_notices()


def eval_splits(dataset, protocol, resamples=1):
    """Test set (resample 0) and resample<i> of a UCR dataset, oh2018's folds or DS2."""
    return store.eval_splits(dataset, protocol, config["training"]["n_folds"], resamples)


def train_runs(root=RESULTS):
    """(directory, settings) of every configured training run under ``root``."""
    out = []
    for exp in config["experiments"]:
        for dataset, model, framework, protocol, seed in itertools.product(
            experiment_datasets(exp),
            exp["models"],
            exp["frameworks"],
            exp["protocols"],
            range(exp["seeds"]),
        ):
            for fold in eval_splits(dataset, protocol, exp["resamples"]):
                settings = store.train_settings(
                    config, dataset, model, framework, protocol, fold, seed
                )
                out.append((store.run_dir(settings, root), settings))
    return out


def train_run_dirs(root=RESULTS):
    """Directories of every configured training run under ``root`` (settings-keyed)."""
    return [d for d, _ in train_runs(root)]


def report_changed_runs():
    """Say which planned runs are new because their settings changed (old ones kept)."""
    knn = [
        (store.knn_dir(config, d, v), store.knn_settings(config, d, v))
        for d in config["ucr_datasets"]
        for v in config["knn"]["variants"]
    ]
    lines = store.changed_runs(train_runs() + knn)
    for line in lines[:20]:
        print(line, file=sys.stderr)
    if len(lines) > 20:
        print(f"... {len(lines) - 20} more runs with changed settings", file=sys.stderr)


def train_outputs(root=RESULTS):
    return [f"{d}/metrics.json" for d in train_run_dirs(root)]


if workflow.is_main_process:
    report_changed_runs()


def train_settings_json(wildcards):
    """The run's settings (its digest's input); refuses a path of other settings."""
    settings = store.train_settings(
        config,
        wildcards.dataset,
        wildcards.model,
        wildcards.framework,
        wildcards.protocol,
        wildcards.fold,
        int(wildcards.seed),
    )
    _check_digest(settings, wildcards.digest)
    return json.dumps(settings, sort_keys=True)


def prepared_data(path):
    """A prepared file as input: its content, not its time, decides (ancient).

    Refetching a deleted raw file reruns prepare, which leaves identical arrays byte
    for byte as they are; without ancient() every training and k-NN job of the dataset
    would be planned again. A prepared file that is missing is still made first.
    """
    return ancient(path)


def train_data(wildcards):
    if wildcards.dataset == "mitdb":
        return prepared_data("resources/prepared/mitdb/segments.npz")
    return prepared_data(f"resources/prepared/ucr/{wildcards.dataset}.npz")


def model_json(wildcards):
    return json.dumps(config["models"][wildcards.model], sort_keys=True)


def protocol_json(wildcards):
    return json.dumps(config["protocols"].get(wildcards.protocol, {}), sort_keys=True)


def train_env(wildcards):
    return f"../../envs/{wildcards.framework}.yaml"


def train_mem_mb(wildcards, input):
    """Room for the framework, the float64 arrays and their float32 copies."""
    return 3000 + int(6 * input.size_mb)


def final_outputs():
    return (
        data_outputs()
        + train_outputs()
        + timing_outputs()
        + aggregate_outputs()
        + paper_outputs()
    )


# --- aggregate and paper (rules/aggregate.smk, rules/paper.smk) -------------------------


def expected_run_dirs(root=RESULTS):
    """Run directories the configuration asks for: training runs, then k-NN runs."""
    return train_run_dirs(root) + knn_run_dirs(root)


def _complete_run(run_dir):
    names = store.KNN_FILES
    if store.parse_run_dir(run_dir).kind == "train":
        names = store.TRAIN_FILES
    return all(os.path.exists(os.path.join(run_dir, n)) for n in names)


def reference_run_inputs(wildcards):
    """The reference runs of this configuration that exist (never trained here).

    With config reference.require_clean, runs from a changed tree or from several
    commits stop the build here, before Snakemake touches any committed output.
    """
    from ecgrepro.reference import check_clean

    runs = [d for d in expected_run_dirs(REFERENCE) if _complete_run(d)]
    if config["reference"]["require_clean"]:
        check_clean(runs, require_clean=True)
    return runs


def reference_knn_files(wildcards):
    return [f"{d}/accuracy.csv" for d in knn_run_dirs(REFERENCE) if _complete_run(d)]


def aggregate_run_inputs(wildcards):
    """What the aggregate waits for, by config claims.missing_runs.

    train: one output file of every expected run, so Snakemake runs what is missing.
    report: the directories of the complete runs that exist now; directories are no
    rule's output, so nothing is (re)trained, and the aggregate lists the rest.
    """
    if config["claims"]["missing_runs"] == "report":
        return [d for d in expected_run_dirs() if _complete_run(d)]
    return train_outputs() + knn_accuracy_files() + timing_outputs()


def claims_json(wildcards):
    return json.dumps(config["claims"])  # config order: published values as listed


def convergence_json(wildcards):
    return json.dumps(config["convergence"], sort_keys=True)


def protocols_json(wildcards):
    return json.dumps(config["protocols"], sort_keys=True)


def config_json(wildcards):
    """The whole config, for the paper's Methods section (a function: its braces stay)."""
    return json.dumps(config, default=str)  # config order (e.g. class_map = class order)


def paper_sources(wildcards):
    """Manuscript template and bibliography, beside the Snakefile (any working dir)."""
    paper = Path(workflow.basedir) / "paper"
    return {"template": str(paper / "paper.md.j2"), "bib": str(paper / "references.bib")}


def aggregate_outputs(root=RESULTS):
    from ecgrepro.aggregate.outputs import FIGURES, TABLES

    return [f"{root}/tables/{t}" for t in TABLES] + [
        f"{root}/figures/{f}.{ext}" for f in FIGURES for ext in ("png", "pdf")
    ]


# A user's paper goes beside their results; the reference paper stays in paper/.
PAPER_DIR = f"{RESULTS}/paper"
REFERENCE_PAPER_DIR = "paper"


def paper_outputs(paper_dir=PAPER_DIR):
    from ecgrepro.aggregate.outputs import PAPER

    return [f"{paper_dir}/{Path(p).name}" for p in PAPER]


def reference_outputs():
    """What the reference rebuild writes (results/reference/{tables,figures}, paper/)."""
    return aggregate_outputs(REFERENCE) + paper_outputs(REFERENCE_PAPER_DIR)


def timing_outputs():
    """The timing step's comparisons when config timing.enabled (the aggregate waits)."""
    return [f"{TIMING}/comparisons.csv"] if config["timing"]["enabled"] else []


def require_clean_arg():
    """--require-clean when config reference.require_clean (refuse changed-tree runs)."""
    return "--require-clean" if config["reference"]["require_clean"] else ""


def _tree_digest(paths):
    import hashlib

    h = hashlib.sha256()
    for path in paths:
        h.update(Path(path).name.encode())
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:16]


# --- k-NN scatter/gather (workflow/rules/knn.smk) ----------------------------------------
# Block files live outside the run directory, which the gather replaces as a whole;
# their folder carries the run's digest and their names the split, so blocks of other
# settings or of another block_size never mix.
KNN_BLOCK = (
    "results/knn_blocks/{dataset}/{variant}-{digest}/block.{block}-of-{nblocks}.npz"
)
KNN_WINDOW_BLOCK = "results/knn_blocks/{dataset}/learned/window.{block}-of-{nblocks}.npz"
KNN_WINDOW = "results/knn_blocks/{dataset}/learned/window.json"


wildcard_constraints:
    block=r"\d+",
    nblocks=r"\d+",


def knn_n_blocks(dataset, variant):
    """Test-row blocks of one (dataset, variant): the package's rule, one definition."""
    from ecgrepro.knn.jobs.blocks import n_blocks

    return n_blocks(dataset, variant, config["knn"])


def knn_window_n_blocks(dataset):
    """Training-row blocks of a dataset's window search (variant learned)."""
    from ecgrepro.knn.jobs.blocks import window_n_blocks

    return window_n_blocks(dataset, config["knn"])


def knn_block_files(wildcards):
    n = knn_n_blocks(wildcards.dataset, wildcards.variant)
    return [
        KNN_BLOCK.format(
            dataset=wildcards.dataset,
            variant=wildcards.variant,
            digest=wildcards.digest,
            block=b,
            nblocks=n,
        )
        for b in range(n)
    ]


def knn_window_block_files(wildcards):
    n = knn_window_n_blocks(wildcards.dataset)
    return [
        KNN_WINDOW_BLOCK.format(dataset=wildcards.dataset, block=b, nblocks=n)
        for b in range(n)
    ]


def knn_window_file(wildcards):
    """The learned window (JSON) for variant learned; nothing for the others."""
    if wildcards.variant != "learned":
        return []
    return [KNN_WINDOW.format(dataset=wildcards.dataset)]


def knn_window_arg(wildcards):
    files = knn_window_file(wildcards)
    return f"--window {files[0]}" if files else ""


def knn_subset_args():
    sub = config["knn"]["sktime_subset"]
    if not (sub["max_cells"] and sub["rows"]):
        return ""
    return (
        f"--subset-max-cells {float(sub['max_cells'])} --subset-rows {int(sub['rows'])}"
    )


def aggregate_code(wildcards=None):
    """The package code behind the aggregate and the paper."""
    pkg = Path(PACKAGE_ROOT) / "ecgrepro"
    return sorted(
        str(p)
        for p in [pkg / "metrics.py", pkg / "store.py", *(pkg / "aggregate").glob("*.py")]
    )


def aggregate_code_digest():
    """A digest of that code, as a parameter: file times are no rerun trigger here
    (profiles/default), so a change of the code reruns the aggregate through it."""
    return _tree_digest(aggregate_code())
