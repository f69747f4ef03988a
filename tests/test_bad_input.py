"""Bad input caught at the door (issue 12: Configuration and Data integrity).

One test per observed problem. Each asserts that the message names the key or the file
and that nothing finished was removed. Tiny data, no network: mirrors are local
directories or a server on 127.0.0.1. Dry runs (``-n``) where the check is at parse time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, tiny_dataset, write_ucr_tsv

BIN = Path(sys.executable).parent


def snakemake(*args, cwd):
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), *args]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("ECGREPRO_DATA_MIRROR", None)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def job_counts(output: str) -> dict[str, int]:
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def config_error(result) -> str:
    """The error lines Snakemake printed (without its profile/config chatter)."""
    text = result.stdout + result.stderr
    lines = [
        line for line in text.splitlines()
        if line.strip() and not line.startswith(("Using workflow", "Config file"))
    ]
    return "\n".join(lines)


@pytest.fixture
def finished(tmp_path):
    """A working directory holding a 'finished' run, which no bad input may remove."""
    run = tmp_path / "results/runs/Tiny/lstm_fcn/torch/blog2020/test/seed0"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text("{}\n")
    return run / "metrics.json"


# --- Configuration -------------------------------------------------------------------------


def test_config_numbers_inside_lists_and_dicts_are_typed(tmp_path, finished):
    """`--config` values nested in lists/dicts arrive as strings: typed by the schema."""
    from ecgrepro.config_check import coerce
    import yaml

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    cfg = {
        "protocols": {"blog2020": {"epochs": "3", "plateau_factor": "null", "z_normalise": "true"}},
        "experiments": [{"datasets": ["TwoLeadECG"], "seeds": "2"}],
        "knn": {"ks": ["1", "3"], "sktime_subset": {"max_cells": "5.0e+11", "rows": "null"}},
        "mitdb_records": ["100", "101"],
        "ucr_datasets": ["ECG200"],
    }
    coerce(cfg, schema)
    assert cfg["protocols"]["blog2020"] == {"epochs": 3, "plateau_factor": None, "z_normalise": True}
    assert cfg["experiments"][0]["seeds"] == 2 and cfg["knn"]["ks"] == [1, 3]
    assert cfg["knn"]["sktime_subset"] == {"max_cells": 5.0e11, "rows": None}
    assert cfg["mitdb_records"] == ["100", "101"]  # strings are allowed there: kept

    exp = ('experiments=[{"datasets":["TwoLeadECG"],"models":["lstm_fcn"],'
           '"frameworks":["torch"],"protocols":["blog2020"],"seeds":2}]')
    result = snakemake("-n", "--config", 'protocols={"blog2020":{"epochs":3}}', exp,
                       'ucr_datasets=["TwoLeadECG"]', cwd=tmp_path)
    assert result.returncode == 0, config_error(result)
    assert job_counts(result.stdout)["train"] == 2  # seeds 0 and 1
    assert finished.is_file()


@pytest.mark.parametrize(
    "override, expected",
    [
        ('protocols={"blog2020":{"epochs":0}}',
         r"config key protocols\.blog2020\.epochs: 0 is not allowed\. Allowed: integer, >= 1"),
        ('protocols={"blog2020":{"epochs":-5}}', r"protocols\.blog2020\.epochs: -5 .*>= 1"),
        ('protocols={"oh2018":{"batch_size":0}}', r"protocols\.oh2018\.batch_size: 0 .*>= 1"),
        ('protocols={"oh2018":{"test_every":-1}}', r"protocols\.oh2018\.test_every: -1 .*>= 0"),
        ('protocols={"blog2020":{"epoch":3}}',
         r"config key protocols\.blog2020\.epoch: unknown field \(did you mean epochs\?\)"),
        ('protocols={"blog2020":{"test_every":5}}',
         r"protocols\.blog2020 = .*best_test.* needs test_every=1"),
        ('models={"lstm_fcn":{"family":"lstm_fcn","filtres":[8,8,8]}}',
         r"models\.lstm_fcn: unknown setting 'filtres' for family 'lstm_fcn'\. Did you mean 'filters'\?"),
        ('models={"lstm_fcn":{"family":"lstm_fcn","dropout":1.5}}',
         r"models\.lstm_fcn .*dropout must be in \[0, 1\)"),
    ],
)
def test_protocol_and_model_fields_are_checked_before_any_job(tmp_path, finished, override,
                                                              expected):
    result = snakemake("-n", "--config", override, cwd=tmp_path)
    text = config_error(result)
    assert result.returncode != 0
    assert re.search(expected, text), text
    assert "Traceback" not in text and len(text.splitlines()) <= 3
    assert finished.is_file()


def test_unknown_key_is_two_lines_and_the_dump_goes_to_the_log(tmp_path, finished):
    result = snakemake("-n", "--config", "ucr_dataset=['TwoLeadECG']", cwd=tmp_path)
    text = config_error(result)
    assert result.returncode != 0 and len(text.splitlines()) <= 3, text
    assert "unknown key 'ucr_dataset' (did you mean ucr_datasets?)" in text
    log = tmp_path / "logs/config_error.log"
    assert "logs/config_error.log" in text and "additionalProperties" in log.read_text()
    assert finished.is_file()


def test_unknown_ucr_name_is_caught_at_parse_time(tmp_path, finished):
    result = snakemake("-n", "--config", "ucr_datasets=['ECG999']", cwd=tmp_path)
    text = config_error(result)
    assert result.returncode != 0
    assert "config key ucr_datasets[0]: 'ECG999' is not a UCR/UEA archive dataset" in text
    assert "did you mean ECG200" in text and "Job stats" not in text
    assert finished.is_file()


def test_records_without_the_lead_are_caught_at_parse_time(tmp_path, finished):
    result = snakemake("-n", "--config", "mitdb_records=[102, 104]", cwd=tmp_path)
    text = config_error(result)
    assert result.returncode != 0
    assert "config key mitdb_records: no configured record has lead 'MLII'" in text
    assert "102: V5+V2; 104: V5+V2" in text
    # With the lead present in some records, skipping the others is fine.
    ok = snakemake("-n", "--config", "mitdb_records=[100, 102]", cwd=tmp_path)
    assert ok.returncode == 0, config_error(ok)
    assert finished.is_file()


# --- Data integrity ---------------------------------------------------------------------------


def tiny_mirror(root: Path, name="Tiny") -> tuple[Path, Path]:
    Xtr, ytr, Xte, yte = tiny_dataset(n_train=6, n_test=9, labels=("-1", "1"))
    train = write_ucr_tsv(root / "ucr" / name / f"{name}_TRAIN.tsv", Xtr, ytr)
    test = write_ucr_tsv(root / "ucr" / name / f"{name}_TEST.tsv", Xte, yte)
    return train, test


def change_one_digit(path: Path, line: int = 2, field: int = 5) -> None:
    lines = path.read_text().splitlines()
    fields = lines[line].split("\t")
    value = fields[field]
    i = next(k for k, c in enumerate(value) if c.isdigit() and c != "0")
    fields[field] = value[:i] + str((int(value[i]) + 3) % 10) + value[i + 1:]
    lines[line] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")


SUMMARY = "results/data/ucr/Tiny/summary.json"
KNN = "knn"  # the target: the k-NN run (results/knn/Tiny/euclidean-<digest>/) and knn.csv
STAMP = "resources/data/ucr/Tiny/verified.json"


def data_args(mirror, *targets):
    return ("--cores", "1", *targets, "--config", f"data_mirror={mirror}",
            "ucr_datasets=['Tiny']", 'knn={"variants":["euclidean"],"ks":[1]}')


@pytest.mark.slow
def test_a_file_failing_its_checks_is_never_locked(tmp_path, finished):
    """Parse failure and a changed digit: not kept, not locked; the fixed file is accepted."""
    mirror = tmp_path / "mirror"
    train, test = tiny_mirror(mirror)
    good = train.read_text()
    lock = tmp_path / "resources/data/sha256.lock"

    train.write_text("1\t0.1\tnot-a-number\n")
    bad = snakemake(*data_args(mirror, SUMMARY), cwd=tmp_path)
    assert bad.returncode != 0 and "could not parse" in bad.stdout + bad.stderr
    assert "Tiny_TRAIN" not in (lock.read_text() if lock.exists() else "")

    train.write_text(good)
    change_one_digit(train)  # still parses, same sizes and classes
    bad = snakemake(*data_args(mirror, SUMMARY), cwd=tmp_path)
    text = bad.stdout + bad.stderr
    assert bad.returncode != 0 and re.search(r"Tiny TRAIN: series 3 .*not z-normalised", text)
    assert "Tiny_TRAIN" not in (lock.read_text() if lock.exists() else "")
    assert not (tmp_path / "resources/data/ucr/Tiny/Tiny_TRAIN.tsv").exists()

    train.write_text(good)  # the mirror is fixed: accepted without touching the lock
    ok = snakemake(*data_args(mirror, SUMMARY), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "ucr/Tiny/Tiny_TRAIN.tsv" in lock.read_text()
    assert finished.is_file()


@pytest.mark.slow
def test_cross_split_failure_forgets_the_files(tmp_path, finished):
    mirror = tmp_path / "mirror"
    train, test = tiny_mirror(mirror)
    good = test.read_text()
    test.write_text(good.replace("-1\t", "7\t", 1))  # a label the training split lacks
    bad = snakemake(*data_args(mirror, SUMMARY), cwd=tmp_path)
    text = bad.stdout + bad.stderr
    assert bad.returncode != 0 and "test labels ['7'] never occur" in text
    assert "Removed resources/data/ucr/Tiny/Tiny_TRAIN.tsv" in text
    lock = (tmp_path / "resources/data/sha256.lock").read_text()
    assert "Tiny_TEST" not in lock and "Tiny_TRAIN" not in lock
    test.write_text(good)
    ok = snakemake(*data_args(mirror, SUMMARY), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert finished.is_file()


@pytest.mark.slow
def test_pinned_digest_mismatch_advises_fixing_the_file(tmp_path, finished):
    """TwoLeadECG's digests ship with the package: editing the lock is no advice."""
    mirror = tmp_path / "mirror"
    tiny_mirror(mirror, name="TwoLeadECG")
    result = snakemake(
        "--cores", "1", "resources/data/ucr/TwoLeadECG/TwoLeadECG_TRAIN.tsv",
        "--config", f"data_mirror={mirror}", "ucr_datasets=['TwoLeadECG']", cwd=tmp_path,
    )
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "sha256 mismatch for ucr/TwoLeadECG/TwoLeadECG_TRAIN.tsv" in text
    assert "differs from the published file" in text and "Fix or replace the mirror" in text
    assert "remove the line" not in text and "lock" not in text.split("sha256 mismatch")[1]
    assert finished.is_file()


