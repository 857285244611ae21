#!/usr/bin/env bash
# The one prepared script for a lent GPU machine (the device tool), run from the repository root
# with .devdeps carried (scripts/pack-device-deps.sh makes it):
#   run(command="bash scripts/device-check.sh", carry=[".devdeps"], timeout_s=420)
# It builds for sm_90, runs every test (GPU parity tests included), runs compute-sanitizer on
# the CUDA kernel tests, times the benchmark workloads on the GPU beside the PyTorch installed
# there, prints the roofline of a ResNet-18 step with kelvin's and cuDNN's convolutions and the
# two backends' step times side by side, checks the kernels' static resources, trains on the
# GPU, times diagnostics of a ResNet-18 on 10,000 CIFAR-sized samples
# (random pixels in the CIFAR-10 layout: the real files are not there), starts the CUDA demo
# grid, and prints a compact table last. Logs go to $OUT (fetched by the tool).
# Rehearsal without a GPU: KELVIN_DEVICE=cpu KELVIN_BUILD_DIR=build-cpu bash scripts/device-check.sh
# (reuses that build, skips nvidia-smi and compute-sanitizer, runs every step on the CPU).
set -uo pipefail
device=${KELVIN_DEVICE:-cuda}
py=${KELVIN_PYTHON:-python3}  # the rehearsal here: KELVIN_PYTHON=/usr/bin/python3 (Debian's torch)
build=${KELVIN_BUILD_DIR:-build-device}
OUT=${OUT:-/tmp/kelvin-device-out}
mkdir -p "$OUT"
deps=/tmp/kelvin-devdeps
mkdir -p "$deps" && tar -C "$deps" -xJf .devdeps/deps.tar.xz
export LD_LIBRARY_PATH="$deps/lib:${LD_LIBRARY_PATH:-}"
export CPATH="$deps/include:${CPATH:-}"
summary=()
note() { summary+=("$1"); echo "== $1"; }

[[ $device == cuda ]] && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
start=$(date +%s)
if [[ -n ${KELVIN_BUILD_DIR:-} ]]; then
  note "build: reusing $build"
elif cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
     -DCMAKE_PREFIX_PATH="$deps" > "$OUT/configure.log" 2>&1 &&
   cmake --build "$build" -j"$(nproc)" > "$OUT/build.log" 2>&1; then
  note "build sm_90: ok ($(( $(date +%s) - start )) s)"
else
  tail -30 "$OUT/build.log" "$OUT/configure.log"; note "build sm_90: FAILED"; printf '%s\n' "${summary[@]}"; exit 1
fi

# Every test; the Fashion-MNIST-based end-to-end tests use the carried data.
if [[ ! -e /usr/share/datasets/fashion-mnist ]]; then
  mkdir -p /usr/share/datasets 2>/dev/null && ln -s "$PWD/.devdeps/fashion-mnist" /usr/share/datasets/fashion-mnist 2>/dev/null
fi
(cd "$build" && timeout 300 ./kelvin_tests > "$OUT/tests.log" 2>&1)
note "tests: $(grep -E '^\[doctest\] test cases' "$OUT/tests.log" | tail -1)"
grep -B2 -A8 'ERROR\|FATAL' "$OUT/tests.log" | head -60

# NCCL on one rank (the machine has no MPI for several): the gradient reducer's device buckets
# through ncclAllReduce on NCCL's own stream, started after backward and during it (the overlap:
# NCCL's stream beside backward's kernels on kelvin's, ordered by events; the same bits both
# ways), tests/test_distributed.cpp. Skipped, and said so, where the build found no NCCL.
(cd "$build" && timeout 60 ./kelvin_tests -tc='cuda NCCL*' > "$OUT/nccl.log" 2>&1)
note "NCCL 1 rank: $(grep -E '^\[doctest\] test cases' "$OUT/nccl.log" | tail -1) ($(grep -o 'kelvin: NCCL [01]' "$OUT/configure.log" 2> /dev/null || echo 'build reused'))"

# compute-sanitizer on the kernel-level CUDA tests (works on Firecracker machines, not gVisor).
if [[ $device == cuda ]] && command -v compute-sanitizer > /dev/null; then
  (cd "$build" && timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 \
     ./kelvin_tests -tc='*cuda*,*parity*' > "$OUT/sanitizer.log" 2>&1)
  note "compute-sanitizer memcheck: exit $? ($(grep -c 'Invalid\|ERROR SUMMARY: [1-9]' "$OUT/sanitizer.log") findings lines)"
fi

# Benchmarks: kelvin and PyTorch on the same GPU, same run.
kelvin="./$build/kelvin"
for w in $($kelvin bench --list 2>/dev/null || echo mlp6x1024_b128); do
  [[ $device == cpu && $w != mlp6x1024_b128 ]] && continue  # the rehearsal times one workload
  k=$($kelvin bench --workload "$w" --device "$device" --steps 50 --warmup 10 2>&1 | tail -1)
  if [[ $w == rank10000x100 ]]; then
    p=$($py -c "import torch, time; a = torch.randn(10000, 100, device='$device', dtype=torch.float64); [torch.linalg.svdvals(a) for _ in range(3)]; torch.cuda.synchronize(); t = time.perf_counter(); [torch.linalg.svdvals(a) for _ in range(20)]; torch.cuda.synchronize(); print('rank10000x100', (time.perf_counter() - t) / 20 * 1e3, 'ms (torch svdvals float64)')" 2>&1 | tail -1)
  else
    p=$($py bench/peers/pytorch_workloads.py --workload "$w" --device "$device" --steps 50 --warmup 10 2>&1 | tail -1)
  fi
  note "bench $w: kelvin [$k] pytorch [$p]"
