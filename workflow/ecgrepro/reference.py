"""The reference results: made from one clean commit, copied apart, rebuilt exactly.

``results/reference/`` (runs, k-NN runs, data summaries, tables, figures) and
``benchmarks/reference/`` hold the committed reference results, ``paper/`` their paper.
The workflow writes there only when asked: ``reference_runs`` (produce: train into
``results/``, check, then copy here) and ``reference_tables`` (rebuild the tables,
figures and paper from the runs here). When config ``reference.require_clean`` is set,
both refuse runs that are not clean and current at HEAD (:mod:`ecgrepro.codeid`); runs
made before runs listed their loaded files must come from one clean commit.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from ecgrepro.errors import EcgreproError
from ecgrepro.provenance import tree_problems
from ecgrepro.store import (KNN_FILES, TRAIN_FILES, atomic_dir, benchmark_paths,
                            parse_run_dir)

log = logging.getLogger("ecgrepro")


def _provenance(run_dirs) -> dict:
    out = {}
    for d in run_dirs:
        path = Path(d) / "provenance.json"
        if path.is_file():
            out[parse_run_dir(d).name] = json.loads(path.read_text())
    return out


def check_clean(run_dirs, require_clean: bool) -> list[str]:
    """Problems of the runs' provenance (:func:`ecgrepro.provenance.tree_problems`).

    Logged as warnings; with ``require_clean`` an :class:`EcgreproError` instead.
    """
    problems = tree_problems(_provenance(run_dirs))
    if problems and require_clean:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise EcgreproError(
            f"reference.require_clean is true, but {len(problems)} problem(s):\n  {shown}"
            f"{more}\nCommit your changes and rerun the runs named from the clean "
            "checkout (runs that record their loaded files may come from several commits "
            "when each is clean and current at HEAD: python -m ecgrepro.cli code-status "
            "RUN_DIR says which are), or set config reference.require_clean: false to "
            "accept them (they stay marked in runs.csv, columns dirty, commit, "
            "code_current)."
        )
    for p in problems[:5]:
        log.warning("provenance: %s", p)
    if len(problems) > 5:
        log.warning("provenance: ... %d more problem(s)", len(problems) - 5)
    return problems


def _complete(run_dir: Path) -> bool:
    files = TRAIN_FILES if parse_run_dir(run_dir).kind == "train" else KNN_FILES
    return all((run_dir / f).is_file() for f in files)


def promote(run_dirs, *, results, reference, benchmarks, reference_benchmarks,
            require_clean: bool, extra_dirs=()) -> list[str]:
    """Copy a user's finished runs (and their benchmarks) into the reference tree.

    Parameters
    ----------
    run_dirs : list of str
        Run directories under ``results`` (the configuration's runs); all must exist.
    results, reference : str or Path
        The user's results root and the reference root (``results/reference``).
    benchmarks, reference_benchmarks : str or Path
        Their benchmark roots.
    require_clean : bool
        Refuse runs from a changed tree or several commits (checked before copying).
    extra_dirs : list of str
        Folders under ``results`` copied as they are (e.g. ``data``, ``timing``).

    Returns
    -------
    list of str
        The runs copied, by name.
    """
    results, reference = Path(results), Path(reference)
    dirs = [Path(d) for d in run_dirs]
    absent = [str(d) for d in dirs if not _complete(d)]
    if absent:
        raise EcgreproError(f"{len(absent)} run(s) not finished, e.g. {absent[:3]}; "
                            "run the configuration first (snakemake all).")
    check_clean(dirs, require_clean)
    names = []
    for d in dirs:
        target = reference / d.relative_to(results)
        with atomic_dir(target) as tmp:
            shutil.copytree(d, tmp, dirs_exist_ok=True)
        run = parse_run_dir(d)
        for bench in benchmark_paths(run, benchmarks):
            dest = Path(reference_benchmarks) / bench.relative_to(benchmarks)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(bench, dest)
        names.append(run.name)
    for extra in extra_dirs:
        src = results / extra
        if src.is_dir():
            with atomic_dir(reference / extra) as tmp:
                shutil.copytree(src, tmp, dirs_exist_ok=True)
    return names
