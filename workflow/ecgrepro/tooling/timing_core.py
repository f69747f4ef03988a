"""Controlled timing of two or more arms in one process: rounds, rejection, statistics.

Framework-free (numpy only), so the rules are testable without torch or TensorFlow.

How a measurement is made
-------------------------
Every arm is a callable doing a fixed amount of work (e.g. one epoch of training
steps). All arms run in the same process on the same data, after ``warmup`` untimed
calls each, alternated in rounds; the order flips every round (A B, B A, A B, ...) so
neither arm always runs first after the other's cache footprint. Each call records
wall time (``time.perf_counter``), the process's CPU time over all its threads
(``time.process_time``) and the 1-minute load average.

Which rounds are kept
---------------------
A round waited for the CPU when its wall time exceeds the CPU time it used by more than
``tolerance`` (10%). With one thread that is ``wall > 1.1 * cpu``. With ``T`` threads a
round can use up to ``T`` cores, so CPU time alone would hide waiting (one thread
descheduled while others spin). The comparison is normalised by the arm's own
utilisation ``u = cpu / wall`` in its least-disturbed round (``u_ref``, capped at
``T``; at least 1, since the calling thread runs the whole round): a round is kept
when ``wall * max(1, u_ref) <= (1 + tolerance) * cpu``, i.e. its utilisation is within
10% of the best this arm reached. With ``T = 1`` and ``u_ref <= 1`` this is exactly
"wall exceeds CPU by more than 10%". The load average is recorded, not used: it lags
by a minute and counts this process too.

Statistics
----------
Per arm the median and interquartile range of the kept rounds; per comparison the
ratio of medians and a percentile bootstrap 95% interval, resampling each arm's kept
rounds independently (rejection breaks the pairing of rounds).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "COMPARISON_COLUMNS", "ROUND_COLUMNS", "Comparison", "bootstrap_ratio",
    "compare", "keep_rounds", "measure", "run_rounds", "summarise",
]

#: Columns of comparisons.csv (contract #6).
COMPARISON_COLUMNS = [
    "comparison", "numerator", "denominator", "framework", "threads",
    "median_num_s", "median_den_s", "iqr_num_s", "iqr_den_s",
    "ratio", "ratio_low", "ratio_high", "rounds_kept", "rounds_rejected",
    "kernel_num", "kernel_den",
]
#: Columns of rounds.csv: every timed call.
ROUND_COLUMNS = ["round", "position", "arm", "wall_s", "cpu_s", "load", "utilisation", "kept"]

TOLERANCE = 0.10


@dataclass(frozen=True)
class Comparison:
    """``numerator`` arm over ``denominator`` arm, named as in comparisons.csv."""

    name: str
    numerator: str
    denominator: str
    framework: str


def measure(fn) -> dict:
    """Wall and process CPU seconds of one call of ``fn``, and the load average."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"wall_s": wall, "cpu_s": cpu, "load": os.getloadavg()[0]}


def run_rounds(arms: dict, rounds: int, warmup: int = 1, log=print) -> pd.DataFrame:
    """Run every arm ``warmup`` times untimed, then ``rounds`` alternating rounds.

    Parameters
    ----------
    arms : dict of str -> callable
        Each callable does the arm's fixed unit of work.
    rounds : int
        Timed rounds; each runs every arm once, the order reversed every other round.

    Returns
    -------
    pandas.DataFrame
        One row per timed call: round, position in the round, arm, wall_s, cpu_s, load.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    names = list(arms)
    for name in names:
        for _ in range(warmup):
            arms[name]()
    rows = []
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for pos, name in enumerate(order):
            rows.append({"round": r, "position": pos, "arm": name, **measure(arms[name])})
        if log:
            log(f"    round {r + 1}/{rounds}: " + ", ".join(
                f"{row['arm']} {row['wall_s']:.3f} s" for row in rows[-len(order):]))
    return pd.DataFrame(rows)


def keep_rounds(rounds: pd.DataFrame, threads: int, tolerance: float = TOLERANCE) -> pd.DataFrame:
    """Add ``utilisation`` and ``kept`` columns by the rule in the module docstring."""
    out = rounds.copy()
    wall = out["wall_s"].to_numpy(float)
    cpu = out["cpu_s"].to_numpy(float)
    util = np.divide(cpu, wall, out=np.zeros_like(wall), where=wall > 0)
    out["utilisation"] = util
    kept = np.zeros(len(out), dtype=bool)
    for arm, idx in out.groupby("arm").indices.items():
        u_ref = max(1.0, min(float(threads), float(util[idx].max())))
        kept[idx] = wall[idx] * u_ref <= (1.0 + tolerance) * cpu[idx]
    out["kept"] = kept
    return out


def summarise(seconds) -> dict:
    """Median and interquartile range (NaN when empty)."""
    x = np.asarray(seconds, float)
    if x.size == 0:
        return {"median": math.nan, "iqr": math.nan, "n": 0}
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return {"median": float(med), "iqr": float(q3 - q1), "n": int(x.size)}


def bootstrap_ratio(num, den, n_boot: int = 2000, level: float = 0.95,
                    seed: int = 0) -> tuple[float, float, float]:
    """Ratio of medians ``median(num) / median(den)`` and its percentile bootstrap interval.

    Each arm is resampled with replacement on its own (``n_boot`` times, seeded).
    Returns ``(ratio, low, high)``; NaN when an arm has no value.
    """
    num, den = np.asarray(num, float), np.asarray(den, float)
    if num.size == 0 or den.size == 0:
        return math.nan, math.nan, math.nan
    ratio = float(np.median(num) / np.median(den))
    rng = np.random.default_rng(seed)
    bn = np.median(rng.choice(num, (n_boot, num.size)), axis=1)
    bd = np.median(rng.choice(den, (n_boot, den.size)), axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(bn / bd, [alpha, 1.0 - alpha])
    return ratio, float(low), float(high)


def compare(rounds: pd.DataFrame, comparisons, threads: int, kernels: dict | None = None,
            scales: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """comparisons.csv rows from judged rounds (``keep_rounds`` output).

    ``scales[arm]`` converts an arm's unit seconds to the reported seconds (e.g. per
    epoch); ratios are taken on the scaled times.
    """
    kernels, scales = kernels or {}, scales or {}
    rows = []
    for c in comparisons:
        def kept(arm):
            sel = rounds[(rounds["arm"] == arm) & rounds["kept"]]
            return sel["wall_s"].to_numpy(float) * scales.get(arm, 1.0)

        num, den = kept(c.numerator), kept(c.denominator)
        sn, sd = summarise(num), summarise(den)
        ratio, low, high = bootstrap_ratio(num, den, seed=seed)
        in_pair = rounds["arm"].isin([c.numerator, c.denominator])
        rows.append({
            "comparison": c.name, "numerator": c.numerator, "denominator": c.denominator,
            "framework": c.framework, "threads": threads,
            "median_num_s": sn["median"], "median_den_s": sd["median"],
            "iqr_num_s": sn["iqr"], "iqr_den_s": sd["iqr"],
            "ratio": ratio, "ratio_low": low, "ratio_high": high,
            "rounds_kept": int((in_pair & rounds["kept"]).sum()),
            "rounds_rejected": int((in_pair & ~rounds["kept"]).sum()),
            "kernel_num": kernels.get(c.numerator, ""),
            "kernel_den": kernels.get(c.denominator, ""),
        })
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
