#!/usr/bin/env bash
# End-to-end scenarios of `alphax run` under mpirun; one per ctest entry (tests/app/CMakeLists.txt).
#   ALPHAX_BIN=build/ci/apps/alphax tests/app/cli_scenarios.sh restart
# Scenarios: determinism restart signal wall_time (+ the PBS script) bad_config failed_trainer
#            validate (+ --help, --version, CLI errors) single_rank corrupt_checkpoint
#            train_transfer
set -uo pipefail
scenario=${1:?usage: cli_scenarios.sh <scenario>}
src=${ALPHAX_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${ALPHAX_BIN:-$src/build/ci/apps/alphax}
mpiexec=${ALPHAX_MPIEXEC:-mpirun}
read -r -a mpiflags <<< "${ALPHAX_MPIEXEC_FLAGS:---oversubscribe --bind-to none}"
config=$src/inputs/nb201-table.yaml
work=$(mktemp -d /tmp/alphax-cli-$scenario.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$src"

fail() { echo "FAIL [$scenario]: $*" >&2; exit 1; }
alphax() {  # alphax NP args...
  local np=$1; shift
  "$mpiexec" -np "$np" "${mpiflags[@]}" "$bin" "$@"
}
# Compares the /evaluations rows of two logs except wall-clock times.
same_rows() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
def rows(p):
    with h5py.File(p, "r", libver="latest", swmr=True) as f:
        return f["evaluations"][:]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
skip = {"dispatch_time", "finish_time", "train_seconds"}
if len(a) != len(b):
    sys.exit(f"row counts differ: {len(a)} vs {len(b)}")
for name in a.dtype.names:
    if name in skip: continue
    x, y = a[name], b[name]
    eq = (x == y) | (np.isnan(x) & np.isnan(y)) if x.dtype.kind == "f" else (x == y)
    if not eq.all():
        sys.exit(f"column {name} differs first at row {int(np.argmin(eq))}")
print(f"{len(a)} rows identical except times")
PY
}
rows_of() { /usr/bin/python3 -c "import h5py,sys; print(h5py.File(sys.argv[1],'r',swmr=True)['evaluations'].shape[0])" "$1"; }

case $scenario in
determinism)  # same seed + same layout -> same log, with 2 and with 3 groups
  for np in 3 4; do
    alphax $np run "$config" -o "$work/a$np" > "$work/a$np.out" || fail "run a np=$np"
    alphax $np run "$config" -o "$work/b$np" > "$work/b$np.out" || fail "run b np=$np"
    same_rows "$work/a$np/search.h5" "$work/b$np/search.h5" || fail "np=$np logs differ"
  done
  ;;
restart)  # stop after k results (exit 85), restart, identical log to an uninterrupted run
  alphax 4 run "$config" -o "$work/full" > /dev/null || fail "uninterrupted run"
  alphax 4 run "$config" -o "$work/part" --set run.stop_after_results=63 > "$work/p1.out"
  rc=$?; [[ $rc == 85 ]] || fail "stopped run exited $rc, expected 85"
  [[ $(rows_of "$work/part/search.h5") == 63 ]] || fail "stopped run logged $(rows_of "$work/part/search.h5") rows, expected 63"
  alphax 4 run "$config" -o "$work/part" --restart > "$work/p2.out" || fail "restart failed: $(cat "$work/p2.out")"
  grep -q "resumed from" "$work/p2.out" || fail "restart did not resume"
  same_rows "$work/full/search.h5" "$work/part/search.h5" || fail "restarted log differs"
  ;;
