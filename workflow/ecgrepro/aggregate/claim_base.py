"""What every verdict rule shares: the context it reads, counts, and the gates.

Gates, checked before a rule judges anything (each gives a ``not tested`` verdict whose
reason carries the numbers):

- runs: none configured, none present, or fewer than ``claims.min_runs``;
- convergence: fewer than ``claims.min_converged`` (a fraction) of the claim's training
  runs converged under config ``convergence`` (:mod:`ecgrepro.convergence`) -> verdict
  ``not tested: not converged``. A loss still falling says the training budget was too
  small; judging such runs would blame the method for the budget. Protocols listed in a
  claim's ``convergence_exempt`` (a fixed budget that is itself the published protocol,
  such as the blog's 50 epochs) are judged as trained; their convergence is still
  reported.

``n_runs`` (present), ``n_expected`` (configured) and ``complete`` (``n_runs ==
n_expected``) are always computed from the same rows, so they agree in every row.
"""

from __future__ import annotations

import pandas as pd

from ecgrepro.aggregate.stats import interval_label

__all__ = ["Ctx", "NOT_CONVERGED", "NO_TIMING", "base", "convergence_gate", "f", "missing",
           "partial", "pub", "half_unit", "untested", "convergence_note"]

NOT_CONVERGED = "not tested: not converged"
NO_TIMING = "not tested: no controlled timing"


def f(x, digits=4) -> str:
    """A number for a reason text (``nan`` when missing)."""
    return "nan" if x is None or pd.isna(x) else f"{x:.{digits}f}"


def pub(value, decimals) -> str:
    """A published value as published: with its number of decimals."""
    return f"{float(value):.{int(decimals)}f}"


def half_unit(decimals) -> float:
    return 0.5 * 10.0 ** -int(decimals)


class Ctx:
    """What every rule may read.

    Attributes
    ----------
    seeds : DataFrame
        Seed-level table with convergence columns
        (:func:`ecgrepro.aggregate.tables.add_convergence`).
    history : DataFrame
        Training histories with run identity.
    frameworks : DataFrame
        :func:`ecgrepro.aggregate.frameworks.frameworks_table`.
    timing : DataFrame or None
        The timing step's ``comparisons.csv`` (None: no controlled timing).
    cfg : dict
        Config ``claims``.
    criterion : str
        The convergence criterion in words.
    sota : dict or None
        What rule ``sota`` compares (:mod:`~ecgrepro.aggregate.claim_sota`): ``ours``,
        ``published`` and ``classes``.
    store : CaseStore or None
        The runs' per-case predictions (:mod:`~ecgrepro.aggregate.cases`).
    """

    def __init__(self, seeds, history, frameworks, cfg, timing=None, criterion="",
                 sota=None, store=None):
        self.seeds, self.history, self.frameworks, self.cfg = seeds, history, frameworks, cfg
        self.timing, self.criterion, self.sota, self.store = timing, criterion, sota, store
        self.kw = {k: cfg["interval"][k] for k in ("method", "level", "n_boot", "seed")}
        self.label = interval_label(**self.kw)

    def select(self, item, **override) -> pd.DataFrame:
        sel = {**item, **override}
        s = self.seeds[self.seeds["kind"] == sel.get("kind", "train")]
        for key in ("dataset", "model", "protocol", "checkpoint", "split"):
            if sel.get(key) is not None:
                s = s[s[key] == sel[key]]
        if sel.get("frameworks"):
            s = s[s["framework"].isin(sel["frameworks"])]
        if "checkpoint" not in sel:
            s = s[s["reported"]]
        return s

    def tol(self, decimals, kind="score") -> float:
        return float(self.cfg["tolerance"][kind]) + half_unit(decimals)

    def comparison(self, name: str) -> pd.Series | None:
        """One row of the timing step's comparisons.csv, or None."""
        if self.timing is None or self.timing.empty:
            return None
        hit = self.timing[self.timing["comparison"] == name]
        return hit.iloc[0] if len(hit) else None


def base(item, rows) -> dict:
    """Counts and protocol text of a claim judged on seed-level ``rows``."""
    ok = rows[rows["status"] == "ok"] if len(rows) else rows
    return {"n_runs": len(ok), "n_expected": len(rows),
            "complete": bool(len(rows) and len(ok) == len(rows)),
            # runs that exist but cannot be read (collect -> build.mark_unreadable)
            "unreadable": int((rows["status"] == "unreadable").sum()) if len(rows) else 0,
            "protocol": protocol_text(item)}


