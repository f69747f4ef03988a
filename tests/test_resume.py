"""Kill the workflow mid-run, start it again: the rest is done, nothing finished is redone.

One temporary working directory, three short TwoLeadECG trainings run one at a time
(``--cores 1``). The first Snakemake is stopped with SIGTERM (``kill``, a CI timeout,
SLURM's end of allocation), the second with SIGINT (Ctrl-C in a terminal), each sent to
the whole process group while one run has finished and the next is training. A third
Snakemake finishes the work. After each kill: no run directory looks complete unless it
is (all four outputs, not marked incomplete by Snakemake), no ``.<run>.partial-<pid>``
temporary directory is left; each restart runs exactly the unfinished runs and leaves
the finished ones untouched (same mtime).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import snapshot_workflow

BIN = Path(sys.executable).parent
RUNS = "results/runs/TwoLeadECG/lstm_fcn/torch/blog2020/test"
OUTPUTS = ("metrics.json", "predictions.csv", "history.csv", "provenance.json")
SEEDS = 3
# blog2020 evaluates the test set every epoch: ~0.3-0.5 s per epoch on one core, so a run
# trains for a few seconds after a start-up of several (imports): time enough to kill.
CONFIG = f"""\
ucr_datasets: [TwoLeadECG]
protocols:
  blog2020: {{epochs: 10}}
experiments:
  - datasets: [TwoLeadECG]
    models: [lstm_fcn]
    frameworks: [torch]
    protocols: [blog2020]
    seeds: {SEEDS}
