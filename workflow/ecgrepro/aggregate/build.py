"""The ``aggregate`` step: run directories in, tables and figures out.

:func:`build` reads the expected runs (:mod:`~ecgrepro.aggregate.collect`), derives the
seed-level table, summaries, MIT-BIH metrics, the framework comparison and the claim
verdicts (:mod:`~ecgrepro.aggregate.tables`, :mod:`~ecgrepro.aggregate.claims`), the
k-NN accuracy table and the timing step's comparisons, and writes every table named in
:mod:`~ecgrepro.aggregate.outputs`. :func:`draw_figures` draws the figures from those
tables afterwards (the workflow's ``figures`` rule), so a figure that fails never costs a
table.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ecgrepro.aggregate import figures, sota_figures
from ecgrepro.aggregate import timing as timing_views
from ecgrepro.aggregate.aami import aami_table
from ecgrepro.aggregate.cases import CaseStore
from ecgrepro.aggregate.claims import evaluate_claims
from ecgrepro.aggregate.collect import collect, parse_run_dir, unreadable_runs
from ecgrepro.aggregate.knn import COLUMNS as KNN_COLUMNS
from ecgrepro.aggregate.knn import UCR_REFERENCES, knn_table, plot_knn
from ecgrepro.aggregate.disclosure import disclosure_table, excluded_records
from ecgrepro.aggregate.outputs import FIGURES
from ecgrepro.aggregate.sota import sota_inputs, write_sota
from ecgrepro.aggregate.rules_disclosure import rules_tables
from ecgrepro.aggregate.tables import (
    add_convergence,
    frameworks_table,
    mitdb_tables,
    seed_table,
    summary_table,
)
from ecgrepro.aggregate.write import latex, markdown, write_csv, write_parquet, write_text
from ecgrepro.convergence import describe_criterion
from ecgrepro.errors import EcgreproError

log = logging.getLogger("ecgrepro")

__all__ = ["build", "draw_figures", "read_table", "reported_rules", "RUN_COLUMNS"]

RUN_COLUMNS = [
    "kind", "dataset", "model", "framework", "protocol", "split", "seed", "k", "checkpoint",
    "reported", "selects_on_test", "run", "n_test", "accuracy", "balanced_accuracy",
    "macro_sensitivity", "macro_specificity", "macro_ppv", "ppv_undefined", "macro_f1",
]
RUN_TAIL = [
    "epochs", "epoch", "train_seconds", "predict_seconds", "seconds_per_epoch",
    "first_epoch_seconds", "job_seconds", "max_rss_mb", "n_params", "n_params_trainable",
    "device", "commit", "dirty", "diff_sha256", "settings_digest", "code_digest",
    "code_current", "rules_digest",
]
MITDB_METRIC_COLUMNS = ["model", "framework", "protocol", "checkpoint", "seed", "split",
                        "class", "support", "sensitivity", "specificity", "ppv", "f1",
                        "accuracy", "ppv_undefined"]
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
    for c in ("epochs", "epoch", "n_params", "n_params_trainable", "n_test",
              "ppv_undefined"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("Int64")
    out["dirty"] = out["dirty"].astype("boolean")
    out["code_current"] = out["code_current"].astype("boolean")
    return out


def mark_unreadable(seeds: pd.DataFrame, ids, unreadable: dict) -> pd.DataFrame:
    """Seed rows built on a run that exists but cannot be read: status ``unreadable``
    and the reason (file, what is wrong, what to do) as note, instead of "no run".

    The claims read this status (``claims.unreadable``) and say so in claims.csv.
    """
    if not unreadable or seeds.empty:
        return seeds
    seeds = seeds.copy()
    for run in ids:
        reason = unreadable.get(run.name)  # "<file> is unreadable (<why>), so ..."
        if reason is None:
            continue
        hit = ((seeds["kind"] == run.kind) & (seeds["dataset"] == run.dataset)
               & (seeds["model"] == run.model) & (seeds["status"] != "ok"))
        if run.kind == "train":
            hit &= ((seeds["framework"] == run.framework) & (seeds["protocol"] == run.protocol)
                    & (seeds["seed"] == run.seed))
        for i in seeds.index[hit]:
            note = seeds.at[i, "note"]
            prior = "" if seeds.at[i, "status"] == "missing" or pd.isna(note) else f"{note}; "
            seeds.at[i, "status"] = "unreadable"
            seeds.at[i, "note"] = f"{prior}{reason.split(', so this run')[0]}"
    return seeds


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
        # The CSV keeps the three verdicts; the readable views say when one rests on
        # fewer runs than configured because a run could not be read.
        "verdict": claims["verdict"] + claims["unreadable"].map(
            lambda u: " (incomplete)" if u else ""),
        "reason": claims["reason"],
    })


def read_timing(timing_dir) -> pd.DataFrame | None:
    """The timing step's ``comparisons.csv`` under ``timing_dir``, or None when absent."""
    if not timing_dir:
        return None
    path = Path(timing_dir) / "comparisons.csv"
    if not path.is_file():
        log.info("no %s: speed claims read 'not tested: no controlled timing'", path)
        return None
    return timing_views.read_comparisons(path)  # a file lacking columns: a clear error


