"""Code identity: the source files a job actually loaded, and whether they changed.

One record serves every purpose: a job lists the project's modules present in
``sys.modules`` when it ends (the package's, and those of a model family given by import
path, wherever they live), each with its git blob id (what ``git hash-object FILE``
prints). Their sorted ``(path, blob)`` pairs hash to the run's ``code_digest``. A run is
*clean* when every listed project file equals the one committed at run time, *current*
against a checkout when every listed file is byte-equal there. Files the job never
imported (tests, docs, results, other modules) touch neither. A model module of one's own
is also part of the run's settings digest (:func:`module_blob`, via
:func:`ecgrepro.store.train_settings`), so editing it retrains its runs; the package's own
code only marks runs stale.

Not covered: the Python and package versions (recorded beside, ``provenance.json``
``python``/``packages``) and the hardware. Standard library only.
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
from pathlib import Path

__all__ = ["DIFF_FILE", "blob_id", "changed_files", "code_digest", "code_record",
           "diff_bytes", "file_blob", "head_blobs", "loaded_files", "module_blob",
           "register_module", "write_diff"]

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parents[1]
#: The patch of a dirty run's changed loaded files, gzip-compressed, beside its record.
DIFF_FILE = "code.diff.gz"
#: Top-level packages of model families given by import path (see register_module).
_USER_PACKAGES: set[str] = set()


def blob_id(data: bytes) -> str:
    """Git's blob id of some bytes (sha1 of ``"blob <size>\\0"`` and the bytes)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def file_blob(path) -> str | None:
    """Git's blob id of a file, as ``git hash-object FILE`` prints it (None: unreadable)."""
    try:
        return blob_id(Path(path).read_bytes())
    except OSError:
        return None


def register_module(name: str) -> None:
    """Count the modules of ``name``'s top-level package as code the job loaded."""
    _USER_PACKAGES.add(name.split(".")[0])


def module_blob(module: str) -> dict:
    """``{"module", "blob"}`` of an imported module's source file (a user's model)."""
    path = getattr(sys.modules.get(module), "__file__", None)
    return {"module": module, "blob": file_blob(path) if path else None}


def _key(path: Path, module: str, root: Path) -> tuple[str, bool]:
    """(name in the record, outside the repository?) of a module's file."""
    try:
        return path.relative_to(root).as_posix(), False
    except ValueError:
        return f"python:{module}", True


def loaded_files(modules=None, root=REPO_ROOT, package=PACKAGE_DIR) -> list[dict]:
    """The project source files among ``modules`` (default ``sys.modules``), sorted.

    Package modules by their path in the repository; modules of registered user
    packages by that path too when inside it, else as ``python:<module>`` with their
    file in ``file``. Each entry has the file's git blob id.
    """
    out = {}
    for name, mod in list((sys.modules if modules is None else modules).items()):
        file = getattr(mod, "__file__", None)
        if not file or not file.endswith(".py"):
            continue
        path = Path(file).resolve()
        ours = path.is_relative_to(package)
        if not ours and name.split(".")[0] not in _USER_PACKAGES:
            continue
        key, external = _key(path, name, Path(root))
        entry = {"path": key, "blob": file_blob(path)}
        if external:
            entry["file"] = str(path)
        out[key] = entry
    return [out[k] for k in sorted(out)]


