#!/usr/bin/env bash
# Proves that the default build runs on x86-64 CPUs without AVX-512, and without AVX at all: the
# per-instruction-set conv kernels (kernels/cpu/cpu_isa.h) must not leak an AVX-512 (or AVX)
# instruction into the path such a CPU runs. qemu-user emulates the CPUs (TCG has AVX2, no
# AVX-512); this machine's own kernels are tested natively by the main suite.
#   bash scripts/check-cpu-isas.sh [BUILD_DIR]     (about 2-4 minutes on 2 cores)
# 1. each variant's object has no global symbols but its entry points (CMakeLists.txt);
# 2. the emulator really faults on an AVX-512 instruction, so step 3 can fail;
# 3. on an emulated Haswell (AVX2 path) and Nehalem (generic path, no AVX): the conv correctness
#    tests, and two steps of `kelvin train` on a ResNet-18, whose config.json names the path.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
fail() { echo "check-cpu-isas: FAILED: $*"; exit 1; }
[[ $(uname -m) == x86_64 ]] || fail "x86-64 only (this is $(uname -m))"
command -v qemu-x86_64 > /dev/null || fail "qemu-x86_64 not found (Debian package qemu-user)"
for isa in generic avx2 avx512; do
  object=$build/kelvin_conv_$isa.o
  [[ -f $object ]] || fail "$object missing (build first)"
  globals=$(nm -g --defined-only "$object" | awk '{print $3}' | tr '\n' ' ')
  expected="kelvin_conv_kernels_$isa kelvin_gelu_kernels_$isa "
  [[ $globals == "$expected" ]] ||
    fail "$object defines global symbols [$globals], expected only [$expected]"
done
echo "check-cpu-isas: each variant's object exports only its entry points"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo 'int main() { asm volatile("vxorps %zmm0, %zmm0, %zmm0"); return 0; }' > "$tmp/zmm.cpp"
g++ -O0 "$tmp/zmm.cpp" -o "$tmp/zmm"
rc=0; (qemu-x86_64 -cpu Haswell-noTSX "$tmp/zmm") > /dev/null 2>&1 || rc=$?
[[ $rc -ne 0 ]] || fail "qemu's Haswell ran an AVX-512 instruction: it cannot catch a leak"

python3 scripts/make-fake-cifar10.py "$tmp/cifar" 64 > /dev/null
# Without OMP_WAIT_POLICY kelvin re-executes itself (engine/runtime_settings.cpp), natively.
export OMP_WAIT_POLICY=passive
tests='conv2d: CPU forward*,conv2d: the Winograd*,conv2d: kelvin::cpu*,gradient: conv2d*,gelu: *'
for spec in Haswell-noTSX:avx2:Haswell Nehalem:generic:Nehalem; do
  IFS=: read -r model isa blas <<< "$spec"
  # OpenBLAS picks its kernels from the CPU's model number, which qemu reports wrongly: name them.
  export OPENBLAS_CORETYPE=$blas
  start=$SECONDS
  (cd "$build" && qemu-x86_64 -cpu "$model" ./kelvin_tests -tc="$tests") 2>&1 |
    grep -v "TCG doesn't support" > "$tmp/tests.log" || { cat "$tmp/tests.log"; fail "conv tests on $model"; }
  grep -q 'Status: SUCCESS' "$tmp/tests.log" || { cat "$tmp/tests.log"; fail "conv tests on $model"; }
  qemu-x86_64 -cpu "$model" "$build/kelvin" train --model resnet18 --base-width 8 --dataset cifar10 \
    --data-dir "$tmp/cifar" --batch-size 32 --epochs 1 --max-steps 2 --eval-batch-size 64 \
    --out "$tmp/run-$isa" > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; fail "kelvin train on $model"; }
  grep -q "\"cpu_isa\": \"$isa\"" "$tmp/run-$isa/config.json" ||
    fail "kelvin train on $model: config.json does not say cpu_isa $isa"
  echo "check-cpu-isas: $model ($isa path): conv tests and kelvin train passed ($((SECONDS - start)) s)"
done
