"""Did my run reproduce the reference? A user's results beside the reference, run by run.

Runs pair by their coordinates (dataset, model, framework, protocol, split, seed; k-NN:
dataset and variant), whatever their settings digest, and each pair gets a verdict:

``identical``
    The deterministic parts agree byte for byte: the data digests, and the predictions
    (k-NN always; a training run when the same seed ran on the same hardware, package
    versions and threads, or by luck).
``within reference interval``
    Same settings, predictions differ, and the accuracy lies within the range of the
    reference's seeds of that configuration (min to max over seeds).
``different``
    With the reasons that can be told: settings (which), data, package versions,
    hardware, threads, device; or none of these (non-determinism).
``not in reference``
    The reference has no run at these coordinates.

Data summaries (sha256 of every data file) and claims (verdict and measured value)
are compared the same way; a claim this configuration did not put to the test (no
runs, or no timing step) is ``not run in this configuration``, never ``different``.
Given the runs and data summaries of a configuration (``runs``, ``data``; the workflow
passes them), only those are compared, not whatever else lies under ``results``. A
k-NN run's value is its accuracy at one named k (column ``k``: the smallest k both runs
have, k = 1 by default), not the best over k, which would be chosen on the test set;
a difference names every k where the accuracies differ.
Output: ``reproduce.csv`` and ``reproduce.md`` in ``out``. Files only: nothing here
imports a framework.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ecgrepro.aggregate.claim_base import NO_TIMING
from ecgrepro.io import write_text
from ecgrepro.store import SETTINGS, diff_settings, parse_run_dir, read_settings

__all__ = ["reproduce_check"]

VERSIONED = ("numpy", "torch", "tensorflow", "keras", "aeon", "sktime", "numba", "scipy")
COLUMNS = ["kind", "run", "reference_run", "verdict", "reason", "value",
           "reference_value", "k", "reference_low", "reference_high"]
#: A claim's verdict when this configuration has none of its runs or no timing step.
NOT_RUN = "not run in this configuration"


def _runs(root: Path, only=None) -> list:
    """Runs under ``root`` with a metrics.json; only the directories ``only`` if given."""
    if only is not None:
        dirs = [Path(d) for d in only if (Path(d) / "metrics.json").is_file()]
    else:
        dirs = [m.parent for sub in ("runs", "knn") if (root / sub).is_dir()
                for m in sorted((root / sub).rglob("metrics.json"))]
    found = []
    for d in dirs:
        try:
            found.append(parse_run_dir(d))
        except ValueError:
            continue
    return found


def _key(run) -> tuple:
    return (run.kind, run.dataset, run.model, run.framework, run.protocol, run.split,
            run.seed)


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _data_digests(prov: dict) -> dict:
    return {Path(f["path"]).name: f.get("sha256") for f in prov.get("data_files") or []
            if not str(f["path"]).endswith(".json")}


def _environment(prov: dict) -> dict:
    packages = prov.get("packages") or {}
    extra = prov.get("extra") or {}
    return {
        "versions": {k: packages.get(k) for k in VERSIONED},
        "python": prov.get("python"),
        "hardware": (prov.get("hardware") or {}).get("cpu_model"),
        "threads": {"threads": extra.get("threads"), **(prov.get("thread_env") or {})},
        "device": (extra.get("determinism") or {}).get("device")
        if isinstance(extra.get("determinism"), dict) else None,
    }


def _same_bytes(a: Path, b: Path) -> bool:
    return a.is_file() and b.is_file() and a.read_bytes() == b.read_bytes()


def _knn_accuracies(run) -> dict[int, float]:
    """Accuracy per k of a k-NN run (metrics.json ``accuracy``: {k: value})."""
    per_k = _json(run.path / "metrics.json").get("accuracy")
    return {int(k): v for k, v in per_k.items()} if isinstance(per_k, dict) else {}


def _accuracy(run, k: int | None = None) -> float | None:
    """A training run's accuracy; a k-NN run's at ``k`` (default: its smallest k)."""
    if run.kind == "knn":
        per_k = _knn_accuracies(run)
        if k is None and per_k:
            k = min(per_k)
        return per_k.get(k)
    return _json(run.path / "metrics.json").get("accuracy")


def _knn_k(run, ref) -> int | None:
    """The k a k-NN pair is shown at: the smallest k both have."""
    shared = set(_knn_accuracies(run)) & set(_knn_accuracies(ref))
    return min(shared) if shared else None


def _knn_differences(run, ref) -> str:
    """``accuracy differs at k = 3 (0.80 vs 0.81), ...``, or an empty string."""
    mine, theirs = _knn_accuracies(run), _knn_accuracies(ref)
    diff = [f"{k} ({theirs[k]:.4f} -> {mine[k]:.4f})" for k in sorted(set(mine) & set(theirs))
            if mine[k] != theirs[k]]
    return f"accuracy (reference -> yours) differs at k = {', '.join(diff)}" if diff else ""


def _seed_range(ref_runs, run, settings) -> tuple:
    """Min and max accuracy over the reference seeds of this configuration."""
    values = []
    shared = {k: v for k, v in (settings or {}).items() if k != "seed"}
    for other in ref_runs:
        if _key(other)[:-1] != _key(run)[:-1]:
            continue
        s = read_settings(other.path)
        if s is not None and {k: v for k, v in s.items() if k != "seed"} != shared:
            continue
        acc = _accuracy(other)
        if acc is not None:
            values.append(acc)
    return (min(values), max(values)) if values else (None, None)


def _compare(run, ref, ref_runs) -> dict:
    k = _knn_k(run, ref) if run.kind == "knn" else None
    row = {"kind": run.kind, "run": run.name, "reference_run": ref.name,
           "value": _accuracy(run, k), "reference_value": _accuracy(ref, k), "k": k}
    mine, theirs = read_settings(run.path), read_settings(ref.path)
    if mine is not None and theirs is not None and mine != theirs:
        keys = diff_settings(theirs, mine)
        return {**row, "verdict": "different",
                "reason": "settings (reference -> yours): " + "; ".join(keys[:4])
                + (f"; +{len(keys) - 4} more" if len(keys) > 4 else "")}
    prov, ref_prov = _json(run.path / "provenance.json"), _json(ref.path / "provenance.json")
    data, ref_data = _data_digests(prov), _data_digests(ref_prov)
    if data and ref_data and data != ref_data:
        return {**row, "verdict": "different",
                "reason": "data: prepared files differ in sha256"}
    unknown = "" if mine is not None and theirs is not None else \
        f" (no {SETTINGS} on one side: settings not compared)"
    if _same_bytes(run.path / "predictions.csv", ref.path / "predictions.csv"):
        return {**row, "verdict": "identical",
                "reason": "predictions byte for byte; same data digests" + unknown}
    env, ref_env = _environment(prov), _environment(ref_prov)
    reasons = [name if name != "versions" else "package versions: " + ", ".join(
        f"{k} {ref_env['versions'][k]} vs {env['versions'][k]}"
        for k in VERSIONED if env["versions"][k] != ref_env["versions"][k])
        for name in env if env[name] != ref_env[name]]
    if run.kind == "knn":
        why = "; ".join(r for r in (_knn_differences(run, ref), *reasons) if r)
        return {**row, "verdict": "different",
                "reason": f"k-NN predictions differ (deterministic): "
                f"{why or 'nothing recorded differs'}" + unknown}
    low, high = _seed_range(ref_runs, ref, theirs)
    row.update(reference_low=low, reference_high=high)
    why = ("; ".join(reasons) if reasons else
           "same seed, hardware, versions and threads: non-determinism") + unknown
    acc = row["value"]
    if acc is not None and low is not None and low <= acc <= high:
        return {**row, "verdict": "within reference interval",
                "reason": f"accuracy within the reference seeds' range; predictions "
                f"differ: {why}"}
    return {**row, "verdict": "different",
            "reason": f"accuracy outside the reference seeds' range; {why}"}


def _data_rows(results: Path, reference: Path, only=None) -> list[dict]:
    rows = []
    if only is not None:
        summaries = [Path(f) for f in only if Path(f).is_file()]
    elif (results / "data").is_dir():
        summaries = sorted((results / "data").rglob("summary.json"))
    else:
        summaries = []
    for summary in summaries:
        rel = summary.resolve().relative_to(results.resolve())
        ref = reference / rel
        if not ref.is_file():
            rows.append({"kind": "data", "run": str(rel), "verdict": "not in reference",
                         "reason": "the reference has no such dataset"})
            continue
        a = _json(summary).get("sha256") or {}
        b = _json(ref).get("sha256") or {}
        same = a == b and bool(a)
        rows.append({"kind": "data", "run": str(rel), "reference_run": str(rel),
                     "verdict": "identical" if same else "different",
                     "reason": "sha256 of every data file" + ("" if same else
                                                             f": {diff_settings(b, a)[:3]}")})
    return rows


def _claim_rows(results: Path, reference: Path) -> list[dict]:
    mine, ref = results / "tables/claims.csv", reference / "tables/claims.csv"
    if not (mine.is_file() and ref.is_file()):
        return []
    a = pd.read_csv(mine, dtype=str).set_index("claim_id")
    b = pd.read_csv(ref, dtype=str).set_index("claim_id")
    rows = []
    for claim in a.index:
        va, ma = a.loc[claim, "verdict"], a.loc[claim].get("measured")
        why_not = _not_run(a.loc[claim])
        if why_not:
            rows.append({"kind": "claim", "run": claim, "verdict": NOT_RUN,
                         "reason": why_not + (f"; reference: {b.loc[claim, 'verdict']!r}"
                                              if claim in b.index else ""),
                         "reference_value": b.loc[claim].get("measured")
                         if claim in b.index else None})
            continue
        if claim not in b.index:
            rows.append({"kind": "claim", "run": claim, "verdict": "not in reference",
                         "reason": "", "value": ma})
            continue
        vb, mb = b.loc[claim, "verdict"], b.loc[claim].get("measured")
        if va == vb and ma == mb:
            verdict, reason = "identical", f"verdict {va!r}, measured value equal"
        elif va == vb:
            verdict, reason = "same verdict", f"verdict {va!r}; measured {ma} vs {mb}"
        else:
            verdict, reason = "different", f"verdict {va!r} vs reference {vb!r}"
        rows.append({"kind": "claim", "run": claim, "reference_run": claim,
                     "verdict": verdict, "reason": reason, "value": ma,
                     "reference_value": mb})
    return rows


def _not_run(row) -> str:
    """Why a claim of ``claims.csv`` was not put to the test here, or an empty string.

    ``not tested`` with none of its runs configured or present (``n_runs`` 0), or for
    want of the timing step, is not a result that could differ from the reference.
    """
    verdict = str(row.get("verdict"))
    if not verdict.startswith("not tested"):
        return ""
    if verdict == NO_TIMING:
        return "no timing step in this configuration (timing.enabled)"
    try:
        runs = int(float(row.get("n_runs")))
    except (TypeError, ValueError):
        runs = 0
    return f"your verdict: {verdict}: {row.get('reason')}" if runs == 0 else ""


def reproduce_check(results, reference, out, runs=None, data=None) -> pd.DataFrame:
    """Compare ``results`` with ``reference`` and write the CSV and Markdown report.

    Parameters
    ----------
    results, reference : str or Path
        Roots with ``runs/``, ``knn/``, ``data/`` and ``tables/`` (e.g. ``results``
        and ``results/reference``).
    out : str or Path
        Folder for ``reproduce.csv`` and ``reproduce.md``.
    runs, data : list of str or Path, optional
        The run directories and data summaries (``summary.json``) of one configuration
        under ``results``: only these are compared (those that exist). None: every run
        and summary found under ``results``.
    """
    results, reference, out = Path(results), Path(reference), Path(out)
    ref_runs = _runs(reference)
    by_key: dict = {}
    for r in ref_runs:
        by_key.setdefault(_key(r), []).append(r)
    rows = []
    ref_root = reference.resolve()
    for run in _runs(results, runs):
        if ref_root == run.path.resolve() or ref_root in run.path.resolve().parents:
            continue  # the reference tree inside the results root
        candidates = by_key.get(_key(run), [])
        if not candidates:
            rows.append({"kind": run.kind, "run": run.name, "verdict": "not in reference",
                         "reason": "the reference has no run at these coordinates",
                         "value": _accuracy(run),
                         "k": min(_knn_accuracies(run), default=None)
                         if run.kind == "knn" else None})
            continue
        # the reference run of the same settings when there is one
        same = [c for c in candidates if c.digest and c.digest == run.digest]
        rows.append(_compare(run, (same or candidates)[0], ref_runs))
    rows += _data_rows(results, reference, data) + _claim_rows(results, reference)
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["k"] = table["k"].astype("Int64")
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "reproduce.csv", table.to_csv(index=False))
    scope = ("the runs and data of the configuration given" if runs is not None
             else f"every run and data summary under `{results}` (no configuration given)")
    write_text(out / "reproduce.md", _markdown(table, results, reference, scope))
    return table


def _markdown(table: pd.DataFrame, results: Path, reference: Path, scope: str) -> str:
    counts = table.groupby(["kind", "verdict"]).size().rename("n").reset_index()
    lines = [f"# Reproduction check: `{results}` against `{reference}`", "",
             f"Compared: {scope}. Verdicts: identical (byte for byte), within reference "
             "interval (accuracy within the reference seeds' range), different (with the "
             "reason), not in reference; claims: not run in this configuration (no runs "
             "or no timing step here). k-NN values are accuracies at the k named in "
             "column k of reproduce.csv.", "", "| kind | verdict | n |",
             "| --- | --- | ---: |"]
    lines += [f"| {r.kind} | {r.verdict} | {r.n} |" for r in counts.itertuples()]
    lines += ["", "| kind | run | verdict | reason |", "| --- | --- | --- | --- |"]
    for r in table.itertuples():
        reason = str(r.reason).replace("|", "\\|")
        lines.append(f"| {r.kind} | {r.run} | {r.verdict} | {reason} |")
    return "\n".join(lines) + "\n"