def code_digest(files) -> str:
    """Hex sha256 over the sorted ``(path, blob)`` pairs of a file list."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f["path"]):
        h.update(f"{f['path']}\0{f['blob']}\n".encode())
    return h.hexdigest()


def _git(*args: str, cwd=REPO_ROOT, ok=(0,)) -> bytes | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode in ok else None


def head_blobs(paths, commit: str = "HEAD", root=REPO_ROOT) -> dict | None:
    """``{path: blob id}`` of the paths committed at ``commit`` (None: no git)."""
    paths = [p for p in paths if not p.startswith("python:")]
    if not paths:
        return {}
    out = _git("ls-tree", "-r", "-z", "--full-tree", commit, "--", *paths, cwd=root)
    if out is None:
        return None
    blobs = {}
    for entry in out.decode().split("\0"):
        meta, _, path = entry.partition("\t")
        if path:
            blobs[path] = meta.split()[2]
    return blobs


def changed_files(files, against: str = "HEAD", root=REPO_ROOT,
                  seen: dict | None = None) -> list[str] | None:
    """The listed files that differ from ``against`` (a commit, or ``"worktree"``).

    Files outside the repository are compared with their file on disk. None when git
    cannot answer for a commit. ``seen``: a cache of blob ids on disk, for many runs.
    """
    seen = {} if seen is None else seen

    def disk(path):
        if path not in seen:
            seen[path] = file_blob(path)
        return seen[path]

    inside = [f["path"] for f in files if not f["path"].startswith("python:")]
    if against == "worktree":
        now = {p: disk(Path(root) / p) for p in inside}
    else:
        now = head_blobs(inside, against, root)
        if now is None:
            return None
    for f in files:
        if f["path"].startswith("python:"):
            now[f["path"]] = disk(f.get("file", ""))
    return sorted(f["path"] for f in files if now.get(f["path"]) != f["blob"])


def diff_bytes(changed, committed, root=REPO_ROOT) -> bytes:
    """A patch (``git apply``-able) of changed loaded files against HEAD.

    Tracked files by ``git diff HEAD --binary``; files not committed (``committed``
    lacks them) as new files, content included, so the code can be recovered.
    """
    tracked = [p for p in changed if p in committed]
    patch = _git("diff", "HEAD", "--binary", "--", *tracked, cwd=root) if tracked else b""
    for p in changed:
        if p not in committed and not p.startswith("python:"):
            patch = (patch or b"") + (_git("diff", "--no-index", "--binary", "--",
                                           "/dev/null", p, cwd=root, ok=(0, 1)) or b"")
    return patch or b""


def code_record(modules=None, root=REPO_ROOT,
                package=PACKAGE_DIR) -> tuple[dict, dict, bytes]:
    """(``code`` record, ``git`` record, patch) of this process, as it stands now.

    ``git.dirty`` follows the loaded files: True when one of the project's files differs
    from the committed one (or is not committed); None without git.
    """
    files = loaded_files(modules, root, package)
    commit = _git("rev-parse", "HEAD", cwd=root)
    commit = commit.decode().strip() if commit else None
    committed = head_blobs([f["path"] for f in files], root=root) if commit else None
    git = {"commit": commit, "dirty": None}
    patch = b""
    if committed is not None:
        changed = sorted(f["path"] for f in files if not f["path"].startswith("python:")
                         and committed.get(f["path"]) != f["blob"])
        git["dirty"] = bool(changed)
        if changed:
            patch = diff_bytes(changed, committed, root)
            git.update(changed_files=changed, diff_sha256=hashlib.sha256(patch).hexdigest())
    return {"digest": code_digest(files), "files": files}, git, patch


def write_diff(directory, patch: bytes) -> str:
    """Write the patch gzip-compressed (no time stamp) into ``directory``; its name."""
    with open(Path(directory) / DIFF_FILE, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(patch)
    return DIFF_FILE


def read_code(run_dir) -> dict | None:
    """A run's ``code`` record from its provenance.json (None: not recorded)."""
    import json

    path = Path(run_dir) / "provenance.json"
    try:
        return json.loads(path.read_text()).get("code")
    except (OSError, ValueError):
        return None


def stale_runs(run_dirs, against: str = "worktree", root=REPO_ROOT) -> list[str]:
    """``<run>: code changed since it ran (kept, not rerun): <files>`` for each existing
    run whose loaded files differ now (the package's code never reruns a run by itself;
    delete the run directory to redo it)."""
    out, seen = [], {}
    for d in run_dirs:
        code = read_code(d)
        if code is None:
            continue
        changed = changed_files(code["files"], against, root, seen)
        if changed:
            shown = ", ".join(changed[:3]) + (f" (+{len(changed) - 3})" if len(changed) > 3
                                              else "")
            out.append(f"{_run_name(d)}: code changed since it ran "
                       f"(kept, not rerun; delete it to redo): {shown}")
    return out


def _run_name(run_dir) -> str:
    """The run directory from its ``runs/`` or ``knn/`` folder on (as store names runs;
    read here from the path so that codeid needs no store, which needs codeid)."""
    parts = Path(run_dir).parts
    starts = [i for i, p in enumerate(parts) if p in ("runs", "knn")]
    return "/".join(parts[starts[-1]:] if starts else parts)


def code_status(run_dirs, scan=(), root=REPO_ROOT) -> list[tuple[str, str, list[str]]]:
    """``(run, status, changed files)`` of each run against HEAD of ``root``.

    status: ``current`` (every file it loaded is byte-equal at HEAD), ``stale`` (the
    files that changed since), ``not recorded`` (a run made before runs listed their
    loaded files) or ``no git``. ``scan``: folders whose runs (any ``provenance.json``
    below) are added.
    """
    dirs = [Path(d) for d in run_dirs]
    for folder in scan:
        dirs += sorted(p.parent for p in Path(folder).rglob("provenance.json"))
    out = []
    for d in dirs:
        code = read_code(d)
        if code is None:
            out.append((str(d), "not recorded", []))
            continue
        changed = changed_files(code["files"], "HEAD", root)
        status = "no git" if changed is None else "stale" if changed else "current"
        out.append((str(d), status, changed or []))
    return out
