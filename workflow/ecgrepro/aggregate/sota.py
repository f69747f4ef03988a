"""Where LSTM-FCN, FCN and DTW k-NN stand against the published state of the art.

Our accuracies per resample (the mean over the runs on that split) beside the 2023
bake-off's (:mod:`~ecgrepro.aggregate.published`), in ``sota.csv`` (one row per dataset
and classifier) and ``sota_resamples.csv`` (one per resample, which the figure reads). Means and
intervals are over each classifier's own resamples; ``rank`` is by the mean over the
resamples every classifier of the dataset shares (the archive split alone where ours
ran on it alone), so that a single split is never ranked against a 30-resample mean.

Like with like: our resample ``i`` is aeon's ``stratified_resample_data_indices`` seeded
by ``i`` over the class codes (:func:`ecgrepro.data.splits.ucr_resample`); the bake-off's
tooling (tsml-eval) calls ``stratified_resample_data`` with ``random_state=i`` on the
labels as read from the ``.ts`` files, whose classes ``np.unique`` orders as text. The
draw visits the classes in that order, so both make the same split exactly when our
class order (numeric where labels are numbers) is the textual one: true for "1", "2",
not for "1", ..., "10" (:func:`same_splits`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ecgrepro.aggregate.stats import interval, wilson
from ecgrepro.data.splits import resample_index

__all__ = ["COLUMNS", "RESAMPLE_COLUMNS", "data_classes", "ours_per_resample",
           "same_splits", "sota_tables"]

COLUMNS = ["dataset", "classifier", "source", "resamples", "mean", "sd", "ci_low",
           "ci_high", "interval", "shared_resamples", "shared_mean", "rank", "same_splits",
           "seeds"]
RESAMPLE_COLUMNS = ["dataset", "classifier", "resample", "accuracy", "runs"]
#: Names of our models in the tables (others keep their config name).
NAMES = {"lstm_fcn": "LSTM-FCN", "fcn": "FCN"}


def data_classes(data_dir, datasets) -> dict:
    """``{dataset: class labels in code order}`` from the prepared data's summary.json
    (``<data_dir>/ucr/<name>/summary.json``); a dataset without one is left out."""
    out = {}
    for name in datasets:
        path = Path(data_dir or "") / "ucr" / name / "summary.json"
        if data_dir and path.is_file():
            out[name] = [str(c) for c in json.loads(path.read_text())["classes"]]
    return out


def same_splits(classes) -> tuple[bool, str]:
    """Whether our resample ``i`` is the bake-off's resample ``i`` (module docstring).

    Parameters
    ----------
    classes : list of str or None
        The dataset's labels in our code order (None: unknown).
    """
    if classes is None:
        return False, "class labels unknown (no data summary.json): compared unpaired"
    if list(classes) == sorted(classes):
        return True, "same splits as the bake-off (class order " + ", ".join(classes) + ")"
    return False, (f"our class order {', '.join(classes)} is not the bake-off's textual "
                   f"order {', '.join(sorted(classes))}, so resamples i >= 1 differ: "
                   "compared unpaired")


def _rows(seeds, kind, **where) -> pd.DataFrame:
    s = seeds[(seeds["kind"] == kind) & (seeds["status"] == "ok")
              & (seeds["dataset"] != "mitdb")]
    for key, value in where.items():
        s = s[s[key] == value]
    return s.assign(resample=s["split"].map(resample_index)).dropna(subset=["resample"])


def ours_per_resample(seeds, model, protocol, checkpoint) -> pd.DataFrame:
    """Mean accuracy per (dataset, resample) of one model's runs, with who ran it."""
    s = _rows(seeds, "train", model=model, protocol=protocol, checkpoint=checkpoint)
    out = []
    for (dataset, r), g in s.groupby(["dataset", "resample"], sort=True):
        seeds_ = sorted(int(x) for x in g["seed"].dropna().unique())
        fws = ", ".join(sorted(g["framework"].unique()))
        out.append({"dataset": dataset, "classifier": NAMES.get(model, model),
                    "resample": int(r), "accuracy": float(g["accuracy"].mean()),
                    "runs": len(g), "n_test": float(g["n_test"].mean()),
                    "who": f"{int(r)}: {len(g)} runs (seeds {_span(seeds_)}; {fws})"})
    return pd.DataFrame(out, columns=[*RESAMPLE_COLUMNS, "n_test", "who"])


