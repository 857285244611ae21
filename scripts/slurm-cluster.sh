#!/usr/bin/env bash
# A private single-node Slurm on this machine, for tests and for trying `kelvin sweep --slurm`
# without a cluster: munged, slurmctld and slurmd on localhost, with everything they need or
# write (munge key, slurm.conf, state, spool, logs, pid files) under one folder DIR.
#
#   scripts/slurm-cluster.sh start DIR    starts the three daemons and waits (at most
#                                         KELVIN_SLURM_START_TIMEOUT seconds, default 30) until
#                                         the node is idle; prints the SLURM_CONF to export
#   scripts/slurm-cluster.sh stop DIR     cancels the cluster's jobs, then stops the daemons it
#                                         started (by the pids in DIR/run/*.pid) and waits
#   scripts/slurm-cluster.sh status DIR   says which daemons run and what sinfo reports
#
# Needs root (slurmd starts jobs as their user) and Debian's slurm-wlm and munge
# (scripts/install-deps.sh). Ports: the first free pair from 26817 up (a system Slurm uses
# 6817/6818). A daemon that does not come up is named, with the end of its log, and the script
# exits non-zero after stopping what it had started.
# Settings chosen for tests, not for production: cred_expire=5 (the wait before a requeued job
# may start again; 120 s on a default cluster), KillWait=5, MinJobAge=600 (finished jobs stay
# visible to squeue and scontrol for ten minutes).
set -euo pipefail

