"""Code identity (ecgrepro.codeid): the files a job loaded, clean and current, the diff
of a dirty run; the rules digest; data content and a model module of one's own in the
settings digest, with the dry run's words for them."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from ecgrepro import codeid, provenance, store
from ecgrepro.models import registry
from test_registry import TOY
from test_store import quick


def git(root, *args) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A checkout with a package ``pkg`` (a.py loaded, b.py not) and a docs file."""
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    git(root, "init", "-q")
    git(root, "config", "user.email", "t@example.org")
    git(root, "config", "user.name", "t")
    (root / "pkg/a.py").write_text("x = 1\n")
    (root / "pkg/b.py").write_text("y = 1\n")
    (root / "notes.md").write_text("notes\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "one")
    return root


def modules(root, *names) -> dict:
    return {f"pkg.{n}": types.SimpleNamespace(__file__=str(root / f"pkg/{n}.py"))
            for n in names}


def record(root, *names):
    return codeid.code_record(modules(root, *names), root, root / "pkg")


def test_blob_id_is_what_git_hash_object_prints(tmp_path):
    f = tmp_path / "f.py"
    f.write_bytes(b"print('\xc3\xa9')\r\n\x00")
    assert codeid.file_blob(f) == git(tmp_path, "hash-object", str(f))


def test_only_loaded_files_make_a_run_clean_dirty_and_its_identity(repo):
    code, git_rec, patch = record(repo, "a")
    assert [f["path"] for f in code["files"]] == ["pkg/a.py"]
    assert git_rec["dirty"] is False and patch == b"" and "diff_sha256" not in git_rec
    # files the job never loaded: neither dirty nor another identity
    (repo / "pkg/b.py").write_text("y = 2\n")
    (repo / "notes.md").write_text("changed\n")
    (repo / "untracked.txt").write_text("new\n")
    code2, git2, _ = record(repo, "a")
    assert git2["dirty"] is False and code2["digest"] == code["digest"]
    # a loaded file changed: dirty, its patch recorded and able to restore the code
    (repo / "pkg/a.py").write_text("x = 2\n")
    code3, git3, patch3 = record(repo, "a")
    assert git3["dirty"] is True and git3["changed_files"] == ["pkg/a.py"]
    assert code3["digest"] != code["digest"]
    assert git3["diff_sha256"] == __import__("hashlib").sha256(patch3).hexdigest()
    # an untracked loaded file: dirty too, its content in the patch
    (repo / "pkg/c.py").write_text("z = 3\n")
    _, git4, patch4 = record(repo, "a", "c")
    assert git4["changed_files"] == ["pkg/a.py", "pkg/c.py"]
    git(repo, "checkout", "--", "pkg/a.py")
    (repo / "pkg/c.py").unlink()
    (repo / "p.diff").write_bytes(patch4)
    git(repo, "apply", "p.diff")
    assert (repo / "pkg/a.py").read_text() == "x = 2\n"
    assert (repo / "pkg/c.py").read_text() == "z = 3\n"


def test_provenance_writes_the_diff_beside_a_dirty_run_and_the_rules(tmp_path, monkeypatch):
    code = {"digest": "d" * 64, "files": [{"path": "pkg/a.py", "blob": "b" * 40}]}
    git_rec = {"commit": "c" * 40, "dirty": True, "changed_files": ["pkg/a.py"],
               "diff_sha256": "e" * 64}
    monkeypatch.setattr(codeid, "code_record", lambda: (code, dict(git_rec), b"PATCH"))
    monkeypatch.setenv(provenance.RULES_ENV, "f" * 64)
    prov = provenance.collect_provenance(outdir=tmp_path)
    assert prov["code"] == code and prov["rules"] == {"digest": "f" * 64}
    assert prov["git"]["diff_file"] == "code.diff.gz"
    assert gzip.decompress((tmp_path / "code.diff.gz").read_bytes()) == b"PATCH"
    monkeypatch.delenv(provenance.RULES_ENV)
    assert "rules" not in provenance.collect_provenance()


def test_the_real_package_records_its_loaded_modules():
    code, git_rec, _ = codeid.code_record()
    paths = [f["path"] for f in code["files"]]
    assert "workflow/ecgrepro/codeid.py" in paths and "workflow/ecgrepro/store.py" in paths
    assert not any(p.startswith("tests/") for p in paths)
    assert git_rec["dirty"] in (True, False)


def _prov(root, names, commit, dirty=False):
    code, _, _ = record(root, *names)
    return {"git": {"commit": commit, "dirty": dirty}, "code": code}


def test_require_clean_accepts_several_commits_when_clean_and_current(repo):
    first = git(repo, "rev-parse", "HEAD")
    p1 = _prov(repo, ["a"], first)
    (repo / "notes.md").write_text("another commit\n")
    git(repo, "commit", "-qam", "two")
    p2 = _prov(repo, ["a"], git(repo, "rev-parse", "HEAD"))
    assert provenance.tree_problems({"r1": p1, "r2": p2}, root=repo) == []
    dirty = {**p1, "git": {"commit": first, "dirty": True, "changed_files": ["pkg/a.py"]}}
    (repo / "pkg/b.py").write_text("y = 3\n")
    p3 = _prov(repo, ["a", "b"], first)  # b.py loaded while changed: never current
    git(repo, "checkout", "--", "pkg/b.py")
    problems = provenance.tree_problems({"r1": p1, "r2": p2, "r3": dirty, "r4": p3},
                                        root=repo)
    assert problems == ["r3: made from changed files (pkg/a.py)",
                        "r4: stale, files changed since: pkg/b.py"]


def test_code_status_says_current_stale_or_not_recorded(repo, tmp_path):
    runs = {}
    for name, files in (("cur", ["a"]), ("old", ["a", "b"])):
        d = tmp_path / name
        d.mkdir()
        (d / "provenance.json").write_text(json.dumps(_prov(repo, files, "x")))
        runs[name] = d
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1/provenance.json").write_text(json.dumps({"git": {"dirty": True}}))
    (repo / "pkg/b.py").write_text("y = 4\n")
    git(repo, "commit", "-qam", "b changed")
    rows = codeid.code_status([runs["cur"], runs["old"], tmp_path / "v1"], root=repo)
    assert [r[1:] for r in rows] == [("current", []), ("stale", ["pkg/b.py"]),
                                     ("not recorded", [])]


def test_code_status_command_runs_on_this_checkout(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    code, _, _ = codeid.code_record()
    (d / "provenance.json").write_text(json.dumps({"code": code}))
    result = subprocess.run([sys.executable, "-m", "ecgrepro.cli", "code-status", str(d)],
                            capture_output=True, text=True)
    status = result.stdout.split()[0]
    assert status in ("current", "stale") and str(d) in result.stdout
    assert result.returncode == (0 if status == "current" else 1)


def test_runs_csv_columns_from_provenance(tmp_path):
    from ecgrepro.aggregate.collect import _provenance

    readme = {"path": "README.md", "blob": codeid.head_blobs(["README.md"])["README.md"]}
    prov = {"git": {"commit": "a" * 40, "dirty": False}, "rules": {"digest": "r" * 64},
            "code": {"digest": "c" * 64, "files": [readme]}}
    (tmp_path / "provenance.json").write_text(json.dumps(prov))
    facts, _ = _provenance(tmp_path / "provenance.json")
    assert facts["code_digest"] == "c" * 64 and facts["rules_digest"] == "r" * 64
    assert facts["code_current"] is True
    prov["code"]["files"] = [{**readme, "blob": "0" * 40}]
    (tmp_path / "provenance.json").write_text(json.dumps(prov))
    assert _provenance(tmp_path / "provenance.json")[0]["code_current"] is False
    (tmp_path / "provenance.json").write_text(json.dumps({"git": {"dirty": True}}))  # v1
    facts, _ = _provenance(tmp_path / "provenance.json")
    assert facts["code_digest"] == "" and facts["rules_digest"] == ""
    assert facts["code_current"] is None


# --- data and model source in the settings digest ------------------------------------


def test_unpinned_data_content_is_part_of_the_run_identity():
    cfg = quick()
    key = ("ECG200", "lstm_fcn", "torch", "blog2020", "test", 0)
    old = store.train_settings(cfg, *key, {"ECG200": {"ECG200_TRAIN.tsv": "1" * 64}})
    new = store.train_settings(cfg, *key, {"ECG200": {"ECG200_TRAIN.tsv": "2" * 64}})
    assert store.digest(old) != store.digest(new)
    knn = [store.knn_dir(cfg, "ECG200", "euclidean", "r", {"ECG200": {"f": s}})
           for s in ("1", "2")]
    assert knn[0] != knn[1]
    said = store.diff_settings(old, new)
    assert said == [f"data changed: ECG200_TRAIN.tsv sha256 {'1' * 12} -> {'2' * 12}"]
    # pinned data keep the package's digest, whatever was verified
    pinned = ("TwoLeadECG", "lstm_fcn", "torch", "blog2020", "test", 0)
    assert store.train_settings(cfg, *pinned) == store.train_settings(
        cfg, *pinned, {"TwoLeadECG": {"x": "0" * 64}})


def test_raw_files_changed(tmp_path):
    (tmp_path / "A_TRAIN.tsv").write_text("1\t2\n")
    sha = provenance.sha256_file(tmp_path / "A_TRAIN.tsv")
    assert not store.raw_files_changed(tmp_path, {"A_TRAIN.tsv": sha})
    assert store.raw_files_changed(tmp_path, {"A_TRAIN.tsv": "0" * 64})
    assert store.raw_files_changed(tmp_path, {"A_TEST.tsv": sha})
    assert store.raw_files_changed(tmp_path, None)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "toymodels.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(plugin))
    registry.resolve.cache_clear()
    yield plugin / "toymodels.py"
    sys.modules.pop("toymodels", None)
    registry.resolve.cache_clear()


def test_a_model_module_of_ones_own_is_part_of_the_run_identity(toy):
    cfg = quick()
    cfg["models"]["toy"] = {"family": "toymodels:ToyArch", "hidden": 3}
    key = ("TwoLeadECG", "toy", "torch", "blog2020", "test", 0)
    before = store.train_settings(cfg, *key)
    assert before["model_source"] == {"module": "toymodels",
                                      "blob": codeid.file_blob(toy)}
    toy.write_text(toy.read_text().replace("ReLU", "Tanh"))
    sys.modules.pop("toymodels")
    registry.resolve.cache_clear()
    after = store.train_settings(cfg, *key)
    assert store.digest(after) != store.digest(before)
    (line,) = store.diff_settings(before, after)
    assert line.startswith("model source changed: blob ")
    # the package's own families: no model_source, so their runs keep their paths
    assert "model_source" not in store.train_settings(cfg, "TwoLeadECG", "lstm_fcn",
                                                      "torch", "blog2020", "test", 0)
    # and the job lists the module among the code it loaded
    assert any(f["path"] == "python:toymodels" for f in codeid.loaded_files())


def test_reference_runs_keep_their_settings_digests():
    """Every committed v1 run's settings.json still hashes to its directory's digest,
    and the reference configuration plans those very paths."""
    import yaml

    from test_store import REPO, config

    cfg = config(yaml.safe_load((REPO / "config/reference.yaml").read_text()))
    dirs = list((REPO / "results/reference").glob("runs/*/*/*/*/*/seed*"))
    dirs += list((REPO / "results/reference").glob("knn/*/*"))
    assert len(dirs) > 80
    for d in dirs:
        run = store.parse_run_dir(d)
        settings = (store.knn_settings(cfg, run.dataset, run.model) if run.kind == "knn"
                    else store.train_settings(cfg, run.dataset, run.model, run.framework,
                                              run.protocol, run.split, run.seed))
        assert store.digest(settings) == run.digest, d


def test_stale_runs_are_reported_not_rerun(repo, tmp_path):
    d = tmp_path / "results/runs/X/m/torch/p/test/seed0-0123456789"
    d.mkdir(parents=True)
    (d / "provenance.json").write_text(json.dumps(_prov(repo, ["a"], "x")))
    assert codeid.stale_runs([d], root=repo) == []
    (repo / "pkg/a.py").write_text("x = 9\n")
    (line,) = codeid.stale_runs([d], root=repo)
    assert line == ("runs/X/m/torch/p/test/seed0-0123456789: code changed since it ran "
                    "(kept, not rerun; delete it to redo): pkg/a.py")
    assert Path(d).is_dir()


def test_training_refuses_a_model_module_edited_after_planning(toy):
    from ecgrepro.errors import EcgreproError
    from ecgrepro.runs import _check_model_source

    cfg = quick()
    model = cfg["models"]["toy"] = {"family": "toymodels:ToyArch", "hidden": 3}
    settings = store.train_settings(cfg, "TwoLeadECG", "toy", "torch", "blog2020", "test", 0)
    _check_model_source(model, settings)  # as planned
    toy.write_text(toy.read_text() + "# edited\n")
    sys.modules.pop("toymodels")
    registry.resolve.cache_clear()
    with pytest.raises(EcgreproError, match="changed after this run was planned"):
        _check_model_source(model, settings)
