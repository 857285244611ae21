#!/usr/bin/env bash
# The one prepared script for a lent GPU machine (the device tool), run from the repository root
# with .devdeps carried (scripts/pack-device-deps.sh makes it):
#   run(command="bash scripts/device-check.sh", carry=[".devdeps"], timeout_s=420)
# It builds for sm_90, runs every test (GPU parity tests included), runs compute-sanitizer on
# the CUDA kernel tests, times the benchmark workloads on the GPU beside the PyTorch installed
# there, and prints a compact table last. Logs go to $OUT (fetched by the tool).
set -uo pipefail
OUT=${OUT:-/tmp/kelvin-device-out}
mkdir -p "$OUT"
deps=/tmp/kelvin-devdeps
mkdir -p "$deps" && tar -C "$deps" -xJf .devdeps/deps.tar.xz
export LD_LIBRARY_PATH="$deps/lib:${LD_LIBRARY_PATH:-}"
export CPATH="$deps/include:${CPATH:-}"
summary=()
note() { summary+=("$1"); echo "== $1"; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
start=$(date +%s)
if cmake -S . -B build-device -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
     -DCMAKE_PREFIX_PATH="$deps" > "$OUT/configure.log" 2>&1 &&
   cmake --build build-device -j"$(nproc)" > "$OUT/build.log" 2>&1; then
  note "build sm_90: ok ($(( $(date +%s) - start )) s)"
else
  tail -30 "$OUT/build.log" "$OUT/configure.log"; note "build sm_90: FAILED"; printf '%s\n' "${summary[@]}"; exit 1
fi

# Every test; the Fashion-MNIST-based end-to-end tests use the carried data.
mkdir -p /usr/share/datasets 2>/dev/null && ln -sfn "$PWD/.devdeps/fashion-mnist" /usr/share/datasets/fashion-mnist 2>/dev/null
(cd build-device && timeout 300 ./kelvin_tests > "$OUT/tests.log" 2>&1)
note "tests: $(grep -E '^\[doctest\] test cases' "$OUT/tests.log" | tail -1)"
grep -B2 -A8 'ERROR\|FATAL' "$OUT/tests.log" | head -60

# compute-sanitizer on the kernel-level CUDA tests (works on Firecracker machines, not gVisor).
if command -v compute-sanitizer > /dev/null; then
  (cd build-device && timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 \
     ./kelvin_tests -tc='*cuda*,*parity*' > "$OUT/sanitizer.log" 2>&1)
  note "compute-sanitizer memcheck: exit $? ($(grep -c 'Invalid\|ERROR SUMMARY: [1-9]' "$OUT/sanitizer.log") findings lines)"
fi

# Benchmarks: kelvin and PyTorch on the same GPU, same run.
for w in $(./build-device/kelvin bench --list 2>/dev/null || echo mlp6x1024_b128); do
  k=$(./build-device/kelvin bench --workload "$w" --device cuda --steps 50 --warmup 10 2>&1 | tail -1)
  if [[ $w == rank10000x100 ]]; then
    p=$(python3 -c "import torch, time; a = torch.randn(10000, 100, device='cuda', dtype=torch.float64); [torch.linalg.svdvals(a) for _ in range(3)]; torch.cuda.synchronize(); t = time.perf_counter(); [torch.linalg.svdvals(a) for _ in range(20)]; torch.cuda.synchronize(); print('rank10000x100', (time.perf_counter() - t) / 20 * 1e3, 'ms (torch svdvals float64)')" 2>&1 | tail -1)
  else
    p=$(python3 bench/peers/pytorch_workloads.py --workload "$w" --device cuda --steps 50 --warmup 10 2>&1 | tail -1)
  fi
  note "bench $w: kelvin [$k] pytorch [$p]"
done

# A real training run on the GPU.
./build-device/kelvin train --device cuda --epochs 2 --out /tmp/gpu_run > "$OUT/train.log" 2>&1
note "train mlp fashion-mnist cuda: $(tail -1 "$OUT/train.log")"

echo; echo "==== summary ===="; printf '%s\n' "${summary[@]}"
