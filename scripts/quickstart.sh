#!/usr/bin/env bash
# The README's default job, from a clean clone:
#   1. installs the Debian packages that are missing (scripts/setup.sh),
#   2. builds the alphax executable (CMake preset `release`, target alphax only),
#   3. runs `mpirun -np 3 alphax run inputs/quickstart.yaml` (rank 0 searches with MCTS, ranks 1
#      and 2 train NAS-Bench-201 cells on a Fashion-MNIST subset), writing runs/quickstart/,
#   4. turns the search log into plots and a summary (scripts/alphax-report).
# About 8 minutes on 2 cores from a clean clone (4.5 of them compiling); 1.5-3.5 once built
# (docs/app.md, "Quickstart").
# Run it again after an interruption and it continues from the checkpoint; delete runs/quickstart
# to start over.
#   scripts/quickstart.sh [alphax run options, e.g. --set run.budget.max_evaluations=60]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release > /dev/null
cmake --build --preset release --target alphax -j "$(nproc)"
alphax=build/release/apps/alphax
output=runs/quickstart

# mpirun differs between MPI implementations: Open MPI refuses to run as root without
# --allow-run-as-root and refuses more ranks than cores without --oversubscribe; MPICH (Hydra)
# needs neither.
launcher=(mpirun -np 3)
if mpirun --version 2>&1 | grep -q "Open MPI"; then
  launcher+=(--bind-to none)
  if (( $(nproc) < 3 )); then launcher+=(--oversubscribe); fi
  if (( $(id -u) == 0 )); then launcher+=(--allow-run-as-root); fi
fi

if [[ -f $output/checkpoint.h5 ]]; then
  echo "quickstart.sh: $output holds an earlier run; continuing it (delete $output to start over)"
fi
echo "quickstart.sh: ${launcher[*]} $alphax run inputs/quickstart.yaml -o $output $*"
status=0
"${launcher[@]}" "$alphax" run inputs/quickstart.yaml -o "$output" "$@" || status=$?
if (( status == 85 )); then
  echo "quickstart.sh: stopped and checkpointed; run scripts/quickstart.sh again to continue"
  exit "$status"
elif (( status != 0 )); then
  echo "quickstart.sh: alphax run failed with exit code $status" >&2
  exit "$status"
fi

scripts/alphax-report "$output/search.h5" -o "$output/report"
echo "quickstart.sh: done. Report: $output/report/summary.html (and summary.md, *.png); log: $output/search.h5"
