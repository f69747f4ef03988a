"""Verdict rules on training runs: a published score, loss curves, and a gap between
two protocols (k-NN rules: :mod:`~ecgrepro.aggregate.claim_knn`).

Tolerances: a published value ``p`` given to ``d`` decimals is reproduced by runs with
mean ``m`` when (``p`` lies in the interval, or ``|m - p| <= tol``) and ``p`` lies within
the range of the runs widened by ``tol`` (so that a wide interval from few seeds cannot
carry a verdict alone), where ``tol = claims.tolerance.score + 0.5 * 10**-d`` (the second
term is the rounding of ``p`` itself). Score intervals stay in [0, 1] and count a shared
test set's sampling error once (:func:`ecgrepro.aggregate.tables.score_describe`).
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
from ecgrepro.aggregate.bootstrap import percentile, shared_label
from ecgrepro.aggregate.cases import diff_draws
from ecgrepro.aggregate.stats import describe
from ecgrepro.aggregate.tables import SCORES, score_describe
from ecgrepro.convergence import loss_column

__all__ = ["rule_value", "rule_curves", "rule_gap"]


def _describe(ok, metric, ctx) -> tuple[dict, str]:
    if metric in SCORES:
        d, label = score_describe(ok, metric, ctx.cfg["interval"], ctx.store)
        d.pop("n_cases", None)
        return d, label
    d = describe(ok[metric], **ctx.kw)
    return d, ctx.label if d["n"] > 1 else ""


def _diff(ctx, a, b, metric, seed_offset=0, pair_seeds=False):
    """Mean difference a - b with its two-level bootstrap percentile interval."""
    level, n_boot, seed = (ctx.cfg["interval"][k] for k in ("level", "n_boot", "seed"))
    draws, how = diff_draws(ctx.store, a, b, metric, n_boot, seed + seed_offset,
                            pair_seeds=pair_seeds)
    if draws is None:
        return None
    lo, hi = percentile(draws, level)
    return float(a[metric].mean() - b[metric].mean()), lo, hi, how


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
    groups, how = _framework_groups(item, ctx, ok)
    whys.append(f"reading: the mean over seeds reaches the published value (in the "
                f"interval or within tolerance); the runs that reach it alone are counted "
                f"beside it; {how}")
    for fw, g in groups:
        tag = f"{fw}: " if fw else ""
        for metric, p in published.items():
            passed, d, why, label = _match(g, metric, p["value"], p["decimals"], ctx)
            verdicts.append(passed)
            whys.append(f"{tag}{metric}: {why}")
            # one run has no spread: say so instead of printing "+/- nan"
            measured.append(f"{tag}{metric} {f(d['mean'])} (one run)" if pd.isna(d["sd"])
                            else f"{tag}{metric} {f(d['mean'])} +/- {f(d['sd'])} "
                            f"(min {f(d['min'])}, max {f(d['max'])})")
            if metric == first and "interval" not in b:
                b.update(measured_value=d["mean"], ci_low=d["ci_low"],
                         ci_high=d["ci_high"], interval=f"{tag}{label}")
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


def _framework_groups(item, ctx, ok) -> tuple[list, str]:
    """The runs judged together: all, or each framework apart unless C10's test showed
    the frameworks equivalent on this configuration (pooling two different
    distributions would judge neither)."""
    fws = sorted(set(ok["framework"]))
    if len(fws) < 2:
        return [("", ok)], "one framework"
    fw = ctx.frameworks
    same = False
    if fw is not None and len(fw) and "equivalent" in fw:
        hit = fw[(fw["dataset"] == item.get("dataset")) & (fw["model"] == item.get("model"))
                 & (fw["protocol"] == item.get("protocol"))]
        same = bool(len(hit)) and bool(hit["equivalent"].astype(bool).all())
    if same:
        return [("", ok)], (f"{' and '.join(fws)} pooled (shown equivalent on this "
                            f"configuration by the framework comparison)")
    return ([(f, ok[ok["framework"] == f]) for f in fws],
            f"{' and '.join(fws)} judged apart (not shown equivalent); reproduced only "
            f"if reproduced in each")


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
        # the same runs at two checkpoints: paired by run, scored on the same cases
        keys = ["framework", "seed"]
        both = ok.merge(other[keys], on=keys)[keys]
        a = both.merge(ok, on=keys, how="left")
        b = both.merge(other, on=keys, how="left")
        infl = _diff(ctx, a, b, metric, pair_seeds=True)
        size = (f"[{f(infl[1])}, {f(infl[2])}] (two-level bootstrap, runs paired, same "
                f"cases)" if infl else "(no interval)")
        out.append(
            f"under honest checkpoint {rule}: {metric} {f(d['mean'])} "
            f"({'reproduced' if passed else 'not reproduced'}); test-set selection adds "
            f"{f(a[metric].mean() - b[metric].mean())} {size} over {len(both)} paired runs"
        )
    return out


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
    both sides). Each gap gets the percentile interval of a two-level bootstrap of the
    difference (:func:`~ecgrepro.aggregate.cases.diff_draws`: seeds resampled on each
    side, each test set's cases once per draw; a test set on both sides gets the same
    case indices on both). Reproduced when every
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
        got = _diff(ctx, sa, sb, metric)
        if got is None:
            parts.append(f"{model}/{fw}: number of test cases unknown, no interval")
            continue
        gap, lo, hi, how = got
        gaps.append((model, fw, gap, float(lo), float(hi)))
        extra = "".join(f", {m} {f(sa[m].mean())} vs {f(sb[m].mean())}"
                        for m in item.get("also", []))
        parts.append(f"{model}/{fw}: {metric} {f(sa[metric].mean())} ({item['from']}, "
                     f"n={len(sa)}) vs {f(sb[metric].mean())} ({item['to']}, n={len(sb)}): "
                     f"gap {f(gap)} [{f(lo)}, {f(hi)}]{extra}")
    label = (shared_label(level, n_boot, seed) + " of the difference; a test set on both "
             "sides resampled once for both")
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
