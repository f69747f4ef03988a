"""The workflow through a real SLURM and profiles/slurm, against a local run.

A private single-node SLURM (tests/slurm/start.sh: munged, slurmctld, slurmd on this
machine) runs the deterministic part of the quick configuration through
``--workflow-profile profiles/slurm``: all data (one grouped SLURM job), the five k-NN
variants (blocks four to a job; the learned window search; the gathers and the k-NN
table in one job), and two trainings (blog2020, 5 epochs, one per framework). Not the whole quick configuration: every sequential step costs ~15 s of
status polling, and the longer trainings add nothing the two do not show.

Checked: every non-local job ran inside a SLURM job (the plugin's submissions, the jobs
finished in each SLURM log, squeue's record, the SLURM job id each run's provenance.json
recorded), and the results equal those of a plain local run: files compared byte for
byte, the k-NN and training metrics field by field (timings aside).

Needs Debian's slurm-wlm and munge (.ci/run installs them), root, the executor plugin
(pip install --no-deps -r envs/requirements-slurm.txt), the real data and an opt-in,
ECGREPRO_SLURM_TESTS=1 (it starts system daemons; a plain `pytest` should not); skips,
with the reason, otherwise. The cluster is stopped again whatever happens (stop.sh).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, SHARED_DATA, snapshot_workflow

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("ECGREPRO_SLURM_DIR", "/tmp/ecgrepro-slurm"))
CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by ecgrepro tests/slurm/start.sh"
LOCAL_RULES = {"all", "data", "knn", "knn_table", "train_all"}



def _quick_config() -> dict:
    """config.yaml with quick.yaml merged over it, as Snakemake merges them."""
    import yaml
    from snakemake.utils import update_config, validate

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    update_config(cfg, yaml.safe_load((REPO / "config/quick.yaml").read_text()))
    validate(cfg, str(REPO / "workflow/schemas/config.schema.yaml"))
    return cfg


def _paths():
    """Run directories (settings-keyed, ecgrepro.store) of the runs this test makes."""
    sys.path.insert(0, str(REPO / "workflow"))
    from ecgrepro import store

    cfg = _quick_config()
    runs = [store.run_dir(store.train_settings(cfg, "TwoLeadECG", "lstm_fcn", fw,
                                               "blog2020", "test", 0))
            for fw in ("torch", "keras")]
    knn = [store.knn_dir(cfg, "TwoLeadECG", v)
           for v in ("euclidean", "aeon-dtw", "sktime-dtw", "learned", "blog-dtw-l1")]
    return runs, knn


RUNS, KNN_RUNS = _paths()
TARGETS = [
    "data",
    "knn",
    "results/data/mitdb/segments_by_class.csv",
    *(f"{r}/metrics.json" for r in RUNS),
]
# Deterministic outputs, compared byte for byte.
SAME_BYTES = [
    "results/data/ucr/TwoLeadECG/summary.json",
    "results/data/mitdb/beat_counts.csv",
    "results/data/mitdb/annotation_counts.csv",
    "results/data/mitdb/records.csv",
    "results/data/mitdb/segments_by_class.csv",
    "results/data/mitdb/segments_by_record.csv",
    *(
        f"{k}/{f}" for k in KNN_RUNS for f in ("accuracy.csv", "predictions.csv", "confusion.csv")
    ),
    *(f"{r}/predictions.csv" for r in RUNS),
]
# Fields that differ between any two runs (time, threads granted, host).
VOLATILE = re.compile(r"seconds|timings|_s$|threads|elapsed|timestamp|hostname")


def _skip_reason() -> str | None:
    if shutil.which("slurmctld") is None or shutil.which("munged") is None:
        return "SLURM is not installed (apt-get install slurm-wlm munge; .ci/run does)"
    if os.environ.get("ECGREPRO_SLURM_TESTS") != "1":
        return ("starts a SLURM as root and writes /etc/slurm/slurm.conf: opt in with "
                "ECGREPRO_SLURM_TESTS=1 (.ci/run does)")
    if os.geteuid() != 0:
        return "starting a test SLURM needs root (it writes /etc/slurm/slurm.conf)"
    if CONF.exists() and MARKER not in CONF.read_text(errors="replace"):
        return f"{CONF} belongs to a real SLURM installation; not touching it"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return ("snakemake-executor-plugin-slurm is not installed "
                "(pip install --no-deps -r envs/requirements-slurm.txt)")
    if not (SHARED_DATA / "ucr" / "TwoLeadECG").is_dir():
        return f"real datasets not found at {SHARED_DATA}"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


@pytest.fixture(scope="module")
def slurm_cluster():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    started = subprocess.run([str(HERE / "start.sh"), str(STATE)], capture_output=True,
                             text=True, timeout=120)
    try:
        if started.returncode != 0:
            pytest.fail(f"tests/slurm/start.sh failed:\n{started.stdout}{started.stderr}")
        yield STATE
    finally:
        subprocess.run([str(HERE / "stop.sh"), str(STATE)], timeout=120)


def _snakemake(code: Path, work: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JOB_ID"}  # slurm-notes 5
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"  # jobs call `python`: this venv's
    cmd = [
        str(BIN / "snakemake"), "-s", str(code / "Snakefile"), *TARGETS,
        "--configfile", str(code / "config" / "quick.yaml"),
        "--config", f"data_mirror={SHARED_DATA}", *args,
    ]
    work.mkdir(parents=True, exist_ok=True)
    log = open(work / "snakemake.log", "w")
    return subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait(proc: subprocess.Popen, work: Path, timeout: float) -> str:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=60)
    text = (work / "snakemake.log").read_text()
    assert proc.returncode == 0, f"snakemake in {work} failed:\n{text[-5000:]}"
    return text


def _job_counts(text: str) -> dict[str, int]:
    table = text.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def _jobs_in_log(text: str) -> set[tuple[str, str]]:
    """(rule, outputs) of every job a SLURM job's log shows Snakemake running.

    Inside a SLURM job the plugin's Snakemake prints each job (``rule X:``) and runs it
    through ``srun``, whose Snakemake prints it again (``localrule X:``), with the same
    outputs: counted once.
    """
    jobs, rule = set(), None
    for line in text.splitlines():
        m = re.match(r"^\s*(?:local)?rule (\w+):\s*$", line)
        if m:
            rule = m[1]
            continue
        m = re.match(r"^\s*output: (.*)$", line)
        if m and rule:
            jobs.add((rule, m[1].strip()))
            rule = None
    return jobs


def _stable(obj):
    """A JSON value without the fields that legitimately differ between runs."""
    if isinstance(obj, dict):
        return {k: _stable(v) for k, v in obj.items() if not VOLATILE.search(k)}
    if isinstance(obj, list):
        return [_stable(v) for v in obj]
    return obj


def test_quick_config_through_slurm_equals_local_run(slurm_cluster, tmp_path):
    code = snapshot_workflow(tmp_path / "code")
    local_dir, slurm_dir = tmp_path / "local", tmp_path / "slurm"
    # The local reference runs beside the SLURM run (which mostly waits on status
    # checks), on one core so that SLURM jobs get the other.
    local = _snakemake(code, local_dir, "--cores", "1", "--workflow-profile", "none")
    t0 = time.monotonic()
    cluster = _snakemake(
        code,
        slurm_dir,
        "--workflow-profile", str(code / "profiles" / "slurm"),
        # A test cluster without accounting: squeue for status (slurm-notes pitfall 1),
        # first check after 2 s, no NFS lag, a failure fails the test at once.
        "--slurm-status-command", "squeue",
        "--slurm-init-seconds-before-status-checks", "2",
        "--latency-wait", "5",
        "--retries", "0",
        # The node has 2 CPUs; --cores caps each job (grouped jobs included) at 2.
        "--cores", "2",
    )
    slurm_text = _wait(cluster, slurm_dir, timeout=900)
    slurm_seconds = time.monotonic() - t0
    _wait(local, local_dir, timeout=900)

    # --- every non-local job went through sbatch ---------------------------------------
    planned = {r: n for r, n in _job_counts(slurm_text).items() if r not in LOCAL_RULES}
    submitted = dict(re.findall(
        r"has been submitted with SLURM jobid (\d+) \(log: (\S+?)\)\.?$", slurm_text, re.M
    ))
    assert submitted, "no SLURM submission in the Snakemake log"
    ran_locally = set(re.findall(r"^localrule (\w+):", slurm_text, re.M))
    assert ran_locally <= LOCAL_RULES, f"ran outside SLURM: {ran_locally - LOCAL_RULES}"

    in_slurm: dict[str, int] = {}
    for jobid, log in submitted.items():
        text = Path(log).read_text()
        ran = _jobs_in_log(text)
        finished = set(re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", text))
        assert ran and {r for r, _ in ran} == finished, (
            f"SLURM job {jobid}: jobs {sorted(ran)} but finished {sorted(finished)} ({log})"
        )
        for rule, _ in ran:
            in_slurm[rule] = in_slurm.get(rule, 0) + 1
    assert in_slurm == planned, f"jobs run inside SLURM {in_slurm} != planned {planned}"
    # Grouping: all data in one SLURM job, k-NN blocks four to a job, the gathers in one.
    groups = [Path(log).parent.name for log in submitted.values()]
    assert sum(g.startswith("group_data") for g in groups) == 1, groups
    assert sum(g.startswith("group_knn_gather") for g in groups) == 1, groups
    assert len(submitted) < sum(planned.values()) - planned.get("fetch_mitdb_file", 0), groups

    states = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i %T"], capture_output=True,
                            text=True, check=True).stdout
    state = dict(line.split() for line in states.splitlines())
    for jobid in submitted:
        assert state.get(jobid) == "COMPLETED", f"SLURM job {jobid}: {state.get(jobid)}"

    provenance = [f"{r}/provenance.json" for r in RUNS] + [
        str(p.relative_to(slurm_dir)) for p in slurm_dir.glob("results/knn/*/*/provenance.json")
    ]
    assert len(provenance) == len(RUNS) + 5
    for rel in provenance:
        recorded = json.loads((slurm_dir / rel).read_text()).get("slurm_job_id")
        assert recorded in submitted, f"{rel}: slurm_job_id {recorded!r} not a submitted job"
        local_rec = json.loads((local_dir / rel).read_text()).get("slurm_job_id")
        assert local_rec is None, f"local run recorded a SLURM job: {rel}"

    # --- same results as the local run ------------------------------------------------
    for rel in SAME_BYTES:
        a, b = (d / rel for d in (local_dir, slurm_dir))
        assert a.read_bytes() == b.read_bytes(), f"{rel} differs between local and SLURM runs"
    for rel in [f"{r}/metrics.json" for r in RUNS] + [
        str(p.relative_to(slurm_dir)) for p in slurm_dir.glob("results/knn/*/*/metrics.json")
    ]:
        a, b = (json.loads((d / rel).read_text()) for d in (local_dir, slurm_dir))
        assert _stable(a) == _stable(b), f"{rel} differs between local and SLURM runs"

    print(f"\nSLURM run: {slurm_seconds:.0f} s, {len(submitted)} SLURM jobs "
          f"({', '.join(sorted(submitted, key=int))}); per rule inside SLURM: {in_slurm}")
