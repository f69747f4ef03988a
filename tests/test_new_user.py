"""A new user's path (issue 20, items 3-6): own model, own data, a config of their own.

Typos in an experiment are refused with close matches, skipped datasets are said again at
the end, MIT-BIH is obtained only when something needs it, a builder's wrong output shape
is named in one line (and no "Cannot restore" lines follow), ``models list`` merges
``--configfile`` over the default config quietly, and the README's section "Benchmark your
model on your data" runs as written. Tiny data made here; no network.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, snapshot_workflow, tiny_dataset, write_ucr_tsv

BIN = Path(sys.executable).parent

TINY = '''\
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TinyArch:
    length: int
    n_classes: int
    channels: int = 4
    extra_outputs: int = 0  # > 0: a builder mistake, more outputs than classes
    name = "tiny"
    torch_builder = ":build_torch"

    def to_dict(self):
        return {**asdict(self), "name": self.name}


def build_torch(arch):
    import torch

    return torch.nn.Sequential(
        torch.nn.Conv1d(1, arch.channels, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten(),
        torch.nn.Linear(arch.channels, arch.n_classes + arch.extra_outputs),
    )
'''


def user_dir(tmp_path: Path, experiments: str, extra: str = "") -> Path:
    """A working directory with mymodels/tiny.py, a mirror holding MyECG, and my.yaml."""
    work = tmp_path / "work"
    (work / "mymodels").mkdir(parents=True)
    (work / "mymodels" / "tiny.py").write_text(TINY)
    Xtr, ytr, Xte, yte = tiny_dataset(n_train=8, n_test=6, length=16)
    write_ucr_tsv(work / "mirror/ucr/MyECG/MyECG_TRAIN.tsv", Xtr, ytr)
    write_ucr_tsv(work / "mirror/ucr/MyECG/MyECG_TEST.tsv", Xte, yte)
    (work / "my.yaml").write_text(textwrap.dedent("""\
        ucr_datasets: [MyECG]
        data_mirror: mirror
        models:
          tiny: {family: "mymodels.tiny:TinyArch"}
        protocols:
          karim2018: {epochs: 1, test_every: 1}
        knn: {variants: [euclidean], ks: [1]}
        timing: {enabled: false}
        """) + experiments + extra)
    return work


def experiment(datasets="[MyECG]", models="[tiny]") -> str:
    return (f"experiments:\n  - {{datasets: {datasets}, models: {models}, "
            "frameworks: [torch], protocols: [karim2018], seeds: 1}\n")


def snakemake(work: Path, *args, snakefile: Path = REPO / "Snakefile"):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join([str(work), os.environ.get("PYTHONPATH", "")])}
    env.pop("ECGREPRO_DATA_MIRROR", None)
    if "-n" in args:
        # a dry run before the user's data are verified plans their runs under a
        # stand-in identity (the data digest is known only after checkpoint ucr_verified)
        env["ECGREPRO_PLAN_UNVERIFIED"] = "1"
    cmd = [str(BIN / "snakemake"), "-s", str(snakefile), "--cores", "1", *args,
           "--configfile", str(work / "my.yaml")]
    result = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                            timeout=600)
    return result.returncode, result.stdout + result.stderr


def job_counts(output: str) -> dict[str, int]:
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


# --- item 3: typos in an experiment ------------------------------------------------------


def test_a_dataset_typo_in_an_experiment_is_refused_with_close_matches(tmp_path):
    work = user_dir(tmp_path, experiment(datasets="[MyEGC]"))
    rc, text = snakemake(work, "-n", "all")
    assert rc != 0
    assert ("config key experiments[0].datasets[0]: 'MyEGC' is not in ucr_datasets and "
            "is no UCR/UEA archive dataset (did you mean MyECG?)") in text, text
    assert "Job stats" not in text


def test_dataset_check_tells_typos_from_narrowed_runs(tmp_path):
    from ecgrepro.config_check import ConfigError, check_experiment_datasets

    exps = [{"datasets": ["TwoLeadECG", "mitdb", "ECG200"]}]
    check_experiment_datasets(exps, ["TwoLeadECG"], data_dir=tmp_path)  # ECG200: skipped
    with pytest.raises(ConfigError, match=r"datasets\[1\]: 'TwoLeadEGC'.*did you mean "
                                          r"TwoLeadECG\?"):
        check_experiment_datasets([{"datasets": ["ECG200", "TwoLeadEGC"]}], ["TwoLeadECG"],
                                  data_dir=tmp_path)
    # an http mirror cannot be listed: its own datasets are only skipped
    check_experiment_datasets([{"datasets": ["Mine"]}], ["TwoLeadECG"],
                              mirror="http://127.0.0.1:1/ecg", data_dir=tmp_path)


def test_a_model_typo_in_an_experiment_gets_did_you_mean(tmp_path):
    work = user_dir(tmp_path, experiment(models="[tinny]"))
    rc, text = snakemake(work, "-n", "all")
    assert rc != 0
    assert "config key experiments[0].models[0]: 'tinny' is not a configured model " \
           "(did you mean tiny?)" in text, text


@pytest.mark.slow
def test_a_skipped_dataset_is_noticed_at_the_start_and_again_at_the_end(tmp_path):
    """ECG200 is an archive dataset left out of ucr_datasets: skipped, and said twice."""
    work = user_dir(tmp_path, experiment(datasets="[MyECG, ECG200]"))
    rc, text = snakemake(work, "data", snakefile=snapshot_workflow(tmp_path / "code")
                         / "Snakefile")
    assert rc == 0, text[-3000:]
    notice = ("Notice: experiments[0] lists ECG200, not in ucr_datasets: not trained "
              "(add to ucr_datasets to train).")
    assert text.count(notice) == 2, text
    assert text.rindex(notice) > text.rindex("steps (100%) done")  # the end, not the start


# --- item 5: MIT-BIH only when needed -------------------------------------------------------


def test_a_ucr_only_study_plans_no_mitdb_job(tmp_path):
    work = user_dir(tmp_path, experiment())
    rc, text = snakemake(work, "-n", "all")
    assert rc == 0, text
    counts = job_counts(text)
    assert counts["train"] == 1 and counts["prepare_ucr"] == 1
    assert not [job for job in counts if "mitdb" in job], counts
    rc, text = snakemake(work, "-n", "data")
    assert rc == 0 and not [job for job in job_counts(text) if "mitdb" in job], text


def test_empty_mitdb_records_allowed_unless_something_needs_them(tmp_path):
    work = user_dir(tmp_path, experiment(), "mitdb_records: []\n")
    rc, text = snakemake(work, "-n", "all")
    assert rc == 0, text
    work = user_dir(tmp_path / "b", experiment(datasets="[MyECG, mitdb]"),
                    "mitdb_records: []\n")
    rc, text = snakemake(work, "-n", "all")
    assert rc != 0
    assert "config key mitdb_records: [] (no MIT-BIH records), but experiments[0] need " \
           "MIT-BIH segments" in text, text
    rc, text = snakemake(work, "-n", "all", "--config",
                         'experiments=[{"datasets":["MyECG"],"models":["tiny"],'
                         '"frameworks":["torch"],"protocols":["karim2018"],"seeds":1}]',
                         'timing={"enabled":true}')
    assert rc != 0 and "the timing step (timing.enabled) need" in text, text


# --- item 4: a builder with the wrong output shape -------------------------------------------


def test_wrong_output_shape_is_named_before_training(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import numpy as np

    from ecgrepro.data.ucr import UCRDataset
    from ecgrepro.errors import EcgreproError
    from ecgrepro.models import registry
    from ecgrepro.training import torch_fit

    (tmp_path / "mymodels").mkdir()
    (tmp_path / "mymodels" / "tiny.py").write_text(TINY)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.resolve.cache_clear()
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(4, int), np.ones(4, int)]
    ds = UCRDataset("Tiny", rng.normal(size=(8, 16)), y, rng.normal(size=(8, 16)), y,
                    np.array(["1", "2"]))
    arch = registry.build_arch({"family": "mymodels.tiny:TinyArch", "extra_outputs": 6},
                               16, 2)
    try:
        with pytest.raises(EcgreproError) as err:
            torch_fit.fit_evaluate(ds, arch, "karim2018", 0, device="cpu")
    finally:
        sys.modules.pop("mymodels.tiny", None)
        sys.modules.pop("mymodels", None)
        registry.resolve.cache_clear()
    assert str(err.value) == (
        "model 'tiny': the torch network built by mymodels.tiny:build_torch returns shape "
        "(2, 8) for a batch of shape (2, 1, 16) (batch, channels, length); expected (2, 2) "
        "(batch, n_classes = 2, one output per class of the data). Fix the builder.")


@pytest.mark.slow
def test_a_failed_new_run_prints_no_restore_lines(tmp_path):
    work = user_dir(tmp_path, experiment())
    yaml = work / "my.yaml"
    yaml.write_text(yaml.read_text().replace('"mymodels.tiny:TinyArch"}',
                                             '"mymodels.tiny:TinyArch", extra_outputs: 6}'))
    rc, text = snakemake(work, "train_all", snakefile=snapshot_workflow(tmp_path / "code")
                         / "Snakefile")
    assert rc != 0
    assert "built by mymodels.tiny:build_torch returns shape (2, 8)" in text, text[-3000:]
    assert "expected (2, 2)" in text and "RuntimeError" not in text
    assert "Cannot restore" not in text and "no backup found" not in text
    assert not list((work / "results/runs").rglob("metrics.json"))


def test_the_no_backup_filter_drops_only_those_lines():
    import logging

    from ecgrepro.snakemake_log import quiet_missing_backups

    logger = logging.getLogger("test_new_user.restore")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    quiet_missing_backups(logger)
    quiet_missing_backups(logger)  # once only
    logger.warning("Cannot restore results/runs/a/metrics.json: no backup found.")
    logger.warning("Restored previous version of results/runs/a/metrics.json "
                   "(updating job failed).")
    assert [r.getMessage() for r in records] == [
        "Restored previous version of results/runs/a/metrics.json (updating job failed)."]
    assert len(logger.filters) == 1


# --- item 6: models list and the README ------------------------------------------------------


def test_models_list_merges_configfile_over_the_default_quietly(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    work = user_dir(tmp_path, experiment())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(work), str(REPO / "workflow"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "ecgrepro.models", "list", "--configfile", "my.yaml",
         "--length", "16"], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[2:]]
    # the default config's models, then mine: merged, as Snakemake merges --configfile
    assert names[:6] == ["lstm_fcn", "lstm_fcn_noshuffle", "cnn_lstm", "cnn_gru", "fcn",
                         "tiny"], result.stdout
    assert result.stderr == "", result.stderr  # no TensorFlow start-up lines


def _readme_section() -> str:
    text = (REPO / "README.md").read_text()
    return text.split("## Benchmark your model on your data", 1)[1].split("\n## ", 1)[0]


def test_readme_protocol_table_matches_the_configured_protocols():
    import yaml

    from ecgrepro.training.presets import PRESETS, get_protocol

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    rows = {m[1]: m.groups()[1:] for m in re.finditer(
        r"^\| `(\w+)` \| (\d+) \| (\d+) \| ([\d.]+) \|", _readme_section(), re.M)}
    assert set(rows) == set(PRESETS)
    for name, (epochs, batch, lr) in rows.items():
        p = get_protocol(name, **cfg["protocols"].get(name, {}))
        assert (int(epochs), int(batch), float(lr)) == (p.epochs, p.batch_size,
                                                        p.learning_rate), name


def test_readme_says_dictionaries_are_merged(tmp_path):
    text = (REPO / "README.md").read_text()
    assert "replaces the whole key" not in text
    assert "are **merged**" in text
    # what it says: a --config dictionary keeps the settings the config file gave
    work = user_dir(tmp_path, experiment())
    yaml = work / "my.yaml"
    yaml.write_text(yaml.read_text().replace('"mymodels.tiny:TinyArch"}',
                                             '"mymodels.tiny:TinyArch", channels: 8}'))
    rc, out = snakemake(work, "-n", "-p", "train_all", "--config",
                        'models={"tiny":{"family":"mymodels.tiny:TinyArch"}}')
    assert rc == 0, out
    assert '"channels": 8' in out


@pytest.mark.slow
def test_readme_section_runs_as_written(tmp_path):
    """Every bash block of the section, in order, from an empty directory."""
    blocks = re.findall(r"```bash\n(.*?)```", _readme_section(), re.S)
    assert len(blocks) == 4
    script = tmp_path / "readme.sh"
    script.write_text("set -euo pipefail\n" + "\n".join(blocks))
    work = tmp_path / "mine"
    work.mkdir()
    code = snapshot_workflow(tmp_path / "code")
    (code / "paper").mkdir()
    for name in ("paper.md.j2", "references.bib"):  # the manuscript template
        (code / "paper" / name).write_bytes((REPO / "paper" / name).read_bytes())
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "ECGREPRO": str(code)}
    env.pop("ECGREPRO_DATA_MIRROR", None)
    result = subprocess.run(["bash", str(script)], cwd=work, env=env, capture_output=True,
                            text=True, timeout=900)
    text = result.stdout + result.stderr
    assert result.returncode == 0, text[-4000:]
    assert "tiny" in result.stdout and "mymodels.tiny:TinyArch" in result.stdout
    assert "I0000" not in text and "Cannot restore" not in text
    runs = list((work / "results/runs/MyECG/tiny/torch/karim2018/test").glob("seed0-*"))
    assert len(runs) == 1 and (runs[0] / "metrics.json").is_file()
    assert (work / "results/paper/paper.html").is_file()
    assert not (work / "resources/data/mitdb").exists()  # no MIT-BIH fetched
    summary = (work / "results/tables/summary.csv").read_text()
    assert "train,MyECG,tiny,torch,karim2018" in summary
