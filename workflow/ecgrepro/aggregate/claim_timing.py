"""Verdict rules on speed: a speed-up (C5) and "simpler and faster" (C8).

Time comes only from the timing step's ``comparisons.csv`` (both arms in one job, same
data and code, alternated rounds, fixed threads; ``ratio`` is numerator over denominator
time with a bootstrap interval ``ratio_low..ratio_high``), never from the training runs'
``seconds_per_epoch``, which shared the machine with other jobs. Without it the verdict is
``not tested: no controlled timing``. The kernels each arm ran (``kernel_num``,
``kernel_den``) let a verdict say where a difference comes from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgrepro.aggregate.claim_base import (
    NO_TIMING,
    base,
    convergence_gate,
    convergence_note,
    f,
    partial,
    untested,
)

__all__ = ["rule_speedup", "rule_simpler"]


def _ratio_text(c: pd.Series) -> str:
    return (f"{float(c['ratio']):.2f}x [{float(c['ratio_low']):.2f}, "
            f"{float(c['ratio_high']):.2f}] (median {f(c['median_num_s'])} s vs "
            f"{f(c['median_den_s'])} s, {int(c['threads'])} thread(s), "
            # rounds_kept counts timed calls of both arms: one round times each arm once
            f"{int(c['rounds_kept'])} timed calls kept: 2 arms alternated over "
            f"{int(c['rounds_kept']) / 2:g} rounds)")


def _kernels(c: pd.Series) -> tuple[str, str]:
    num, den = c.get("kernel_num"), c.get("kernel_den")
    return ("" if pd.isna(num) else str(num)), ("" if pd.isna(den) else str(den))


def rule_speedup(item, ctx) -> dict:
    """Model ``slow`` at least ``published.ratio`` times slower per epoch than ``fast``.

    Read from the timing step's comparison ``<comparison>_<framework>`` (config
    ``comparison``, e.g. ``shuffle``: noshuffle over shuffle). Reproduced when every
    framework's interval lies at or above the published ratio, not reproduced when some
    interval lies below it, otherwise not tested (inconclusive). Accuracy of both models
    comes from the runs, as context.
    """
    fast = ctx.select(item, model=item["fast"])
    slow = ctx.select(item, model=item["slow"])
    rows = pd.concat([fast, slow])
    want = item["published"]["ratio"]
    fws = sorted(set(rows["framework"]))
    found = {fw: ctx.comparison(f"{item['comparison']}_{fw}") for fw in fws}
    found = {fw: c for fw, c in found.items() if c is not None}
    # the verdict rests on the timing step, not on training runs: count its comparisons
    b = {**base(item, rows), "interval": "", "ci_low": np.nan, "ci_high": np.nan,
         "published": f"time per epoch ratio {item['slow']}/{item['fast']} >= {want}",
         "published_value": want, "n_runs": 0, "n_expected": 0, "unreadable": 0,
         "complete": len(found) == len(fws)}
    fast_ok, slow_ok = fast[fast["status"] == "ok"], slow[slow["status"] == "ok"]
    acc = [f"{fw} accuracy {f(slow_ok[slow_ok['framework'] == fw]['accuracy'].mean())} vs "
           f"{f(fast_ok[fast_ok['framework'] == fw]['accuracy'].mean())}" for fw in fws]
    if not found:
        return {**b, "verdict": NO_TIMING,
                "reason": f"no comparison {item['comparison']}_<framework> from the timing "
                          f"step (comparisons.csv); time per epoch of training runs that "
                          f"shared the machine is not evidence. " + "; ".join(acc)}
    parts = [f"{fw}: {_ratio_text(c)}" for fw, c in found.items()]
    lows = {fw: float(c["ratio_low"]) for fw, c in found.items()}
    highs = {fw: float(c["ratio_high"]) for fw, c in found.items()}
    first = next(iter(found.values()))
    b.update(measured="; ".join(f"{fw} {float(c['ratio']):.2f}x" for fw, c in found.items()),
             measured_value=float(first["ratio"]), ci_low=float(first["ratio_low"]),
             ci_high=float(first["ratio_high"]),
             interval="95% bootstrap interval of the ratio of medians (timing step)")
    if all(v >= want for v in lows.values()):
        verdict, head = "reproduced", f"every interval at or above {want}"
    elif any(v < want for v in highs.values()):
        verdict, head = "not reproduced", f"an interval lies below {want}"
    else:
        verdict, head = "not tested", f"inconclusive: an interval straddles {want}"
    lacking = [fw for fw in fws if fw not in found]
    tail = f"; no controlled timing for {', '.join(lacking)}" if lacking else ""
    return {**b, "verdict": verdict,
            "reason": f"{head}; " + "; ".join(parts) + tail + "; no training run enters "
                      "the verdict (accuracy of the training runs, as context: "
                      + "; ".join(acc) + ")"}


def rule_simpler(item, ctx) -> dict:
    """Model ``simple`` has fewer parameters, is faster per epoch and scores about as well.

    Parameters from the runs; time from the timing step's ``<comparison>_<framework>``
    (``simple`` over ``reference`` time, e.g. ``gru_over_lstm``); accuracy from the runs,
    which must have converged. Every part must hold, and a gate applies only to the part
    that depends on it: a parameter or time part that fails gives ``not reproduced``
    whatever the convergence of the runs (the accuracy part alone waits for it).
    "About as well" is one-sided: ``simple`` may score higher,
    but not lower by more than ``max_accuracy_gap``. Where the two arms ran different
    kernels, the reason says the time difference comes from the kernel, not the cell.
    """
    a = ctx.select(item, model=item["simple"])
    r = ctx.select(item, model=item["reference"])
    rows = pd.concat([a, r])
    b = {**base(item, rows), "interval": "", "published_value": np.nan,
         "ci_low": np.nan, "ci_high": np.nan,
         "published": f"{item['simple']} fewer parameters, faster, accuracy at most "
                      f"{item['max_accuracy_gap']} below {item['reference']}"}
    res = untested(b, rows, ctx)
    if res:
        return {**b, **res}
    a, r = a[a["status"] == "ok"], r[r["status"] == "ok"]
    fws = sorted(set(a["framework"]) & set(r["framework"]))
    if not fws:
        return {**b, "verdict": "not tested",
                "reason": partial(b, rows, "no framework has runs of both models")}
    checks, kernel = [], []
    for fw in fws:
        pa = a[a["framework"] == fw]["n_params"].iloc[0]
        pr = r[r["framework"] == fw]["n_params"].iloc[0]
        checks.append((pa < pr, f"{fw} parameters {int(pa)} vs {int(pr)}"))
    timed = {fw: ctx.comparison(f"{item['comparison']}_{fw}") for fw in fws}
    timed = {fw: c for fw, c in timed.items() if c is not None}
    for fw, c in timed.items():
        faster = float(c["ratio_high"]) < 1
        checks.append((faster, f"{fw} time {item['simple']}/{item['reference']} "
                               f"{_ratio_text(c)}"))
        k_simple, k_ref = _kernels(c)
        if k_simple and k_ref and k_simple != k_ref:
            who = item["simple"] if float(c["ratio"]) < 1 else item["reference"]
            kernel.append(f"{who} faster in {fw} on CPU because of its kernel "
                          f"({item['simple']}: {k_simple}; "
                          f"{item['reference']}: {k_ref}), not the cell")
    gap = a["accuracy"].mean() - r["accuracy"].mean()
    checks.append((gap >= -item["max_accuracy_gap"],
                   f"accuracy {f(a['accuracy'].mean())} vs {f(r['accuracy'].mean())} "
                   f"(difference {f(gap)}, at least -{item['max_accuracy_gap']})"))
    reason = "; ".join(f"{'ok' if c else 'FAILS'}: {t}" for c, t in checks)
    if kernel:
        reason = "; ".join(kernel) + ". " + reason
    note = convergence_note(pd.concat([a, r]), ctx)
    if note:
        reason += "; " + note
    if not timed:
        reason += (f"; time: no comparison {item['comparison']}_<framework> from the timing "
                   f"step (training runs' time per epoch is not evidence)")
    out = {**b, "measured": f"accuracy difference {f(gap)}", "measured_value": gap}
    # Parameters and time do not depend on training converging: a failure there decides
    # the claim (every part must hold) whatever the convergence gate says.
    ungated = checks[:-1]
    failed = [t for c, t in ungated if not c]
    gate = convergence_gate(item, ctx, pd.concat([a, r]))
    if failed:
        extra = (f" The accuracy part is not judged: {gate['reason']}" if gate else "")
        return {**out, "verdict": "not reproduced",
                "reason": partial(b, rows, "fails on evidence no gate touches ("
                                  + "; ".join(failed) + "). " + reason + "." + extra)}
    if gate:
        return {**out, "verdict": gate["verdict"],
                "reason": partial(b, rows, gate["reason"] + ". Measured: " + reason)}
    if not timed:
        return {**out, "verdict": NO_TIMING, "reason": partial(b, rows, reason)}
    passed = all(c for c, _ in checks)
    return {**out, "verdict": "reproduced" if passed else "not reproduced",
            "reason": partial(b, rows, reason)}