signal)  # SIGUSR1 to mpirun mid-run -> checkpoint, exit 85 everywhere, restart completes identically
  alphax 3 run "$config" -o "$work/full" > /dev/null || fail "uninterrupted run"
  # mpirun itself (not a subshell) must get the signal: OpenMPI forwards SIGUSR1 to every rank.
  "$mpiexec" -np 3 "${mpiflags[@]}" "$bin" run "$config" -o "$work/sig" --set trainers.pace_seconds=0.02 \
    > "$work/s1.out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [[ -f $work/sig/search.h5 ]] && break; sleep 0.1; done
  sleep 1.5
  kill -USR1 $pid
  wait $pid; rc=$?
  [[ $rc == 85 ]] || fail "signalled run exited $rc, expected 85: $(cat "$work/s1.out")"
  grep -q "checkpointed" "$work/s1.out" || fail "no checkpoint message"
  n=$(rows_of "$work/sig/search.h5")
  (( n > 0 && n < 200 )) || fail "signalled run logged $n rows (expected 0 < n < 200)"
  alphax 3 run "$config" -o "$work/sig" > "$work/s2.out" || fail "restart after signal failed"
  same_rows "$work/full/search.h5" "$work/sig/search.h5" || fail "log after signal+restart differs"
  ;;
wall_time)  # run.budget.max_wall_seconds acts like a signal (PBS sends none); the PBS script requeues
  alphax 3 run "$config" -o "$work/full" > /dev/null || fail "uninterrupted run"
  alphax 3 run "$config" -o "$work/w" --set trainers.pace_seconds=0.02 --set run.budget.max_wall_seconds=1 > "$work/w.out"
  rc=$?; [[ $rc == 85 ]] || fail "wall-time run exited $rc, expected 85"
  [[ -f $work/w/checkpoint.h5 ]] || fail "no checkpoint after the wall-time stop"
  n=$(rows_of "$work/w/search.h5")
  (( n < 200 )) || fail "the wall-time budget did not stop the run ($n rows)"
  # jobscripts/pbs/alphax.pbs outside PBS: walltime - margin = 1 s stops the job with 85, on which
  # the script calls qrerun (a stand-in on PATH that records its argument) and exits 0; the rerun
  # job (a long walltime) continues from the checkpoint and ends with the uninterrupted log.
  mkdir -p "$work/bin"
  printf '#!/bin/sh\necho "$@" >> "%s/qrerun.calls"\n' "$work" > "$work/bin/qrerun"
  chmod +x "$work/bin/qrerun"
  pbs() {  # pbs <walltime seconds>
    PATH="$work/bin:$(dirname "$mpiexec"):$PATH" PBS_JOBID=42.pbs PBS_O_WORKDIR="$src" CONFIG="$config" ALPHAX="$bin" \
      ALPHAX_RANKS=3 ALPHAX_WALLTIME_SECONDS=$1 ALPHAX_WALL_MARGIN=300 \
      ALPHAX_ARGS="-o $work/pbs --set trainers.pace_seconds=0.02" bash "$src/jobscripts/pbs/alphax.pbs"
  }
  pbs 301 > "$work/pbs1.out" 2>&1 || fail "PBS job stopped by its wall time exited $?: $(cat "$work/pbs1.out")"
  grep -q "exited with 85" "$work/pbs1.out" || fail "PBS job did not stop with 85: $(cat "$work/pbs1.out")"
  [[ $(cat "$work/qrerun.calls" 2>/dev/null) == 42.pbs ]] || fail "PBS job did not qrerun itself"
  pbs 3600 > "$work/pbs2.out" 2>&1 || fail "rerun PBS job failed: $(cat "$work/pbs2.out")"
  [[ $(wc -l < "$work/qrerun.calls") == 1 ]] || fail "the finished PBS job requeued itself"
  same_rows "$work/full/search.h5" "$work/pbs/search.h5" || fail "log after a PBS wall-time stop + rerun differs"
  ;;
bad_config)  # each class of error: one message from rank 0, exit 2, no output written
  check() {  # check <expected text> <args...>
    local want=$1; shift
    alphax 4 run "$config" -o "$work/bad" "$@" > "$work/out" 2> "$work/err"
    local rc=$?
    [[ $rc == 2 ]] || fail "'$*' exited $rc, expected 2"
    grep -q -- "$want" "$work/err" || fail "'$*': message lacks '$want': $(cat "$work/err")"
    [[ $(grep -c "error" "$work/err") == 1 ]] || fail "'$*': expected one error line, got: $(cat "$work/err")"
  }
  check "run.budget.max_evaluatons" --set run.budget.max_evaluatons=5
  check "not a whole number" --set run.seed=abc
  check "run.checkpoint.every_seconds" --set run.checkpoint.every_seconds=-1
  check "1 + k\*2" --set trainers.group_size=2
  check "cannot keep 3 trainer groups" --set run.budget.max_evaluations=2
  check "strategy" --set strategy.name=annealing
  check "evaluator.file" --set evaluator.file=/nonexistent/table.csv
  [[ ! -e $work/bad/search.h5 ]] || fail "a rejected config wrote a log"
  ;;
