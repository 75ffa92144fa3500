#!/usr/bin/env bash
# Installs what is missing, builds alphax (release), and runs the default job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
exec build/release/apps/alphax train --config inputs/train-fashion.yaml
