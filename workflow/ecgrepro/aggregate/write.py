"""Write tables so that the same inputs give the same bytes.

CSV: floats with a fixed number of decimals (``p``-values and other small numbers in
significant digits), empty cells for missing values, ``\\n`` line ends, no index.
Markdown (``tabulate``'s pipe format) and LaTeX (pandas' ``to_latex``, longtable) are
views of the same frames. Every file is written beside its target and renamed into
place, never half-written.
"""

from __future__ import annotations


import pandas as pd

from ecgrepro.io import replacing, write_text

__all__ = ["format_frame", "write_csv", "write_parquet", "write_text", "markdown", "latex"]

DECIMALS = 6
#: Columns written in significant digits (they can be tiny).
SIGNIFICANT = {"p_value", "p_adjusted", "min_p"}


def _cell(value, fmt: str) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return fmt.format(value)
    return str(value)


def format_frame(frame: pd.DataFrame, decimals: int = DECIMALS) -> pd.DataFrame:
    """Every cell as text: floats to ``decimals`` places (``SIGNIFICANT`` columns to
    4 significant digits), missing values empty, booleans ``True``/``False``."""
    out = {}
    for col in frame.columns:
        fmt = "{:.4g}" if col in SIGNIFICANT else f"{{:.{decimals}f}}"
        values = frame[col].astype(object).tolist()
        out[col] = [_cell(v, fmt) for v in values]
    return pd.DataFrame(out, columns=frame.columns, dtype=object)


def write_csv(frame: pd.DataFrame, path, decimals: int = DECIMALS) -> None:
    """Write ``frame`` as CSV through :func:`format_frame`."""
    write_text(path, format_frame(frame, decimals).to_csv(index=False, lineterminator="\n"))


def write_parquet(frame: pd.DataFrame, path) -> None:
    """Write ``frame`` as Parquet (pyarrow, no index), atomically."""
    with replacing(path) as tmp:
        frame.to_parquet(tmp, index=False, engine="pyarrow")


def markdown(frame: pd.DataFrame) -> str:
    """A pipe table (GitHub Markdown) of text cells; ``|`` in cells escaped."""
    text = frame.astype(str).map(lambda s: s.replace("|", "\\|"))
    return text.to_markdown(index=False, tablefmt="pipe", disable_numparse=True) + "\n"


def latex(frame: pd.DataFrame, column_format: str | None = None, caption: str = "",
          label: str = "") -> str:
    """A LaTeX longtable (booktabs) of text cells, special characters escaped."""
    return frame.astype(str).to_latex(
        index=False, longtable=True, escape=True, column_format=column_format,
        caption=caption or None, label=label or None,
    )
