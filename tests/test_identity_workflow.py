"""Run identity through the workflow: a replaced dataset of one's own, or an edited model
module of one's own, is followed on the next run by exactly the runs that used it
(training and k-NN), the dry run says why, and the old runs are kept. Deleting a raw
file of unchanged data (README "How the data are verified") reruns nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import snapshot_workflow, tiny_dataset, write_ucr_tsv
from test_registry import TOY

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def job_counts(output: str) -> dict[str, int]:
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def ran(output: str) -> dict[str, int]:
    """Jobs executed, by rule (a checkpoint adds jobs after the first job stats)."""
    out: dict[str, int] = {}
    for m in re.finditer(r"^(?:local)?(?:rule|checkpoint) (\w+):$", output, re.M):
        out[m[1]] = out.get(m[1], 0) + 1
    return out


def write_data(mirror: Path, seed: int) -> None:
    Xtr, ytr, Xte, yte = tiny_dataset(n_train=8, n_test=6, length=16, seed=seed)
    write_ucr_tsv(mirror / "ucr/Tiny/Tiny_TRAIN.tsv", Xtr, ytr)
    write_ucr_tsv(mirror / "ucr/Tiny/Tiny_TEST.tsv", Xte, yte)


@pytest.fixture
def project(tmp_path):
    """A workflow copy, a mirror with Tiny, a model module of one's own, a config."""
    code = snapshot_workflow(tmp_path / "code")
    write_data(tmp_path / "mirror", seed=0)
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "toymodels.py").write_text(TOY)
    work = tmp_path / "work"
    work.mkdir()
    (work / "c.yaml").write_text(textwrap.dedent(f"""\
        ucr_datasets: [Tiny]
        data_mirror: {tmp_path / "mirror"}
        knn: {{variants: [euclidean], ks: [1]}}
        models:
          toy: {{family: "toymodels:ToyArch", hidden: 3}}
        protocols:
          blog2020: {{epochs: 1}}
        experiments:
          - datasets: [Tiny]
            models: [toy]
            frameworks: [torch]
            protocols: [blog2020]
            seeds: 1
        """))

    def run(*args):
        cmd = [str(BIN / "snakemake"), "-s", str(code / "Snakefile"), "--cores", "1",
               "train_all", "knn",
               "--configfile", str(work / "c.yaml"), *args]
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": str(plugin)}
        result = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                                timeout=900)
        text = result.stdout + result.stderr
        assert result.returncode == 0, text[-4000:]
        return text

    return work, plugin, tmp_path / "mirror", run


def runs(work: Path) -> tuple[set, set]:
    train = set((work / "results/runs/Tiny/toy/torch/blog2020/test").glob("seed0-*"))
    knn = set((work / "results/knn/Tiny").glob("euclidean-*"))
    return train, knn


def test_replaced_data_and_edited_model_rerun_exactly_their_runs(project):
    work, plugin, mirror, run = project
    run()
    (train0,), (knn0,) = runs(work)

    # the model module of one's own: its training runs again, no k-NN run
    toy = plugin / "toymodels.py"
    toy.write_text(toy.read_text().replace("torch.nn.ReLU()", "torch.nn.Tanh()"))
    plan = run("-n")
    assert job_counts(plan) == {"train": 1, "train_all": 1}, plan
    assert "model source changed: blob" in plan
    run()
    train, knn = runs(work)
    assert train0 in train and len(train) == 2 and knn == {knn0}  # the old run kept
    (train1,) = train - {train0}

    # the dataset replaced (mirror, local files and their lock lines, as the README
    # says): its training and k-NN runs again
    write_data(mirror, seed=1)
    raw = work / "resources/data/ucr/Tiny"
    for f in raw.glob("Tiny_*.tsv"):
        f.unlink()
    lock = work / "resources/data/sha256.lock"
    lock.write_text("".join(line for line in lock.read_text().splitlines(True)
                            if "ucr/Tiny/" not in line))
    plan = run("-n")
    assert "Tiny: data changed" in plan
    text = run()
    counts = ran(text)
    assert counts["train"] == 1 and counts["knn_run"] == 1, text[-3000:]
    assert "data changed: Tiny_TEST.tsv sha256" in text
    train, knn = runs(work)
    assert {train0, train1} < train and knn0 in knn and len(train) == 3 and len(knn) == 2
    new = json.loads((raw / "verified.json").read_text())["sha256"]
    for d in (train - {train0, train1}) | (knn - {knn0}):
        assert json.loads((d / "settings.json").read_text())["settings"]["data"]["sha256"] \
            == new
        prov = json.loads((d / "provenance.json").read_text())
        files = prov["code"]["files"]
        assert any(f["path"] == "python:toymodels" for f in files) == (d in train)
        assert re.fullmatch(r"[0-9a-f]{64}", prov["rules"]["digest"])  # recorded alike
        assert re.fullmatch(r"[0-9a-f]{64}", prov["code"]["digest"])

    # "delete that file and rerun": the same data are fetched again; nothing reruns
    (raw / "Tiny_TEST.tsv").unlink()
    counts = ran(run())
    assert counts.get("fetch_ucr") == 1 and "train" not in counts and "knn_run" not in counts
