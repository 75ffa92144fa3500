#!/usr/bin/env bash
# A multi-host network on one machine for `alphax bench comm` (issue 11, benchmark 2).
#
#   sudo bench/comm-netns.sh --ranks 2,3,4,6,8 --size 16M --out DIR [--jobs 3] [--repeats 5] [--ops bcast,allreduce]
#                            [--stock-ranks 8] [--alphax build/release/apps/alphax | .../alphax-bench-comm]
#                            [--algorithms lp,ring,auto,mpi] [--mpirun-arg ARG ...]
#                            [-- more `alphax bench comm` options]
#
# Creates one network namespace per test host (axh<id>-<k>, address 10.213.77.(10+k)/24, a subnet
# used for nothing else) and one namespace holding a bridge (axbr<id>). Every host has a veth pair
# into the bridge; both ends are shaped with `tc qdisc ... tbf rate 200mbit burst 256kb latency
# 100ms`, so each host has one 200 Mbit/s full-duplex link into a switch. mpirun runs inside host 0;
# an rsh agent that only runs `ip netns exec` for the test hosts' addresses (and refuses any other)
# starts the other ranks. Open MPI uses TCP only (btl tcp,self; btl/oob_tcp_if_include the subnet;
# mpi_yield_when_idle 1). Every variant runs with the same settings:
#   --mca btl_tcp_flags send,inplace,need-ack,need-csum   (no PUT: it can serialise both directions)
#   --mca btl_tcp_eager_limit 1114112                      (no rendezvous per pipeline block)
# and one extra job at --stock-ranks uses Open MPI's stock TCP settings. Jobs run round-robin over
# P (job 1 at every P, then job 2, ...); a call adds its jobs to those already in DIR, so one P per
# call (--ranks 8 --jobs 1, three times) gives the same files. Everything created is removed on
# exit, failures included (trap). Output: DIR/p<P>/job<k>/ and DIR/stock-p<P>/job<k>/ (log.txt,
# comm.csv, comm_model.csv of each job), then bench/comm/netns_report.py DIR: DIR/comm.csv
# (medians over the jobs), DIR/jobs.csv, DIR/comm_model.csv, DIR/summary.md and DIR/netns.png.
set -euo pipefail
command_line=("$0" "$@")

ranks_list="2,3,4,6,8"
size="16M"
out=""
repeats=5
jobs=3
ops="bcast,allreduce"
algorithms="lp,ring,auto,mpi"
bench_extra=()
mpirun_extra=()
stock_ranks=8
stock_repeats=3
here="$(cd "$(dirname "$0")/.." && pwd)"
alphax=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks_list="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --ops) ops="$2"; shift 2 ;;
    --stock-ranks) stock_ranks="$2"; shift 2 ;;
    --stock-repeats) stock_repeats="$2"; shift 2 ;;
    --alphax) alphax="$2"; shift 2 ;;
    --algorithms) algorithms="$2"; shift 2 ;;
    --mpirun-arg) mpirun_extra+=("$2"); shift 2 ;;
    --) shift; bench_extra=("$@"); break ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "comm-netns.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "comm-netns.sh: --out DIR is required" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "comm-netns.sh: needs root (network namespaces, tc)" >&2; exit 2; }
if [ -z "$alphax" ]; then
  for candidate in build/release/apps/alphax build/ci/apps/alphax build/release/bench/comm/alphax-bench-comm \
                   build/ci/bench/comm/alphax-bench-comm build/comm/bench/comm/alphax-bench-comm; do
    [ -x "$here/$candidate" ] && { alphax="$here/$candidate"; break; }
  done
