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
from ecgrepro.config_check import ConfigError, config_problem

_problem = config_problem(config, Path(PACKAGE_ROOT) / "schemas" / "config.schema.yaml")
if _problem:
    raise ConfigError(_problem)

# Light imports only: the package keeps frameworks out of these modules.
from ecgrepro.data.mitdb import ALL_RECORDS as MITDB_ALL_RECORDS, check_records

DATA = "resources/data"
DATA_LOCK = f"{DATA}/sha256.lock"
RUN_DIR = "results/runs/{dataset}/{model}/{framework}/{protocol}/{fold}/seed{seed}"
RUN_METRICS = f"{RUN_DIR}/metrics.json"


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


def data_outputs():
    """Summaries, and the verification stamps: a raw file deleted after a mismatch is
    fetched and verified again by `snakemake data` or `all`, and nothing else reruns."""
    names = config["ucr_datasets"]
    return expand("results/data/ucr/{name}/summary.json", name=names) + [
        *expand(f"{DATA}/ucr/{{name}}/verified.json", name=names),
        "results/data/mitdb/beat_counts.csv",
        "results/data/mitdb/records.csv",
    ]


def knn_ks_arg():
    return ",".join(map(str, config["knn"]["ks"]))


def knn_accuracy_files():
    return expand(
        "results/knn/{dataset}/{variant}/accuracy.csv",
        dataset=config["ucr_datasets"],
        variant=config["knn"]["variants"],
    )


def knn_mem_mb(wildcards, input):
    """The test x train matrix and its inputs are small; leave room for numba."""
    return max(1000, int(20 * input.size_mb) + 1000)


def segments_config_json():
    return json.dumps(config["mitdb_segments"])  # key order = class label order


def check_experiments():
    """Experiments must name configured models; datasets outside ucr_datasets are skipped.

    ucr_datasets is the one list of UCR data the workflow obtains, so narrowing it (say
    --config 'ucr_datasets=["TwoLeadECG"]') narrows the training runs too, and says so.
    """
    for i, exp in enumerate(config["experiments"]):
        unknown = sorted(set(exp["models"]) - set(config["models"]))
        if unknown:
            raise ValueError(
                f"config key experiments[{i}].models: {unknown} not in models"
            )
        skipped = sorted(set(exp["datasets"]) - set(experiment_datasets(exp)))
        if skipped:
            print(
                f"experiments[{i}]: {skipped} not in ucr_datasets; not trained",
                file=sys.stderr,
            )


def experiment_datasets(exp):
    """An experiment's datasets that this configuration obtains."""
    return [d for d in exp["datasets"] if d == "mitdb" or d in config["ucr_datasets"]]


check_experiments()


def eval_splits(dataset, protocol, resamples=1):
    """Test set (resample 0) and resample<i> of a UCR dataset, oh2018's folds or DS2."""
    if dataset != "mitdb":
        return ["test"] + [f"resample{i}" for i in range(1, resamples)]
    if protocol == "dechazal2004":
        return ["ds2"]
    return [f"fold{i}" for i in range(config["training"]["n_folds"])]


def train_outputs():
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
                run = dict(dataset=dataset, model=model, framework=framework)
                run.update(protocol=protocol, fold=fold, seed=seed)
                out.append(RUN_METRICS.format(**run))
    return out


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
    return data_outputs() + train_outputs() + aggregate_outputs() + paper_outputs()


# --- aggregate and paper (rules/aggregate.smk, rules/paper.smk) -------------------------


def expected_run_dirs():
    """Run directories the configuration asks for: training runs, then k-NN runs."""
    return [os.path.dirname(f) for f in train_outputs() + knn_accuracy_files()]


def _complete_run(run_dir):
    names = ("accuracy.csv", "confusion.csv", "metrics.json", "provenance.json")
    if "runs" in Path(run_dir).parts:
        names = ("metrics.json", "predictions.csv", "history.csv", "provenance.json")
    return all(os.path.exists(os.path.join(run_dir, n)) for n in names)


def aggregate_run_inputs(wildcards):
    """What the aggregate waits for, by config claims.missing_runs.

    train: one output file of every expected run, so Snakemake runs what is missing.
    report: the directories of the complete runs that exist now; directories are no
    rule's output, so nothing is (re)trained, and the aggregate lists the rest.
    """
    if config["claims"]["missing_runs"] == "report":
        return [d for d in expected_run_dirs() if _complete_run(d)]
    return train_outputs() + knn_accuracy_files()


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


def aggregate_outputs():
    from ecgrepro.aggregate.outputs import FIGURES, FIGURES_DIR, TABLES, TABLES_DIR

    return [f"{TABLES_DIR}/{t}" for t in TABLES] + [
        f"{FIGURES_DIR}/{f}.{ext}" for f in FIGURES for ext in ("png", "pdf")
    ]


def paper_outputs():
    from ecgrepro.aggregate.outputs import PAPER

    return list(PAPER)


# --- k-NN scatter/gather (workflow/rules/knn.smk) ----------------------------------------
# Block files live outside results/knn/<dataset>/<variant>/, which the gather replaces
# as a whole; their names carry the split, so blocks of another block_size never mix.
KNN_BLOCK = "results/knn_blocks/{dataset}/{variant}/block.{block}-of-{nblocks}.npz"
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
            dataset=wildcards.dataset, variant=wildcards.variant, block=b, nblocks=n
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


def aggregate_code(wildcards):
    """The package code behind the aggregate and the paper: a change reruns them."""
    pkg = Path(PACKAGE_ROOT) / "ecgrepro"
    return sorted(str(p) for p in [pkg / "metrics.py", *(pkg / "aggregate").glob("*.py")])
