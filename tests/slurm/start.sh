#!/usr/bin/env bash
# Start a private single-node SLURM (munged, slurmctld, slurmd) on this machine, for tests.
#
#   tests/slurm/start.sh [STATE_DIR]      (default: $ECGREPRO_SLURM_DIR or /tmp/ecgrepro-slurm)
#   ... sbatch / snakemake --workflow-profile profiles/slurm ...
#   tests/slurm/stop.sh  [STATE_DIR]
#
# Needs root and Debian's slurm-wlm + munge (apt-get install slurm-wlm munge). Follows
# /work/shared/docs/slurm-notes.md: the config must be /etc/slurm/slurm.conf (the jobstep
# plugin strips SLURM_CONF before its nested srun), DefMemPerCPU so jobs share the node,
# daemons in the foreground under setsid, their PIDs kept in STATE_DIR/pids so that
# stop.sh stops exactly those. An /etc/slurm/slurm.conf that this script did not write is
# never overwritten: the script refuses to run instead.
# On any failure the daemons started so far are stopped again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-${ECGREPRO_SLURM_DIR:-/tmp/ecgrepro-slurm}}
conf=/etc/slurm/slurm.conf
marker="# written by ecgrepro tests/slurm/start.sh"

die() { echo "slurm/start.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (writes $conf, runs munged as munge, slurmd as root)"
for prog in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v "$prog" >/dev/null || die "$prog not found: apt-get install -y slurm-wlm munge"
done
if [ -e "$conf" ] && ! grep -qF "$marker" "$conf"; then
  die "$conf exists and was not written by this script; not touching a real cluster's config"
fi
if [ -s "$dir/pids" ]; then
  die "$dir/pids exists: a test cluster may be running; run tests/slurm/stop.sh $dir first"
fi
for port in 6817 6818; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is in use (another slurmctld/slurmd?)"
  fi
done

# A fresh cluster every time: job ids from 1, no jobs of an earlier session.
rm -rf "$dir/state" "$dir/spool"
mkdir -p "$dir"/{state,spool,log}
: > "$dir/pids"
trap 'echo "slurm/start.sh: failed; stopping what was started" >&2; "$here/stop.sh" "$dir"' ERR

host=$(hostname -s)
# The node as slurmd sees it, with 1 GiB held back for the OS and the outer Snakemake.
node=$(slurmd -C | head -n 1)
mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
node=$(sed "s/RealMemory=[0-9]*/RealMemory=$((mem > 2048 ? mem - 1024 : mem))/" <<<"$node")

mkdir -p /etc/slurm
cat > "$conf" <<CONF
$marker (state in $dir); stop.sh removes it.
ClusterName=ecgrepro
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MailProg=/bin/true
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# Finished jobs stay visible to squeue for 10 min (the plugin's squeue status checks).
MinJobAge=600
KillWait=5
SlurmctldTimeout=30
SlurmdTimeout=30
$node
# DefMemPerCPU: without it every job gets the whole node's memory and jobs run one by one.
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=512
CONF

# munged as the munge user, foreground, in its own session.
install -d -o munge -g munge -m 0755 /run/munge
setsid setpriv --reuid=munge --regid=munge --init-groups \
  munged -F --log-file="$dir/log/munged.log" >>"$dir/log/munged.out" 2>&1 < /dev/null &
echo "munged $!" >> "$dir/pids"
for _ in $(seq 50); do [ -S /run/munge/munge.socket.2 ] && break; sleep 0.1; done
munge -n | unmunge >/dev/null || die "munge does not work (see $dir/log/munged.log)"

setsid slurmctld -D -f "$conf" >>"$dir/log/slurmctld.out" 2>&1 < /dev/null &
echo "slurmctld $!" >> "$dir/pids"
setsid slurmd -D -f "$conf" >>"$dir/log/slurmd.out" 2>&1 < /dev/null &
echo "slurmd $!" >> "$dir/pids"

for _ in $(seq 60); do
  state=$(sinfo -h -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.5
done
[ "$state" = idle ] || die "node not idle after 30 s (state '$state'; logs in $dir/log)"
trap - ERR
echo "slurm/start.sh: single-node SLURM up ($host, $(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node") CPUs, state in $dir)"