fi
[ -x "$alphax" ] || { echo "comm-netns.sh: alphax binary not found; build it (cmake --preset release && cmake --build --preset release) or pass --alphax" >&2; exit 2; }
alphax="$(cd "$(dirname "$alphax")" && pwd)/$(basename "$alphax")"
bench_command=(bench comm)
[ "$(basename "$alphax")" = alphax-bench-comm ] && bench_command=(comm)
mkdir -p "$out"
out="$(cd "$out" && pwd)"
# The jobs run from the repository root and get output paths inside it relative to it, so the logs
# committed under bench/results name no machine's directories.
cd "$here"
repo_relative() { case "$1" in "$here"/*) echo "${1#"$here"/}" ;; *) echo "$1" ;; esac; }

source "$here/bench/comm/provenance.sh"
record_run "$out" "${command_line[@]}"

subnet_prefix="10.213.77"
if ip -o addr | grep -q " ${subnet_prefix}\."; then
  echo "comm-netns.sh: ${subnet_prefix}.0/24 is already in use here; refusing to touch it" >&2; exit 2
fi
id="$$"
bridge_ns="axbr${id}"
max_ranks=$(tr ',' '\n' <<<"$ranks_list,$stock_ranks" | sort -n | tail -1)
work="$(mktemp -d /tmp/alphax-netns.XXXXXX)"
created_ns=()
job_pid=""

cleanup() {
  local status=$?
  if [ -n "$job_pid" ]; then kill -TERM "$job_pid" 2>/dev/null || true; wait "$job_pid" 2>/dev/null || true; fi
  for ns in "${created_ns[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT INT TERM

host_ns() { echo "axh${id}-$1"; }
host_ip() { echo "${subnet_prefix}.$((10 + $1))"; }

ip netns add "$bridge_ns"; created_ns+=("$bridge_ns")
ip -n "$bridge_ns" link set lo up
ip -n "$bridge_ns" link add br0 type bridge
ip -n "$bridge_ns" link set br0 up
shape() {  # namespace device
  ip netns exec "$1" tc qdisc add dev "$2" root tbf rate 200mbit burst 256kb latency 100ms
}
for ((k = 0; k < max_ranks; ++k)); do
  ns="$(host_ns "$k")"
  ip netns add "$ns"; created_ns+=("$ns")
  ip -n "$ns" link set lo up
  # Create the pair inside the bridge namespace, then move the host end: nothing touches the root namespace.
  ip -n "$bridge_ns" link add "v$k" type veth peer name "eth0-h$k"
  ip -n "$bridge_ns" link set "eth0-h$k" netns "$ns"
  ip -n "$ns" link set "eth0-h$k" name eth0
  ip -n "$ns" addr add "$(host_ip "$k")/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$bridge_ns" link set "v$k" master br0
  ip -n "$bridge_ns" link set "v$k" up
  shape "$ns" eth0
  shape "$bridge_ns" "v$k"
done

# The rsh agent: `agent <address> <command...>` runs the command in that test host's namespace,
# with its own hostname (UTS namespace), and refuses every other address.
agent="$work/netns-agent.sh"
{
  echo '#!/usr/bin/env bash'
  echo 'set -euo pipefail'
  echo 'host="$1"; shift'
  echo 'case "$host" in'
  for ((k = 0; k < max_ranks; ++k)); do
    echo "  $(host_ip "$k")) ns=$(host_ns "$k"); name=axhost$k ;;"
  done
  echo '  *) echo "netns-agent: refusing host $host (not an alphax test host)" >&2; exit 1 ;;'
  echo 'esac'
  echo 'exec ip netns exec "$ns" unshare --uts /bin/sh -c "hostname $name; exec $*"'
} >"$agent"
chmod +x "$agent"

common_mca=(--mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include "${subnet_prefix}.0/24"
            --mca oob_tcp_if_include "${subnet_prefix}.0/24" --mca plm_rsh_agent "$agent"
            --mca plm_rsh_no_tree_spawn 1 --mca mpi_yield_when_idle 1 --mca coll_tuned_use_dynamic_rules 1
            --mca orte_keep_fqdn_hostnames 1)
tuned_mca=(--mca btl_tcp_flags send,inplace,need-ack,need-csum --mca btl_tcp_eager_limit 1114112)

run_job() {  # P repeats out_dir [extra mca...]
  local p="$1" reps="$2" dir="$3"; shift 3
  local hostfile="$work/hosts-$p"
  : >"$hostfile"
  for ((k = 0; k < p; ++k)); do echo "$(host_ip "$k") slots=1" >>"$hostfile"; done
  mkdir -p "$dir"
  echo "== P=$p -> $dir ($(date -u +%H:%M:%S))"
  ip netns exec "$(host_ns 0)" unshare --uts /bin/sh -c "hostname axhost0; exec \"\$@\"" sh \
    env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpirun --hostfile "$hostfile" -np "$p" --map-by node --bind-to none "${common_mca[@]}" "$@" "${mpirun_extra[@]}" \
    "$alphax" "${bench_command[@]}" --ops "$ops" --sizes "$size" --algorithms "$algorithms" --repeats "$reps" --warmup 1 \
    --out "$(repo_relative "$dir")" "${bench_extra[@]}" >"$dir/log.txt" 2>&1 &
  job_pid=$!
  wait "$job_pid"
  job_pid=""
  cat "$dir/log.txt"
}

next_job_dir() {  # base: the first base/job<k> that does not exist yet
  local k=1
  while [ -e "$1/job$k" ]; do k=$((k + 1)); done
  echo "$1/job$k"
}

IFS=',' read -r -a plist <<<"$ranks_list"
for ((k = 0; k < jobs; ++k)); do
  for p in "${plist[@]}"; do run_job "$p" "$repeats" "$(next_job_dir "$out/p$p")" "${tuned_mca[@]}"; done
done
if [ "$stock_ranks" != 0 ]; then run_job "$stock_ranks" "$stock_repeats" "$(next_job_dir "$out/stock-p$stock_ranks")"; fi
/usr/bin/python3 "$here/bench/comm/netns_report.py" "$out" || echo "comm-netns.sh: report failed (the CSVs are in $out)" >&2
echo "== done: $out"
