#!/usr/bin/env bash
# Builds the CPU-only test suite with AddressSanitizer and UndefinedBehaviorSanitizer into
# build-asan/ and runs it; fails on any report. Too slow for CI on 2 cores (a 12-minute build,
# ~5 minutes of tests), so run it by hand after changing kernels that index raw buffers.
#   bash scripts/sanitize.sh [doctest filters...]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DKELVIN_ENABLE_CUDA=OFF -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -g" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
cmake --build build-asan -j"$(nproc)" --target kelvin_tests kelvin
log=build-asan/sanitize.log
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ./build-asan/kelvin_tests "$@" 2>&1 | tee "$log" | tail -4
if grep -q "runtime error\|AddressSanitizer" "$log"; then
  echo "sanitizer reports in $log"; exit 1
fi
