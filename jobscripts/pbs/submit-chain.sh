#!/bin/bash
# Submits N alphax PBS jobs chained with afterany: each continues from the previous checkpoint.
#   jobscripts/pbs/submit-chain.sh N CONFIG
set -euo pipefail
count=${1:?usage: submit-chain.sh N CONFIG}
config=${2:?usage: submit-chain.sh N CONFIG}
script=$(dirname "$0")/alphax.pbs
previous=""
for ((i = 1; i <= count; ++i)); do
  if [[ -n $previous ]]; then
    previous=$(qsub -W depend=afterany:"$previous" -v "CONFIG=$config" "$script")
  else
    previous=$(qsub -v "CONFIG=$config" "$script")
  fi
  echo "submitted $previous"
done
