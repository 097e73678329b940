#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the `slurm` tests and for trying
# `hydra/launcher=slurm` locally. Needs root and Debian's slurmctld, slurmd and munge packages:
#   apt-get update && apt-get install -y slurmctld slurmd slurm-client munge
#
#   tests/slurm/start_local_slurm.sh start    # write slurm.conf, start munged, slurmctld, slurmd;
#                                             # wait until the node is idle
#   . /var/tmp/radiogenomics-slurm/env        # SLURM_CONF for sinfo/sbatch/squeue in this shell
#   tests/slurm/start_local_slurm.sh status   # the daemons and `sinfo`
#   tests/slurm/start_local_slurm.sh stop     # cancel its jobs, stop exactly the daemons it started
#                                             # (refused while a pytest session uses the cluster:
#                                             # it holds $RG_SLURM_DIR/users.lock; stop --force)
#
# Everything lives in $RG_SLURM_DIR (default /var/tmp/radiogenomics-slurm): slurm.conf, the munge
# key and socket, state, spool, logs and the daemons' PID files. /etc/slurm and /etc/munge are
# not touched, so clients need SLURM_CONF=$RG_SLURM_DIR/slurm.conf (the env file sets it).
# Other settings: RG_SLURM_TIMEOUT (seconds to wait for an idle node, default 60),
# RG_SLURMCTLD_PORT / RG_SLURMD_PORT (default 6817 / 6818), RG_SLURM_PARTITION (default debug).
# No accounting storage: `sacct` fails on this cluster; job states come from squeue/scontrol.
set -euo pipefail

DIR="${RG_SLURM_DIR:-/var/tmp/radiogenomics-slurm}"
TIMEOUT="${RG_SLURM_TIMEOUT:-60}"
CTLD_PORT="${RG_SLURMCTLD_PORT:-6817}"
SLURMD_PORT="${RG_SLURMD_PORT:-6818}"
PARTITION="${RG_SLURM_PARTITION:-debug}"
CONF="$DIR/slurm.conf"
SOCKET="$DIR/munge/munge.socket"
PATH="$PATH:/usr/sbin:/sbin"
export SLURM_CONF="$CONF"

die() { echo "start_local_slurm: $*" >&2; exit 1; }
say() { echo "start_local_slurm: $*" >&2; }

# pid of daemon $1 from its PID file, if that process is alive and runs the expected binary
live_pid() {
    local name="$1" file="$DIR/pids/$1.pid" pid
    [[ -s "$file" ]] || return 1
    pid="$(tr -dc 0-9 < "$file")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    grep -q "$name" "/proc/$pid/cmdline" 2>/dev/null || return 1  # not a recycled PID
    echo "$pid"
}

node_state() { sinfo --noheader --nodes="$NODE" --format=%t 2>/dev/null | head -n1 | tr -d '*~#!%$@^-'; }

