#!/usr/bin/env bash
# A single-node Slurm on this machine, for testing `poisonlab slurm` (CI uses it).
#
#   scripts/slurm/local-cluster.sh start   # munged, slurmctld, slurmd; waits until the node is idle
#   scripts/slurm/local-cluster.sh stop    # stops what start started, by its pid files
#   scripts/slurm/local-cluster.sh env     # prints `export SLURM_CONF=...` for sbatch/squeue/sinfo
#
# Needs Debian's packages: apt-get install -y slurmctld slurmd slurm-client munge
# (the munge key exists after installing). Runs as root. Everything it writes
# (configuration, state, logs, pid files) goes to $POISONLAB_SLURM_DIR
# (default /tmp/poisonlab-slurm); /etc/slurm is left alone: clients find the
# configuration through SLURM_CONF.
set -euo pipefail

dir="${POISONLAB_SLURM_DIR:-/tmp/poisonlab-slurm}"
conf="$dir/slurm.conf"
node="$(hostname -s)"

die() { echo "local-cluster: $*" >&2; exit 1; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_conf() {
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  cat > "$conf" <<CONF
# Written by scripts/slurm/local-cluster.sh: one node, everything as root.
ClusterName=poisonlab-local
SlurmctldHost=$node
# Not the default ports: a packaged slurmctld/slurmd the installer may have started keeps its own.
SlurmctldPort=${POISONLAB_SLURMCTLD_PORT:-6917}
SlurmdPort=${POISONLAB_SLURMD_PORT:-6918}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$node CPUs=$(nproc) State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  for bin in munged slurmctld slurmd sinfo sbatch; do
    command -v "$bin" >/dev/null || die "$bin not found: apt-get install -y slurmctld slurmd slurm-client munge"
  done
  [[ -f /etc/munge/munge.key ]] || die "/etc/munge/munge.key is missing (installing munge creates it)"
  write_conf
  export SLURM_CONF="$conf"
  # munged: reuse one that is already running (its own pid file), else start ours.
  mkdir -p /run/munge
  if ! alive /run/munge/munged.pid && ! alive "$dir/munged.pid"; then
    munged --force --pid-file="$dir/munged.pid"
  fi
  alive "$dir/slurmctld.pid" || slurmctld -f "$conf"
  # slurmctld must listen before slurmd registers.
  for _ in $(seq 50); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
  alive "$dir/slurmd.pid" || slurmd -f "$conf" -N "$node"
  for _ in $(seq 60); do
    state="$(sinfo -h -n "$node" -o %t 2>/dev/null || true)"
    if [[ "$state" == idle* ]]; then
      echo "local-cluster: node $node idle ($(nproc) CPUs); export SLURM_CONF=$conf"
      return 0
    fi
    sleep 0.5
  done
  echo "local-cluster: the node did not come up; logs:" >&2
  tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
  stop
  return 1
}

stop() {
  # Only what start started: the pid files under $dir.
  for daemon in slurmd slurmctld munged; do
    pidfile="$dir/$daemon.pid"
    if alive "$pidfile"; then
      pid="$(cat "$pidfile")"
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$pidfile"
  done
  echo "local-cluster: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "export SLURM_CONF=$conf" ;;
  *) die "usage: $0 start|stop|env" ;;
esac
