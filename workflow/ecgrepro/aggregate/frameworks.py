"""PyTorch against Keras: equivalence of accuracy, the difference test, controlled timing.

Split from :mod:`ecgrepro.aggregate.tables` (which re-exports :func:`frameworks_table`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgrepro.aggregate.bootstrap import percentile
from ecgrepro.aggregate.cases import diff_draws
from ecgrepro.aggregate.stats import holm, mann_whitney, tost

__all__ = ["frameworks_table"]


def _timing_columns(timing: pd.DataFrame | None, model: str) -> dict:
    """Keras over PyTorch time per epoch for ``model`` from the timing step, if any."""
    none = {"keras_over_torch": np.nan, "keras_over_torch_low": np.nan,
            "keras_over_torch_high": np.nan, "timing": "not tested: no controlled timing"}
    if timing is None or timing.empty:
        return none
    hit = timing[timing["comparison"] == f"keras_over_torch_{model}"]
    if hit.empty:
        return none
    r = hit.iloc[0]
    return {"keras_over_torch": r["ratio"], "keras_over_torch_low": r["ratio_low"],
            "keras_over_torch_high": r["ratio_high"],
            "timing": f"timing step, {int(r['threads'])} thread(s), median of "
                      f"{int(r['rounds_kept'])} kept rounds"}


def frameworks_table(seeds: pd.DataFrame, alpha: float, adjust: str = "holm",
                     margin: float = 0.01, timing: pd.DataFrame | None = None,
                     store=None, boot: dict | None = None) -> pd.DataFrame:
    """PyTorch against Keras per dataset, model and protocol (reported checkpoint).

    Two tests on accuracy over seeds (CV-pooled per seed where folds):

    - equivalence, the one C10 rests on: two one-sided t-tests with ``margin``
      (:func:`~ecgrepro.aggregate.stats.tost`), paired by seed where both frameworks ran
      the same seeds (same seed, same split), Welch otherwise; ``equivalent`` when the
      90% interval of the difference lies inside the margin, ``shown_different`` when it
      lies wholly outside;
    - difference: two-sided Mann-Whitney U with Cliff's delta (positive when PyTorch
      scores higher), Holm-adjusted over the comparisons that can reach ``alpha``
      (``testable``). Its non-significance is no evidence of sameness.

    Time per epoch comes from the timing step's ``comparisons.csv``
    (``keras_over_torch_<model>``), never from the training runs, which shared the
    machine; absent, the ``timing`` column says "not tested: no controlled timing".
    Convergence counts (``converged_torch``, ``converged_keras``) come from
    :func:`add_convergence` when the seeds carry them.

    ``boot_low, boot_high``: the 1 - 2 alpha percentile interval of the difference from
    the two-level bootstrap (:func:`~ecgrepro.aggregate.cases.diff_draws`: both
    frameworks' seeds scored on one test set, resampled on the same case indices; seeds
    paired as the TOST pairs them), ``boot`` being config ``claims.interval`` (n_boot,
    seed); absent: NaN. Beside the TOST, as the same difference counted with the test
    set's sampling error.
    """
    ok = seeds[(seeds["kind"] == "train") & (seeds["status"] == "ok") & seeds["reported"]]
    out = []
    for (dataset, model, protocol, checkpoint), g in ok.groupby(
            ["dataset", "model", "protocol", "checkpoint"], sort=True):
        a = g[g["framework"] == "torch"]
        b = g[g["framework"] == "keras"]
        if not len(a) or not len(b):
            continue
        test = mann_whitney(a["accuracy"], b["accuracy"])
        pair = a.merge(b, on=["seed", "split"], suffixes=("_t", "_k"))
        paired = len(pair) >= 2 and len(pair) == len(a) == len(b)
        eq = (tost(pair["accuracy_t"], pair["accuracy_k"], margin, alpha, paired=True)
              if paired else tost(a["accuracy"], b["accuracy"], margin, alpha))
        lo = hi = np.nan
        if boot is not None:
            sa = pair[["seed", "split"]].merge(a, on=["seed", "split"]) if paired else a
            sb = pair[["seed", "split"]].merge(b, on=["seed", "split"]) if paired else b
            draws, _ = diff_draws(store, sa, sb, "accuracy", int(boot["n_boot"]),
                                  int(boot["seed"]), pair_seeds=paired)
            if draws is not None:
                lo, hi = percentile(draws, 1 - 2 * alpha)
        pa, pb = a["n_params"].dropna().unique(), b["n_params"].dropna().unique()
        conv = {}
        for fw, s in (("torch", a), ("keras", b)):
            c = s["converged"] if "converged" in s else pd.Series(dtype="boolean")
            conv[f"converged_{fw}"] = int(c.fillna(False).astype(bool).sum())
        out.append({
            "dataset": dataset, "model": model, "protocol": protocol,
            "checkpoint": checkpoint, "metric": "accuracy",
            "n_torch": len(a), "n_keras": len(b), **conv,
            "mean_torch": a["accuracy"].mean(), "mean_keras": b["accuracy"].mean(),
            "difference": a["accuracy"].mean() - b["accuracy"].mean(),
            "equivalence_test": eq["test"], "margin": margin, "n_pairs": len(pair),
            "eq_low": eq["low"], "eq_high": eq["high"], "eq_p_value": eq["p_value"],
            "equivalent": bool(eq["equivalent"]), "shown_different": bool(eq["outside"]),
            "boot_low": lo, "boot_high": hi,
            "test": "Mann-Whitney U, two-sided",
            "u": test["u"], "p_value": test["p_value"], "min_p": test["min_p"],
            "testable": bool(test["min_p"] <= alpha),
            "cliffs_delta": test["rank_biserial"],
            "params_torch": int(pa[0]) if len(pa) == 1 else np.nan,
            "params_keras": int(pb[0]) if len(pb) == 1 else np.nan,
            "params_equal": bool(len(pa) == 1 and len(pb) == 1 and pa[0] == pb[0]),
            **_timing_columns(timing, model),
        })
    frame = pd.DataFrame(out, columns=[
        "dataset", "model", "protocol", "checkpoint", "metric", "n_torch", "n_keras",
        "converged_torch", "converged_keras", "mean_torch", "mean_keras", "difference",
        "equivalence_test", "margin", "n_pairs", "eq_low", "eq_high", "eq_p_value",
        "equivalent", "shown_different", "boot_low", "boot_high", "test", "u", "p_value", "min_p",
        "testable", "p_adjusted", "significant", "cliffs_delta", "params_torch",
        "params_keras", "params_equal", "keras_over_torch", "keras_over_torch_low",
        "keras_over_torch_high", "timing",
    ])
    if frame.empty:
        return frame
    p = frame["p_value"].where(frame["testable"])
    frame["p_adjusted"] = holm(p) if adjust == "holm" else p
    frame["significant"] = frame["p_adjusted"] < alpha
    for c in ("params_torch", "params_keras"):
        frame[c] = frame[c].astype("Int64")
    return frame