"""

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def _cmd(work: Path, mirror: Path) -> list[str]:
    code = work.parent / "code"
    return [
        str(BIN / "snakemake"), "-s", str(code / "Snakefile"), "--cores", "1", "train_all",
        "--configfile", str(code / "config" / "quick.yaml"), str(work / "resume.yaml"),
        "--config", f"data_mirror={mirror}",
    ]


def _env() -> dict:
    # Jobs call `python`: this environment's, as an activated venv would.
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def _finished(work: Path) -> dict[str, int]:
    """seed dir -> mtime_ns of metrics.json, for runs whose metrics exist."""
    out = {}
    for seed in range(SEEDS):
        # run directories end in their settings digest (ecgrepro.store)
        for metrics in (work / RUNS).glob(f"seed{seed}-*/metrics.json"):
            out[f"seed{seed}"] = metrics.stat().st_mtime_ns
    return out


def _training(work: Path, finished) -> list[str]:
    """Runs whose log says training has begun and that have no metrics yet."""
    logs = work / "logs/train/TwoLeadECG/lstm_fcn/torch/blog2020/test"
    return [
        p.stem.split("-")[0] for p in logs.glob("seed*.log")
        if p.stem.split("-")[0] not in finished and re.search(r"series, loss .* epochs on", p.read_text())
    ]


def _run_and_kill(work: Path, mirror: Path, sig: int, deadline_s: float = 240):
    """Start Snakemake in its own process group; signal the group once a run finished
    (at least a second ago, so Snakemake has recorded it) while another is training."""
    log = open(work / f"run-{sig}.log", "w")
    proc = subprocess.Popen(_cmd(work, mirror), cwd=work, env=_env(), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    before = set(_finished(work))
    start = time.monotonic()
    try:
        while True:
            assert proc.poll() is None, (
                f"Snakemake ended (rc {proc.returncode}) before it could be interrupted:\n"
                + (work / f"run-{sig}.log").read_text()[-3000:]
            )
            assert time.monotonic() - start < deadline_s, "no run finished in time"
            finished = _finished(work)
            new = {s: t for s, t in finished.items() if s not in before}
            settled = [s for s, t in new.items() if time.time_ns() - t > 1e9]
            training = _training(work, finished)
            if settled and training:
                break
            time.sleep(0.2)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    return finished, training


def _incomplete_marked(work: Path) -> set[str]:
    """Output paths Snakemake has marked incomplete: .snakemake/incomplete/<urlsafe
    base64 of the path>, split into '@'-prefixed chunks when longer than a file name."""
    import base64

    marks = work / ".snakemake" / "incomplete"
    out = set()
    for p in marks.rglob("*") if marks.is_dir() else ():
        if not p.is_file() or p.name == "migration_underway":
            continue
        b64 = "".join(part.lstrip("@") for part in p.relative_to(marks).parts)
        out.add(base64.urlsafe_b64decode(b64.encode()).decode())
    return out


def _check_no_partial_outputs(work: Path, finished: dict[str, int]) -> None:
    runs = work / RUNS
    litter = sorted(p.name for p in runs.glob(".seed*.partial-*"))
    assert not litter, f"temporary run directories left behind: {litter}"
    marked = _incomplete_marked(work)
    for seed_dir in runs.glob("seed*"):
        present = [f for f in OUTPUTS if (seed_dir / f).exists()]
        seed = seed_dir.name.split("-")[0]  # seed<n>-<settings digest>
        if seed in finished:
            assert present == list(OUTPUTS), f"{seed_dir.name}: finished but lacks outputs"
            continue
        if present == list(OUTPUTS) and (seed_dir / "settings.json").exists():
            continue  # completed (renamed into place whole) as the signal arrived
        # An interrupted run: nothing that looks like a result, or marked incomplete.
        rel = {f"{RUNS}/{seed_dir.name}/{f}" for f in present}
        assert not present or rel <= marked, (
            f"{seed_dir.name} was interrupted but has {present}, not marked incomplete"
        )


def _job_counts(text: str) -> dict[str, int]:
    table = text.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_killed_workflow_resumes_without_redoing_finished_runs(tmp_path, shared_data):
    snapshot_workflow(tmp_path / "code")
    work = tmp_path / "work"
    work.mkdir()
    (work / "resume.yaml").write_text(CONFIG)

    done = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        finished, interrupted = _run_and_kill(work, shared_data, sig)
        assert interrupted, "no run was in progress at the kill"
        _check_no_partial_outputs(work, finished)
        for seed, mtime in done.items():  # runs finished before this restart: untouched
            assert finished[seed] == mtime, f"{seed} was recomputed after {sig.name}"
        done = finished
        if len(done) == SEEDS:  # a fast machine finished everything: nothing left to test
            break

    final = subprocess.run(_cmd(work, shared_data), cwd=work, env=_env(),
                           capture_output=True, text=True, timeout=300)
    text = final.stdout + final.stderr
    assert final.returncode == 0, text[-3000:]
    left = SEEDS - len(done)
    if left:
        assert _job_counts(text).get("train") == left, text[-3000:]
        assert "fetch_ucr" not in _job_counts(text) and "prepare_ucr" not in _job_counts(text)
    after = _finished(work)
    assert set(after) == {f"seed{s}" for s in range(SEEDS)}
    for seed, mtime in done.items():
        assert after[seed] == mtime, f"{seed} was recomputed by the final run"
    for seed_dir in (work / RUNS).glob("seed*"):
        assert all((seed_dir / f).is_file() for f in OUTPUTS)
    assert not list((work / RUNS).glob(".seed*.partial-*"))
    assert not _incomplete_marked(work)


# -- one SIGTERM to Snakemake alone; a hard kill ------------------------------------------

LONG = """\
ucr_datasets: [TwoLeadECG]
protocols:
  blog2020: {{epochs: {epochs}}}
experiments:
  - datasets: [TwoLeadECG]
    models: [lstm_fcn]
    frameworks: [torch]
    protocols: [blog2020]
    seeds: {seeds}
