"""The manuscript's disclosures, each computed from the aggregate's tables.

What a hostile referee asks first: were the rules fixed before the runs
(``rules_history.csv``, claims.csv ``rules_changed_after_runs``), which runs came from a
changed tree, which were cut short, on what device and threads each timing was made,
what the MIT-BIH numbers hide, and how much training each run had
(``disclosures.csv``). :class:`Disclosures` is mixed into
:class:`~ecgrepro.aggregate.paper_views.Results`; it says nothing about a particular
release that the tables do not hold.
"""

from __future__ import annotations

import pandas as pd

from ecgrepro.aggregate.rules_disclosure import NO_HISTORY
from ecgrepro.aggregate.rules_history import HASH, claim_runs

__all__ = ["Disclosures"]


def _n(frame, col, value) -> int:
    return int((frame[col] == value).sum())


def _span(values) -> str:
    vals = sorted({int(v) for v in values if v not in ("", None)})
    if not vals:
        return "n/a"
    return str(vals[0]) if len(vals) == 1 else f"{vals[0]}-{vals[-1]}"


class Disclosures:
    """Mixin: needs ``self.table(name)``, ``self.config`` and ``md_table``."""

    # -- provenance line ----------------------------------------------------------
    def code_line(self) -> str:
        """The commits the runs came from (with counts) and their code digests, or that
        the code was not recorded."""
        runs = self.table("runs").drop_duplicates("run")
        counts = runs["commit"].str[:HASH].value_counts().sort_index()
        commits = ", ".join(f"{c} ({n} runs)" for c, n in counts.items() if c) or "unknown"
        recorded = (runs["code_digest"] if "code_digest" in runs.columns
                    else pd.Series("", index=runs.index))
        digests = sorted({d[:HASH] for d in recorded if d})
        code = (f"code digests {', '.join(digests)}" if digests else
                "the code itself was not recorded (no code digest)")
        missing = int((recorded == "").sum()) if digests else 0
        more = f"; {missing} runs without one" if missing else ""
        return f"runs from commits {commits}; {code}{more}"

    # -- rules fixed in advance? ------------------------------------------------------
    def rules_history_known(self) -> bool:
        """False where the aggregate had no git history to date the rules by."""
        return not (self.table("claims")["rules_changed_after_runs"] == NO_HISTORY).any()

    def rules_changed_claims(self) -> list[str]:
        c = self.table("claims")
        return [cid for cid, v in zip(c["claim_id"], c["rules_changed_after_runs"])
                if v and v != NO_HISTORY]

    def rules_history_table(self) -> str:
        h = self.table("rules_history")
        return self.md_table(pd.DataFrame({
            "what": h["what"], "commit": h["commit"], "date (UTC)": h["date"],
            "training runs before/after": h["train_runs_before"] + "/" + h["train_runs_after"],
            "k-NN runs before/after": h["knn_runs_before"] + "/" + h["knn_runs_after"],
            "changes": h["changes"],
        }))

    def claims_rules_table(self) -> str:
        c = self.table("claims")
        c = c[~c["rules_changed_after_runs"].isin(["", NO_HISTORY])]
        return self.md_table(pd.DataFrame({"claim": c["claim_id"], "verdict": c["verdict"],
                                           "rules changed after its runs by":
                                           c["rules_changed_after_runs"]}))

    # -- runs from a changed tree, runs cut short ----------------------------------------
    def dirty_text(self) -> str:
        d = self.table("disclosures")
        parts = []
        for kind, label in (("train", "training runs"), ("knn", "k-NN runs")):
            k = d[d["kind"] == kind]
            if len(k):
                parts.append(f"{_n(k, 'dirty', 'True')} of {len(k)} {label}")
        dirty = d[d["dirty"] == "True"]
        if dirty.empty:
            return "Every run was made from a clean working tree at its recorded commit."
        lost = int((dirty["diff_sha256"] == "").sum())
        text = (f"{' and '.join(parts)} were made from a working tree with uncommitted "
                f"changes (`dirty` in `disclosures.csv`).")
        if lost:
            text += (f" For {lost} of them no digest of the changes was recorded "
                     "(`diff_sha256` empty), so the code they ran cannot be recovered.")
        return text

    def cut_short(self) -> pd.DataFrame:
        """Training runs with fewer epochs than their protocol allows by default."""
        d = self.table("disclosures")
        d = d[(d["kind"] == "train") & (d["epochs_trained"] != "")
              & (d["epochs_default"] != "")]
        return d[d["epochs_trained"].astype(int) < d["epochs_default"].astype(int)]

    def cut_short_text(self, dataset: str | None = None) -> str:
        """The runs cut short (of ``dataset`` only, when given), grouped by protocol."""
        short = self.cut_short()
        if dataset:
            short = short[short["dataset"] == dataset]
        if short.empty:
            return "No run trained fewer epochs than its protocol allows."
        g = short.groupby(["protocol", "epochs_trained", "epochs_default"], sort=True)
        items = [f"{len(rows)} {p} runs ({', '.join(sorted(set(rows['model'])))}; "
                 f"{', '.join(sorted(set(rows['framework'])))}) trained {t} epochs where "
                 f"the default configuration allows {a}" for (p, t, a), rows in g]
        return ("Runs cut short: " + "; ".join(items) + ". Their verdicts rest on that "
                "budget; the convergence gate says whether it sufficed.")

    def protocol_epochs(self, name: str) -> str:
        """Epochs the runs of a protocol trained, beside its description."""
        d = self.table("disclosures")
        d = d[(d["protocol"] == name) & (d["kind"] == "train")]
        return f"its runs here: {_span(d['epochs_trained'])} epochs" if len(d) else ""

    def claim_scope(self) -> str:
        """Per claim: seeds and frameworks its runs cover (one seed, one framework: said)."""
        d = self.table("disclosures")
        items = self.config["claims"]["items"]
        out = []
        for cid in self.table("claims")["claim_id"]:
            runs = claim_runs(d, items.get(cid) or {})
            if runs.empty or (runs["kind"] == "knn").all():
                continue
            seeds, fws = sorted(set(runs["seed"])), sorted(set(runs["framework"]))
            if len(seeds) == 1 or len(fws) == 1:
                out.append(f"{cid} rests on {len(seeds)} seed{'s' * (len(seeds) > 1)} "
                           f"in {' and '.join(fws)}{' only' * (len(fws) == 1)}")
        return "; ".join(out)

    # -- device, threads, training budget ----------------------------------------------
    def device_text(self) -> str:
        d = self.table("disclosures")
        d = d[d["kind"] == "train"]
        dev = ", ".join(f"{v} ({n} runs)" for v, n in d["device"].value_counts()
                        .sort_index().items())
        thr = ", ".join(f"{v} ({n} runs)" for v, n in d["threads"].value_counts()
                        .sort_index().items())
        text = f"Training devices: {dev or 'n/a'}; threads: {thr or 'n/a'}."
        t = self.table("timing")
        if len(t):
            calls = sorted({int(float(k)) for k in t["rounds_kept"]})
            text += (f" The timing step ran each comparison on "
                     f"{_span(t['threads'])} thread(s), its two arms alternated over "
                     f"{', '.join(f'{c / 2:g}' for c in calls)} rounds "
                     f"({', '.join(map(str, calls))} timed calls kept).")
        return text

    def budget_table(self) -> str:
        d = self.table("disclosures")
        d = d[d["kind"] == "train"]
        if d.empty:
            return self.md_table(d)
        g = d.groupby(["dataset", "model", "framework", "protocol"], sort=True)
        return self.md_table(pd.DataFrame([{
            "dataset": k[0], "model": k[1], "framework": k[2], "protocol": k[3],
            "runs": len(r), "training cases": _span(r["n_train"]),
            "batch": _span(r["batch_size"]), "epochs": _span(r["epochs_trained"]),
            "gradient steps per run": _span(r["steps"]),
        } for k, r in g]))

    # -- MIT-BIH -------------------------------------------------------------------------
    def excluded_records_text(self) -> str:
        e = self.table("mitdb_excluded")
        if e.empty:
            return "No MIT-BIH record was left out."
        return ("Records left out (no segment on the configured lead): "
                + ", ".join(f"{r} (leads {l})" for r, l in zip(e["record"], e["leads"]))
                + ".")

    def mitdb_caveats(self) -> str:
        """DS2: classes never found in any cell, and the share of the largest classes."""
        m = self.table("mitdb_metrics")
        m = m[(m["split"] == "ds2") & (m["class"] != "macro")]
        if m.empty:
            return ""
        sens = m.assign(s=m["sensitivity"].map(lambda x: float(x) if x else float("nan")))
        cell = sens.groupby(["class", "model", "framework"])["s"].mean()
        # a class the models (almost) never find, in every model/framework cell
        zero = [c for c, s in cell.groupby("class") if (s < 0.01).all()]
        cells = cell.reset_index()[["model", "framework"]].drop_duplicates()
        one = m.drop_duplicates(["class"])  # support is the test set's: one seed suffices
        support = one.set_index("class")["support"].astype(int)
        share = (support / support.sum()).sort_values(ascending=False)
        top = share.cumsum()
        k = int((top < 0.8).sum()) + 1
        text = (f"On DS2, {' + '.join(share.index[:k])} are "
                f"{100 * top.iloc[k - 1]:.0f}% of the test beats' segments, so accuracy "
                f"there is mostly a score on {' vs '.join(share.index[:k])}.")
        if zero:
            worst = cell[cell.index.get_level_values("class").isin(zero)].max()
            text += (f" Sensitivity for {', '.join(zero)} is below 0.01 (at most "
                     f"{worst:.4f}, mean over seeds) in all {len(cells)} model/framework "
                     "cells: those classes are not recognised across patients.")
        return text
