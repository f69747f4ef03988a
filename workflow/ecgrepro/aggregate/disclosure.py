"""What each run was, from its own files, for the paper's disclosures (``disclosures.csv``).

One row per run the tables hold: from which commit and whether the tree
was changed (``dirty``, ``diff_sha256``: with no diff recorded the changed code cannot
be recovered), the device and threads it trained on, the training-set size, batch size,
epochs trained against the epochs its protocol has in the workflow's default
configuration (fewer: the run was cut short), and the gradient steps that makes. Read
from ``provenance.json`` and ``metrics.json``; nothing here is typed about a release.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

__all__ = ["disclosure_table", "excluded_records", "COLUMNS"]

COLUMNS = ["run", "kind", "dataset", "model", "framework", "protocol", "split", "seed",
           "commit", "dirty", "diff_sha256", "device", "threads",
           "n_train", "batch_size", "epochs_trained", "epochs_default", "steps"]


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _default_epochs(protocol: str, defaults: dict):
    """Epochs of ``protocol`` in the default configuration (preset + config.yaml)."""
    from ecgrepro.training.presets import PRESETS, get_protocol

    if protocol not in PRESETS:
        return None
    return get_protocol(protocol, **(defaults.get(protocol) or {})).epochs


def disclosure_table(runs, default_protocols: dict) -> pd.DataFrame:
    """``disclosures.csv`` (see :data:`COLUMNS`) for ``runs`` (RunIds), in their order.

    Parameters
    ----------
    runs : list of RunId
    default_protocols : dict
        ``protocols`` of the workflow's default ``config/config.yaml`` (no overrides),
        the budget a run is compared with.
    """
    rows = []
    for run in runs:
        prov, metrics = _read(run.path / "provenance.json"), _read(run.path / "metrics.json")
        git, extra = prov.get("git") or {}, prov.get("extra") or {}
        params = metrics.get("protocol_params")
        batch = None
        if isinstance(params, dict):
            batch = params.get("batch_size")
        elif isinstance(params, str):  # v1 runs wrote the repr of a dict
            import ast

            try:
                batch = ast.literal_eval(params).get("batch_size")
            except (ValueError, SyntaxError):
                batch = None
        trained = metrics.get("epochs") if run.kind == "train" else None
        n_train = metrics.get("n_train")
        steps = (math.ceil(n_train / batch) * trained
                 if n_train and batch and trained else None)
        rows.append({
            "run": run.name, "kind": run.kind, "dataset": run.dataset, "model": run.model,
            "framework": run.framework, "protocol": run.protocol, "split": run.split,
            "seed": run.seed,
            "commit": git.get("commit"), "dirty": git.get("dirty"),
            "diff_sha256": git.get("diff_sha256") or "",
            "device": metrics.get("device") or (extra.get("determinism") or {}).get("device"),
            "threads": extra.get("threads"), "n_train": n_train, "batch_size": batch,
            "epochs_trained": trained,
            "epochs_default": (_default_epochs(run.protocol, default_protocols)
                               if run.kind == "train" else None),
            "steps": steps,
        })
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for c in ("seed", "threads", "n_train", "batch_size", "epochs_trained",
              "epochs_default", "steps"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("Int64")
    return frame


def excluded_records(data_dir) -> pd.DataFrame:
    """MIT-BIH records the data step read but took no segment from, with their leads
    (``records.csv`` against ``segments_by_record.csv``); empty without those files."""
    data_dir = Path(data_dir)
    try:
        records = pd.read_csv(data_dir / "records.csv", dtype=str)
        used = set(pd.read_csv(data_dir / "segments_by_record.csv", dtype=str)["record"])
    except (OSError, ValueError, KeyError):
        return pd.DataFrame(columns=["record", "leads"])
    out = records.loc[~records["record"].isin(used), ["record", "leads"]]
    return out.reset_index(drop=True)