def protocol_text(item) -> str:
    rule = item.get("checkpoint")
    parts = [item.get("protocol") or ""]
    if rule:
        on_test = " (selects on the test set)" if rule == "best_test" else ""
        parts.append(f"checkpoint {rule}{on_test}")
    return ", ".join(p for p in parts if p)


def missing(rows) -> str:
    lacking = rows[rows["status"] != "ok"]
    names = [f"{r.model}/{r.framework}/{r.protocol} seed {r.seed}: {r.note}"
             for r in lacking.itertuples()]
    return "; ".join(names[:6]) + (f"; ... ({len(names)} in all)" if len(names) > 6 else "")


def untested(b, rows, ctx, what="") -> dict | None:
    """``not tested`` when the runs are not configured, absent or too few."""
    if b["n_expected"] == 0:
        return {"verdict": "not tested",
                "reason": f"no such runs in the configured experiments{what}"}
    if b["n_runs"] == 0:
        return {"verdict": "not tested",
                "reason": f"none of the {b['n_expected']} expected runs is present "
                          f"(see missing.csv: {missing(rows)})"}
    if b["n_runs"] < ctx.cfg["min_runs"]:
        return {"verdict": "not tested",
                "reason": f"{b['n_runs']} of {b['n_expected']} runs present, fewer "
                          f"than claims.min_runs = {ctx.cfg['min_runs']} (see missing.csv: "
                          f"{missing(rows)})"}
    return None


def partial(b, rows, reason) -> str:
    if b["complete"]:
        return reason
    return f"partial: {b['n_runs']} of {b['n_expected']} runs ({missing(rows)}). " + reason


def _judged(item, ok: pd.DataFrame) -> pd.DataFrame:
    exempt = set(item.get("convergence_exempt") or [])
    t = ok[(ok["kind"] == "train") & ~ok["protocol"].isin(exempt)]
    return t[t["converged"].notna()] if "converged" in t else t.iloc[0:0]


def convergence_note(ok: pd.DataFrame, ctx, label: str = "") -> str:
    """``k of n runs converged (criterion); relative improvement ...`` for a reason."""
    t = ok[(ok["kind"] == "train")]
    if "converged" not in t or not t["converged"].notna().any():
        return ""
    t = t[t["converged"].notna()]
    n_ok = int(t["converged"].astype(bool).sum())
    rel = pd.to_numeric(t["rel_improvement"], errors="coerce").dropna()
    spread = (f"; relative improvement of the best training loss over the criterion's "
              f"window {f(rel.min(), 3)}-{f(rel.max(), 3)} (median {f(rel.median(), 3)})"
              if len(rel) else "")
    return f"{label}{n_ok} of {len(t)} runs converged ({ctx.criterion}){spread}"


def convergence_gate(item, ctx, ok: pd.DataFrame) -> dict | None:
    """``not tested: not converged`` when too few of the judged runs converged."""
    judged = _judged(item, ok)
    if not len(judged):
        return None
    n_ok = int(judged["converged"].astype(bool).sum())
    need = float(ctx.cfg.get("min_converged", 1.0))
    if n_ok >= need * len(judged):
        return None
    groups = []
    for (model, fw, protocol), g in judged.groupby(["model", "framework", "protocol"],
                                                   sort=True):
        rel = pd.to_numeric(g["rel_improvement"], errors="coerce").dropna()
        span = (f(rel.min(), 3) if len(rel) and rel.min() == rel.max()
                else f"{f(rel.min(), 3)}-{f(rel.max(), 3)}")
        folds = ""
        if "n_judged" in g and int(g["n_judged"].fillna(0).sum()) > len(g):
            folds = (f" ({int(g['n_converged'].fillna(0).sum())} of "
                     f"{int(g['n_judged'].fillna(0).sum())} folds)")
        groups.append(f"{model}/{fw}/{protocol}: {int(g['converged'].astype(bool).sum())} "
                      f"of {len(g)} converged{folds}"
                      + (f", relative improvement {span}" if len(rel) else ""))
    return {"verdict": NOT_CONVERGED,
            "reason": (f"{n_ok} of {len(judged)} runs converged, fewer than claims."
                       f"min_converged = {need:g} of them (criterion: {ctx.criterion}; "
                       f"relative improvement = (best loss before - best loss in the "
                       f"window) / best loss before). " + "; ".join(groups)
                       + ". The runs stopped while still learning: a training budget, "
                         "not a finding about the method")}