def _span(values) -> str:
    if values and values == list(range(values[0], values[-1] + 1)) and len(values) > 1:
        return f"{values[0]}-{values[-1]}"
    return ",".join(map(str, values))


def best_dtw(seeds) -> pd.DataFrame:
    """Per dataset, the DTW 1-NN variant with the highest mean accuracy (test-selected)."""
    out = []
    if "k" not in seeds:  # no k-NN runs in this table
        return pd.DataFrame(out, columns=[*RESAMPLE_COLUMNS, "n_test", "who"])
    s = _rows(seeds, "knn", k=1)
    s = s[s["model"].str.contains("dtw") | (s["model"] == "learned")]
    for dataset, g in s.groupby("dataset", sort=True):
        variant = g.groupby("model")["accuracy"].mean().sort_index().idxmax()
        for r, h in g[g["model"] == variant].groupby("resample", sort=True):
            out.append({"dataset": dataset, "classifier": f"1-NN DTW ({variant})",
                        "resample": int(r), "accuracy": float(h["accuracy"].mean()),
                        "runs": len(h), "n_test": float(h["n_test"].mean()),
                        "who": f"{int(r)}: deterministic"})
    return pd.DataFrame(out, columns=[*RESAMPLE_COLUMNS, "n_test", "who"])


def _summary(g, level) -> dict:
    x = g["accuracy"].to_numpy(float)
    if len(x) > 1:
        low, high = interval(x, "t", level)
        how = f"{100 * level:g}% t-interval over resamples"
    elif len(x) == 1 and g["n_test"].notna().all():
        n = float(g["n_test"].iloc[0])
        low, high = wilson(x[0] * n, n, level)
        how = f"{100 * level:g}% Wilson interval of the {n:.0f} test cases (one split)"
    else:
        low = high = np.nan
        how = ""
    return {"resamples": len(x), "mean": float(x.mean()),
            "sd": float(x.std(ddof=1)) if len(x) > 1 else np.nan,
            "ci_low": low, "ci_high": high, "interval": how}


