#!/usr/bin/env bash
# Stop the SLURM that tests/slurm/start.sh started: cancel its jobs, stop exactly the
# daemons whose PIDs it recorded, remove the /etc/slurm/slurm.conf it wrote.
#   tests/slurm/stop.sh [STATE_DIR] [--purge]   (--purge: delete STATE_DIR, logs included)
# Safe to run twice, and after a start that failed half-way.
set -uo pipefail
dir=${ECGREPRO_SLURM_DIR:-/tmp/ecgrepro-slurm}
purge=0
for arg in "$@"; do
  case $arg in --purge) purge=1 ;; *) dir=$arg ;; esac
done
conf=/etc/slurm/slurm.conf
marker="# written by ecgrepro tests/slurm/start.sh"

alive() { kill -0 "$1" 2>/dev/null; }

if [ -s "$dir/pids" ]; then
  # Jobs first, while slurmctld and slurmd can still end their steps cleanly.
  if grep -q '^slurmctld ' "$dir/pids" && alive "$(awk '$1=="slurmctld"{print $2}' "$dir/pids")"; then
    scancel --full --quiet --state=RUNNING,PENDING,SUSPENDED,CONFIGURING,COMPLETING \
      $(squeue -h -o %i 2>/dev/null) 2>/dev/null || true
    for _ in $(seq 20); do [ -z "$(squeue -h -t all -o %i -t R,PD,CG 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  # Reverse start order: slurmd, slurmctld, munged.
  tac "$dir/pids" | while read -r name pid; do
    alive "$pid" || continue
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 40); do alive "$pid" || break; sleep 0.25; done
    if alive "$pid"; then
      echo "slurm/stop.sh: $name ($pid) ignored SIGTERM; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  : > "$dir/pids"
fi
if [ -e "$conf" ] && grep -qF "$marker" "$conf"; then
  rm -f "$conf"
fi
[ "$purge" = 1 ] && rm -rf "$dir"
echo "slurm/stop.sh: stopped (state dir $dir$([ "$purge" = 1 ] && echo ', purged'))"
exit 0
