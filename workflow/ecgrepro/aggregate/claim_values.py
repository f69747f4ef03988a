"""Verdict rules on scores: a published value, exact k-NN values, per-k values, loss
curves, and a gap between two protocols.

Tolerances: a published value ``p`` given to ``d`` decimals is reproduced by runs with
mean ``m`` when (``p`` lies in the interval, or ``|m - p| <= tol``) and ``p`` lies within
the range of the runs widened by ``tol`` (so that a wide interval from few seeds cannot
carry a verdict alone), where ``tol = claims.tolerance.score + 0.5 * 10**-d`` (the second
term is the rounding of ``p`` itself). Score intervals stay in [0, 1] and, for accuracy,
include the test set's own sampling error
(:func:`ecgrepro.aggregate.tables.score_describe`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgrepro.aggregate.claim_base import (
    base,
    convergence_gate,
    convergence_note,
    f,
    partial,
    pub,
    untested,
)
from ecgrepro.aggregate.stats import describe, score_draws, score_label
from ecgrepro.aggregate.tables import SCORES, score_describe
from ecgrepro.convergence import loss_column

__all__ = ["rule_value", "rule_exact", "rule_knn_range", "rule_curves", "rule_gap"]


def _n_test(rows) -> np.ndarray:
    """Test cases behind each seed-level value (NaN where unknown)."""
    if "n_test" not in rows:
        return np.full(len(rows), np.nan)
    return pd.to_numeric(rows["n_test"], errors="coerce").to_numpy(dtype=float)


def _describe(ok, metric, ctx) -> tuple[dict, str]:
    if metric in SCORES:
        return score_describe(ok[metric], _n_test(ok), metric, ctx.cfg["interval"])
    d = describe(ok[metric], **ctx.kw)
    return d, ctx.label if d["n"] > 1 else ""


def _match(ok, metric, published, decimals, ctx) -> tuple[bool, dict, str, str]:
    d, label = _describe(ok, metric, ctx)
    tol = ctx.tol(decimals)
    within = not np.isnan(d["ci_low"]) and d["ci_low"] <= published <= d["ci_high"]
    diff = abs(d["mean"] - published)
    close = diff <= tol
    in_range = d["min"] - tol <= published <= d["max"] + tol
    if within:
        why = (f"published {pub(published, decimals)} lies in the interval "
               f"[{f(d['ci_low'])}, {f(d['ci_high'])}]")
    elif close:
        why = f"|mean - published| = {f(diff)} <= tolerance {tol:g}"
    else:
        where = (f"outside the interval [{f(d['ci_low'])}, {f(d['ci_high'])}] and "
                 if not np.isnan(d["ci_low"]) else "")
        why = (f"published {pub(published, decimals)} {where}|mean - published| = "
               f"{f(diff)} > tolerance {tol:g}")
    if (within or close) and not in_range:
        why += (f", but outside the runs' range {f(d['min'])}-{f(d['max'])} "
                f"+/- {tol:g} (too few or too spread runs to support it)")
    reach = int((np.abs(np.asarray(ok[metric], float) - published) <= tol).sum())
    why += f"; {reach} of {d['n']} runs within tolerance of it"
    return (within or close) and in_range, d, why, label


def rule_value(item, ctx) -> dict:
    """Published score(s) against the mean over seeds (interval or tolerance)."""
    rows = ctx.select(item)
    b = base(item, rows)
    res = untested(b, rows, ctx)
    published = item["published"]
    b["published"] = "; ".join(f"{m} {pub(v['value'], v['decimals'])}"
                               for m, v in published.items())
    first = next(iter(published))
    b["published_value"] = published[first]["value"]
    if res:
        return {**b, **res}
    ok = rows[rows["status"] == "ok"]
    gate = convergence_gate(item, ctx, ok)
    verdicts, whys, measured = [], [], []
    for metric, p in published.items():
        passed, d, why, label = _match(ok, metric, p["value"], p["decimals"], ctx)
        verdicts.append(passed)
        whys.append(f"{metric}: {why}")
        # one run has no spread: say so instead of printing "+/- nan"
        measured.append(f"{metric} {f(d['mean'])} (one run)" if pd.isna(d["sd"]) else
                        f"{metric} {f(d['mean'])} +/- {f(d['sd'])} "
                        f"(min {f(d['min'])}, max {f(d['max'])})")
        if metric == first:
            b.update(measured_value=d["mean"], ci_low=d["ci_low"], ci_high=d["ci_high"],
                     interval=label)
    whys += _honest(item, ctx, ok, first)
    note = convergence_note(ok, ctx)
    if note:
        whys.append(note)
    if gate:
        return {**b, "measured": "; ".join(measured), "verdict": gate["verdict"],
                "reason": partial(b, rows, gate["reason"] + ". Measured: "
                                  + "; ".join(whys))}
    return {**b, "measured": "; ".join(measured),
            "verdict": "reproduced" if all(verdicts) else "not reproduced",
            "reason": partial(b, rows, "; ".join(whys))}


def _honest(item, ctx, ok, metric) -> list[str]:
    """The same runs under honest checkpoint rules: values and paired inflation."""
    out = []
    p = item["published"][metric]
    for rule in item.get("honest", []):
        other = ctx.select(item, checkpoint=rule)
        other = other[other["status"] == "ok"]
        if not len(other):
            out.append(f"under checkpoint {rule}: no runs")
            continue
        passed, d, _, _ = _match(other, metric, p["value"], p["decimals"], ctx)
        pair = ok.merge(other, on=["framework", "seed"], suffixes=("", "_h"))
        infl = describe(pair[metric] - pair[f"{metric}_h"], **ctx.kw)
        out.append(
            f"under honest checkpoint {rule}: {metric} {f(d['mean'])} "
            f"({'reproduced' if passed else 'not reproduced'}); test-set selection adds "
            f"{f(infl['mean'])} [{f(infl['ci_low'])}, {f(infl['ci_high'])}] over "
            f"{infl['n']} paired runs"
        )
    return out


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
    """k-NN accuracy per k equal to the published per-k output; the prose range second.

    ``published.per_k`` (the values the source's own code printed, ``{k: value}`` to
    ``per_k_decimals``) decides the verdict, each judged exactly (``tolerance.exact``
    plus half a unit of the last printed digit). ``published.low/high/best_k`` (the
    prose summary) is a second, labelled check in the reason: when the summary is looser
    than the source's own output, the reason says so instead of failing the claim. Without
    ``per_k`` the prose range decides (as before).
    """
    ks = list(item["ks"])
    p = item["published"]
    per_k = {int(k): float(v) for k, v in (p.get("per_k") or {}).items()}
    rows = ctx.seeds[(ctx.seeds["kind"] == "knn") & (ctx.seeds["dataset"] == item["dataset"])
                     & (ctx.seeds["model"] == item["variant"])]
    got = rows[(rows["status"] == "ok") & rows["k"].isin(ks)].set_index("k")["accuracy"]
    prose = (f"{pub(p['low'], p['decimals'])}-{pub(p['high'], p['decimals'])}, best at "
             f"k = {p['best_k']}")
    dk = int(p.get("per_k_decimals", 4))
    b = {"protocol": f"k-NN {item['variant']}, k = {ks[0]}..{ks[-1]}", "interval": "",
         "published": (f"per k ({item.get('per_k_source', 'source')}): " + ", ".join(
             f"{k}: {pub(v, dk)}" for k, v in per_k.items()) + f"; prose: {prose}")
         if per_k else prose,
         "published_value": per_k.get(ks[0], p["high"]), "n_expected": len(ks),
         "n_runs": len(got), "complete": len(got) == len(ks)}
    if not len(got):
        return {**b, "verdict": "not tested", "reason": f"no {item['variant']} run"}
    tol = ctx.tol(p["decimals"])
    best = int(got.idxmax())  # first maximum: ties go to the smallest k
    prose_checks = [
        (got.min() >= p["low"] - tol,
         f"lowest {f(got.min())} at k = {int(got.idxmin())} vs {pub(p['low'], p['decimals'])}"
         f" - {tol:g}"),
        (got.max() <= p["high"] + tol,
         f"highest {f(got.max())} at k = {best} vs {pub(p['high'], p['decimals'])} + {tol:g}"),
        (best == p["best_k"], f"best k = {best} vs {p['best_k']}"),
    ]
    prose_ok = all(c for c, _ in prose_checks)
    prose_text = "; ".join(f"{'ok' if c else 'FAILS'}: {t}" for c, t in prose_checks)
    compare = []
    for variant in item.get("compare", []):
        s = ctx.seeds
        other = s[(s["kind"] == "knn") & (s["model"] == variant)
                  & (s["dataset"] == item["dataset"]) & (s["k"] == ks[0])]
        if len(other.dropna(subset=["accuracy"])):
            compare.append(f"{variant} at k = {ks[0]}: {f(other['accuracy'].iloc[0])}")
    measured = (", ".join(f"{int(k)}: {got[k]:.{dk}f}" for k in got.index) if per_k
                else f"{f(got.min())}-{f(got.max())}, best at k = {best}")
    out = {**b, "measured": measured, "measured_value": float(got.get(ks[0], got.max()))}
    if not per_k:
        reason = "; ".join([prose_text, *compare])
        if len(got) < len(ks):
            reason = f"partial: {len(got)} of {len(ks)} values of k. " + reason
        return {**out, "verdict": "reproduced" if prose_ok else "not reproduced",
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
    second = ("second check, the prose summary " + prose + ": "
              + ("holds" if prose_ok else "its summary range is looser than its own "
                 "output") + f" ({prose_text})")
    reason = "; ".join([head, second, *compare])
    verdict = "reproduced" if not differ and not lacking else (
        "not tested" if not differ else "not reproduced")
    return {**out, "verdict": verdict, "reason": reason}


def _curve_stats(history: pd.DataFrame, final_epochs: int) -> dict | None:
    h = history.dropna(subset=["test_loss"]).sort_values("epoch")
    if len(h) < 2:
        return None
    tail = h.tail(final_epochs)
    loss = loss_column(h)  # train_loss, or loss in older runs
    train_final, test_final = tail[loss].mean(), tail["test_loss"].mean()
    return {
        "gap": test_final - train_final,
        "rise": test_final - h["test_loss"].min(),
        "falls": bool(train_final < h[loss].iloc[0] and test_final < h["test_loss"].iloc[0]),
    }


def rule_curves(item, ctx) -> dict:
    """Training and test loss fall, end close together, and test loss does not rise.

    Per run, over the last ``final_epochs`` epochs with a test evaluation: the gap is
    mean test loss minus mean training loss, the rise is the final test loss minus its
    minimum over training. Reproduced when ``|mean gap| <= max_gap``, ``mean rise <=
    max_rise`` and both losses fell in every run. How many runs converged is reported.
    """
    rows = ctx.select(item)
    b = {**base(item, rows), "published": "train and test loss converge; no "
         "over- or under-fitting", "published_value": np.nan}
    res = untested(b, rows, ctx)
    if res:
        return {**b, **res}
    hist = ctx.history
    ok = rows[rows["status"] == "ok"]
    per = []
    for r in ok.itertuples():
        h = hist[(hist["dataset"] == r.dataset) & (hist["model"] == r.model)
                 & (hist["framework"] == r.framework) & (hist["protocol"] == r.protocol)
                 & (hist["seed"] == r.seed)]
        s = _curve_stats(h, item["final_epochs"])
        if s:
            per.append(s)
    if not per:
        return {**b, "verdict": "not tested",
                "reason": "no run evaluated the test loss at two epochs or more"}
    per = pd.DataFrame(per)
    gap = describe(per["gap"], **ctx.kw)
    rise = per["rise"].mean()
    falls = int(per["falls"].sum())
    checks = [
        (abs(gap["mean"]) <= item["max_gap"],
         f"final gap (test - train loss) {f(gap['mean'])} vs max {item['max_gap']}"),
        (rise <= item["max_rise"],
         f"test loss rise from its minimum {f(rise)} vs max {item['max_rise']}"),
        (falls == len(per), f"both losses fell in {falls} of {len(per)} runs"),
    ]
    reason = "; ".join(f"{'ok' if c else 'FAILS'}: {t}" for c, t in checks)
    note = convergence_note(ok, ctx, "training loss: ")
    if note:
        reason += "; " + note
    return {**b, "measured": (f"gap {f(gap['mean'])}" + ("" if pd.isna(gap["sd"]) else
                                                         f" +/- {f(gap['sd'])}")
                                + f", rise {f(rise)}"),
            "measured_value": gap["mean"], "ci_low": gap["ci_low"], "ci_high": gap["ci_high"],
            "interval": ctx.label if gap["n"] > 1 else "",
            "verdict": "reproduced" if all(c for c, _ in checks) else "not reproduced",
            "reason": partial(b, rows, reason)}


def rule_gap(item, ctx) -> dict:
    """A score under protocol ``to`` within ``max_gap`` of the same under ``from``.

    Compared per model (``model`` or ``models``) and framework, only where that model
    ran in that framework under both protocols (the same models in the same framework on
    both sides). Each gap gets an interval from bootstrap draws over seeds and test cases
    on each side (:func:`~ecgrepro.aggregate.stats.score_draws`). Reproduced when every
    gap's upper bound is at most ``max_gap``; not reproduced when some gap's lower bound
    exceeds it; otherwise not tested (the interval straddles the bound). Not tested: not
    converged when either side's runs did not converge.
    """
    metric = item["metric"]
    models = item.get("models") or [item["model"]]
    a_all = pd.concat([ctx.select(item, protocol=item["from"], model=m) for m in models])
    b_all = pd.concat([ctx.select(item, protocol=item["to"], model=m) for m in models])
    both = set(zip(a_all["model"], a_all["framework"])) & set(
        zip(b_all["model"], b_all["framework"]))
    rows = pd.concat([s[[(m, fw) in both for m, fw in zip(s["model"], s["framework"])]]
                      for s in (a_all, b_all)])
    p = item["published"]
    b = {**base(item, rows), "protocol": f"{item['from']} vs {item['to']}",
         "published": f"{metric} {pub(p['value'], p['decimals'])} ({item['from']}) "
                      f"holds under {item['to']}", "published_value": p["value"]}
    one_side = sorted({f"{m}/{fw}" for m, fw in zip(a_all["model"], a_all["framework"])}
                      ^ {f"{m}/{fw}" for m, fw in zip(b_all["model"], b_all["framework"])})
    skipped = (f" (left out, configured on one side only: {', '.join(one_side)})"
               if one_side else "")
    if not both:
        return {**b, "verdict": "not tested",
                "reason": f"no model ran in the same framework under both {item['from']} "
                          f"and {item['to']}{skipped}"}
    res = untested(b, rows, ctx)
    ok = rows[rows["status"] == "ok"]
    if res:
        return {**b, **res}
    gate = convergence_gate(item, ctx, ok)
    level, n_boot, seed = (ctx.cfg["interval"][k] for k in ("level", "n_boot", "seed"))
    gaps, parts = [], []
    for model, fw in sorted(both):
        sa = ok[(ok["model"] == model) & (ok["framework"] == fw)
                & (ok["protocol"] == item["from"])]
        sb = ok[(ok["model"] == model) & (ok["framework"] == fw)
                & (ok["protocol"] == item["to"])]
        if not len(sa) or not len(sb):
            parts.append(f"{model}/{fw}: runs missing on one side")
            continue
        da = score_draws(sa[metric], _n_test(sa), n_boot, seed)
        db = score_draws(sb[metric], _n_test(sb), n_boot, seed + 1)
        if not len(da) or not len(db):
            parts.append(f"{model}/{fw}: number of test cases unknown, no interval")
            continue
        alpha = (1 - level) / 2
        lo, hi = np.quantile(da - db, [alpha, 1 - alpha])
        gap = sa[metric].mean() - sb[metric].mean()
        gaps.append((model, fw, gap, float(lo), float(hi)))
        extra = "".join(f", {m} {f(sa[m].mean())} vs {f(sb[m].mean())}"
                        for m in item.get("also", []))
        parts.append(f"{model}/{fw}: {metric} {f(sa[metric].mean())} ({item['from']}, "
                     f"n={len(sa)}) vs {f(sb[metric].mean())} ({item['to']}, n={len(sb)}): "
                     f"gap {f(gap)} [{f(lo)}, {f(hi)}]{extra}")
    label = score_label(level, n_boot, seed) + " on each side, gap = difference of draws"
    if not gaps:
        return {**b, "verdict": "not tested", "reason": partial(b, rows, "; ".join(parts))}
    first = gaps[0]
    b.update(measured="; ".join(f"{m}/{fw} gap {f(g)}" for m, fw, g, _, _ in gaps),
             measured_value=first[2], ci_low=first[3], ci_high=first[4], interval=label)
    body = "; ".join(parts) + skipped
    if gate:
        return {**b, "verdict": gate["verdict"],
                "reason": partial(b, rows, gate["reason"] + ". Measured: " + body)}
    mg = item["max_gap"]
    if all(hi <= mg for *_, hi in gaps):
        verdict, head = "reproduced", f"every gap's upper bound <= max {mg}"
    elif any(lo > mg for *_, lo, _ in gaps):
        verdict, head = "not reproduced", f"a gap's lower bound > max {mg}"
    else:
        verdict, head = "not tested", f"inconclusive: an interval straddles max {mg}"
    return {**b, "verdict": verdict, "reason": partial(b, rows, f"{head}; {body}")}
