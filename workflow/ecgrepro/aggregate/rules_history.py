"""When the verdict rules changed, from git, and which runs each change came after.

A claim "judged by a rule fixed in advance" must be checkable: this module walks the
commits that touched the configuration files (``config/config.yaml`` and any
``--configfile`` merged over it), loads each version, takes the rules as the aggregate
applies them (:func:`ecgrepro.rules.rules_of`: ``claims:`` and ``convergence:``) and
keeps every commit whose rules digest differs from its parents' (a merge that adopts
one side changes nothing). Each run's rules are the digest it recorded
(``provenance.json`` ``rules.digest``) or, for runs made before that was recorded, the
version in force at the run's timestamp.

Only committed files are read, so the tables are the same on any clone at the same
commit; :func:`load_history` refuses working-tree rules that differ from the last
commit ("commit the rules first": a rules change and a rebuilt paper land in two
commits).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from ecgrepro.errors import EcgreproError
from ecgrepro.rules import rules_digest, rules_of
from ecgrepro.config import merge

__all__ = ["Version", "load_history", "rule_versions", "key_changes", "history_table",
           "claim_changes", "run_times", "code_commits", "claim_runs", "VERDICT_CODE", "HASH",
           "HISTORY_COLUMNS", "claim_view"]

#: Length of the commit and digest prefixes in the tables (fixed: stable output).
HASH = 10
_MAX_SHOWN = 6  # changed keys listed per commit; the rest counted
HISTORY_COLUMNS = ["what", "commit", "date", "digest", "train_runs_before", "train_runs_after",
                   "knn_runs_before", "knn_runs_after", "changes"]
#: The code that turns runs into verdicts (pathspecs from the repository root).
VERDICT_CODE = ("workflow/ecgrepro/aggregate/claim*.py", "workflow/ecgrepro/convergence.py",
                "workflow/ecgrepro/aggregate/stats.py")


@dataclass(frozen=True)
class Version:
    """One committed change of the rules.

    Attributes
    ----------
    commit : str
        Full commit id.
    time : pandas.Timestamp
        Committer time (UTC).
    rules : dict
        :func:`~ecgrepro.rules.rules_of` of the merged configuration at that commit.
    digest : str
        :func:`~ecgrepro.rules.rules_digest` of it.
    changes : tuple of str
        ``key: old -> new`` against the first parent's rules.
    """

    commit: str
    time: pd.Timestamp
    rules: dict
    digest: str
    changes: tuple


def _git(repo: Path, *args: str) -> str:
    res = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if res.returncode:
        raise EcgreproError(f"git {' '.join(args)} in {repo}: {res.stderr.strip()}")
    return res.stdout


def _rules_at(repo: Path, commit: str, files, cache: dict) -> dict:
    """The rules of ``files`` merged in order as they stood at ``commit`` (absent: {})."""
    if commit not in cache:
        config: dict = {}
        for name in files:
            res = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{name}"],
                                 capture_output=True, text=True)
            if res.returncode == 0:  # a file not yet committed there adds nothing
                config = merge(config, yaml.safe_load(res.stdout) or {})
        cache[commit] = rules_of(config)
    return cache[commit]


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def key_changes(old, new, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every difference, at the highest level it starts at.

    A section that appears or disappears as a whole is one entry (``added``/
    ``removed``), not one per key inside it.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or old[key] in ({}, None):
                if new[key] not in ({}, None):
                    out.append(f"{name}: added")
            elif key not in new or new[key] in ({}, None):
                out.append(f"{name}: removed")
            else:
                out += key_changes(old[key], new[key], name)
        return out
    return [] if old == new else [f"{prefix}: {_short(old)} -> {_short(new)}"]


def rule_versions(repo, files) -> list[Version]:
    """Every commit (in HEAD's history) that changed the rules, oldest first.

    Parameters
    ----------
    repo : str or Path
        A git working tree.
    files : list of str
        Config files relative to ``repo``, merged in order.
    """
    repo, cache = Path(repo), {}
    log = _git(repo, "log", "--full-history", "--topo-order", "--reverse",
               "--format=%H %P|%cI", "HEAD", "--", *files)
    versions = []
    for line in log.splitlines():
        ids, when = line.split("|")
        commit, *parents = ids.split()
        rules = _rules_at(repo, commit, files, cache)
        before = [_rules_at(repo, p, files, cache) for p in parents] or [rules_of({})]
        digest = rules_digest(rules)
        if all(rules_digest(b) != digest for b in before):
            versions.append(Version(commit, pd.Timestamp(when).tz_convert("UTC"), rules,
                                    digest, tuple(key_changes(before[0], rules))))
    return sorted(versions, key=lambda v: v.time)  # stable: topological order on ties


def load_history(repo, files) -> list[Version] | None:
    """:func:`rule_versions`, after checking the working tree's rules are committed.

    Returns None where ``repo`` is no git working tree (history unknown).

    Raises
    ------
    EcgreproError
        When the rules in the working tree's ``files`` differ from the last commit's.
    """
    repo = Path(repo)
    try:
        _git(repo, "rev-parse", "--verify", "HEAD")
    except (EcgreproError, OSError):
        return None
    tree: dict = {}
    for name in files:
        path = repo / name
        if path.is_file():
            tree = merge(tree, yaml.safe_load(path.read_text()) or {})
    if rules_digest(rules_of(tree)) != rules_digest(_rules_at(repo, "HEAD", files, {})):
        raise EcgreproError(
            f"the claims:/convergence: rules in {', '.join(files)} differ from the last "
            "commit: commit the rules first, then rebuild (the tables and the paper date "
            "every rules change by its commit)."
        )
    return rule_versions(repo, files)


def run_times(run_dirs) -> pd.DataFrame:
    """Per run: ``run``, ``kind``, ``time`` (UTC) and the ``rules_digest`` it recorded
    (empty before runs recorded one), from each run's ``provenance.json``."""
    rows = []
    for run in run_dirs:
        try:
            prov = json.loads((Path(run.path) / "provenance.json").read_text())
        except (OSError, ValueError):
            continue  # unreadable runs are reported by the aggregate already
        if not prov.get("timestamp_utc"):
            continue  # no time, no place in the history
        rows.append({"run": run.name, "kind": run.kind, "dataset": run.dataset,
                     "model": run.model, "protocol": run.protocol,
                     "time": pd.Timestamp(prov["timestamp_utc"]).tz_convert("UTC"),
                     "rules_digest": (prov.get("rules") or {}).get("digest") or ""})
    return pd.DataFrame(rows, columns=["run", "kind", "dataset", "model", "protocol", "time",
                                       "rules_digest"])


def _in_force(versions, when) -> Version | None:
    """The latest version committed at or before ``when`` (None: no rules yet)."""
    return next((v for v in reversed(versions) if v.time <= when), None)


def _run_rules(versions, run) -> dict:
    """The rules a run ran under: its recorded digest's version, else by its time."""
    if run["rules_digest"]:
        match = [v for v in versions if v.digest == run["rules_digest"]]
        if match:
            return match[-1].rules
    found = _in_force(versions, run["time"])
    return found.rules if found else rules_of({})


def history_table(versions, runs: pd.DataFrame, code=()) -> pd.DataFrame:
    """``rules_history.csv``: one row per change of the rules (``what`` = ``rules``) or
    of the verdict code (``verdict code``), oldest first, with the runs before and after
    it (a run counts as after a commit when its timestamp is later).
    """
    rows = []
    tagged = [("rules", v) for v in versions] + [("verdict code", v) for v in code]
    for what, v in sorted(tagged, key=lambda t: t[1].time):
        row = {"what": what, "commit": v.commit[:HASH],
               "date": v.time.strftime("%Y-%m-%d %H:%M"), "digest": v.digest[:HASH]}
        for kind in ("train", "knn"):
            times = runs.loc[runs["kind"] == kind, "time"]
            row[f"{kind}_runs_before"] = int((times < v.time).sum())
            row[f"{kind}_runs_after"] = int((times >= v.time).sum())
        shown = list(v.changes[:_MAX_SHOWN])
        if len(v.changes) > _MAX_SHOWN:
            shown.append(f"and {len(v.changes) - _MAX_SHOWN} more")
        row["changes"] = ("; " if what == "rules" else ", ").join(shown)
        rows.append(row)
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def claim_runs(runs: pd.DataFrame, item: dict) -> pd.DataFrame:
    """The runs a claim's verdict reads, by the keys its config item names: k-NN runs
    for k-NN claims (``variant`` or ``k``), else training runs of its dataset, models
    (``model``, ``fast``/``slow``, ``simple``/``reference``) and protocol."""
    knn = "variant" in item or "k" in item
    sel = runs[runs["kind"] == ("knn" if knn else "train")]
    if item.get("dataset"):
        sel = sel[sel["dataset"] == item["dataset"]]
    models = {item[k] for k in ("model", "fast", "slow", "simple", "reference") if item.get(k)}
    if models and not knn:
        sel = sel[sel["model"].isin(models)]
    if item.get("protocol") and not knn:
        sel = sel[sel["protocol"] == item["protocol"]]
    return sel


def claim_view(rules: dict, claim_id: str) -> str:
    """The part of the rules one claim's verdict reads (the shared ``claims`` settings,
    its own item, ``convergence``) as canonical JSON: YAML's ``1:`` and JSON's ``"1":``
    keys compare equal, as :func:`~ecgrepro.rules.rules_digest` sees them."""
    claims = dict(rules.get("claims") or {})
    items = claims.pop("items", None) or {}
    view = {"claims": claims, "item": items.get(claim_id),
            "convergence": rules.get("convergence") or {}}
    return json.dumps(view, sort_keys=True, default=str)


def claim_changes(versions, runs: pd.DataFrame, current: dict, claim_id: str) -> str:
    """The commits that changed a claim's rules after some of its runs had run.

    Empty when every run ran under the rules that judge it now. Otherwise the commits,
    ``<commit> <date>`` joined by ``"; "``, of each change to this claim's part of the
    rules (:func:`claim_view`) later than the earliest run that ran under other rules;
    ``rules not in the git history`` when the rules applied now were never committed.

    Parameters
    ----------
    versions : list of Version
    runs : DataFrame
        :func:`run_times` of the claim's runs.
    current : dict
        The rules the aggregate applies now (:func:`~ecgrepro.rules.rules_of`).
    claim_id : str
    """
    now = claim_view(current, claim_id)
    differ = [r for _, r in runs.iterrows()
              if claim_view(_run_rules(versions, r), claim_id) != now]
    if not differ:
        return ""
    first = min(r["time"] for r in differ)
    out, prev = [], rules_of({})
    for v in versions:
        if v.time > first and claim_view(v.rules, claim_id) != claim_view(prev, claim_id):
            out.append(f"{v.commit[:HASH]} {v.time.strftime('%Y-%m-%d')}")
        prev = v.rules
    if not versions or claim_view(versions[-1].rules, claim_id) != now:
        out.append("rules not in the git history")
    return "; ".join(out)


def code_commits(repo, pathspecs) -> list[Version]:
    """Commits that changed the verdict code (``pathspecs``), oldest first; ``changes``
    are the file names. A rule written in code (C8's one-sided accuracy test) changes
    verdicts as a threshold in config does."""
    # merges are left out: what they bring in is listed at the commits that made it
    log = _git(Path(repo), "log", "--full-history", "--no-merges", "--topo-order",
               "--reverse", "--name-only", "--format=>%H|%cI", "HEAD", "--", *pathspecs)
    out = []
    for block in log.split(">")[1:]:
        head, *names = [line for line in block.splitlines() if line.strip()]
        commit, when = head.split("|")
        files = tuple(sorted({Path(n).name for n in names}))
        out.append(Version(commit, pd.Timestamp(when).tz_convert("UTC"), {}, "", files))
    return sorted(out, key=lambda v: v.time)
