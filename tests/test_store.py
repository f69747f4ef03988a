"""Run identity (ecgrepro.store), provenance of the code, the reference tree, and the
reproduce check: runs keyed by their settings, changed trees flagged and refused."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from ecgrepro import provenance, reference, store
from ecgrepro.errors import EcgreproError

BIN = Path(sys.executable).parent


def config(*overlays) -> dict:
    """config.yaml with overlays merged as Snakemake merges --configfile."""
    from snakemake.utils import update_config, validate

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for overlay in overlays:
        update_config(cfg, overlay)
    validate(cfg, str(REPO / "workflow/schemas/config.schema.yaml"))
    return cfg


def quick(**protocols) -> dict:
    overlay = yaml.safe_load((REPO / "config/quick.yaml").read_text())
    for name, fields in protocols.items():
        overlay["protocols"][name].update(fields)
    return config(overlay)


def run_dirs(cfg) -> dict[tuple, str]:
    out = {}
    for exp in cfg["experiments"]:
        for ds in exp["datasets"]:
            if ds != "mitdb" and ds not in cfg["ucr_datasets"]:
                continue
            for model in exp["models"]:
                for fw in exp["frameworks"]:
                    for proto in exp["protocols"]:
                        for seed in range(exp["seeds"]):
                            for split in store.eval_splits(ds, proto,
                                                           cfg["training"]["n_folds"]):
                                s = store.train_settings(cfg, ds, model, fw, proto, split,
                                                         seed)
                                out[(ds, model, fw, proto, split, seed)] = store.run_dir(s)
    return out


# --- settings and paths --------------------------------------------------------------


def test_digest_is_canonical_and_short():
    a = {"b": 1, "a": [1, 2], "c": {"y": 0.5, "x": None}}
    b = {"c": {"x": None, "y": 0.5}, "a": [1, 2], "b": 1}
    assert store.digest(a) == store.digest(b)
    assert re.fullmatch(r"[0-9a-f]{10}", store.digest(a))
    assert store.digest(a) != store.digest({**a, "b": 2})


def test_changing_oh2018_epochs_changes_exactly_the_oh2018_paths():
    before, after = run_dirs(quick()), run_dirs(quick(oh2018={"epochs": 7}))
    assert before.keys() == after.keys()
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {k for k in before if k[3] == "oh2018"}
    assert len(changed) == 4  # cnn_lstm x torch/keras x 2 folds x 1 seed


@pytest.mark.parametrize("change", [
    lambda c: c["models"]["cnn_lstm"].update(units=21),
    lambda c: c["training"].update(fold_seed=1),
    lambda c: c["training"].update(n_folds=3),
    lambda c: c["mitdb_segments"].update(pre=98),
    lambda c: c.update(mitdb_records=[100, 101]),
])
def test_every_setting_that_determines_a_run_is_in_its_path(change):
    cfg = quick()
    s = store.train_settings(cfg, "mitdb", "cnn_lstm", "torch", "oh2018", "fold0", 0)
    other = copy.deepcopy(cfg)
    change(other)
    s2 = store.train_settings(other, "mitdb", "cnn_lstm", "torch", "oh2018", "fold0", 0)
    assert store.run_dir(s) != store.run_dir(s2)


def test_device_and_block_size_are_not_settings():
    cfg = quick()
    other = copy.deepcopy(cfg)
    other["training"]["device"] = "cpu"
    other["knn"]["block_size"] = 7
    assert run_dirs(cfg) == run_dirs(other)
    assert store.knn_dir(cfg, "TwoLeadECG", "aeon-dtw") == store.knn_dir(
        other, "TwoLeadECG", "aeon-dtw")
    other["knn"]["ks"] = [1, 2, 3]
    assert store.knn_dir(cfg, "TwoLeadECG", "aeon-dtw") != store.knn_dir(
        other, "TwoLeadECG", "aeon-dtw")


def test_pinned_data_digests_enter_the_settings():
    s = store.data_identity("TwoLeadECG", quick())
    assert s["pinned"] and set(s["sha256"]) == {"TwoLeadECG_TRAIN.tsv", "TwoLeadECG_TEST.tsv"}
    assert store.data_identity("ECG200", quick()) == {"name": "ECG200", "pinned": False,
                                                      "sha256": {}}
    m = store.data_identity("mitdb", quick())
    assert m["records"] == [100, 109, 118, 119, 214] and len(m["checksums_sha256"]) == 64


def test_parse_run_dir_round_trips_with_and_without_digest():
    cfg = quick()
    s = store.train_settings(cfg, "mitdb", "cnn_lstm", "keras", "oh2018", "fold1", 0)
    run = store.parse_run_dir(store.run_dir(s, "x/results"))
    assert (run.kind, run.dataset, run.model, run.framework, run.protocol, run.split,
            run.seed, run.digest) == ("train", "mitdb", "cnn_lstm", "keras", "oh2018",
                                      "fold1", 0, store.digest(s))
    assert run.name == store.run_dir(s, "x").removeprefix("x/")
    k = store.parse_run_dir(store.knn_dir(cfg, "TwoLeadECG", "aeon-dtw-w4"))
    assert (k.kind, k.model, len(k.digest)) == ("knn", "aeon-dtw-w4", 10)
    old = store.parse_run_dir("results/runs/A/m/torch/p/test/seed3")
    assert (old.seed, old.digest, old.name) == (3, "", "runs/A/m/torch/p/test/seed3")
    assert store.parse_run_dir("results/knn/A/aeon-dtw").model == "aeon-dtw"


def test_a_run_never_goes_into_a_directory_of_other_settings(tmp_path):
    s = store.train_settings(quick(), "TwoLeadECG", "lstm_fcn", "torch", "blog2020", "test",
                             0)
    store.check_dir_matches(s, store.run_dir(s, str(tmp_path)))
    wrong = store.run_dir({**s, "seed": 1}, str(tmp_path)).replace("seed1", "seed0")
    with pytest.raises(EcgreproError, match="digest"):
        store.check_dir_matches(s, wrong)


def test_atomic_dir_keeps_the_old_run_until_the_new_one_is_complete(tmp_path):
    out = tmp_path / "run"
    with store.atomic_dir(out) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError):
        with store.atomic_dir(out) as tmp:
            (tmp / "a").write_text("2")
            raise RuntimeError("killed")
    assert (out / "a").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# --- provenance of the code -------------------------------------------------------------


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _fake_run(root: Path, seed: int, git: dict) -> Path:
    s = store.train_settings(quick(), "TwoLeadECG", "lstm_fcn", "torch", "blog2020", "test",
                             seed)
    d = Path(store.run_dir(s, str(root)))
    d.mkdir(parents=True)
    for name in store.TRAIN_FILES:
        (d / name).write_text("{}")
    (d / "provenance.json").write_text(json.dumps({"git": git}))
    store.write_settings(d, s)
    return d


def test_changed_tree_and_mixed_commits_are_flagged(tmp_path):
    clean = {"commit": "a" * 40, "dirty": False}
    dirty = {"commit": "a" * 40, "dirty": True, "diff_sha256": "f" * 64,
             "changed_files": ["workflow/ecgrepro/runs.py"]}
    runs = [_fake_run(tmp_path, 0, clean), _fake_run(tmp_path, 1, dirty)]
    problems = reference.check_clean(runs, require_clean=False)  # marked, not refused
    assert len(problems) == 1 and "changed tree" in problems[0] and "runs.py" in problems[0]
    with pytest.raises(EcgreproError, match="require_clean"):
        reference.check_clean(runs, require_clean=True)
    other = _fake_run(tmp_path, 2, {"commit": "b" * 40, "dirty": False})
    problems = reference.check_clean([runs[0], other], require_clean=False)
    assert problems == ["runs from more than one commit (code not recorded): "
                        f"{'a' * 12} (1 runs); {'b' * 12} (1 runs)"]


def test_reference_build_refuses_a_changed_tree_run(tmp_path):
    results, ref = tmp_path / "results", tmp_path / "results/reference"
    runs = [_fake_run(results, 0, {"commit": "a" * 40, "dirty": False}),
            _fake_run(results, 1, {"commit": "a" * 40, "dirty": True})]
    kw = dict(results=results, reference=ref, benchmarks=tmp_path / "b",
              reference_benchmarks=tmp_path / "b/reference")
    with pytest.raises(EcgreproError, match="changed tree"):
        reference.promote(runs, require_clean=True, **kw)
    assert not ref.exists()  # nothing copied
    names = reference.promote(runs, require_clean=False, **kw)
    assert len(names) == 2
    assert (ref / runs[1].relative_to(results) / "settings.json").is_file()


def test_aggregate_marks_changed_tree_runs(tmp_path):
    from ecgrepro.aggregate.collect import _provenance

    d = _fake_run(tmp_path, 0, {"commit": "a" * 40, "dirty": True, "diff_sha256": "e" * 64})
    facts, _ = _provenance(d / "provenance.json")
    assert facts["dirty"] is True and facts["diff_sha256"] == "e" * 64
    assert facts["settings_digest"] == d.name.split("-")[1]
    from ecgrepro.aggregate.build import RUN_TAIL

    assert {"commit", "dirty", "diff_sha256", "settings_digest"} <= set(RUN_TAIL)


def test_aggregate_never_mixes_settings_in_one_row(tmp_path):
    from ecgrepro.aggregate.collect import check_one_setting

    a = _fake_run(tmp_path, 0, {"commit": "a", "dirty": False})
    s = store.train_settings(quick(karim2018={}, blog2020={"epochs": 3}), "TwoLeadECG",
                             "lstm_fcn", "torch", "blog2020", "test", 1)
    b = Path(store.run_dir(s, str(tmp_path)))
    b.mkdir(parents=True)
    (b / "provenance.json").write_text("{}")
    store.write_settings(b, s)
    check_one_setting([store.parse_run_dir(a)])
    with pytest.raises(EcgreproError, match="different settings"):
        check_one_setting([store.parse_run_dir(a), store.parse_run_dir(b)])


# --- the reproduce check -----------------------------------------------------------------


def test_reproduce_check_marks_identical_and_different_runs(tmp_path):
    from ecgrepro.reproduce import reproduce_check

    cfg = quick()
    ref, mine = tmp_path / "reference", tmp_path / "results"
    for root in (ref, mine):
        d = Path(store.knn_dir(cfg, "TwoLeadECG", "aeon-dtw", str(root)))
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({"best_accuracy": 0.9}))
        (d / "predictions.csv").write_text("case_id,k,y_true,y_pred\n0,1,1,1\n")
        (d / "provenance.json").write_text(json.dumps({"packages": {"aeon": "1.6.0"}}))
        store.write_settings(d, store.knn_settings(cfg, "TwoLeadECG", "aeon-dtw"))
    s = store.train_settings(cfg, "TwoLeadECG", "lstm_fcn", "torch", "blog2020", "test", 0)
    s_ref = store.train_settings(config(), "TwoLeadECG", "lstm_fcn", "torch", "blog2020",
                                 "test", 0)
    for root, settings in ((ref, s_ref), (mine, s)):
        d = Path(store.run_dir(settings, str(root)))
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({"accuracy": 0.5}))
        (d / "predictions.csv").write_text(f"{root.name}\n")
        (d / "provenance.json").write_text("{}")
        store.write_settings(d, settings)
    table = reproduce_check(mine, ref, tmp_path / "out").set_index("kind")
    assert table.loc["knn", "verdict"] == "identical"
    assert table.loc["train", "verdict"] == "different"
    assert "protocol_settings.epochs: 50 -> 5" in table.loc["train", "reason"]
    assert (tmp_path / "out/reproduce.md").read_text().count("| identical |") == 2


# --- the workflow's plans ----------------------------------------------------------------


def snakemake(*args, cwd):
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), *args]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def job_counts(output: str) -> dict[str, int]:
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_changed_epochs_rerun_exactly_those_runs_and_keep_the_old(tmp_path):
    """After a (simulated) training of every run, a changed protocols.oh2018.epochs
    plans the oh2018 runs again, under new paths; the finished ones stay."""
    quick_file = str(REPO / "config/quick.yaml")
    (tmp_path / "resources/prepared/ucr").mkdir(parents=True)
    (tmp_path / "resources/prepared/mitdb").mkdir(parents=True)
    (tmp_path / "resources/prepared/ucr/TwoLeadECG.npz").write_text("")
    (tmp_path / "resources/prepared/mitdb/segments.npz").write_text("")
    cfg = quick()
    for key, d in run_dirs(cfg).items():
        run = tmp_path / d
        run.mkdir(parents=True)
        for name in (*store.TRAIN_FILES, store.SETTINGS):
            (run / name).write_text("{}")
        store.write_settings(run, store.train_settings(cfg, *key))
    plan = snakemake("-n", "train_all", "--configfile", quick_file, cwd=tmp_path)
    assert job_counts(plan).get("train", 0) == 0, plan
    changed = tmp_path / "changed.yaml"
    changed.write_text("protocols:\n  oh2018: {epochs: 2}\n")
    plan = snakemake("-n", "train_all", "--configfile", quick_file, str(changed),
                     cwd=tmp_path)
    assert job_counts(plan)["train"] == 4
    planned = {m for block in plan.split("rule train:")[1:]
               for m in re.findall(r"(results/runs/\S+)/metrics\.json",
                                   block.split("log:", 1)[0])}
    assert planned == {d for d in run_dirs(quick(oh2018={"epochs": 2})).values()
                       if "/oh2018/" in d}
    assert "output files have to be generated:\n        train" in plan  # the reason
    assert all((tmp_path / d).is_dir() for d in run_dirs(quick()).values())
    said = [line for line in plan.splitlines() if "settings changed since" in line]
    assert len(said) == 4 and all("protocol_settings.epochs: 1 -> 2" in s for s in said)


def _verified(root: Path, name: str, content: str = "1\t0.5\n") -> dict:
    """Raw files of an unpinned UCR dataset and their verified.json, as verify_ucr and
    the checkpoint ucr_verified leave them (stamps newest): its runs can be planned."""
    import time

    from ecgrepro.provenance import sha256_file

    folder = root / "resources/data/ucr" / name
    folder.mkdir(parents=True, exist_ok=True)
    sha = {}
    for split in ("TRAIN", "TEST"):
        path = folder / f"{name}_{split}.tsv"
        path.write_text(content)
        sha[path.name] = sha256_file(path)
    time.sleep(0.05)
    (folder / "verified.json").write_text(json.dumps({"name": name, "sha256": sha}))
    time.sleep(0.05)
    (folder.parent / "unpinned_verified.json").write_text("{}")
    return sha


def test_knn_target_builds_rows_beyond_the_reference(tmp_path):
    args = ("-n", "knn", "--config", 'ucr_datasets=["ECG200","ECGFiveDays"]')
    plan = snakemake(*args, cwd=tmp_path)
    # unpinned data: their runs' paths hold the data's digest, known once verified
    assert job_counts(plan)["verify_ucr"] == 2 and "knn_run" not in job_counts(plan)
    for name in ("ECG200", "ECGFiveDays"):
        _verified(tmp_path, name)
    plan = snakemake(*args, cwd=tmp_path)
    counts = job_counts(plan)
    assert counts["knn_run"] == 10 and counts["knn_table"] == 1
    # counting jobs before any download (ecgrepro.cost): a stand-in identity, dry runs only
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "ECGREPRO_PLAN_UNVERIFIED": "1"}
    base = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "knn", "--config",
            'ucr_datasets=["ECG200","ECG5000"]']
    dry = subprocess.run([*base, "-n"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=600)
    assert job_counts(dry.stdout)["knn_run"] == 10, dry.stdout + dry.stderr
    real = subprocess.run([*base, "--cores", "1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert real.returncode != 0
    assert "ECGREPRO_PLAN_UNVERIFIED is for dry runs" in real.stdout + real.stderr
    table_job = plan.split("rule knn_table:", 1)[1].split("output:", 1)[0]
    assert table_job.count("ECG200/") == 5 and table_job.count("ECGFiveDays/") == 5


def test_train_run_writes_its_settings_into_the_keyed_directory(tmp_path):
    """One tiny real run (torch, 1 epoch): settings.json beside the results, and a
    directory whose digest names other settings is refused before training."""
    import numpy as np

    from ecgrepro.data.ucr import UCRDataset, save_prepared
    from ecgrepro.runs import train_run

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(4, int), np.ones(4, int)]
    ds = UCRDataset("Tiny", rng.normal(size=(8, 16)), y, rng.normal(size=(8, 16)), y,
                    np.array(["1", "2"]))
    npz = tmp_path / "Tiny.npz"
    save_prepared(ds, npz)
    cfg = quick()
    cfg["models"]["tiny"] = {"family": "lstm_fcn", "lstm_units": 2, "shuffle": True}
    cfg["protocols"]["blog2020"] = {"epochs": 1}
    settings = store.train_settings(cfg, "Tiny", "tiny", "torch", "blog2020", "test", 0)
    out = Path(store.run_dir(settings, str(tmp_path / "results")))
    kw = dict(dataset="Tiny", model_name="tiny", model=cfg["models"]["tiny"],
              framework="torch", protocol="blog2020", protocol_overrides={"epochs": 1},
              split="test", seed=0, device="cpu")
    with pytest.raises(EcgreproError, match="digest"):
        train_run(npz, outdir=out.with_name("seed0-0000000000"), settings=settings, **kw)
    train_run(npz, outdir=out, settings=settings, **kw)
    assert store.read_settings(out) == json.loads(json.dumps(settings))
    assert json.loads((out / "settings.json").read_text())["digest"] == out.name[-10:]
    assert all((out / f).is_file() for f in store.TRAIN_FILES)
    git = json.loads((out / "provenance.json").read_text())["git"]
    assert "dirty" in git and (not git["dirty"] or "diff_sha256" in git)


def test_reproduce_check_interval_and_reasons(tmp_path):
    from ecgrepro.reproduce import reproduce_check

    cfg = quick()
    ref, mine = tmp_path / "reference", tmp_path / "results"

    def run(root, seed, acc, preds, torch="2.13.0"):
        s = store.train_settings(cfg, "TwoLeadECG", "lstm_fcn", "torch", "blog2020", "test",
                                 seed)
        d = Path(store.run_dir(s, str(root)))
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({"accuracy": acc}))
        (d / "predictions.csv").write_text(preds)
        (d / "provenance.json").write_text(json.dumps(
            {"packages": {"torch": torch}, "hardware": {"cpu_model": "x"},
             "extra": {"threads": 1}}))
        store.write_settings(d, s)

    run(ref, 0, 0.4, "a\n")
    run(ref, 1, 0.6, "b\n")
    run(mine, 0, 0.5, "c\n")  # same settings, same environment, other predictions
    run(mine, 1, 0.9, "d\n", torch="2.0.0")
    table = reproduce_check(mine, ref, tmp_path / "out").set_index("run")
    first, second = table.iloc[0], table.iloc[1]
    assert first["verdict"] == "within reference interval"
    assert "non-determinism" in first["reason"]
    assert (first["reference_low"], first["reference_high"]) == (0.4, 0.6)
    assert second["verdict"] == "different" and "torch 2.13.0 vs 2.0.0" in second["reason"]


def test_reference_rebuild_refuses_changed_tree_runs_before_touching_outputs(tmp_path):
    cfg = quick()
    s = store.train_settings(cfg, "TwoLeadECG", "lstm_fcn", "torch", "blog2020", "test", 0)
    d = tmp_path / store.run_dir(s, store.REFERENCE)
    d.mkdir(parents=True)
    for name in store.TRAIN_FILES:
        (d / name).write_text("{}")
    (d / "provenance.json").write_text(json.dumps({"git": {"commit": "a" * 40,
                                                           "dirty": True}}))
    strict = tmp_path / "strict.yaml"
    strict.write_text("reference: {require_clean: true}\n")
    args = ["-n", "reference_tables", "--configfile", str(REPO / "config/quick.yaml")]
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), *args, str(strict)]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and "made from a changed tree" in res.stdout + res.stderr
    (tmp_path / "lenient.yaml").write_text("reference: {require_clean: false}\n")
    lenient = snakemake(*args, str(tmp_path / "lenient.yaml"), cwd=tmp_path)  # marks, plans
    assert job_counts(lenient)["reference_aggregate"] == 1
