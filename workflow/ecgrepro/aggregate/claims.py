"""Verdicts on the published claims C1-C10, computed by rules the config names.

Each claim in config ``claims.items`` names a ``rule`` (one of :data:`RULES`) and that
rule's inputs: which runs, the published values with their source, thresholds. The
rules are generic; nothing here knows a claim by its id. Verdicts:

- ``reproduced`` / ``not reproduced``: the rule's test on the measured runs;
- ``not tested``: the runs the rule needs are not configured, missing, or too few
  (``claims.min_runs``); the reason says which.

A claim whose runs are only partly present is still judged on those present, marked
``complete = False`` and its reason starts with ``partial``.

Tolerances: a published value ``p`` given to ``d`` decimals is reproduced by runs with
mean ``m`` when (``p`` lies in the interval over seeds, or ``|m - p| <= tol``) and ``p``
lies within the range of the runs widened by ``tol`` (so that a wide interval from few
seeds cannot carry a verdict alone), where ``tol = claims.tolerance.score + 0.5 *
10**-d`` (the second term is the rounding of ``p`` itself).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgrepro.aggregate.stats import describe, interval_label

__all__ = ["RULES", "VERDICTS", "evaluate_claims", "COLUMNS"]

VERDICTS = ("reproduced", "not reproduced", "not tested")
COLUMNS = [
    "claim_id", "claim", "source", "rule", "protocol", "published", "published_value",
    "measured", "measured_value", "ci_low", "ci_high", "interval", "n_runs", "n_expected",
    "complete", "unreadable", "verdict", "reason",
]


def _f(x, digits=4) -> str:
    return "nan" if x is None or pd.isna(x) else f"{x:.{digits}f}"


def _pub(value, decimals) -> str:
    """A published value as published: with its number of decimals."""
    return f"{float(value):.{int(decimals)}f}"


def _half_unit(decimals) -> float:
    return 0.5 * 10.0 ** -int(decimals)


class _Ctx:
    """What every rule may read: seed-level table, histories, frameworks table, config."""

    def __init__(self, seeds, history, frameworks, cfg):
        self.seeds, self.history, self.frameworks, self.cfg = seeds, history, frameworks, cfg
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
        return float(self.cfg["tolerance"][kind]) + _half_unit(decimals)


def _base(item, ctx, rows) -> dict:
    ok = rows[rows["status"] == "ok"] if len(rows) else rows
    return {"n_runs": len(ok), "n_expected": len(rows),
            "complete": bool(len(rows) and len(ok) == len(rows)),
            # runs that exist but cannot be read (collect -> build.mark_unreadable)
            "unreadable": int((rows["status"] == "unreadable").sum()) if len(rows) else 0,
            "protocol": _protocol_text(item)}


def _protocol_text(item) -> str:
    rule = item.get("checkpoint")
    parts = [item.get("protocol") or ""]
    if rule:
        on_test = " (selects on the test set)" if rule == "best_test" else ""
        parts.append(f"checkpoint {rule}{on_test}")
    return ", ".join(p for p in parts if p)


def _missing(rows) -> str:
    lacking = rows[rows["status"] != "ok"]
    names = [f"{r.model}/{r.framework}/{r.protocol} seed {r.seed}: {r.note}"
             for r in lacking.itertuples()]
    return "; ".join(names[:6]) + (f"; ... ({len(names)} in all)" if len(names) > 6 else "")


def _untested(base, rows, ctx, what="") -> dict | None:
    if base["n_expected"] == 0:
        return {"verdict": "not tested",
                "reason": f"no such runs in the configured experiments{what}"}
    if base["n_runs"] == 0:
        return {"verdict": "not tested",
                "reason": f"none of the {base['n_expected']} expected runs is present "
                          f"(see missing.csv: {_missing(rows)})"}
    if base["n_runs"] < ctx.cfg["min_runs"]:
        return {"verdict": "not tested",
                "reason": f"{base['n_runs']} of {base['n_expected']} runs present, fewer "
                          f"than claims.min_runs = {ctx.cfg['min_runs']} (see missing.csv: "
                          f"{_missing(rows)})"}
    return None


def _partial(base, rows, reason) -> str:
    if base["complete"]:
        return reason
    return (f"partial: {base['n_runs']} of {base['n_expected']} runs ({_missing(rows)}). "
            + reason)


def _match(values, published, decimals, ctx) -> tuple[bool, dict, str]:
    d = describe(values, **ctx.kw)
    tol = ctx.tol(decimals)
    within = not np.isnan(d["ci_low"]) and d["ci_low"] <= published <= d["ci_high"]
    diff = abs(d["mean"] - published)
    close = diff <= tol
    in_range = d["min"] - tol <= published <= d["max"] + tol
    if within:
        why = (f"published {_pub(published, decimals)} lies in the interval "
               f"[{_f(d['ci_low'])}, {_f(d['ci_high'])}]")
    elif close:
        why = f"|mean - published| = {_f(diff)} <= tolerance {tol:g}"
    else:
        where = (f"outside the interval [{_f(d['ci_low'])}, {_f(d['ci_high'])}] and "
                 if not np.isnan(d["ci_low"]) else "")
        why = (f"published {_pub(published, decimals)} {where}|mean - published| = "
               f"{_f(diff)} > tolerance {tol:g}")
    if (within or close) and not in_range:
        why += (f", but outside the runs' range {_f(d['min'])}-{_f(d['max'])} "
                f"+/- {tol:g} (too few or too spread runs to support it)")
    reach = int((np.abs(np.asarray(values, float) - published) <= tol).sum())
    why += f"; {reach} of {d['n']} runs within tolerance of it"
    return (within or close) and in_range, d, why


def rule_value(item, ctx) -> dict:
    """Published score(s) against the mean over seeds (interval or tolerance)."""
    rows = ctx.select(item)
    base = _base(item, ctx, rows)
    res = _untested(base, rows, ctx)
    pub = item["published"]
    base["published"] = "; ".join(f"{m} {_pub(v['value'], v['decimals'])}"
                                  for m, v in pub.items())
    first = next(iter(pub))
    base["published_value"] = pub[first]["value"]
    if res:
        return {**base, **res}
    ok = rows[rows["status"] == "ok"]
    verdicts, whys, measured = [], [], []
    for metric, p in pub.items():
        passed, d, why = _match(ok[metric], p["value"], p["decimals"], ctx)
        verdicts.append(passed)
        whys.append(f"{metric}: {why}")
        measured.append(f"{metric} {_f(d['mean'])} +/- {_f(d['sd'])} "
                        f"(min {_f(d['min'])}, max {_f(d['max'])})")
        if metric == first:
            base.update(measured_value=d["mean"], ci_low=d["ci_low"], ci_high=d["ci_high"],
                        interval=ctx.label if d["n"] > 1 else "")
    whys += _honest(item, ctx, ok, first)
    return {**base, "measured": "; ".join(measured),
            "verdict": "reproduced" if all(verdicts) else "not reproduced",
            "reason": _partial(base, rows, "; ".join(whys))}


def _honest(item, ctx, ok, metric) -> list[str]:
    """The same runs under honest checkpoint rules: values and paired inflation."""
    out = []
    pub = item["published"][metric]
    for rule in item.get("honest", []):
        other = ctx.select(item, checkpoint=rule)
        other = other[other["status"] == "ok"]
        if not len(other):
            out.append(f"under checkpoint {rule}: no runs")
            continue
        passed, d, _ = _match(other[metric], pub["value"], pub["decimals"], ctx)
        pair = ok.merge(other, on=["framework", "seed"], suffixes=("", "_h"))
        infl = describe(pair[metric] - pair[f"{metric}_h"], **ctx.kw)
        out.append(
            f"under honest checkpoint {rule}: {metric} {_f(d['mean'])} "
            f"({'reproduced' if passed else 'not reproduced'}); test-set selection adds "
            f"{_f(infl['mean'])} [{_f(infl['ci_low'])}, {_f(infl['ci_high'])}] over "
            f"{infl['n']} paired runs"
        )
    return out


def rule_exact(item, ctx) -> dict:
    """Deterministic k-NN accuracies equal to published ones (to their rounding)."""
    rows = ctx.seeds[(ctx.seeds["kind"] == "knn") & (ctx.seeds["dataset"] == item["dataset"])
                     & ctx.seeds["model"].isin(list(item["published"]))]
    k = item.get("k", 1)
    base = {"protocol": f"k-NN, k = {k}", "interval": "",
            "published": "; ".join(f"{v} {_pub(p['value'], p['decimals'])}"
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
        whys.append(f"{variant}: {value:.6f} vs {_pub(p['value'], p['decimals'])} "
                    f"({'match' if verdicts[-1] else 'differs'}, tolerance {tol:g})")
    first = next(iter(item["published"]))
    hit = rows[(rows["model"] == first) & (rows["k"] == k)]["accuracy"].dropna()
    base.update(published_value=item["published"][first]["value"],
                measured_value=float(hit.iloc[0]) if len(hit) else np.nan,
                n_runs=n, n_expected=len(item["published"]),
                complete=n == len(item["published"]), measured="; ".join(measured))
    if not n:
        return {**base, "verdict": "not tested", "reason": "; ".join(whys)}
    reason = "; ".join(whys)
    if n < len(item["published"]):
        reason = f"partial: {n} of {len(item['published'])} variants. " + reason
    return {**base, "verdict": "reproduced" if all(verdicts) else "not reproduced",
            "reason": reason}


def rule_knn_range(item, ctx) -> dict:
    """k-NN accuracy over a range of k inside a published range, best at a given k."""
    ks = list(item["ks"])
    p = item["published"]
    rows = ctx.seeds[(ctx.seeds["kind"] == "knn") & (ctx.seeds["dataset"] == item["dataset"])
                     & (ctx.seeds["model"] == item["variant"])]
    base = {"protocol": f"k-NN {item['variant']}, k = {ks[0]}..{ks[-1]}", "interval": "",
            "published": f"{_pub(p['low'], p['decimals'])}-{_pub(p['high'], p['decimals'])}, "
                         f"best at k = {p['best_k']}",
            "published_value": p["high"], "n_expected": len(ks)}
    got = rows[(rows["status"] == "ok") & rows["k"].isin(ks)].set_index("k")["accuracy"]
    base.update(n_runs=len(got), complete=len(got) == len(ks))
    if not len(got):
        return {**base, "verdict": "not tested", "reason": f"no {item['variant']} run"}
    tol = ctx.tol(p["decimals"])
    best = int(got.idxmax())  # first maximum: ties go to the smallest k
    low_k, high_k = int(got.idxmin()), best
    checks = [
        (got.min() >= p["low"] - tol,
         f"lowest {_f(got.min())} at k = {low_k} vs published "
         f"{_pub(p['low'], p['decimals'])} - {tol:g}"),
        (got.max() <= p["high"] + tol,
         f"highest {_f(got.max())} at k = {high_k} vs published "
         f"{_pub(p['high'], p['decimals'])} + {tol:g}"),
        (best == p["best_k"], f"best k = {best} vs published {p['best_k']}"),
    ]
    whys = [f"{'ok' if ok else 'FAILS'}: {text}" for ok, text in checks]
    for variant in item.get("compare", []):
        s = ctx.seeds
        other = s[(s["kind"] == "knn") & (s["model"] == variant)
                  & (s["dataset"] == item["dataset"]) & (s["k"] == ks[0])]
        if len(other.dropna(subset=["accuracy"])):
            whys.append(f"{variant} at k = {ks[0]}: {_f(other['accuracy'].iloc[0])}")
    reason = "; ".join(whys)
    if len(got) < len(ks):
        reason = f"partial: {len(got)} of {len(ks)} values of k. " + reason
    return {**base, "measured": f"{_f(got.min())}-{_f(got.max())}, best at k = {best}",
            "measured_value": float(got.max()), "ci_low": np.nan, "ci_high": np.nan,
            "verdict": "reproduced" if all(ok for ok, _ in checks) else "not reproduced",
            "reason": reason}


def rule_speedup(item, ctx) -> dict:
    """One model at least ``published.ratio`` times faster per epoch than another."""
    fast = ctx.select(item, model=item["fast"])
    slow = ctx.select(item, model=item["slow"])
    rows = pd.concat([fast, slow])
    base = {**_base(item, ctx, rows), "interval": "",
            "published": f"time per epoch ratio {item['slow']}/{item['fast']} >= "
                         f"{item['published']['ratio']}",
            "published_value": item["published"]["ratio"]}
    res = _untested(base, rows, ctx)
    if res:
        return {**base, **res}
    fast, slow = fast[fast["status"] == "ok"], slow[slow["status"] == "ok"]
    ratios, parts = {}, []
    for fw in sorted(set(fast["framework"]) & set(slow["framework"])):
        f, s = fast[fast["framework"] == fw], slow[slow["framework"] == fw]
        ratios[fw] = s["seconds_per_epoch"].mean() / f["seconds_per_epoch"].mean()
        parts.append(f"{fw}: {_f(s['seconds_per_epoch'].mean())} s vs "
                     f"{_f(f['seconds_per_epoch'].mean())} s per epoch = {ratios[fw]:.2f}x; "
                     f"accuracy {_f(s['accuracy'].mean())} vs {_f(f['accuracy'].mean())}")
    if not ratios:
        return {**base, "verdict": "not tested",
                "reason": _partial(base, rows, "no framework has runs of both models")}
    low = min(ratios.values())
    passed = low >= item["published"]["ratio"]
    reason = (f"smallest ratio {low:.2f} {'>=' if passed else '<'} "
              f"{item['published']['ratio']}; " + "; ".join(parts))
    return {**base, "measured": "; ".join(f"{fw} {r:.2f}x" for fw, r in ratios.items()),
            "measured_value": low, "ci_low": np.nan, "ci_high": np.nan,
            "verdict": "reproduced" if passed else "not reproduced",
            "reason": _partial(base, rows, reason)}


def _curve_stats(history: pd.DataFrame, final_epochs: int) -> dict | None:
    h = history.dropna(subset=["test_loss"]).sort_values("epoch")
    if len(h) < 2:
        return None
    tail = h.tail(final_epochs)
    train_final, test_final = tail["loss"].mean(), tail["test_loss"].mean()
    return {
        "gap": test_final - train_final,
        "rise": test_final - h["test_loss"].min(),
        "falls": bool(train_final < h["loss"].iloc[0] and test_final < h["test_loss"].iloc[0]),
    }


def rule_curves(item, ctx) -> dict:
    """Training and test loss fall, end close together, and test loss does not rise.

    Per run, over the last ``final_epochs`` epochs with a test evaluation: the gap is
    mean test loss minus mean training loss, the rise is the final test loss minus its
    minimum over training. Reproduced when ``|mean gap| <= max_gap``, ``mean rise <=
    max_rise`` and both losses fell in every run.
    """
    rows = ctx.select(item)
    base = {**_base(item, ctx, rows), "published": "train and test loss converge; no "
            "over- or under-fitting", "published_value": np.nan}
    res = _untested(base, rows, ctx)
    if res:
        return {**base, **res}
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
        return {**base, "verdict": "not tested",
                "reason": "no run evaluated the test loss at two epochs or more"}
    per = pd.DataFrame(per)
    gap = describe(per["gap"], **ctx.kw)
    rise = per["rise"].mean()
    falls = int(per["falls"].sum())
    checks = [
        (abs(gap["mean"]) <= item["max_gap"],
         f"final gap (test - train loss) {_f(gap['mean'])} vs max {item['max_gap']}"),
        (rise <= item["max_rise"],
         f"test loss rise from its minimum {_f(rise)} vs max {item['max_rise']}"),
        (falls == len(per), f"both losses fell in {falls} of {len(per)} runs"),
    ]
    reason = "; ".join(f"{'ok' if c else 'FAILS'}: {t}" for c, t in checks)
    return {**base, "measured": f"gap {_f(gap['mean'])} +/- {_f(gap['sd'])}, rise {_f(rise)}",
            "measured_value": gap["mean"], "ci_low": gap["ci_low"], "ci_high": gap["ci_high"],
            "interval": ctx.label if gap["n"] > 1 else "", "n_runs": len(per),
            "verdict": "reproduced" if all(c for c, _ in checks) else "not reproduced",
            "reason": _partial(base, rows, reason)}


def rule_simpler(item, ctx) -> dict:
    """Model ``simple`` has fewer parameters, is faster per epoch and scores about as well.

    "About as well" is one-sided: ``simple`` may score higher, but not lower by more than
    ``max_accuracy_gap`` (a better score does not contradict "comparable accuracy").
    """
    a = ctx.select(item, model=item["simple"])
    b = ctx.select(item, model=item["reference"])
    rows = pd.concat([a, b])
    base = {**_base(item, ctx, rows), "interval": "", "published_value": np.nan,
            "published": f"{item['simple']} fewer parameters, faster, accuracy at most "
                         f"{item['max_accuracy_gap']} below {item['reference']}"}
    res = _untested(base, rows, ctx)
    if res:
        return {**base, **res}
    a, b = a[a["status"] == "ok"], b[b["status"] == "ok"]
    checks = []
    for fw in sorted(set(a["framework"]) & set(b["framework"])):
        fa, fb = a[a["framework"] == fw], b[b["framework"] == fw]
        pa, pb = fa["n_params"].iloc[0], fb["n_params"].iloc[0]
        ta, tb = fa["seconds_per_epoch"].mean(), fb["seconds_per_epoch"].mean()
        checks += [(pa < pb, f"{fw} parameters {int(pa)} vs {int(pb)}"),
                   (ta < tb, f"{fw} seconds per epoch {_f(ta)} vs {_f(tb)}")]
    if not checks:
        return {**base, "verdict": "not tested",
                "reason": _partial(base, rows, "no framework has runs of both models")}
    gap = a["accuracy"].mean() - b["accuracy"].mean()
    checks.append((gap >= -item["max_accuracy_gap"],
                   f"accuracy {_f(a['accuracy'].mean())} vs {_f(b['accuracy'].mean())} "
                   f"(difference {_f(gap)}, at least -{item['max_accuracy_gap']})"))
    reason = "; ".join(f"{'ok' if c else 'FAILS'}: {t}" for c, t in checks)
    return {**base, "measured": f"accuracy difference {_f(gap)}", "measured_value": gap,
            "ci_low": np.nan, "ci_high": np.nan,
            "verdict": "reproduced" if all(c for c, _ in checks) else "not reproduced",
            "reason": _partial(base, rows, reason)}


def rule_gap(item, ctx) -> dict:
    """A score under protocol ``to`` within ``max_gap`` of the same under ``from``."""
    metric = item["metric"]
    a = ctx.select(item, protocol=item["from"])
    b = ctx.select(item, protocol=item["to"])
    rows = pd.concat([a, b])
    p = item["published"]
    base = {**_base(item, ctx, rows), "protocol": f"{item['from']} vs {item['to']}",
            "published": f"{metric} {_pub(p['value'], p['decimals'])} ({item['from']}) "
                         f"holds under {item['to']}",
            "published_value": p["value"]}
    res = _untested(base, rows, ctx)
    a, b = a[a["status"] == "ok"], b[b["status"] == "ok"]
    if not res and (not len(a) or not len(b)):
        res = {"verdict": "not tested", "reason": _partial(
            base, rows, f"needs runs under both {item['from']} and {item['to']}")}
    if res:
        return {**base, **res}
    da, db = describe(a[metric], **ctx.kw), describe(b[metric], **ctx.kw)
    gap = da["mean"] - db["mean"]
    passed = gap <= item["max_gap"]
    extra = [f"{m}: {_f(a[m].mean())} vs {_f(b[m].mean())}" for m in item.get("also", [])]
    reason = (f"{metric} {_f(da['mean'])} ({item['from']}, n={da['n']}) vs {_f(db['mean'])} "
              f"({item['to']}, n={db['n']}): gap {_f(gap)} "
              f"{'<=' if passed else '>'} max {item['max_gap']}" +
              "".join(f"; {e}" for e in extra))
    return {**base, "measured": f"{metric} {_f(db['mean'])} under {item['to']} "
                                f"(gap {_f(gap)})",
            "measured_value": db["mean"], "ci_low": db["ci_low"], "ci_high": db["ci_high"],
            "interval": ctx.label if db["n"] > 1 else "",
            "verdict": "reproduced" if passed else "not reproduced",
            "reason": _partial(base, rows, reason)}


def rule_frameworks(item, ctx) -> dict:
    """Equal parameter counts and no significant accuracy difference between frameworks."""
    fw = ctx.frameworks
    rows = ctx.seeds[(ctx.seeds["kind"] == "train") & ctx.seeds["reported"]]
    base = {**_base({}, ctx, rows), "protocol": "every model and protocol run in both",
            "published": "same parameters; accuracies over seeds not told apart",
            "published_value": np.nan, "interval": "", "ci_low": np.nan, "ci_high": np.nan}
    if fw is None or fw.empty:
        return {**base, "verdict": "not tested",
                "reason": "no model was run in both frameworks"}
    alpha = ctx.cfg["alpha"]
    equal = int(fw.drop_duplicates(["dataset", "model"])["params_equal"].sum())
    pairs = len(fw.drop_duplicates(["dataset", "model"]))
    testable = fw[fw["testable"]]
    sig = testable[testable["significant"]]
    test = (f"Mann-Whitney U, two-sided, {ctx.cfg['p_adjust']}-adjusted over "
            f"{len(testable)} testable comparisons, alpha {alpha}")
    measured = (f"parameters equal in {equal} of {pairs} model pairs; {len(sig)} of "
                f"{len(testable)} testable comparisons differ")
    base.update(measured=measured, measured_value=float(len(sig)),
                n_runs=int(fw["n_torch"].sum() + fw["n_keras"].sum()))
    notes = [f"{r.dataset}/{r.model}/{r.protocol}: {r.n_torch} vs {r.n_keras} seeds, "
             f"p = {_f(r.p_value, 3)}, Cliff's delta {_f(r.cliffs_delta, 2)}"
             + ("" if r.testable else f" (cannot reach p <= {alpha}: min p {_f(r.min_p, 3)})")
             for r in fw.itertuples()]
    if not len(testable):
        return {**base, "verdict": "not tested",
                "reason": (f"parameters equal in {equal} of {pairs}; no comparison has "
                           f"enough seeds for {test.split(',')[0]} to reach p <= {alpha}. "
                           + "; ".join(notes))}
    passed = equal == pairs and len(sig) == 0
    reason = f"{test}. " + "; ".join(notes)
    return {**base, "verdict": "reproduced" if passed else "not reproduced",
            "reason": _partial(base, rows, reason)}


RULES = {
    "value": rule_value,
    "exact": rule_exact,
    "knn_range": rule_knn_range,
    "speedup": rule_speedup,
    "curves": rule_curves,
    "simpler": rule_simpler,
    "gap": rule_gap,
    "frameworks": rule_frameworks,
}


def evaluate_claims(seeds, history, frameworks, cfg: dict) -> pd.DataFrame:
    """One row per claim in ``cfg["items"]``, in config order (see :data:`COLUMNS`).

    Parameters
    ----------
    seeds : DataFrame
        :func:`ecgrepro.aggregate.tables.seed_table`.
    history : DataFrame
        Training histories with run identity (``Collected.history``).
    frameworks : DataFrame
        :func:`ecgrepro.aggregate.tables.frameworks_table`.
    cfg : dict
        Config ``claims``: ``interval``, ``tolerance``, ``min_runs``, ``alpha``,
        ``p_adjust``, ``items``.
    """
    ctx = _Ctx(seeds, history, frameworks, cfg)
    out = []
    ids = sorted(cfg["items"], key=lambda c: (int(c[1:]) if c[1:].isdigit() else 1 << 30, c))
    for claim_id in ids:
        item = cfg["items"][claim_id]
        rule = RULES[item["rule"]]
        row = {"claim_id": claim_id, "claim": item["statement"], "source": item["source"],
               "rule": item["rule"], "interval": "", "ci_low": np.nan, "ci_high": np.nan,
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
