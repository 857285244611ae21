#!/usr/bin/env bash
# The aarch64 build, checked on x86-64 with Debian's cross compiler and qemu-aarch64. On aarch64
# only the portable `generic` conv variant exists (kernels/cpu/cpu_isa.h): 4-float GCC vectors,
# which become NEON q registers.
#   bash scripts/check-aarch64.sh     (2 cores: ~70 s with ccache's entries, ~3.5 min without)
# Part 1, the kernels alone (~15 s): every kernels/cpu/*.cpp compiles for aarch64 (gemm.cpp and
# spectrum.cpp against the first openblas-pthread cblas.h found: the arm64 one where multiarch
# installed it, else the x86-64 one, which declares the same C API), the generic micro-kernel is
# NEON code, and the conv kernels' correctness tests (tests/test_conv_isa.cpp: every pass of
# every path against direct loops, Winograd included) pass under qemu-aarch64, statically linked.
# Part 2, the whole engine (build-aarch64/, -O1): kelvin and kelvin_tests configured with
# cmake/aarch64-linux-gnu.cmake (CUDA and MPI off) against Debian's arm64 OpenBLAS, LAPACKE,
# zlib and stb (multiarch: scripts/install-deps.sh), then under qemu-aarch64 on an emulated
# Neoverse N1: `kelvin --help`, the kelvin_tests cases that run in-process (golden PyTorch
# fixtures, gradients, models, BLAS, spectra, ...; the test files that start a process are left
# out: nothing registers qemu with binfmt_misc, so a shell cannot start an aarch64 kelvin), and
# a 2-step `kelvin train --diagnose` of an MLP on Fashion-MNIST whose config.json must name
# cpu_isa "generic". KELVIN_AARCH64_KERNELS_ONLY=1 runs part 1 only, and says so.
# What it does not prove: speed (qemu translates every instruction; nothing here runs on real
# aarch64 hardware), CUDA or MPI on aarch64.
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
echo "check-aarch64: part 1: the conv kernel tests pass under qemu-aarch64"
if [[ "${KELVIN_AARCH64_KERNELS_ONLY:-0}" == 1 ]]; then
  echo "check-aarch64: passed, KERNELS ONLY (KELVIN_AARCH64_KERNELS_ONLY=1: the engine, CLI and kelvin_tests were not built for aarch64)"
  exit 0
fi

# ---- part 2: the whole engine and CLI for aarch64 (build-aarch64/) --------------------------
part2_started=$SECONDS
arm64_libs=/usr/lib/aarch64-linux-gnu
dpkg --print-foreign-architectures | grep -qx arm64 ||
  fail "dpkg has no arm64 architecture: the engine build needs Debian's arm64 libraries (scripts/install-deps.sh runs dpkg --add-architecture arm64)"
for spec in libopenblas.so:libopenblas-dev:arm64 liblapacke.so:liblapacke-dev:arm64 \
            libstb.so:libstb-dev:arm64 libz.so:zlib1g-dev:arm64 libgomp.so.1:libgomp1:arm64 \
            libstdc++.so.6:libstdc++6:arm64; do
  IFS=: read -r lib package arch <<< "$spec"
  [[ -e $arm64_libs/$lib ]] || fail "$arm64_libs/$lib not found (Debian package $package:$arch)"
done
[[ -e /lib/ld-linux-aarch64.so.1 ]] || fail "/lib/ld-linux-aarch64.so.1 not found (Debian package libc6:arm64)"
command -v cmake > /dev/null || fail "cmake not found (Debian package cmake)"
fmnist=/usr/share/datasets/fashion-mnist
[[ -f $fmnist/train-images-idx3-ubyte.gz ]] || fail "$fmnist not found (Debian package dataset-fashion-mnist)"

build=build-aarch64
launcher=()
if command -v ccache > /dev/null; then
  # As scripts/test.sh: paths relative to the repository root, so that clones share entries.
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# -O1, not Release's -O3: a portability check, and the cold build (no ccache entries) of kelvin
# and kelvin_tests takes 224 s instead of 313 s here (2 cores, loaded machine); the in-process
# tests then run 43 s instead of 31 s under qemu. KELVIN_AARCH64_CXX_FLAGS="-O3 -DNDEBUG" builds
# what a Release build on aarch64 would compile.
opt_flags=${KELVIN_AARCH64_CXX_FLAGS:--O1 -DNDEBUG}
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="$opt_flags" \
  -DKELVIN_ENABLE_CUDA=OFF -DKELVIN_ENABLE_MPI=OFF "${launcher[@]}" \
  > "$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "cmake does not configure the aarch64 build"; }