failed_trainer)  # a table without most architectures: evaluations fail, the search goes on
  head -n 400 data/nb201/nb201_cifar10_12epoch.csv > "$work/small.csv"
  alphax 3 run "$config" -o "$work/f" --set evaluator.file="$work/small.csv" \
    --set run.budget.max_evaluations=40 > "$work/f.out" || fail "run with failing evaluations exited non-zero"
  /usr/bin/python3 - "$work/f/search.h5" <<'PY' || fail "log check"
import sys, h5py
d = h5py.File(sys.argv[1], "r", swmr=True)["evaluations"][:]
status = d["status"]
assert len(d) == 40, len(d)
assert (status == 2).sum() > 0, "no failed rows"
print(f"{(status == 2).sum()} failed, {(status == 0).sum()} ok of {len(d)}")
PY
  ;;
single_rank)  # N = 1 (no mpirun): log schema, effective config, progress lines, SIGTERM, restart
  small=(--set run.budget.max_evaluations=40 --set run.checkpoint.every_results=5)
  "$bin" run "$config" -o "$work/full" "${small[@]}" > "$work/full.out" || fail "N=1 run"
  "$bin" run "$config" -o "$work/term" "${small[@]}" --set trainers.pace_seconds=0.05 \
    --set run.progress_seconds=0.3 > "$work/t1.out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [[ -f $work/term/search.h5 ]] && break; sleep 0.1; done
  sleep 1
  kill -TERM $pid
  wait $pid; rc=$?
  [[ $rc == 85 ]] || fail "SIGTERM: exit $rc, expected 85: $(cat "$work/t1.out")"
  grep -qE "^alphax \[[0-9:]+\] [0-9]+/40 evaluations \| best [0-9.]+ \|.*\| [0-9]+ evals/h \| groups busy [0-9]/1, utilisation [0-9]+% \| ETA [0-9:]+" \
    "$work/t1.out" || fail "no progress line with done/budget, best + arch, evals/h, utilisation, ETA: $(cat "$work/t1.out")"
  "$bin" run "$config" -o "$work/term" "${small[@]}" > "$work/t2.out" || fail "restart after SIGTERM"
  grep -q "resumed from" "$work/t2.out" || fail "N=1 restart did not resume"
  same_rows "$work/full/search.h5" "$work/term/search.h5" || fail "N=1 log after SIGTERM+restart differs"
  /usr/bin/python3 - "$work/full/search.h5" <<'PY' || fail "log schema"
import sys, h5py
f = h5py.File(sys.argv[1], "r", libver="latest", swmr=True)
d = f["evaluations"]
want = ["id", "canonical_hash", "arch", "strategy", "group", "status", "dispatch_time", "finish_time",
        "virtual_finish", "predicted", "objective", "report", "params", "flops", "train_seconds"]
assert list(d.dtype.names) == want, d.dtype.names
assert d.chunks is not None and d.maxshape == (None,), (d.chunks, d.maxshape)
assert h5py.check_enum_dtype(d.dtype["status"]) == {"ok": 0, "diverged": 1, "failed": 2}
for key in ("schema_version", "alphax_version", "config", "world_size", "group_size"):
    assert key in f.attrs, key
assert f.attrs["world_size"] == 1 and f.attrs["schema_version"] == 1
config = f.attrs["config"]
config = config.decode() if isinstance(config, bytes) else config
assert "max_evaluations: 40" in config and "every_results: 5" in config, config
assert len(d) == 40 and list(d["id"]) == list(range(40)), d["id"]
print("schema ok")
PY
  ;;
