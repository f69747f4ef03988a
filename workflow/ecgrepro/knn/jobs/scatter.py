"""Scatter and gather: one k-NN run split into row blocks that run as separate jobs.

A (dataset, variant) run is cut into ``n_blocks`` blocks of consecutive test rows
(and, for ``learned``, its window search into blocks of consecutive training rows).
Every row's result depends on that row alone (the searches treat rows independently,
and every distance is computed by the same sequential code), so joining the blocks in
row order gives the same arrays, predictions and accuracies whatever the number of
blocks; the gather writes the same run directory as :func:`ecgrepro.knn.jobs.run.run_knn`.

Block files carry their own identity (variant, block, n_blocks, rows, ks, radius) and
the gather checks it: a block from another configuration is an error, never mixed in.

Command line: ``python -m ecgrepro.knn {window-block,window-gather,block,gather}``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ecgrepro.data.ucr import load_prepared
from ecgrepro.errors import EcgreproError
from ecgrepro.knn.core import variants as kv
from ecgrepro.knn.core.search import band_cells, window_nn
from ecgrepro.knn.core.vote import check_ks
from ecgrepro.knn.core.window import select_window, window_rows
from ecgrepro.knn.jobs.blocks import block_rows, subset_rows
from ecgrepro.knn.jobs.run import check_dataset, find_neighbours, finish
from ecgrepro.knn.jobs.write import write_run
from ecgrepro.provenance import write_json


def _save_npz(path, **arrays) -> None:
    """Write beside the target, then rename (:func:`ecgrepro.io.replacing`)."""
    from ecgrepro.io import replacing

    with replacing(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def _load(ds_path):
    ds = load_prepared(ds_path)
    check_dataset(ds)
    return ds


# --- window search (variant "learned") -----------------------------------------------


def window_block(prepared_npz, block: int, n_blocks: int, threads: int, out) -> dict:
    """LOO nearest neighbour at every radius for one block of training rows."""
    ds = _load(prepared_npz)
    n, length = len(ds.y_train), ds.length
    if n < 2:
        raise EcgreproError(f"{ds.name}: learning a window needs >= 2 training series.")
    rows = block_rows(n, block, n_blocks)
    radii = [min(kv.percent_to_radius(p, length), length - 1) for p in kv.LEARN_PERCENTS]
    t0 = time.perf_counter()
    found, nn, dist, cells = window_nn(ds.X_train, rows, radii, threads)
    seconds = time.perf_counter() - t0
    # the naive search computes each pair once (a symmetric matrix) per radius
    naive = len(rows) * (n - 1) / 2 * sum(band_cells(length, r) for r in found)
    _save_npz(
        out,
        kind="window",
        block=block,
        n_blocks=n_blocks,
        rows=rows,
        radii=found,
        nn=nn,
        dist=dist,
        cells=cells,
        cells_naive=naive,
        seconds=seconds,
    )
    return {"rows": len(rows), "cells": int(cells.sum()), "seconds": seconds}


def _blocks(paths, kind: str) -> list[dict]:
    """Load block files and check they are the blocks 0..n-1 of one split, once each."""
    loaded = []
    for path in paths:
        with np.load(path) as f:
            b = {k: f[k] for k in f.files}
        if str(b["kind"]) != kind:
            raise EcgreproError(f"{path}: a {b['kind']} block, expected {kind}.")
        b["path"] = str(path)
        loaded.append(b)
    if not loaded:
        raise EcgreproError(f"no {kind} blocks given.")
    loaded.sort(key=lambda b: int(b["block"]))
    n_blocks = {int(b["n_blocks"]) for b in loaded}
    got = [int(b["block"]) for b in loaded]
    if len(n_blocks) != 1 or got != list(range(next(iter(n_blocks)))):
        raise EcgreproError(
            f"{kind} blocks {got} of {sorted(n_blocks)}: need each of 0..n-1 of one "
            "split exactly once; delete stale block files and rerun."
        )
    return loaded


def window_gather(prepared_npz, block_paths, out) -> dict:
    """Join window-search blocks into the LOO table and the selected window (JSON)."""
    ds = _load(prepared_npz)
    blocks = _blocks(block_paths, "window")
    rows = np.concatenate([b["rows"] for b in blocks])
    if not np.array_equal(rows, np.arange(len(ds.y_train))):
        raise EcgreproError("window blocks do not cover the training rows in order.")
    radii = blocks[0]["radii"]
    if any(not np.array_equal(b["radii"], radii) for b in blocks):
        raise EcgreproError("window blocks searched different radii.")
    nn = np.concatenate([b["nn"] for b in blocks])
    y = ds.y_train
    by_radius = {int(r): int(np.sum(y[nn[:, c]] == y)) for c, r in enumerate(radii)}
    table = window_rows(kv.LEARN_PERCENTS, ds.length, by_radius, len(y))
    result = {
        "dataset": ds.name,
        "rows": table,
        "selected": select_window(table),
        "dtw_cells": int(sum(int(b["cells"].sum()) for b in blocks)),
        "dtw_cells_naive": float(sum(float(b["cells_naive"]) for b in blocks)),
        "seconds": float(sum(float(b["seconds"]) for b in blocks)),
        "blocks": len(blocks),
    }
    write_json(out, result)
    return result


# --- k-NN blocks ---------------------------------------------------------------------


def knn_block(
    prepared_npz,
    variant: str,
    ks,
    block: int,
    n_blocks: int,
    threads: int,
    out,
    window_json=None,
    subset_max_cells=None,
    subset_n_rows=None,
) -> dict:
    """One block of test rows: their k nearest (pruned path) or their matrix rows."""
    var = kv.parse_variant(variant)
    ds = _load(prepared_npz)
    ks = check_ks(ks, len(ds.y_train), ds.name)
    radius = _radius(var, ds, window_json)
    subset = subset_rows(
        var, len(ds.y_test), len(ds.y_train), ds.length, subset_max_cells, subset_n_rows
    )
    every = np.arange(len(ds.y_test)) if subset is None else subset
    rows = every[block_rows(len(every), block, n_blocks)]
    path = kv.search_path(var)
    t0 = time.perf_counter()
    if len(rows) == 0 and path == "matrix":
        found = {"neighbours": None, "distances": np.empty((0, len(ds.y_train)))}
    else:
        found = find_neighbours(
            var, path, ds.X_test[rows], ds.X_train, radius, ks, threads
        )
    seconds = time.perf_counter() - t0
    arrays = {"distances": found["distances"]}
    if found["neighbours"] is not None:
        arrays.update(
            neighbours=found["neighbours"],
            cells=found["cells"],
            cells_naive=found["cells_naive"],
        )
    _save_npz(
        out,
        kind="knn",
        variant=var.name,
        block=block,
        n_blocks=n_blocks,
        rows=rows,
        split_rows=every,
        ks=np.asarray(ks),
        radius=-1 if radius is None else radius,
        layout=path,
        subset=subset is not None,
        seconds=seconds,
        **arrays,
    )
    return {"rows": len(rows), "seconds": seconds}


def _radius(var, ds, window_json):
    if var.window != "learned":
        return kv.variant_radius(var, ds.length)
    if window_json is None:
        raise EcgreproError("variant learned needs the window search (--window JSON).")
    return int(json.loads(Path(window_json).read_text())["selected"]["radius"])


def knn_gather(
    prepared_npz,
    variant: str,
    ks,
    block_paths,
    outdir,
    threads: int = 1,
    window_json=None,
    settings=None,
) -> dict:
    """Join the blocks of one (dataset, variant) and write its run directory.

    The run directory is the one :func:`ecgrepro.knn.jobs.run.run_knn` writes; ``timings``
    hold the blocks' summed seconds (core time, however many ran side by side).
    ``settings`` (:func:`ecgrepro.store.knn_settings`) go to its ``settings.json``.
    """
    var = kv.parse_variant(variant)
    ds = _load(prepared_npz)
    ks = check_ks(ks, len(ds.y_train), ds.name)
    blocks = _blocks(block_paths, "knn")
    for b in blocks:
        if str(b["variant"]) != var.name or tuple(b["ks"].tolist()) != ks:
            raise EcgreproError(
                f"{b['path']}: a block of {b['variant']} with ks {b['ks'].tolist()}, "
                f"expected {var.name} with ks {list(ks)}; rerun the blocks."
            )
    radius = _radius(var, ds, window_json)
    if {int(b["radius"]) for b in blocks} != {-1 if radius is None else radius}:
        raise EcgreproError(f"{var.name}: blocks computed another radius than {radius}.")
    rows = np.concatenate([b["rows"] for b in blocks])
    subset = bool(blocks[0]["subset"])
    expected = blocks[0]["split_rows"] if subset else np.arange(len(ds.y_test))
    if not np.array_equal(rows, expected) or any(
        not np.array_equal(b["split_rows"], blocks[0]["split_rows"]) for b in blocks
    ):
        raise EcgreproError(
            f"{var.name}: the blocks do not cover the test rows in order."
        )
    layout = str(blocks[0]["layout"])
    found = {"distances": np.concatenate([b["distances"] for b in blocks])}
    if layout == "pruned":
        found.update(
            neighbours=np.concatenate([b["neighbours"] for b in blocks]),
            cells=int(sum(int(b["cells"]) for b in blocks)),
            cells_naive=int(sum(int(b["cells_naive"]) for b in blocks)),
        )
    else:
        found["neighbours"] = None
    key = "neighbour_search_s" if layout == "pruned" else "distance_matrix_s"
    timings = {
        "window_search_s": 0.0,
        key: float(sum(float(b["seconds"]) for b in blocks)),
        "block_s": [float(b["seconds"]) for b in blocks],
    }
    window_rows, selected, method = [], None, None
    if var.window == "learned":
        window = json.loads(Path(window_json).read_text())
        window_rows, selected, method = window["rows"], window["selected"], "pruned"
        timings["window_search_s"] = window["seconds"]
    result = finish(
        ds,
        var,
        found,
        radius,
        ks,
        timings,
        window_rows,
        selected,
        rows=rows if subset else None,
        blocks=len(blocks),
        window_method=method,
    )
    if var.window == "learned":
        result.search["window_search_dtw_cells"] = window["dtw_cells"]
        result.search["window_search_dtw_cells_naive"] = window["dtw_cells_naive"]
        result.search["window_search_blocks"] = window["blocks"]
    inputs = [prepared_npz] + ([window_json] if window_json else [])
    extra = {
        "step": "knn",
        "variant": var.name,
        "ks": list(ks),
        "threads": threads,
        "blocks": len(blocks),
    }
    return write_run(ds, var, result, ks, threads, outdir, inputs, extra, settings)