# Every library CMake found must be an arm64 one (an x86-64 one would only fail at the link).
for var in OPENBLAS_LIBRARY LAPACKE_LIBRARY STB_LIBRARY ZLIB_LIBRARY_RELEASE; do
  found=$(sed -n "s/^$var:FILEPATH=//p" "$build/CMakeCache.txt")
  [[ $found == $arm64_libs/* ]] || fail "the aarch64 build found $var at '$found', not in $arm64_libs"
done
build_started=$SECONDS
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target kelvin kelvin_tests \
  > "$tmp/build.log" 2>&1 || { tail -n 60 "$tmp/build.log"; fail "the aarch64 build of kelvin and kelvin_tests (log above)"; }
for binary in kelvin kelvin_tests; do
  file "$build/$binary" | grep -q "ARM aarch64" || fail "$build/$binary is not an aarch64 binary"
done
echo "check-aarch64: part 2: kelvin and kelvin_tests build for aarch64 ($opt_flags; OpenBLAS, LAPACKE, zlib, stb for arm64; CUDA and MPI off; $((SECONDS - build_started)) s)"

# qemu: the arm64 loader and libraries are multiarch-installed under /, an N1 core (Graviton2,
# Ampere Altra) whose model OpenBLAS cannot read from qemu (it would fall back to its generic
# ARMV8 kernels): named. Without OMP_WAIT_POLICY kelvin re-executes itself through
# /proc/self/exe (engine/runtime_settings.cpp), which no binfmt entry here would run.
export QEMU_LD_PREFIX=/ QEMU_CPU=neoverse-n1 OPENBLAS_CORETYPE=NEOVERSEN1 OMP_WAIT_POLICY=passive
export OMP_NUM_THREADS=2
qemu-aarch64 "$build/kelvin" --help > "$tmp/help.log" 2>&1 || { cat "$tmp/help.log"; fail "kelvin --help under qemu-aarch64"; }
for command in train diagnose sweep report demo bench; do
  grep -q "^  $command " "$tmp/help.log" || { cat "$tmp/help.log"; fail "kelvin --help under qemu-aarch64 does not list $command"; }
done
echo "check-aarch64: part 2: kelvin --help runs under qemu-aarch64"

# The test files that start no process (no kelvin binary, shell, compiler or fork): a test that
# starts one fails with exit 126 here. test_conv_isa.cpp ran in part 1.
spawns='KELVIN_BINARY|KELVIN_CXX_COMPILER|cli_runner\.h|background_kelvin\.h|popen|fork\(|system\(|posix_spawn|exec[lv]|/proc/self/exe|chromium'
filters=""
in_process=0
for source in tests/test_*.cpp; do
  [[ $source == tests/test_conv_isa.cpp ]] && continue
  grep -qE "$spawns" "$source" && continue
  filters+="${filters:+,}*/$(basename "$source")"; in_process=$((in_process + 1))
done
((in_process >= 10)) || fail "only $in_process test files run in-process (expected 10 or more): check the pattern"
tests_started=$SECONDS
(cd "$build" && qemu-aarch64 ./kelvin_tests -sf="$filters") > "$tmp/tests.log" 2>&1 || true
grep -q 'Status: SUCCESS' "$tmp/tests.log" || { cat "$tmp/tests.log"; fail "kelvin_tests (in-process files) under qemu-aarch64"; }
tests_summary=$(grep -E '^\[doctest\] test cases:' "$tmp/tests.log" | tail -1 |
  sed -E 's/.*\| *([0-9]+) passed \| *([0-9]+) failed.*/\1 passed, \2 failed/')
passed=${tests_summary%% passed*}
((passed >= 50)) || { cat "$tmp/tests.log"; fail "kelvin_tests under qemu-aarch64 ran only $passed test cases"; }
echo "check-aarch64: part 2: kelvin_tests, the $in_process in-process test files, under qemu-aarch64: $tests_summary ($((SECONDS - tests_started)) s)"

train_started=$SECONDS
qemu-aarch64 "$build/kelvin" train --model mlp --dataset fashion-mnist:classes=0-4 --depth 2 \
  --width 64 --batch-size 32 --epochs 1 --max-steps 2 --train-subset 256 --device cpu \
  --diagnose --ood fashion-mnist:classes=5-9 --out "$tmp/run-mlp" > "$tmp/train.log" 2>&1 ||
  { cat "$tmp/train.log"; fail "kelvin train --diagnose under qemu-aarch64"; }
grep -q '"status": "complete"' "$tmp/run-mlp/metrics.json" ||
  { cat "$tmp/train.log"; fail "kelvin train under qemu-aarch64: metrics.json does not say complete"; }
grep -q '"cpu_isa": "generic"' "$tmp/run-mlp/config.json" ||
  fail "kelvin train under qemu-aarch64: config.json does not say cpu_isa generic"
[[ -s $tmp/run-mlp/diagnostics.json ]] || { cat "$tmp/train.log"; fail "kelvin train --diagnose under qemu-aarch64 wrote no diagnostics.json"; }
echo "check-aarch64: part 2: a 2-step kelvin train --diagnose (MLP, Fashion-MNIST) under qemu-aarch64, cpu_isa generic ($((SECONDS - train_started)) s)"
echo "check-aarch64: passed: kernels, engine and CLI for aarch64 under qemu (part 2 $((SECONDS - part2_started)) s; generic path; speed on real aarch64 unmeasured)"