corrupt_checkpoint)  # a damaged newest checkpoint: named, the previous generation is used, same log
  alphax 3 run "$config" -o "$work/full" > /dev/null || fail "uninterrupted run"
  alphax 3 run "$config" -o "$work/c" --set run.stop_after_results=70 > /dev/null
  [[ $? == 85 ]] || fail "stopped run did not exit 85"
  [[ -f $work/c/checkpoint.prev.h5 ]] || fail "no previous checkpoint generation kept"
  printf 'garbage' | dd of="$work/c/checkpoint.h5" bs=1 seek=100 conv=notrunc status=none
  alphax 3 run "$config" -o "$work/c" > "$work/c2.out" || fail "restart with a corrupt newest checkpoint: $(cat "$work/c2.out")"
  grep -q "skipped a checkpoint: .*checkpoint.h5" "$work/c2.out" || fail "the corrupt file was not named: $(cat "$work/c2.out")"
  grep -q "resumed from .*checkpoint.prev.h5" "$work/c2.out" || fail "did not resume from the previous generation"
  same_rows "$work/full/search.h5" "$work/c/search.h5" || fail "log after falling back differs"
  ;;
train_transfer)  # the train evaluator with weight transfer: stop after 4 results, restart, same log
  tiny=(--set run.budget.max_evaluations=8 --set run.checkpoint.every_results=2 --set run.progress_seconds=0
        --set evaluator.epochs=1 --set evaluator.data.train_subset=256 --set evaluator.data.validation=128
        --set evaluator.data.test_subset=128 --set evaluator.network.channels=4
        --set evaluator.transfer.cache_size=4)
  alphax 3 run inputs/quickstart.yaml -o "$work/full" "${tiny[@]}" > "$work/full.out" || fail "uninterrupted run: $(cat "$work/full.out")"
  alphax 3 run inputs/quickstart.yaml -o "$work/part" "${tiny[@]}" --set run.stop_after_results=4 > /dev/null
  [[ $? == 85 ]] || fail "stopped run did not exit 85"
  alphax 3 run inputs/quickstart.yaml -o "$work/part" "${tiny[@]}" > "$work/p2.out" || fail "restart: $(cat "$work/p2.out")"
  grep -q "resumed from" "$work/p2.out" || fail "restart did not resume"
  same_rows "$work/full/search.h5" "$work/part/search.h5" || fail "trained log after restart differs"
  /usr/bin/python3 - "$work/part/checkpoint.h5" <<'PY' || fail "no weight cache in the checkpoint"
import sys, h5py
assert "weight_transfer" in h5py.File(sys.argv[1], "r")["state"], "no /state/weight_transfer"
PY
  ;;
validate)  # also the command line itself: --version, --help, a missing subcommand
  "$bin" --version | grep -qE "^alphax [0-9]+\.[0-9]+\.[0-9]+$" || fail "--version: $("$bin" --version)"
  help=$("$bin" --help) || fail "--help exited non-zero"
  for sub in run validate train bench; do
    grep -qE "^  $sub " <<< "$help" || fail "--help does not list '$sub': $help"
  done
  "$bin" run --help | grep -q -- "--set" || fail "run --help does not document --set"
  "$bin" > /dev/null 2>&1; [[ $? == 106 ]] || fail "no subcommand must exit 106 (docs/app.md)"
  "$bin" run "$config" --frobnicate > /dev/null 2>&1; [[ $? == 109 ]] || fail "an unknown option must exit 109"
  "$bin" validate "$config" --ranks 5 > "$work/v.out" || fail "validate --ranks 5"
  grep -q "valid for 5 rank" "$work/v.out" || fail "validate output: $(cat "$work/v.out")"
  "$bin" validate "$config" --ranks 5 --set trainers.group_size=3 2> "$work/v.err"
  [[ $? == 2 ]] || fail "validate of a bad layout must exit 2"
  grep -q "group_size" "$work/v.err" || fail "validate message: $(cat "$work/v.err")"
  ;;
*) fail "unknown scenario" ;;
esac
echo "PASS [$scenario]"