usage() { echo "usage: $0 start|stop|status DIR" >&2; exit 2; }
(($# == 2)) || usage
action=$1
mkdir -p "$2"
D=$(cd "$2" && pwd)
CONF=$D/slurm.conf
export SLURM_CONF=$CONF
START_TIMEOUT=${KELVIN_SLURM_START_TIMEOUT:-30}
DAEMONS=(munged slurmctld slurmd)   # start order; stopped in reverse

log_of() { echo "$D/log/$1.log"; }
pid_file_of() { echo "$D/run/$1.pid"; }

# The pid in DIR/run/NAME.pid when that process still runs and is NAME (not a reused pid).
live_pid() {
  local file pid
  file=$(pid_file_of "$1")
  [[ -s $file ]] || return 1
  pid=$(tr -dc '0-9' < "$file")
  [[ -n $pid && -r /proc/$pid/comm ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] || return 1
  echo "$pid"
}

fail() {  # fail DAEMON WHY: names the daemon, shows its log's end, stops the rest, exits 1
  echo "slurm-cluster: $1 failed: $2" >&2
  local log
  log=$(log_of "$1")
  if [[ -s $log ]]; then
    echo "slurm-cluster: last lines of $log:" >&2
    tail -n 15 "$log" | sed 's/^/  /' >&2
  else
    echo "slurm-cluster: $log is empty or missing" >&2
  fi
  stop_daemons >&2 || true
  exit 1
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds; false on timeout.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" > /dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

port_free() { [[ -z $(ss -Htln "sport = :$1" 2>/dev/null) ]]; }

pick_ports() {
  local p
  for ((p = 26817; p < 26917; p += 2)); do
    if port_free "$p" && port_free $((p + 1)); then echo "$p $((p + 1))"; return 0; fi
  done
  echo "slurm-cluster: no free pair of ports in 26817-26916 (checked with ss -tln)" >&2
  return 1
}

check_tools() {
  [[ $(id -u) -eq 0 ]] || { echo "slurm-cluster: must run as root (slurmd starts jobs as their owner); uid is $(id -u)" >&2; exit 1; }
  local tool missing=()
  for tool in munged munge unmunge slurmctld slurmd sinfo scontrol squeue scancel ss; do
    command -v "$tool" > /dev/null || missing+=("$tool")
  done
  if ((${#missing[@]})); then
    echo "slurm-cluster: not installed: ${missing[*]} (bash scripts/install-deps.sh installs slurm-wlm and munge)" >&2
    exit 1
  fi
}

write_config() {  # write_config CTLD_PORT SLURMD_PORT
  local host cpus
  host=$(hostname -s)
  cpus=$(nproc)
  cat > "$CONF" <<EOF
# Written by scripts/slurm-cluster.sh: a private single-node cluster under $D
ClusterName=kelvintest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$1
SlurmdPort=$2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket,cred_expire=5
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$(pid_file_of slurmctld)
SlurmdPidFile=$(pid_file_of slurmd)
SlurmctldLogFile=$(log_of slurmctld)
SlurmdLogFile=$(log_of slurmd)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
KillWait=5
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munged() {
  local key=$D/munge/munge.key socket=$D/munge/munge.socket
  # The socket path must fit in sockaddr_un (108 bytes).
  ((${#socket} < 100)) || fail munged "socket path $socket is ${#socket} characters; use a shorter DIR (under 100)"
  [[ -s $key ]] || { head -c 1024 /dev/urandom > "$key"; chmod 600 "$key"; }
  munged --key-file="$key" --socket="$socket" --pid-file="$(pid_file_of munged)" \
         --log-file="$(log_of munged)" --seed-file="$D/munge/munged.seed" --force \
    >> "$(log_of munged)" 2>&1 || fail munged "munged exited with status $?"
  wait_for 10 bash -c "munge -n -S '$socket' | unmunge -S '$socket'" ||
    fail munged "no credential round trip through $socket within 10 s"
}

start_slurmctld() {
  slurmctld -f "$CONF" >> "$(log_of slurmctld)" 2>&1 || fail slurmctld "slurmctld exited with status $?"
  wait_for "$START_TIMEOUT" bash -c "scontrol ping | grep -q 'is UP'" ||
    fail slurmctld "scontrol ping did not report it UP within $START_TIMEOUT s"
}

node_idle() { [[ $(sinfo -h -N -o %t 2>/dev/null) == idle ]]; }

start_slurmd() {
  slurmd -f "$CONF" -N "$(hostname -s)" >> "$(log_of slurmd)" 2>&1 || fail slurmd "slurmd exited with status $?"
  wait_for "$START_TIMEOUT" node_idle ||
    fail slurmd "the node is not idle within $START_TIMEOUT s (sinfo: $(sinfo -h -N -o '%N %t %E' 2>&1 | head -1))"
}

start() {
  check_tools
  local running=() name
  for name in "${DAEMONS[@]}"; do live_pid "$name" > /dev/null && running+=("$name"); done
  if ((${#running[@]})); then
    echo "slurm-cluster: already running under $D: ${running[*]} (stop it first)" >&2
    exit 1
  fi
  mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/log" "$D/run"
  chmod 700 "$D/munge"
  local ports
  ports=$(pick_ports) || exit 1
  write_config $ports
  start_munged
  start_slurmctld
  start_slurmd
  echo "slurm-cluster: up (ports $ports); export SLURM_CONF=$CONF"
}

cancel_jobs() {
  live_pid slurmctld > /dev/null || return 0
  local jobs
  jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
  [[ -z ${jobs// /} ]] && return 0
  # shellcheck disable=SC2086
  scancel $jobs 2>/dev/null || true
  wait_for 20 bash -c '[[ -z $(squeue -h -t PENDING,RUNNING,COMPLETING,REQUEUED,SUSPENDED -o %A) ]]' ||
    echo "slurm-cluster: jobs still listed after 20 s: $(squeue -h -o '%i %T' | tr '\n' ' ')" >&2
}

stop_one() {  # stop_one NAME: TERM, then KILL after 10 s, then wait until it is gone
  local pid
  pid=$(live_pid "$1") || { rm -f "$(pid_file_of "$1")"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for 10 bash -c "[[ ! -e /proc/$pid ]] || [[ \$(cat /proc/$pid/comm 2>/dev/null) != '$1' ]]"; then
    echo "slurm-cluster: $1 (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait_for 5 bash -c "[[ ! -e /proc/$pid ]]" || { echo "slurm-cluster: $1 (pid $pid) still runs" >&2; return 1; }
  fi
  rm -f "$(pid_file_of "$1")"
}

stop_daemons() {
  local status=0 i
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do stop_one "${DAEMONS[i]}" || status=1; done
  return $status
}

stop() {
  cancel_jobs
  stop_daemons
  echo "slurm-cluster: stopped (under $D)"
}

status() {
  local name pid all=0
  for name in "${DAEMONS[@]}"; do
    if pid=$(live_pid "$name"); then echo "$name: running, pid $pid"; else echo "$name: not running"; all=1; fi
  done
  ((all == 0)) && sinfo -N -o '%N %t %c' 2>&1
  return $all
}

case $action in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac
