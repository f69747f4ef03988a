"""Verdict rules on deterministic k-NN runs: exact published values, and values over k.

A k-NN run gives the same number every time, so these rules judge exactly (config
``claims.tolerance.exact`` plus half a unit of the published rounding), or, for a prose
range, within ``tolerance.score`` plus half a unit of the range's rounding.
"""

from __future__ import annotations

import numpy as np

from ecgrepro.aggregate.claim_base import f, pub

__all__ = ["rule_exact", "rule_knn_range"]


def rule_exact(item, ctx) -> dict:
    """Deterministic k-NN accuracies equal to published ones (to their rounding)."""
    rows = ctx.seeds[(ctx.seeds["kind"] == "knn") & (ctx.seeds["dataset"] == item["dataset"])
                     & ctx.seeds["model"].isin(list(item["published"]))]
    k = item.get("k", 1)
    b = {"protocol": f"k-NN, k = {k}", "interval": "",
         "published": "; ".join(f"{v} {pub(p['value'], p['decimals'])}"
                                for v, p in item["published"].items())}
    measured, whys, verdicts, n = [], [], [], 0
    for variant, p in item["published"].items():
        hit = rows[(rows["model"] == variant) & (rows["k"] == k) & (rows["status"] == "ok")]
        if not len(hit):
            whys.append(f"{variant}: no run")
            continue
        n += 1
        value = float(hit["accuracy"].iloc[0])
        tol = ctx.tol(p["decimals"], "exact")
        verdicts.append(abs(value - p["value"]) <= tol)
        measured.append(f"{variant} {value:.{p['decimals']}f}")
        whys.append(f"{variant}: {value:.6f} vs {pub(p['value'], p['decimals'])} "
                    f"({'match' if verdicts[-1] else 'differs'}, tolerance {tol:g})")
    first = next(iter(item["published"]))
    hit = rows[(rows["model"] == first) & (rows["k"] == k)]["accuracy"].dropna()
    b.update(published_value=item["published"][first]["value"],
             measured_value=float(hit.iloc[0]) if len(hit) else np.nan,
             n_runs=n, n_expected=len(item["published"]),
             complete=n == len(item["published"]), measured="; ".join(measured))
    if not n:
        return {**b, "verdict": "not tested", "reason": "; ".join(whys)}
    reason = "; ".join(whys)
    if n < len(item["published"]):
        reason = f"partial: {n} of {len(item['published'])} variants. " + reason
    return {**b, "verdict": "reproduced" if all(verdicts) else "not reproduced",
            "reason": reason}


def rule_knn_range(item, ctx) -> dict:
    """k-NN accuracy per k against what the source published: per k, or a prose range.

    ``published.per_k`` (the values the source's own code printed, ``{k: value}`` to
    ``per_k_decimals``): each k judged exactly (``tolerance.exact`` plus half a unit of
    the last printed digit). ``published.low/high/best_k`` (a prose summary over k, to
    ``decimals``): the lowest and highest values within ``tolerance.score`` plus half a
    unit of the range, and the best k equal. An item gives one or the other: a summary
    and the output it summarises are two statements (two claims), judged apart.
    """
    ks = list(item["ks"])
    p = item["published"]
    per_k = {int(k): float(v) for k, v in (p.get("per_k") or {}).items()}
    rows = ctx.seeds[(ctx.seeds["kind"] == "knn") & (ctx.seeds["dataset"] == item["dataset"])
                     & (ctx.seeds["model"] == item["variant"])]
    got = rows[(rows["status"] == "ok") & rows["k"].isin(ks)].set_index("k")["accuracy"]
    dk = int(p.get("per_k_decimals", 4))
    prose = (f"{pub(p['low'], p['decimals'])}-{pub(p['high'], p['decimals'])}, best at "
             f"k = {p['best_k']}") if not per_k else ""
    b = {"protocol": f"k-NN {item['variant']}, k = {ks[0]}..{ks[-1]}", "interval": "",
         "published": (f"per k ({item.get('per_k_source', 'source')}): " + ", ".join(
             f"{k}: {pub(v, dk)}" for k, v in per_k.items())) if per_k else prose,
         "published_value": per_k.get(ks[0]) if per_k else p["high"],
         "n_expected": len(ks), "n_runs": len(got), "complete": len(got) == len(ks)}
    if not len(got):
        return {**b, "verdict": "not tested", "reason": f"no {item['variant']} run"}
    best = int(got.idxmax())  # first maximum: ties go to the smallest k
    compare = []
    for variant in item.get("compare", []):
        s = ctx.seeds
        other = s[(s["kind"] == "knn") & (s["model"] == variant)
                  & (s["dataset"] == item["dataset"]) & (s["k"] == ks[0])]
        if len(other.dropna(subset=["accuracy"])):
            compare.append(f"{variant} at k = {ks[0]}: {f(other['accuracy'].iloc[0])}")
    if not per_k:
        tol = ctx.tol(p["decimals"])
        checks = [
            (got.min() >= p["low"] - tol,
             f"lowest {f(got.min())} at k = {int(got.idxmin())} vs "
             f"{pub(p['low'], p['decimals'])} - {tol:g}"),
            (got.max() <= p["high"] + tol,
             f"highest {f(got.max())} at k = {best} vs {pub(p['high'], p['decimals'])} "
             f"+ {tol:g}"),
            (best == p["best_k"], f"best k = {best} vs {p['best_k']}"),
        ]
        reason = "; ".join([*(f"{'ok' if c else 'FAILS'}: {t}" for c, t in checks),
                            *compare])
        if len(got) < len(ks):
            reason = f"partial: {len(got)} of {len(ks)} values of k. " + reason
        return {**b, "measured": f"{f(got.min())}-{f(got.max())}, best at k = {best}",
                "measured_value": float(got.max()),
                "verdict": "reproduced" if all(c for c, _ in checks) else "not reproduced",
                "reason": reason}
    etol = ctx.tol(dk, "exact")
    equal = [k for k in ks if k in got.index and k in per_k
             and abs(got[k] - per_k[k]) <= etol]
    differ = [f"k = {k}: {got[k]:.6f} vs {pub(per_k[k], dk)}" for k in ks
              if k in got.index and k in per_k and k not in equal]
    lacking = [k for k in ks if k not in got.index or k not in per_k]
    source = item.get("per_k_source", "source's printed output")
    if not differ and not lacking:
        head = (f"equal to the {source} at every k ({len(equal)} of "
                f"{len(ks)}, to {dk} decimals, tolerance {etol:g})")
    else:
        head = (f"equal at {len(equal)} of {len(ks)} k; differs: {'; '.join(differ) or '-'}"
                + (f"; no value for k = {lacking}" if lacking else ""))
    verdict = "reproduced" if not differ and not lacking else (
        "not tested" if not differ else "not reproduced")
    return {**b, "measured": ", ".join(f"{int(k)}: {got[k]:.{dk}f}" for k in got.index),
            "measured_value": float(got.get(ks[0], got.max())), "verdict": verdict,
            "reason": "; ".join([head, f"range over k {f(got.min())}-{f(got.max())}, "
                                 f"best at k = {best}", *compare])}
