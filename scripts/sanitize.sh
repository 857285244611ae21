#!/usr/bin/env bash
# Builds the test suite with AddressSanitizer and UndefinedBehaviorSanitizer and runs it; fails
# on any report. Too slow for CI on 2 cores (a 12-minute build, ~5 minutes of tests), so run it
# by hand after changing kernels that index raw buffers.
#   bash scripts/sanitize.sh [doctest filters...]          CPU-only build in build-asan/
#   KELVIN_SANITIZE_EMULATOR=1 bash scripts/sanitize.sh    the CUDA kernels on the host CUDA
#       emulator (build-asan-emu/, tests named cuda/GPU): out-of-bounds reads and writes of
#       kernels/cuda, which the emulator alone does not see
#   KELVIN_SANITIZE_PARSERS=1 bash scripts/sanitize.sh    the tests of every parser and of the
#       checkpoint, lock and interruption code, in build-fuzz/ (clang, ASan+UBSan), which
#       scripts/fuzz.sh has built already: only the test binary is added
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${KELVIN_SANITIZE_PARSERS:-0}" == 1 ]]; then
  [[ -f build-fuzz/CMakeCache.txt ]] || { echo "sanitize: run scripts/fuzz.sh first (build-fuzz/)"; exit 1; }
  cmake -S . -B build-fuzz > /dev/null   # keeps the cached clang settings
  cmake --build build-fuzz -j"$(nproc)" --target kelvin_parser_tests
  log=build-fuzz/sanitize-parsers.log
  filter='idx*,cifar*,image folder*,dataset spec*,load_dataset*,select_classes*,*safetensors*'
  filter+=',*file group*,crash recovery*,a folder where*,a symbolic*,paths and class*'
  filter+=',an oversized*,fuzz finding*,run lock*,interruption*,phase progress*'
  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ./build-fuzz/fuzz/kelvin_parser_tests -tc="$filter" 2>&1 | tee "$log" | tail -4
  if grep -q "runtime error\|AddressSanitizer\|Status: FAILURE" "$log"; then
    echo "sanitizer reports or failures in $log"; exit 1
  fi
  exit 0
fi
dir=build-asan
options=(-DKELVIN_ENABLE_CUDA=OFF)
filters=("$@")
if [[ "${KELVIN_SANITIZE_EMULATOR:-0}" == 1 ]]; then
  dir=build-asan-emu
  options=(-DKELVIN_CUDA_EMULATOR=ON)
  [[ ${#filters[@]} -eq 0 ]] && filters=("-tc=*cuda*,*gpu*")
fi
cmake -S . -B "$dir" "${options[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -g" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
cmake --build "$dir" -j"$(nproc)" --target kelvin_tests kelvin
log=$dir/sanitize.log
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "./$dir/kelvin_tests" "${filters[@]}" 2>&1 | tee "$log" | tail -4
if grep -q "runtime error\|AddressSanitizer" "$log"; then
  echo "sanitizer reports in $log"; exit 1
fi
