#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, and runs the main job on the
# default data (Fashion-MNIST from Debian's dataset-fashion-mnist package).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The CUDA backend only where it can run: a machine whose GPU answers nvidia-smi. Compiling the
# CUDA kernels takes minutes a CPU-only machine would spend for nothing; the test command
# compiles them wherever nvcc exists (so CI still catches CUDA compile errors).
cuda=OFF
if command -v nvidia-smi > /dev/null && nvidia-smi -L > /dev/null 2>&1; then cuda=ON; fi
# The CLI only: the tests are not needed here.
KELVIN_TARGETS=kelvin bash scripts/build.sh -DKELVIN_ENABLE_CUDA=$cuda
./build/kelvin demo "$@"
