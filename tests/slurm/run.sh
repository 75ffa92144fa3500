#!/usr/bin/env bash
# The Slurm requeue test on a one-node Slurm started on localhost (root, Debian 12):
#   tests/slurm/run.sh [build/ci/apps/alphax]
# Installs slurm-wlm + munge if missing (scripts/setup.sh --slurm), starts munged, slurmctld and
# slurmd with a private config under /tmp, submits jobscripts/slurm/alphax.sbatch with --time=1
# on a search that needs longer than the first USR1 (20-30 s into the job), and checks that the
# job is signalled, checkpoints, requeues itself, and finishes with the same /evaluations rows as
# an uninterrupted run. About 2-3 minutes. Stops the daemons it started on exit.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(realpath "${1:-$src/build/ci/apps/alphax}")
[[ -x $bin ]] || { echo "no alphax binary at $bin; build it first (cmake --build build/ci --target alphax)"; exit 1; }
command -v slurmctld > /dev/null || "$src/scripts/setup.sh" --slurm

base=/tmp/alphax-slurm
rm -rf "$base" && mkdir -p "$base"/{state,spool,log,run}
export SLURM_CONF=$base/slurm.conf
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat > "$SLURM_CONF" <<CONF
ClusterName=alphax-test
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobRequeue=1
ReturnToService=2
MpiDefault=none
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool
SlurmctldPidFile=$base/run/slurmctld.pid
SlurmdPidFile=$base/run/slurmd.pid
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd.log
NodeName=localhost CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF

# Daemons must not inherit this shell's other open files: a caller's lock (e.g. `flock -s` around
# this script) would otherwise be held by a daemon that outlives the test. Call it with `&` (it
# replaces the background subshell, so $! is the daemon).
without_inherited_fds() {
  local fd n
  for fd in /proc/$BASHPID/fd/*; do
    n=${fd##*/}
    if (( n > 2 )); then eval "exec $n>&-" 2> /dev/null || true; fi
  done
  exec "$@"
}
pids=()
munge_pid=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [[ -n $munge_pid ]] && kill "$munge_pid" 2>/dev/null || true
}
trap cleanup EXIT
if ! pgrep -x munged > /dev/null; then
  mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge
  [[ -f /etc/munge/munge.key ]] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  chown -R munge: /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  without_inherited_fds munged --force --pid-file="$base/run/munged.pid" &
  wait $!  # munged forks into the background and its first process exits
  munge_pid=$(cat "$base/run/munged.pid")
fi
without_inherited_fds slurmctld -D > "$base/log/ctld.out" 2>&1 & pids+=($!)
without_inherited_fds slurmd -D > "$base/log/d.out" 2>&1 & pids+=($!)
for _ in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -qE "idle|mix" && break; sleep 1; done
sinfo

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
work=$base/work && mkdir -p "$work" && cd "$src"
# 200 evaluations at >= 0.4 s each on 2 groups: ~40 s, longer than the first USR1.
args=(--set trainers.pace_seconds=0.4)
mpirun -np 3 --oversubscribe --bind-to none "$bin" run inputs/nb201-table.yaml -o "$work/reference" "${args[@]}" > "$work/reference.out"

job=$(ALPHAX="$bin" ALPHAX_LAUNCHER="mpirun -np 3 --oversubscribe --bind-to none" \
      sbatch --parsable --time=1 --signal=B:USR1@50 --ntasks=1 --output="$work/job.out" \
      jobscripts/slurm/alphax.sbatch inputs/nb201-table.yaml -o "$work/run" "${args[@]}")
echo "submitted job $job"
deadline=$((SECONDS + 420))
# A requeued job waits about 2.5 minutes in PENDING; we release it early, but not within the
# second of the requeue: slurmd revokes the old run's credential at that second and refuses a new
# one stamped with the same second ("Job credential revoked": the job then ends FAILED).
pending_since=""
while (( SECONDS < deadline )); do
  state=$(scontrol show job "$job" 2>/dev/null | grep -oP 'JobState=\K\S+' || echo GONE)
  if [[ $state == PENDING ]]; then
    if [[ -z $pending_since ]]; then
      pending_since=$SECONDS
    elif (( SECONDS - pending_since >= 2 )); then
      scontrol update jobid="$job" StartTime=now 2>/dev/null || true
    fi
  else
    pending_since=""
  fi
  [[ $state == COMPLETED || $state == FAILED || $state == TIMEOUT || $state == CANCELLED || $state == GONE ]] && break
  sleep 2
done
echo "job $job ended in state $state"; cat "$work/job.out"
[[ $state == COMPLETED ]] || { echo "FAIL: job state $state"; exit 1; }
grep -q "got USR1" "$work/job.out" || { echo "FAIL: the batch shell never got USR1 from Slurm"; exit 1; }
grep -q "exited with 85" "$work/job.out" || { echo "FAIL: alphax did not stop with 85 (checkpointed)"; exit 1; }
grep -q "requeueing" "$work/job.out" || { echo "FAIL: the job did not requeue itself"; exit 1; }
grep -q "restart count 1 " "$work/job.out" || { echo "FAIL: Slurm did not start the job a second time (SLURM_RESTART_COUNT=1)"; exit 1; }
grep -q "resumed from" "$work/job.out" || { echo "FAIL: the requeued job did not resume"; exit 1; }
/usr/bin/python3 - "$work/reference/search.h5" "$work/run/search.h5" <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r", swmr=True)["evaluations"][:] for p in sys.argv[1:3])
assert len(a) == len(b) == 200, (len(a), len(b))
for n in a.dtype.names:
    if n in ("dispatch_time", "finish_time", "train_seconds"): continue
    assert (a[n] == b[n]).all(), f"column {n} differs"
print("PASS: signalled, checkpointed, requeued; 200 rows identical to the uninterrupted run")
PY
echo "tests/slurm/run.sh: passed in $SECONDS s"
