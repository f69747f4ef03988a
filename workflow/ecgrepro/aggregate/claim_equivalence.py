"""C10's rule: PyTorch and Keras are interchangeable, shown by equivalence.

Every dataset/model/protocol configured in both frameworks is a *pair*. Per pair, the
accuracies over seeds are compared by two one-sided t-tests with the margin
``claims.equivalence.margin`` (paired by seed and split where both frameworks ran the
same seeds; see :func:`ecgrepro.aggregate.frameworks.frameworks_table`). Verdict:

- ``not tested`` while any configured pair lacks runs (the reason names the pairs and
  how many runs each lacks) or has fewer than two runs a side to decide;
- ``not tested: not converged`` when runs of a pair did not converge (protocols in
  ``convergence_exempt`` excepted);
- ``not reproduced`` when parameter counts differ, or some pair's 90% interval of the
  difference lies wholly outside the margin (shown different);
- ``reproduced`` only when every pair is shown equivalent; otherwise ``not tested``
  (inconclusive: too few seeds or too much spread to decide either way).

A difference test that does not reject is never read as equivalence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgrepro.aggregate.claim_base import NOT_CONVERGED, f
from ecgrepro.aggregate.write import DECIMALS

__all__ = ["rule_frameworks"]

KEY = ["dataset", "model", "protocol"]


def _pairs(seeds: pd.DataFrame) -> pd.DataFrame:
    """Seed rows (reported checkpoint) of every configuration run in both frameworks."""
    s = seeds[(seeds["kind"] == "train") & seeds["reported"]]
    both = s.groupby(KEY)["framework"].transform(lambda x: {"torch", "keras"} <= set(x))
    return s[both.astype(bool)]


def _name(key) -> str:
    return "/".join(str(k) for k in key)


def rule_frameworks(item, ctx) -> dict:
    """Equal parameter counts and accuracies shown equivalent within a margin."""
    margin = float(ctx.cfg["equivalence"]["margin"])
    alpha = float(ctx.cfg["alpha"])
    rows = _pairs(ctx.seeds)
    ok = rows[rows["status"] == "ok"]
    b = {"protocol": "every model and protocol configured in both frameworks",
         "published": f"same parameters; accuracies over seeds equivalent within "
                      f"+/- {margin:g} (TOST, alpha {alpha:g})",
         "published_value": margin, "interval": "", "ci_low": np.nan, "ci_high": np.nan,
         "n_runs": len(ok), "n_expected": len(rows),
         "complete": bool(len(rows) and len(ok) == len(rows)),
         "unreadable": int((rows["status"] == "unreadable").sum()) if len(rows) else 0}
    if rows.empty:
        return {**b, "verdict": "not tested",
                "reason": "no model and protocol is configured in both frameworks"}
    fw = ctx.frameworks if ctx.frameworks is not None else pd.DataFrame()
    lacking = []
    for key, g in rows.groupby(KEY, sort=True):
        n_bad = int((g["status"] != "ok").sum())
        counts = g[g["status"] == "ok"].groupby("framework").size()
        if n_bad or counts.get("torch", 0) < 2 or counts.get("keras", 0) < 2:
            lacking.append(f"{_name(key)} ({int(counts.get('torch', 0))} torch, "
                           f"{int(counts.get('keras', 0))} keras runs of "
                           f"{len(g)} configured)")
    notes = []
    for r in fw.itertuples():
        notes.append(
            f"{r.dataset}/{r.model}/{r.protocol}: torch {f(r.mean_torch)} vs keras "
            f"{f(r.mean_keras)}, difference {f(r.difference)}, 90% interval "
            # rounded as frameworks.csv stores them, so text and table print one bound
            f"[{f(round(r.eq_low, DECIMALS))}, {f(round(r.eq_high, DECIMALS))}] "
            f"({r.equivalence_test}, {r.n_pairs} pairs, "
            f"p = {f(r.eq_p_value, 3)}"
            + (f"; two-level bootstrap over seeds and shared cases [{f(r.boot_low)}, "
               f"{f(r.boot_high)}]" if pd.notna(getattr(r, "boot_low", np.nan)) else "")
            + "): "
            + ("equivalent" if r.equivalent else "shown different" if r.shown_different
               else "undecided"))
    detail = "; ".join(notes)
    equal = int(fw["params_equal"].sum()) if len(fw) else 0
    b["measured"] = (f"parameters equal in {equal} of {len(fw)} pairs; "
                     f"{int(fw['equivalent'].sum()) if len(fw) else 0} of {len(fw)} pairs "
                     f"equivalent within +/- {margin:g}")
    b["measured_value"] = float(fw["equivalent"].sum()) if len(fw) else np.nan
    if lacking:
        return {**b, "verdict": "not tested",
                "reason": "pairs lacking the runs to decide (at least 2 a side, all "
                          "configured present): " + "; ".join(lacking)
                          + (". " + detail if detail else "")}
    exempt = set(item.get("convergence_exempt") or [])
    judged = ok[~ok["protocol"].isin(exempt)]
    unconv = []
    if "converged" in judged:
        for key, g in judged.groupby(KEY, sort=True):
            c = g["converged"].fillna(False).astype(bool)
            if int(c.sum()) < float(ctx.cfg.get("min_converged", 1.0)) * len(g):
                unconv.append(f"{_name(key)}: {int(c.sum())} of {len(g)} converged")
    if unconv:
        return {**b, "verdict": NOT_CONVERGED,
                "reason": f"pairs whose runs did not converge ({ctx.criterion}): "
                          + "; ".join(unconv) + ". " + detail}
    if equal < len(fw):
        return {**b, "verdict": "not reproduced",
                "reason": f"parameter counts differ in {len(fw) - equal} pairs. " + detail}
    if fw["shown_different"].any():
        return {**b, "verdict": "not reproduced",
                "reason": f"a pair's interval lies wholly outside +/- {margin:g}. " + detail}
    if fw["equivalent"].all():
        return {**b, "verdict": "reproduced", "reason": detail}
    return {**b, "verdict": "not tested",
            "reason": f"inconclusive: {int((~fw['equivalent']).sum())} pairs neither shown "
                      f"equivalent nor shown different (more seeds needed). " + detail}
