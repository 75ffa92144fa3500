#!/bin/bash
# Submits N alphax jobs that run one after the other (afterany): each continues from the
# checkpoint the previous one left (run.restart: auto), whether it finished, timed out or failed.
#   jobscripts/slurm/submit-chain.sh N CONFIG [alphax run options...]
set -euo pipefail
count=${1:?usage: submit-chain.sh N CONFIG [options...]}
shift
script=$(dirname "$0")/alphax.sbatch
previous=""
for ((i = 1; i <= count; ++i)); do
  dependency=()
  [[ -n $previous ]] && dependency=(--dependency="afterany:$previous")
  previous=$(sbatch --parsable "${dependency[@]}" "$script" "$@")
  echo "submitted job $previous${dependency:+ (${dependency[*]})}"
done
