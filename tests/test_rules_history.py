"""Rules fixed in advance, provably: the rules history from git, per claim and in the
paper (ecgrepro.aggregate.rules_history, rules_disclosure, paper_disclosures)."""

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ecgrepro.aggregate.rules_history import (
    claim_changes,
    code_commits,
    history_table,
    key_changes,
    load_history,
    rule_versions,
)
from ecgrepro.errors import EcgreproError
from ecgrepro.rules import rules_digest, rules_of

ITEMS = {"C1": {"rule": "value", "dataset": "d", "model": "m", "max_gap": 0.01},
         "C2": {"rule": "value", "dataset": "d", "model": "other"}}


def _git(repo, *args, when="2026-01-01T00:00:00+00:00"):
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when,
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, env=env,
                          capture_output=True, text=True).stdout.strip()


def _commit(repo, config, when, message="c"):
    (repo / "config").mkdir(exist_ok=True)
    (repo / "config/config.yaml").write_text(yaml.safe_dump(config))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", message, when=when)
    return _git(repo, "rev-parse", "HEAD")


def _config(gap=0.01, other="x"):
    items = json.loads(json.dumps(ITEMS))
    items["C1"]["max_gap"] = gap
    return {"claims": {"alpha": 0.05, "items": items},
            "convergence": {"window": 10}, "other": other}


@pytest.fixture
def repo(tmp_path):
    """Rules committed on day 1, a non-rules edit on day 2, C1's threshold raised on
    day 3; runs between."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    first = _commit(repo, _config(), "2026-01-01T00:00:00+00:00")
    _commit(repo, _config(other="y"), "2026-01-02T00:00:00+00:00")  # no rules change
    second = _commit(repo, _config(gap=0.02, other="y"), "2026-01-03T00:00:00+00:00")
    return repo, first, second


def _runs(*days, digest=""):
    return pd.DataFrame({
        "run": [f"r{i}" for i in range(len(days))], "kind": "train", "dataset": "d",
        "model": "m", "protocol": "p",
        "time": [pd.Timestamp(f"2026-01-{d:02d}T12:00:00+00:00") for d in days],
        "rules_digest": digest})


def test_history_lists_rule_changes_only_with_keys_and_runs(repo):
    repo, first, second = repo
    versions = load_history(repo, ["config/config.yaml"])
    assert [v.commit for v in versions] == [first, second]  # the day-2 edit is no change
    assert versions[1].changes == ("claims.items.C1.max_gap: 0.01 -> 0.02",)
    assert versions[0].changes == ("claims: added", "convergence: added")
    table = history_table(versions, _runs(1, 2, 4))
    assert table["commit"].tolist() == [first[:10], second[:10]]
    assert table[["train_runs_before", "train_runs_after"]].values.tolist() == [[0, 3],
                                                                               [2, 1]]
    assert table["date"].tolist() == ["2026-01-01 00:00", "2026-01-03 00:00"]


def test_a_claim_whose_rule_changed_after_its_runs_names_the_commit(repo):
    repo, _, second = repo
    versions = load_history(repo, ["config/config.yaml"])
    current = versions[-1].rules
    # runs on days 1-2 ran under gap 0.01; C1 is judged now with 0.02
    assert claim_changes(versions, _runs(1, 2), current, "C1") == f"{second[:10]} 2026-01-03"
    # C2's own rules never changed after its runs
    assert claim_changes(versions, _runs(1, 2), current, "C2") == ""
    # runs after the change: fixed in advance
    assert claim_changes(versions, _runs(4), current, "C1") == ""
    # a recorded digest wins over the time: a run that recorded the new rules
    recorded = _runs(2, digest=rules_digest(current))
    assert claim_changes(versions, recorded, current, "C1") == ""


def test_rules_applied_but_never_committed_are_said(repo):
    repo, _, _ = repo
    versions = load_history(repo, ["config/config.yaml"])
    current = rules_of(_config(gap=0.5))
    assert claim_changes(versions, _runs(4), current, "C1") == "rules not in the git history"


def test_uncommitted_rules_refuse_the_build(repo):
    repo, _, _ = repo
    (repo / "config/config.yaml").write_text(yaml.safe_dump(_config(gap=0.02, other="z")))
    assert len(load_history(repo, ["config/config.yaml"])) == 2  # not a rules edit
    (repo / "config/config.yaml").write_text(yaml.safe_dump(_config(gap=0.3)))
    with pytest.raises(EcgreproError, match="commit the rules first"):
        load_history(repo, ["config/config.yaml"])


def test_an_overlay_config_and_a_merge_that_combines_both_sides(repo):
    repo, first, second = repo
    _git(repo, "checkout", "-qb", "side", first)
    (repo / "config/reference.yaml").write_text(yaml.safe_dump(
        {"convergence": {"window": 5}}))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "overlay", when="2026-01-04T00:00:00+00:00")
    overlay = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "master" if _has(repo, "master") else "main")
    _git(repo, "merge", "-q", "--no-edit", "side", when="2026-01-05T00:00:00+00:00")
    files = ["config/config.yaml", "config/reference.yaml"]
    merge = _git(repo, "rev-parse", "HEAD")
    versions = rule_versions(repo, files)
    # the overlay changed the side branch; the merge, differing from both parents,
    # changed the main line (against its first parent)
    assert [v.commit for v in versions] == [first, second, overlay, merge]
    assert versions[2].changes == versions[3].changes == ("convergence.window: 10 -> 5",)
    assert rule_versions(repo, ["config/config.yaml"])[-1].commit == second


def _has(repo, branch):
    return bool(_git(repo, "branch", "--list", branch))


def test_verdict_code_commits_name_their_files(repo):
    repo, _, _ = repo
    (repo / "claims.py").write_text("x = 1\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "code", when="2026-01-06T00:00:00+00:00")
    code = code_commits(repo, ["claims.py"])
    assert [v.changes for v in code] == [("claims.py",)]
    table = history_table([], _runs(1), code)
    assert table[["what", "changes", "train_runs_before"]].values.tolist() == [
        ["verdict code", "claims.py", 1]]


def test_no_git_history_is_none(tmp_path):
    assert load_history(tmp_path, ["config/config.yaml"]) is None


def test_key_changes_report_the_highest_changed_key():
    assert key_changes({}, {"a": {"b": 1}}) == ["a: added"]
    assert key_changes({"a": {"b": 1, "c": [1]}}, {"a": {"b": 1, "c": [2]}}) == [
        "a.c: [1] -> [2]"]
    assert key_changes({"a": {"b": 1}}, {"a": {}}) == ["a: removed"]