require() {
    local missing=()
    for bin in munged slurmctld slurmd sinfo sbatch srun squeue scancel scontrol; do
        command -v "$bin" >/dev/null || missing+=("$bin")
    done
    ((${#missing[@]} == 0)) || die "missing ${missing[*]}: apt-get install -y slurmctld slurmd slurm-client munge"
    [[ "$(id -u)" == 0 ]] || die "must run as root (slurmd starts jobs as their users)"
}

write_conf() {
    local cpus mem
    cpus="$(nproc)"   # the CPUs this process may use (a container's share, not the host's)
    mem="$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')"
    [[ -n "$mem" ]] || die "could not read the memory from 'slurmd -C'"
    cat > "$CONF" <<CONF
# One-node cluster written by tests/slurm/start_local_slurm.sh on $(date -u +%FT%TZ)
ClusterName=radiogenomics-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/pids/slurmctld.pid
SlurmdPidFile=$DIR/pids/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
MinJobAge=300
KillWait=5
InactiveLimit=0
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=$((mem / cpus))
CONF
}

start_munge() {
    if live_pid munged >/dev/null; then return; fi
    mkdir -p "$DIR/munge"
    chmod 0700 "$DIR/munge"
    if [[ ! -s "$DIR/munge/munge.key" ]]; then
        dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
        chmod 0400 "$DIR/munge/munge.key"
    fi
    munged --force --socket="$SOCKET" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/pids/munged.pid" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed" 8>&- 9>&- \
        || die "munged did not start: $(tail -n 5 "$DIR/log/munged.log" 2>/dev/null)"
}

start() {
    require
    NODE="$(hostname -s)"
    if live_pid slurmctld >/dev/null && live_pid slurmd >/dev/null && [[ "$(node_state)" =~ ^(idle|mix|alloc)$ ]]; then
        say "already running (node $NODE $(node_state)); SLURM_CONF=$CONF"
        return
    fi
    stop_daemons quiet
    rm -f "$DIR/started-by-pytest"   # tests/slurm/cluster.py writes it when a test session starts it
    mkdir -p "$DIR"/{pids,log,state,spool}
    rm -rf "${DIR:?}/state/"* "${DIR:?}/spool/"*   # a fresh cluster: no jobs left from a past run
    write_conf
    echo "export SLURM_CONF=$CONF" > "$DIR/env"
    start_munge
    # the daemons must not inherit the lock fds 8 and 9 (they would hold the locks for good)
    slurmctld -f "$CONF" -c 8>&- 9>&- || die "slurmctld did not start: $(tail -n 5 "$DIR/log/slurmctld.log" 2>/dev/null)"
    slurmd -f "$CONF" 8>&- 9>&- || die "slurmd did not start: $(tail -n 5 "$DIR/log/slurmd.log" 2>/dev/null)"
    local waited=0 state=""
    while ((waited < TIMEOUT * 2)); do
        state="$(node_state || true)"
        [[ "$state" == idle ]] && break
        if [[ "$state" =~ ^(down|drain|drng|fail|inval)$ ]]; then
            scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    if [[ "$state" != idle ]]; then
        say "node $NODE not idle after ${TIMEOUT}s (state: '${state:-no answer from slurmctld}')"
        for log in slurmctld slurmd munged; do
            echo "--- $DIR/log/$log.log (last lines)" >&2
            tail -n 15 "$DIR/log/$log.log" >&2 2>/dev/null || true
        done
        stop_daemons quiet
        exit 1
    fi
    say "node $NODE idle, partition $PARTITION; SLURM_CONF=$CONF (. $DIR/env)"
}

stop_daemons() {
    local quiet="${1:-}" pid name
    if live_pid slurmctld >/dev/null; then   # its jobs first: no job outlives the cluster
        scancel --quiet --partition="$PARTITION" >/dev/null 2>&1 || true
        for _ in $(seq 30); do   # KillWait=5: running steps get SIGTERM, then SIGKILL
            [[ -z "$(squeue --noheader --states=RUNNING,COMPLETING 2>/dev/null)" ]] && break
            sleep 0.5
        done
    fi
    for name in slurmd slurmctld munged; do
        pid="$(live_pid "$name")" || continue
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
        [[ -n "$quiet" ]] || say "stopped $name (pid $pid)"
        rm -f "$DIR/pids/$name.pid"
    done
}

status() {
    local name pid
    for name in munged slurmctld slurmd; do
        if pid="$(live_pid "$name")"; then echo "$name: running (pid $pid)"; else echo "$name: stopped"; fi
    done
    sinfo 2>&1 || true
}

# no stop while a test session holds users.lock (shared); the session that stops it holds it
# exclusively and sets RG_SLURM_FORCE_STOP=1
guard_stop() {
    [[ "${1:-}" == --force || "${RG_SLURM_FORCE_STOP:-}" == 1 ]] && return
    exec 9>>"$DIR/users.lock"
    flock --exclusive --nonblock 9 \
        || die "in use by a test session (it holds $DIR/users.lock): not stopped; 'stop --force' stops it anyway"
}

mkdir -p "$DIR"
exec 8>>"$DIR/script.lock"
# one start/stop at a time (concurrent test sessions)
flock --exclusive --timeout 120 8 || die "another start/stop holds $DIR/script.lock for 120 s"
case "${1:-start}" in
    start) start ;;
    stop) guard_stop "${2:-}"; stop_daemons ;;
    restart) guard_stop "${2:-}"; stop_daemons; start ;;
    status) status ;;
    *) die "usage: $0 [start|stop [--force]|restart [--force]|status]" ;;
esac
