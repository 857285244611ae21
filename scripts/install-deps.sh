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
# The :arm64 packages (Debian multiarch, next to the amd64 ones): the libraries the aarch64 build of
# the whole engine and CLI links (cmake/aarch64-linux-gnu.cmake; scripts/check-aarch64.sh, part 2),
# and the runtime libgomp/libstdc++ that qemu-aarch64 loads from /usr/lib/aarch64-linux-gnu (the
# cross compiler's own copies live under /usr/aarch64-linux-gnu). They need the arm64 architecture
# in dpkg, added below once; Debian's mirrors serve it.
arm64=0
if [[ $(uname -m) == x86_64 ]]; then
  packages+=(qemu-user g++-aarch64-linux-gnu
             libopenblas-dev:arm64 liblapacke-dev:arm64 zlib1g-dev:arm64 libstb-dev:arm64
             libgomp1:arm64 libstdc++6:arm64)
  arm64=1
fi
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
  if ((arm64)) && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "install-deps: adding the arm64 architecture (dpkg --add-architecture arm64)"
    $sudo dpkg --add-architecture arm64
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
