"""Verdict rule ``sota``: is a model not significantly worse than the best published one?

Per dataset, over the resamples both have: the best published classifier is the one
with the highest mean over those resamples. The dataset *fails* when the model's
shortfall against it exceeds the practical ``margin`` significantly: a one-sided test
of H0 "shortfall <= margin", Wilcoxon signed-rank on ``best_i - ours_i - margin``
paired by resample where the splits are the same (:func:`~ecgrepro.aggregate.sota.
same_splits`), else Mann-Whitney U (unpaired, said so), p-values Holm-adjusted across
the datasets tested (config ``claims.p_adjust``) at ``claims.alpha``. Otherwise it
holds. A dataset with fewer than ``min_resamples`` shared resamples is not tested (the
count is given). The claim is reproduced when at least ``min_share`` of the tested
datasets hold.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ecgrepro.aggregate.claim_base import base, convergence_gate, f, partial, untested
from ecgrepro.aggregate.sota import NAMES, same_splits
from ecgrepro.aggregate.stats import holm

__all__ = ["rule_sota", "compare"]


def _test(best, ours, margin, paired) -> tuple[float, float]:
    """One-sided p-value of "shortfall > margin" and the smallest p these sizes allow."""
    if paired:
        d = best - ours - margin
        n = int((d != 0).sum())
        if n == 0:  # every shortfall exactly the margin: no evidence either way
            return 1.0, 1.0
        p = stats.wilcoxon(d, alternative="greater").pvalue
        return float(p), 0.5 ** n
    p = stats.mannwhitneyu(best - margin, ours, alternative="greater").pvalue
    return float(p), 1.0 / math.comb(len(best) + len(ours), len(ours))


def compare(ours, published, classes, *, margin, alpha, min_resamples,
            adjust="holm") -> list[dict]:
    """One dict per dataset of ``ours`` (resample -> accuracy): the comparison and why.

    Parameters
    ----------
    ours : DataFrame
        :func:`~ecgrepro.aggregate.sota.ours_per_resample` of the claim's model.
    published : DataFrame
        :func:`~ecgrepro.aggregate.published.load_published`'s frame.
    classes : dict
        ``{dataset: class labels in code order}`` (the split check).
    """
    out = []
    for dataset, g in ours.groupby("dataset", sort=True):
        mine = g.set_index("resample")["accuracy"]
        pub = published[published["dataset"] == dataset]
        res = {"dataset": dataset, "n": 0, "tested": False, "holds": None, "p": np.nan}
        common = sorted(set(mine.index) & set(pub["resample"]))
        res["n"] = len(common)
        if not len(pub):
            res["why"] = f"{dataset}: no published results in aeon's files"
        elif len(common) < min_resamples:
            mine_ids = sorted(mine.index)
            which = ("resample 0, the archive split" if mine_ids == [0] else
                     "resamples " + ", ".join(map(str, mine_ids)))
            res["why"] = (f"{dataset}: {g['classifier'].iloc[0]} ran on {len(mine_ids)} "
                          f"split(s) ({which}; {int(g['runs'].sum())} runs), the bake-off "
                          f"on {pub['resample'].nunique()}; {len(common)} shared, fewer "
                          f"than min_resamples = {min_resamples}")
        else:
            wide = pub[pub["resample"].isin(common)].pivot(
                index="resample", columns="classifier", values="accuracy")
            best = wide.mean().sort_index().idxmax()
            paired, how = same_splits(classes.get(dataset))
            a, b = wide[best].to_numpy(float), mine.loc[common].to_numpy(float)
            p, min_p = _test(a, b, margin, paired)
            res.update(tested=True, p=p, min_p=min_p, best=best, shortfall=a.mean() - b.mean(),
                       text=(f"{dataset}: {f(b.mean())} vs {best} {f(a.mean())} over "
                             f"{len(common)} {'paired' if paired else 'unpaired'} resamples "
                             f"({how}), shortfall {f(a.mean() - b.mean())}"))
        out.append(res)
    tested = [r for r in out if r["tested"]]
    p_adj = holm([r["p"] for r in tested]) if adjust == "holm" else [r["p"] for r in tested]
    for r, q in zip(tested, p_adj):
        r["p_adjusted"], r["holds"] = float(q), bool(q >= alpha)
        floor = (f"; these sizes cannot give p below {r['min_p']:.3g}"
                 if r["min_p"] >= alpha else "")
        r["why"] = (f"{r['text']}: one-sided p = {r['p']:.3g} (adjusted {q:.3g}) that it "
                    f"falls more than {margin:g} short{floor} -> "
                    + ("holds" if r["holds"] else "falls short"))
    return out


def rule_sota(item, ctx) -> dict:
    """The model against the best published classifier, dataset by dataset."""
    rows = ctx.select(item)
    b = base(item, rows)
    sota = ctx.sota or {}
    names = ", ".join(item["published_estimators"])
    b["published"] = (f"best of {names} per dataset (Middlehurst et al. 2024, aeon's "
                      "results files); not significantly worse by more than "
                      f"{item['margin']:g}")
    res = untested(b, rows, ctx)
    if res:
        return {**b, **res}
    ok = rows[rows["status"] == "ok"]
    gate = convergence_gate(item, ctx, ok)
    if gate:
        return {**b, **gate, "reason": partial(b, rows, gate["reason"])}
    ours = sota.get("ours")
    if ours is None or sota.get("published") is None:
        return {**b, "verdict": "not tested", "reason": "no published results were read: "
                + (sota.get("error") or "no rule-sota inputs")}
    model = NAMES.get(item["model"], item["model"])
    res = compare(ours[ours["classifier"] == model], sota["published"],
                  sota.get("classes", {}), margin=item["margin"], alpha=ctx.cfg["alpha"],
                  min_resamples=item["min_resamples"], adjust=ctx.cfg["p_adjust"])
    tested = [r for r in res if r["tested"]]
    whys = "; ".join(r["why"] for r in res)
    if not tested:
        return {**b, "measured": f"0 of {len(res)} datasets testable",
                "verdict": "not tested",
                "reason": partial(b, rows, f"too few resamples on every dataset: {whys}")}
    held = sum(r["holds"] for r in tested)
    need = float(item.get("min_share", 1.0))
    return {**b, "measured": f"{held} of {len(tested)} datasets hold",
            "measured_value": held / len(tested),
            "verdict": "reproduced" if held >= need * len(tested) else "not reproduced",
            "reason": partial(b, rows, f"{held} of {len(tested)} tested datasets hold "
                              f"(needed: {need:g} of them); {whys}")}
