import itertools
import json
import os
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

# Rules run `python -m ecgrepro.cli`; make the package importable in every job,
# including conda environments and cluster jobs, which re-read this file.
PACKAGE_ROOT = str(Path(workflow.basedir) / "workflow")
# The prefix is itself formatted like a shell command, hence the doubled braces; the
# checkout path is shell-quoted (it may hold a space or a quote: "My Drive", "it's").
shell.prefix(
    "set -euo pipefail; export PYTHONPATH="
    + shlex.quote(PACKAGE_ROOT).replace("{", "{{").replace("}", "}}")
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


# The digest of the verdict rules (claims:, convergence:) each run records in its
# provenance (ecgrepro.provenance.RULES_ENV): through the environment, so that a changed
# rule never reruns a job.
from ecgrepro.rules import rules_digest

os.environ["ECGREPRO_RULES_DIGEST"] = rules_digest(config)


envvars:
    "ECGREPRO_RULES_DIGEST",


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


def raw_ucr_files(wildcards=None):
    """The raw and prepared files of unpinned UCR data, as targets. Snakemake remakes no
    missing intermediate file whose consumers are up to date, so a raw file deleted to
    replace its dataset would stay deleted and the data unverified unless asked for; and
    Snakemake 9.27 schedules no run planned after checkpoint ucr_verified whose
    ancient() input is remade by a job that joined the plan only then (measured), so
    prepare must be in the plan from the start. Pinned data cannot change."""
    out = []
    for name in unpinned_datasets():
        out += ucr_split_files(SimpleNamespace(name=name)).values()
        out.append(f"resources/prepared/ucr/{name}.npz")
    return out


def ucr_summaries():
    """The data summaries of this configuration's UCR datasets."""
    return expand("results/data/ucr/{name}/summary.json", name=config["ucr_datasets"])


def data_outputs():
    """Summaries, raw files and the verification stamps: a raw file deleted (after a
    mismatch, or to replace the dataset) is fetched and verified again by
    `snakemake data` or `all`; only runs of changed data rerun. MIT-BIH only where an
    experiment or the timing step needs it (config_check)."""
    names = config["ucr_datasets"]
    mitdb = ["results/data/mitdb/beat_counts.csv", "results/data/mitdb/records.csv"]
    return (
        raw_ucr_files()
        + ucr_summaries()
        + expand(f"{DATA}/ucr/{{name}}/verified.json", name=names)
        + (mitdb if mitdb_needed(config) else [])
    )


def knn_ks_arg():
    return ",".join(map(str, config["knn"]["ks"]))


# --- data identity: the content of the data is part of every run's path ---------------
# A dataset the package pins no digest for is known by the sha256 of its raw files as
# verified (verify_ucr writes them to its verified.json): the runs made from it are
# planned once it is verified (checkpoint ucr_verified), so a replaced dataset is a new
# run path and the next `snakemake all` redoes exactly its runs. Pinned data (TwoLeadECG,
# MIT-BIH) carry their pinned digest; their paths never wait for a checkpoint.


def unpinned_datasets():
    return [
        d for d in config["ucr_datasets"] if not store.data_identity(d, config)["pinned"]
    ]


def verified_json(name):
    return f"{DATA}/ucr/{name}/verified.json"


def unpinned_verified_files(wildcards=None):
    return [verified_json(name) for name in unpinned_datasets()]


def data_digests(checkpoint=True):
    """``{dataset: {file: sha256}}`` of the unpinned datasets' verified files.

    checkpoint: wait for checkpoint ucr_verified (input functions: Snakemake plans the
    runs after it ran); False: what is on disk now (parse time, messages only).
    """
    out = {}
    names = unpinned_datasets()
    if checkpoint and names and not plan_unverified():
        checkpoints.ucr_verified.get()  # one checkpoint: every dataset verified at once
    for name in names:
        path = verified_json(name)
        if os.path.exists(path):
            out[name] = json.loads(Path(path).read_text()).get("sha256") or {}
    if checkpoint and out != _SAID["digests"] and workflow.is_main_process:
        # data verified since this file was read: say which runs that makes new
        _SAID["digests"] = out
        report_changed_runs(out, stale=False)
    return out


# What report_changed_runs last reported on (the data digests it planned with).
_SAID = {"digests": None}


def job_data_digests():
    """data_digests for a job's own parameters: it runs after the checkpoint, so the
    verified files on disk are its data (also in a cluster job, which plans no
    checkpoint); the job refuses a path whose digest is not theirs (_check_digest)."""
    return data_digests(checkpoint=False)


def plan_unverified():
    """$ECGREPRO_PLAN_UNVERIFIED set: a dry run lists the runs of data not yet verified
    under a stand-in identity (no sha256), so counting every job (ecgrepro.cost) needs
    no download. Refused for a real run, whose paths would not be the data's."""
    if not os.environ.get("ECGREPRO_PLAN_UNVERIFIED"):
        return False
    if not workflow.dryrun:
        raise EcgreproError(
            "ECGREPRO_PLAN_UNVERIFIED is for dry runs (snakemake -n) only: unset it to "
            "run the workflow."
        )
    return True


def run_digests(root, digests):
    """Data digests for run paths: the reference's runs are looked up, never made, so
    they wait for no checkpoint."""
    if digests is not None:
        return digests
    return data_digests(checkpoint=root == RESULTS)


def knn_run_dirs(root=RESULTS, digests=None):
    """The k-NN run directories of this configuration under ``root``."""
    digests = run_digests(root, digests)
    return [
        store.knn_dir(config, dataset, variant, root, digests)
        for dataset in config["ucr_datasets"]
        for variant in config["knn"]["variants"]
    ]


def knn_accuracy_files(wildcards=None, root=RESULTS):
    """Input function: the accuracy.csv of every k-NN run (after the checkpoint)."""
    return [f"{d}/accuracy.csv" for d in knn_run_dirs(root)]


def window_tag(wildcards):
    """Empty for pinned data, "-<data digest>" for the rest: a learned window of
    replaced data is a new path, and the window of pinned data keeps the one it had."""
    identity = store.data_identity(
        wildcards.dataset, config, job_data_digests().get(wildcards.dataset)
    )
    return "" if identity["pinned"] else f"-{store.digest(identity)}"


def knn_settings_json(wildcards):
    """The k-NN run's settings; refuses a path whose digest names other settings."""
    settings = store.knn_settings(
        config, wildcards.dataset, wildcards.variant, job_data_digests()
    )
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


def train_runs(root=RESULTS, digests=None):
    """(directory, settings) of every configured training run under ``root``.

    digests: the unpinned data's (default: after the checkpoint, see data_digests).
    """
    digests = run_digests(root, digests)
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
                    config, dataset, model, framework, protocol, fold, seed, digests
                )
                out.append((store.run_dir(settings, root), settings))
    return out