"""


def _stop_cmd(work: Path, mirror: Path, config: str, *extra: str) -> list[str]:
    code = work.parent / "code"
    return [str(BIN / "snakemake"), "-s", str(code / "Snakefile"), "--cores", "1",
            "train_all", "--configfile", str(code / "config" / "quick.yaml"),
            str(work / config), "--config", f"data_mirror={mirror}", *extra]


def _run_digests(work: Path) -> dict[str, str]:
    import hashlib

    root = work / "results" / "runs"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _start_training(work: Path, cmd: list[str], name: str) -> subprocess.Popen:
    """Start Snakemake in its own session; return once a training has begun."""
    log = open(work / f"{name}.log", "w")
    wall = time.time()
    proc = subprocess.Popen(cmd, cwd=work, env=_env(), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    started, begun = time.monotonic(), set()
    while not begun:  # a log of this call (Snakemake replaces a job's log)
        assert proc.poll() is None, (work / f"{name}.log").read_text()[-3000:]
        assert time.monotonic() - started < 240, "no training began in time"
        begun = {p for p in (work / "logs" / "train").rglob("*.log")
                 if p.stat().st_mtime > wall
                 and re.search(r"series, loss .* epochs on", p.read_text())}
        time.sleep(0.3)
    time.sleep(2)  # well inside the first epochs
    return proc


def _call(cmd: list[str], work: Path, timeout: float = 300) -> tuple[int, str]:
    """Run Snakemake to its end in its own session (its jobs killed on a timeout)."""
    proc = subprocess.Popen(cmd, cwd=work, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"timed out:\n{out[-3000:]}") from None
    return proc.returncode, out


def _group_gone(pgid: int, wait_s: float = 20) -> bool:
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_one_sigterm_to_snakemake_stops_running_jobs_and_a_hard_kill_resumes(
        tmp_path, shared_data):
    """A finished run, then a long configuration that reruns it (params changed) and
    trains a second seed. One SIGTERM to the Snakemake process alone (kill <pid>) ends
    the trainings within seconds, not after them; the finished run is as it was and
    nothing partial is left. A hard kill (SIGKILL to the group) leaves a lock: the next
    call says so, --unlock frees it, and a dry run plans only the unfinished trainings."""
    snapshot_workflow(tmp_path / "code")
    work = tmp_path / "work"
    work.mkdir()
    (work / "short.yaml").write_text(LONG.format(epochs=1, seeds=1))
    (work / "long.yaml").write_text(LONG.format(epochs=5000, seeds=2))
    rc, text = _call(_stop_cmd(work, shared_data, "short.yaml"), work, timeout=600)
    assert rc == 0, text[-3000:]
    finished = _run_digests(work)
    assert finished

    # One SIGTERM to Snakemake alone.
    proc = _start_training(work, _stop_cmd(work, shared_data, "long.yaml"), "term")
    sent = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    took = time.monotonic() - sent
    text = (work / "term.log").read_text()
    assert took < 60, f"Snakemake took {took:.0f} s to stop after SIGTERM:\n{text[-3000:]}"
    assert proc.returncode != 0
    assert _group_gone(proc.pid), "job processes outlived Snakemake"
    assert _run_digests(work) == finished, "a finished run was changed or removed"
    assert not list((work / "results" / "runs").rglob("*.partial-*"))

    # A hard kill: no time to clean up or to release the lock.
    proc = _start_training(work, _stop_cmd(work, shared_data, "long.yaml"), "kill")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert _group_gone(proc.pid)
    rc, text = _call(_stop_cmd(work, shared_data, "long.yaml"), work, timeout=120)
    assert rc != 0 and "--unlock" in text, text[-3000:]
    rc, text = _call(_stop_cmd(work, shared_data, "long.yaml", "--unlock"), work)
    assert rc == 0, text[-3000:]
    assert _run_digests(work) == finished, "a finished run was changed by the hard kill"
    rc, text = _call(_stop_cmd(work, shared_data, "long.yaml", "-n"), work)
    assert rc == 0, text[-3000:]
    jobs = _job_counts(text)
    # seed1 (never finished) is planned. seed0's rerun failed, so Snakemake restored its
    # files but dropped their metadata: its changed params no longer trigger a rerun
    # unless the run path carries them (content-keyed paths plan a new run directory).
    assert jobs.get("train") in (1, 2) and "prepare_ucr" not in jobs, text[-3000:]
    assert re.search(r"rule train:\n(?:.*\n){0,3}.*output: \S*seed1-[0-9a-f]+/", text), text[-3000:]
