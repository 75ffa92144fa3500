#!/usr/bin/env bash
# Installs the Debian 12 packages alphax needs to build, test and run its default job.
# Idempotent: when everything is present it only checks and returns (no apt-get call).
#   scripts/setup.sh              build + tests + default job + report
#   scripts/setup.sh --bench      also PyTorch (bench/train_throughput compares against it)
#   scripts/setup.sh --slurm      also Slurm + munge (the requeue test on a localhost Slurm)
#   scripts/setup.sh --kokkos     also Debian's Kokkos (the ALPHAX_ENABLE_KOKKOS build)
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev hdf5-tools
  libyaml-cpp-dev libopenblas-dev zlib1g-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  dataset-fashion-mnist
  python3 python3-numpy python3-h5py python3-pandas python3-matplotlib
)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(python3-torch) ;;
    --slurm) packages+=(slurm-wlm munge) ;;
    --kokkos) packages+=(libtrilinos-kokkos-dev) ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup.sh: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
