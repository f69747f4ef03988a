"""The rules history as the aggregate's tables: ``rules_history.csv`` and claims.csv's
``rules_changed_after_runs`` (:mod:`~ecgrepro.aggregate.rules_history` reads git)."""

from __future__ import annotations

import pandas as pd

from ecgrepro.aggregate.rules_history import (
    HISTORY_COLUMNS,
    claim_changes,
    claim_runs,
    history_table,
    run_times,
)
from ecgrepro.rules import rules_of

__all__ = ["rules_tables", "NO_HISTORY"]

NO_HISTORY = "unknown: no git history"


def rules_tables(history, runs, claims: pd.DataFrame, claims_cfg: dict,
                 convergence_cfg: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(rules_history, claims with rules_changed_after_runs)``.

    Parameters
    ----------
    history : tuple or None
        ``(rule versions, verdict-code commits)``; None where git is not available.
    runs : list of RunId
        The runs the tables hold.
    claims : DataFrame
        :func:`~ecgrepro.aggregate.claims.evaluate_claims`.
    claims_cfg, convergence_cfg : dict
        The rules the aggregate applies.
    """
    claims = claims.copy()
    if history is None:
        claims["rules_changed_after_runs"] = NO_HISTORY
        return pd.DataFrame(columns=HISTORY_COLUMNS), claims
    versions, code = history
    times = run_times(runs)
    current = rules_of({"claims": claims_cfg, "convergence": convergence_cfg})
    items = claims_cfg.get("items") or {}
    claims["rules_changed_after_runs"] = [
        claim_changes(versions, claim_runs(times, items.get(c) or {}), current, c)
        for c in claims["claim_id"]]
    return history_table(versions, times, code), claims