def train_run_dirs(root=RESULTS, digests=None):
    """Directories of every configured training run under ``root`` (settings-keyed)."""
    return [d for d, _ in train_runs(root, digests)]


def report_changed_runs(digests=None, stale=True):
    """Say which planned runs are new because their settings or data changed (old ones
    kept), which data wait for verification, and which runs' loaded code changed.

    digests: the unpinned data's; default: as on disk now (parse time).
    """
    from ecgrepro.codeid import stale_runs

    if digests is None:
        digests = _SAID["digests"] = data_digests(checkpoint=False)
    for name, verified in digests.items():
        if stale and store.raw_files_changed(f"{DATA}/ucr/{name}", verified):
            print(
                f"{name}: data changed: its raw files differ from {verified_json(name)} "
                "or are gone; they are verified again, then the runs made from them "
                "are planned anew (the old runs are kept)",
                file=sys.stderr,
            )
    knn = [
        (
            store.knn_dir(config, d, v, RESULTS, digests),
            store.knn_settings(config, d, v, digests),
        )
        for d in config["ucr_datasets"]
        for v in config["knn"]["variants"]
    ]
    planned = train_runs(digests=digests) + knn
    lines = store.changed_runs(planned)
    lines += stale_runs(d for d, _ in planned) if stale else []
    for line in lines[:20]:
        print(line, file=sys.stderr)
    if len(lines) > 20:
        print(f"... {len(lines) - 20} more runs changed", file=sys.stderr)


def train_outputs(wildcards=None, root=RESULTS):
    """Input function: metrics.json of every training run (after the checkpoint)."""
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
        job_data_digests(),
    )
    _check_digest(settings, wildcards.digest)
    return json.dumps(settings, sort_keys=True)


