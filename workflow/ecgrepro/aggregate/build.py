"""The ``aggregate`` step: run directories in, tables and figures out.

:func:`build` reads the expected runs (:mod:`~ecgrepro.aggregate.collect`), derives the
seed-level table, summaries, MIT-BIH metrics, the framework comparison and the claim
verdicts (:mod:`~ecgrepro.aggregate.tables`, :mod:`~ecgrepro.aggregate.claims`), and
writes every file named in :mod:`~ecgrepro.aggregate.outputs`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ecgrepro.aggregate import figures
from ecgrepro.aggregate.claims import evaluate_claims
from ecgrepro.aggregate.collect import collect, parse_run_dir
from ecgrepro.aggregate.tables import (
    frameworks_table,
    mitdb_tables,
    seed_table,
    summary_table,
)
from ecgrepro.aggregate.write import latex, markdown, write_csv, write_parquet, write_text

log = logging.getLogger("ecgrepro")

__all__ = ["build", "reported_rules", "RUN_COLUMNS"]

RUN_COLUMNS = [
    "kind", "dataset", "model", "framework", "protocol", "split", "seed", "k", "checkpoint",
    "reported", "selects_on_test", "run", "n_test", "accuracy", "balanced_accuracy",
    "macro_sensitivity", "macro_specificity", "macro_ppv", "macro_f1",
]
RUN_TAIL = [
    "epochs", "epoch", "train_seconds", "predict_seconds", "seconds_per_epoch",
    "first_epoch_seconds", "job_seconds", "max_rss_mb", "n_params", "n_params_trainable",
    "device", "commit", "dirty", "diff_sha256", "settings_digest",
]
MITDB_METRIC_COLUMNS = ["model", "framework", "protocol", "checkpoint", "seed", "split",
                        "class", "support", "sensitivity", "specificity", "ppv", "f1",
                        "accuracy"]
MITDB_CONFUSION_COLUMNS = ["model", "framework", "protocol", "checkpoint", "seed", "split",
                           "true", "pred", "count"]


def reported_rules(protocols: dict, names) -> dict:
    """``{protocol: the checkpoint rule it reports}`` from the presets and config overrides."""
    from ecgrepro.training.presets import PRESETS, get_protocol

    out = {}
    for name in sorted(names):
        if name in PRESETS:
            out[name] = get_protocol(name, **(protocols.get(name) or {})).checkpoint
    return out


def _runs_frame(runs: pd.DataFrame) -> pd.DataFrame:
    if runs.empty:
        return pd.DataFrame(columns=RUN_COLUMNS + RUN_TAIL)
    per_class = [c for c in runs.columns if c.startswith(("sensitivity_", "specificity_"))]
    cols = RUN_COLUMNS + per_class + RUN_TAIL
    for c in cols:
        if c not in runs:
            runs[c] = pd.NA
    out = runs[cols].copy()
    for c in ("epochs", "epoch", "n_params", "n_params_trainable", "n_test"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("Int64")
    out["dirty"] = out["dirty"].astype("boolean")
    return out


def _interval(row) -> str:
    if pd.isna(row["ci_low"]):
        return ""
    return f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"


def summary_views(summary: pd.DataFrame) -> pd.DataFrame:
    """The accuracy rows of the summary (k-NN at k = 1), as text for Markdown/LaTeX."""
    if summary.empty:
        return pd.DataFrame(columns=["dataset", "model", "framework", "protocol",
                                     "checkpoint", "runs", "mean +/- sd", "interval",
                                     "min-max", "missing"])
    s = summary[(summary["metric"] == "accuracy")
                & ((summary["kind"] == "train") | (summary["k"] == 1))]
    return pd.DataFrame({
        "dataset": s["dataset"], "model": s["model"], "framework": s["framework"],
        "protocol": s["protocol"] + s["k"].map(lambda k: "" if pd.isna(k) else f" k={int(k)}"),
        "checkpoint": s["checkpoint"].fillna("").astype(str)
        + s["selects_on_test"].map(lambda t: " (test-selected)" if t else ""),
        "runs": s["n_runs"].astype(str) + "/" + s["n_expected"].astype(str),
        "mean +/- sd": [f"{m:.4f} +/- {sd:.4f}" if sd == sd else f"{m:.4f}" if m == m
                        else "" for m, sd in zip(s["mean"], s["sd"])],
        "interval": s.apply(_interval, axis=1),
        "min-max": [f"{a:.4f}-{b:.4f}" if a == a else "" for a, b in zip(s["min"], s["max"])],
        "missing": s["missing"],
    }).reset_index(drop=True)


def claims_view(claims: pd.DataFrame) -> pd.DataFrame:
    """claims.csv as text for Markdown/LaTeX."""
    return pd.DataFrame({
        "claim": claims["claim_id"], "statement": claims["claim"],
        "published": claims["published"], "measured": claims["measured"].fillna(""),
        "interval": claims.apply(_interval, axis=1),
        "runs": claims["n_runs"].astype("Int64").astype(str) + "/"
        + claims["n_expected"].astype("Int64").astype(str),
        "verdict": claims["verdict"], "reason": claims["reason"],
    })


def build(expected, *, benchmarks, scan_roots, claims_cfg: dict, protocols: dict,
          tables_dir, figures_dir, draw: bool = True) -> dict:
    """Aggregate the expected runs and write every table and figure.

    Parameters
    ----------
    expected : list of str
        Run directories the configuration expects (training and k-NN).
    benchmarks : str or Path
        Root of Snakemake's benchmark TSVs.
    scan_roots : list of str
        Where runs live (``results/runs``, ``results/knn``), to list unexpected ones.
    claims_cfg : dict
        Config ``claims``.
    protocols : dict
        Config ``protocols`` (overrides of the presets).
    tables_dir, figures_dir : str or Path
        Output folders.
    draw : bool
        Draw the figures (False: tables only, for a quick look).

    Returns
    -------
    dict
        The main frames, keyed by table name (for tests and the log).
    """
    tables, figs = Path(tables_dir), Path(figures_dir)
    ids = [parse_run_dir(p) for p in expected]
    col = collect(expected, benchmarks, scan_roots)
    rules = reported_rules(protocols, {r.protocol for r in ids if r.kind == "train"})
    seeds = seed_table(col, ids, rules)
    summary = summary_table(seeds, claims_cfg["interval"])
    mitdb_metrics, mitdb_confusion = mitdb_tables(col, seeds)
    frameworks = frameworks_table(seeds, claims_cfg["alpha"], claims_cfg["p_adjust"])
    claims = evaluate_claims(seeds, col.history, frameworks, claims_cfg)
    missing = col.status[col.status["status"] != "ok"].reset_index(drop=True)
    runs = _runs_frame(col.runs)
    mitdb_metrics = mitdb_metrics if len(mitdb_metrics) else pd.DataFrame(
        columns=MITDB_METRIC_COLUMNS)
    mitdb_confusion = mitdb_confusion if len(mitdb_confusion) else pd.DataFrame(
        columns=MITDB_CONFUSION_COLUMNS)

    write_csv(runs, tables / "runs.csv")
    write_parquet(runs, tables / "runs.parquet")
    write_csv(seeds, tables / "seeds.csv")
    write_csv(summary, tables / "summary.csv")
    write_csv(mitdb_metrics, tables / "mitdb_metrics.csv")
    write_csv(mitdb_confusion, tables / "mitdb_confusion.csv")
    write_csv(frameworks, tables / "frameworks.csv")
    write_csv(claims, tables / "claims.csv")
    write_csv(missing, tables / "missing.csv")
    write_csv(col.software, tables / "software.csv")
    write_csv(col.settings, tables / "settings.csv")
    view = summary_views(summary)
    write_text(tables / "summary.md", markdown(view))
    write_text(tables / "summary.tex", latex(
        view, "lllllrllll", "Test accuracy over seeds per configuration.", "tab:summary"))
    cview = claims_view(claims)
    write_text(tables / "claims.md", markdown(cview))
    write_text(tables / "claims.tex", latex(
        cview, "lp{3cm}p{2cm}p{2.5cm}lrlp{5cm}", "Claims and verdicts.", "tab:claims"))

    if draw:
        _draw(seeds, col.history, mitdb_confusion, figs)
    n_ok = int((col.status["status"] == "ok").sum())
    log.info("aggregated %d of %d expected runs; %d missing or unexpected (missing.csv)",
             n_ok, len(ids), len(missing))
    for row in claims.itertuples():
        log.info("%s: %s", row.claim_id, row.verdict)
    return {"runs": runs, "seeds": seeds, "summary": summary, "claims": claims,
            "frameworks": frameworks, "missing": missing, "mitdb_metrics": mitdb_metrics,
            "mitdb_confusion": mitdb_confusion}


def _draw(seeds, history, mitdb_confusion, figs: Path) -> None:
    figures.plot_accuracy(seeds, figs / "accuracy_by_seed.png", figs / "accuracy_by_seed.pdf")
    figures.plot_curves(history, figs / "training_curves.png", figs / "training_curves.pdf")
    figures.plot_confusion(mitdb_confusion, figs / "mitdb_confusion.png",
                           figs / "mitdb_confusion.pdf")
    figures.plot_time(seeds, figs / "time_per_epoch.png", figs / "time_per_epoch.pdf")
    figures.plot_intra_inter(seeds, figs / "intra_vs_inter.png", figs / "intra_vs_inter.pdf")
