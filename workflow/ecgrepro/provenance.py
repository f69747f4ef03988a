"""What produced a run: code version, software, hardware, seeds, data checksums.

Standard library only, so any step (and the light aggregate environment) can record or
read provenance without importing a framework.
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
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


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state() -> dict:
    """Commit of the checkout and what differed from it.

    ``dirty`` is True when tracked files differ from the commit or files git does not
    ignore are untracked (None: no git). A dirty tree also records ``diff_sha256``
    (sha256 over ``git diff HEAD --binary`` and the untracked files' names and bytes)
    and ``changed_files``, so a result can be tied to the exact code that made it.
    """
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=all") if commit else None
    state = {"commit": commit, "dirty": None if status is None else bool(status)}
    if state["dirty"]:
        state.update(_diff_facts())
    return state


def _diff_facts() -> dict:
    """sha256 of the working tree's difference from HEAD, and the files in it."""
    diff = _git_bytes("diff", "HEAD", "--binary") or b""
    changed = (_git("diff", "HEAD", "--name-only") or "").splitlines()
    untracked = (_git("ls-files", "--others", "--exclude-standard") or "").splitlines()
    digest = hashlib.sha256(diff)
    for name in sorted(untracked):
        digest.update(b"\0untracked\0" + name.encode() + b"\0")
        try:
            digest.update((REPO_ROOT / name).read_bytes())
        except OSError:
            pass
    return {"diff_sha256": digest.hexdigest(),
            "changed_files": sorted(set(changed) | set(untracked))}


def _git_bytes(*args: str) -> bytes | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                             timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def tree_problems(provenance: dict) -> list[str]:
    """Why runs cannot count as made from one committed tree ([] when they can).

    Parameters
    ----------
    provenance : dict
        ``{run name: provenance.json content}``.
    """
    problems, commits = [], {}
    for name, prov in sorted(provenance.items()):
        git = prov.get("git") or {}
        if git.get("commit") is None:
            problems.append(f"{name}: no git commit recorded")
            continue
        commits.setdefault(git["commit"], []).append(name)
        if git.get("dirty") is not False:
            files = ", ".join((git.get("changed_files") or [])[:5]) or "not recorded"
            problems.append(f"{name}: made from a changed tree (changed files: {files})")
    if len(commits) > 1:
        problems.append("runs from more than one commit: " + "; ".join(
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


def collect_provenance(seed=None, data_files=(), extra=None) -> dict:
    """Everything needed to say what produced a run, JSON-ready.

    Parameters
    ----------
    seed : int, optional
        The run's random seed (None for deterministic steps).
    data_files : iterable of str or Path
        Input files; each is recorded with its size and sha256.
    extra : dict, optional
        Step-specific facts, stored under ``"extra"``.
    """
    return {
        "timestamp_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "git": git_state(),
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
