"""What produced a run: code version, software, hardware, seeds, data checksums.

The code is recorded as the files the job loaded (:mod:`ecgrepro.codeid`): ``code``
(their git blob ids and digest) and ``git`` (commit; ``dirty`` when one of those files
differs from the commit, then the patch's sha256 and the patch itself beside the run,
``code.diff.gz``). The verdict rules in force come from the workflow (:data:`RULES_ENV`).

Standard library only, so any step (and the light aggregate environment) can record or
read provenance without importing a framework.
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = (
    "ecgrepro",
    "numpy",
    "pandas",
    "scipy",
    "aeon",
    "sktime",
    "numba",
    "torch",
    "tensorflow",
    "keras",
    "wfdb",
    "snakemake",
    "seaborn",
    "matplotlib",
)
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "NUMBA_THREADING_LAYER",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "CUDA_VISIBLE_DEVICES",
)
REPO_ROOT = Path(__file__).resolve().parents[2]
#: The digest of the ``claims:``/``convergence:`` rules (ecgrepro.rules.rules_digest), set
#: by the workflow for every job; an environment variable, not a parameter, so a changed
#: rule never reruns a job.
RULES_ENV = "ECGREPRO_RULES_DIGEST"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def tree_problems(provenance: dict, root=None) -> list[str]:
    """Why runs cannot count as made from the checkout's code ([] when they can).

    A run that lists the files it loaded counts when it was clean (each equal to the
    commit it ran at) and is current (each byte-equal at HEAD of ``root``, default the
    package's checkout), whatever commit it ran at. A run made before runs listed them
    ("code not recorded") counts when its whole tree was clean, and such runs must all
    come from one commit.

    Parameters
    ----------
    provenance : dict
        ``{run name: provenance.json content}``.
    root : str or Path, optional
        The checkout whose HEAD the runs must be current at.
    """
    from ecgrepro.codeid import REPO_ROOT, changed_files

    problems, commits = [], {}
    for name, prov in sorted(provenance.items()):
        git, code = prov.get("git") or {}, prov.get("code")
        if code is not None:
            if git.get("dirty") is not False:
                files = ", ".join((git.get("changed_files") or [])[:5]) or "not recorded"
                problems.append(f"{name}: made from changed files ({files})")
                continue
            stale = changed_files(code["files"], "HEAD", root or REPO_ROOT)
            if stale is None:
                problems.append(f"{name}: cannot compare its code with HEAD (no git)")
            elif stale:
                problems.append(f"{name}: stale, files changed since: {', '.join(stale[:5])}")
            continue
        if git.get("commit") is None:
            problems.append(f"{name}: no git commit recorded")
            continue
        commits.setdefault(git["commit"], []).append(name)
        if git.get("dirty") is not False:
            files = ", ".join((git.get("changed_files") or [])[:5]) or "not recorded"
            problems.append(f"{name}: made from a changed tree (changed files: {files})")
    if len(commits) > 1:
        problems.append("runs from more than one commit (code not recorded): " + "; ".join(
            f"{c[:12]} ({len(n)} runs)" for c, n in sorted(commits.items())))
    return problems


def package_versions(names=PACKAGES) -> dict:
    """Installed version of each package, None when absent (nothing is imported)."""
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _proc_field(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def hardware() -> dict:
    """Host name, CPU model, memory and the CPUs this process may use."""
    mem = _proc_field("/proc/meminfo", "MemTotal")  # "131072000 kB"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _proc_field("/proc/cpuinfo", "model name") or platform.processor(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "ram_bytes": int(mem.split()[0]) * 1024 if mem else None,
    }


def collect_provenance(seed=None, data_files=(), extra=None, outdir=None) -> dict:
    """Everything needed to say what produced a run, JSON-ready.

    Call it when the job's work is done: the code recorded is what was loaded by then.

    Parameters
    ----------
    seed : int, optional
        The run's random seed (None for deterministic steps).
    data_files : iterable of str or Path
        Input files; each is recorded with its size and sha256.
    extra : dict, optional
        Step-specific facts, stored under ``"extra"``.
    outdir : str or Path, optional
        The directory being written: a dirty run's patch goes there (``code.diff.gz``).
    """
    from ecgrepro.codeid import code_record, write_diff

    code, git, patch = code_record()
    if git.get("dirty") and outdir is not None:
        git["diff_file"] = write_diff(outdir, patch)
    rules = os.environ.get(RULES_ENV)
    return {
        "timestamp_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "git": git,
        "code": code,
        **({"rules": {"digest": rules}} if rules else {}),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "argv": sys.argv,
        "packages": package_versions(),
        "hardware": hardware(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "thread_env": {k: os.environ.get(k) for k in THREAD_VARS},
        "data_files": [
            {"path": str(p), "bytes": Path(p).stat().st_size, "sha256": sha256_file(p)}
            for p in data_files
        ],
        "extra": extra or {},
    }


def _jsonable(obj):
    """numpy scalars and arrays (without importing numpy), paths, sets."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (Path, os.PathLike)):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def write_json(path: str | Path, obj) -> None:
    """Write ``obj`` as indented JSON, atomically (numpy values and paths included)."""
    from ecgrepro.io import write_json as _write_json

    _write_json(path, obj, default=_jsonable)
