"""Verdicts on the claims of config ``claims.items``, computed by rules the config names.

Each claim in config ``claims.items`` names a ``rule`` (one of :data:`RULES`) and that
rule's inputs: which runs, the published values with their source, thresholds. The
rules are generic; nothing here knows a claim by its id. Verdicts:

- ``reproduced`` / ``not reproduced``: the rule's test on the measured runs;
- ``not tested``: the runs the rule needs are not configured, missing, too few
  (``claims.min_runs``) or cannot decide (the reason says which);
- ``not tested: not converged``: the runs did not converge under config ``convergence``
  (:mod:`~ecgrepro.aggregate.claim_base`): a training budget, not a finding;
- ``not tested: no controlled timing``: a claim on speed without the timing step's
  ``comparisons.csv`` (:mod:`~ecgrepro.aggregate.claim_timing`).

Each row also says where the claim comes from (``source_class``: paper, blog, implicit,
project) and what its verdict rests on (``verdict_rests_on``, :data:`EVIDENCE`).

A claim whose runs are only partly present is still judged on those present, marked
``complete = False`` and its reason starts with ``partial``. ``n_runs``, ``n_expected``
and ``complete`` count the same rows in every claim.

The rules live in :mod:`~ecgrepro.aggregate.claim_values` (scores, curves, the
intra/inter-patient gap), :mod:`~ecgrepro.aggregate.claim_knn` (k-NN),
:mod:`~ecgrepro.aggregate.claim_timing` (speed) and
:mod:`~ecgrepro.aggregate.claim_equivalence` (PyTorch vs Keras) and
:mod:`~ecgrepro.aggregate.claim_sota` (against the published state of the art).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ecgrepro.aggregate.claim_base import NO_TIMING, NOT_CONVERGED, Ctx
from ecgrepro.aggregate.claim_equivalence import rule_frameworks
from ecgrepro.aggregate.claim_sota import rule_sota
from ecgrepro.aggregate.claim_timing import rule_simpler, rule_speedup
from ecgrepro.aggregate.claim_knn import rule_exact, rule_knn_range
from ecgrepro.aggregate.claim_values import rule_curves, rule_gap, rule_value

__all__ = ["COLUMNS", "EVIDENCE", "RULES", "SOURCE_CLASSES", "VERDICTS", "evaluate_claims",
           "evidence_of"]

VERDICTS = ("reproduced", "not reproduced", "not tested", NOT_CONVERGED, NO_TIMING)
COLUMNS = [
    "claim_id", "claim", "source", "source_class", "verdict_rests_on", "rule", "protocol",
    "published", "published_value",
    "measured", "measured_value", "ci_low", "ci_high", "interval", "n_runs", "n_expected",
    "complete", "unreadable", "verdict", "reason",
]

#: Where a claim comes from (config ``source_class``): a paper, a blog post, implicit
#: in a paper, or this project's own premise.
SOURCE_CLASSES = ("paper", "blog", "implicit", "project")
#: What each rule's verdict rests on: deterministic k-NN runs (a rerun gives the same
#: number), training runs over seeds, or the timing step's controlled comparisons.
EVIDENCE = {
    "value": "training runs",
    "exact": "deterministic (k-NN)",
    "knn_range": "deterministic (k-NN)",
    "speedup": "timing step",
    "curves": "training runs",
    "simpler": "training runs and timing step",
    "gap": "training runs",
    "frameworks": "training runs",
    "sota": "training runs and published results",
}

RULES = {
    "value": rule_value,
    "exact": rule_exact,
    "knn_range": rule_knn_range,
    "speedup": rule_speedup,
    "curves": rule_curves,
    "simpler": rule_simpler,
    "gap": rule_gap,
    "frameworks": rule_frameworks,
    "sota": rule_sota,
}


def _order(claim_id: str) -> tuple:
    """C2 < C3 < C3b < C10: by number, then suffix; ids without a number last."""
    m = re.fullmatch(r"C(\d+)(.*)", claim_id)
    return (int(m[1]), m[2]) if m else (1 << 30, claim_id)


def evidence_of(item: dict) -> str:
    """What a claim's verdict rests on (:data:`EVIDENCE`, by its rule)."""
    return EVIDENCE[item["rule"]]


def evaluate_claims(seeds, history, frameworks, cfg: dict, timing=None,
                    criterion: str = "", sota=None, store=None) -> pd.DataFrame:
    """One row per claim in ``cfg["items"]``, in config order (see :data:`COLUMNS`).

    Parameters
    ----------
    seeds : DataFrame
        :func:`ecgrepro.aggregate.tables.seed_table`, with
        :func:`~ecgrepro.aggregate.tables.add_convergence` columns.
    history : DataFrame
        Training histories with run identity (``Collected.history``).
    frameworks : DataFrame
        :func:`ecgrepro.aggregate.frameworks.frameworks_table`.
    cfg : dict
        Config ``claims``: ``interval``, ``tolerance``, ``min_runs``, ``min_converged``,
        ``alpha``, ``p_adjust``, ``equivalence``, ``items``.
    timing : DataFrame, optional
        The timing step's ``comparisons.csv`` (None: no controlled timing).
    criterion : str
        The convergence criterion in words
        (:func:`ecgrepro.convergence.describe_criterion`).
    sota : dict, optional
        Our and the published accuracies per resample, for rule ``sota``
        (:func:`ecgrepro.aggregate.sota.sota_inputs`).
    store : CaseStore, optional
        The runs' per-case predictions, for intervals over shared test cases
        (:mod:`~ecgrepro.aggregate.cases`; None: stand-in cases).
    """
    ctx = Ctx(seeds, history, frameworks, cfg, timing=timing, criterion=criterion,
              sota=sota, store=store)
    out = []
    ids = sorted(cfg["items"], key=_order)
    for claim_id in ids:
        item = cfg["items"][claim_id]
        rule = RULES[item["rule"]]
        row = {"claim_id": claim_id, "claim": item["statement"], "source": item["source"],
               "source_class": item.get("source_class", ""),
               "verdict_rests_on": evidence_of(item), "rule": item["rule"],
               "interval": "", "ci_low": np.nan, "ci_high": np.nan,
               "measured": "", "measured_value": np.nan, **rule(item, ctx)}
        if row.get("unreadable"):  # never a silent verdict on fewer runs than configured
            row["reason"] = (f"incomplete: {row['unreadable']} run(s) unreadable and left "
                             f"out (see missing.csv). {row['reason']}")
        out.append(row)
    frame = pd.DataFrame(out)
    for col in COLUMNS:
        if col not in frame:
            frame[col] = np.nan
    frame["unreadable"] = frame["unreadable"].fillna(0).astype(int)
    return frame[COLUMNS]
