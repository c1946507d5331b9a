#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try the workflow's cluster path
# (workflow/profiles/slurm) before using an allocation.  Needs root and Debian's
# `slurm-wlm` and `munge` packages (apt-get install -y slurm-wlm munge).
#
#   tools/slurm_local.sh start [DIR]   write /etc/slurm/slurm.conf, start munged, slurmctld and
#                                      slurmd, wait for the node to be idle
#   tools/slurm_local.sh stop [DIR]    cancel the cluster's jobs, stop the daemons started from
#                                      DIR, remove the slurm.conf and gres.conf it wrote
#   tools/slurm_local.sh status [DIR]  sinfo / squeue
#
# DIR defaults to $XNET_SLURM_DIR, else /tmp/xnet-slurm: a private munge key and socket, the
# controller's state, the spool, logs and pid files.  The configuration itself must be at
# SLURM's default path, /etc/slurm/slurm.conf: the executor plugin runs each job's command
# with `srun` in an environment stripped of SLURM_* variables, SLURM_CONF included.  An
# /etc/slurm/slurm.conf this script did not write is never touched (start refuses).
# The node has this machine's CPUs and memory (`slurmd -C`), proctrack/linuxproc, task/none and
# no accounting storage (so `sacct` cannot answer: the profile's status command is squeue).
# GPUs: one gres/gpu per /dev/nvidia<N>; XNET_SLURM_GPUS=<n> overrides the count (on a machine
# without GPUs: n GPUs that exist for the scheduler only, to see --gpus requests go through).
# Ports: XNET_SLURM_PORT (slurmctld; slurmd uses the next one), default 6817.
set -euo pipefail

die() {
    echo "slurm_local: error: $*" >&2
    exit 1
}

cmd=${1:-}
dir=${2:-${XNET_SLURM_DIR:-/tmp/xnet-slurm}}
[[ $cmd =~ ^(start|stop|status)$ ]] || die "usage: $0 start|stop|status [DIR]"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
etc=/etc/slurm
conf=$etc/slurm.conf
MARK="# one-node SLURM cluster written by tools/slurm_local.sh, state in"
unset SLURM_CONF # the default path, as in the jobs' srun

