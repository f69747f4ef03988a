"""The workflow's plan for the cost estimate: a Snakemake dry run, parsed.

Jobs with their rule, wildcards and group; the rules that run locally; each rule's
threads; the SLURM submissions a cluster profile makes (:mod:`ecgrepro.tooling.cost`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class PlannedJob:
    rule: str
    wildcards: dict[str, str] = field(default_factory=dict)
    group: str | None = None


def parse_dry_run(text: str) -> tuple[list[PlannedJob], dict[str, int]]:
    """Jobs (rule, wildcards, group) and the 'Job stats' counts of a dry run's output."""
    jobs: list[PlannedJob] = []
    group = None
    current = None
    n_groups = 0
    for line in text.splitlines():
        m = re.match(r"^(\s*)\[.*\] Group job (\S+)", line)
        if m:  # one header per group job; several jobs may share a group name
            n_groups += 1
            group = f"{m[2]}#{n_groups}"
            continue
        m = re.match(r"^(\s*)(?:local)?rule (\w+):\s*$", line)
        if m:
            in_group = group is not None and len(m[1]) > 0
            if not in_group:
                group = None
            current = PlannedJob(m[2], group=group if in_group else None)
            jobs.append(current)
            continue
        m = re.match(r"^\s*wildcards: (.*)$", line)
        if m and current is not None:
            current.wildcards = dict(
                item.split("=", 1) for item in m[1].split(", ") if "=" in item
            )
    stats = {}
    if "Job stats:" in text:
        table = text.split("Job stats:", 1)[1].split("\ntotal", 1)[0]
        stats = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}
    return jobs, stats


def dry_run(snakefile: Path, configfiles, config_args, profile: str = "none") -> str:
    """Output of ``snakemake -n all`` in an empty directory (every job is planned)."""
    with tempfile.TemporaryDirectory(prefix="ecgrepro-cost-") as tmp:
        cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-n", "all",
               "--directory", tmp, "--workflow-profile", profile]
        if configfiles:
            cmd += ["--configfile", *map(str, configfiles)]
        if config_args:
            cmd += ["--config", *config_args]
        # runs of data not yet verified are listed too (their paths wait for the data)
        env = {**os.environ, "ECGREPRO_PLAN_UNVERIFIED": "1"}
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=600,
                             env=env)
    if out.returncode != 0:
        raise RuntimeError(f"dry run failed ({' '.join(cmd)}):\n{out.stdout}\n{out.stderr}")
    return out.stdout + out.stderr


def local_rules(snakefile: Path) -> set[str]:
    """Rules declared ``localrule: True`` in the Snakefile and workflow/rules/*.smk."""
    files = [snakefile, *sorted((snakefile.parent / "workflow" / "rules").glob("*.smk"))]
    names = set()
    for f in files:
        for block in re.split(r"^(?=(?:rule|checkpoint) )", f.read_text(), flags=re.M):
            m = re.match(r"(?:rule|checkpoint) (\w+):", block)
            if m and re.search(r"^\s+localrule:\s*True", block, re.M):
                names.add(m[1])
    return names


def rule_threads(snakefile: Path) -> dict[str, int]:
    """``threads:`` of each rule, from the rule files (default 1)."""
    out = {}
    for f in sorted((snakefile.parent / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^(?=(?:rule|checkpoint) )", f.read_text(), flags=re.M):
            m = re.match(r"(?:rule|checkpoint) (\w+):", block)
            t = re.search(r"^\s+threads:\s*(\d+)", block, re.M)
            if m and t:
                out[m[1]] = int(t[1])
    return out


def slurm_submissions(dry_text: str, locals_: set) -> tuple[int, int]:
    """(SLURM jobs, of which group jobs) in a dry run made with profiles/slurm."""
    jobs, _ = parse_dry_run(dry_text)
    groups = {j.group for j in jobs if j.group}
    single = sum(1 for j in jobs if j.group is None and j.rule not in locals_)
    return single + len(groups), len(groups)
