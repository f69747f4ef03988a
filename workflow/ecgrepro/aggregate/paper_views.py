"""Views of the aggregate's tables for the manuscript (Markdown tables, small lookups).

Each method of :class:`Results` reads ``results/tables/*.csv`` (as text, so numbers
print exactly as the tables hold them unless a view rounds them) or the workflow config
for Methods; the template ``paper/paper.md.j2`` calls them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ecgrepro.aggregate.paper_disclosures import Disclosures
from ecgrepro.aggregate.stats import interval_label
from ecgrepro.errors import EcgreproError

__all__ = ["Results", "md_table"]


def md_table(frame: pd.DataFrame) -> str:
    """A GitHub pipe table of text cells (``|`` escaped); a note when empty."""
    if frame.empty:
        return "*(no rows)*"
    text = frame.fillna("").astype(str).map(lambda s: s.replace("|", "\\|").replace("\n", " "))
    return text.to_markdown(index=False, tablefmt="pipe", disable_numparse=True)


def _num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _f4(x) -> str:
    v = _num(x)
    return "" if v != v else f"{v:.4f}"


class Results(Disclosures):
    """The tables and figures under ``results/``, and the config, as the template sees them.

    Parameters
    ----------
    tables, figures : Path
        ``results/tables`` and ``results/figures``.
    config : dict
        The workflow config.
    md_dir : Path
        Where the Markdown is written (figure links are relative to it).
    """

    md_table = staticmethod(md_table)

    def __init__(self, tables: Path, figures: Path, config: dict, md_dir: Path):
        self.tables, self.figures, self.config, self.md_dir = tables, figures, config, md_dir
        self._cache: dict = {}

    # -- raw access ----------------------------------------------------------------
    def table(self, name: str) -> pd.DataFrame:
        """``results/tables/<name>.csv`` as text cells."""
        if name not in self._cache:
            path = self.tables / f"{name}.csv"
            if not path.is_file():
                raise EcgreproError(f"paper: {path} is missing; run `snakemake aggregate`")
            self._cache[name] = pd.read_csv(path, dtype=str, keep_default_na=False)
        return self._cache[name]

    def rows(self, name: str, **where) -> list[dict]:
        """Rows of a table whose columns equal ``where`` (compared as text)."""
        t = self.table(name)
        for k, v in where.items():
            t = t[t[k] == str(v)]
        return t.to_dict("records")

    def claim(self, claim_id: str) -> dict:
        rows = self.rows("claims", claim_id=claim_id)
        if len(rows) != 1:
            raise EcgreproError(f"paper: claims.csv has {len(rows)} rows for {claim_id}")
        return rows[0]

    def figure(self, name: str, caption: str) -> str:
        """A Markdown image of ``results/figures/<name>.png`` with its caption."""
        png = self.figures / f"{name}.png"
        if not png.is_file():
            raise EcgreproError(f"paper: figure {png} is missing; run `snakemake aggregate`")
        rel = Path(os.path.relpath(png.resolve(), self.md_dir.resolve())).as_posix()
        return f"![{caption}]({rel})\n\n*{caption}*"

    # -- numbers for the text --------------------------------------------------------
    def verdict_counts(self) -> dict:
        # "not tested: not converged" etc. count as not tested
        verdicts = self.table("claims")["verdict"].str.split(":").str[0]
        counts = verdicts.value_counts()
        return {v: int(counts.get(v, 0)) for v in ("reproduced", "not reproduced",
                                                   "not tested")}

    def source_counts(self) -> dict:
        """Claims per source class (paper, blog, implicit, project), in that order."""
        c = self.table("claims")
        col = c["source_class"] if "source_class" in c else pd.Series([""] * len(c))
        counts = col.value_counts()
        return {k: int(counts.get(k, 0)) for k in ("paper", "blog", "implicit", "project")}

    def evidence_counts(self) -> dict:
        """Claims per kind of evidence their verdict rests on (claims.csv)."""
        c = self.table("claims")
        if "verdict_rests_on" not in c:
            return {}
        return {k: int(v) for k, v in c["verdict_rests_on"].value_counts(sort=False).items()}

    def commits(self) -> str:
        runs = self.table("runs")
        commits = sorted({c[:10] for c in runs["commit"] if c})
        return ", ".join(commits) or "unknown"

    def n_runs(self) -> dict:
        status = self.table("missing")
        runs = self.table("runs")
        return {"present": runs["run"].nunique(),
                "missing": int((status["status"] != "unexpected").sum()),
                "unexpected": int((status["status"] == "unexpected").sum())}

    def interval_text(self) -> str:
        iv = self.config["claims"]["interval"]
        return interval_label(iv["method"], iv["level"], iv["n_boot"], iv["seed"])

    def test_sizes(self) -> str:
        runs = self.table("runs")
        sizes = runs[runs["split"].isin(["test", "ds2"])].drop_duplicates(["dataset", "split"])
        return "; ".join(f"{r['dataset']} {r['split']}: {r['n_test']} cases"
                         for _, r in sizes.iterrows()) or "no runs"

    # -- tables -------------------------------------------------------------------------
    def claims_table(self) -> str:
        c = self.table("claims")
        return md_table(pd.DataFrame({
            "claim": c["claim_id"], "statement": c["claim"], "published": c["published"],
            "measured": c["measured"],
            "interval": [f"[{_f4(a)}, {_f4(b)}]" if a else "" for a, b in
                         zip(c["ci_low"], c["ci_high"])],
            "runs": c["n_runs"] + "/" + c["n_expected"], "verdict": "**" + c["verdict"] + "**",
        }))

    def summary_table(self, kind: str = "train") -> str:
        s = self.table("summary")
        s = s[(s["metric"] == "accuracy") & (s["kind"] == kind)]
        if kind == "knn":
            s = s[s["k"] == "1"]
        return md_table(pd.DataFrame({
            "dataset": s["dataset"], "model": s["model"], "framework": s["framework"],
            "protocol": s["protocol"],
            "checkpoint": s["checkpoint"] + s["selects_on_test"].map(
                {"True": " (test-selected)", "False": ""}),
            "runs": s["n_runs"] + "/" + s["n_expected"],
            "mean": s["mean"].map(_f4), "sd": s["sd"].map(_f4),
            "interval": [f"[{_f4(a)}, {_f4(b)}]" if a else "" for a, b in
                         zip(s["ci_low"], s["ci_high"])],
            "min": s["min"].map(_f4), "max": s["max"].map(_f4),
        }))

    def mitdb_class_table(self) -> str:
        """Per-class scores, mean over seeds, of the pooled ten-fold and DS2 evaluations.

        A class a seed never predicted has PPV 0/0; it counts as 0 in the mean, as in
        the macro PPV (``ppv undefined``: in how many seeds), so the two agree.
        """
        m = self.table("mitdb_metrics")
        m = m[m["split"].isin(["pooled", "ds2"])].copy()
        if m.empty:
            return md_table(m)
        for c in ("sensitivity", "specificity", "ppv", "f1"):
            m[c] = m[c].map(_num)
        undefined = m["ppv_undefined"].map(_num).fillna(0) > 0
        m.loc[undefined, "ppv"] = 0.0
        m["ppv undefined"] = undefined.astype(int)
        keys = ["model", "framework", "protocol", "class"]
        g = m.groupby(keys, sort=False)[["sensitivity", "specificity", "ppv", "f1"]].mean()
        n = m.groupby(keys, sort=False)["seed"].nunique().rename("seeds")
        u = m.groupby(keys, sort=False)["ppv undefined"].sum()
        g = g.join(n).join(u).reset_index()
        for c in ("sensitivity", "specificity", "ppv", "f1"):
            g[c] = g[c].map(_f4)
        return md_table(g)

    def frameworks_table(self) -> str:
        f = self.table("frameworks")
        return md_table(pd.DataFrame({
            "dataset": f["dataset"], "model": f["model"], "protocol": f["protocol"],
            "seeds (torch/keras)": f["n_torch"] + "/" + f["n_keras"],
            "mean torch": f["mean_torch"].map(_f4), "mean keras": f["mean_keras"].map(_f4),
            # C10 rests on the equivalence test; the difference test is context
            "TOST interval": "[" + f["eq_low"].map(_f4) + ", " + f["eq_high"].map(_f4) + "]",
            "equivalent": f["equivalent"],
            "U": f["u"], "p": f["p_value"], "p adjusted": f["p_adjusted"],
            "Cliff's delta": f["cliffs_delta"].map(_f4),
            "params torch/keras": f["params_torch"] + "/" + f["params_keras"],
        }))

    def missing_table(self) -> str:
        return md_table(self.table("missing"))

    def sota_table(self) -> str:
        """sota.csv: our models beside the published state of the art (claim C11)."""
        t = self.table("sota")
        return md_table(pd.DataFrame({
            "dataset": t["dataset"], "classifier": t["classifier"],
            "resamples": t["resamples"],
            "mean +/- sd": t["mean"].map(_f4) + t["sd"].map(
                lambda s: f" +/- {_f4(s)}" if s else ""),
            "interval": [f"[{_f4(a)}, {_f4(b)}]" if a else "" for a, b in
                         zip(t["ci_low"], t["ci_high"])],
            "shared resamples: mean (n)": t["shared_mean"].map(_f4) + " ("
            + t["shared_resamples"] + ")",
            "rank": t["rank"], "runs (ours)": t["seeds"],
        }))

    def sota_sources(self) -> str:
        """Where each published row comes from: file, aeon version, SHA-256."""
        t = self.table("sota")
        pub = t[~t["source"].str.startswith("this project")].drop_duplicates("classifier")
        return "; ".join(f"{r['classifier']}: {r['source'].split(': ', 1)[-1]}"
                         for _, r in pub.iterrows()) or "none read"

    def software_table(self) -> str:
        return md_table(self.table("software"))

    def protocol_table(self) -> str:
        """Every protocol field as the runs recorded it: fields in rows, protocols in
        columns (several values: the runs differed)."""
        s = self.table("settings")
        s = s[(s["scope"] == "protocol") & (s["field"] != "description")]
        if s.empty:
            return md_table(s)
        cell = s.groupby(["field", "name"], sort=True)["value"].agg(" / ".join)
        wide = cell.unstack("name").fillna("").reset_index()
        return md_table(wide)

    def protocol_descriptions(self) -> list[tuple[str, str]]:
        s = self.table("settings")
        s = s[(s["scope"] == "protocol") & (s["field"] == "description")]
        return [(r["name"], json.loads(r["value"])) for _, r in s.iterrows()]

    def model_table(self) -> str:
        """Models from the config, with parameter counts from the runs."""
        runs = self.table("runs")
        rows = []
        for name, spec in self.config["models"].items():
            sel = runs[(runs["kind"] == "train") & (runs["model"] == name)]
            params = sorted({f"{r['framework']} {r['n_params']}" for _, r in
                             sel.drop_duplicates(["dataset", "framework"]).iterrows()})
            rows.append({"model": name,
                         "configuration": ", ".join(f"{k}={v}" for k, v in spec.items()),
                         "parameters (framework, from runs)": "; ".join(params) or "not run"})
        return md_table(pd.DataFrame(rows))

    def experiments_table(self) -> str:
        rows = [{"datasets": ", ".join(e["datasets"]), "models": ", ".join(e["models"]),
                 "frameworks": ", ".join(e["frameworks"]),
                 "protocols": ", ".join(e["protocols"]), "seeds": e["seeds"]}
                for e in self.config["experiments"]]
        return md_table(pd.DataFrame(rows))