def sota_tables(ours: list[pd.DataFrame], published: pd.DataFrame, provenance: dict,
                classes: dict, level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``sota.csv`` and ``sota_resamples.csv`` (see :data:`COLUMNS`,
    :data:`RESAMPLE_COLUMNS`).

    Parameters
    ----------
    ours : list of DataFrame
        :func:`ours_per_resample` / :func:`best_dtw` frames, each with its ``source``.
    published : DataFrame
        :func:`~ecgrepro.aggregate.published.load_published`'s frame.
    provenance : dict
        Its provenance (the source of each published classifier).
    classes : dict
        :func:`data_classes`.
    """
    datasets = sorted(set().union(*[set(o["dataset"]) for o in ours]) if ours else set())
    pub = published[published["dataset"].isin(datasets)].assign(n_test=np.nan, who="")
    pub = pub.assign(runs=1, source=pub["classifier"].map(
        lambda c: f"Middlehurst et al. 2024 bake-off: {provenance[c]}"))
    long = pd.concat([o for o in ours if len(o)] + [pub], ignore_index=True)
    # like with like: rank on the resamples every classifier of the dataset has
    shared = {d: set.intersection(*[set(h["resample"]) for _, h in g.groupby("classifier")])
              for d, g in long.groupby("dataset")}
    rows = []
    for (dataset, clf), g in long.groupby(["dataset", "classifier"], sort=True):
        ours_row = g["who"].iloc[0] != ""
        common = g[g["resample"].isin(shared[dataset])]["accuracy"]
        rows.append({"dataset": dataset, "classifier": clf, "source": g["source"].iloc[0],
                     **_summary(g, level), "shared_resamples": len(common),
                     "shared_mean": float(common.mean()) if len(common) else np.nan,
                     "same_splits": same_splits(classes.get(dataset))[0] if ours_row
                     else pd.NA,
                     "seeds": "; ".join(g["who"]) if ours_row else ""})
    table = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "rank"])
    table.insert(COLUMNS.index("rank"), "rank", table.groupby("dataset")["shared_mean"].rank(
        ascending=False, method="min").astype("Int64") if len(table) else pd.Series(
        dtype="Int64"))
    return table[COLUMNS], long[RESAMPLE_COLUMNS].reset_index(drop=True)


def sota_item(claims_cfg: dict) -> dict | None:
    """The first claim item whose rule is ``sota`` (None: no such claim)."""
    return next((i for i in claims_cfg["items"].values() if i["rule"] == "sota"), None)


def sota_inputs(seeds, claims_cfg: dict, data_dir=None, published_dir=None) -> dict | None:
    """What rule ``sota`` and the tables compare, or None without a ``sota`` claim.

    Returns
    -------
    dict
        ``ours`` (per-resample accuracies of the claim's model, its ``also`` models and
        the best DTW 1-NN, each with its ``source``), ``published`` and ``provenance``
        (:func:`~ecgrepro.aggregate.published.load_published`), ``classes``
        (:func:`data_classes`).
    """
    from ecgrepro.aggregate.published import load_published

    item = sota_item(claims_cfg)
    if item is None:
        return None
    where = f"{item['protocol']}, checkpoint {item['checkpoint']}"
    ours = [ours_per_resample(seeds, m, item["protocol"], item["checkpoint"]).assign(
                source=f"this project: {where}")
            for m in [item["model"], *item.get("also", [])]]
    ours.append(best_dtw(seeds).assign(
        source="this project: the DTW 1-NN variant with the highest accuracy "
               "(chosen on the test set)"))
    datasets = sorted(set().union(*[set(o["dataset"]) for o in ours]))
    try:
        published, provenance = load_published(item["published_estimators"], datasets,
                                               published_dir)
        error = ""
    except ImportError as exc:  # a light environment without aeon: say so, go on
        published, provenance = None, {}
        error = f"aeon, whose files hold the published results, is not installed ({exc})"
    return {"ours": pd.concat([o for o in ours if len(o)] or [ours[0]], ignore_index=True),
            "parts": ours, "published": published, "provenance": provenance,
            "classes": data_classes(data_dir, datasets), "error": error}


def write_sota(sota: dict | None, tables_dir, level: float = 0.95) -> pd.DataFrame:
    """Write ``sota.csv``, ``sota_resamples.csv`` and the Markdown/LaTeX views of
    ``sota.csv`` (headers only without a ``sota`` claim); returns the table."""
    from ecgrepro.aggregate.write import latex, markdown, write_csv, write_text

    tables = Path(tables_dir)
    if sota is None:
        table, long = pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=RESAMPLE_COLUMNS)
        note = "No claim with rule sota is configured."
    else:
        published = sota["published"]
        if published is None:
            published = pd.DataFrame(columns=["dataset", "classifier", "resample",
                                              "accuracy"])
        table, long = sota_tables(sota["parts"], published, sota["provenance"],
                                  sota["classes"], level)
        note = sota["error"] or ("Published: " + "; ".join(
            f"{k}: {v}" for k, v in sorted(sota["provenance"].items())) + ".")
    write_csv(table, tables / "sota.csv")
    write_csv(long, tables / "sota_resamples.csv")
    view = table.assign(
        **{"mean +/- sd": [f"{m:.4f}" + ("" if s != s else f" +/- {s:.4f}")
                           for m, s in zip(table["mean"], table["sd"])],
           "interval": [f"[{a:.4f}, {b:.4f}]" if a == a else "" for a, b in
                        zip(table["ci_low"], table["ci_high"])]})
    view = view.assign(shared=[f"{m:.4f} ({n})" if m == m else "" for m, n in
                               zip(table["shared_mean"], table["shared_resamples"])])
    view = view[["dataset", "classifier", "resamples", "mean +/- sd", "interval", "shared",
                 "rank"]]
    note = ("shared: the mean over the (n) resamples every classifier of the dataset has; "
            "rank: by it. " + note)
    write_text(tables / "sota.md", markdown(view) + f"\n{note}\n")
    write_text(tables / "sota.tex", latex(
        view, "llrlllr", f"Test accuracy over resamples beside the published state of the "
        f"art. {note}", "tab:sota"))
    return table