def prepared_data(path):
    """A prepared file as input: its content, not its time, decides (ancient).

    Refetching a deleted raw file reruns prepare, which leaves identical arrays byte
    for byte as they are; without ancient() every training and k-NN job of the dataset
    would be planned again. Changed data are a new run path (data_digests). A prepared
    file that is missing is still made first.
    """
    return ancient(path)


def prepared_ucr(wildcards):
    return prepared_data(f"resources/prepared/ucr/{wildcards.dataset}.npz")


def train_data(wildcards):
    if wildcards.dataset == "mitdb":
        return prepared_data("resources/prepared/mitdb/segments.npz")
    return prepared_ucr(wildcards)


def model_json(wildcards):
    return json.dumps(config["models"][wildcards.model], sort_keys=True)


def protocol_json(wildcards):
    return json.dumps(config["protocols"].get(wildcards.protocol, {}), sort_keys=True)


def train_env(wildcards):
    return f"../../envs/{wildcards.framework}.yaml"


def train_mem_mb(wildcards, input):
    """Room for the framework, the float64 arrays and their float32 copies."""
    return 3000 + int(6 * input.size_mb)


def final_outputs(wildcards=None):
    """Input function of the target all; runs of unpinned data wait for their checkpoint."""
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


def expected_runs(wildcards):
    """expected_run_dirs() as a parameter function (evaluated after the checkpoint)."""
    return expected_run_dirs()


def train_and_knn_outputs(wildcards=None):
    """Input function: every training and k-NN run's output (reference_runs and
    reproduce_check)."""
    return train_outputs() + knn_accuracy_files()


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
# {tag}: "" for pinned data, "-<data digest>" otherwise (window_tag).
KNN_WINDOW_BLOCK = (
    "results/knn_blocks/{dataset}/learned{tag}/window.{block}-of-{nblocks}.npz"
)
KNN_WINDOW = "results/knn_blocks/{dataset}/learned{tag}/window.json"


wildcard_constraints:
    block=r"\d+",
    nblocks=r"\d+",
    tag=r"(-[0-9a-f]{%d})?" % store.DIGEST_LEN,


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
        KNN_WINDOW_BLOCK.format(
            dataset=wildcards.dataset, tag=wildcards.tag, block=b, nblocks=n
        )
        for b in range(n)
    ]


def knn_window_file(wildcards):
    """The learned window (JSON) for variant learned; nothing for the others."""
    if wildcards.variant != "learned":
        return []
    return [KNN_WINDOW.format(dataset=wildcards.dataset, tag=window_tag(wildcards))]


def knn_window_arg(wildcards):
    """["--window", path] or []: a list, so that the shell command quotes each word."""
    files = knn_window_file(wildcards)
    return ["--window", files[0]] if files else []


def knn_subset_args():
    sub = config["knn"]["sktime_subset"]
    if not (sub["max_cells"] and sub["rows"]):
        return []
    # a list of words, each quoted apart in the shell command
    return [
        "--subset-max-cells",
        str(float(sub["max_cells"])),
        "--subset-rows",
        str(int(sub["rows"])),
    ]


def aggregate_code(wildcards=None):
    """The package code behind the aggregate and the paper."""
    pkg = Path(PACKAGE_ROOT) / "ecgrepro"
    return sorted(
        str(p)
        # data/splits.py: the split names the aggregate reads resamples from (C11)
        for p in [
            pkg / "metrics.py",
            pkg / "store.py",
            pkg / "codeid.py",
            pkg / "data" / "splits.py",
            *(pkg / "aggregate").glob("*.py"),
        ]
    )


def rules_config_files():
    """The config files in force, from the repository root (config.yaml, then each
    --configfile inside the repository): the aggregate dates rules changes by their git
    history."""
    root = Path(workflow.basedir).resolve()
    paths = [root / "config" / "config.yaml"]
    paths += [Path(p).resolve() for p in workflow.overwrite_configfiles]
    out = []
    for path in paths:
        if path.is_relative_to(root) and str(path.relative_to(root)) not in out:
            out.append(str(path.relative_to(root)))
    return out


def aggregate_code_digest():
    """A digest of that code, as a parameter: file times are no rerun trigger here
    (profiles/default), so a change of the code reruns the aggregate through it."""
    return _tree_digest(aggregate_code())