def test_missing_mirror_directory_is_reported_once(tmp_path, finished):
    result = snakemake("-n", "--config", f"data_mirror={tmp_path / 'nowhere'}", cwd=tmp_path)
    text = config_error(result)
    assert result.returncode != 0
    assert text.count("does not exist") == 1 and "is not at" not in text
    assert f"config key data_mirror: the directory {tmp_path / 'nowhere'} does not exist" in text
    assert finished.is_file()


@pytest.mark.slow
def test_switching_source_and_refetching_plan_nothing_downstream(tmp_path, finished):
    """Same data, same plan: leaving out data_mirror, or refetching a corrupt raw file."""
    mirror = tmp_path / "mirror"
    tiny_mirror(mirror)
    first = snakemake(*data_args(mirror, SUMMARY, STAMP, KNN), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (knn,) = (tmp_path / "results/knn/Tiny").glob("euclidean-*/accuracy.csv")
    npz = tmp_path / "resources/prepared/ucr/Tiny.npz"
    knn_time, npz_bytes = knn.stat().st_mtime_ns, npz.read_bytes()

    # data_mirror left out: a public-source run would use .ts files; nothing is planned.
    no_mirror = ("--cores", "1", SUMMARY, STAMP, KNN, "--config", "ucr_datasets=['Tiny']",
                 'knn={"variants":["euclidean"],"ks":[1]}')
    plan = snakemake("-n", *no_mirror, cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert job_counts(plan.stdout) == {}, plan.stdout

    # A raw file corrupted after it was obtained: the mismatch stops the run, and the
    # prepared arrays and the k-NN results made from them stay.
    raw = tmp_path / "resources/data/ucr/Tiny/Tiny_TEST.tsv"
    data = bytearray(raw.read_bytes())
    data[5] ^= 0x01
    raw.write_bytes(bytes(data))
    bad = snakemake(*data_args(mirror, SUMMARY, STAMP, KNN), cwd=tmp_path)
    text = bad.stdout + bad.stderr
    assert bad.returncode != 0 and f"Delete {raw.relative_to(tmp_path)} and rerun" in text
    assert npz.read_bytes() == npz_bytes and knn.stat().st_mtime_ns == knn_time

    # The README's advice: delete it and rerun. Fetched, verified and prepared again; the
    # identical prepared file is left as it was, and no k-NN job runs again.
    raw.unlink()
    redone = snakemake(*data_args(mirror, SUMMARY, STAMP, KNN), cwd=tmp_path)
    assert redone.returncode == 0, redone.stderr
    # jobs run (checkpoint ucr_verified, which keys unpinned data's runs by their
    # content, collects the verified digests again: the same, so no run is redone)
    ran = re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", redone.stdout + redone.stderr,
                     re.M)
    assert sorted(r for r in ran if r not in ("knn", "knn_table")) == [
        "fetch_ucr", "prepare_ucr", "ucr_verified", "verify_ucr"], ran
    assert knn.stat().st_mtime_ns == knn_time and npz.read_bytes() == npz_bytes
    assert json.loads((tmp_path / SUMMARY).read_text())["test_size"] == 9
    assert finished.is_file()
