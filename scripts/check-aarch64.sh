#!/usr/bin/env bash
# Builds the CPU kernels for aarch64 with Debian's cross compiler and runs the convolution
# kernels' correctness tests (tests/test_conv_isa.cpp: every pass of every path against direct
# loops, Winograd included) under qemu-aarch64. On aarch64 only the portable `generic` variant
# exists (kernels/cpu/cpu_isa.h): 4-float GCC vectors, which become NEON q registers.
#   bash scripts/check-aarch64.sh          (about 2 minutes on 2 cores)
# What it proves: the kernels compile for aarch64 (every kernels/cpu/*.cpp; gemm.cpp and
# spectrum.cpp against the x86-64 OpenBLAS/LAPACKE headers, which declare the same C API, since
# Debian's arm64 libraries are not installed) and the conv kernels give the right answers there.
# What it does not: speed (qemu translates every instruction), the engine, the models, or
# linking OpenBLAS for aarch64.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "check-aarch64: FAILED: $*"; exit 1; }
cxx=aarch64-linux-gnu-g++
command -v $cxx > /dev/null || fail "$cxx not found (Debian package g++-aarch64-linux-gnu)"
command -v qemu-aarch64 > /dev/null || fail "qemu-aarch64 not found (Debian package qemu-user)"
[[ -f /usr/include/doctest/doctest.h ]] || fail "doctest.h not found (Debian package doctest-dev)"
blas_headers=$(dirname "$(ls /usr/include/*/openblas-pthread/cblas.h /usr/include/openblas/cblas.h 2>/dev/null | head -1)")
[[ -f $blas_headers/cblas.h ]] || fail "cblas.h not found (Debian package libopenblas-dev)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The include layout the CMake build makes (kernels/ reached as "kernels/...").
mkdir -p "$tmp/layers"
ln -s "$PWD/kernels" "$tmp/layers/kernels"
flags=(-std=c++17 -O2 -fopenmp -Wall -Wextra -Wno-unused-parameter -Werror=return-type
       -I"$tmp/layers" -I"$PWD" -isystem /usr/include/doctest/.. )
objects=()
for src in kernels/cpu/*.cpp; do
  name=$(basename "$src" .cpp)
  case $name in
    conv | conv_columns | conv_direct | conv_gemm | conv_weight_gradient | conv_winograd | gelu) defs=(-DKELVIN_ISA=generic) ;;  # the per-ISA sources
    gemm | spectrum) defs=(-isystem "$blas_headers" -isystem /usr/include) ;;
    *) defs=() ;;
  esac
  $cxx "${flags[@]}" "${defs[@]}" -c "$src" -o "$tmp/$name.o" || fail "$src does not compile for aarch64"
  objects+=("$tmp/$name.o")
done
echo "check-aarch64: every kernels/cpu/*.cpp compiles for aarch64 (${#objects[@]} files)"
# The portable micro-kernel must be vector code there, not scalar: NEON fused multiply-adds.
fmla=$(aarch64-linux-gnu-objdump -d "$tmp/conv_gemm.o" | grep -c 'fmla.*v[0-9]*\.4s' || true)
((fmla >= 12)) || fail "conv_gemm.o for aarch64 has $fmla NEON fmla (4 floats) instructions, expected the 6x8 tile's 12 or more"
echo "check-aarch64: the generic micro-kernel is NEON code ($fmla fmla .4s)"

printf '#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN\n#include <doctest/doctest.h>\n' > "$tmp/main.cpp"
$cxx "${flags[@]}" -c "$tmp/main.cpp" -o "$tmp/main.o"
$cxx "${flags[@]}" -c tests/test_conv_isa.cpp -o "$tmp/test_conv_isa.o" ||
  fail "tests/test_conv_isa.cpp does not compile for aarch64"
# The conv kernels need no BLAS: link them with their dispatch and the tests alone, statically
# (no arm64 libraries on this machine; qemu-aarch64 runs a static binary as it is).
conv_objects=()
for name in conv conv_columns conv_direct conv_gemm conv_weight_gradient conv_winograd conv_isa cpu_isa; do
  conv_objects+=("$tmp/$name.o")
done
$cxx -static -fopenmp "$tmp/main.o" "$tmp/test_conv_isa.o" "${conv_objects[@]}" -o "$tmp/conv_tests" \
  2> "$tmp/link.log" ||
  { cat "$tmp/link.log"; fail "the aarch64 conv test binary does not link"; }
file "$tmp/conv_tests" | grep -q "ARM aarch64" || fail "$tmp/conv_tests is not an aarch64 binary"
OMP_NUM_THREADS=2 qemu-aarch64 "$tmp/conv_tests" || fail "conv kernel tests under qemu-aarch64"
echo "check-aarch64: passed (generic path; speed on real aarch64 unmeasured)"