need_tools() {
    local missing=()
    for t in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
        command -v "$t" >/dev/null 2>&1 || [[ -x /usr/sbin/$t ]] || missing+=("$t")
    done
    ((${#missing[@]} == 0)) || die "not installed: ${missing[*]} (Debian: apt-get install -y slurm-wlm munge)"
}

sbin() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

ours() { [[ $(head -n 1 "$1" 2>/dev/null) == "$MARK $dir" ]]; }

alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() { # stop_pid NAME PIDFILE: SIGTERM, then SIGKILL after 10 s
    local name=$1 pidfile=$2 pid i
    alive "$pidfile" || {
        rm -f "$pidfile"
        return 0
    }
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "slurm_local: $name (pid $pid) ignored SIGTERM for 10 s: SIGKILL" >&2
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    echo "slurm_local: stopped $name (pid $pid)"
}

show_logs() {
    for f in "$dir"/log/*.log; do
        [[ -s $f ]] && {
            echo "--- $f (last lines)" >&2
            tail -n 15 "$f" >&2
        }
    done
    return 0
}

write_conf() {
    local host node cpus mem gpus port gres_line=""
    host=$(hostname -s)
    node=$(slurmd -C | head -n 1) # NodeName=... CPUs=... Boards=... RealMemory=...
    [[ $node == NodeName=* ]] || die "slurmd -C printed no node line: $node"
    node=${node#NodeName=* } # drop the name: the node is called after this host below
    cpus=$(nproc)
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    if ((cpus < $(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node"))); then
        node="CPUs=$cpus RealMemory=$mem" # fewer CPUs usable than the hardware has (affinity)
    fi
    gpus=${XNET_SLURM_GPUS:-$(find /dev -maxdepth 1 -name 'nvidia[0-9]*' 2>/dev/null | wc -l)}
    [[ $gpus =~ ^[0-9]+$ ]] || die "XNET_SLURM_GPUS must be a number, got '$gpus'"
    port=${XNET_SLURM_PORT:-6817}
    mkdir -p "$etc"
    echo "$MARK $dir" >"$etc/gres.conf"
    if ((gpus > 0)); then
        gres_line="Gres=gpu:$gpus"
        if [[ -z ${XNET_SLURM_GPUS:-} ]]; then
            echo "NodeName=$host Name=gpu File=/dev/nvidia[0-$((gpus - 1))]" >>"$etc/gres.conf"
        else
            local i
            for ((i = 0; i < gpus; i++)); do # GPUs for the scheduler only: no device behind them
                echo "NodeName=$host Name=gpu File=/dev/null" >>"$etc/gres.conf"
            done
        fi
    fi
    cat >"$conf" <<EOF
$MARK $dir
ClusterName=xnetlocal
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: a requeued job waits this long (default 120 s) before it may start again
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
# look at pending jobs every 2 s, not 60 / 30 s: a requeued job starts as soon as it may
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# finished jobs stay visible to squeue for MinJobAge seconds: the profile's status command
# (squeue: there is no accounting) needs more than the plugin's status-check interval (<= 180 s)
MinJobAge=300
KillWait=5
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 $node $gres_line State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

fail() { # a start that went wrong: the logs, stop what was started, one line
    show_logs
    stop >&2
    die "$* (the daemons' logs above, in $dir/log)"
}

launch() { # launch NAME PIDFILE COMMAND...: the daemon forks; wait for its pid file
    local name=$1 pidfile=$2 i
    shift 2
    "$@" || fail "$name did not start"
    for ((i = 0; i < 50; i++)); do
        alive "$pidfile" && return 0
        sleep 0.1
    done
    fail "$name exited at start"
}

start() {
    [[ $(id -u) == 0 ]] || die "needs root (slurmd runs jobs as their users; munged and the daemons here run as root)"
    need_tools
    if alive "$dir/slurmctld.pid" || alive "$dir/slurmd.pid" || alive "$dir/munge/munged.pid"; then
        die "a cluster from $dir is running already: $0 stop $dir"
    fi
    local f
    for f in "$conf" "$etc/gres.conf"; do
        if [[ -e $f ]] && ! ours "$f"; then
            die "$f exists and was not written by this script: a cluster is configured here already (move it away to try this one)"
        fi
    done
    local sock=$dir/munge/munge.socket
    ((${#sock} < 100)) || die "state directory path too long for munged's socket ($sock): give a shorter DIR"
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
    chmod 755 "$dir/munge" # munged wants its socket directory searchable by all
    write_conf
    [[ -s $dir/munge/munge.key ]] || mungekey --create --keyfile="$dir/munge/munge.key"
    chmod 600 "$dir/munge/munge.key"
    launch munged "$dir/munge/munged.pid" "$(sbin munged)" --force --key-file="$dir/munge/munge.key" \
        --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
        --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"
    launch slurmctld "$dir/slurmctld.pid" "$(sbin slurmctld)" -f "$conf" -c # -c: no state of an earlier start
    launch slurmd "$dir/slurmd.pid" "$(sbin slurmd)" -f "$conf"
    local state="" d end=$((SECONDS + 60))
    while ((SECONDS < end)); do
        for d in munged:munge/munged.pid slurmctld:slurmctld.pid slurmd:slurmd.pid; do
            alive "$dir/${d#*:}" || fail "${d%%:*} exited after it started"
        done
        state=$(timeout 5 sinfo -h -N -o %T 2>/dev/null | head -n 1 || true)
        [[ $state == idle || $state =~ ^(inval|drain|down|fail) ]] && break
        sleep 0.5
    done
    if [[ $state != idle ]]; then
        local why
        why=$(timeout 5 sinfo -h -R -o %E 2>/dev/null | head -n 1 || true)
        fail "the node did not become idle in 60 s (state: '${state:-none}'${why:+, reason: $why})"
    fi
    echo "slurm_local: one-node cluster up in $dir: $(sinfo -h -N -o '%N %T cpus=%c mem=%m gres=%G')"
}

stop() {
    local n=0
    if ours "$conf" && alive "$dir/slurmctld.pid"; then
        local jobs i
        jobs=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
        if [[ -n $jobs ]]; then
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs 2>/dev/null || true
            for ((i = 0; i < 60; i++)); do # wait for the jobs' processes to be killed
                [[ -z $(timeout 5 squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null) ]] && break
                sleep 0.5
            done
            echo "slurm_local: cancelled jobs $(tr '\n' ' ' <<<"$jobs")"
        fi
    fi
    for d in slurmd:slurmd.pid slurmctld:slurmctld.pid munged:munge/munged.pid; do
        if alive "$dir/${d#*:}"; then n=$((n + 1)); fi
        stop_pid "${d%%:*}" "$dir/${d#*:}"
    done
    ((n > 0)) || echo "slurm_local: no daemon from $dir running"
    local f
    for f in "$conf" "$etc/gres.conf"; do
        if ours "$f"; then rm -f "$f"; fi
    done
}

case $cmd in
start) start ;;
stop) stop ;;
status)
    ours "$conf" || die "no cluster from $dir ($conf missing or not written by this script)"
    sinfo -N -o '%N %T cpus=%c mem=%m gres=%G'
    squeue
    ;;
esac