done

# Roofline of a ResNet-18 step (kernel, shape, GFLOP/s, GB/s, fraction of the H200's datasheet
# limits) with kelvin's convolutions and with cuDNN's; then the two step times side by side.
r18=resnet18_b128_32px; r18_args=(--steps 5 --warmup 2)
[[ $device == cpu ]] && r18=resnet18_b32_32px r18_args=(--steps 2 --warmup 1)
timeout 120 $kelvin bench --workload $r18 --device "$device" "${r18_args[@]}" --profile \
  --profile-json "$OUT/roofline_kelvin.json" > "$OUT/roofline_kelvin.txt" 2>&1
note "roofline $r18 $device (kelvin conv): exit $?, $(sed -n 2p "$OUT/roofline_kelvin.txt")"
sed -n 2,14p "$OUT/roofline_kelvin.txt"
if [[ $device == cuda ]]; then
  timeout 120 $kelvin bench --workload $r18 --device cuda "${r18_args[@]}" --conv-backend cudnn \
    --profile --profile-json "$OUT/roofline_cudnn.json" > "$OUT/roofline_cudnn.txt" 2>&1
  note "roofline $r18 cuda (cudnn conv): exit $?, $(sed -n 2p "$OUT/roofline_cudnn.txt")"
  sed -n 2,14p "$OUT/roofline_cudnn.txt"
  for w in resnet18_b128_32px vgg11bn_b32_32px; do
    note "conv backends $w: $(timeout 120 $kelvin bench --workload $w --device cuda --steps 20 \
      --warmup 5 --conv-backend both 2>&1 | tail -1)"
  done
else
  note "conv backends: $($kelvin bench --steps 1 --conv-backend cudnn 2>&1 | tail -1) (rehearsal: cuDNN needs a GPU)"
fi
# Static resources of every kernel (ptxas, sm_90): spills and occupancy promises.
bash scripts/cuda-resources.sh --check > "$OUT/cuda_resources.md" 2> "$OUT/cuda_resources.log"
note "cuda-resources --check: exit $?, $(tail -1 "$OUT/cuda_resources.log")"

# A real training run on the GPU.
rm -rf /tmp/gpu_run
$kelvin train --device "$device" --epochs 2 --out /tmp/gpu_run > "$OUT/train.log" 2>&1
note "train mlp fashion-mnist $device: $(tail -1 "$OUT/train.log")"

# Diagnostics of a ResNet-18 on 10,000 CIFAR-sized samples (issue 4's GPU figure): a few
# training steps for a checkpoint, then every diagnostic at the defaults (10,000 ranked and
# scored samples, probes on 10,000 training samples, 30 epochs) plus one OOD set.
cifar=/tmp/kelvin-fake-cifar10
python3 scripts/make-fake-cifar10.py "$cifar" 10000 > /dev/null
rm -rf /tmp/gpu_r18
r18_steps=20 r18_limit=120 diag_probe=()
[[ $device == cpu ]] && r18_steps=2 r18_limit=600 diag_probe=(--samples 500 --probe-train-samples 500 --probe-epochs 1)
timeout $r18_limit $kelvin train --model resnet18 --dataset cifar10 --data-dir "$cifar" --device "$device" \
  --epochs 1 --max-steps $r18_steps --batch-size 128 --out /tmp/gpu_r18 > "$OUT/train_r18.log" 2>&1
note "train resnet18 $r18_steps steps on fake cifar10 $device: exit $?"
start_ns=$(date +%s%N)
timeout 240 $kelvin diagnose /tmp/gpu_r18 --device "$device" --ood cifar10:classes=5-9 \
  --ood-data-dir "$cifar" "${diag_probe[@]}" > "$OUT/diagnose_r18.log" 2>&1
note "diagnose resnet18 cifar-sized [${diag_probe[*]:-10k samples, defaults}] $device: exit $?, $(( ($(date +%s%N) - start_ns) / 1000000 )) ms; $(tail -1 "$OUT/diagnose_r18.log")"
cp /tmp/gpu_r18/diagnostics.json "$OUT/diagnostics_r18.json" 2>/dev/null

# The CUDA demo grid (MLP, VGG-11-BN, ResNet-18, ViT under T = 1, 10, 100): started with a
# time limit; a sweep resumes where it stopped, so a later session continues it.
if [[ $device == cuda ]]; then
  timeout "${KELVIN_DEMO_SECONDS:-120}" $kelvin demo --device cuda --out /tmp/gpu_demo > "$OUT/demo.log" 2>&1
  note "demo --device cuda: exit $? (124 = time limit), $(grep -c 'complete' "$OUT/demo.log") completion lines"
  tail -20 "$OUT/demo.log"
fi

echo; echo "==== summary ===="; printf '%s\n' "${summary[@]}"