def build(expected, *, benchmarks, scan_roots, claims_cfg: dict, protocols: dict,
          tables_dir, figures_dir, draw: bool = True, convergence_cfg: dict,
          timing_dir=None, knn_table: bool = True, data_dir=None,
          published_dir=None, history=None,
          default_protocols: dict | None = None) -> dict:
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
    convergence_cfg : dict
        Config ``convergence`` (:func:`ecgrepro.convergence.assess`).
    timing_dir : str or Path, optional
        The timing step's folder; its ``comparisons.csv`` feeds the speed claims and the
        framework speed columns (absent: "not tested: no controlled timing").
    tables_dir, figures_dir : str or Path
        Output folders.
    draw : bool
        Draw the figures (False: tables only, for a quick look).
    data_dir : str or Path, optional
        The prepared data (``<data_dir>/ucr/<name>/summary.json``: class labels, for the
        check that our resamples are the bake-off's).
    published_dir : str or Path, optional
        Published results laid out as aeon's (default: the files aeon installs).
    history : tuple, optional
        ``(rule versions, verdict-code commits)`` from git
        (:mod:`~ecgrepro.aggregate.rules_history`); None: no git history, so
        ``rules_history.csv`` is empty and claims.csv says the history is unknown.
    default_protocols : dict, optional
        ``protocols`` of the default ``config/config.yaml``: ``disclosures.csv`` marks
        runs trained for fewer epochs than those allow (None: the presets').

    Returns
    -------
    dict
        The main frames, keyed by table name (for tests and the log).
    """
    tables, figs = Path(tables_dir), Path(figures_dir)
    ids = [parse_run_dir(p) for p in expected]
    col = collect(expected, benchmarks, scan_roots)
    rules = reported_rules(protocols, {r.protocol for r in ids if r.kind == "train"})
    seeds = add_convergence(seed_table(col, ids, rules), col.history, convergence_cfg)
    seeds = mark_unreadable(seeds, ids, unreadable_runs(col.status))
    store = CaseStore(col)
    summary = summary_table(seeds, claims_cfg["interval"], store)
    mitdb_metrics, mitdb_confusion = mitdb_tables(col, seeds)
    aami = aami_table(ids, col.runs, col.classes)
    timing = read_timing(timing_dir)
    frameworks = frameworks_table(seeds, claims_cfg["alpha"], claims_cfg["p_adjust"],
                                  claims_cfg["equivalence"]["margin"], timing,
                                  store=store, boot=claims_cfg["interval"])
    sota = sota_inputs(seeds, claims_cfg, data_dir, published_dir)
    claims = evaluate_claims(seeds, col.history, frameworks, claims_cfg, timing=timing,
                             criterion=describe_criterion(convergence_cfg), sota=sota,
                             store=store)
    ok_ids = [r for r in ids if r.name in set(col.status.loc[col.status["status"] == "ok",
                                                           "run"])]
    rules_history, claims = rules_tables(history, ok_ids, claims, claims_cfg,
                                         convergence_cfg)
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
    write_csv(aami, tables / "mitdb_aami.csv")
    write_csv(frameworks, tables / "frameworks.csv")
    write_csv(claims, tables / "claims.csv")
    write_csv(rules_history, tables / "rules_history.csv")
    write_csv(disclosure_table(ok_ids, default_protocols or {}), tables / "disclosures.csv")
    # the data step's tables sit beside the runs (results/data, results/reference/data)
    data = Path(scan_roots[0]).parent / "data" / "mitdb" if scan_roots else Path("-")
    write_csv(excluded_records(data), tables / "mitdb_excluded.csv")
    write_csv(missing, tables / "missing.csv")
    write_csv(col.software, tables / "software.csv")
    write_csv(col.settings, tables / "settings.csv")
    view = summary_views(summary)
    how = summary.loc[summary["metric"] == "accuracy", "interval"]
    how = sorted({h for h in how.dropna() if h})
    note = f"Interval: {'; '.join(how)}." if how else ""
    write_text(tables / "summary.md", markdown(view) + (f"\n{note}\n" if note else ""))
    write_text(tables / "summary.tex", latex(
        view, "lllllrllll", f"Test accuracy over seeds per configuration. {note}".strip(),
        "tab:summary"))
    write_sota(sota, tables, claims_cfg["interval"]["level"])
    cview = claims_view(claims)
    write_text(tables / "claims.md", markdown(cview))
    write_text(tables / "claims.tex", latex(
        cview, "lp{3cm}p{2cm}p{2.5cm}lrlp{5cm}", "Claims and verdicts.", "tab:claims"))

    ok = set(col.status.loc[col.status["status"] == "ok", "run"])
    knn_runs = [r.path for r in ids if r.kind == "knn" and r.name in ok]
    if knn_table:  # the workflow's knn_table rule writes it (the `knn` target's table)
        write_knn(knn_runs, tables / "knn.csv")
    write_timing_table(timing, tables / "timing.csv", tables / "timing.md")
    if draw:  # from the tables just written, as the figures rule does
        draw_figures(tables, figs, expected, timing_dir)
    n_ok = int((col.status["status"] == "ok").sum())
    log.info("aggregated %d of %d expected runs; %d missing or unexpected (missing.csv)",
             n_ok, len(ids), len(missing))
    for row in claims.itertuples():
        log.info("%s: %s", row.claim_id, row.verdict)
    return {"runs": runs, "seeds": seeds, "summary": summary, "claims": claims,
            "frameworks": frameworks, "missing": missing, "mitdb_metrics": mitdb_metrics,
            "mitdb_confusion": mitdb_confusion, "mitdb_aami": aami,
            "rules_history": rules_history}


def write_knn(run_dirs, table_path) -> pd.DataFrame:
    """``knn.csv`` from k-NN run directories: one row per (dataset, variant, k) of the
    runs' ``accuracy.csv`` (all their columns, as :func:`~ecgrepro.aggregate.knn.knn_table`
    reads them); no runs: the header only. The figure is drawn from it by
    :func:`draw_figures`."""
    paths = [Path(d) / "accuracy.csv" for d in run_dirs]
    table = knn_table(paths) if paths else pd.DataFrame(columns=[*KNN_COLUMNS, "source"])
    write_text(table_path, table.drop(columns="source").to_csv(index=False))
    return table


def write_timing_table(comparisons: pd.DataFrame | None, csv_path, md_path) -> None:
    """``timing.csv``/``.md``: the timing step's comparisons (header only without one)."""
    if comparisons is None:
        comparisons = pd.DataFrame(columns=timing_views.COLUMNS)
    write_text(csv_path, comparisons.to_csv(index=False, float_format="%.6g"))
    view = timing_views.comparison_table(comparisons) if len(comparisons) else None
    write_text(md_path, markdown(view) if view is not None else
               "No controlled timing: run `snakemake timing` (alone on the machine).\n")


def _plot_knn(table: pd.DataFrame, png, pdf) -> None:
    if table.empty:
        return figures._empty(png, pdf, "k-NN runs")
    plot_knn(table, png, pdf, UCR_REFERENCES)


def _plot_timing(timing_dir, png, pdf) -> None:
    comparisons = read_timing(timing_dir)
    if comparisons is None:
        return figures._empty(png, pdf, "controlled timing (run: snakemake timing)")
    rounds_path = Path(timing_dir) / "rounds.csv"
    rounds = pd.read_csv(rounds_path) if rounds_path.is_file() else None
    timing_views.plot_time_per_epoch(comparisons, png, pdf, rounds)


#: Text columns of the tables the figures read back (the rest: numbers).
_TEXT = ["kind", "dataset", "model", "framework", "protocol", "checkpoint", "split",
         "status", "note", "run", "true", "pred", "device", "commit"]
_FLAGS = ["reported", "selects_on_test"]


def read_table(path) -> pd.DataFrame:
    """A table of :func:`build` read back with the types it was built with (text, flags
    as booleans, seeds and k as nullable integers).

    Raises
    ------
    EcgreproError
        When the file is missing or unreadable; the message names it.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={c: str for c in _TEXT}, keep_default_na=False,
                            na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise EcgreproError(
            f"{path}: cannot read this table ({type(exc).__name__}: {exc}). It is written "
            "by the aggregate step: delete it and rerun the workflow to rebuild it."
        ) from exc
    for c in _FLAGS:
        if c in frame:
            frame[c] = frame[c].map({True: True, False: False, "True": True,
                                     "False": False}).fillna(False).astype(bool)
    for c in ("seed", "k", "epochs", "epoch", "n_test", "n_params", "count"):
        if c in frame:
            values = pd.to_numeric(frame[c], errors="coerce")
            # whole numbers back to integers; a mean over folds (epochs) stays a float
            whole = values.dropna()
            frame[c] = values.astype("Int64") if (whole == whole.round()).all() else values
    return frame


def _histories(expected, runs: pd.DataFrame) -> pd.DataFrame:
    """history.csv of every training run the tables hold (runs.csv), with its identity."""
    ok = set(runs["run"]) if len(runs) else set()
    frames = []
    for path in expected:
        run = parse_run_dir(path)
        if run.kind != "train" or run.name not in ok:
            continue
        try:
            hist = pd.read_csv(run.path / "history.csv")
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            log.warning("%s: history.csv unreadable (%s); not in training_curves", run.name,
                        exc)
            continue
        frames.append(hist.assign(kind=run.kind, dataset=run.dataset, model=run.model,
                                  framework=run.framework, protocol=run.protocol,
                                  split=run.split, seed=run.seed, run=run.name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def draw_figures(tables_dir, figures_dir, expected, timing_dir=None) -> None:
    """Draw every figure of :data:`~ecgrepro.aggregate.outputs.FIGURES` from the tables
    in ``tables_dir`` (and the training histories of the runs in runs.csv).

    Each figure is tried; one that fails does not stop the others, and the error names
    it. Tables are never touched here: a figure cannot cost a table.

    Raises
    ------
    EcgreproError
        When a figure could not be drawn (each is named with its error).
    """
    tables, figs = Path(tables_dir), Path(figures_dir)
    seeds = read_table(tables / "seeds.csv")
    confusion = read_table(tables / "mitdb_confusion.csv")
    history = _histories(expected, read_table(tables / "runs.csv"))
    sota = read_table(tables / "sota.csv")
    plots = {
        "accuracy_by_seed": (figures.plot_accuracy, seeds),
        "training_curves": (figures.plot_curves, history),
        "mitdb_confusion": (figures.plot_confusion, confusion),
        "time_per_epoch": (lambda d, png, pdf: _plot_timing(d, png, pdf), timing_dir),
        "intra_vs_inter": (figures.plot_intra_inter, seeds),
        "knn_accuracy_vs_k": (_plot_knn, read_table(tables / "knn.csv")),
        "sota_accuracy": (lambda d, png, pdf: sota_figures.plot_sota(*d, png, pdf),
                          (sota, read_table(tables / "sota_resamples.csv"))),
        "sota_critical_difference": (sota_figures.plot_critical_difference, sota),
    }
    assert list(plots) == list(FIGURES), "outputs.FIGURES and draw_figures disagree"
    failed = []
    for name, (plot, data) in plots.items():
        try:
            plot(data, figs / f"{name}.png", figs / f"{name}.pdf")
        except Exception as exc:  # noqa: BLE001 - reported with the figure's name below
            log.exception("figure %s failed", name)
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    if failed:
        raise EcgreproError(
            "could not draw " + "; ".join(failed) + f". The tables in {tables} are "
            "complete and kept; see the log above for the traceback."
        )
