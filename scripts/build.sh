#!/usr/bin/env bash
# Configures and builds kelvin in ./build (Release). CUDA is compiled when nvcc is found
# (PATH or /usr/local/cuda); otherwise a CPU-only build with the same CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
# KELVIN_TARGETS: what to build (default: everything, tests included).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
targets=()
for t in ${KELVIN_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build build -j"$jobs" "${targets[@]}"
