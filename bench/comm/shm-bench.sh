#!/usr/bin/env bash
# Shared-memory benchmark of lib/comm on this node (issue 11, benchmark 1): P = 2 ranks bound to
# cores, every alphax algorithm on both transports (shm rows plain, p2p rows "@p2p") against Open
# MPI's default collectives and its forced coll/tuned algorithms (mpi:* rows), interleaved in
# every job. Jobs alternate between glibc's default malloc settings and
# MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=4294967295 (which stop glibc from handing the
# library's big temporary buffers back to the OS after every call).
#
#   bench/comm/shm-bench.sh --out DIR [--jobs 3] [--sizes 1M,16M,64M] [--repeats 15]
#                           [--alphax build/ci/apps/alphax | .../alphax-bench-comm]
#
# Writes DIR/malloc-{default,tuned}/job<k>/ (log.txt, comm.csv, comm_model.csv per job; a call adds
# its jobs to those already in DIR, so `--jobs 1` three times gives the same files), then
# bench/comm/shm_report.py DIR: DIR/malloc-{default,tuned}/comm.csv (medians over the jobs, the
# columns of comm.csv), DIR/comm.csv (= the tuned one) and DIR/summary.md (tables, paired ratios).
# Time it alone on the machine: nothing else may run on the two cores meanwhile.
set -euo pipefail
command_line=("$0" "$@")

out=""
jobs=3
sizes="1M,16M,64M"
repeats=15
alphax=""
here="$(cd "$(dirname "$0")/../.." && pwd)"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --alphax) alphax="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "shm-bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "shm-bench.sh: --out DIR is required" >&2; exit 2; }
if [ -z "$alphax" ]; then
  for candidate in build/release/apps/alphax build/ci/apps/alphax build/release/bench/comm/alphax-bench-comm \
                   build/ci/bench/comm/alphax-bench-comm; do
    [ -x "$here/$candidate" ] && { alphax="$here/$candidate"; break; }
  done
fi
[ -x "$alphax" ] || { echo "shm-bench.sh: alphax binary not found; build it (cmake --preset release && cmake --build --preset release) or pass --alphax" >&2; exit 2; }
bench_command=(bench comm)
[ "$(basename "$alphax")" = alphax-bench-comm ] && bench_command=(comm)
mkdir -p "$out"

source "$here/bench/comm/provenance.sh"
record_run "$out" "${command_line[@]}"

run_job() {  # dir [env assignments...]
  local dir="$1"; shift
  mkdir -p "$dir"
  echo "== $dir ($(date -u +%H:%M:%S))"
  env "$@" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpirun -np 2 --bind-to core --map-by core \
    --mca coll_tuned_use_dynamic_rules 1 \
    "$alphax" "${bench_command[@]}" --ops bcast,reduce,allreduce --sizes "$sizes" --algorithms lp,ring,auto,mpi \
    --transports auto,p2p --repeats "$repeats" --warmup 2 --out "$dir" >"$dir/log.txt" 2>&1
  tail -n +1 "$dir/log.txt" | head -4
}

# A call adds its jobs to those already in DIR (job numbers go on), so jobs can be split into calls.
first=1
while [ -e "$out/malloc-default/job$first" ] || [ -e "$out/malloc-tuned/job$first" ]; do first=$((first + 1)); done
for ((k = first; k < first + jobs; ++k)); do
  # Local ranks inherit mpirun's environment: -u really unsets the variables (env options first).
  run_job "$out/malloc-default/job$k" -u MALLOC_MMAP_MAX_ -u MALLOC_TRIM_THRESHOLD_
  run_job "$out/malloc-tuned/job$k" MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=4294967295
done
/usr/bin/python3 "$here/bench/comm/shm_report.py" "$out"
