"""MIT-BIH Arrhythmia Database: the record list, PhysioNet's checksums, reading with wfdb.

Imported by the Snakefile for the record list, so pandas and wfdb load lazily.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

from ecgrepro.errors import DataError

# PhysioNet mitdb 1.0.0 RECORDS: 48 half-hour two-lead recordings at 360 Hz.
ALL_RECORDS = tuple(
    str(r)
    for r in [*range(100, 110), *range(111, 120), *range(121, 125), *range(200, 204)]
    + [205, 207, 208, 209, 210, 212, 213, 214, 215, 217, 219, 220, 221, 222, 223, 228]
    + [230, 231, 232, 233, 234]
)
RECORD_EXTENSIONS = ("hea", "dat", "atr")
CHECKSUMS = "SHA256SUMS.txt"


def record_files(records) -> list[str]:
    """File names of the given records (``100.hea``, ``100.dat``, ``100.atr``, …)."""
    return [f"{r}.{ext}" for r in records for ext in RECORD_EXTENSIONS]


def read_checksums(path: str | Path) -> dict[str, str]:
    """Parse PhysioNet's ``SHA256SUMS.txt`` (``<sha256> <relpath>`` per line)."""
    sums = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"{path}:{number}: not a '<sha256> <file>' line: {line!r}")
        sums[parts[1].strip().lstrip("*")] = parts[0]
    return sums


def expected_sha256(checksums: dict[str, str], filename: str) -> str:
    """The digest PhysioNet lists for ``filename``; a clear error if it lists none."""
    try:
        return checksums[filename]
    except KeyError:
        raise DataError(
            f"PhysioNet's {CHECKSUMS} lists no file {filename}: the record name is not "
            f"part of mitdb. Valid records: {', '.join(ALL_RECORDS)}."
        ) from None


def check_records(records) -> list[str]:
    """Validate configured record names; return them as strings in database order."""
    records = [str(r) for r in records]
    unknown = sorted(set(records) - set(ALL_RECORDS))
    if unknown:
        raise DataError(
            f"config key mitdb_records: {unknown} are not MIT-BIH records. "
            f"Valid records: {', '.join(ALL_RECORDS)}."
        )
    return [r for r in ALL_RECORDS if r in records]


# WFDB's beat annotation codes (isqrs() in ecgcodes.h); the rest are non-beat marks.
_BEAT_CODES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 25, 30, 34, 35, 38, 41)


@cache
def beat_symbols() -> frozenset[str]:
    """Symbols of beat annotations, looked up in wfdb's annotation label table."""
    from wfdb.io.annotation import ann_label_table as table

    return frozenset(table.loc[table["label_store"].isin(_BEAT_CODES), "symbol"])


def read_annotations(directory: str | Path, record: str):
    """Read a record's reference annotations (``.atr``) with wfdb."""
    import wfdb

    return wfdb.rdann(str(Path(directory) / record), "atr")


def read_header(directory: str | Path, record: str):
    """Read a record's header with wfdb."""
    import wfdb

    return wfdb.rdheader(str(Path(directory) / record))


def annotation_counts(directory: str | Path, records):
    """Count annotation symbols per record: columns ``record, symbol, count, is_beat``."""
    import pandas as pd

    rows = []
    for record in records:
        counts = Counter(read_annotations(directory, record).symbol)
        rows += [(record, s, n) for s, n in counts.items()]
    table = pd.DataFrame(rows, columns=["record", "symbol", "count"])
    table["is_beat"] = table["symbol"].isin(beat_symbols())
    return table


def beat_counts(annotations):
    """Beat annotations summed over records: ``symbol,count``, most frequent first."""
    beats = annotations[annotations["is_beat"]]
    total = beats.groupby("symbol", as_index=False)["count"].sum()
    return total.sort_values(["count", "symbol"], ascending=[False, True], ignore_index=True)


def record_table(directory: str | Path, records):
    """One row per record: sampling rate, length, leads — read from the headers."""
    import pandas as pd

    rows = []
    for record in records:
        h = read_header(directory, record)
        rows.append(
            {
                "record": record,
                "fs": h.fs,
                "n_signals": h.n_sig,
                "n_samples": h.sig_len,
                "leads": "+".join(h.sig_name),
                "minutes": round(h.sig_len / h.fs / 60, 2),
            }
        )
    return pd.DataFrame(rows)
