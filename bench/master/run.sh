#!/usr/bin/env bash
# The master-at-scale benchmark (docs/app.md, "Master at scale"); writes
# bench/results/master-scale/{simulate.csv,mpi.csv,summary.md}. Timing results: run it on an
# otherwise idle machine. Parts (default: all):
#   bench/master/run.sh [build/release/apps/alphax] [simulate-small|simulate-large|simulate-mcts|mpi ...]
# simulate-small: V = 100 and 1,000, four strategies; simulate-large: V = 10,000, random and lanas;
# simulate-mcts: V = 10,000, mcts with the default scoring and with a quarter of it (mcts-c48); mpi: real ranks
# (17, 33, 65, 129), oversubscribed, table evaluator, 2 s mean evaluations.
set -euo pipefail
cd "$(dirname "$0")/../.."
alphax=build/release/apps/alphax
if [[ $# -gt 0 && -x $1 ]]; then alphax=$1; shift; fi
parts=("$@")
[[ ${#parts[@]} -gt 0 ]] || parts=(simulate-small simulate-large simulate-mcts mpi)
out=bench/results/master-scale
common=(bench/master/master-scale.yaml --mean-seconds 60 --distribution exponential --latency-us 50 --send-us 2
        --out "$out")

for part in "${parts[@]}"; do
  case $part in
    simulate-small)
      "$alphax" bench master "${common[@]}" --workers 100 1000 --strategies random,evolution,mcts,lanas
      "$alphax" bench master "${common[@]}" --workers 1000 --strategies mcts --orders deterministic ;;
    simulate-large)
      "$alphax" bench master "${common[@]}" --workers 10000 --strategies random
      "$alphax" bench master "${common[@]}" --workers 10000 --strategies lanas --evaluations-per-worker 3 ;;
    simulate-mcts)
      "$alphax" bench master "${common[@]}" --workers 10000 --strategies mcts --evaluations-per-worker 3
      "$alphax" bench master "${common[@]}" --workers 10000 --strategies mcts-c48 --evaluations-per-worker 3 ;;
    mpi)
      launcher=(mpirun --oversubscribe --bind-to none)
      [[ $(id -u) == 0 ]] && launcher+=(--allow-run-as-root)
      for np in 17 33 65 129; do
        "${launcher[@]}" -np "$np" "$alphax" bench master --mpi bench/master/nb201-mpi.yaml --pace-scale 0.0333333 \
          --evaluations-per-worker 10 --out "$out"
      done ;;
    *) echo "run.sh: unknown part '$part'" >&2; exit 2 ;;
  esac
done
