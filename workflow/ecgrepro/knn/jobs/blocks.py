"""How a k-NN run is cut into row blocks: the one definition the rules and jobs share.

A (dataset, variant) run is split into ``ceil(rows / block_size)`` blocks of
consecutive test rows (the ``learned`` window search: of training rows), each an even
share (:func:`block_rows`). The workflow asks :func:`n_blocks` and
:func:`window_n_blocks` how many block jobs to plan (``workflow/rules/common.smk``);
the jobs cut their rows with :func:`block_rows`; the cost model
(``python -m ecgrepro.cost knn``) counts the same blocks.

Light on purpose (numpy and the UCR metadata): Snakemake imports this module while it
parses the workflow.
"""

from __future__ import annotations

import numpy as np

from ecgrepro.errors import EcgreproError
from ecgrepro.knn.core.variants import parse_variant


def block_rows(n: int, block: int, n_blocks: int) -> np.ndarray:
    """Positions ``[block * n // n_blocks, (block + 1) * n // n_blocks)``: an even split."""
    if n_blocks < 1 or not 0 <= block < n_blocks:
        raise EcgreproError(f"block {block} of {n_blocks}: need 0 <= block < n_blocks.")
    return np.arange(block * n // n_blocks, (block + 1) * n // n_blocks, dtype=np.int64)


def count_blocks(n_rows: int, block_size: int) -> int:
    """``ceil(n_rows / block_size)``, at least one block."""
    return max(1, -(-int(n_rows) // int(block_size)))


def block_sizes(n_rows: int, block_size: int) -> list[int]:
    """Rows of each block, in block order, as :func:`block_rows` cuts them."""
    b = count_blocks(n_rows, block_size)
    return [len(block_rows(n_rows, i, b)) for i in range(b)]


def subset_rows(
    variant, n_test: int, n_train: int, length: int, max_cells=None, n_rows=None
):
    """Test rows of a cross-check subset, or None for all rows.

    Only ``sktime-dtw`` (the second library's full matrix, a cross-check of aeon's)
    is ever cut: when ``n_test * n_train * length**2`` exceeds ``max_cells``, it runs
    on ``n_rows`` evenly spaced test rows (the first and the last included).
    """
    if variant.library != "sktime" or not max_cells or not n_rows:
        return None
    if n_test * n_train * length**2 <= max_cells or n_rows >= n_test:
        return None
    return np.unique(np.round(np.linspace(0, n_test - 1, n_rows)).astype(np.int64))


def _sizes(dataset: str):
    """(n_train, n_test, length) from the package's UCR metadata, or None if unknown."""
    from ecgrepro.data.ucr import metadata_table

    meta = metadata_table().get(dataset)
    if meta is None:
        return None
    return meta["train_size"], meta["test_size"], meta["length"]


def n_blocks(dataset: str, variant: str, knn_config: dict) -> int:
    """Test-row blocks of one (dataset, variant) under config ``knn``.

    ``knn_config`` is the validated config section (schema defaults applied:
    ``block_size``, ``sktime_subset``). Sizes come from the UCR metadata (a dataset
    it lacks runs as one block); the blocks split the actual rows evenly, so a wrong
    guess costs balance, never results.
    """
    sizes = _sizes(dataset)
    if sizes is None:
        return 1
    n_train, n_test, length = sizes
    sub = knn_config["sktime_subset"]
    rows = subset_rows(
        parse_variant(variant), n_test, n_train, length, sub["max_cells"], sub["rows"]
    )
    return count_blocks(n_test if rows is None else len(rows), knn_config["block_size"])


def window_n_blocks(dataset: str, knn_config: dict) -> int:
    """Training-row blocks of a dataset's window search (variant ``learned``)."""
    sizes = _sizes(dataset)
    return 1 if sizes is None else count_blocks(sizes[0], knn_config["block_size"])
