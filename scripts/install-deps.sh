#!/usr/bin/env bash
# Installs what kelvin needs from Debian's packages, by name. Safe to run again.
# Optional extras: KELVIN_WITH_TORCH=1 also installs python3-torch, -numpy, -scipy and -mpmath
# (benchmark peers, golden fixture generation: tests/golden/make_*fixtures.py);
# KELVIN_WITH_CHROMIUM=1 installs chromium (report rendering test).
set -euo pipefail
packages=(build-essential cmake pkg-config libopenblas-dev liblapacke-dev zlib1g-dev
          libcli11-dev nlohmann-json3-dev doctest-dev libstb-dev dataset-fashion-mnist
          clang libclang-rt-14-dev libomp-dev  # clang, libFuzzer, OpenMP: scripts/fuzz.sh
          slurm-wlm munge    # slurm-wlm, munge: the private Slurm of scripts/slurm-cluster.sh
          openmpi-bin libopenmpi-dev  # data-parallel training (engine/distributed/)
          ccache)  # scripts/test.sh: its emulator build reuses the main build's objects
# qemu-user: scripts/check-cpu-isas.sh runs the default build on emulated AVX2-only and no-AVX CPUs.
# g++-aarch64-linux-gnu: scripts/check-aarch64.sh builds the CPU kernels for aarch64 (qemu-user runs them).
[[ $(uname -m) == x86_64 ]] && packages+=(qemu-user g++-aarch64-linux-gnu)
[[ "${KELVIN_WITH_TORCH:-0}" == 1 ]] && packages+=(python3-torch python3-numpy python3-scipy python3-mpmath)
[[ "${KELVIN_WITH_CHROMIUM:-0}" == 1 ]] && packages+=(chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
